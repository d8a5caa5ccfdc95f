"""Running glm from tests: in-process through typer's CliRunner, or as a real process."""

from __future__ import annotations

import contextlib
import io
import os
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from typer.testing import CliRunner, Result

from glm_cli.__main__ import make_app
from glm_cli.output.terminal import Env
from tests.fake_service import FakeService

SECRET = "sk-test-secret-key-0123456789"
WAIT = 10.0  # seconds a real-process test waits for any one thing


def invoke(args: Sequence[str], input: bytes | str | None = None, obj: Any = None) -> Result:
    """Run glm in this process (fast); stdin is never a terminal here.

    The environment is the test's own (see the `glm_env` fixture). Pass an
    `glm_cli.output.terminal.Env` as `obj` to pretend stdout or stderr is a terminal.
    """
    return CliRunner().invoke(make_app(), list(args), input=input, obj=obj, catch_exceptions=False)


@dataclass
class Run:
    exit_code: int
    out: bytes
    stderr: str

    @property
    def stdout(self) -> str:
        return self.out.decode()


def run_in_process(
    args: Sequence[str],
    *,
    stdin: bytes = b"",
    stderr_tty: bool = False,
    environ: Mapping[str, str] | None = None,
    shared: bool = False,
) -> Run:
    """Run glm in process with its own stdout and stderr buffers (an `Env`).

    `shared` sends stdout and stderr into one buffer, in order; `stderr_tty`
    pretends stderr is a terminal.
    """
    out = io.BytesIO()
    err = out if shared else io.BytesIO()
    env = Env(
        stdin=io.BytesIO(stdin),
        stdout=out,
        stderr=err,
        stdin_isatty=False,
        stdout_isatty=False,
        stderr_isatty=stderr_tty,
        environ=dict(os.environ if environ is None else environ),
    )
    result = invoke(list(args), obj=env)
    stderr = err.getvalue().decode()
    if result.exit_code and not stderr:
        stderr = result.stderr  # a command-line parse error, written before glm starts
    return Run(result.exit_code, out.getvalue(), stderr)


def run_on_sys_streams(args: Sequence[str], *, stdin: bytes = b"") -> Run:
    """Run glm in process on `sys.stdout` and `sys.stderr` as CliRunner captures them, so
    that stderr also holds what goes there past glm's own streams: the traceback of
    `--debug` (and anything else this process, the fake service included, prints there)."""
    result = invoke(list(args), input=stdin)
    return Run(result.exit_code, result.stdout_bytes, result.stderr)


def ask(
    *args: str,
    protocol: str | None = None,
    prompt: str | None = "hi",
    hidden: Sequence[str] = (SECRET,),
    sys_streams: bool = False,
    **kwargs: Any,
) -> Run:
    """`glm ask [--protocol PROTOCOL] ARGS PROMPT` in process, by `run_in_process` (which
    takes the other keywords) or, with `sys_streams`, `run_on_sys_streams`. No string in
    `hidden` (the test key) may show on stdout or stderr. `prompt=None`: ARGS hold it."""
    argv = ["ask", *(["--protocol", protocol] if protocol is not None else []), *args]
    argv += [prompt] if prompt is not None else []
    run = run_on_sys_streams(argv, **kwargs) if sys_streams else run_in_process(argv, **kwargs)
    for secret in hidden:
        assert secret not in run.stdout, (secret, run.stdout)
        assert secret not in run.stderr, (secret, run.stderr)
    return run


def run_glm(
    args: Sequence[str],
    env: Mapping[str, str],
    input: bytes | None = None,
    timeout: float = 30,
    **kwargs: Any,
) -> subprocess.CompletedProcess[bytes]:
    """Run glm as a real process (`python -m glm_cli`), for pipes, signals and exit codes."""
    return subprocess.run(
        [sys.executable, "-m", "glm_cli", *args],
        input=input,
        env=dict(env),
        capture_output=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL if input is None else None,
        **kwargs,
    )


