"""What the tests of providers, URLs, keys and the configuration file share
(tests/test_config_*.py): the keys and URLs they use, and `glm()`, which checks that
no API key used by these tests ever shows on stdout or stderr."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.fake_service import FakeService
from tests.helpers import SECRET, Run, run_on_sys_streams

FILE_KEY = "sk-from-key-file-7777"
EVOLINK_KEY = "sk-from-evolink-var-8888"
CLOUDSWAY_KEY = "sk-from-cloudsway-var-9999"
CONFIG_KEY = "sk-from-config-file-5555"
LOCAL_KEY = "sk-from-local-key-env-4444"
ALL_KEYS = (SECRET, FILE_KEY, EVOLINK_KEY, CLOUDSWAY_KEY, CONFIG_KEY, LOCAL_KEY)

EVOLINK_URL = "https://direct.evolink.ai/v1/chat/completions"
EVOLINK_ANTHROPIC_URL = "https://direct.evolink.ai/v1/messages"
CLOUDSWAY_URL = "https://genaiapi-m2.cloudsway.net/v1/ai/{endpoint}/chat/completions"


def glm(*args: str) -> Run:
    """Run `glm ARGS` in process with an empty stdin, on CliRunner's sys streams (so that
    the traceback of --debug is in its stderr); no key may appear in its output."""
    result = run_on_sys_streams(args)
    for key in ALL_KEYS:
        assert key not in result.stdout, (key, result.stdout)
        assert key not in result.stderr, (key, result.stderr)
    return result


def dry_run(*args: str) -> dict[str, Any]:
    result = glm("ask", "--dry-run", *args, "hi")
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert isinstance(document, dict)
    return document


def header(headers: dict[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    return None


def authorization(service: FakeService, index: int = 0) -> str | None:
    return service.requests[index].headers.get("Authorization")


def write(path: Path, text: str, mode: int = 0o600) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


def default_config(glm_env: dict[str, str]) -> Path:
    return Path(glm_env["XDG_CONFIG_HOME"]) / "glm" / "config.toml"


def model_sent(service: FakeService) -> str:
    assert len(service.requests) == 1
    model = service.requests[0].json["model"]
    assert isinstance(model, str)
    return model


def own_provider(glm_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, body: str) -> None:
    write(default_config(glm_env), "[providers.local]\n" + body)
    monkeypatch.delenv("GLM_BASE_URL")
