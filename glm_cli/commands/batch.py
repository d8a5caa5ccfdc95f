"""`glm batch [INPUT]`: many prompts from JSONL, concurrently, in order, resumable (SPEC §6).

The input is read a line at a time (`core.batch_lines`), each line becomes a request
(`commands.batch_request`) or an error record, and `engine.batch_run.Runner` sends
them over one client; records go to stdout or are appended to `--output FILE`
(`history.batch_file`), which a rerun resumes. Exit 0, 7 (some lines failed), 3/4
(stopped by the key, the balance or a cap), 2 (usage, or a bad line under --strict).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import orjson

from glm_cli.cli.job import Job
from glm_cli.commands.batch_history import BatchHistory
from glm_cli.commands.batch_request import Requests, check_json
from glm_cli.core import batch_records, validate
from glm_cli.core.accumulate import Result
from glm_cli.core.batch_lines import BadLine, Line, SeenIds, id_key, parse_line
from glm_cli.core.errors import GlmError, UnusableAnswer, UsageError
from glm_cli.core.exit_codes import ExitCode
from glm_cli.core.finish import check_finish
from glm_cli.core.records import record
from glm_cli.engine.batch_run import Fields, Ready, Send

MAX_JOBS = 256


class BatchPartial(GlmError):
    exit_code = ExitCode.BATCH_PARTIAL


@record
class Options:
    jobs: int
    rpm: float | None
    shard: tuple[int, int] | None
    shape: str
    ordered: bool
    strict: bool
    retry_failed: bool
    output: Path | None
    source: str | None


def options(job: Job) -> Options:
    flags = job.flags
    jobs, source = flags.lookup("jobs")
    rpm, rpm_source = flags.lookup("rpm")
    shape, shape_source = flags.lookup("format")
    output = flags.cli("output")
    retry_failed = bool(flags.cli("retry_failed"))
    if retry_failed and output is None:
        raise UsageError("--retry-failed needs --output FILE (the records to redo are there)")
    given = flags.cli("input")
    return Options(
        jobs=validate.integer(source, jobs, 1, MAX_JOBS) if jobs is not None else 4,
        rpm=validate.integer(rpm_source, rpm, 1) if rpm is not None else None,
        shard=_shard(flags.cli("shard")),
        shape=validate.choice(shape_source, shape, batch_records.FORMATS) if shape else "record",
        ordered=not flags.switch("unordered"),
        strict=flags.switch("strict"),
        retry_failed=retry_failed,
        output=Path(output) if output is not None else None,
        source=None if given in (None, "-") else given,
    )


def _shard(value: str | None) -> tuple[int, int] | None:
    if value is None:
        return None
    k, _, n = value.partition("/")
    if not (k.isdigit() and n.isdigit()) or not 1 <= int(k) <= int(n):
        raise UsageError(f"--shard {value!r}: must be K/N with 1 <= K <= N, e.g. 2/8")
    return int(k), int(n)


def _open_input(job: Job, opts: Options) -> IO[bytes]:
    if opts.source is None:
        if job.env.stdin is None:
            raise UsageError("no input: give INPUT or pipe JSONL into stdin")
        return job.env.stdin
    try:
        return open(opts.source, "rb")  # closed by run()
    except OSError as error:
        raise UsageError(f"INPUT {opts.source!r}: {error.strerror or error}") from error


def run(job: Job) -> None:
    opts = options(job)
    requests = Requests(job)
    stream = _open_input(job, opts)
    try:
        _run(job, opts, requests, stream)
    finally:
        if stream is not job.env.stdin:
            stream.close()


def _run(job: Job, opts: Options, requests: Requests, stream: IO[bytes]) -> None:
    results = None
    skip: set[bytes] = set()
    if opts.output is not None and not job.output.dry_run:
        from glm_cli.history.batch_file import ResultsFile

        results = ResultsFile.open(opts.output, opts.retry_failed)
        skip = results.done
        if results.torn:
            job.console.warn(f"{opts.output}: a torn last line was cut off; it is redone")
    history = None if job.output.dry_run else BatchHistory(job)
    try:
        items: Iterable[Send | Ready] = _items(job, opts, requests, stream, skip, history)
        if opts.strict:
            items = _strict(list(items))
        if job.output.dry_run:
            _dry_run(job, items)
            return
        write = results.write if results is not None else job.sink.write
        _send(job, opts, items, write, len(skip))
    finally:
        if history is not None:
            history.close()
        if results is not None:
            results.close()


def _items(
    job: Job,
    opts: Options,
    requests: Requests,
    stream: IO[bytes],
    skip: set[bytes],
    history: BatchHistory | None,
) -> Iterator[Send | Ready]:
    seen = SeenIds()
    reasoning = job.output.show_thinking
    for index, raw in enumerate(stream):
        line = parse_line(raw, index)
        if line is None:
            continue
        if not seen.add(line.id, index) and isinstance(line, Line):
            line = BadLine(index, line.id, f"line {index + 1}: id {line.id!r} is repeated")
        if opts.shard is not None and index % opts.shard[1] != opts.shard[0] - 1:
            continue
        if skip and id_key(line.id) in skip:
            continue
        if isinstance(line, BadLine):
            yield _bad(line.id, index, line.message, reasoning)
            continue
        try:
            body, schema, json_mode = requests.body(line)
        except UsageError as error:
            yield _bad(line.id, index, error.message, reasoning)
            continue
        finish = _finisher(job, line, schema, json_mode, reasoning, body, history)
        cached = history.hit(body) if history is not None else None
        if cached is not None:  # answered before: nothing is sent for this line
            yield Ready(finish(cached, None, 0, 0.0))
            continue
        yield Send(body, finish)


def _bad(line_id: Any, index: int, message: str, reasoning: bool) -> Ready:
    error = batch_records.bad_line_error(message)
    return Ready(
        batch_records.record(
            line_id, index, None, reasoning=reasoning, elapsed=0.0, attempts=0, error=error
        )
    )


class _Quiet:
    """The log a line's finish-reason check speaks through: a batch says nothing per line."""

    def note(self, message: str) -> None:
        return

    def warn(self, message: str) -> None:
        return

    def line(self, text: str) -> None:
        return


