"""How a run ends: the one place a failure becomes a stderr line and an exit code.

Every command body runs inside `reported(...)`: `glm_cli.core.errors` values carry their
codes (stdout that cannot be written is 1, naming why), and anything unexpected is
one `internal error` line and 1 (a traceback with --debug). Ctrl-C, SIGTERM, SIGHUP
and a closed stdout end in `DiedBySignal`: in process (the tests) a `SystemExit` of
128 + the signal; around the real process (`process_end`, in `main()`) death by that
very signal, after every `finally` block ran, so a shell loop around glm stops.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any, NoReturn

from glm_cli.core.errors import GlmError, OutputError, StdoutClosed, stdout_failure
from glm_cli.core.exit_codes import ExitCode
from glm_cli.output.terminal import Console

RAISING_SIGNALS = (signal.SIGTERM, signal.SIGHUP)
"""Raise `Signalled` in the main thread (SIGINT raises KeyboardInterrupt already)."""


class Signalled(BaseException):
    """SIGTERM or SIGHUP, raised in the main thread so `finally` blocks close the connection
    and end a running tool's process group."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class DiedBySignal(SystemExit):
    """The run ends as if killed by `signum`: status 128 + signum in process; in `main()`
    the process then kills itself with the signal."""

    def __init__(self, signum: int) -> None:
        super().__init__(128 + signum)
        self.signum = signum


def _raise_signalled(signum: int, frame: FrameType | None) -> None:
    raise Signalled(signum)


@contextmanager
def _signals_raise() -> Iterator[None]:
    """SIGTERM and SIGHUP raise while the body runs; a signal ignored by whoever started
    glm (`nohup`) stays ignored."""
    previous: dict[int, Any] = {}
    """Each signal's handler before, as `signal.signal` returned it."""
    try:
        for signum in RAISING_SIGNALS:
            if signal.getsignal(signum) is not signal.SIG_IGN:
                previous[signum] = signal.signal(signum, _raise_signalled)
    except ValueError:  # not the main thread
        pass
    try:
        yield
    finally:
        for restored, handler in previous.items():
            signal.signal(restored, handler)


def quiet_stdout(fd: int | None = 1) -> None:
    """Point descriptor `fd` (stdout) at /dev/null: what is still buffered for it (the
    interpreter flushes at exit) can no longer fail and print "Exception ignored"."""
    if fd is None:
        return
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fd)
        os.close(devnull)
    except OSError:
        return


def _stdout_fd(console: Console) -> int | None:
    try:
        return console.env.stdout.fileno()
    except (OSError, ValueError, AttributeError):
        return None


@contextmanager
def reported(
    console: Console,
    *,
    debug: bool = False,
    on_failure: Callable[[GlmError], None] | None = None,
    before_line: Callable[[], None] | None = None,
) -> Iterator[None]:
    """Run the body; turn its failure into one stderr line and `SystemExit(code)`, or a
    signal (and a closed stdout) into `DiedBySignal`.

    `before_line` runs before an error line while stdout still works (it ends an
    unfinished answer line on a terminal); `on_failure` then sees a GlmError (NDJSON
    output ends with an error line).
    """
    code: int = ExitCode.OK
    died: int | None = None
    with _signals_raise():
        try:
            yield
        except StdoutClosed:
            quiet_stdout(_stdout_fd(console))
            died = signal.SIGPIPE
        except OutputError as error:  # nothing more can go to stdout: not even an error line
            quiet_stdout(_stdout_fd(console))
            console.error(error.line())
            code = error.exit_code
        except GlmError as error:
            if before_line is not None:
                before_line()
            if on_failure is not None:
                try:
                    on_failure(error)
                except GlmError:  # stdout failed too: the first failure is the one told
                    quiet_stdout(_stdout_fd(console))
            if debug:
                traceback.print_exc()
            console.error(error.line())
            code = error.exit_code
        except KeyboardInterrupt:
            console.end_partial_line()
            died = signal.SIGINT
        except Signalled as ended:
            died = ended.signum
        except Exception as error:
            if before_line is not None:
                before_line()
            if debug:
                traceback.print_exc()
            console.error(
                f"internal error: {type(error).__name__}: {error} (run with --debug for details)"
            )
            code = ExitCode.INTERNAL
    if died is not None:
        raise DiedBySignal(died)
    if code:
        raise SystemExit(code)


# --- the whole process ------------------------------------------------------------------


def hold_standard_descriptors() -> frozenset[int]:
    """Open /dev/null on each of descriptors 0, 1 and 2 that is closed, at once, so no
    socket or database can take that number (SPEC §3.2). Returns the ones that were."""
    closed: set[int] = set()
    try:
        while (fd := os.open(os.devnull, os.O_RDWR)) <= 2:
            os.set_inheritable(fd, True)
            closed.add(fd)
        os.close(fd)
    except OSError:
        pass
    if 2 in closed and sys.stderr is None:  # messages then go nowhere, without failing
        sys.stderr = open(  # noqa: SIM115 - it lives as long as the process
            2, "w", encoding="utf-8", errors="replace", closefd=False
        )
    return frozenset(closed)


def flush_stdout(text: str = "") -> None:
    """Write `text` to `sys.stdout` and flush it (the version, the help) while a failure
    can still be reported."""
    stream = sys.stdout
    if stream is None:
        return
    try:
        stream.write(text)
        stream.flush()
    except (OSError, ValueError) as error:
        raise stdout_failure(error) from error


@contextmanager
def process_end() -> Iterator[None]:
    """Around `main()`: stdout is flushed before leaving, a failure outside a command is
    one line, and a run ended by a signal or a closed stdout dies by that signal."""
    died: int | None = None
    try:
        try:
            yield
        except DiedBySignal:
            raise
        except SystemExit:
            flush_stdout()
            raise
        flush_stdout()
    except DiedBySignal as ended:
        died = ended.signum
    except KeyboardInterrupt:
        died = signal.SIGINT
    except Signalled as ended:
        died = ended.signum
    except StdoutClosed:
        died = signal.SIGPIPE
    except GlmError as error:
        quiet_stdout()
        with contextlib.suppress(OSError, ValueError, AttributeError):
            sys.stderr.write(f"glm: error: {error.line()}\n")
            sys.stderr.flush()
        raise SystemExit(error.exit_code) from None
    if died is not None:
        die_by(died)


def die_by(signum: int) -> NoReturn:
    """End this process by `signum` itself, so its parent (a shell loop) sees it was
    interrupted: flush, default handler, unblock, raise the signal again."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            if stream is not None:
                stream.flush()
    quiet_stdout()
    signal.signal(signum, signal.SIG_DFL)
    with contextlib.suppress(OSError, ValueError):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signum})
    os.kill(os.getpid(), signum)
    os._exit(128 + signum)  # only if the signal could not end the process
