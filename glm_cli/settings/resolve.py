"""Which service, URL, model and key a run uses: flag > environment > config > default
(a template's `model`, SPEC §9, stands just below `--model`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import field
from typing import Any, Protocol

from glm_cli.core.errors import AuthError, UsageError
from glm_cli.core.records import record
from glm_cli.core.text import not_utf8
from glm_cli.core.validate import non_empty
from glm_cli.settings import config as config_file
from glm_cli.settings.config import ConfigFile
from glm_cli.settings.providers import (
    DEFAULT_MODEL,
    ApiKey,
    Endpoint,
    Provider,
    find_api_key,
    find_provider,
    missing_key_error,
    resolve_endpoint,
)


class Flags(Protocol):
    """What settings read of the command line (the `cli` layer's `Flags` is one)."""

    def cli(self, name: str) -> Any:
        """The value given on the command line, or None."""

    def lookup(self, name: str) -> tuple[Any, str]:
        """(value, source) from the command line, else a template, else `[defaults]`."""


@record
class Settings:
    config: ConfigFile
    provider: Provider
    endpoint: Endpoint
    model: str
    api_key: ApiKey
    warnings: list[str] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)
    """Where provider, protocol, base_url, endpoint and model came from ("" = default)."""

    def require_key(self) -> str:
        """The key to send, without surrounding whitespace (a pasted newline). It must
        be made of characters an HTTP header can carry: otherwise the HTTP library's
        error would quote the header, key and all, on stderr."""
        if self.api_key.value is None:
            raise self.missing_key()
        key = self.api_key.value.strip(" \t\r\n")
        for position, character in enumerate(key):
            if not "!" <= character <= "~":
                raise AuthError(
                    f"the API key from {self.api_key.source} holds a character that cannot "
                    f"be sent in an HTTP header (at position {position + 1}); check the key"
                )
        if not key:
            raise self.missing_key()
        return key

    def missing_key(self) -> AuthError:
        return missing_key_error(self.provider, self.config)


def _env(env: Mapping[str, str], name: str) -> str | None:
    """An environment variable's text; blank counts as not set, and bytes that are not
    UTF-8 are a usage error naming the variable."""
    value = env.get(name)
    if value is None or not value.strip():
        return None
    error = not_utf8(name, value)
    if error is not None:
        raise error
    return value


def _first(*candidates: tuple[str | None, str]) -> tuple[str | None, str]:
    for value, source in candidates:
        if value:
            return value, source
    return None, ""


def load_config(flags: Flags, env: Mapping[str, str]) -> tuple[ConfigFile, list[str]]:
    path, required = config_file.config_path(flags.cli("config"), env)
    return config_file.load(path, required)


def resolve(flags: Flags, env: Mapping[str, str], config: ConfigFile) -> Settings:
    """Everything about where the request goes; raises UsageError before any traffic."""
    provider_name, source = _first(
        (flags.cli("provider"), "--provider"),
        (_env(env, "GLM_PROVIDER"), "GLM_PROVIDER"),
        (config.provider, config.where("provider")),
    )
    provider = find_provider(provider_name or "evolink", config, source or "--provider")
    protocol, protocol_source = _first(
        (flags.cli("protocol"), "--protocol"), (_env(env, "GLM_PROTOCOL"), "GLM_PROTOCOL")
    )
    base_url, base_url_source = _first(
        (flags.cli("base_url"), "--base-url"), (_env(env, "GLM_BASE_URL"), "GLM_BASE_URL")
    )
    endpoint_default, default_source = flags.lookup("endpoint")  # a template or [defaults]
    endpoint_name, endpoint_source = _first(
        (flags.cli("endpoint"), "--endpoint"),
        (_env(env, "CLOUDSWAY_ENDPOINT"), "CLOUDSWAY_ENDPOINT"),
        (endpoint_default if isinstance(endpoint_default, str) else None, "[defaults]"),
    )
    if flags.cli("base_url") == "":
        raise UsageError("--base-url '': must not be empty")
    endpoint = resolve_endpoint(
        provider,
        protocol,
        base_url,
        endpoint_name,
        {
            "protocol": protocol_source,
            "base_url": base_url_source,
            "endpoint": default_source if endpoint_source == "[defaults]" else endpoint_source,
        },
    )
    model, model_source = _first(
        flags.lookup("model"),  # --model, else a template's model ([defaults] has none)
        (_env(env, "GLM_MODEL"), "GLM_MODEL"),
        (provider.model, f"providers.{provider.name}.model"),
        (config.model, config.where("model")),
    )
    if flags.cli("model") is not None:
        non_empty("--model", flags.cli("model"))
    api_key, warnings = find_api_key(provider, flags.cli("api_key_file"), env, config)
    sources = {
        "provider": source,
        "protocol": protocol_source,
        "base_url": base_url_source,
        "endpoint": endpoint_source,
        "model": model_source,
    }
    return Settings(config, provider, endpoint, model or DEFAULT_MODEL, api_key, warnings, sources)
