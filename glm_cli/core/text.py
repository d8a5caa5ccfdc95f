"""Text from the operating system that may not be UTF-8 (Python's surrogate escapes)."""

from __future__ import annotations

from glm_cli.core.errors import UsageError


def undecodable(text: str) -> tuple[int, bytes] | None:
    """(byte offset, the first bad bytes) of the first byte that is not UTF-8 in `text`
    as the system gave it, or None when it all was UTF-8."""
    for position, character in enumerate(text):
        if "\ud800" <= character <= "\udfff":
            offset = len(text[:position].encode("utf-8"))
            code = ord(character)
            bad = (
                bytes([code - 0xDC00])
                if 0xDC80 <= code <= 0xDCFF
                else (character.encode("utf-8", "surrogatepass"))
            )
            return offset, bad
    return None


def not_utf8(what: str, text: str) -> UsageError | None:
    """The usage error for `text` (named `what`) when it holds bytes that are not UTF-8."""
    found = undecodable(text)
    if found is None:
        return None
    offset, bad = found
    return UsageError(f"{what} is not valid UTF-8 (byte offset {offset}: {bad!r})")
