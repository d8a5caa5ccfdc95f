"""Prompt templates (SPEC §9): finding, checking and filling `NAME.toml` files.

A template lives in `$XDG_CONFIG_HOME/glm/templates` (`config.config_dir`), or at a
path: a value holding `/` or ending in `.toml` is a path, anything else a name.
Every key is checked when the file is read, with the file and the key named, by
the very checks of `[defaults]` (`config.DEFAULT_CHECKS`). Filling is one pass over
the template's own text, so what goes in (the prompt, a parameter's value) is never
read again: braces in it stay as they are.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import field
from pathlib import Path
from typing import Any

from glm_cli.core import validate
from glm_cli.core.errors import UsageError
from glm_cli.core.records import record
from glm_cli.settings.config import DEFAULT_CHECKS, config_dir

INPUT = "input"
"""The placeholder that the command's own prompt fills."""
TEXT_KEYS = ("prompt", "system")
OWN_KEYS = frozenset({*TEXT_KEYS, "model", "schema", "extract"})
TEMPLATE_KEYS = OWN_KEYS | frozenset(DEFAULT_CHECKS)
SUFFIX = ".toml"

_PIECE = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_-]*)\}")
"""`{{`, `}}` or a placeholder; any other brace is literal text."""
_PARAM_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


@record
class Template:
    path: Path
    prompt: str | None = None
    system: str | None = None
    model: str | None = None
    schema: dict[str, Any] | bool | Path | None = None
    """An inline schema (a TOML table), or the file a string named."""
    settings: dict[str, Any] = field(default_factory=dict)
    """Flag defaults by their `[defaults]` names (`max-tokens`), `extract` as the flags
    it stands for (`extract`, `extract-last`, `extract-lang`)."""

    def where(self, key: str) -> str:
        """How a message names one of this file's keys: `PATH: max-tokens`."""
        return f"template {self.path}: {key}"

    @property
    def has_input(self) -> bool:
        """Whether the command's prompt has a place in the template's prompt."""
        return self.prompt is None or INPUT in placeholders(self.prompt)

    def names(self) -> set[str]:
        """The parameters the template's text asks for (not `input`)."""
        found: set[str] = set()
        for text in (self.prompt, self.system):
            if text is not None:
                found |= placeholders(text)
        found.discard(INPUT)
        return found


def templates_dir(env: Mapping[str, str]) -> Path:
    return config_dir(env) / "templates"


def is_path(value: str) -> bool:
    return "/" in value or value.endswith(SUFFIX)


def template_path(value: str, env: Mapping[str, str]) -> Path:
    """The file `-T VALUE` names; a name is checked (no dot first, no control
    characters), a path is taken as given."""
    if is_path(value):
        return Path(value)
    if not value or value.startswith(".") or any(ord(c) < 32 for c in value):
        raise UsageError(f"--template {value!r}: not a template name (or a path to a .toml file)")
    return templates_dir(env) / (value + SUFFIX)


def names(env: Mapping[str, str]) -> list[str]:
    """The templates of the folder, sorted; none when it does not exist."""
    try:
        entries = list(templates_dir(env).iterdir())
    except OSError:
        return []
    return sorted(
        entry.name.removesuffix(SUFFIX)
        for entry in entries
        if entry.name.endswith(SUFFIX)
        and not entry.name.startswith(".")
        and not any(ord(c) < 32 for c in entry.name)  # one name a line, always
        and entry.is_file()
    )


def read_text(value: str, env: Mapping[str, str]) -> tuple[Path, str]:
    """The template file's path and text; a missing one is a usage error naming it."""
    path = template_path(value, env)
    try:
        data = path.read_bytes()
    except FileNotFoundError as error:
        raise UsageError(f"template {value!r}: not found ({path})") from error
    except OSError as error:
        raise UsageError(f"template {path}: {error.strerror or error}") from error
    try:
        return path, data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise UsageError(f"template {path}: not valid UTF-8 (byte offset {error.start})") from error


