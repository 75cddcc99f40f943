"""The one rule the schema cannot say: a trim window ends after it starts. Its error is declared
in the schema's ``x-rules``; here it is one small function."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lipsync_emulator.core.rules import Broken, Rules
from lipsync_emulator.schemas import rules

RULES = Rules(rules(Path(__file__).resolve().parent.parent / "tiny.yaml"))


def check(body: dict[str, Any]) -> None:
    RULES.check(body)


@RULES("trim_order")
def trim_order(body: dict[str, Any]) -> Broken | None:
    start, end = body.get("trim_start"), body.get("trim_end")
    if start is not None and end is not None and end <= start:
        return Broken("trim_end must be greater than trim_start", "trim_end")
    return None
