"""lipsync-emulator: an offline, stateful emulator of the public lip-sync video APIs.

    >>> from lipsync_emulator import create_app
    >>> app = create_app({"clock": "virtual"})
"""

from lipsync_emulator.app import create_app

__all__ = ["create_app"]
__version__ = "0.1.0"
