"""A batch's lines in the log and the cache (SPEC §6, §7).

Each finished line is one log row, written by a shared `Recorder` in small groups
(never one transaction per line, nor one for the whole run), from whichever
worker finished it. With `--cache`, a line whose request was answered before is
not sent: its record is made from the cached answer; a line that succeeds is
cached, so a rerun of a finished batch sends nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from glm_cli.cli.job import Job
from glm_cli.commands.recording import UNCACHED_FINISH, Recording, Replay, entry_for
from glm_cli.core.accumulate import Result
from glm_cli.core.errors import GlmError
from glm_cli.core.messages import Content, Event, Reasoning, WebSearch
from glm_cli.settings.config import store_path

if TYPE_CHECKING:
    from glm_cli.history.log import Recorder


class BatchHistory:
    def __init__(self, job: Job) -> None:
        self.job = job
        self.recording = Recording(job, "batch")
        """The run's log and cache settings (`--no-log`, `--cache`, `--cache-ttl`...)."""
        self._recorder: Recorder | None = None
        if self.recording.log:
            from glm_cli.history.log import Recorder

            self._recorder = Recorder(store_path(job.env.environ), job.console.warn)

    def hit(self, body: dict[str, Any]) -> Result | None:
        """The cached answer to `body` (logged as a hit), or None: then it is sent."""
        hit = self.recording.replay_events(body)
        if hit is None:
            return None
        result = Replay(hit).result
        self._log(body, result, None, 0.0, cached=True)
        return result

    def finished(
        self, body: dict[str, Any], result: Result | None, error: GlmError | None, elapsed: float
    ) -> None:
        """One line ended: its row, and (a complete answer) its cache entry."""
        answer = result if result is not None else Result()
        self._log(body, answer, error, elapsed)
        done = answer.done
        if (
            error is None
            and done is not None
            and done.finish_reason is not None
            and done.finish_reason not in UNCACHED_FINISH
        ):
            self.recording.keep(body, events_of(answer))

    def _log(
        self,
        body: dict[str, Any],
        result: Result,
        error: GlmError | None,
        elapsed: float,
        *,
        cached: bool = False,
    ) -> None:
        if self._recorder is None:
            return
        entry = entry_for(
            self.job,
            "batch",
            body,
            result,
            self.recording.redact,
            duration=elapsed,
            error=error,
            cached=cached,
        )
        entry.exit_status = int(error.exit_code) if error is not None else 0
        self._recorder.add(entry)

    def close(self) -> None:
        if self._recorder is not None:
            self._recorder.close()
        self.recording.finish()


def events_of(result: Result) -> list[Event]:
    """An answer as the events a whole (non-streamed) body decodes to."""
    events: list[Event] = []
    if result.web_search:
        events.append(WebSearch(list(result.web_search)))
    reasoning = result.reasoning.value()
    if reasoning:
        events.append(Reasoning(reasoning))
    if result.text:
        events.append(Content(result.text))
    events += result.tool_calls
    if result.done is not None:
        events.append(result.done)
    return events
