"""SPEC §2: which provider, protocol, URL and model a run uses: flag > environment >
configuration file > default, for the built-in providers; the URL as a dry run
(`--dry-run`, nothing sent) shows it and the key it redacts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.config_helpers import (
    CLOUDSWAY_URL,
    CONFIG_KEY,
    EVOLINK_ANTHROPIC_URL,
    EVOLINK_KEY,
    EVOLINK_URL,
    FILE_KEY,
    authorization,
    default_config,
    dry_run,
    glm,
    header,
    model_sent,
    write,
)
from tests.fake_service import FakeService
from tests.helpers import SECRET, assert_usage_error

# --- built-in providers ------------------------------------------------------------------


@pytest.mark.usefixtures("no_base_url")
@pytest.mark.parametrize(
    ("args", "url"),
    [
        ([], EVOLINK_URL),
        (["--provider", "evolink"], EVOLINK_URL),
        (["--provider", "evolink-anthropic"], EVOLINK_ANTHROPIC_URL),
        (["--protocol", "anthropic"], EVOLINK_ANTHROPIC_URL),
        (["--provider", "evolink-anthropic", "--protocol", "openai"], EVOLINK_URL),
        (
            ["--provider", "cloudsway", "--endpoint", "ep-one"],
            CLOUDSWAY_URL.format(endpoint="ep-one"),
        ),
    ],
)
def test_built_in_provider_urls(args: list[str], url: str) -> None:
    document = dry_run(*args)
    assert document["method"] == "POST"
    assert document["url"] == url
    assert header(document["headers"], "Content-Type") == "application/json"
    assert header(document["headers"], "Authorization") == "Bearer ***"
    assert document["body"]["model"] == "glm-5.2"


@pytest.mark.usefixtures("no_base_url")
def test_cloudsway_endpoint_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLOUDSWAY_ENDPOINT", "ep-env")
    assert dry_run("--provider", "cloudsway")["url"] == CLOUDSWAY_URL.format(endpoint="ep-env")


@pytest.mark.usefixtures("no_base_url")
def test_endpoint_flag_beats_cloudsway_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLOUDSWAY_ENDPOINT", "ep-env")
    document = dry_run("--provider", "cloudsway", "--endpoint", "ep-flag")
    assert document["url"] == CLOUDSWAY_URL.format(endpoint="ep-flag")


@pytest.mark.usefixtures("no_base_url")
def test_cloudsway_without_an_endpoint_is_a_usage_error(service: FakeService) -> None:
    assert_usage_error(glm("ask", "--provider", "cloudsway", "hi"), service, "endpoint")


@pytest.mark.usefixtures("no_base_url")
def test_cloudsway_without_an_endpoint_fails_a_dry_run_too(service: FakeService) -> None:
    assert_usage_error(
        glm("ask", "--dry-run", "--provider", "cloudsway", "hi"), service, "endpoint"
    )


@pytest.mark.usefixtures("no_base_url")
@pytest.mark.parametrize(
    ("variable", "value", "url"),
    [
        ("GLM_PROVIDER", "evolink-anthropic", EVOLINK_ANTHROPIC_URL),
        ("GLM_PROTOCOL", "anthropic", EVOLINK_ANTHROPIC_URL),
    ],
)
def test_provider_and_protocol_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, url: str
) -> None:
    monkeypatch.setenv(variable, value)
    assert dry_run()["url"] == url


@pytest.mark.usefixtures("no_base_url")
def test_provider_flag_beats_glm_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GLM_PROVIDER", "evolink-anthropic")
    assert dry_run("--provider", "evolink")["url"] == EVOLINK_URL


@pytest.mark.usefixtures("no_base_url")
def test_protocol_flag_beats_glm_protocol(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GLM_PROTOCOL", "anthropic")
    assert dry_run("--protocol", "openai")["url"] == EVOLINK_URL


@pytest.mark.usefixtures("no_base_url")
def test_config_provider_is_the_default(glm_env: dict[str, str]) -> None:
    write(default_config(glm_env), 'provider = "evolink-anthropic"\n')
    assert dry_run()["url"] == EVOLINK_ANTHROPIC_URL


@pytest.mark.usefixtures("no_base_url")
def test_glm_provider_beats_the_config_provider(
    glm_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    write(default_config(glm_env), 'provider = "evolink-anthropic"\n')
    monkeypatch.setenv("GLM_PROVIDER", "evolink")
    assert dry_run()["url"] == EVOLINK_URL


@pytest.mark.parametrize(
    ("how", "fragment"),
    [("flag", "no-such-provider"), ("env", "no-such-provider"), ("config", "no-such-provider")],
)
def test_unknown_provider_is_a_usage_error(
    glm_env: dict[str, str],
    service: FakeService,
    monkeypatch: pytest.MonkeyPatch,
    how: str,
    fragment: str,
) -> None:
    args = ["ask", "hi"]
    if how == "flag":
        args = ["ask", "--provider", "no-such-provider", "hi"]
    elif how == "env":
        monkeypatch.setenv("GLM_PROVIDER", "no-such-provider")
    else:
        write(default_config(glm_env), 'provider = "no-such-provider"\n')
    assert_usage_error(glm(*args), service, fragment)


def test_unknown_protocol_is_a_usage_error(glm_env: dict[str, str], service: FakeService) -> None:
    assert_usage_error(glm("ask", "--protocol", "grpc", "hi"), service, "--protocol", "grpc")


# --- base URL ---------------------------------------------------------------------------


@pytest.mark.usefixtures("no_base_url")
@pytest.mark.parametrize(
    ("args", "url"),
    [
        (["--base-url", "http://127.0.0.1:8080"], "http://127.0.0.1:8080/v1/chat/completions"),
        (["--base-url", "http://127.0.0.1:8080/"], "http://127.0.0.1:8080/v1/chat/completions"),
        (["--base-url", "https://gw.example/glm"], "https://gw.example/glm/v1/chat/completions"),
        (["--base-url", "https://gw.example/glm/"], "https://gw.example/glm/v1/chat/completions"),
        (
            ["--base-url", "http://127.0.0.1:8080", "--protocol", "anthropic"],
            "http://127.0.0.1:8080/v1/messages",
        ),
        (
            ["--base-url", "http://127.0.0.1:8080/", "--provider", "evolink-anthropic"],
            "http://127.0.0.1:8080/v1/messages",
        ),
        (
            ["--base-url", "http://127.0.0.1:8080", "--provider", "cloudsway", "--endpoint", "e1"],
            "http://127.0.0.1:8080/v1/ai/e1/chat/completions",
        ),
    ],
)
def test_base_url_flag_gets_the_protocol_path(args: list[str], url: str) -> None:
    assert dry_run(*args)["url"] == url


@pytest.mark.usefixtures("no_base_url")
@pytest.mark.parametrize("value", ["http://10.0.0.9:9000", "http://10.0.0.9:9000/"])
def test_glm_base_url_gets_the_protocol_path(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("GLM_BASE_URL", value)
    assert dry_run()["url"] == "http://10.0.0.9:9000/v1/chat/completions"
    assert dry_run("--protocol", "anthropic")["url"] == "http://10.0.0.9:9000/v1/messages"


@pytest.mark.usefixtures("no_base_url")
def test_base_url_flag_beats_glm_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GLM_BASE_URL", "http://env.example")
    document = dry_run("--base-url", "http://flag.example")
    assert document["url"] == "http://flag.example/v1/chat/completions"


@pytest.mark.parametrize(
    ("args", "path"),
    [
        ([], "/v1/chat/completions"),
        (["--protocol", "anthropic"], "/v1/messages"),
        (["--provider", "evolink-anthropic"], "/v1/messages"),
        (["--provider", "cloudsway", "--endpoint", "my-ep"], "/v1/ai/my-ep/chat/completions"),
    ],
)
def test_requests_reach_the_base_url_with_the_protocol_path(
    glm_env: dict[str, str], service: FakeService, args: list[str], path: str
) -> None:
    result = glm("ask", *args, "hi")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "Hello from the fake service.\n"
    assert [request.path for request in service.requests] == [path]
    assert service.requests[0].headers.get("Content-Type", "").startswith("application/json")
    assert authorization(service) == f"Bearer {SECRET}"


# --- dry run ----------------------------------------------------------------------------


def test_dry_run_redacts_the_key_and_sends_nothing(
    glm_env: dict[str, str], service: FakeService
) -> None:
    result = glm("ask", "--dry-run", "hi")
    assert result.exit_code == 0, result.stderr
    assert SECRET not in result.stdout
    document = json.loads(result.stdout)
    assert set(document) == {"method", "url", "headers", "body"}
    assert header(document["headers"], "Authorization") == "Bearer ***"
    assert document["url"] == f"{service.url}/v1/chat/completions"
    assert document["body"] == {
        "model": "glm-5.2",
        "messages": [{"role": "user", "content": "hi"}],
        "stream": True,
    }
    assert service.requests == []


@pytest.mark.parametrize("source", ["key-file", "evolink", "config"])
def test_dry_run_redacts_a_key_from_any_source(
    glm_env: dict[str, str],
    service: FakeService,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    source: str,
) -> None:
    monkeypatch.delenv("GLM_API_KEY")
    args = ["ask", "--dry-run", "--debug", "--verbose", "hi"]
    if source == "key-file":
        args[1:1] = ["--api-key-file", str(write(tmp_path / "key", FILE_KEY + "\n"))]
    elif source == "evolink":
        monkeypatch.setenv("EVOLINK_API_KEY", EVOLINK_KEY)
    else:
        write(default_config(glm_env), f'api_key = "{CONFIG_KEY}"\n')
    result = glm(*args)
    assert result.exit_code == 0, result.stderr
    assert header(json.loads(result.stdout)["headers"], "Authorization") == "Bearer ***"
    assert service.requests == []


def test_dry_run_needs_no_key(
    glm_env: dict[str, str], service: FakeService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GLM_API_KEY")
    result = glm("ask", "--dry-run", "hi")
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert header(document["headers"], "Authorization") is None
    assert service.requests == []


# --- the model -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("layers", "expected"),
    [
        ({"flag", "env", "provider", "top"}, "flag-model"),
        ({"env", "provider", "top"}, "env-model"),
        ({"provider", "top"}, "provider-model"),
        ({"top"}, "top-model"),
        (set(), "glm-5.2"),
    ],
)
def test_model_precedence(
    glm_env: dict[str, str],
    service: FakeService,
    monkeypatch: pytest.MonkeyPatch,
    layers: set[str],
    expected: str,
) -> None:
    text = 'model = "top-model"\n' if "top" in layers else ""
    text += f'[providers.local]\nurl = "{service.url}/v1/chat/completions"\n'
    if "provider" in layers:
        text += 'model = "provider-model"\n'
    write(default_config(glm_env), text)
    monkeypatch.delenv("GLM_BASE_URL")
    if "env" in layers:
        monkeypatch.setenv("GLM_MODEL", "env-model")
    args = ["ask", "--provider", "local", "hi"]
    if "flag" in layers:
        args[1:1] = ["--model", "flag-model"]
    result = glm(*args)
    assert result.exit_code == 0, result.stderr
    assert model_sent(service) == expected


def test_another_providers_model_is_not_used(glm_env: dict[str, str], service: FakeService) -> None:
    write(
        default_config(glm_env),
        'model = "top-model"\n[providers.local]\nurl = "http://127.0.0.1:9/v1/chat/completions"\n'
        'model = "local-model"\n',
    )
    result = glm("ask", "hi")
    assert result.exit_code == 0, result.stderr
    assert model_sent(service) == "top-model"
