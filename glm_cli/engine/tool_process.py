"""Running one `--tool-cmd` process: contained in its own process group (SPEC §3.2).

The command gets the call's arguments on stdin; its stdout is the result. It is done
when its own process exits, whatever its descendants still hold open (a background
child keeping the pipe does not make a finished tool "time out"). Then, or when
`--tool-timeout` passes, or when glm itself is interrupted, the whole group is
killed, and only what is already in the pipes is read: glm never waits on a pipe
held by a descendant.
"""

from __future__ import annotations

import contextlib
import os
import signal
from typing import IO, Any

DRAIN_READS = 32
"""Reads of what is left in a pipe after the end: more than a full pipe buffer holds,
and a bound against a runaway descendant that still writes."""


def execute(
    argv: list[str], stdin: bytes, timeout: float, stderr: IO[bytes]
) -> tuple[str, str | None]:
    """Run `argv` (no shell) in its own process group: (its stdout, what went wrong).

    Its stderr goes to `stderr` (directly when that is a real file, else through a pipe).
    """
    import subprocess

    target = _fileno(stderr)
    try:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=target if target is not None else subprocess.PIPE,
            start_new_session=True,
        )
    except OSError as error:
        return "", f"cannot start {argv[0]!r} ({error.strerror or error})"
    try:
        exited, out, err = _collect(process, stdin, timeout)
    finally:  # also on Ctrl-C, SIGTERM, SIGHUP and --max-time
        _kill(process)
        process.wait()
        for pipe in (process.stdin, process.stdout, process.stderr):
            if pipe is not None:
                pipe.close()
    if err:
        _relay(stderr, err)
    text = out.decode("utf-8", "replace")
    if not exited:
        return text, f"timed out after {timeout:g} s (--tool-timeout)"
    code = process.returncode
    if code:
        return text, (f"killed by signal {-code}" if code < 0 else f"exited with status {code}")
    return text, None


def _collect(process: Any, stdin: bytes, timeout: float) -> tuple[bool, bytes, bytes]:
    """Feed stdin and read stdout (and a piped stderr) until the process itself exits or
    `timeout` passes; kill the group; take what is left in the pipes without waiting.
    Returns (whether it exited in time, its stdout, its piped stderr)."""
    import selectors
    import threading
    import time

    ended, ended_signal = os.pipe()
    threading.Thread(target=_wait_exit, args=(process, ended_signal), daemon=True).start()
    pipes = [pipe.fileno() for pipe in (process.stdout, process.stderr) if pipe is not None]
    chunks: dict[int, list[bytes]] = {fd: [] for fd in pipes}
    selector = selectors.DefaultSelector()
    exited = False
    try:
        selector.register(ended, selectors.EVENT_READ)
        for fd in pipes:
            os.set_blocking(fd, False)
            selector.register(fd, selectors.EVENT_READ)
        os.set_blocking(process.stdin.fileno(), False)
        selector.register(process.stdin.fileno(), selectors.EVENT_WRITE)
        pending = memoryview(stdin)
        deadline = time.monotonic() + timeout
        while not exited and (remaining := deadline - time.monotonic()) > 0:
            for key, _ in selector.select(remaining):
                if key.fd == ended:
                    exited = True
                elif key.fd in chunks:
                    if _take(key.fd, chunks[key.fd]) is False:
                        selector.unregister(key.fd)
                else:
                    pending = _feed(selector, process.stdin, pending)
        _kill(process)  # the leader is not reaped yet: its group id is still its own
        for fd in pipes:
            for _ in range(DRAIN_READS):
                if not _take(fd, chunks[fd]):
                    break
    finally:
        selector.close()
        os.close(ended)
    out = b"".join(chunks[pipes[0]])
    err = b"".join(chunks[pipes[1]]) if len(pipes) > 1 else b""
    return exited, out, err


def _wait_exit(process: Any, ended_signal: int) -> None:
    """Wait for the process to exit, without reaping it where `waitid` can, then close
    `ended_signal` (its reading end sees the end)."""
    try:
        if hasattr(os, "waitid"):
            os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOWAIT)
        else:
            process.wait()
    except OSError:  # reaped already: glm is ending it
        pass
    finally:
        os.close(ended_signal)


def _feed(selector: Any, pipe: IO[bytes], pending: memoryview) -> memoryview:
    """Write what the pipe takes now; close it when all is written or the reader left."""
    try:
        pending = pending[os.write(pipe.fileno(), pending) :]
    except BlockingIOError:
        return pending
    except OSError:  # the command does not read its stdin
        pending = pending[len(pending) :]
    if not pending:
        selector.unregister(pipe.fileno())
        pipe.close()
    return pending


def _take(fd: int, chunks: list[bytes]) -> bool | None:
    """Read what `fd` has now: True for some bytes, False at its end, None for none yet."""
    try:
        chunk = os.read(fd, 65536)
    except BlockingIOError:
        return None
    except OSError:
        return False
    if not chunk:
        return False
    chunks.append(chunk)
    return True


def _kill(process: Any) -> None:
    """SIGKILL the command's whole process group (its session of its own)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except OSError:
        with contextlib.suppress(OSError):
            process.kill()


def _fileno(stream: IO[bytes]) -> int | None:
    try:
        return stream.fileno()
    except (AttributeError, OSError, ValueError):
        return None


def _relay(stream: IO[bytes], data: bytes) -> None:
    try:
        stream.write(data)
        stream.flush()
    except (OSError, ValueError):
        return