def glm_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "glm_cli", *args]


def error_lines(stderr: str | bytes) -> list[str]:
    text = stderr.decode() if isinstance(stderr, bytes) else stderr
    return [line for line in text.splitlines() if line.startswith("glm: error:")]


def assert_one_error(stderr: str | bytes, *fragments: str) -> str:
    """Exactly one `glm: error:` line, no traceback, containing every fragment."""
    text = stderr.decode() if isinstance(stderr, bytes) else stderr
    assert "Traceback" not in text, text
    lines = error_lines(text)
    assert len(lines) == 1, text
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def assert_usage_error(
    run: Run | Result, service: FakeService, *fragments: str, code: int = 2
) -> str:
    """A refused command line: exit `code`, exactly one `glm: error:` line containing
    every fragment (not an internal error, not showing the key), nothing on stdout,
    and no request reached the service. Returns the error line."""
    assert run.exit_code == code, (run.exit_code, run.stdout, run.stderr)
    line = assert_one_error(run.stderr, *fragments)
    assert "internal error" not in line
    assert SECRET not in run.stderr
    assert run.stdout == ""
    assert service.requests == []
    return line


def warnings(stderr: str) -> list[str]:
    """The `glm: warning:` lines of stderr."""
    return [line for line in stderr.splitlines() if line.startswith("glm: warning:")]


def request_body(service: FakeService, index: int = 0) -> dict[str, Any]:
    """The JSON body of the service's request number `index` (an object)."""
    body = service.requests[index].json
    assert isinstance(body, dict), body
    return body


def sent_body(service: FakeService, path: str | None = None) -> dict[str, Any]:
    """The JSON body of the one request the service got (at `path`, when given)."""
    assert len(service.requests) == 1, service.requests
    if path is not None:
        assert service.requests[0].path == path
    return request_body(service)


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- glm as a real process: pipes, deadlines and signals -------------------------------------


def start_glm(env: Mapping[str, str], *args: str) -> subprocess.Popen[bytes]:
    """`glm ARGS` as a real process: no stdin, stdout and stderr on pipes."""
    return subprocess.Popen(
        glm_command(*args),
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def finish(proc: subprocess.Popen[bytes]) -> tuple[int, bytes, bytes]:
    """The exit status and what is left on stdout and stderr; never hangs (killed after
    WAIT seconds)."""
    try:
        out, err = proc.communicate(timeout=WAIT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, out, err


def read_stderr_until(
    proc: subprocess.Popen[bytes], text: bytes, *, whole_line: bool = False
) -> bytes:
    """Read the process's stderr until `text` appears (and, with `whole_line`, what was
    read ends a line), within WAIT seconds; returns all that was read."""
    assert proc.stderr is not None
    seen = b""
    deadline = time.monotonic() + WAIT
    while text not in seen or (whole_line and not seen.endswith(b"\n")):
        ready, _, _ = select.select([proc.stderr], [], [], deadline - time.monotonic())
        assert ready, f"{text!r} never came: {seen!r}"
        chunk = os.read(proc.stderr.fileno(), 65536)
        assert chunk, f"stderr ended before {text!r}: {seen!r}"
        seen += chunk
    return seen


def kill_group(group: int) -> None:
    """SIGKILL to a whole process group, if it is still there (for cleanup)."""
    with contextlib.suppress(OSError):
        os.killpg(group, signal.SIGKILL)


def environ_without_glm() -> dict[str, str]:
    prefixes = ("GLM_", "EVOLINK", "CLOUDSWAY")
    return {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}


def stored_messages(path: Any) -> int:
    """How many chat messages the store at `path` keeps (0 when there is no store): the
    store also holds the log of exchanges, so its existence says nothing of sessions."""
    import sqlite3
    from pathlib import Path

    if not Path(path).exists():
        return 0
    db = sqlite3.connect(path)
    try:
        return int(db.execute("SELECT count(*) FROM messages").fetchone()[0])
    finally:
        db.close()
