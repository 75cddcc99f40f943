"""The providers, as an explicit registry: adding one is one line here."""

from emulator.core.runtime import Provider
from emulator.providers.lipsyncstudio import PROVIDER as LIPSYNCSTUDIO
from emulator.providers.syncso import PROVIDER as SYNCSO

REGISTRY: tuple[Provider, ...] = (SYNCSO, LIPSYNCSTUDIO)
