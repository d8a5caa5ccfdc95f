"""The batch's progress bar on a terminal's stderr (rich, imported only then).

Done/total (the total when the input is a file), failed, requests per minute,
tokens and the ETA. Anywhere else — a pipe, a file, `--quiet`, TERM=dumb — nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, TYPE_CHECKING, Any, cast

from glm_cli.core.batch_records import tokens

if TYPE_CHECKING:
    from glm_cli.cli.job import Job

Shown = Callable[[dict[str, Any]], None] | None


class _Text:
    """stderr's bytes as the text file rich writes to."""

    def __init__(self, out: IO[bytes]) -> None:
        self.out = out

    def write(self, text: str) -> int:
        self.out.write(text.encode("utf-8", "replace"))
        return len(text)

    def flush(self) -> None:
        self.out.flush()

    def isatty(self) -> bool:
        return True


def _total(path: str | None, shard: tuple[int, int] | None) -> int | None:
    if path is None:
        return None
    count = 0
    try:
        with open(path, "rb") as handle:
            while block := handle.read(1 << 20):
                count += block.count(b"\n")
    except OSError:
        return None
    if shard is not None:
        k, n = shard
        count = count // n + (1 if count % n >= k else 0)
    return count


@contextmanager
def progress(job: Job, source: str | None, shard: tuple[int, int] | None) -> Iterator[Shown]:
    env = job.env
    if not env.stderr_isatty or job.console.quiet or env.environ.get("TERM") == "dumb":
        yield None
        return
    from rich.console import Console as RichConsole
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    console = RichConsole(file=cast(IO[str], _Text(env.stderr)), no_color="NO_COLOR" in env.environ)
    bar = Progress(
        TextColumn("{task.completed}/{task.fields[total_text]} done"),
        BarColumn(),
        TextColumn("{task.fields[failed]} failed, {task.fields[rpm]} rpm, {task.fields[tokens]}"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )
    total = _total(source, shard)
    task = bar.add_task(
        "batch",
        total=total,
        total_text=str(total) if total is not None else "?",
        failed=0,
        rpm=0,
        tokens="0 tokens",
    )
    started = time.monotonic()
    counts = {"failed": 0, "tokens": 0, "done": 0}

    def shown(fields: dict[str, Any]) -> None:
        counts["done"] += 1
        counts["failed"] += fields["error"] is not None
        counts["tokens"] += tokens(fields)
        minutes = max(time.monotonic() - started, 1e-3) / 60
        bar.update(
            task,
            advance=1,
            failed=counts["failed"],
            rpm=int(counts["done"] / minutes),
            tokens=f"{counts['tokens']} tokens",
        )

    with bar:
        yield shown
