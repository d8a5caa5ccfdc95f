"""`glm json`: JSON mode, the answer checked (and against `--schema`) before printing.

The JSON is printed as the model wrote it, re-laid-out only: parsing is for
checking, never for re-serialising, so no number changes.
"""

from __future__ import annotations

import contextlib
import re
import time
from pathlib import Path
from typing import Any

from glm_cli.cli.job import Job
from glm_cli.cli.prompt import read_text_file
from glm_cli.commands.ask import make_renderer, turn
from glm_cli.commands.recording import Recording, Replay
from glm_cli.core import jsontext
from glm_cli.core.accumulate import Result
from glm_cli.core.errors import GlmError, StdoutClosed, UnusableAnswer, UsageError
from glm_cli.core.finish import check_finish
from glm_cli.core.messages import ChatRequest, Done, Event, Message
from glm_cli.engine.exchange import Client, always
from glm_cli.engine.tool_loop import Turn, for_next_turn
from glm_cli.output.render import Answer, Renderer, usage_line
from glm_cli.output.terminal import escape_json_bytes

JSON_HINT = "Answer with a single JSON value and nothing else."
_MENTIONS_JSON = re.compile("json", re.IGNORECASE)


Schema = dict[str, Any] | bool
"""A JSON Schema: an object, or `true`/`false`."""


def load_schema(path: str, source: str = "--schema") -> tuple[Schema, str]:
    """The checked schema, and its text on one line for the system prompt."""
    return parse_schema(read_text_file(path, source), f"{source} {path!r}")


def parse_schema(text: str, where: str) -> tuple[Schema, str]:
    from jsonschema.exceptions import SchemaError
    from jsonschema.validators import validator_for

    try:
        schema = jsontext.parse(text)
    except ValueError as error:
        raise UsageError(f"{where}: not valid JSON ({error})") from error
    if not isinstance(schema, dict | bool):
        raise UsageError(f"{where}: a JSON Schema must be an object")
    try:
        validator_for(schema).check_schema(schema)
    except SchemaError as error:
        raise UsageError(f"{where}: not a valid JSON Schema ({error.message})") from error
    except RecursionError as error:
        raise UsageError(f"{where}: nested too deeply to check") from error
    return schema, jsontext.compact(text)


def job_schema(job: Job) -> tuple[Schema | None, str | None]:
    """`--schema FILE`, else the template's `schema` (a table, or a file beside it)."""
    path = job.flags.cli("schema")
    if path:
        return load_schema(path)
    template = job.flags.template
    if template is None or template.schema is None:
        return None, None
    where = template.where("schema")
    if isinstance(template.schema, Path):
        return load_schema(str(template.schema), where)
    try:
        text = jsontext.dumps(template.schema)
    except (TypeError, ValueError) as error:  # a TOML date or time: no JSON for it
        raise UsageError(f"{where}: not a JSON Schema ({error})") from error
    return parse_schema(text, where)


def system_with_hints(system: str | None, prompt: str, schema_text: str | None) -> str | None:
    lines = [system] if system else []
    if schema_text is not None:
        lines.append(
            "Answer with a single JSON value that validates against this JSON Schema:\n"
            + schema_text
        )
    elif not _MENTIONS_JSON.search(system or "") and not _MENTIONS_JSON.search(prompt):
        lines.append(JSON_HINT)
    return "\n\n".join(lines) if lines else None


def schema_error(schema: Schema, value: Any) -> str | None:
    from jsonschema.validators import validator_for

    validator = validator_for(schema)(schema)
    error = next(iter(sorted(validator.iter_errors(value), key=lambda e: list(e.path))), None)
    if error is None:
        return None
    where = "/".join(str(part) for part in error.absolute_path)
    return f"{error.message}" + (f" (at /{where})" if where else "")


def run(job: Job) -> None:
    prompt = job.prompt()
    schema, schema_text = job_schema(job)
    request = job.chat_request(prompt, system=system_with_hints(job.system(), prompt, schema_text))
    request.params.json_mode = True
    body = job.encode(request)
    if job.output.dry_run:
        job.dry_run(body)
        return
    with Recording(job, "json") as recording:
        _run(job, request, body, schema, recording)


