"""Times as the log and the cache take them: `90s`, `30m`, `2h`, `7d`, or an ISO date
or time. Stored times are UTC text, `2026-11-21T22:58:00Z`, which sort as they compare."""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING

from glm_cli.core.errors import UsageError

if TYPE_CHECKING:
    from datetime import datetime

_DURATION = re.compile(r"\A(\d+(?:\.\d+)?)([smhd])\Z")
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
STAMP = "%Y-%m-%dT%H:%M:%SZ"


def stamp(moment: datetime) -> str:
    from datetime import UTC

    return moment.astimezone(UTC).strftime(STAMP)


def ago(seconds: float) -> str:
    """The stored text of the time `seconds` ago (0: now); datetime is not imported
    for it (it is slow to import, and `glm logs` starts without it)."""
    return time.strftime(STAMP, time.gmtime(time.time() - seconds))


def now() -> str:
    return ago(0)


def duration(source: str, value: str) -> float:
    """Seconds of `90s`, `30m`, `2h`, `7d`."""
    match = _DURATION.match(value.strip())
    if match is None:
        raise UsageError(f"{source} {value!r}: a duration is a number and s, m, h or d (90s, 7d)")
    return float(match.group(1)) * _UNITS[match.group(2)]


def moment(source: str, value: str, *, end: bool = False) -> str:
    """A point in time as stored text: `value` ago (a duration) or an ISO date or time
    (without an offset: UTC). A bare date as an upper bound (`end`) means its last second."""
    text = value.strip()
    if _DURATION.match(text):
        return ago(duration(source, text))
    from datetime import UTC, datetime, timedelta

    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    except ValueError as error:
        raise UsageError(
            f"{source} {value!r}: not an ISO date or time, nor a duration (90s, 30m, 2h, 7d)"
        ) from error
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    if end and len(text) == 10:  # a date alone: the whole day
        parsed += timedelta(days=1, seconds=-1)
    return stamp(parsed)
