"""The request's headers, and their redacted form for `--dry-run` and `--debug` (no httpx)."""

from __future__ import annotations

from collections.abc import Mapping

from glm_cli import __version__


def request_headers(api_key: str | None, stream: bool) -> dict[str, str]:
    headers = {
        "Content-Type": "application/json",
        "Accept": "text/event-stream" if stream else "application/json",
        "User-Agent": f"glm/{__version__}",
    }
    if api_key is not None:
        headers["Authorization"] = f"Bearer {api_key}"
    return headers


def redacted(headers: Mapping[str, str]) -> dict[str, str]:
    return {k: ("Bearer ***" if k.lower() == "authorization" else v) for k, v in headers.items()}
