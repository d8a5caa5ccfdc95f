"""`glm config path|show|init`: the configuration in use.

- `path`: the config file glm reads (`--config`, else `GLM_CONFIG`, else
  `$XDG_CONFIG_HOME/glm/config.toml`), whether or not it exists.
- `show`: the effective settings and where each came from — a flag, an environment
  variable (named), the config file, or the built-in default. The key is shown as
  `set (from GLM_API_KEY)` or `not set`, never its value.
- `init`: writes a commented template (mode 0600, parent directory created, through
  `files.safe.write_atomically`); an existing file is kept unless `--force` (exit 2).

What a subcommand needs beyond this module is imported when it runs.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from glm_cli.core.errors import OutputError, UsageError
from glm_cli.output.sink import Sink
from glm_cli.output.terminal import Console, Env

if TYPE_CHECKING:
    from pathlib import Path

Action = Callable[[dict[str, Any], Env, Console], list[str]]


def run(name: str, given: dict[str, Any], env: Env, console: Console) -> None:
    """Run `glm config NAME`: its lines go to stdout through the one sink."""
    actions: dict[str, Action] = {
        "path": lambda given, env, console: [str(_path(given, env)[0])],
        "show": show,
        "init": init,
    }
    lines = actions[name](given, env, console)
    Sink(env.stdout).write("".join(line + "\n" for line in lines))


def _path(given: dict[str, Any], env: Env) -> tuple[Path, str]:
    """The config file in use, and what chose it."""
    from glm_cli.settings.config import config_path

    path, _ = config_path(given.get("config"), env.environ)
    if given.get("config"):
        return path, "--config"
    if env.environ.get("GLM_CONFIG"):
        return path, "GLM_CONFIG"
    if env.environ.get("XDG_CONFIG_HOME"):
        return path, "XDG_CONFIG_HOME"
    return path, ""


def _from(source: str, config_path: Path) -> str:
    """How `show` names a source: `from --model`, `from GLM_MODEL`, `from config file`."""
    if not source:
        return "default"
    prefix = f"{config_path}: "
    if source.startswith(prefix):
        return f"from config file, {source[len(prefix) :]}"
    if source == "[defaults]":
        return "from config file, defaults.endpoint"
    if source.startswith("providers."):
        return f"from config file, {source}"
    return f"from {source}"


def _value(value: Any) -> str:
    import json

    return value if isinstance(value, str) else json.dumps(value)


def show(given: dict[str, Any], env: Env, console: Console) -> list[str]:
    from glm_cli.cli.flags import Flags, net_options
    from glm_cli.net.options import DEFAULT_CONNECT_TIMEOUT, DEFAULT_READ_TIMEOUT
    from glm_cli.settings.config import load
    from glm_cli.settings.resolve import resolve

    path, path_source = _path(given, env)
    required = path_source in ("--config", "GLM_CONFIG")
    config, warnings = load(path, required)
    for warning in warnings:
        console.warn(warning)
    flags = Flags(given, config)
    settings = resolve(flags, env.environ, config)
    for warning in settings.warnings:
        console.warn(warning)
    sources = settings.sources
    endpoint = settings.endpoint
    provider = endpoint.provider
    built_in = provider.url is None

    rows: list[tuple[str, str, str]] = []
    exists = "" if config.exists else "; not found"
    rows.append(("config", str(path), _from(path_source, path) + exists))
    rows.append(("provider", provider.name, _from(sources["provider"], path)))
    rows.append(
        (
            "protocol",
            endpoint.protocol,
            _from(sources["protocol"], path)
            if sources["protocol"]
            else f"from provider {provider.name}",
        )
    )
    if sources["base_url"]:
        url_source = _from(sources["base_url"], path)
    elif built_in:
        url_source = f"from provider {provider.name}"
    else:
        url_source = f"from config file, providers.{provider.name}.url"
    rows.append(("url", endpoint.url, url_source))
    rows.append(("fallback", endpoint.fallback_url or "none", url_source))
    if provider.needs_endpoint or sources["endpoint"]:
        endpoint_value, _ = flags.lookup("endpoint")
        name = given.get("endpoint") or env.environ.get("CLOUDSWAY_ENDPOINT") or endpoint_value
        rows.append(("endpoint", str(name), _from(sources["endpoint"], path)))
    rows.append(("model", settings.model, _from(sources["model"], path)))
    key = settings.api_key
    if key.value is None:
        rows.append(("key", "not set", ""))
    else:
        source = key.source or ""
        if source.startswith("api_key in "):
            source = "config file, api_key"
        rows.append(("key", "set", f"from {source}"))

    net = net_options(flags)
    for name, label in (("timeout", "timeout"), ("max_time", "max-time"), ("retries", "retries")):
        _, source = flags.lookup(name)
        given_value = flags.cli(name) is not None or name.replace("_", "-") in config.defaults
        where = _from(source, path) if given_value else "default"
        if name == "timeout":
            text = (
                f"{net.timeout:g} s"
                if net.timeout is not None
                else f"{DEFAULT_CONNECT_TIMEOUT:g} s connect, {DEFAULT_READ_TIMEOUT:g} s read"
            )
        elif name == "max_time":
            text = f"{net.max_time:g} s" if net.max_time is not None else "none"
        else:
            text = str(net.retries)
        rows.append((label, text, where))
    for key_name in sorted(config.defaults):
        if key_name in ("timeout", "max-time", "retries", "endpoint"):
            continue
        rows.append((f"defaults.{key_name}", _value(config.defaults[key_name]), "from config file"))
    width = max(len(name) for name, _, _ in rows) + 2
    lines = []
    for name, value, where in rows:
        lines.append(f"{name:<{width}}{value}" + (f" ({where})" if where else ""))
    return lines


def template() -> str:
    """The commented template `glm config init` writes: valid TOML that sets nothing."""
    from glm_cli.settings.config import DEFAULTABLE_KEYS

    allowed = _wrap(", ".join(sorted(DEFAULTABLE_KEYS)), "#   ")
    return f"""\
