"""`--markdown`: the answer rendered as Markdown with rich, on a terminal only.

The answer is collected as it arrives and rendered once it is complete (Markdown
cannot be laid out from half a table). `commands.ask.make_renderer` picks this
renderer only when stdout is a terminal; otherwise the plain `TextRenderer` is used,
byte for byte what glm prints without the flag, and rich is never imported.
Colour follows the terminal rules: none with `NO_COLOR` or `TERM=dumb`.
"""

from __future__ import annotations

import io
import shutil
from typing import Any

from glm_cli.core.accumulate import Result
from glm_cli.core.errors import GlmError
from glm_cli.core.messages import Content
from glm_cli.output.render import Renderer, TextRenderer
from glm_cli.output.terminal import Env, escape_controls


def stdout_color(env: Env) -> bool:
    return env.stdout_isatty and "NO_COLOR" not in env.environ and env.environ.get("TERM") != "dumb"


def render(text: str, *, color: bool, width: int | None = None) -> str:
    """Markdown → terminal text (ANSI styles only when `color`)."""
    from rich.console import Console as RichConsole
    from rich.markdown import Markdown

    out = io.StringIO()
    console = RichConsole(
        file=out,
        width=width or shutil.get_terminal_size().columns,
        force_terminal=color,
        no_color=not color,
        color_system="standard" if color else None,
        highlight=False,
        emoji=False,
        soft_wrap=False,
    )
    console.print(Markdown(text))
    return out.getvalue()


class MarkdownRenderer(TextRenderer):
    """Like `TextRenderer`, but the text is rendered from the answer's snapshot once the
    answer ends (so a retried attempt's text is never shown twice)."""

    def __init__(self, *args: Any, env: Env, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.env = env
        self._writing = False

    feed = Renderer.feed  # every delta through `content`, not the text fast path

    def content(self, event: Content) -> None:
        if not self._writing:
            self._writing = True
            self.console.spinner_label("writing…")

    def end(self, result: Result) -> None:
        text = escape_controls(result.text)
        if text.strip():
            self.console.end_partial_line()
            self.sink.write(render(text, color=stdout_color(self.env)))
        super().end(result)

    def failed(self, error: GlmError) -> None:
        """A run that fails mid-answer still shows what arrived, as plain text."""
        text = escape_controls(self.answer.result.text) if self.answer is not None else ""
        if text:
            self.sink.write(text if text.endswith("\n") else text + "\n")
        super().failed(error)
