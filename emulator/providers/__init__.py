"""The providers, as an explicit registry: adding one is one line here."""

from emulator.core.runtime import Provider
from emulator.providers.kling import PROVIDER as KLING
from emulator.providers.lipsyncstudio import PROVIDER as LIPSYNCSTUDIO
from emulator.providers.syncso import PROVIDER as SYNCSO
from emulator.providers.wavespeed import PROVIDER as WAVESPEED

REGISTRY: tuple[Provider, ...] = (SYNCSO, LIPSYNCSTUDIO, WAVESPEED, KLING)
