"""The command line: the typer app and its commands (failures end in `outcome`).

Imports here stay light (typer and glm's own pure modules): httpx and orjson are
loaded only when a command actually makes a request.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable
from typing import Any

import typer
from typer import _click as click
from typer._click.globals import get_current_context
from typer.core import TyperGroup
from typer.exceptions import Abort

from glm_cli import __version__
from glm_cli.argv import check_argv
from glm_cli.cli_options import (
    CHAT,
    CONNECTION,
    JSON_ONLY,
    MARKDOWN,
    NDJSON,
    OUTPUT,
    PROMPT,
    RAW_ONLY,
    REQUEST,
    TOOL_DEFINITIONS,
    TOOLS,
    with_options,
)
from glm_cli.commands.config_cmd import config_app
from glm_cli.errors import GlmError, OutputError, stdout_failure
from glm_cli.exit_codes import ExitCode
from glm_cli.outcome import (
    DiedBySignal,
    flush_stdout,
    hold_standard_descriptors,
    process_end,
    reported,
)
from glm_cli.terminal import Console, Env


class GlmGroup(TyperGroup):
    """Runs click without its standalone mode, so parse errors are one plain line too.

    click prints the help (and `--version` its line) itself, outside any command: a
    failed write there becomes glm's own stdout failure, and Ctrl-C `DiedBySignal`,
    instead of click's exit 1 and typer's exit 130."""

    def main(  # type: ignore[override]
        self, args: Any = None, prog_name: str | None = None, **extra: Any
    ) -> Any:
        extra.pop("standalone_mode", None)
        try:
            check_argv(sys.argv[1:] if args is None else args)
        except GlmError as error:
            sys.stderr.write(f"glm: error: {error.message}\n")
            sys.exit(error.exit_code)
        try:
            result = super().main(args, "glm", standalone_mode=False, **extra)
        except click.exceptions.NoArgsIsHelpError as error:
            _to_stderr(error.ctx.get_help() + "\n" if error.ctx else "")
            sys.exit(ExitCode.USAGE)
        except click.exceptions.UsageError as error:
            command = error.ctx.command_path if error.ctx else "glm"
            _to_stderr(f"glm: error: {error.format_message()} (see '{command} --help')\n")
            sys.exit(ExitCode.USAGE)
        except Abort:  # end of input where click wanted some (Ctrl-C is `_guarded`'s)
            sys.exit(ExitCode.USAGE)
        sys.exit(result if isinstance(result, int) else 0)

    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        return _guarded(lambda: super(GlmGroup, self).make_context(*args, **kwargs))

    def invoke(self, ctx: Any) -> Any:
        return _guarded(lambda: super(GlmGroup, self).invoke(ctx))


def _guarded(call: Callable[[], Any]) -> Any:
    """Commands report their own failures (`outcome.reported`); what reaches here comes
    from click itself, whose only writes to stdout are the help and the version."""
    try:
        return call()
    except KeyboardInterrupt:
        raise DiedBySignal(signal.SIGINT) from None
    except OSError as error:
        raise stdout_failure(error) from error


def _to_stderr(text: str) -> None:
    try:
        sys.stderr.write(text)
        sys.stderr.flush()
    except (OSError, ValueError, AttributeError):
        return


app = typer.Typer(
    cls=GlmGroup,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    help="A command-line client for the GLM-5.2 model, made for pipes and scripts.",
    epilog="Exit status: 0 ok, 1 output not written (else a bug), 2 usage, 3 auth, "
    "4 rate limit or quota, 5 service or network, 6 unusable answer; died by SIGINT, "
    "SIGTERM, SIGHUP or SIGPIPE (130/143/129/141). See glm(1).",
    no_args_is_help=False,
    invoke_without_command=True,
)


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"glm {__version__}\n")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    if ctx.invoked_subcommand is None:
        _to_stderr(ctx.get_help() + "\n")
        raise typer.Exit(ExitCode.USAGE)


def run_command(name: str, given: dict[str, Any], ctx_obj: Any = None) -> None:
    """Run one command; every failure ends in `outcome.reported` as one line and a code."""
    env = ctx_obj if isinstance(ctx_obj, Env) else Env.from_process()
    console = Console(env)
    job = None

    def end_answer_line() -> None:
        """On a terminal an error line starts a line (SPEC §3)."""
        if job is not None and env.stdout_isatty and env.stderr_isatty:
            job.sink.end_line()

    def report_in_output(error: GlmError) -> None:
        if job is not None and job.renderer is not None:
            job.renderer.failed(error)

    with reported(
        console, debug=bool(given.get("debug")), on_failure=report_in_output,
        before_line=end_answer_line,
    ):
        from glm_cli.commands.common import Job

        job = Job.prepare(given, env, console)
        _command_runner(name)(job)


def _command_runner(name: str) -> Callable[[Any], None]:
    if name == "json":
        from glm_cli.commands import json_cmd

        return json_cmd.run
    if name == "raw":
        from glm_cli.commands import raw

        return raw.run
    if name == "chat":
        from glm_cli.commands import chat

        return chat.run
    from glm_cli.commands import ask

    return ask.run


def _current_obj() -> Any:
    context = get_current_context(silent=True)
    return context.obj if context is not None else None


@app.command(context_settings={"help_option_names": ["-h", "--help"]})
@with_options(PROMPT + REQUEST + TOOLS + NDJSON + MARKDOWN + OUTPUT + CONNECTION)
def ask(given: dict[str, Any]) -> None:
    """One question, one answer: the answer's text on stdout."""
    run_command("ask", given, _current_obj())


