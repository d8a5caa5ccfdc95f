"""What every request-making command shares: settings, the prompt, and the exchange.

`Job` is built once per run from the flags. `Job.exchange` sends one request and
feeds neutral events to a handler; `Job.exchange_raw` hands over the wire bytes.
Both close the connection on every way out.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import Any

import httpx
import orjson

from glm_cli.errors import TransportError
from glm_cli.messages import ChatRequest, Event
from glm_cli.options import (
    Flags,
    OutputOptions,
    check_top_p_range,
    net_options,
    output_options,
    request_params,
)
from glm_cli.prompt import StdinSource, build_prompt, check_stdin_readers, system_prompt
from glm_cli.protocols import get_protocol
from glm_cli.protocols.base import StreamDecoder, WireProtocol
from glm_cli.records import record
from glm_cli.render import Renderer, Sink
from glm_cli.settings import Settings, load_config, resolve
from glm_cli.sse import SSEvent, event_batches, one_line
from glm_cli.terminal import Console, Env, escape_bytes
from glm_cli.transport import (
    Redactor,
    Transport,
    deadline,
    iter_body,
    read_body,
    redacted,
    request_headers,
)
from glm_cli.transport_options import NetOptions


@record
class Job:
    env: Env
    console: Console
    flags: Flags
    settings: Settings
    protocol: WireProtocol
    net: NetOptions
    output: OutputOptions
    sink: Sink
    renderer: Renderer | None = None
    """Set once output starts, so a failure is also reported in the output's format."""

    @classmethod
    def prepare(cls, given: dict[str, Any], env: Env, console: Console) -> Job:
        """Read the config and check every flag; raises before any network traffic."""
        bare = Flags(given)
        config, warnings = load_config(bare, env.environ)
        flags = Flags(given, config)
        console.quiet = flags.switch("quiet")
        console.verbose = flags.switch("verbose") or bool(given.get("debug"))
        for warning in warnings:
            console.warn(warning)
        settings = resolve(flags, env.environ, config)
        for warning in settings.warnings:
            console.warn(warning)
        return cls(
            env=env,
            console=console,
            flags=flags,
            settings=settings,
            protocol=get_protocol(settings.endpoint.protocol),
            net=net_options(flags),
            output=output_options(flags),
            sink=Sink(env.stdout, on_start=console.stop_spinner),
        )

    @cached_property
    def stdin(self) -> StdinSource:
        """Stdin, read at most once for the whole run (prompt, system prompt or body)."""
        stdin = self.env.stdin
        return StdinSource(
            read=stdin.read if stdin is not None else (lambda: b""),
            is_terminal=self.env.stdin_isatty,
            available=stdin is not None,
        )

    def stdin_source(self) -> StdinSource:
        return self.stdin

    def stdin_reader(self) -> str | None:
        """What reads stdin besides the prompt: `--body -` or `--system @-`; checks
        that not both do."""
        system, _ = self.flags.lookup("system")
        readers = [name for name, wanted in (
            ("--body -", self.flags.cli("body") == "-"), ("--system @-", system == "@-"),
        ) if wanted]
        check_stdin_readers(readers, use_stdin=not self.flags.cli("no_stdin"))
        return readers[0] if readers else None

    def prompt(self, *, stdin_taken: bool = False, allow_empty: bool = False) -> str:
        words = list(self.flags.cli("prompt") or [])
        return build_prompt(
            words,
            list(self.flags.cli("prompt_file") or []),
            self.stdin_source(),
            use_stdin=not self.flags.cli("no_stdin"),
            stdin_taken=self.stdin_reader() or stdin_taken,
            allow_empty=allow_empty,
        )

    def system(self) -> str | None:
        value, source = self.flags.lookup("system")
        if value == "@-":
            self.stdin_reader()
        return system_prompt(value, self.stdin, source)

    def stream_setting(self) -> bool:
        value, source = self.flags.lookup("stream")
        if value is None:
            return True
        from glm_cli.validate import boolean

        return boolean(source, value)

    def chat_request(self, prompt: str, *, system: str | None = None) -> ChatRequest:
        params = request_params(self.flags)
        check_top_p_range(params, self.protocol.name, self.flags.lookup("top_p")[1])
        params.stream_usage = self.wants_stream_usage()
        return ChatRequest(
            model=self.settings.model,
            messages=[{"role": "user", "content": prompt}],
            system=system,
            stream=self.stream_setting(),
            params=params,
        )

    def wants_stream_usage(self) -> bool:
        """Ask a stream for usage (`stream_options`) when the run shows usage and the
        provider accepts the field: own providers unless `stream_usage = false`; never
        the built-in ones, whose documents do not have it."""
        return self.settings.endpoint.provider.stream_usage and (
            self.output.usage or self.output.ndjson
        )

    def encode(self, request: ChatRequest) -> dict[str, Any]:
        encoded = self.protocol.encode(request)
        for warning in encoded.warnings:
            self.console.warn(warning)
        return encoded.body

    def describe(self, body: dict[str, Any]) -> None:
        endpoint = self.settings.endpoint
        self.console.note(
            f"provider {endpoint.provider.name} ({endpoint.protocol}), url {endpoint.url}"
            + (f", fallback {endpoint.fallback_url}" if endpoint.fallback_url else "")
            + f", model {body.get('model')}, retries {self.net.retries}"
        )

    def dry_run(self, body: dict[str, Any]) -> None:
        """Print the request that would be sent; the key is shown as `Bearer ***`."""
        stream = bool(body.get("stream"))
        headers = request_headers(self.settings.api_key.value, stream)
        document = {
            "method": "POST",
            "url": self.settings.endpoint.url,
            "headers": redacted(headers),
            "body": body,
        }
        self.sink.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n")

    def _send(self, body: dict[str, Any], handle: Callable[[httpx.Response], None]) -> None:
        key = self.settings.require_key()
        self.describe(body)
        payload = orjson.dumps(body)
        headers = request_headers(key, bool(body.get("stream")))
        request_id = body.get("request_id")
        with deadline(self.net.max_time):
            transport = Transport(
                self.settings.endpoint,
                self.net,
                self.console,
                debug=self.output.debug,
                error_from_body=self.protocol.error_from_body,
                sent_request_id=request_id if isinstance(request_id, str) else None,
                redactor=Redactor(key),
            )
            try:
                self.console.start_spinner()
                transport.send(payload, headers, handle, lambda: self.sink.started)
            finally:
                self.console.stop_spinner()
                transport.close()

    def exchange(
        self,
        body: dict[str, Any],
        on_event: Callable[[Event], None],
        on_attempt: Callable[[], None] | None = None,
    ) -> None:
        """Send `body`; every neutral event of the answer goes to `on_event`.

        `on_attempt` is called as each attempt's response starts, so a caller that
        collects events can start over when a failed attempt is retried; the run's
        renderer is rewound then too, to where it stood when `body` was sent, so no
        renderer shows a failed attempt's events (SPEC §3.2).
        """
        stream = bool(body.get("stream"))
        renderer = self.renderer
        mark = renderer.checkpoint() if renderer is not None else 0

        def handle(response: httpx.Response) -> None:
            if renderer is not None:
                renderer.rewind(mark)
            if on_attempt is not None:
                on_attempt()
            if stream and _is_event_stream(response):
                consume_stream(iter_body(response), self.protocol.stream_decoder(), on_event)
                return
            if stream and not _is_json(response):
                raise TransportError(
                    "expected an event stream, got "
                    f"{response.headers.get('content-type') or 'no content type'}"
                )
            for event in self.protocol.decode(read_body(response)):
                on_event(event)

        self._send(body, handle)

    def shown_bytes(self, data: bytes) -> bytes:
        """Service bytes as `glm raw` prints them: the key masked; on a terminal,
        control characters escaped."""
        data = Redactor(self.settings.api_key.value).bytes(data)
        return escape_bytes(data) if self.env.stdout_isatty else data

    def exchange_raw(
        self,
        body: dict[str, Any],
        on_whole: Callable[[bytes], None],
        on_payload: Callable[[SSEvent], None],
        on_event: Callable[[Event], None],
    ) -> None:
        """Send `body`; hand over the whole body, or each SSE event of a stream.

        The neutral events still go to `on_event`, so a truncated stream or a
        filtered answer gets its exit code in `glm raw` too. What is handed over is the
        service's bytes with the key masked, each event's payload on one line (see
        `sse.one_line`), and on a terminal with control characters escaped.
        """
        stream = bool(body.get("stream"))
        shown = self.shown_bytes

        def payload(sse: SSEvent) -> None:
            on_payload(sse._replace(data=shown(one_line(sse.data))))

        def handle(response: httpx.Response) -> None:
            if stream and _is_event_stream(response):
                decoder = self.protocol.stream_decoder()
                consume_stream(iter_body(response), decoder, on_event, payload)
                return
            data = read_body(response)
            on_whole(shown(data))
            for event in self.protocol.decode(data):
                on_event(event)

        self._send(body, handle)


def _media_type(response: httpx.Response) -> str:
    """The Content-Type without its parameters, in lower case (media types are
    case-insensitive: `Text/Event-Stream; charset=utf-8`)."""
    value: str = response.headers.get("content-type", "")
    return value.partition(";")[0].strip().lower()


def _is_event_stream(response: httpx.Response) -> bool:
    return _media_type(response) == "text/event-stream"


def _is_json(response: httpx.Response) -> bool:
    return "json" in _media_type(response)


def consume_stream(
    chunks: Any,
    decoder: StreamDecoder,
    on_event: Callable[[Event], None],
    on_payload: Callable[[SSEvent], None] | None = None,
) -> None:
    """Decode a stream to the end; a connection lost after the finish reason is fine.

    This loop runs once per streamed token, so it keeps to local names.
    """
    feed = decoder.feed
    try:
        for batch in event_batches(chunks):
            for sse in batch:
                if on_payload is not None:
                    on_payload(sse)
                for event in feed(sse):
                    on_event(event)
                if decoder.done:
                    break
            if decoder.done:
                break
    except TransportError as error:
        if not decoder.finished or not error.retryable:
            raise
    for event in decoder.close():
        on_event(event)
