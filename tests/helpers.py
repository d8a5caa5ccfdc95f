"""Running glm from tests: in-process through typer's CliRunner, or as a real process."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from typer.testing import CliRunner, Result

from glm_cli.cli import app

SECRET = "sk-test-secret-key-0123456789"


def invoke(
    args: Sequence[str], input: bytes | str | None = None, obj: Any = None
) -> Result:
    """Run glm in this process (fast); stdin is never a terminal here.

    The environment is the test's own (see the `glm_env` fixture). Pass an
    `glm_cli.terminal.Env` as `obj` to pretend stdout or stderr is a terminal.
    """
    return CliRunner().invoke(app, list(args), input=input, obj=obj, catch_exceptions=False)


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