@app.command(context_settings={"help_option_names": ["-h", "--help"]})
@with_options(PROMPT + CHAT + REQUEST + TOOLS + NDJSON + MARKDOWN + OUTPUT + CONNECTION)
def chat(given: dict[str, Any]) -> None:
    """Multi-turn: a loop on a terminal; from scripts, continue a session or a file."""
    run_command("chat", given, _current_obj())


@app.command(name="json", context_settings={"help_option_names": ["-h", "--help"]})
@with_options(PROMPT + REQUEST + TOOLS + JSON_ONLY + NDJSON + OUTPUT + CONNECTION)
def json_command(given: dict[str, Any]) -> None:
    """JSON mode: the answer checked, printed as one JSON document."""
    run_command("json", given, _current_obj())


@app.command(context_settings={"help_option_names": ["-h", "--help"]})
@with_options(PROMPT + REQUEST + TOOL_DEFINITIONS + RAW_ONLY + OUTPUT + CONNECTION)
def raw(given: dict[str, Any]) -> None:
    """The wire format: the provider's own response, or its stream as NDJSON."""
    run_command("raw", given, _current_obj())


app.add_typer(config_app, name="config")


def main() -> None:
    """The `glm` script. Descriptors 0-2 are held first (SPEC §3.2); then typer builds
    every command's options at start-up; when the command is named on the command
    line only that one is built (a measurable part of start-up with ~50 options per
    command). `glm --version` alone needs none. `glm help [COMMAND]` is `--help`."""
    closed = hold_standard_descriptors()
    with process_end():
        if 1 in closed:
            raise OutputError("cannot write to stdout: it is closed (descriptor 1 was not open)")
        argv = sys.argv[1:]
        if argv == ["--version"]:
            flush_stdout(f"glm {__version__}\n")
            return
        if argv and argv[0] == "help":
            argv = [*argv[1:], "--help"]
        if argv and not argv[0].startswith("-"):
            wanted = [c for c in app.registered_commands if _command_name(c) == argv[0]]
            groups = [g for g in app.registered_groups if g.name == argv[0]]
            if wanted or groups:
                app.registered_commands = wanted
                app.registered_groups = groups
        app(argv, prog_name="glm")


def _command_name(info: Any) -> str:
    return str(info.name or info.callback.__name__.replace("_", "-"))
