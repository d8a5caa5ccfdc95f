"""HTTP: one request, with timeouts, retries, the fallback URL, and closing at once.

`Transport.send` posts the body and hands the open response to a `handle`
callable (which reads and renders it). A failure before any output was written
is retried by the policy of SPEC §3; after output, never. The response and the
connection are closed on every way out, so an interrupted glm stops the service
generating.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, TypeVar

import httpx

from glm_cli import __version__
from glm_cli.errors import ServiceError, TransportError
from glm_cli.exit_codes import is_retryable
from glm_cli.providers import Endpoint
from glm_cli.retry import RetryPolicy, next_delay, parse_retry_after
from glm_cli.terminal import Console
from glm_cli.transport_options import NetOptions

if TYPE_CHECKING:
    import ssl

T = TypeVar("T")

DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_READ_TIMEOUT = 300.0
MAX_ERROR_BODY = 1 << 20


def request_headers(api_key: str | None, stream: bool) -> dict[str, str]:
    headers = {
        "Content-Type": "application/json",
        "Accept": "text/event-stream" if stream else "application/json",
        "User-Agent": f"glm/{__version__}",
    }
    if api_key is not None:
        headers["Authorization"] = f"Bearer {api_key}"
    return headers


def redacted(headers: dict[str, str]) -> dict[str, str]:
    return {k: ("Bearer ***" if k.lower() == "authorization" else v) for k, v in headers.items()}


class Redactor:
    """The key in use, masked in text from the service (SPEC §3.2): a hostile or
    careless server may echo it in an error, a body or a header."""

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


class MaxTimeReached(TransportError):
    pass


def _attempts_note(attempts: int, urls: list[str], tried: set[int]) -> str:
    """How hard glm tried, for the last error after retries."""
    fallback = f"; fallback {urls[1]} tried too" if 1 in tried else ""
    return f" (after {attempts} attempts{fallback})"


_deadline_active = False


@contextmanager
def deadline(seconds: float | None) -> Iterator[None]:
    """`--max-time`: the whole run, retries and waits included, as curl's does.

    Nested uses run under the outermost one (a tool loop bounds all its requests).
    """
    global _deadline_active
    if seconds is None or _deadline_active:
        yield
        return

    def expire(signum: int, frame: object) -> None:
        raise MaxTimeReached(f"--max-time {seconds:g}s reached")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    _deadline_active = True
    try:
        yield
    finally:
        _deadline_active = False
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def iter_body(response: httpx.Response) -> Iterator[bytes]:
    """The body's bytes as they arrive, with network failures as TransportError."""
    try:
        yield from response.iter_bytes()
    except httpx.TimeoutException as error:
        raise TransportError(
            "timed out waiting for the service to send more", retryable=True
        ) from error
    except httpx.HTTPError as error:
        raise TransportError(f"connection lost mid-response ({error})", retryable=True) from error


def read_body(response: httpx.Response, limit: int | None = None) -> bytes:
    parts = []
    size = 0
    for chunk in iter_body(response):
        parts.append(chunk)
        size += len(chunk)
        if limit is not None and size >= limit:
            break
    return b"".join(parts)


