"""The CLI as the generators see it: its commands, their options and arguments,
each option's choices and whether its value is a file, read from typer's click
command tree (`typer.main.get_command(glm_cli.__main__.make_app())`)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

FILE_OPTIONS = frozenset(
    {
        "--tool",
        "--schema",
        "--body",
        "--file",
        "--prompt-file",
        "--config",
        "--api-key-file",
    }
)
"""Options whose value is a file, whatever their metavar says."""

_CHOICE_METAVAR = re.compile(r"^[a-z][a-z0-9-]*(\|[a-z][a-z0-9-]*)+$")


@dataclass
class Option:
    param: str
    names: list[str]
    """Short names first, then long ones."""
    negations: list[str]
    """`--no-think` beside `--think`."""
    metavar: str | None
    """None for a flag."""
    help: str
    multiple: bool
    choices: list[str]
    files: bool
    group: str = ""
    """The `cli_options` list that declares it, "GLOBAL" for glm's own, else ""."""

    @property
    def all_names(self) -> list[str]:
        return self.names + self.negations

    @property
    def key(self) -> str:
        return self.names[-1]


HELP = Option(
    "help",
    ["-h", "--help"],
    [],
    None,
    "Print the help of glm or of a command, and exit.",
    False,
    [],
    False,
    "GLOBAL",
)
"""`--help`, which every command takes."""


@dataclass
class Command:
    path: tuple[str, ...]
    help: str
    options: list[Option] = field(default_factory=list)
    arguments: list[str] = field(default_factory=list)
    subcommands: list[Command] = field(default_factory=list)

    @property
    def name(self) -> str:
        return " ".join(self.path)

    @property
    def own_options(self) -> list[Option]:
        """Its options but the `--help` every command takes."""
        return [option for option in self.options if option is not HELP]

    def walk(self) -> Iterable[Command]:
        yield self
        for sub in self.subcommands:
            yield from sub.walk()

    def groups(self) -> list[Command]:
        """The commands below this one that have subcommands (`config`)."""
        return [c for c in self.walk() if c.path and c.subcommands]

    def leaves(self) -> list[Command]:
        """The commands below this one that run something (`ask`, `config show`)."""
        return [c for c in self.walk() if c.path and not c.subcommands]


def cli_tree() -> Command:
    """The CLI as the generators see it, read from typer's click command tree."""
    import typer.main

    from glm_cli.__main__ import make_app

    return _command(typer.main.get_command(make_app()), (), _groups())


def _one_line(text: str | None) -> str:
    return " ".join((text or "").split())


def _groups() -> dict[str, str]:
    """Parameter name → the smallest `cli_options` (or `command_options`) list that
    declares it."""
    from glm_cli.cli import command_options
    from glm_cli.cli import options as cli_options

    lists = [
        (name, value)
        for module in (cli_options, command_options)
        for name, value in vars(module).items()
        if name.isupper()
        and isinstance(value, list)
        and value
        and all(isinstance(item, tuple) and len(item) == 2 for item in value)
    ]
    found: dict[str, tuple[int, str]] = {}
    for name, options in lists:
        for param, _ in options:
            if param not in found or len(options) < found[param][0]:
                found[param] = (len(options), name)
    return {param: name for param, (_, name) in found.items()}


def _choices(option: Any, names: list[str]) -> list[str]:
    from glm_cli.core.efforts import EFFORTS
    from glm_cli.settings.config import PROTOCOLS
    from glm_cli.settings.providers import BUILT_IN

    known = {"--effort": list(EFFORTS), "--provider": list(BUILT_IN), "--protocol": list(PROTOCOLS)}
    for name in names:
        if name in known:
            return known[name]
    choices = getattr(option.type, "choices", None)
    if choices:
        return [str(choice) for choice in choices]
    metavar = option.metavar or ""
    if _CHOICE_METAVAR.match(metavar):
        return metavar.split("|")
    return []


def _is_file(names: list[str], metavar: str | None) -> bool:
    if any(name in FILE_OPTIONS for name in names):
        return True
    pieces = re.split(r"[|]", metavar or "")
    return any(piece.split(".")[0] in ("FILE", "PATH") for piece in pieces)


def _option(param: Any, groups: dict[str, str]) -> Option:
    opts = list(param.opts)
    names = sorted(opts, key=lambda n: (n.startswith("--"), opts.index(n)))
    flag = bool(getattr(param, "is_flag", False))
    metavar = None if flag else (param.metavar or param.name.upper())
    return Option(
        param=param.name,
        names=names,
        negations=list(param.secondary_opts),
        metavar=metavar,
        help=_one_line(param.help),
        multiple=bool(param.multiple),
        choices=[] if flag else _choices(param, names),
        files=False if flag else _is_file(names, metavar),
        group=groups.get(param.name, ""),
    )


def _command(cmd: Any, path: tuple[str, ...], groups: dict[str, str]) -> Command:
    command = Command(path, _one_line(cmd.help))
    for param in cmd.params:
        if getattr(param, "hidden", False):
            continue
        if param.param_type_name == "argument":
            command.arguments.append(param.metavar or param.name.upper())
        else:
            option = _option(param, groups)
            if not path:
                option.group = "GLOBAL"
            command.options.append(option)
    command.options.append(HELP)
    for name, sub in getattr(cmd, "commands", {}).items():
        if not getattr(sub, "hidden", False):
            command.subcommands.append(_command(sub, (*path, name), groups))
    return command
