"""Providers (SPEC §2): the built-in table, own providers from the config, URLs and keys."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from glm_cli.core.errors import AuthError, UsageError
from glm_cli.core.records import record
from glm_cli.settings.config import PROTOCOLS, ConfigFile, readable_by_others
from glm_cli.settings.urls import bad_character, check_url

PROTOCOL_PATHS = {"openai": "/v1/chat/completions", "anthropic": "/v1/messages"}
CLOUDSWAY_PATH = "/v1/ai/{endpoint}/chat/completions"
DEFAULT_MODEL = "glm-5.2"


@record
class Provider:
    name: str
    protocol: str
    key_env: str | None
    root: str | None = None
    fallback_root: str | None = None
    url: str | None = None
    fallback_url: str | None = None
    model: str | None = None
    needs_endpoint: bool = False
    stream_usage: bool = False
    """Accepts `stream_options: {"include_usage": true}` (OpenAI protocol): own
    providers unless `stream_usage = false`; the built-in ones' documents lack it."""


BUILT_IN: dict[str, Provider] = {
    "evolink": Provider(
        "evolink",
        "openai",
        "EVOLINK_API_KEY",
        root="https://direct.evolink.ai",
        fallback_root="https://api.evolink.ai",
    ),
    "evolink-anthropic": Provider(
        "evolink-anthropic",
        "anthropic",
        "EVOLINK_API_KEY",
        root="https://direct.evolink.ai",
        fallback_root="https://api.evolink.ai",
    ),
    "cloudsway": Provider(
        "cloudsway",
        "openai",
        "CLOUDSWAY_API_KEY",
        root="https://genaiapi-m2.cloudsway.net",
        needs_endpoint=True,
    ),
}


@record
class Endpoint:
    provider: Provider
    protocol: str
    url: str
    fallback_url: str | None


def known_providers(config: ConfigFile) -> list[str]:
    return sorted(set(BUILT_IN) | set(config.providers))


def find_provider(name: str, config: ConfigFile, source: str) -> Provider:
    if name in config.providers:
        table = config.providers[name]
        return Provider(
            name,
            table["protocol"],
            table.get("key_env"),
            url=table["url"],
            fallback_url=table.get("fallback_url"),
            model=table.get("model"),
            stream_usage=table.get("stream_usage", "true") == "true",
        )
    if name in BUILT_IN:
        return BUILT_IN[name]
    raise UsageError(
        f"{source} {name!r}: unknown provider; known: {', '.join(known_providers(config))}"
    )


def resolve_endpoint(
    provider: Provider,
    protocol: str | None,
    base_url: str | None,
    endpoint: str | None,
    sources: Mapping[str, str] | None = None,
) -> Endpoint:
    """The URL to call (and its fallback) for this provider, protocol and overrides.

    `sources` names where `protocol`, `base_url` and `endpoint` came from (a flag or
    an environment variable), for the messages.
    """
    sources = sources or {}
    if protocol is not None and protocol not in PROTOCOLS:
        where = sources.get("protocol") or "--protocol"
        raise UsageError(f"{where} {protocol!r}: must be openai or anthropic")
    protocol = protocol or provider.protocol
    path = PROTOCOL_PATHS[protocol]
    if provider.needs_endpoint:
        if protocol != "openai":
            raise UsageError(f"provider {provider.name!r} speaks only the openai protocol")
        if not endpoint:
            raise UsageError(
                f"provider {provider.name!r} needs an endpoint: "
                "give --endpoint NAME or set CLOUDSWAY_ENDPOINT"
            )
        _check_endpoint_name(sources.get("endpoint") or "--endpoint", endpoint)
        path = CLOUDSWAY_PATH.format(endpoint=endpoint)
    if base_url:
        check_url(sources.get("base_url") or "--base-url", base_url, root=True)
        return Endpoint(provider, protocol, base_url.rstrip("/") + path, None)
    if provider.url is not None:
        if protocol != provider.protocol:
            raise UsageError(
                f"provider {provider.name!r} is configured for the {provider.protocol} "
                f"protocol, not {protocol}"
            )
        return Endpoint(provider, protocol, provider.url, provider.fallback_url)
    assert provider.root is not None
    fallback = provider.fallback_root + path if provider.fallback_root else None
    return Endpoint(provider, protocol, provider.root + path, fallback)


def _check_endpoint_name(source: str, name: str) -> None:
    """The `{endpoint}` goes into the URL's path: one path segment, nothing else."""
    if bad_character(name) is not None or any(mark in name for mark in "/?#%\\"):
        raise UsageError(
            f"{source} {name!r}: must be an endpoint name "
            "(no '/', '?', '#', '%', space or control character)"
        )


@record
class ApiKey:
    value: str | None
    source: str | None
    """Where the key came from, for messages: never the key itself."""


def find_api_key(
    provider: Provider, key_file: str | None, env: Mapping[str, str], config: ConfigFile
) -> tuple[ApiKey, list[str]]:
    """The key, first found wins: --api-key-file, GLM_API_KEY, the provider's variable, config."""
    warnings: list[str] = []
    if key_file:
        path = Path(key_file)
        try:
            value = path.read_text(encoding="utf-8").rstrip("\r\n")
        except (OSError, UnicodeDecodeError) as error:
            reason = getattr(error, "strerror", None) or "cannot be read as UTF-8 text"
            raise UsageError(f"--api-key-file {key_file!r}: {reason}") from error
        if not value.strip():
            raise UsageError(f"--api-key-file {key_file!r}: the file is empty")
        if readable_by_others(path):
            warnings.append(f"key file {key_file} is readable by others; run: chmod 600 {key_file}")
        return ApiKey(value, "--api-key-file"), warnings
    for variable in ("GLM_API_KEY", provider.key_env):
        if variable and env.get(variable, "").strip():  # a blank one is not set
            return ApiKey(env[variable], variable), warnings
    if config.api_key and config.api_key.strip():
        return ApiKey(config.api_key, f"api_key in {config.path}"), warnings
    return ApiKey(None, None), warnings


def missing_key_error(provider: Provider, config: ConfigFile) -> AuthError:
    variable = f"GLM_API_KEY or {provider.key_env}" if provider.key_env else "GLM_API_KEY"
    return AuthError(
        f"no API key for provider {provider.name!r}: set {variable}, "
        f"put api_key in {config.path}, or pass --api-key-file PATH"
    )
