"""`-x/--extract` (SPEC §8): only a fenced code block of the answer on stdout.

The answer is not streamed: when it ends, the block is read from the turn's
snapshot (`Result.content`) and written whole. No block: the whole answer, or exit
6 with `--strict`. A block left open by a `length` finish: its partial content and
a warning. The log and the session keep the whole answer.
"""

from __future__ import annotations

from typing import Any

from glm_cli.core.accumulate import Result
from glm_cli.core.errors import UnusableAnswer
from glm_cli.core.fences import Extraction, pick
from glm_cli.core.finish import check_finish
from glm_cli.core.messages import Done
from glm_cli.output.render import TextRenderer
from glm_cli.output.sink import Sink
from glm_cli.output.terminal import Console, escape_controls


class ExtractRenderer(TextRenderer):
    def __init__(
        self, sink: Sink, console: Console, *, extraction: Extraction, **kwargs: Any
    ) -> None:
        super().__init__(sink, console, **kwargs)
        self.extraction = extraction

    def _text(self, texts: list[str]) -> None:
        """Nothing while the answer streams: the block is known only at its end."""

    def end(self, result: Result) -> None:
        self.console.end_partial_line()
        wanted = self.extraction
        answer = result.text
        block = pick(answer, last=wanted.last, language=wanted.language)
        done = result.done or Done(None)
        if block is None:
            if wanted.strict:
                check_finish(
                    done, self.console, answered=bool(answer)
                )  # a filtered answer says so first
                what = f"no {wanted.language} code block" if wanted.language else "no code block"
                raise UnusableAnswer(f"{what} in the answer (--strict)")
            text = answer
        else:
            text = block.code
            if not block.closed and done.finish_reason == "length":
                self.console.warn(
                    "the answer was cut off inside the code block: its content is partial"
                )
        if self.terminal:
            text = escape_controls(text)
        self.sink.put(text.encode())
        super().end(result)
