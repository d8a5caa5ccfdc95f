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
    """`glm --version` alone needs no command built; otherwise only the command named
    on the command line is (typer builds every option of every command it declares)."""
    argv = sys.argv[1:]
    if argv == ["--version"]:
        sys.stdout.write(f"glm {__version__}\n")
        return
    only = argv[0] if argv and not argv[0].startswith("-") else None
    make_app(only)(prog_name="glm")


if __name__ == "__main__":
    main()
