"""`glm ask`: one question, one answer, as text or NDJSON."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from glm_cli.cli.flags import extraction
from glm_cli.cli.job import Job
from glm_cli.commands.recording import Recording, Replay
from glm_cli.core.accumulate import Result
from glm_cli.core.messages import ChatRequest, Event
from glm_cli.engine.exchange import Client, always
from glm_cli.engine.tool_loop import Turn
from glm_cli.output.render import NdjsonRenderer, Renderer, TextRenderer


def make_renderer(job: Job) -> Renderer:
    output = job.output
    shown = {"show_usage": output.usage, "sources": output.sources}
    wanted = extraction(job.flags)
    if wanted is not None:  # -x: only a code block, at the end
        from glm_cli.output.extract import ExtractRenderer

        return ExtractRenderer(
            job.sink, job.console, extraction=wanted, show_thinking=output.show_thinking, **shown
        )
    if output.ndjson:
        return NdjsonRenderer(job.sink, job.console, **shown)
    if job.flags.switch("markdown") and job.env.stdout_isatty:
        from glm_cli.output.markdown import MarkdownRenderer

        return MarkdownRenderer(
            job.sink, job.console, env=job.env, show_thinking=output.show_thinking, **shown
        )
    return TextRenderer(job.sink, job.console, show_thinking=output.show_thinking, **shown)


def turn(
    job: Job,
    client: Client,
    request: ChatRequest,
    body: dict[str, Any] | None = None,
    may_retry: Callable[[], bool] = always,
) -> Turn:
    """A turn of `request` on this job's deadline and tools."""
    return Turn(
        client,
        request,
        job.deadline,
        job.tools(request.params),
        job.console,
        job.env.stderr,
        body=body,
        may_retry=may_retry,
    )


def show(
    job: Job,
    renderer: Renderer,
    request: ChatRequest,
    body: dict[str, Any],
    recording: Recording,
) -> Turn | Replay:
    """Send `request` and render its answer (retried only while the renderer has
    written nothing); the finished turn, with what it added. A cache hit is
    rendered instead, and nothing is sent; either way `recording` keeps the exchange."""
    hit = recording.replay(body)
    if hit is not None:
        with renderer.reporting():
            renderer.show(hit)
        return hit
    started = time.monotonic()
    events: list[Event] = []
    current: Turn | None = None
    try:
        with renderer.reporting(), job.client() as client, job.waiting():
            current = turn(job, client, request, body, renderer.may_retry)
            renderer.show(recording.watch(current, events))
    except BaseException as error:
        recording.done(body, current.result if current else Result(), [], started, error=error)
        raise
    recording.done(body, current.result, events, started, cacheable=not current.ran_tools)
    return current


def run(job: Job) -> None:
    request = job.chat_request(job.prompt(), system=job.system())
    body = job.encode(request)
    if job.output.dry_run:
        job.dry_run(body)
        return
    with Recording(job, "ask") as recording:
        show(job, make_renderer(job), request, body, recording)
