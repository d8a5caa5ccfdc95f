"""What the completion scripts (completions/*: `bash`, `zsh`, `fish`) share. They
are static, written from the CLI, so that completing a word never starts Python."""

from __future__ import annotations

import re
from collections.abc import Callable

from glm_cli.shipped.cli_tree import Command, Option
from glm_cli.shipped.targets import GENERATED


def header(shell: str, install: str) -> list[str]:
    """The comment a script starts with: what it is, that it is generated, and how
    to install it; then a blank line."""
    lines = [f"{shell} completion for glm.", GENERATED, *install.splitlines()]
    return [*(f"# {line}" for line in lines), ""]


def script(lines: list[str]) -> str:
    return "\n".join(lines) + "\n"


def first_sentence(text: str) -> str:
    """A short description: the help up to its first full stop before a capital."""
    text = text.strip()
    match = re.match(r"(.+?)\.(\s+[A-Z]|$)", text)
    return match.group(1) if match else text


LISTED = {
    "--session": "chat --list",
    "--fork": "chat --list",
    "--show": "chat --list",
    "--delete": "chat --list",
    "--template": "templates list",
}
"""Options (by long name, whichever command has them) whose value is a name glm
lists, and the glm arguments that list them, one a line, the name first (before a
tab): the chat sessions, the templates. Completing such a value runs glm (never
while other words complete); a failing or missing command offers nothing."""


def value_action(
    option: Option,
    choices: Callable[[str], str],
    files: str,
    anything: str,
    listed: Callable[[str, bool], str],
) -> str:
    """A shell's way to complete the value of an option that takes one: one of its
    choices (given as words separated by spaces), a name glm lists (given as the glm
    arguments that list them, and whether files go with them: `-T` takes a path too),
    a file, or anything."""
    if option.choices:
        return choices(" ".join(option.choices))
    if option.key in LISTED:
        return listed(LISTED[option.key], option.files)
    return files if option.files else anything


def subcommand_names(command: Command) -> str:
    return " ".join(sub.path[-1] for sub in command.subcommands)
