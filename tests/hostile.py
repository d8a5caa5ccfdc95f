"""Running glm against the hostile fake server, with stdout and stderr terminals or not."""

from __future__ import annotations

import io
import os

from glm_cli.output.terminal import Env
from tests.helpers import SECRET, Run, invoke


def run(
    args: list[str],
    *,
    stdout_tty: bool = False,
    stderr_tty: bool = False,
    environ: dict[str, str] | None = None,
) -> Run:
    """glm in process with its own buffers, stdout and stderr terminals or not; the key
    never appears in what it writes."""
    out, err = io.BytesIO(), io.BytesIO()
    env = Env(
        stdin=io.BytesIO(b""),
        stdout=out,
        stderr=err,
        stdin_isatty=False,
        stdout_isatty=stdout_tty,
        stderr_isatty=stderr_tty,
        environ={**os.environ, "NO_COLOR": "1", **(environ or {})},
    )
    result = invoke(args, obj=env)
    done = Run(result.exit_code, out.getvalue(), err.getvalue().decode())
    assert SECRET.encode() not in done.out, done.out
    assert SECRET not in done.stderr, done.stderr
    return done
