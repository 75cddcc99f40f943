"""The one rule the schema cannot say: a trim window ends after it starts."""

from __future__ import annotations

from typing import Any

from lipsync_emulator.core.errors import Unprocessable

TRIM_ORDER = "trim_order"


def check(body: dict[str, Any]) -> None:
    start, end = body.get("trim_start"), body.get("trim_end")
    if start is not None and end is not None and end <= start:
        raise Unprocessable("trim_end must be greater than trim_start", code=TRIM_ORDER, field="trim_end",
                            rule=TRIM_ORDER)
