"""One run, as the flags decided it: settings, the prompt, the request, the client.

`Job.prepare` reads the config and checks every flag before any network
traffic; the command bodies (`commands/`) take a `Job` and drive the engine. A
job holds the run's one `Deadline` (`--max-time`), so every exchange, retry wait
and tool run of the run shares it.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from glm_cli.cli.flags import (
    Flags,
    OutputOptions,
    net_options,
    output_options,
    request_params,
)
from glm_cli.cli.prompt import StdinSource, build_prompt, check_stdin_readers, system_prompt
from glm_cli.cli.tools import loop_settings
from glm_cli.core import validate
from glm_cli.core.deadline import Deadline
from glm_cli.core.errors import GlmError, OutputError, UsageError
from glm_cli.core.messages import ChatRequest, RequestParams
from glm_cli.core.records import record
from glm_cli.core.service_rules import effort_note, low_max_tokens
from glm_cli.engine.tool_runner import LoopSettings
from glm_cli.files.safe import Passthrough, Replacement, is_special, refused
from glm_cli.net.options import NetOptions
from glm_cli.output.sink import Sink
from glm_cli.output.terminal import Console, Env
from glm_cli.settings.resolve import Settings, load_config, resolve
from glm_cli.wire import get_protocol
from glm_cli.wire.protocol import WireProtocol

if TYPE_CHECKING:
    from glm_cli.engine.exchange import Client
    from glm_cli.settings.templates import Template


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
    deadline: Deadline
    replacement: Replacement | Passthrough | None = None
    advised: set[str] = field(default_factory=set)
    """What `advise` said already: each once a run (a chat loop's turns repeat it)."""
    """`--output FILE`: where the sink writes, renamed over FILE when the run succeeds."""

    @classmethod
    def prepare(cls, given: dict[str, Any], env: Env, console: Console) -> Job:
        """Read the config and check every flag; raises before any network traffic."""
        bare = Flags(given)
        config, warnings = load_config(bare, env.environ)
        template, params = _template(given, env)
        flags = Flags(given, config, template, params)
        console = console.configured(
            quiet=flags.switch("quiet"), verbose=flags.switch("verbose") or bool(given.get("debug"))
        )
        for warning in warnings:
            console.warn(warning)
        if template is not None:
            for key in sorted(params.keys() - template.names()):
                console.warn(f"--param {key}: template {template.path} has no {{{key}}}")
        settings = resolve(flags, env.environ, config)
        for warning in settings.warnings:
            console.warn(warning)
        net = net_options(flags)
        output = flags.cli("output_file")
        replacement = _replacement(output) if output is not None else None
        sink = (
            Sink(env.stdout, on_start=console.stop_spinner)
            if replacement is None
            else Sink(replacement.file, on_start=console.stop_spinner, file=output)
        )
        return cls(
            env=env,
            console=console,
            flags=flags,
            settings=settings,
            protocol=get_protocol(settings.endpoint.protocol),
            net=net,
            output=output_options(flags),
            sink=sink,
            deadline=Deadline(net.max_time),
            replacement=replacement,
        )

    @contextmanager
    def delivering(self) -> Iterator[None]:
        """Around the command's body: with `--output FILE`, FILE is replaced when the body
        succeeds, and left as it was (the temporary removed) when it fails in any way."""
        replacement = self.replacement
        if replacement is None:
            yield
            return
        try:
            yield
        except BaseException:
            replacement.discard()
            raise
        try:
            replacement.commit()
        except OSError as error:
            raise _write_error(replacement.path, error) from error

    @cached_property
    def stdin(self) -> StdinSource:
        """Stdin, read at most once for the whole run (prompt, system prompt or body)."""
        stdin = self.env.stdin
        return StdinSource(
            read=stdin.read if stdin is not None else (lambda: b""),
            is_terminal=self.env.stdin_isatty,
            available=stdin is not None,
        )

    def stdin_reader(self) -> str | None:
        """What reads stdin besides the prompt: `--body -` or `--system @-`; checks
        that not both do."""
        template = self.flags.template
        system = None  # a template's system prompt is its text, never @-
        if self.flags.cli("system") is not None or template is None or template.system is None:
            system, _ = self.flags.lookup("system")
        readers = [
            name
            for name, wanted in (
                ("--body -", self.flags.cli("body") == "-"),
                ("--system @-", system == "@-"),
            )
            if wanted
        ]
        check_stdin_readers(readers, use_stdin=not self.flags.cli("no_stdin"))
        return readers[0] if readers else None

    def prompt(self, *, stdin_taken: bool = False, allow_empty: bool = False) -> str:
        """The user prompt; with a template, the command's own prompt in its `{input}`
        (a template without `{input}` reads stdin only where a `-` asks)."""
        template = self.flags.template
        own_place = template is None or template.has_input
        words = list(self.flags.cli("prompt") or [])
        prompt = build_prompt(
            words,
            list(self.flags.cli("prompt_file") or []),
            self.stdin,
            use_stdin=not self.flags.cli("no_stdin"),
            stdin_taken=self.stdin_reader() or stdin_taken,
            allow_empty=allow_empty or not own_place,
            append_stdin=own_place,
        )
        if template is None:
            return prompt
        from glm_cli.settings.templates import render_prompt

        text = render_prompt(template, self.flags.params, prompt)
        if not text.strip() and not allow_empty:
            raise UsageError(f"empty prompt: template {template.path} and the command give none")
        return text

    def system(self) -> str | None:
        value, source = self.flags.lookup("system")
        if self.flags.from_template(source, "system"):
            return str(value)
        if value == "@-":
            self.stdin_reader()
        return system_prompt(value, self.stdin, source)

    def stream_setting(self) -> bool:
        value, source = self.flags.lookup("stream")
        if value is None:
            return True
        return validate.boolean(source, value)

    def params(self, *, use_defaults: bool = True, model: str | None = None) -> RequestParams:
        """The request flags, checked for `model` (default: the run's)."""
        return request_params(
            self.flags,
            self.protocol.name,
            model=model if model is not None else self.settings.model,
            use_defaults=use_defaults,
        )

    def tools(self, params: RequestParams) -> LoopSettings:
        """The tool loop's settings (`--tool-cmd` checked against the request's tools)."""
        return loop_settings(self.flags, params.tools)

    def wants_stream_usage(self) -> bool:
        """Ask a stream for usage (`stream_options`) when the run shows usage and the
        provider accepts the field: own providers unless `stream_usage = false`; never
        the built-in ones, whose documents do not have it."""
        return self.settings.endpoint.provider.stream_usage and (
            self.output.usage or self.output.ndjson
        )

    def chat_request(self, prompt: str, *, system: str | None = None) -> ChatRequest:
        params = self.params()
        params.stream_usage = self.wants_stream_usage()
        self.tools(params)  # checked now, before anything is sent
        return ChatRequest(
            model=self.settings.model,
            messages=[{"role": "user", "content": prompt}],
            system=system,
            stream=self.stream_setting(),
            params=params,
        )

    def advise(self, params: RequestParams) -> None:
        """What the service documents say of these settings: the effort under
        `--verbose`, and a warning when reasoning may use up `--max-tokens`; each once
        (said again only when `/effort` or `/think` changed it)."""
        note = effort_note(params.effort, params.think, self.protocol.name)
        if note not in self.advised:
            self.advised.add(note)
            self.console.note(note)
        source = self.flags.lookup("max_tokens")[1]
        warning = low_max_tokens(params.max_tokens, params.effort, params.think, source)
        if warning is not None and warning not in self.advised:
            self.advised.add(warning)
            self.console.warn(warning)

    def encode(self, request: ChatRequest) -> dict[str, Any]:
        self.advise(request.params)
        encoded = self.protocol.encode(request)
        for warning in encoded.warnings:
            self.console.warn(warning)
        return encoded.body

    def dry_run(self, body: dict[str, Any]) -> None:
        """Print the request that would be sent; the key is shown as `Bearer ***`."""
        import orjson

        from glm_cli.net.headers import redacted, request_headers

        stream = bool(body.get("stream"))
        headers = request_headers(self.settings.api_key.value, stream)
        document = {
            "method": "POST",
            "url": self.settings.endpoint.url,
            "headers": redacted(headers),
            "body": body,
        }
        self.sink.write(orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n")

    @contextmanager
    def waiting(self) -> Iterator[None]:
        """A spinner on a terminal's stderr while the body waits for the answer."""
        self.console.start_spinner()
        try:
            yield
        finally:
            self.console.stop_spinner()

    def client(self, *, connections: int = 10) -> Client:
        """A client for this run's endpoint (the key is required now: exit 3 if missing)."""
        from glm_cli.engine.exchange import Client

        key = self.settings.require_key()
        endpoint = self.settings.endpoint
        description = (
            f"provider {endpoint.provider.name} ({endpoint.protocol}), url {endpoint.url}"
            + (f", fallback {endpoint.fallback_url}" if endpoint.fallback_url else "")
        )
        return Client(
            self.protocol,
            endpoint,
            self.net,
            self.console,
            key=key,
            debug=self.output.debug,
            environ=self.env.environ,
            connections=connections,
            description=description,
        )


def _template(given: dict[str, Any], env: Env) -> tuple[Template | None, dict[str, str]]:
    """`-T NAME|PATH` read and checked, and the `-p KEY=VALUE` that fill it."""
    value = given.get("template")
    params = list(given.get("param") or [])
    if value is None:
        if params:
            raise UsageError("--param fills a template: give -T/--template NAME too")
        return None, {}
    from glm_cli.settings import templates

    filled = templates.parse_params(params)
    return templates.load(value, env.environ), filled


def _replacement(given: str) -> Replacement | Passthrough:
    """The temporary for `--output FILE`, made before anything is sent (or, for a
    device or a FIFO, the file itself, opened)."""
    if not given:
        raise UsageError("--output: the file name is empty")
    path = Path(given)
    if path.is_dir():
        raise UsageError(f"--output {given!r}: is a directory")
    try:
        return Passthrough(path) if is_special(path) else Replacement(path)
    except OSError as error:
        raise _write_error(path, error) from error


def _write_error(path: Path, error: OSError) -> GlmError:
    """No room, no permission, read-only: exit 1 (SPEC §3.1); a folder that does not exist
    or is not a folder: exit 2."""
    why = error.strerror or str(error)
    if refused(error) or error.errno not in (errno.ENOENT, errno.ENOTDIR, errno.EISDIR):
        return OutputError(f"cannot write to {path}: {why}")
    return UsageError(f"--output {str(path)!r}: {why}")
