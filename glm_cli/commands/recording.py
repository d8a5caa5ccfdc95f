"""How a command's exchanges are logged and cached (SPEC §7): the one glue between
the commands and `history.log` / `history.cache`.

    with Recording(job, "ask") as recording:
        hit = recording.replay(body)             # a cache hit, or None
        ... send, watching the batches: recording.watch(batches) ...
        recording.done(body, result, events, started, ...)

Exchanges wait in the recording until the command ends; then each is written as
one log row with the command's exit status, and — only when that status is 0 —
the cacheable ones are stored in the cache. sqlite3 is imported only when the log
or the cache is used: `--no-log` without `--cache` never loads it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import orjson

from glm_cli.cli.job import Job
from glm_cli.core import times
from glm_cli.core.accumulate import Result, accumulate
from glm_cli.core.errors import GlmError
from glm_cli.core.messages import Event, Message, Payload, Restart
from glm_cli.core.redact import Redactor
from glm_cli.core.tool_calls import tool_call_json
from glm_cli.engine.tool_loop import assistant_message
from glm_cli.output.render import Answer
from glm_cli.settings.config import store_path

if TYPE_CHECKING:
    from glm_cli.history.cache import Cache
    from glm_cli.history.log import Entry

UNCACHED_FINISH = frozenset({"length"})
"""Finish reasons of answers cut short: complete exchanges, but not complete answers."""


def _on(value: str | None) -> bool | None:
    if value is None or value == "":
        return None
    return value.strip().lower() not in ("0", "false", "no", "off")


def log_wanted(job: Job) -> bool:
    """`--no-log` > `GLM_NO_LOG` > `log = false` > on."""
    if job.flags.cli("no_log"):
        return False
    no_log = _on(job.env.environ.get("GLM_NO_LOG"))
    if no_log is not None:
        return not no_log
    config = job.flags.config
    return not (config is not None and config.log is False)


def cache_wanted(job: Job) -> bool:
    """`--cache/--no-cache` > `GLM_CACHE` > `cache = true` > off."""
    given = job.flags.cli("cache")
    if given is not None:
        return bool(given)
    env = _on(job.env.environ.get("GLM_CACHE"))
    if env is not None:
        return env
    config = job.flags.config
    return bool(config is not None and config.cache)


class Replay:
    """A cache hit as a turn: its events in one batch, then `result` and `added`."""

    def __init__(self, events: list[Event]) -> None:
        self.events = events
        result = Result()
        for event in events:
            result = accumulate(event, result)
        self.result = result
        functions = [call for call in result.tool_calls if call.kind == "function"]
        ids = [call.id or f"call_glm_1_{i + 1}" for i, call in enumerate(functions)]
        self.added: list[Message] = [assistant_message(result, functions, ids)]

    def __iter__(self) -> Iterator[list[Event]]:
        yield self.events


@dataclass
class Pending:
    entry: Entry
    key: str | None
    events: list[Event] = field(default_factory=list)


def _text_of(content: Any) -> str | None:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p.get("text") for p in content if isinstance(p, dict)]
        return "\n".join(p for p in parts if isinstance(p, str)) or None
    return None


def prompt_of(body: dict[str, Any]) -> str | None:
    """The last user message's text in a request body (either protocol)."""
    messages = body.get("messages")
    if isinstance(messages, list):
        for message in reversed(messages):
            if isinstance(message, dict) and message.get("role") == "user":
                return _text_of(message.get("content"))
    return None


def shown_text(answer: str) -> str:
    """The answer as the text renderer leaves it in a pipe: its last line ended."""
    return answer + "\n" if answer and not answer.endswith("\n") else answer


class Watched:
    """An answer whose events are also kept (for the cache), with the same `result`."""

    def __init__(self, answer: Answer, into: list[Event] | None) -> None:
        self.answer = answer
        self.into = into

    @property
    def result(self) -> Result:
        return self.answer.result

    def __iter__(self) -> Iterator[list[Event]]:
        into = self.into
        if into is None:
            yield from self.answer
            return
        for batch in self.answer:
            for event in batch:
                if type(event) is Restart:
                    into.clear()
                else:
                    into.append(event)
            yield batch
            del batch  # not kept while the next one is read