def _run(
    job: Job,
    request: ChatRequest,
    body: dict[str, Any],
    schema: Schema | None,
    recording: Recording,
) -> None:
    shown: list[Renderer] = []
    """The renderers of the exchanges (--ndjson): the latest reports a failure too."""
    try:
        _new_renderer(job, shown)
        with _Client(job) as client:
            text, added = _ask(job, client, request, shown, recording, body)
            value = _check(text)
            problem = schema_error(schema, value) if schema is not None else None
            if problem is not None:
                job.console.note(f"the answer does not match the schema ({problem}); asking again")
                repair = _repair_request(request, added, problem)
                _new_renderer(job, shown)
                text, _ = _ask(job, client, repair, shown, recording)
                value = _check(text)
                problem = schema_error(schema, value) if schema is not None else None
                if problem is not None:
                    raise UnusableAnswer(f"the answer does not match the schema: {problem}")
    except UnusableAnswer as error:
        if error.detail is not None:
            job.console.line(error.detail)
        _report(shown, error)
        raise
    except GlmError as error:
        _report(shown, error)
        raise
    if not job.output.ndjson:
        inner = jsontext.unfence(text)
        out = jsontext.pretty(inner) if job.output.pretty else jsontext.compact(inner)
        data = (out + "\n").encode("utf-8", "surrogatepass")
        recording.shown = out + "\n"
        # on a terminal, C1 controls (raw in JSON strings) as \u009b: the same JSON
        job.sink.write_bytes(escape_json_bytes(data) if job.env.stdout_isatty else data)


class _Client:
    """The run's client, made only when a request is sent (a cache hit needs none)."""

    def __init__(self, job: Job) -> None:
        self.job = job
        self._client: Client | None = None

    def get(self) -> Client:
        if self._client is None:
            self._client = self.job.client()
        return self._client

    def __enter__(self) -> _Client:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._client is not None:
            self._client.close()


def _new_renderer(job: Job, shown: list[Renderer]) -> None:
    if job.output.ndjson:
        shown.append(make_renderer(job))


def _report(shown: list[Renderer], error: GlmError) -> None:
    if shown:
        with contextlib.suppress(StdoutClosed):
            shown[-1].failed(error)


def _ask(
    job: Job,
    client: _Client,
    request: ChatRequest,
    shown: list[Renderer],
    recording: Recording,
    body: dict[str, Any] | None = None,
) -> tuple[str, list[Message]]:
    """The final answer's text, and the messages the exchange added (tool rounds too).

    With --ndjson the events are rendered as they arrive (by the latest of `shown`);
    otherwise nothing reaches stdout until the JSON is checked. A cache hit is
    rendered the same way, and nothing is sent.
    """
    renderer = shown[-1] if shown else None
    if body is None:
        body = job.protocol.encode(request).body  # as the turn would encode it
    current: Turn | Replay | None = recording.replay(body)
    started = time.monotonic()
    events: list[Event] = []
    try:
        with job.waiting():
            if current is None:
                gate = renderer.may_retry if renderer else always
                current = turn(job, client.get(), request, body, gate)
                batches: Answer = recording.watch(current, events)
            else:
                batches = current
            if renderer is not None:
                renderer.show(batches)
            else:
                for _ in batches:
                    pass
                done = current.result.done or Done(None)
                if job.output.usage:
                    job.console.line(usage_line(done))
                answered = bool(current.result.text) or bool(current.result.tool_calls)
                check_finish(done, job.console, answered=answered)
    except BaseException as error:
        if not isinstance(current, Replay):
            result = current.result if current is not None else Result()
            recording.done(body, result, [], started, error=error)
        raise
    if not isinstance(current, Replay):
        recording.done(body, current.result, events, started, cacheable=not current.ran_tools)
    return current.added[-1].get("content") or "", current.added


def _check(text: str) -> Any:
    inner = jsontext.unfence(text)
    try:
        return jsontext.parse(inner)
    except ValueError as error:
        raise UnusableAnswer(f"the answer is not valid JSON ({error})", detail=text) from error


def _repair_request(request: ChatRequest, added: list[Message], problem: str) -> ChatRequest:
    messages = [
        *request.messages,
        *for_next_turn(added),
        {
            "role": "user",
            "content": "Your JSON does not validate against the schema: "
            + problem
            + ". Reply with corrected JSON only.",
        },
    ]
    return ChatRequest(request.model, messages, request.system, request.stream, request.params)
