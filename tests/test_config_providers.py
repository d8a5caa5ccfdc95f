"""SPEC §2: providers of one's own, `[providers.NAME]` in the configuration file: their
URL, fallback URL, protocol and key variable, and how they are chosen."""

from __future__ import annotations

import pytest

from tests.config_helpers import (
    EVOLINK_KEY,
    LOCAL_KEY,
    authorization,
    default_config,
    dry_run,
    glm,
    own_provider,
    write,
)
from tests.fake_service import FakeService, Reply, Status
from tests.helpers import SECRET, assert_one_error

# --- own providers ---------------------------------------------------------------------------


def test_own_provider_url_is_used_as_given(
    glm_env: dict[str, str], service: FakeService, monkeypatch: pytest.MonkeyPatch
) -> None:
    own_provider(glm_env, monkeypatch, f'url = "{service.url}/v1/ai/own/chat/completions"\n')
    result = glm("ask", "--provider", "local", "hi")
    assert result.exit_code == 0, result.stderr
    assert [request.path for request in service.requests] == ["/v1/ai/own/chat/completions"]
    assert service.requests[0].json["messages"] == [{"role": "user", "content": "hi"}]


def test_own_provider_dry_run_shows_its_url(
    glm_env: dict[str, str], service: FakeService, monkeypatch: pytest.MonkeyPatch
) -> None:
    own_provider(glm_env, monkeypatch, 'url = "http://10.1.2.3:8000/v1/chat/completions"\n')
    assert dry_run("--provider", "local")["url"] == "http://10.1.2.3:8000/v1/chat/completions"


@pytest.mark.parametrize(("glm_key", "expected"), [(False, LOCAL_KEY), (True, SECRET)])
def test_own_provider_key_env(
    glm_env: dict[str, str],
    service: FakeService,
    monkeypatch: pytest.MonkeyPatch,
    glm_key: bool,
    expected: str,
) -> None:
    own_provider(
        glm_env,
        monkeypatch,
        f'url = "{service.url}/v1/chat/completions"\nkey_env = "LOCAL_KEY"\n',
    )
    if not glm_key:
        monkeypatch.delenv("GLM_API_KEY")
    monkeypatch.setenv("LOCAL_KEY", LOCAL_KEY)
    monkeypatch.setenv("EVOLINK_API_KEY", EVOLINK_KEY)
    result = glm("ask", "--provider", "local", "hi")
    assert result.exit_code == 0, result.stderr
    assert authorization(service) == f"Bearer {expected}"


def test_own_provider_missing_key_names_its_key_env(
    glm_env: dict[str, str], service: FakeService, monkeypatch: pytest.MonkeyPatch
) -> None:
    own_provider(
        glm_env,
        monkeypatch,
        f'url = "{service.url}/v1/chat/completions"\nkey_env = "LOCAL_KEY"\n',
    )
    monkeypatch.delenv("GLM_API_KEY")
    result = glm("ask", "--provider", "local", "hi")
    assert result.exit_code == 3, result.stderr
    assert_one_error(result.stderr, "LOCAL_KEY")
    assert service.requests == []


def test_own_provider_anthropic_protocol(
    glm_env: dict[str, str], service: FakeService, monkeypatch: pytest.MonkeyPatch
) -> None:
    own_provider(
        glm_env, monkeypatch, f'protocol = "anthropic"\nurl = "{service.url}/v1/messages"\n'
    )
    result = glm("ask", "--provider", "local", "hi")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "Hello from the fake service.\n"
    request = service.requests[0]
    assert request.path == "/v1/messages"
    assert request.json["max_tokens"] == 8192
    assert request.json["messages"] == [{"role": "user", "content": "hi"}]


def test_own_provider_fallback_url(
    glm_env: dict[str, str],
    service: FakeService,
    fallback_service: FakeService,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    own_provider(
        glm_env,
        monkeypatch,
        f'url = "{service.url}/v1/chat/completions"\n'
        f'fallback_url = "{fallback_service.url}/v1/chat/completions"\n',
    )
    service.script(Status(503, headers={"Retry-After": "0"}))
    fallback_service.script(Reply(content="from the fallback"))
    result = glm("ask", "--provider", "local", "hi")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "from the fallback\n"
    assert len(service.requests) == 1
    assert len(fallback_service.requests) == 1
    assert fallback_service.requests[0].headers.get("Authorization") == f"Bearer {SECRET}"


def test_base_url_overrides_an_own_providers_url_and_fallback(
    glm_env: dict[str, str],
    service: FakeService,
    fallback_service: FakeService,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    own_provider(
        glm_env,
        monkeypatch,
        'url = "http://127.0.0.1:9/v1/chat/completions"\n'
        f'fallback_url = "{fallback_service.url}/v1/chat/completions"\n',
    )
    service.script(Status(503, headers={"Retry-After": "0"}), Reply(content="second try"))
    result = glm("ask", "--provider", "local", "--base-url", service.url, "hi")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "second try\n"
    assert len(service.requests) == 2
    assert fallback_service.requests == []


@pytest.mark.parametrize("how", ["env", "config"])
def test_own_provider_chosen_without_the_flag(
    glm_env: dict[str, str], service: FakeService, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    text = f'[providers.local]\nurl = "{service.url}/v1/ai/picked/chat/completions"\n'
    if how == "config":
        text = 'provider = "local"\n' + text
    else:
        monkeypatch.setenv("GLM_PROVIDER", "local")
    write(default_config(glm_env), text)
    monkeypatch.delenv("GLM_BASE_URL")
    result = glm("ask", "hi")
    assert result.exit_code == 0, result.stderr
    assert [request.path for request in service.requests] == ["/v1/ai/picked/chat/completions"]
