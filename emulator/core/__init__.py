"""Provider-agnostic machinery. Nothing in this package imports from ``emulator.providers``."""