class Transport:
    def __init__(
        self,
        endpoint: Endpoint,
        net: NetOptions,
        console: Console,
        *,
        debug: bool = False,
        error_from_body: Callable[[int, bytes], ServiceError],
        sent_request_id: str | None = None,
        redactor: Redactor | None = None,
    ) -> None:
        self.redact = redactor or Redactor(None)
        self.endpoint = endpoint
        self.net = net
        self.console = console
        self.debug = debug
        self.error_from_body = error_from_body
        self.sent_request_id = sent_request_id
        self.client = self._client()

    def _client(self) -> httpx.Client:
        """The client, after the proxy variables and the CA file were checked
        (`net_env`: a bad one is a usage error naming it, before anything is sent)."""
        from glm_cli.net_env import check_proxies, proxy_variables, tls_context

        environ = self.console.env.environ
        check_proxies(environ)
        if self.net.timeout is not None:
            timeout = httpx.Timeout(self.net.timeout)
        else:
            timeout = httpx.Timeout(DEFAULT_READ_TIMEOUT, connect=DEFAULT_CONNECT_TIMEOUT)
        urls = [self.endpoint.url, self.endpoint.fallback_url or ""]
        proxied = any(kind in proxy_variables(environ) for kind in ("https", "all"))
        # Loading the CA bundle costs tens of milliseconds: skip it for plain http.
        needs_tls = proxied or any(url.lower().startswith("https://") for url in urls)
        verify: ssl.SSLContext | bool = needs_tls
        if needs_tls:
            verify = tls_context(environ) or True
        return httpx.Client(timeout=timeout, verify=verify, trust_env=True)

    def close(self) -> None:
        self.client.close()

    def send(
        self,
        body: bytes,
        headers: dict[str, str],
        handle: Callable[[httpx.Response], T],
        output_started: Callable[[], bool],
    ) -> T:
        policy = RetryPolicy(self.net.retries)
        urls = [self.endpoint.url]
        if self.endpoint.fallback_url:
            urls.append(self.endpoint.fallback_url)
        current = 0
        attempt = 1
        tried = {0}
        while True:
            url = urls[current]
            self.console.note(f"POST {url} (attempt {attempt} of {policy.attempts})")
            if self.debug:
                self._log_request(url, headers, body)
            try:
                return self._attempt(url, body, headers, handle)
            except ServiceError as error:
                failure = error
            except httpx.TimeoutException as error:
                failure = TransportError(f"timed out waiting for {url}", retryable=True)
                failure.__cause__ = error
            except httpx.HTTPError as error:
                failure = TransportError(f"cannot reach {url} ({error})", retryable=True)
                failure.__cause__ = error
            self.redact.error(failure)
            if failure.request_id is None:
                failure.request_id = self.sent_request_id
            if not failure.retryable or attempt >= policy.attempts or output_started():
                if attempt > 1:
                    failure.message += _attempts_note(attempt, urls, tried)
                raise failure
            delay = next_delay(attempt, failure.retry_after)
            if len(urls) > 1 and (failure.status is None or failure.status >= 500):
                current = 1 - current
                tried.add(current)
            self.console.note(f"retrying in {delay:.1f}s after: {failure.line()}")
            time.sleep(delay)
            attempt += 1

    def _attempt(
        self, url: str, body: bytes, headers: dict[str, str], handle: Callable[[httpx.Response], T]
    ) -> T:
        with self.client.stream("POST", url, content=body, headers=headers) as response:
            if self.debug:
                self._log_response(response)
            if response.status_code >= 300:
                raise self._http_error(response, url)
            return handle(response)

    def _http_error(self, response: httpx.Response, url: str) -> ServiceError:
        data = read_body(response, MAX_ERROR_BODY)
        if self.debug:
            text = self.redact.bytes(data).decode("utf-8", "replace")
            self.console.line(f"glm: debug: < {text}")
        error = self.error_from_body(response.status_code, data)
        if response.status_code == 404:
            error.message += f" at {url}" + (
                " (--base-url should be the service root: drop the trailing /v1)"
                if "/v1/v1/" in url else ""
            )
        if response.is_redirect:  # never followed: the key goes to the provider's URLs only
            where = response.headers.get("location") or "another URL"
            error.message = f"redirected to {where}; glm does not follow redirects"
        error.body = data
        error.retryable = is_retryable(response.status_code, error.code)
        error.retry_after = parse_retry_after(response.headers.get("retry-after"), time.time())
        if error.request_id is None:
            error.request_id = response.headers.get("x-request-id")
        return error

    def _log_request(self, url: str, headers: dict[str, str], body: bytes) -> None:
        self.console.line(f"glm: debug: > POST {url}")
        for name, value in redacted(headers).items():
            self.console.line(f"glm: debug: > {name}: {value}")
        self.console.line(f"glm: debug: > {body.decode('utf-8', 'replace')}")

    def _log_response(self, response: httpx.Response) -> None:
        self.console.line(f"glm: debug: < HTTP {response.status_code} {response.reason_phrase}")
        for name, value in response.headers.items():
            self.console.line(f"glm: debug: < {name}: {self.redact.text(value)}")
