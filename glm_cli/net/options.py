"""Network settings, kept apart from `transport` so that choosing them imports no httpx."""

from __future__ import annotations

from glm_cli.core.records import record
from glm_cli.core.retry import DEFAULT_RETRIES


@record
class NetOptions:
    timeout: float | None = None
    """--timeout: bounds connecting and any silence between bytes (default 10 s / 300 s)."""
    retries: int = DEFAULT_RETRIES
    max_time: float | None = None
    """--max-time: bounds the whole run, retries included."""
