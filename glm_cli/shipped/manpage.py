"""man/glm.1: the hand-written prose of man/glm.1.in, its markers filled from the CLI.

- `@VERSION@`: glm's version;
- `.\\" @SYNOPSIS@`: one line per command;
- `.\\" @COMMANDS@`: one subsection per command, with the prose of its
  `.\\" @command PATH` ... `.\\" @end` block (else the command's own help) and the
  list of the options it takes;
- `.\\" @OPTIONS@`: every option once, grouped as `cli_options` groups them, with
  its argument and help, followed by the text of its `.\\" @option --NAME` block.

A prose block for a command or option that no longer exists is an error, so the
template cannot drift either.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from glm_cli.shipped.cli_tree import Command, Option
from glm_cli.shipped.targets import GENERATED, TEMPLATE

GROUP_TITLES = {
    "PROMPT": "Prompt options",
    "REQUEST": "Request options",
    "TOOL_DEFINITIONS": "Tool options",
    "TOOL_LOOP": "Tool-loop options",
    "JSON_ONLY": "JSON options",
    "RAW_ONLY": "Raw options",
    "NDJSON": "NDJSON output",
    "MARKDOWN": "Markdown output",
    "OUTPUT": "Output options",
    "CONNECTION": "Service options",
    "CONFIG_INIT": "Config init options",
}

_BLOCK = re.compile(r'^\.\\" @(command|option) (.+?)\n(.*?)^\.\\" @end\n', re.M | re.S)


def render_manpage(tree: Command, template_text: str) -> str:
    from glm_cli import __version__

    template = read_template(template_text)
    paths = {c.name for c in tree.walk() if c.path}
    keys = {o.key for c in tree.walk() for o in c.options}
    unknown = sorted(set(template.commands) - paths) + sorted(set(template.notes) - keys)
    if unknown:
        raise SystemExit(f"{TEMPLATE}: prose for what the CLI no longer has: {', '.join(unknown)}")
    replacements = {
        '.\\" @SYNOPSIS@': _synopsis(tree),
        '.\\" @COMMANDS@': _commands_section(tree, template),
        '.\\" @OPTIONS@': _options_section(tree, template.notes),
    }
    out: list[str] = [
        '.\\" ' + GENERATED.replace("`", "") + " Edit man/glm.1.in instead.",
    ]
    for line in template.text.replace("@VERSION@", __version__).split("\n"):
        out.extend(replacements.get(line, [line]))
    return "\n".join(out).rstrip("\n") + "\n"


# --------------------------------------------------------------------------- template


@dataclass
class Template:
    text: str
    """The template without its prose blocks."""
    commands: dict[str, str]
    """Command path → its `@command` block."""
    notes: dict[str, str]
    """Option name → its `@option` block."""


def read_template(text: str) -> Template:
    commands: dict[str, str] = {}
    notes: dict[str, str] = {}
    for kind, name, body in _BLOCK.findall(text):
        (commands if kind == "command" else notes)[name.strip()] = body.rstrip("\n")
    return Template(_BLOCK.sub("", text), commands, notes)


# --------------------------------------------------------------------------- roff


def roff(text: str) -> str:
    """Plain text → roff: backslashes escaped, option dashes as minus signs."""
    text = text.replace("\\", "\\e")
    text = re.sub(r"(?<![\w.])-", r"\\-", text)
    return "\n".join(
        "\\&" + line if line.startswith((".", "'")) else line for line in text.split("\n")
    )


def _literal(text: str) -> str:
    """Option names and metavars: every dash a minus sign."""
    return text.replace("\\", "\\e").replace("-", "\\-")


def _bold_names(option: Option) -> str:
    return ", ".join(f"\\fB{_literal(name)}\\fR" for name in option.all_names)


def _option_heading(option: Option) -> str:
    names = _bold_names(option)
    if option.metavar:
        names += f" \\fI{_literal(option.metavar)}\\fR"
    return names


def _join(words: list[str]) -> str:
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


# --------------------------------------------------------------------------- sections


def _synopsis(tree: Command) -> list[str]:
    lines = [
        ".B glm",
        ".RB [ \\-\\-version ]",
        ".RB [ \\-h | \\-\\-help ]",
    ]
    for command in tree.leaves():
        lines.append(".br")
        lines.append(f".B glm {command.name}")
        if command.own_options:
            lines.append(".RI [ OPTIONS ]")
        for argument in command.arguments:
            shown = argument.rstrip(".")
            dots = "..." if argument.endswith("...") else ""
            lines.append(f".RI [ {_literal(shown)} ]{dots}")
    return lines


def _group_of(option: Option, command: Command) -> str:
    """The unit the page lists an option in: its group, else its one command's."""
    return option.group or f"OWN:{command.name}"


