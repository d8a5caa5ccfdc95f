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

from glm_cli.core.errors import UsageError
from glm_cli.settings.urls import SCHEMES, url_parts

if TYPE_CHECKING:
    import ssl

PROXY_KINDS = ("http", "https", "all")


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
        url_parts(name, url)
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
