"""Running glm from tests: in-process through typer's CliRunner, or as a real process."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from typer.testing import CliRunner, Result

from glm_cli.__main__ import make_app
from glm_cli.output.terminal import Env

SECRET = "sk-test-secret-key-0123456789"


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
