"""The configuration file (SPEC §2): where it is, what it may hold, and reading it.

No I/O happens at import. `load` returns a `ConfigFile` and a list of warnings
instead of printing, so the caller decides (and `--quiet` can silence them).
"""

from __future__ import annotations

import stat
from collections.abc import Callable, Mapping
from dataclasses import field
from pathlib import Path
from typing import Any

from glm_cli.core import validate
from glm_cli.core.errors import UsageError
from glm_cli.core.records import record
from glm_cli.settings.urls import check_url

TOP_LEVEL_KEYS = frozenset(
    {"provider", "model", "api_key", "defaults", "providers", "log", "cache"}
)
PROVIDER_KEYS = frozenset({"protocol", "url", "fallback_url", "key_env", "model", "stream_usage"})
PROTOCOLS = ("openai", "anthropic")

Check = Callable[[str, Any], Any]


def _text(source: str, value: object) -> str:
    if not isinstance(value, str):
        raise UsageError(f"{source} {value!r}: must be text")
    return value


def _range(check: Callable[..., Any], *bounds: Any) -> Check:
    return lambda source, value: check(source, value, *bounds)


# Flags whose default may come from `[defaults]` (the long name without dashes), each
# with the check of its TOML value. Each is checked again, with the same source,
# where it is used; checking here too means no TOML type reaches any other code.
DEFAULT_CHECKS: dict[str, Check] = {
    "effort": _range(validate.choice, validate.EFFORTS),
    "think": validate.boolean,
    "temperature": _range(validate.two_decimals, 0.0, 1.0),
    "top-p": _range(validate.two_decimals, 0.0, 1.0),
    "top-k": _range(validate.integer, 0, validate.MAX_TOP_K),
    "max-tokens": _range(validate.integer, 1),  # the ceiling is the model's: cli.flags
    "greedy": validate.boolean,
    "stop": validate.stops,
    "stream": validate.boolean,
    "user-id": _range(validate.text_length, 6, 128),
    "system": _text,
    "show-thinking": validate.boolean,
    "usage": validate.boolean,
    "sources": validate.boolean,
    "quiet": validate.boolean,
    "verbose": validate.boolean,
    "timeout": validate.seconds,
    "max-time": validate.seconds,
    "retries": _range(validate.integer, 0, 10),
    "endpoint": validate.non_empty,
    "pretty": validate.boolean,
    "markdown": validate.boolean,
}
DEFAULTABLE_KEYS = frozenset(DEFAULT_CHECKS)


@record
class ConfigFile:
    path: Path
    exists: bool = False
    provider: str | None = None
    model: str | None = None
    api_key: str | None = None
    log: bool | None = None
    """`log = false`: record no exchange (SPEC §7.1)."""
    cache: bool | None = None
    """`cache = true`: `--cache` on every request command (SPEC §7.2)."""
    defaults: dict[str, Any] = field(default_factory=dict)
    providers: dict[str, dict[str, str]] = field(default_factory=dict)

    def where(self, key: str) -> str:
        """How a message names one of this file's keys: `PATH: defaults.temperature`."""
        return f"{self.path}: {key}"


def config_path(flag: str | None, env: Mapping[str, str]) -> tuple[Path, bool]:
    """The file in use and whether the user named it (then it must exist)."""
    if flag:
        return Path(flag), True
    if env.get("GLM_CONFIG"):
        return Path(env["GLM_CONFIG"]), True
    return config_dir(env) / "config.toml", False


def config_dir(env: Mapping[str, str]) -> Path:
    """glm's folder of configuration: `$XDG_CONFIG_HOME/glm`, default `~/.config/glm`."""
    base = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME") or Path.home()) / ".config")
    return Path(base) / "glm"


def data_dir(env: Mapping[str, str]) -> Path:
    """Where the local store lives: `$GLM_HOME`, else `$XDG_DATA_HOME/glm`."""
    if env.get("GLM_HOME"):
        return Path(env["GLM_HOME"])
    base = env.get("XDG_DATA_HOME") or str(
        Path(env.get("HOME") or Path.home()) / ".local" / "share"
    )
    return Path(base) / "glm"


