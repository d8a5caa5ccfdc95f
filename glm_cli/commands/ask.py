"""`glm ask`: one question, one answer, as text or NDJSON."""

from __future__ import annotations

from glm_cli.commands.common import Job
from glm_cli.engine.tool_loop import run_exchange
from glm_cli.output.render import NdjsonRenderer, Renderer, TextRenderer


def make_renderer(job: Job) -> Renderer:
    output = job.output
    if output.ndjson:
        return NdjsonRenderer(
            job.sink, job.console, show_usage=output.usage, sources=output.sources
        )
    if job.flags.switch("markdown") and job.env.stdout_isatty:
        from glm_cli.output.markdown import MarkdownRenderer

        return MarkdownRenderer(
            job.sink,
            job.console,
            env=job.env,
            show_thinking=output.show_thinking,
            show_usage=output.usage,
            sources=output.sources,
        )
    return TextRenderer(
        job.sink,
        job.console,
        show_thinking=output.show_thinking,
        show_usage=output.usage,
        sources=output.sources,
    )


def run(job: Job) -> None:
    request = job.chat_request(job.prompt(), system=job.system())
    body = job.encode(request)
    if job.output.dry_run:
        job.dry_run(body)
        return
    job.renderer = make_renderer(job)
    run_exchange(job, request, job.renderer.handle, body=body)