class Recording:
    """The exchanges of one command (or one chat turn), logged and cached at its end."""

    def __init__(self, job: Job, command: str, *, session: str | None = None) -> None:
        self.job = job
        self.command = command
        self.session = session
        self.log = log_wanted(job)
        self.cache_on = cache_wanted(job)
        self.refresh = bool(job.flags.cli("refresh"))
        ttl = job.flags.cli("cache_ttl")
        self.ttl = times.duration("--cache-ttl", ttl) if ttl is not None else None
        self.key_text = (job.settings.api_key.value or "").strip(" \t\r\n") or None
        self.redact = Redactor(self.key_text)
        self.pending: list[Pending] = []
        self.shown: str | None = None
        """Set by a command whose stdout is not the answer's text (`glm json`)."""
        self._cache: Cache | None = None

    # --- the cache ---------------------------------------------------------------

    def key(self, body: dict[str, Any], *, wire: bool = False) -> str | None:
        if not self.cache_on:
            return None
        from glm_cli.history.cache import cache_key

        endpoint = self.job.settings.endpoint
        return cache_key(endpoint.protocol, endpoint.url, body, wire=wire)

    def cache(self) -> Cache:
        if self._cache is None:
            from glm_cli.history.cache import Cache

            self._cache = Cache(store_path(self.job.env.environ))
        return self._cache

    def replay_events(self, body: dict[str, Any], *, wire: bool = False) -> list[Event] | None:
        """The cached events answering `body`, or None (then send it)."""
        key = self.key(body, wire=wire)
        if key is None or self.refresh:
            return None
        try:
            return self.cache().lookup(key, self.ttl)
        except GlmError as error:
            self.job.console.warn(f"the cache was not read: {error.message}")
            self.cache_on = False
            return None

    def keep(self, body: dict[str, Any], events: list[Event]) -> None:
        """Cache `events` as the answer to `body` now (a batch line that succeeded),
        unless they hold the key."""
        key = self.key(body)
        if key is None or self._carries_key(events):
            return
        try:
            self.cache().store(key, events)
        except GlmError as error:
            self.job.console.warn(f"the answer was not cached: {error.message}")
            self.cache_on = False

    def replay(self, body: dict[str, Any], *, wire: bool = False) -> Replay | None:
        """The cached answer to `body`, logged as a hit, or None (then send it)."""
        events = self.replay_events(body, wire=wire)
        if events is None:
            return None
        self.job.console.note("(cached)")
        hit = Replay(events)
        self.done(body, hit.result, events, time.monotonic(), cached=True)
        return hit

    # --- what happened -------------------------------------------------------------

    def watch(self, answer: Answer, into: list[Event]) -> Watched:
        """`answer` passed on as it is; its events kept in `into` (a retry forgets)."""
        return Watched(answer, into if self.cache_on else None)

    def done(
        self,
        body: dict[str, Any],
        result: Result,
        events: list[Event],
        started: float,
        *,
        error: BaseException | None = None,
        cached: bool = False,
        cacheable: bool = True,
        wire: bool = False,
    ) -> None:
        """One exchange ended (its row is written when the command ends)."""
        if not self.log and not self.cache_on:
            return
        entry = entry_for(
            self.job,
            self.command,
            body,
            result,
            self.redact,
            duration=time.monotonic() - started,
            error=error,
            session=self.session,
            cached=cached,
        )
        done = result.done
        key = None
        if (
            self.cache_on
            and not cached
            and cacheable
            and error is None
            and done is not None
            and done.finish_reason is not None
            and done.finish_reason not in UNCACHED_FINISH
            and not self._carries_key(events)
        ):
            key = self.key(body, wire=wire)
        self.pending.append(Pending(entry, key, list(events) if key else []))

    def _carries_key(self, events: list[Event]) -> bool:
        """Whether the answer holds the key (then it cannot be kept, nor replayed)."""
        from glm_cli.history.cache import encode_events

        key = self.key_text
        if not key:
            return False
        if key.encode("utf-8", "surrogatepass") in encode_events(events):
            return True
        return any(
            self.redact.bytes(event.data) != event.data
            for event in events
            if type(event) is Payload
        )

    # --- the end -------------------------------------------------------------------

    def __enter__(self) -> Recording:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.finish(error)

    def finish(self, error: BaseException | None = None) -> None:
        """Write the rows (with the command's exit status) and, on success, the cache."""
        pending, self.pending = self.pending, []
        status = exit_status(error)
        try:
            if self.log and pending:
                self._log(pending, status, error)
            if status == 0:
                self._store([p for p in pending if p.key is not None])
        finally:
            if self._cache is not None:
                self._cache.close()
                self._cache = None

    def _log(self, pending: list[Pending], status: int, error: BaseException | None) -> None:
        from glm_cli.history.log import Recorder

        recorder = Recorder(store_path(self.job.env.environ), self.job.console.warn)
        for item in pending:
            entry = item.entry
            entry.exit_status = status if entry.exit_status == 0 else entry.exit_status
            if entry.error is None and isinstance(error, GlmError):
                entry.error = self.redact.text(error.line())
            if self.shown is not None and item is pending[-1]:
                entry.shown = self.redact.text(self.shown)
            elif entry.answer is not None and self.command in ("ask", "chat"):
                entry.shown = shown_text(entry.answer)
            recorder.add(entry)
        recorder.close()

    def _store(self, cacheable: list[Pending]) -> None:
        for item in cacheable:
            assert item.key is not None
            try:
                self.cache().store(item.key, item.events)
            except GlmError as error:
                self.job.console.warn(f"the answer was not cached: {error.message}")
                return


