"""`glm raw`: the wire format. The provider's own body, or its stream as NDJSON.

`--body FILE|-` sends a body of your own; only flags given on the command line
override its fields (not `[defaults]`, not the default stream setting), and a
prompt given as well is appended as a user message. A body whose `messages` the
service would refuse (empty, or only system and assistant messages) is a usage
error before anything is sent.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from glm_cli.cli.job import Job
from glm_cli.cli.prompt import decode_utf8, system_prompt
from glm_cli.commands.recording import Recording
from glm_cli.core import jsontext
from glm_cli.core.accumulate import Result
from glm_cli.core.errors import UsageError
from glm_cli.core.messages import Event
from glm_cli.core.redact import Redactor
from glm_cli.core.service_rules import messages_problem
from glm_cli.output.render import WireRenderer

if TYPE_CHECKING:
    from glm_cli.engine.exchange import Exchange


def _read_body(job: Job, source: str) -> dict[str, Any]:
    if source == "-":
        job.stdin_reader()  # --body - and --system @- cannot both have stdin
        data = job.stdin.take()
        name = "--body - (stdin)"
    else:
        try:
            with open(source, "rb") as handle:
                data = handle.read()
        except OSError as error:
            raise UsageError(f"--body {source!r}: {error.strerror or error}") from error
        name = f"--body {source!r}"
    decode_utf8(data, name)
    try:
        body = jsontext.loads(data)
    except ValueError as error:  # orjson.JSONDecodeError and jsontext.TooDeep
        raise UsageError(f"{name}: not valid JSON ({error})") from error
    if not isinstance(body, dict):
        raise UsageError(f"{name}: the request body must be a JSON object")
    return body


def build_body(job: Job) -> dict[str, Any]:
    source = job.flags.cli("body")
    if source is None:
        request = job.chat_request(job.prompt(), system=job.system())
        return job.encode(request)
    body = _read_body(job, source)
    model = body.get("model")
    if job.flags.cli("model") is not None or not isinstance(model, str):
        model = job.settings.model
    encoded = job.protocol.encode_params(job.params(use_defaults=False, model=model))
    for warning in encoded.warnings:
        job.console.warn(warning)
    body.update(encoded.body)
    system = job.flags.cli("system")
    if system is not None:
        job.protocol.set_system(body, system_prompt(system, job.stdin) or "")
    if job.flags.cli("model") is not None:
        body["model"] = job.settings.model
    if job.flags.cli("stream") is not None:
        body["stream"] = bool(job.flags.cli("stream"))
    prompt = job.prompt(stdin_taken=source == "-", allow_empty=True)
    if prompt:
        job.protocol.add_user_message(body, {"role": "user", "content": prompt})
    problem = messages_problem(body.get("messages"))
    if problem is not None:
        raise UsageError(f"--body {source!r}: {problem}; nothing was sent")
    return body


def run(job: Job) -> None:
    body = build_body(job)
    if job.output.dry_run:
        job.dry_run(body)
        return
    renderer = WireRenderer(job.sink, job.console, Redactor(job.settings.api_key.value))
    with Recording(job, "raw") as recording:
        hit = recording.replay(body, wire=True)
        if hit is not None:
            with renderer.reporting():
                renderer.show(hit)
            return
        started = time.monotonic()
        events: list[Event] = []
        exchange: Exchange | None = None
        try:
            with renderer.reporting(), job.client() as client, job.waiting():
                exchange = client.exchange(
                    body, job.deadline, may_retry=renderer.may_retry, wire=True
                )
                with exchange:
                    renderer.show(recording.watch(exchange, events))
        except BaseException as error:
            result = exchange.result if exchange is not None else Result()
            recording.done(body, result, [], started, error=error, wire=True)
            raise
        recording.done(body, exchange.result, events, started, wire=True)
