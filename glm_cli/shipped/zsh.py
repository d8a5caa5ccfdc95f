"""completions/_glm: zsh completion for glm, from the CLI: a function per command."""

from __future__ import annotations

import re

from glm_cli.shipped.cli_tree import HELP, Command, Option
from glm_cli.shipped.completions import first_sentence, header, script, value_action


def _text(text: str) -> str:
    """A description inside an `_arguments` spec or a `_describe` entry."""
    text = first_sentence(text)
    text = text.replace("\\", "\\\\").replace("[", "(").replace("]", ")").replace(":", "\\:")
    return text.replace("'", "'\\''")


def _value(option: Option) -> str:
    """The `:message:action` part of an `_arguments` spec ("" for a flag)."""
    if not option.metavar:
        return ""
    message = option.metavar.replace(":", "\\:").replace("'", "'\\''")
    action = value_action(
        option,
        choices=lambda words: f"({words})",
        files="_files",
        anything=" ",
        listed=lambda arguments, files: f'_glm_listed{"_and_files" if files else ""} "{arguments}"',
    )
    return f":{message}:{action}"


def _option(option: Option) -> list[str]:
    description = _text(option.help)
    if option.negations:
        specs = []
        for name, other in ((option.names, option.negations), (option.negations, option.names)):
            exclude = " ".join(other)
            for n in name:
                specs.append(f"'({exclude}){n}[{description}]'")
        return specs
    if option is HELP or option.group == "GLOBAL":
        if len(option.names) == 1:
            return [f"'(- *){option.names[0]}[{description}]'"]
        return [f"'(- *)'{{{','.join(option.names)}}}'[{description}]'"]
    names = [
        (n + ("=" if n.startswith("--") else "+")) if option.metavar else n for n in option.names
    ]
    repeat = "*" if option.multiple else ""
    value = _value(option)
    if len(names) == 1:
        return [f"'{repeat}{names[0]}[{description}]{value}'"]
    exclude = "" if option.multiple else f"({' '.join(option.names)})"
    return [f"'{repeat}{exclude}'{{{','.join(names)}}}'[{description}]{value}'"]


def _function(name: str) -> str:
    return "_glm" + "".join("_" + re.sub(r"\W", "_", part) for part in name.split())


def _group(command: Command, specs: list[str]) -> list[str]:
    """The function of a command with subcommands: its options, then a subcommand."""
    entries = [f"'{sub.path[-1]}:{_text(sub.help)}'" for sub in command.subcommands]
    what = f"glm {command.name} command".replace("  ", " ")
    return [
        f"{_function(command.name)}() {{",
        '  local curcontext="$curcontext" state state_descr line ret=1',
        "  typeset -A opt_args",
        "  _arguments -C \\",
        *[f"    {spec} \\" for spec in specs],
        "    '1: :->command' \\",
        "    '*:: :->args' && ret=0",
        "  case $state in",
        "    command)",
        "      local -a commands",
        "      commands=(",
        *[f"        {entry}" for entry in entries],
        "      )",
        f"      _describe -t commands '{what}' commands && ret=0",
        "      ;;",
        "    args)",
        '      curcontext="${curcontext%:*:*}:glm-$words[1]:"',
        "      case $words[1] in",
        *[
            f"        {sub.path[-1]}) {_function(sub.name)} && ret=0 ;;"
            for sub in command.subcommands
        ],
        "      esac",
        "      ;;",
        "  esac",
        "  return ret",
        "}",
        "",
    ]


def _leaf(command: Command, specs: list[str]) -> list[str]:
    """The function of a command that runs something: its options and arguments."""
    arguments = [f"'*:{argument.lower().rstrip('.')}: '" for argument in command.arguments]
    *first, last = [*specs, *arguments]
    return [
        f"{_function(command.name)}() {{",
        "  _arguments -s -S \\",
        *[f"    {spec} \\" for spec in first],
        f"    {last}",
        "}",
        "",
    ]


_INSTALL = """\
Install: put this file (named _glm) in a directory of $fpath before compinit runs,
e.g. ~/.zfunc with `fpath=(~/.zfunc $fpath)` in ~/.zshrc.
"""

_END = """\
if [[ "${zsh_eval_context[-1]}" == loadautofunc ]]; then
  _glm "$@"
else
  compdef _glm glm
fi
"""
"""Complete at once when autoloaded from $fpath, else register with compdef."""


_LISTED = """\
# the names `glm ARGS` lists (the first tab-separated field of each line); nothing if
# glm fails. ARGS is the last argument: _arguments puts compadd's options before it.
_glm_listed() {
  local -a names
  names=(${${(f)"$(command glm ${=@[-1]} </dev/null 2>/dev/null)"}%%$'\\t'*})
  names=(${names:#})
  compadd "${@[1,-2]}" -a names
}

# those names, and files (a value that may be either: -T NAME or -T PATH)
_glm_listed_and_files() {
  _glm_listed "$@"
  _files "${@[1,-2]}"
}
"""


def render_zsh(tree: Command) -> str:
    lines = ["#compdef glm", *header("zsh", _INSTALL), *_LISTED.splitlines(), ""]
    for command in tree.walk():
        specs = [spec for option in command.options for spec in _option(option)]
        lines += (_group if command.subcommands else _leaf)(command, specs)
    return script([*lines, *_END.splitlines()])
