"""HTTP, and the only module that imports httpx: one attempt of one request.

`Transport` owns one connection pool (an `httpx.Client`, which is safe to share
between threads), so any number of exchanges, in one thread or many, reuse its
connections. `post` makes one attempt and yields the open `Reply`; an HTTP error
status becomes a `ServiceError` carrying the service's message, code, request id
and `Retry-After`. Retrying is the engine's business (`engine.exchange`), so
this layer never sleeps. Every timeout is capped by the run's `Deadline`, which
is also checked between reads: a slow, steady stream cannot outlive `--max-time`.
The response is closed on every way out, so an interrupted glm stops the
service generating.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING

import httpx

from glm_cli.core.deadline import Deadline
from glm_cli.core.errors import ServiceError, TransportError
from glm_cli.core.exit_codes import is_retryable
from glm_cli.core.log import Log
from glm_cli.core.redact import Redactor
from glm_cli.core.retry import parse_retry_after
from glm_cli.net.headers import redacted
from glm_cli.net.options import NetOptions

if TYPE_CHECKING:
    import ssl

MAX_ERROR_BODY = 1 << 20
GROUP = 8
"""Connections a group of the pool holds. httpcore's pool looks at every connection
for every waiting request, so its cost per request grows with the square of its size:
measured on a batch at -j 64, 1,100,000 `is_idle` calls for 2,000 requests, most of
the batch's CPU. Threads share a group, so connections are still reused across
exchanges."""

ErrorFromBody = Callable[[int, bytes], ServiceError]


class Reply:
    """An open HTTP response with a 2xx status, read through the transport's rules."""

    __slots__ = ("_deadline", "_response")

    def __init__(self, response: httpx.Response, deadline: Deadline) -> None:
        self._response = response
        self._deadline = deadline

    @property
    def content_type(self) -> str:
        """The media type, lower case, without parameters (`text/event-stream`)."""
        value: str = self._response.headers.get("content-type", "")
        return value.split(";", 1)[0].strip().lower()

    @property
    def raw_content_type(self) -> str | None:
        value: str | None = self._response.headers.get("content-type")
        return value

    def chunks(self) -> Iterator[bytes]:
        """The body's bytes as they arrive; network failures and the deadline as errors."""
        return _chunks(self._response, self._deadline)

    def read(self, limit: int | None = None) -> bytes:
        parts = []
        size = 0
        for chunk in self.chunks():
            parts.append(chunk)
            size += len(chunk)
            if limit is not None and size >= limit:
                break
        return b"".join(parts)


def _chunks(response: httpx.Response, deadline: Deadline) -> Iterator[bytes]:
    try:
        if deadline.seconds is None:
            yield from response.iter_bytes()
            return
        for chunk in response.iter_bytes():
            if deadline.expired():
                raise deadline.reached()
            yield chunk
    except httpx.TimeoutException as error:
        if deadline.expired():
            raise deadline.reached() from error
        raise TransportError(
            "timed out waiting for the service to send more", retryable=True
        ) from error
    except httpx.HTTPError as error:
        raise TransportError(f"connection lost mid-response ({error})", retryable=True) from error


def _verify(urls: list[str], environ: Mapping[str, str]) -> ssl.SSLContext | bool:
    """What httpx verifies TLS with, after the proxy variables and the CA file were
    checked (`environment`: a bad one is a usage error naming it, before anything is
    sent). Loading the CA bundle costs tens of milliseconds: plain http skips it."""
    from glm_cli.net.environment import check_proxies, proxy_variables, tls_context

    check_proxies(environ)
    proxied = any(kind in proxy_variables(environ) for kind in ("https", "all"))
    if not proxied and not any(url.lower().startswith("https://") for url in urls):
        return False
    return tls_context(environ) or True


class Transport:
    def __init__(
        self,
        net: NetOptions,
        log: Log,
        *,
        error_from_body: ErrorFromBody,
        urls: list[str],
        environ: Mapping[str, str],
        redact: Redactor,
        debug: bool = False,
        connections: int = 10,
    ) -> None:
        self.net = net
        self.log = log
        self.debug = debug
        self.redact = redact
        self.error_from_body = error_from_body
        verify = _verify(urls, environ)
        if verify is True:  # one context (the CA bundle loaded once) for every group
            verify = httpx.create_ssl_context()
        self._verify = verify
        groups = max(1, -(-connections // GROUP))
        size = -(-connections // groups)
        self._limits = httpx.Limits(max_connections=size, max_keepalive_connections=size)
        self._clients: list[httpx.Client | None] = [None] * groups
        self._lock = threading.Lock()
        self._threads = threading.local()
        self._assigned = 0

    @property
    def _client(self) -> httpx.Client:
        """This thread's group of the pool: threads are dealt to the groups in turn, and
        a group's `httpx.Client` is made when its first thread needs it."""
        client: httpx.Client | None = getattr(self._threads, "client", None)
        if client is None:
            with self._lock:
                group = self._assigned % len(self._clients)
                self._assigned += 1
                client = self._clients[group]
                if client is None:
                    client = self._clients[group] = httpx.Client(
                        verify=self._verify, trust_env=True, limits=self._limits
                    )
            self._threads.client = client
        return client

    def close(self) -> None:
        with self._lock:
            for client in self._clients:
                if client is not None:
                    client.close()

    def _timeout(self, deadline: Deadline) -> httpx.Timeout:
        """Every timeout of an attempt, capped by what is left of the run."""
        connect = deadline.bound(self.net.connect_timeout)
        read = deadline.bound(self.net.read_timeout)
        return httpx.Timeout(read, connect=connect, pool=connect)

    @contextmanager
    def post(
        self, url: str, body: bytes, headers: dict[str, str], deadline: Deadline
    ) -> Iterator[Reply]:
        """One attempt: the open 2xx reply, or a ServiceError/TransportError."""
        deadline.check()
        if self.debug:
            self._log_request(url, headers, body)
        try:
            with self._client.stream(
                "POST", url, content=body, headers=headers, timeout=self._timeout(deadline)
            ) as response:
                if self.debug:
                    self._log_response(response)
                if response.status_code >= 300:
                    raise self._http_error(response, url, deadline)
                yield Reply(response, deadline)
        except httpx.TimeoutException as error:
            if deadline.expired():
                raise deadline.reached() from error
            raise TransportError(f"timed out waiting for {url}", retryable=True) from error
        except httpx.HTTPError as error:
            raise TransportError(f"cannot reach {url} ({error})", retryable=True) from error

    def _http_error(self, response: httpx.Response, url: str, deadline: Deadline) -> ServiceError:
        data = Reply(response, deadline).read(MAX_ERROR_BODY)
        if self.debug:
            text = self.redact.bytes(data).decode("utf-8", "replace")
            self.log.line(f"glm: debug: < {text}")
        error = self.error_from_body(response.status_code, data)
        if response.status_code == 404:
            error.message += f" at {url}" + (
                " (--base-url should be the service root: drop the trailing /v1)"
                if "/v1/v1/" in url
                else ""
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
        self.log.line(f"glm: debug: > POST {url}")
        for name, value in redacted(headers).items():
            self.log.line(f"glm: debug: > {name}: {value}")
        self.log.line(f"glm: debug: > {body.decode('utf-8', 'replace')}")

    def _log_response(self, response: httpx.Response) -> None:
        self.log.line(f"glm: debug: < HTTP {response.status_code} {response.reason_phrase}")
        for name, value in response.headers.items():
            self.log.line(f"glm: debug: < {name}: {self.redact.text(value)}")
