"""The key in use, masked in text from the service (SPEC §3.2): a hostile or careless
server may echo it in an error, a body or a header."""

from __future__ import annotations

from glm_cli.core.errors import ServiceError


class Redactor:
    __slots__ = ("_bytes", "_text")

    def __init__(self, key: str | None) -> None:
        self._text = key or ""
        self._bytes = self._text.encode("utf-8", "surrogatepass")

    def text(self, value: str) -> str:
        key = self._text
        return value.replace(key, "***") if key and key in value else value

    def bytes(self, value: bytes) -> bytes:
        key = self._bytes
        return value.replace(key, b"***") if key and key in value else value

    def error(self, error: ServiceError) -> ServiceError:
        """Every text of `error` that came from the service, masked."""
        error.message = self.text(error.message)
        error.args = (error.message,)
        for name in ("code", "kind", "request_id"):
            value = getattr(error, name)
            if isinstance(value, str):
                setattr(error, name, self.text(value))
        if error.body is not None:
            error.body = self.bytes(error.body)
        return error
