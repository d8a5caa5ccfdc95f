"""How a run ends: the one place a failure becomes a stderr line and an exit code.

Every command body runs inside `reported(...)`: `glm_cli.core.errors` values carry
their codes; Ctrl-C is 130, SIGTERM 143, a closed stdout 141 in silence, and
anything unexpected is one `internal error` line and 1 (a traceback with --debug).
"""

from __future__ import annotations

import os
import signal
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

from glm_cli.core.errors import GlmError, StdoutClosed
from glm_cli.core.exit_codes import ExitCode
from glm_cli.output.terminal import Console


class Terminated(BaseException):
    """SIGTERM, raised in the main thread so `finally` blocks close the connection."""


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise Terminated()


@contextmanager
def _sigterm_raises() -> Iterator[None]:
    try:
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def quiet_stdout(console: Console) -> None:
    """After a closed pipe, point stdout at /dev/null so the exit flush cannot complain."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, console.env.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        return


@contextmanager
def reported(
    console: Console,
    *,
    debug: bool = False,
    on_failure: Callable[[GlmError], None] | None = None,
) -> Iterator[None]:
    """Run the body; turn its failure into one stderr line and `SystemExit(code)`.

    `on_failure` sees a GlmError first (NDJSON output ends with an error line).
    """
    code: int = ExitCode.OK
    with _sigterm_raises():
        try:
            yield
        except StdoutClosed:
            quiet_stdout(console)
            code = ExitCode.SIGPIPE
        except GlmError as error:
            if on_failure is not None:
                try:
                    on_failure(error)
                except StdoutClosed:
                    quiet_stdout(console)
            if debug:
                traceback.print_exc()
            console.error(error.line())
            code = error.exit_code
        except KeyboardInterrupt:
            console.end_partial_line()
            code = ExitCode.INTERRUPTED
        except Terminated:
            code = ExitCode.TERMINATED
        except Exception as error:
            if debug:
                traceback.print_exc()
            console.error(
                f"internal error: {type(error).__name__}: {error} (run with --debug for details)"
            )
            code = ExitCode.INTERNAL
    if code:
        raise SystemExit(code)
