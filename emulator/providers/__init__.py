"""The providers, as an explicit registry: adding one is one line here."""

from lipsync_emulator.core.runtime import Provider
from lipsync_emulator.providers.kling import PROVIDER as KLING
from lipsync_emulator.providers.lipsyncstudio import PROVIDER as LIPSYNCSTUDIO
from lipsync_emulator.providers.syncso import PROVIDER as SYNCSO
from lipsync_emulator.providers.wavespeed import PROVIDER as WAVESPEED

REGISTRY: tuple[Provider, ...] = (SYNCSO, LIPSYNCSTUDIO, WAVESPEED, KLING)
