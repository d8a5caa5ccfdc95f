"""One exchange as a value: a request sent, its answer pulled as neutral events.

    client = Client(protocol, endpoint, net, log, key=...)
    with client.exchange(body, deadline) as exchange:
        for batch in exchange:          # a list of events per network read
            renderer.feed(batch)
    exchange.result                     # the same events, accumulated

`Client` holds what every exchange of a run shares — the protocol, the endpoint,
the one connection pool — and nothing that changes, so one client serves any
number of exchanges at once from any number of threads. An `Exchange` holds one
request's state: its attempts, its stream decoder, its snapshot (`result`).

Retries live here, and only here: a failure that the policy of SPEC §3 allows
(`core.retry`) is tried again — against the fallback URL after a connection
failure or a 5xx — as long as `may_retry()` says nothing of the answer reached
stdout yet; a retried attempt starts with a `Restart` event, so every consumer
forgets what the failed attempt sent. The response is closed when the exchange
ends, is closed, or is abandoned.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Iterator, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any

import orjson

from glm_cli.core.accumulate import Result, accumulate
from glm_cli.core.deadline import Deadline
from glm_cli.core.errors import ServiceError, TransportError
from glm_cli.core.log import Log
from glm_cli.core.messages import Content, Event, Payload, Restart
from glm_cli.core.redact import Redactor
from glm_cli.core.retry import RetryPolicy, next_delay
from glm_cli.net.headers import request_headers
from glm_cli.net.options import NetOptions
from glm_cli.settings.providers import Endpoint
from glm_cli.wire.protocol import WireProtocol
from glm_cli.wire.sse import event_batches

if TYPE_CHECKING:
    from glm_cli.net.transport import Reply


def always() -> bool:
    """The default retry gate: nothing has been shown yet."""
    return True


def sleep(error: ServiceError, delay: float) -> None:
    """The default wait before a retry: `delay` seconds, whatever the failure."""
    time.sleep(delay)


Pace = Callable[[ServiceError, float], None]
"""Waits before a retry, given the failure and the policy's delay (`glm batch` waits at
its shared gate instead, so one 429 slows every worker)."""


class Client:
    def __init__(
        self,
        protocol: WireProtocol,
        endpoint: Endpoint,
        net: NetOptions,
        log: Log,
        *,
        key: str | None,
        environ: Mapping[str, str],
        debug: bool = False,
        connections: int = 10,
        description: str = "",
    ) -> None:
        self.protocol = protocol
        self.endpoint = endpoint
        self.net = net
        self.log = log
        self.key = key
        self.redact = Redactor(key)
        self.description = description
        """Said under --verbose before each request: provider, URL, fallback."""
        from glm_cli.net.transport import Transport  # httpx: only once a request is made

        self.transport = Transport(
            net,
            log,
            error_from_body=protocol.error_from_body,
            urls=[endpoint.url, endpoint.fallback_url or ""],
            environ=environ,
            redact=self.redact,
            debug=debug,
            connections=connections,
        )

    def exchange(
        self,
        body: dict[str, Any],
        deadline: Deadline,
        *,
        may_retry: Callable[[], bool] = always,
        wire: bool = False,
        pace: Pace = sleep,
    ) -> Exchange:
        """Prepare one exchange (nothing is sent until it is iterated).

        `wire` adds a `Payload` event before the events of each SSE event (or of
        the whole body), for `glm raw`; `pace` waits before each retry.
        """
        return Exchange(self, body, deadline, may_retry, wire, pace)

    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Exchange:
    def __init__(
        self,
        client: Client,
        body: dict[str, Any],
        deadline: Deadline,
        may_retry: Callable[[], bool],
        wire: bool,
        pace: Pace = sleep,
    ) -> None:
        self.client = client
        self.pace = pace
        self.body = body
        self.deadline = deadline
        self.may_retry = may_retry
        self.wire = wire
        self.stream = bool(body.get("stream"))
        self.result = Result()
        """The answer so far (after the exchange: the whole answer)."""
        self.attempts = 0
        self._batches: Generator[list[Event], None, None] | None = None

    def __iter__(self) -> Iterator[list[Event]]:
        if self._batches is None:
            self._batches = self._run()
        return self._batches

    def close(self) -> None:
        """End the exchange now: the connection is closed (the service stops generating)."""
        if self._batches is not None:
            self._batches.close()

    def __enter__(self) -> Exchange:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _run(self) -> Generator[list[Event], None, None]:
        client = self.client
        if client.description:
            client.log.note(
                f"{client.description}, model {self.body.get('model')}, "
                f"retries {client.net.retries}"
            )
        request_id = self.body.get("request_id")
        sent_request_id = request_id if isinstance(request_id, str) else None
        payload = orjson.dumps(self.body)
        headers = request_headers(client.key, self.stream)
        urls = [client.endpoint.url]
        if client.endpoint.fallback_url:
            urls.append(client.endpoint.fallback_url)
        policy = RetryPolicy(client.net.retries)
        current = 0
        tried = {0}
        started = False
        while True:
            self.attempts += 1
            url = urls[current]
            client.log.note(f"POST {url} (attempt {self.attempts} of {policy.attempts})")
            try:
                with client.transport.post(url, payload, headers, self.deadline) as reply:
                    if started:
                        self.result = accumulate(Restart(), self.result)
                        yield [Restart()]
                    started = True
                    yield from self._answer(reply)
                    return
            except ServiceError as failure:
                error = client.redact.error(failure)
            if error.request_id is None:
                error.request_id = sent_request_id
            last = self.attempts >= policy.attempts
            if not error.retryable or last or not self.may_retry():
                if self.attempts > 1:
                    fallback = f"; fallback {urls[1]} tried too" if 1 in tried else ""
                    error.message += f" (after {self.attempts} attempts{fallback})"
                raise error
            delay = next_delay(self.attempts, error.retry_after)
            remaining = self.deadline.remaining()
            if remaining is not None and remaining <= delay:
                time.sleep(remaining)  # the wait outlasts --max-time: wait it out, then stop
                raise self.deadline.reached()
            if len(urls) > 1 and (error.status is None or error.status >= 500):
                current = 1 - current
                tried.add(current)
            client.log.note(f"retrying in {delay:.1f}s after: {error.line()}")
            self.pace(error, delay)

    def _answer(self, reply: Reply) -> Iterator[list[Event]]:
        content_type = reply.content_type
        if self.stream and content_type == "text/event-stream":
            yield from self._stream(reply)
            return
        if self.stream and "json" not in content_type:
            raise TransportError(
                "expected an event stream, got " + (reply.raw_content_type or "no content type")
            )
        data = reply.read()
        events: list[Event] = [Payload(data, whole=True)] if self.wire else []
        events += self.client.protocol.decode(data)
        result = self.result
        for event in events:
            result = accumulate(event, result)
        self.result = result
        yield events

    def _stream(self, reply: Reply) -> Iterator[list[Event]]:
        """Decode a stream to the end; a connection lost after the finish reason is fine.

        This loop runs once per network read and its inner loop once per token, so it
        keeps to local names.
        """
        decoder = self.client.protocol.stream_decoder()
        feed = decoder.feed
        wire = self.wire
        result = self.result
        try:
            for batch in event_batches(reply.chunks()):
                events: list[Event] = []
                try:
                    for sse in batch:
                        if wire:
                            events.append(Payload(sse.data))
                        events += feed(sse)
                        if decoder.done:
                            break
                except ServiceError:
                    # what arrived before the bad event is still shown, then the error
                    for event in events:
                        result = accumulate(event, result)
                    self.result = result
                    yield events
                    raise
                if events:
                    add_text = result.content.add
                    for event in events:
                        if type(event) is Content:  # the common case, inline
                            add_text(event.text)
                        else:
                            result = accumulate(event, result)
                            add_text = result.content.add
                    self.result = result
                    yield events
                    del events  # a batch is not kept while the next one is read
                del batch
                if decoder.done:
                    break
        except TransportError as error:
            if not decoder.finished or not error.retryable:
                raise
        tail = decoder.close()
        for event in tail:
            result = accumulate(event, result)
        self.result = result
        yield tail