STORE_NAME = "glm.db"


def store_path(env: Mapping[str, str]) -> Path:
    """The local store (sessions, the log, the cache): `data_dir` / glm.db."""
    return data_dir(env) / STORE_NAME


def readable_by_others(path: Path) -> bool:
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return bool(mode & (stat.S_IRGRP | stat.S_IROTH))


def load(path: Path, required: bool) -> tuple[ConfigFile, list[str]]:
    """Read and check the file; a missing file is an empty config unless `required`."""
    config = ConfigFile(path=path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError as error:
        if required:
            raise UsageError(f"config file {path}: not found") from error
        return config, []
    except OSError as error:
        raise UsageError(f"config file {path}: {error.strerror or error}") from error
    import tomllib  # only when there is a file to read: it costs start-up time

    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise UsageError(
            f"config file {path}: not valid UTF-8 (byte offset {error.start})"
        ) from error
    except tomllib.TOMLDecodeError as error:
        raise UsageError(f"config file {path}: malformed TOML: {error}") from error
    config.exists = True
    _fill(config, data)
    warnings = []
    if config.api_key and readable_by_others(path):
        warnings.append(f"{path} holds api_key and is readable by others; run: chmod 600 {path}")
    return config, warnings


def _non_empty(config: ConfigFile, key: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise UsageError(f"{config.where(key)} must be non-empty text")
    return value


def _fill(config: ConfigFile, data: dict[str, Any]) -> None:
    for key in data:
        if key not in TOP_LEVEL_KEYS:
            raise UsageError(f"{config.where(key)}: unknown key")
    if "provider" in data:
        config.provider = _non_empty(config, "provider", data["provider"])
    if "model" in data:
        config.model = _non_empty(config, "model", data["model"])
    if "api_key" in data:  # blank is allowed: it counts as not set
        config.api_key = _text(config.where("api_key"), data["api_key"])
    for key in ("log", "cache"):
        if key in data:
            if not isinstance(data[key], bool):
                raise UsageError(f"{config.where(key)}: must be true or false")
            setattr(config, key, data[key])
    defaults = data.get("defaults", {})
    if not isinstance(defaults, dict):
        raise UsageError(f"{config.where('defaults')} must be a table")
    for key in defaults:
        if key not in DEFAULTABLE_KEYS:
            hint = " (set it at the top level)" if key in ("model", "provider") else ""
            raise UsageError(f"{config.where('defaults.' + key)}: unknown key{hint}")
        DEFAULT_CHECKS[key](config.where(f"defaults.{key}"), defaults[key])
    config.defaults = dict(defaults)
    providers = data.get("providers", {})
    if not isinstance(providers, dict):
        raise UsageError(f"{config.where('providers')} must be a table")
    for name, table in providers.items():
        config.providers[name] = _provider_table(config, name, table)


def _provider_table(config: ConfigFile, name: str, table: object) -> dict[str, str]:
    prefix = f"providers.{name}"
    if not isinstance(table, dict):
        raise UsageError(f"{config.where(prefix)} must be a table")
    checked: dict[str, str] = {}
    for key, value in table.items():
        if key not in PROVIDER_KEYS:
            raise UsageError(f"{config.where(prefix + '.' + key)}: unknown key")
        if key == "stream_usage":  # kept as "true"/"false" beside the text keys
            if not isinstance(value, bool):
                raise UsageError(f"{config.where(prefix + '.' + key)}: must be true or false")
            checked[key] = "true" if value else "false"
            continue
        checked[key] = _non_empty(config, f"{prefix}.{key}", value)
    if "url" not in checked:
        raise UsageError(f"{config.where(prefix + '.url')}: missing (the full endpoint URL)")
    protocol = checked.setdefault("protocol", "openai")
    if protocol not in PROTOCOLS:
        raise UsageError(
            f"{config.where(prefix + '.protocol')} {protocol!r}: must be openai or anthropic"
        )
    for key in ("url", "fallback_url"):
        if key in checked:
            check_url(config.where(f"{prefix}.{key}"), checked[key])
    return checked