def load(value: str, env: Mapping[str, str]) -> Template:
    """Read and check the template `-T VALUE` names."""
    path, text = read_text(value, env)
    import tomllib  # only when a template is used: it costs start-up time

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise UsageError(f"template {path}: malformed TOML: {error}") from error
    template = Template(path=path)
    for key, item in data.items():
        if key not in TEMPLATE_KEYS:
            raise UsageError(f"{template.where(key)}: unknown key")
        if key in OWN_KEYS:
            _own_key(template, key, item)
        else:
            DEFAULT_CHECKS[key](template.where(key), item)
            template.settings[key] = item
    return template


def _own_key(template: Template, key: str, value: Any) -> None:
    where = template.where(key)
    if key in TEXT_KEYS:
        if not isinstance(value, str):
            raise UsageError(f"{where}: must be text")
        if key == "system" and INPUT in placeholders(value):
            raise UsageError(f"{where}: {{input}} has its place in prompt, not in system")
        setattr(template, key, value)
    elif key == "model":
        template.model = validate.non_empty(where, value)
    elif key == "schema":
        template.schema = _schema(template, value)
    else:
        template.settings.update(_extract(where, value))


def _schema(template: Template, value: Any) -> dict[str, Any] | bool | Path:
    """A table is the schema itself; a string a JSON file, relative to the template's
    folder (so a template works from any directory)."""
    if isinstance(value, dict | bool):
        return value
    if isinstance(value, str) and value.strip():
        return template.path.parent / Path(value).expanduser()
    raise UsageError(f"{template.where('schema')}: must be a table (the schema) or a file name")


def _extract(where: str, value: Any) -> dict[str, Any]:
    """`extract = true` is -x, `"last"` --extract-last, any other text --extract-lang."""
    if isinstance(value, bool):
        return {"extract": value}
    if isinstance(value, str) and value.strip():
        if value.strip() == "last":
            return {"extract-last": True}
        if value.strip() == "first":
            return {"extract": True}
        return {"extract-lang": value.strip()}
    raise UsageError(f'{where}: must be true, false, "first", "last" or a language')


def placeholders(text: str) -> set[str]:
    return {match.group(1) for match in _PIECE.finditer(text) if match.group(1)}


def fill(text: str, params: Mapping[str, str], where: str, input: str | None = None) -> str:
    """`text` with each `{name}` replaced by its value, `{{`/`}}` by one brace; a
    missing parameter is a usage error naming it."""

    def piece(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:
            return match.group(0)[0]
        if name == INPUT and input is not None:
            return input
        if name in params:
            return params[name]
        raise UsageError(f"{where}: missing parameter {{{name}}} (give -p {name}=VALUE)")

    return _PIECE.sub(piece, text)


def render_prompt(template: Template, params: Mapping[str, str], prompt: str) -> str:
    """The prompt to send: the command's own `prompt` in the template's `{input}`, or
    after the template's text and a blank line when it has no `{input}`."""
    if template.prompt is None:
        return prompt
    if INPUT in placeholders(template.prompt):
        return fill(template.prompt, params, template.where("prompt"), prompt)
    text = fill(template.prompt, params, template.where("prompt"))
    return f"{text}\n\n{prompt}" if prompt.strip() else text


def render_system(template: Template, params: Mapping[str, str]) -> str | None:
    if template.system is None:
        return None
    return fill(template.system, params, template.where("system"))


def parse_params(given: list[str]) -> dict[str, str]:
    """`-p KEY=VALUE`, repeatable; a later KEY replaces an earlier one."""
    params: dict[str, str] = {}
    for item in given:
        key, equals, text = item.partition("=")
        if not equals:
            raise UsageError(f"--param {item!r}: must be KEY=VALUE")
        check_param_name(f"--param {item!r}", key)
        params[key] = text
    return params


def check_param_name(source: str, key: str) -> None:
    if key == INPUT:
        raise UsageError(f"{source}: {{input}} is the command's own prompt, not a parameter")
    if not _PARAM_NAME.fullmatch(key):
        raise UsageError(
            f"{source}: a parameter name is letters, digits, _ and -, not starting with a digit"
        )
