"""completions/glm.bash: bash completion for glm, from the CLI."""

from __future__ import annotations

from glm_cli.shipped.cli_tree import Command
from glm_cli.shipped.completions import header, script, subcommand_names, value_action


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def _names(command: Command) -> str:
    return " ".join(name for option in command.options for name in option.all_names)


_FILES = "compopt -o filenames 2>/dev/null; _glm_reply -f"


def _value_cases(command: Command) -> list[str]:
    """`case $prev in`: the value of an option, completed by what it takes."""
    valued = [o for o in command.options if o.metavar]
    if not valued:
        return []
    by_action: dict[str, list[str]] = {}
    for option in valued:
        action = value_action(
            option,
            choices=lambda words: f"_glm_reply -W {_quote(words)}",
            files=_FILES,
            anything=":",
            listed=lambda arguments, files: (
                f"{_FILES + '; ' if files else ''}_glm_listed {arguments}"
            ),
        )
        by_action.setdefault(action, []).extend(option.names)
    lines = ["            case $prev in"]
    for action, patterns in by_action.items():
        lines.append(f"                {'|'.join(patterns)})")
        lines.append(f"                    {action}; return 0 ;;")
    lines.append("            esac")
    return lines


_INSTALL = """\
Install: copy to ~/.local/share/bash-completion/completions/glm, or source it
from ~/.bashrc.
"""

_START = """\
_glm_reply() {
    mapfile -t COMPREPLY < <(compgen "$@" -- "$cur")
}

# the names `glm ARGS` lists (the first tab-separated field of each line) that start
# with $cur, quoted for the command line; nothing if glm fails
_glm_listed() {
    local name
    while IFS= read -r name; do
        name=${name%%$'\\t'*}
        [[ -n $name && $name == "$cur"* ]] && COMPREPLY+=("$(printf '%q' "$name")")
    done < <(command glm "$@" </dev/null 2>/dev/null)
}

_glm() {
    local cur prev cmd i opts= commands=
    COMPREPLY=()
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=
    (( COMP_CWORD > 0 )) && prev=${COMP_WORDS[COMP_CWORD-1]}
    # bash splits --option=value at '=': complete the value of --option
    if [[ $cur == = ]]; then
        cur=
    elif [[ $prev == = ]] && (( COMP_CWORD > 1 )); then
        prev=${COMP_WORDS[COMP_CWORD-2]}
    fi
    cmd=
    if (( COMP_CWORD > 1 )); then
        cmd=${COMP_WORDS[1]}
        case $cmd in
"""
"""`_glm` up to the case that finds the command: `config show`, not `config`."""

_COMMANDS = """\
        esac
    fi
    # after --, every word is the prompt's
    for (( i = 2; i < COMP_CWORD; i++ )); do
        [[ ${COMP_WORDS[i]} == -- ]] && return 0
    done
    case $cmd in
"""
"""Then the case that sets each command's subcommands and options."""

_END = """\
        *)
            return 0 ;;
    esac
    if [[ $cur == -* ]]; then
        _glm_reply -W "$opts"
    elif [[ -n $commands ]]; then
        _glm_reply -W "$commands"
    fi
    return 0
}

complete -F _glm glm
"""


def _path_cases(tree: Command) -> list[str]:
    """The case that finds the command: a command with subcommands takes the next word."""
    lines = []
    for group in tree.groups():
        depth = len(group.path) + 1
        lines.append(f"            {group.name})")
        lines.append(
            f"                (( COMP_CWORD > {depth} )) && "
            f'cmd="{group.name} ${{COMP_WORDS[{depth}]}}" ;;'
        )
    return lines


def _command_cases(tree: Command) -> list[str]:
    """The case that sets what each command completes: its subcommands, its options,
    the value of an option."""
    lines = []
    for group in [tree, *tree.groups()]:
        lines.append(f'        "{group.name}")')
        lines.append(f"            commands={_quote(subcommand_names(group))}")
        lines.append(f"            opts={_quote(_names(group))}")
        lines.append("            ;;")
    for command in tree.leaves():
        lines.append(f'        "{command.name}")')
        lines += _value_cases(command)
        lines.append(f"            opts={_quote(_names(command))}")
        lines.append("            ;;")
    return lines


def render_bash(tree: Command) -> str:
    return script(
        [
            *header("bash", _INSTALL),
            *_START.splitlines(),
            *_path_cases(tree),
            *_COMMANDS.splitlines(),
            *_command_cases(tree),
            *_END.splitlines(),
        ]
    )
