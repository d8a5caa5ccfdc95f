"""The command bodies: each takes a prepared `cli.job.Job` and drives the engine.

`run` is what every command of the typer app calls (`__main__` binds it): the one
place a run is prepared and its failure turned into an exit code (`cli.outcome`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from glm_cli.cli.outcome import reported
from glm_cli.output.terminal import Console, Env

if TYPE_CHECKING:
    from glm_cli.cli.job import Job


def run(name: str, given: dict[str, Any], obj: Any = None) -> None:
    """Run command `name` (`ask`, `config show`) with the options `given`."""
    env = obj if isinstance(obj, Env) else Env.from_process()
    if given.get("output_file") == "-":  # -o -: stdout, as in curl
        given = {**given, "output_file": None}
    if given.get("output_file") is not None:  # --output: the answer goes to a file
        env = dataclasses.replace(env, stdout_isatty=False)
    console = Console(env)
    job: Job | None = None

    def end_answer_line() -> None:
        """On a terminal an error line starts a line (SPEC §3)."""
        if job is not None and env.stdout_isatty and env.stderr_isatty:
            job.sink.end_line()

    with reported(console, debug=bool(given.get("debug")), before_line=end_answer_line):
        if name.startswith("config "):
            from glm_cli.commands import config_cmd

            config_cmd.run(name.removeprefix("config "), given, env, console)
            return
        if name.startswith("templates "):
            from glm_cli.commands import templates_cmd

            templates_cmd.run(name.removeprefix("templates "), given, env)
            return
        if name == "logs":
            from glm_cli.commands import logs

            logs.run(given, env, console)
            return
        from glm_cli.cli import job as jobs  # not imported for --help

        job = jobs.Job.prepare(given, env, console)
        with job.delivering():
            _body(name)(job)


def _body(name: str) -> Callable[[Job], None]:
    if name == "json":
        from glm_cli.commands import json_cmd

        return json_cmd.run
    if name == "raw":
        from glm_cli.commands import raw

        return raw.run
    if name == "batch":
        from glm_cli.commands import batch

        return batch.run
    if name == "chat":
        from glm_cli.commands import chat

        return chat.run
    from glm_cli.commands import ask

    return ask.run
