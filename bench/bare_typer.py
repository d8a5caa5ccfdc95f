"""The ``--version`` baseline: a bare typer app with one option and nothing else."""

import typer

app = typer.Typer(add_completion=False, rich_markup_mode=None, pretty_exceptions_enable=False)


@app.command()
def main(
    version: bool = typer.Option(False, "--version", help="Show the version and exit."),
) -> None:
    """Print a version string."""
    if version:
        print("bare_typer 0")


if __name__ == "__main__":
    app()
