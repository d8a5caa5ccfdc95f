"""The `glm` script and `python -m glm_cli`: the typer app bound to the command bodies.

This is the one module that joins the two top layers: `cli` declares the commands,
`commands` runs them.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from glm_cli import __version__

if TYPE_CHECKING:
    import typer


def make_app(only: str | None = None) -> typer.Typer:
    """The app, with every command (or `only` the one named)."""
    from glm_cli.cli.app import build_app
    from glm_cli.commands import run

    return build_app(run, only)


def main() -> None:
    """Descriptors 0-2 are held first (SPEC §3.2). `glm --version` alone needs no
    command built; otherwise only the command named on the command line is (typer
    builds every option of every command it declares). `glm help [COMMAND]` is
    `--help`. A run ended by a signal or a closed stdout dies by that signal."""
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
        if argv and argv[0] == "help":
            argv = [*argv[1:], "--help"]
        only = argv[0] if argv and not argv[0].startswith("-") else None
        make_app(only)(argv, prog_name="glm")


if __name__ == "__main__":
    main()
