"""completions/glm.fish: fish completion for glm, from the CLI."""

from __future__ import annotations

from glm_cli.shipped.cli_tree import Command, Option
from glm_cli.shipped.completions import first_sentence, header, script, value_action


def fish_quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _option(condition: str, option: Option, names: list[str]) -> str:
    parts = [f"complete -c glm -n {condition}"]
    for name in names:
        if name.startswith("--"):
            parts.append(f"-l {name[2:]}")
        else:
            parts.append(f"-s {name[1:]}")
    if option.metavar:
        parts.append(
            value_action(
                option,
                choices=lambda words: f"-x -a {fish_quote(words)}",
                files="-r -F",
                anything="-x",
                listed=lambda arguments, files: (
                    f"{'-r -F' if files else '-x'} -a {fish_quote(f'(__glm_listed {arguments})')}"
                ),
            )
        )
    parts.append(f"-d {fish_quote(first_sentence(option.help))}")
    return " ".join(parts)


_PATH = """\
function __glm_path --description 'The glm command being completed: ask, config show...'
    set -l tokens (commandline -opc)
    test (count $tokens) -ge 2; or return
    switch $tokens[2]
"""
"""`__glm_path` up to the cases of the commands that have subcommands."""

_AT = """\
        case '*'
            echo $tokens[2]
    end
end

function __glm_at --description 'Is the command being completed exactly this one?'
    set -l path (__glm_path)
    test "$path" = "$argv"
end

function __glm_listed --description 'The names glm lists: the first field of each line'
    command glm $argv </dev/null 2>/dev/null | string replace -r '\\t.*' ''
end

complete -c glm -f
"""
"""The rest of `__glm_path`, then `__glm_at`, which every completion is under."""


def _path_cases(tree: Command) -> list[str]:
    """The cases of `__glm_path`: a command with subcommands takes the next word."""
    lines = []
    for group in tree.groups():
        depth = len(group.path) + 2
        lines += [
            f"        case {group.path[-1]}",
            f"            if test (count $tokens) -ge {depth}",
            f'                echo "{group.name} $tokens[{depth}]"',
            "            else",
            f"                echo {group.name}",
            "            end",
        ]
    return lines


def _completions(tree: Command) -> list[str]:
    """A `complete` line for each subcommand and option, under its command."""
    lines = []
    for command in tree.walk():
        condition = fish_quote(f"__glm_at {command.name}".strip())
        for sub in command.subcommands:
            lines.append(
                f"complete -c glm -n {condition} -a {sub.path[-1]} "
                f"-d {fish_quote(first_sentence(sub.help))}"
            )
        for option in command.options:
            lines += [
                _option(condition, option, names)
                for names in (option.names, option.negations)
                if names
            ]
    return lines


def render_fish(tree: Command) -> str:
    return script(
        [
            *header("fish", "Install: copy to ~/.config/fish/completions/glm.fish"),
            *_PATH.splitlines(),
            *_path_cases(tree),
            *_AT.splitlines(),
            *_completions(tree),
        ]
    )