def _finisher(
    job: Job,
    line: Line,
    schema: Any,
    json_mode: bool,
    reasoning: bool,
    body: dict[str, Any],
    history: BatchHistory | None,
) -> Any:
    def finish(
        result: Result | None, error: GlmError | None, attempts: int, elapsed: float
    ) -> Fields:
        if error is None and result is not None and result.done is not None:
            try:
                check_finish(result.done, _Quiet())
                if json_mode and not result.tool_calls:
                    check_json(result.text, schema)
            except (UnusableAnswer, GlmError) as failure:
                error = failure
        if history is not None and attempts:  # a cache hit (no attempt) is logged as one
            history.finished(body, result, error, elapsed)
        return batch_records.record(
            line.id,
            line.index,
            result,
            reasoning=reasoning,
            elapsed=elapsed,
            attempts=attempts,
            error=batch_records.error_object(error) if error is not None else None,
        )

    return finish


def _strict(items: list[Send | Ready]) -> list[Send | Ready]:
    bad = [item.fields["error"]["message"] for item in items if isinstance(item, Ready)]
    if bad:
        more = f" (and {len(bad) - 1} more bad lines)" if len(bad) > 1 else ""
        raise UsageError(f"{bad[0]}{more}; --strict: nothing was sent")
    return items


def _dry_run(job: Job, items: Iterable[Send | Ready]) -> None:
    url = job.settings.endpoint.url
    failed = 0
    for index, item in enumerate(items):
        if isinstance(item, Ready):
            failed += 1
            job.sink.write(orjson.dumps(item.fields) + b"\n")
        else:
            document = {"line": index, "method": "POST", "url": url, "body": item.body}
            job.sink.write(orjson.dumps(document) + b"\n")
    if failed:
        raise BatchPartial(f"{failed} bad lines (each has an error record); nothing was sent")


def _send(job: Job, opts: Options, items: Iterable[Send | Ready], write: Any, skipped: int) -> None:
    from glm_cli.commands.batch_progress import progress
    from glm_cli.engine.batch_gate import Gate
    from glm_cli.engine.batch_run import Runner

    started = time.monotonic()
    gate = Gate(opts.jobs, opts.rpm)
    with (
        job.client(connections=opts.jobs) as client,
        progress(job, opts.source, opts.shard) as shown,
    ):
        runner = Runner(
            client,
            gate,
            opts.jobs,
            write=write,
            encode=lambda fields: batch_records.encode(fields, opts.shape),
            max_time=job.net.max_time,
            ordered=opts.ordered,
            on_record=shown,
            tokens=batch_records.tokens,
        )
        outcome = runner.run(items)
    if not job.console.quiet:
        job.console.line(
            "glm: batch: "
            + summary(outcome.done, outcome.failed, time.monotonic() - started, outcome.tokens)
            + (f", {skipped} already recorded" if skipped else "")
        )
    if outcome.stop is not None:
        stop = outcome.stop
        stop.message = (
            f"batch stopped, the lines not sent have no record (a rerun resumes them): "
            f"{stop.message}"
        )
        raise stop
    if outcome.failed:
        raise BatchPartial(
            f"{outcome.failed} of {outcome.done + outcome.failed} lines failed "
            "(each has an error record)"
        )


def summary(done: int, failed: int, seconds: float, tokens: int) -> str:
    """`1000 done, 3 failed, 4m12s, 812k tokens`."""
    minutes, secs = divmod(int(seconds + 0.5), 60)
    took = f"{minutes}m{secs:02d}s" if minutes else f"{seconds:.1f}s"
    amount = f"{tokens / 1000:.0f}k" if tokens >= 10_000 else str(tokens)
    return f"{done} done, {failed} failed, {took}, {amount} tokens"
