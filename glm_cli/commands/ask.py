"""`glm ask`: one question, one answer, as text or NDJSON."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from glm_cli.cli.flags import extraction
from glm_cli.cli.job import Job
from glm_cli.core.messages import ChatRequest
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


def show(job: Job, renderer: Renderer, request: ChatRequest, body: dict[str, Any]) -> Turn:
    """Send `request` and render its answer (retried only while the renderer has
    written nothing); the finished turn, with what it added."""
    with renderer.reporting(), job.client() as client, job.waiting():
        current = turn(job, client, request, body, renderer.may_retry)
        renderer.show(current)
    return current


def run(job: Job) -> None:
    request = job.chat_request(job.prompt(), system=job.system())
    body = job.encode(request)
    if job.output.dry_run:
        job.dry_run(body)
        return
    show(job, make_renderer(job), request, body)