def entry_for(
    job: Job,
    command: str,
    body: dict[str, Any],
    result: Result,
    redact: Redactor,
    *,
    duration: float,
    error: BaseException | None = None,
    session: str | None = None,
    cached: bool = False,
) -> Entry:
    """The log row of one exchange: every field of SPEC §7.1, the key masked in all.
    Tool calls keep every digit (their arguments spliced in as the model wrote them)."""
    from glm_cli.history.log import Entry

    r = redact.text
    done = result.done
    endpoint = job.settings.endpoint
    usage = done.usage.as_dict() if done is not None else {}
    calls = b"[" + b",".join(tool_call_json(call)[0] for call in result.tool_calls) + b"]"
    request_id = (done.request_id if done else None) or getattr(error, "request_id", None)
    if request_id is None and isinstance(body.get("request_id"), str):
        request_id = body["request_id"]
    return Entry(
        command=command,
        time=times.now(),
        provider=endpoint.provider.name,
        host=urlsplit(endpoint.url).hostname,
        model=str(body.get("model")) if body.get("model") is not None else None,
        answered_model=done.model if done else None,
        body=r(orjson.dumps(body).decode()),
        prompt=_redacted(r, prompt_of(body)),
        answer=r(result.text),
        reasoning=_redacted(r, result.reasoning.value() or None),
        tool_calls=r(calls.decode()) if result.tool_calls else None,
        finish_reason=done.finish_reason if done else None,
        usage=usage,
        duration_s=round(duration, 3),
        error=_redacted(r, error.line() if isinstance(error, GlmError) else None),
        request_id=_redacted(r, request_id),
        session=session,
        cached=cached,
    )


def _redacted(redact: Any, value: str | None) -> str | None:
    return None if value is None else str(redact(value))


def exit_status(error: BaseException | None) -> int:
    """The exit status a command ending with `error` has (SPEC §3.1)."""
    if error is None:
        return 0
    code = getattr(error, "exit_code", None)
    if code is not None:
        return int(code)
    signum = getattr(error, "signum", None)
    if isinstance(signum, int):
        return 128 + signum
    if isinstance(error, KeyboardInterrupt):
        return 130
    if isinstance(error, SystemExit):
        return int(error.code) if isinstance(error.code, int) else 1
    return 1
