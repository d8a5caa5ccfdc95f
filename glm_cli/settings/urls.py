"""URLs glm may call, checked with urllib alone (no httpx): an http(s) scheme, a host,
a valid port, and no space, control character or undecodable byte (SPEC §3.2)."""

from __future__ import annotations

from urllib.parse import SplitResult, urlsplit

from glm_cli.core.errors import UsageError

SCHEMES = ("http", "https")


def bad_character(text: str) -> str | None:
    """What makes `text` unusable in a URL or header: a space, a control character, or
    bytes that were not UTF-8 (surrogate escapes); None when there is none."""
    for position, character in enumerate(text):
        if "\ud800" <= character <= "\udfff":
            return f"bytes that are not UTF-8 at character {position + 1}"
        if character.isspace() or not character.isprintable():
            return f"a space or control character ({character!r}) at character {position + 1}"
    return None


def url_parts(source: str, url: str) -> SplitResult:
    shown = url.encode("utf-8", "backslashreplace").decode()
    where = f"{source} {shown!r}"
    problem = bad_character(url)
    if problem is not None:
        raise UsageError(f"{where}: holds {problem}")
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError for a port that is not 0-65535
    except ValueError as error:
        raise UsageError(f"{where}: not a valid URL ({error})") from error
    if parts.scheme not in SCHEMES:
        raise UsageError(f"{where}: must start with http:// or https://")
    if not parts.hostname:
        raise UsageError(f"{where}: has no host name")
    if port == 0 or (port is None and parts.netloc.endswith(":")):
        raise UsageError(f"{where}: the port must be a number from 1 to 65535")
    if not parts.hostname.isascii():
        _check_idna(where, parts.hostname)
    return parts


def _check_idna(where: str, host: str) -> None:
    """A host name beyond ASCII must encode as IDNA, as httpx will encode it."""
    import idna

    try:
        idna.encode(host.lower())
    except (idna.IDNAError, UnicodeError, ValueError) as error:
        raise UsageError(f"{where}: not a valid host name ({error})") from error


def check_url(source: str, url: str, *, root: bool = False) -> str:
    """An http(s) URL glm can call: a host, a valid port, no space or control character.

    `root` is a service root (`--base-url`): glm appends the path, so a query or a
    fragment there would swallow it.
    """
    parts = url_parts(source, url)
    if root and (parts.query or parts.fragment):
        raise UsageError(
            f"{source} {url!r}: a service root has no '?' or '#' part "
            "(glm appends the protocol's path)"
        )
    return url
