"""What ships beside the code, generated from the CLI itself: the man page and the
bash, zsh and fish completions. Run from a source checkout:

    python -m glm_cli.shipped           # rewrite man/glm.1 and completions/*
    python -m glm_cli.shipped --check   # exit 1, naming each stale file

The command tree comes from typer, so a command or option added to the CLI appears
everywhere at the next run, and the tests (`tests/test_manpage.py`,
`tests/test_completions.py`) fail until it is run.

- `targets`: where each generated file goes, and the man page's template;
- `cli_tree`: the commands, options, choices and file-valued options of the CLI;
- `manpage`: man/glm.1, the prose of man/glm.1.in with its markers filled;
- `completions`: what the scripts share; `bash`, `zsh`, `fish`: one script each;
- `command`: what is stale, and writing it (`__main__` runs it).
"""

from glm_cli.shipped.bash import render_bash
from glm_cli.shipped.cli_tree import FILE_OPTIONS, HELP, Command, Option, cli_tree
from glm_cli.shipped.command import main, outputs, stale
from glm_cli.shipped.completions import LISTED, value_action
from glm_cli.shipped.fish import fish_quote, render_fish
from glm_cli.shipped.manpage import render_manpage
from glm_cli.shipped.targets import BASH, FISH, MANPAGE, ROOT, TEMPLATE, ZSH
from glm_cli.shipped.zsh import render_zsh

__all__ = [
    "BASH",
    "FILE_OPTIONS",
    "FISH",
    "HELP",
    "LISTED",
    "MANPAGE",
    "ROOT",
    "TEMPLATE",
    "ZSH",
    "Command",
    "Option",
    "cli_tree",
    "fish_quote",
    "main",
    "outputs",
    "render_bash",
    "render_fish",
    "render_manpage",
    "render_zsh",
    "stale",
    "value_action",
]