# glm configuration (TOML), written by `glm config init`. See glm(1), FILES.
# Precedence everywhere: command-line flag > environment > this file > built-in default.
# Every setting below is commented out: remove the leading "# " to use one.

# The provider: evolink (the default), evolink-anthropic, cloudsway, or one of
# your own from [providers.NAME] below. GLM_PROVIDER and --provider beat it.
# provider = "evolink"

# The model (GLM_MODEL, --model, and a provider's own model beat it).
# model = "glm-5.2"

# The API key. --api-key-file, GLM_API_KEY and the provider's variable
# (EVOLINK_API_KEY, CLOUDSWAY_API_KEY) beat it. glm warns when others can read
# this file: keep it mode 0600.
# api_key = "sk-..."

# Default flags, by their long name without the dashes. Allowed here:
{allowed}
[defaults]
# effort = "high"
# think = true
# temperature = 0.2
# top-p = 0.9
# max-tokens = 4096
# stop = ["END"]
# stream = true
# system = "Answer briefly."
# show-thinking = false
# usage = false
# markdown = false
# quiet = false
# timeout = 30
# max-time = 600
# retries = 2

# Your own providers, beside the built-in ones: --provider local.
# [providers.local]
# protocol = "openai"
# url = "http://127.0.0.1:8000/v1/chat/completions"
# fallback_url = "http://127.0.0.1:8001/v1/chat/completions"
# key_env = "LOCAL_KEY"
# model = "glm-5.2"
"""


def _wrap(text: str, prefix: str, width: int = 80) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width, initial_indent=prefix, subsequent_indent=prefix))


def init(given: dict[str, Any], env: Env, console: Console) -> list[str]:
    """Write the template; a symlink at the path counts as a file, and `--force`
    replaces the link itself, never the file it points to."""
    from glm_cli.files.safe import refused, write_atomically

    path, _ = _path(given, env)
    if os.path.lexists(path) and not given.get("force"):
        raise UsageError(f"config file {path} already exists; use --force to overwrite it")
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_atomically(path, template().encode("utf-8"), 0o600)
    except OSError as error:
        reason = error.strerror or str(error)
        if refused(error):
            raise OutputError(f"cannot write the config file {path}: {reason}") from error
        raise UsageError(f"config file {path}: {reason}") from error
    return [str(path)]
