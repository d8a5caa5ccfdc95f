"""`glm raw`: the wire format. The provider's own body, or its stream as NDJSON.

`--body FILE|-` sends a body of your own; only flags given on the command line
override its fields (not `[defaults]`, not the default stream setting), and a
prompt given as well is appended as a user message.
"""

from __future__ import annotations

from typing import Any

from glm_cli import jsontext
from glm_cli.commands.common import Job
from glm_cli.errors import ServiceError, UsageError
from glm_cli.messages import Done, Event
from glm_cli.options import check_top_p_range, request_params
from glm_cli.prompt import decode_utf8, system_prompt
from glm_cli.render import check_finish
from glm_cli.sse import SSEvent


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
    params = request_params(job.flags, use_defaults=False)
    check_top_p_range(params, job.protocol.name)
    encoded = job.protocol.encode_params(params)
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
    return body


def run(job: Job) -> None:
    body = build_body(job)
    if job.output.dry_run:
        job.dry_run(body)
        return

    def on_whole(data: bytes) -> None:
        job.sink.write_bytes(data if data.endswith(b"\n") else data + b"\n")

    def on_payload(event: SSEvent) -> None:
        if event.data != b"[DONE]":  # the stream's end marker is not a payload
            job.sink.write_bytes(event.data + b"\n")

    def on_event(event: Event) -> None:
        if type(event) is Done:
            check_finish(event, job.console)

    try:
        job.exchange_raw(body, on_whole, on_payload, on_event)
    except ServiceError as error:
        if error.body is not None:
            on_whole(job.shown_bytes(error.body))
        raise
