"""The command line: the typer app, built on demand, its commands bound to a runner.

`build_app(run)` declares every command with its options (`cli.options`); each
command calls `run(name, given, obj)`, which `__main__` binds to
`commands.run`, so this layer never imports the commands. `only` builds just
the command named on the command line (typer builds every option of every
command it declares: a measurable part of start-up).

Imports here stay light (typer and glm's own pure modules): httpx and orjson are
loaded only when a command actually makes a request.
"""

from __future__ import annotations

import inspect
import signal
import sys
from collections.abc import Callable
from typing import Annotated, Any

import typer
from typer import _click as click
from typer._click.globals import get_current_context
from typer.core import TyperGroup
from typer.exceptions import Abort

from glm_cli import __version__
from glm_cli.cli.argv import check_argv
from glm_cli.cli.catalog import COMMANDS, GROUPS
from glm_cli.cli.options import OptionList, Spec, absent
from glm_cli.cli.outcome import DiedBySignal
from glm_cli.core.errors import GlmError, stdout_failure
from glm_cli.core.exit_codes import ExitCode

Runner = Callable[[str, dict[str, Any], Any], None]
"""Runs a command: its name (`ask`, `config show`), the options given, the click
context's `obj` (tests pass an `Env` there)."""

HELP_OPTIONS = {"help_option_names": ["-h", "--help"]}


class GlmGroup(TyperGroup):
    """Runs click without its standalone mode, so parse errors are one plain line too.

    click prints the help (and `--version` its line) itself, outside any command: a
    failed write there becomes glm's own stdout failure, and Ctrl-C `DiedBySignal`,
    instead of click's exit 1 and typer's exit 130."""

    def main(  # type: ignore[override]  # typer's signature is looser than click's
        self, args: Any = None, prog_name: str | None = None, **extra: Any
    ) -> Any:
        extra.pop("standalone_mode", None)
        try:
            check_argv(sys.argv[1:] if args is None else args)
        except GlmError as error:
            _to_stderr(f"glm: error: {error.message}\n")
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


def _typer(**settings: Any) -> typer.Typer:
    return typer.Typer(
        add_completion=False,
        rich_markup_mode=None,
        pretty_exceptions_enable=False,
        context_settings=HELP_OPTIONS,
        **settings,
    )


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"glm {__version__}\n")
        raise typer.Exit()


def _root(
    ctx: typer.Context,
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    if ctx.invoked_subcommand is None:
        _to_stderr(ctx.get_help() + "\n")
        raise typer.Exit(ExitCode.USAGE)


def _current_obj() -> Any:
    context = get_current_context(silent=True)
    return context.obj if context is not None else None


def _argument(spec: Spec) -> Any:
    return typer.Argument(help=spec.help, metavar=spec.metavar, show_default=False)


def _annotation(spec: Spec) -> Any:
    """The typer declaration of one option (an `Annotated` type)."""
    if spec.kind == "arguments":
        return Annotated[list[str] | None, _argument(spec)]
    if spec.kind == "argument":
        return Annotated[str | None, _argument(spec)]
    option = typer.Option(*spec.flags, metavar=spec.metavar, help=spec.help)
    if spec.kind == "values":
        return Annotated[list[str] | None, option]
    if spec.kind == "value":
        return Annotated[str | None, option]
    if spec.kind == "switch":
        return Annotated[bool | None, typer.Option(*spec.flags, help=spec.help, show_default=False)]
    return Annotated[bool, typer.Option(*spec.flags, help=spec.help)]


def with_options(options: OptionList) -> Callable[[Callable[[dict[str, Any]], None]], Any]:
    """Turn `body(given)` into a typer command taking exactly `options`: typer reads a
    command's options from its function's signature, so this builds one."""

    def decorate(body: Callable[[dict[str, Any]], None]) -> Any:
        def command(**given: Any) -> None:
            body(given)

        annotations = {name: _annotation(spec) for name, spec in options}
        parameters = [
            inspect.Parameter(
                name,
                inspect.Parameter.KEYWORD_ONLY,
                default=absent(spec),
                annotation=annotations[name],
            )
            for name, spec in options
        ]
        setattr(command, "__signature__", inspect.Signature(parameters))  # noqa: B010  # typer reads it
        command.__annotations__ = annotations
        command.__name__ = body.__name__
        command.__doc__ = body.__doc__
        return command

    return decorate


def _declare(
    app: typer.Typer, run: Runner, full_name: str, name: str, options: OptionList, doc: str
) -> None:
    def body(given: dict[str, Any]) -> None:
        run(full_name, given, _current_obj())

    body.__name__ = name.replace("-", "_") + "_command"
    body.__doc__ = doc
    app.command(name=name, context_settings=HELP_OPTIONS)(with_options(options)(body))


def build_app(run: Runner, only: str | None = None) -> typer.Typer:
    """The typer app; with `only`, just that command (or group) is declared."""
    app = _typer(
        cls=GlmGroup,
        help="A command-line client for the GLM-5.2 model, made for pipes and scripts.",
        epilog="Exit status: 0 ok, 1 output not written (else a bug), 2 usage, 3 auth, "
        "4 rate limit or quota, 5 service or network, 6 unusable answer, 7 some batch lines "
        "failed; died by SIGINT, "
        "SIGTERM, SIGHUP or SIGPIPE (130/143/129/141). See glm(1).",
        no_args_is_help=False,
        invoke_without_command=True,
    )
    app.callback()(_root)
    wanted = only if only in (*COMMANDS, *GROUPS) else None
    for name, (options, doc) in COMMANDS.items():
        if wanted in (None, name):
            _declare(app, run, name, name, options, doc)
    for group, (commands, doc) in GROUPS.items():
        if wanted in (None, group):
            sub = _typer(name=group, help=doc, no_args_is_help=True)
            for name, (options, help) in commands.items():
                _declare(sub, run, f"{group} {name}", name, options, help)
            app.add_typer(sub, name=group)
    return app
