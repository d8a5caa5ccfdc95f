"""The configuration file (SPEC §2): where it is, what it may hold, and reading it.

No I/O happens at import. `load` returns a `ConfigFile` and a list of warnings
instead of printing, so the caller decides (and `--quiet` can silence them).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from dataclasses import field
from pathlib import Path
from typing import Any

from glm_cli.errors import UsageError
from glm_cli.records import record

TOP_LEVEL_KEYS = frozenset({"provider", "model", "api_key", "defaults", "providers"})
PROVIDER_KEYS = frozenset(
    {"protocol", "url", "fallback_url", "key_env", "model", "stream_usage"}
)
PROTOCOLS = ("openai", "anthropic")

# Flags whose default may come from `[defaults]`: the long name without dashes.
DEFAULTABLE_KEYS = frozenset(
    {
        "effort", "think", "temperature", "top-p", "top-k", "max-tokens", "greedy",
        "stop", "stream", "user-id", "system", "show-thinking", "usage", "sources",
        "quiet", "verbose", "timeout", "max-time", "retries", "endpoint", "pretty",
        "markdown",
    }
)


@record
class ConfigFile:
    path: Path
    exists: bool = False
    provider: str | None = None
    model: str | None = None
    api_key: str | None = None
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
    base = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME") or Path.home()) / ".config")
    return Path(base) / "glm" / "config.toml", False


def data_dir(env: Mapping[str, str]) -> Path:
    """Where the local store lives: `$GLM_HOME`, else `$XDG_DATA_HOME/glm`."""
    if env.get("GLM_HOME"):
        return Path(env["GLM_HOME"])
    base = env.get("XDG_DATA_HOME") or str(
        Path(env.get("HOME") or Path.home()) / ".local" / "share"
    )
    return Path(base) / "glm"


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
        warnings.append(
            f"{path} holds api_key and is readable by others; run: chmod 600 {path}"
        )
    return config, warnings


def _text(config: ConfigFile, key: str, value: object) -> str:
    if not isinstance(value, str) or not value:
        raise UsageError(f"{config.where(key)} must be non-empty text")
    return value


def _fill(config: ConfigFile, data: dict[str, Any]) -> None:
    for key in data:
        if key not in TOP_LEVEL_KEYS:
            raise UsageError(f"{config.where(key)}: unknown key")
    if "provider" in data:
        config.provider = _text(config, "provider", data["provider"])
    if "model" in data:
        config.model = _text(config, "model", data["model"])
    if "api_key" in data:
        config.api_key = _text(config, "api_key", data["api_key"])
    defaults = data.get("defaults", {})
    if not isinstance(defaults, dict):
        raise UsageError(f"{config.where('defaults')} must be a table")
    for key in defaults:
        if key not in DEFAULTABLE_KEYS:
            hint = " (set it at the top level)" if key in ("model", "provider") else ""
            raise UsageError(f"{config.where('defaults.' + key)}: unknown key{hint}")
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
        checked[key] = _text(config, f"{prefix}.{key}", value)
    if "url" not in checked:
        raise UsageError(f"{config.where(prefix + '.url')}: missing (the full endpoint URL)")
    protocol = checked.setdefault("protocol", "openai")
    if protocol not in PROTOCOLS:
        raise UsageError(
            f"{config.where(prefix + '.protocol')} {protocol!r}: must be openai or anthropic"
        )
    for key in ("url", "fallback_url"):
        if key in checked and not checked[key].startswith(("http://", "https://")):
            raise UsageError(f"{config.where(prefix + '.' + key)}: must be an http(s) URL")
    return checked


def environ() -> dict[str, str]:
    return dict(os.environ)
