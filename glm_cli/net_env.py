"""Checks of what decides where a request goes and how: URLs, proxy variables, CA files.

Each failure is a UsageError naming the flag, config key or variable (SPEC §3.2),
raised before anything is sent. URLs are parsed with `urllib.parse` (cheap, at
start-up); the proxy and certificate checks run only when a request is about to be
made (`Transport` calls them), and import `ssl` only when a certificate file is set.

    check_url       --base-url, GLM_BASE_URL, providers.NAME.url / fallback_url
    check_proxies   HTTP_PROXY, HTTPS_PROXY, ALL_PROXY (either case) and NO_PROXY, as
                    httpx reads them: every one set, whichever URL is called
    tls_context     SSL_CERT_FILE, else SSL_CERT_DIR, for an https request
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING
from urllib.parse import SplitResult, urlsplit

from glm_cli.errors import UsageError

if TYPE_CHECKING:
    import ssl

SCHEMES = ("http", "https")
PROXY_KINDS = ("http", "https", "all")


def bad_character(text: str) -> str | None:
    """What makes `text` unusable in a URL or header: a space, a control character, or
    bytes that were not UTF-8 (surrogate escapes); None when there is none."""
    for position, character in enumerate(text):
        if "\ud800" <= character <= "\udfff":
            return f"bytes that are not UTF-8 at character {position + 1}"
        if character.isspace() or not character.isprintable():
            return f"a space or control character ({character!r}) at character {position + 1}"
    return None


def _parts(source: str, url: str) -> SplitResult:
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
    parts = _parts(source, url)
    if root and (parts.query or parts.fragment):
        raise UsageError(
            f"{source} {url!r}: a service root has no '?' or '#' part "
            "(glm appends the protocol's path)"
        )
    return url


def proxy_variables(environ: Mapping[str, str]) -> dict[str, tuple[str, str]]:
    """The proxy settings httpx will use: kind (http, https, all, no) → (variable, value).

    As `urllib.request.getproxies_environment` reads them (httpx asks it): any case,
    then names ending in lower-case `_proxy` win, an empty one unsetting; a CGI
    script (REQUEST_METHOD set) ignores HTTP_PROXY.
    """
    found: dict[str, tuple[str, str]] = {}
    for name, value in environ.items():
        if value and name.lower().endswith("_proxy"):
            found[name.lower()[:-6]] = (name, value)
    if "REQUEST_METHOD" in environ:
        found.pop("http", None)
    for name, value in environ.items():
        if name.endswith("_proxy"):
            if value:
                found[name.lower()[:-6]] = (name, value)
            else:
                found.pop(name.lower()[:-6], None)
    return {kind: found[kind] for kind in (*PROXY_KINDS, "no") if kind in found}


def check_proxies(environ: Mapping[str, str]) -> None:
    """Every proxy variable httpx would set up must name an http(s) proxy it can use."""
    found = proxy_variables(environ)
    no_proxy = found.get("no", ("", ""))[1]
    entries = [entry.strip() for entry in no_proxy.split(",")]
    if "*" in entries:
        return  # every proxy is bypassed: httpx sets none up
    for kind in PROXY_KINDS:
        if kind not in found:
            continue
        name, value = found[kind]
        url = value if "://" in value else f"http://{value}"
        scheme = url.partition("://")[0].lower()
        if scheme not in SCHEMES:
            raise UsageError(
                f"{name} {value!r}: proxy scheme {scheme!r} is not supported; "
                "glm uses http:// and https:// proxies"
            )
        _parts(name, url)
        _httpx_parses(name, url)
    if "no" in found:
        _check_no_proxy(found["no"][0], entries)


def _httpx_parses(name: str, url: str) -> None:
    import httpx

    try:
        httpx.URL(url)
    except (httpx.InvalidURL, ValueError) as error:
        raise UsageError(f"{name} {url!r}: not a valid proxy URL ({error})") from error


def _no_proxy_pattern(entry: str) -> str:
    """The URL pattern httpx makes of one NO_PROXY entry (httpx/_utils.py)."""
    import ipaddress

    if "://" in entry:
        return entry
    for kind, form in ((ipaddress.IPv4Address, "all://{}"), (ipaddress.IPv6Address, "all://[{}]")):
        try:
            kind(entry.split("/")[0])
        except ValueError:
            continue
        return form.format(entry)
    return f"all://{entry}" if entry.lower() == "localhost" else f"all://*{entry}"


def _check_no_proxy(name: str, entries: list[str]) -> None:
    """Each entry must make a pattern httpx can parse (it parses them all up front)."""
    import httpx  # only when a request is about to be made: it is loaded then anyway

    for entry in entries:
        if not entry:
            continue
        try:
            httpx.URL(_no_proxy_pattern(entry))
        except (httpx.InvalidURL, ValueError) as error:
            raise UsageError(
                f"{name}: entry {entry!r} is not a host name, address or URL ({error})"
            ) from error


def tls_context(environ: Mapping[str, str]) -> ssl.SSLContext | None:
    """The certificates for https: SSL_CERT_FILE, else SSL_CERT_DIR (as httpx reads them),
    loaded and checked here so a bad one is one line naming the variable; None: the
    default bundle."""
    cert_file = environ.get("SSL_CERT_FILE")
    cert_dir = environ.get("SSL_CERT_DIR")
    if not cert_file and not cert_dir:
        return None
    import ssl

    name, path = ("SSL_CERT_FILE", cert_file) if cert_file else ("SSL_CERT_DIR", cert_dir)
    assert path is not None
    if name == "SSL_CERT_DIR" and not os.path.isdir(path):
        raise UsageError(f"SSL_CERT_DIR {path!r}: not a directory")
    try:
        if name == "SSL_CERT_FILE":
            return ssl.create_default_context(cafile=path)
        return ssl.create_default_context(capath=path)
    except ssl.SSLError as error:
        raise UsageError(
            f"{name} {path!r}: not a file of PEM certificates ({error.reason or error})"
        ) from error
    except OSError as error:
        raise UsageError(f"{name} {path!r}: {error.strerror or error}") from error
