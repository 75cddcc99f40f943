"""Runnable client examples: for each provider a small correct client that passes the whole
client contract suite, and a naive one with typical integration bugs that the suite catches."""