def _units(tree: Command) -> list[tuple[str, list[Option]]]:
    """The option groups in order of first appearance, each option once."""
    units: dict[str, dict[str, Option]] = {}
    for command in tree.walk():
        for option in command.options:
            units.setdefault(_group_of(option, command), {}).setdefault(option.key, option)
    ordered = sorted(units.items(), key=lambda item: item[0] != "GLOBAL")
    return [(group, list(options.values())) for group, options in ordered]


def _title(group: str) -> str:
    if group == "GLOBAL":
        return "Global options"
    if group.startswith("OWN:"):
        return f"Options of glm {group[4:]}"
    return GROUP_TITLES.get(group) or group.replace("_", " ").capitalize() + " options"


def _takers(tree: Command, key: str) -> list[str]:
    return [c.name for c in tree.leaves() if any(o.key == key for o in c.options)]


def _options_section(tree: Command, notes: dict[str, str]) -> list[str]:
    lines: list[str] = []
    for group, options in _units(tree):
        # the heading names the commands that take the whole group; an option that
        # more (or, when none takes it whole, other) commands take says which
        every = [_takers(tree, option.key) for option in options]
        takers = [name for name in every[0] if all(name in own for own in every)]
        title = _title(group)
        if takers and group != "GLOBAL" and not group.startswith("OWN:"):
            title += f" ({', '.join(takers)})"
        lines.append(f'.SS "{title}"')
        for option, own in zip(options, every, strict=True):
            lines.append(".TP")
            lines.append(_option_heading(option))
            text = option.help
            if text and text[-1] not in ".)!?":
                text += "."
            if option.multiple and "repeatable" not in text:
                text += " (repeatable)"
            if group != "GLOBAL" and own != takers:
                more = [name for name in own if name not in takers]
                if takers:
                    text += f"\nAlso taken by glm {', glm '.join(more)}."
                else:
                    text += f"\nTaken by glm {', glm '.join(own)}."
            lines.append(roff(text))
            note = notes.get(option.key)
            if note:
                lines.append(note)
    return lines


def _commands_section(tree: Command, template: Template) -> list[str]:
    units = dict(_units(tree))
    lines: list[str] = []
    for command in tree.walk():
        if not command.path:
            continue
        heading = f"glm {command.name}"
        if command.subcommands:
            heading += " " + "|".join(sub.path[-1] for sub in command.subcommands)
        elif command.own_options:
            heading += " [OPTIONS]"
        for argument in command.arguments:
            heading += f" [{argument}]"
        lines.append(f'.SS "{heading}"')
        prose = template.commands.get(command.name)
        lines.append(prose if prose is not None else roff(command.help))
        if command.own_options:
            lines.append(".PP")
            lines.append("Options: " + _options_taken(command, units) + ".")
    return lines


def _options_taken(command: Command, units: dict[str, list[Option]]) -> str:
    """The options a command takes: whole groups by name, the others one by one."""
    whole: list[str] = []
    single: list[Option] = []
    for group, options in units.items():
        mine = [o for o in command.own_options if _group_of(o, command) == group]
        if not mine:
            continue
        if len(options) > 1 and len(mine) == len(options) and not group.startswith("OWN:"):
            whole.append(_title(group).replace(" options", "").lower())
        else:
            single.extend(mine)
    parts = []
    if whole:
        parts.append("the " + _join(whole) + " options")
    if single:
        parts.append(", ".join(_bold_names(o) for o in single))
    return "; ".join(parts)
