"""Network settings, kept apart from `transport` so that choosing them imports no httpx."""

from __future__ import annotations

from glm_cli.core.records import record
from glm_cli.core.retry import DEFAULT_RETRIES

DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_READ_TIMEOUT = 300.0


@record
class NetOptions:
    timeout: float | None = None
    """--timeout: bounds connecting and any silence between bytes (default 10 s / 300 s)."""
    retries: int = DEFAULT_RETRIES
    max_time: float | None = None
    """--max-time: bounds the whole run, retries included."""

    @property
    def connect_timeout(self) -> float:
        return self.timeout if self.timeout is not None else DEFAULT_CONNECT_TIMEOUT

    @property
    def read_timeout(self) -> float:
        return self.timeout if self.timeout is not None else DEFAULT_READ_TIMEOUT
