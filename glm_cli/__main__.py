"""The `glm` script and `python -m glm_cli`: the typer app bound to the command bodies.

This is the one module that joins the two top layers: `cli` declares the commands,
`commands` runs them.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from glm_cli import __version__

if TYPE_CHECKING:
    import typer


def make_app(only: str | None = None) -> typer.Typer:
    """The app, with every command (or `only` the one named)."""
    from glm_cli.cli.app import build_app
    from glm_cli.commands import run

    return build_app(run, only)


def read_plainly(argv: list[str]) -> tuple[str, dict[str, Any]] | None:
    """A command and its options read without typer (`cli.parse`), when the line is
    plainly one of them; None leaves it to typer."""
    from glm_cli.cli.catalog import COMMANDS
    from glm_cli.cli.parse import read

    if not argv or argv[0] not in COMMANDS:
        return None
    given = read(COMMANDS[argv[0]][0], argv[1:])
    return None if given is None else (argv[0], given)


def main() -> None:
    """Descriptors 0-2 are held first (SPEC §3.2). `glm --version` alone needs no
    command built, nor does a plain command line (`read_plainly`); otherwise only the
    command named on the command line is built (typer builds every option of every
    command it declares). `glm help [COMMAND]` is `--help`. A run ended by a signal
    or a closed stdout dies by that signal."""
    from glm_cli.cli.outcome import flush_stdout, hold_standard_descriptors, process_end
    from glm_cli.core.errors import OutputError

    closed = hold_standard_descriptors()
    with process_end():
        if 1 in closed:
            raise OutputError("cannot write to stdout: it is closed (descriptor 1 was not open)")
        argv = sys.argv[1:]
        if argv == ["--version"]:
            flush_stdout(f"glm {__version__}\n")
            return
        plain = read_plainly(argv)
        if plain is not None:
            from glm_cli.commands import run

            run(*plain)
            return
        if argv and argv[0] == "help":
            argv = [*argv[1:], "--help"]
        only = argv[0] if argv and not argv[0].startswith("-") else None
        make_app(only)(argv, prog_name="glm")


if __name__ == "__main__":
    main()
