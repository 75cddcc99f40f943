"""`python -m emulator` is the same as the `lipsync-emulator` command."""

from lipsync_emulator.cli import main

raise SystemExit(main())
