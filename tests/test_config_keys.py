"""SPEC §2: the API key: where it comes from and in what order, the provider's own key
variables, key files and their permissions, a missing or blank key; and that no key
ever shows in any output."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.config_helpers import (
    CLOUDSWAY_KEY,
    CONFIG_KEY,
    EVOLINK_KEY,
    FILE_KEY,
    authorization,
    default_config,
    dry_run,
    glm,
    header,
    write,
)
from tests.fake_service import FakeService, Status
from tests.helpers import SECRET, assert_one_error, assert_usage_error, run_glm, warnings

# --- the key --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sources", "expected"),
    [
        ({"file", "glm", "evolink", "config"}, FILE_KEY),
        ({"glm", "evolink", "config"}, SECRET),
        ({"evolink", "config"}, EVOLINK_KEY),
        ({"config"}, CONFIG_KEY),
        ({"file", "config"}, FILE_KEY),
        ({"glm", "config"}, SECRET),
    ],
)
def test_key_order(
    glm_env: dict[str, str],
    service: FakeService,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    sources: set[str],
    expected: str,
) -> None:
    args = ["ask", "hi"]
    if "file" in sources:
        args[1:1] = ["--api-key-file", str(write(tmp_path / "key.txt", FILE_KEY + "\n"))]
    if "glm" not in sources:
        monkeypatch.delenv("GLM_API_KEY")
    if "evolink" in sources:
        monkeypatch.setenv("EVOLINK_API_KEY", EVOLINK_KEY)
    if "config" in sources:
        write(default_config(glm_env), f'api_key = "{CONFIG_KEY}"\n')
    result = glm(*args)
    assert result.exit_code == 0, result.stderr
    assert authorization(service) == f"Bearer {expected}"
    assert warnings(result.stderr) == []


@pytest.mark.parametrize(("glm_key", "expected"), [(False, CLOUDSWAY_KEY), (True, SECRET)])
def test_cloudsway_key_variable(
    glm_env: dict[str, str],
    service: FakeService,
    monkeypatch: pytest.MonkeyPatch,
    glm_key: bool,
    expected: str,
) -> None:
    if not glm_key:
        monkeypatch.delenv("GLM_API_KEY")
    monkeypatch.setenv("CLOUDSWAY_API_KEY", CLOUDSWAY_KEY)
    monkeypatch.setenv("EVOLINK_API_KEY", EVOLINK_KEY)
    result = glm("ask", "--provider", "cloudsway", "--endpoint", "ep", "hi")
    assert result.exit_code == 0, result.stderr
    assert authorization(service) == f"Bearer {expected}"
    content_type = service.requests[0].headers.get("Content-Type", "")
    assert content_type.split(";")[0] == "application/json"


def test_evolink_anthropic_uses_the_evolink_key(
    glm_env: dict[str, str], service: FakeService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GLM_API_KEY")
    monkeypatch.setenv("EVOLINK_API_KEY", EVOLINK_KEY)
    monkeypatch.setenv("CLOUDSWAY_API_KEY", CLOUDSWAY_KEY)
    result = glm("ask", "--provider", "evolink-anthropic", "hi")
    assert result.exit_code == 0, result.stderr
    assert service.requests[0].path == "/v1/messages"
    assert authorization(service) == f"Bearer {EVOLINK_KEY}"


def test_another_providers_key_is_not_used(
    glm_env: dict[str, str], service: FakeService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GLM_API_KEY")
    monkeypatch.setenv("CLOUDSWAY_API_KEY", CLOUDSWAY_KEY)
    result = glm("ask", "hi")
    assert result.exit_code == 3, result.stderr
    assert_one_error(result.stderr, "EVOLINK_API_KEY")
    assert service.requests == []


@pytest.mark.parametrize("ending", ["\n", "\r\n", ""])
def test_key_file_trailing_newline_is_stripped(
    glm_env: dict[str, str], service: FakeService, tmp_path: Path, ending: str
) -> None:
    path = write(tmp_path / "key", FILE_KEY + ending)
    result = glm("ask", "--api-key-file", str(path), "hi")
    assert result.exit_code == 0, result.stderr
    assert authorization(service) == f"Bearer {FILE_KEY}"


@pytest.mark.parametrize("kind", ["missing", "directory"])
def test_unreadable_key_file_is_a_usage_error(
    glm_env: dict[str, str], service: FakeService, tmp_path: Path, kind: str
) -> None:
    path = tmp_path / "no-such-key"
    if kind == "directory":
        path.mkdir()
    assert_usage_error(glm("ask", "--api-key-file", str(path), "hi"), service, "--api-key-file")


@pytest.mark.parametrize(("mode", "warned"), [(0o644, True), (0o640, True), (0o600, False)])
def test_key_file_readable_by_others_warns(
    glm_env: dict[str, str], service: FakeService, tmp_path: Path, mode: int, warned: bool
) -> None:
    path = write(tmp_path / "key", FILE_KEY + "\n", mode)
    result = glm("ask", "--api-key-file", str(path), "hi")
    assert result.exit_code == 0, result.stderr
    assert authorization(service) == f"Bearer {FILE_KEY}"
    found = warnings(result.stderr)
    if warned:
        assert len(found) == 1, result.stderr
        assert str(path) in found[0]
    else:
        assert found == []
        assert result.stderr == ""


@pytest.mark.parametrize(
    ("text", "mode", "warned"),
    [
        (f'api_key = "{CONFIG_KEY}"\n', 0o644, True),
        (f'api_key = "{CONFIG_KEY}"\n', 0o600, False),
        ('model = "glm-5.2"\n', 0o644, False),
    ],
)
def test_config_with_api_key_readable_by_others_warns(
    glm_env: dict[str, str],
    service: FakeService,
    monkeypatch: pytest.MonkeyPatch,
    text: str,
    mode: int,
    warned: bool,
) -> None:
    monkeypatch.delenv("GLM_API_KEY")
    monkeypatch.setenv("EVOLINK_API_KEY", EVOLINK_KEY)
    path = write(default_config(glm_env), text, mode)
    result = glm("ask", "hi")
    assert result.exit_code == 0, result.stderr
    found = warnings(result.stderr)
    if warned:
        assert len(found) == 1, result.stderr
        assert str(path) in found[0]
    else:
        assert found == []


def test_quiet_silences_the_readable_key_file_warning(
    glm_env: dict[str, str], service: FakeService, tmp_path: Path
) -> None:
    path = write(tmp_path / "key", FILE_KEY, 0o644)
    result = glm("ask", "--quiet", "--api-key-file", str(path), "hi")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""


@pytest.mark.parametrize(
    ("args", "variable"),
    [
        (["ask", "hi"], "EVOLINK_API_KEY"),
        (["ask", "--provider", "cloudsway", "--endpoint", "e", "hi"], "CLOUDSWAY_API_KEY"),
    ],
)
def test_missing_key_is_exit_3_and_says_where_to_put_one(
    glm_env: dict[str, str],
    service: FakeService,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    variable: str,
) -> None:
    monkeypatch.delenv("GLM_API_KEY")
    result = glm(*args)
    assert result.exit_code == 3, result.stderr
    line = assert_one_error(result.stderr, "GLM_API_KEY", variable)
    assert "api_key" in line or "--api-key-file" in line, line
    assert result.stdout == ""
    assert service.requests == []


def test_missing_key_as_a_process(glm_env: dict[str, str], service: FakeService) -> None:
    env = {k: v for k, v in glm_env.items() if k != "GLM_API_KEY"}
    done = run_glm(["ask", "hi"], env)
    assert done.returncode == 3, done.stderr
    assert_one_error(done.stderr, "GLM_API_KEY")
    assert done.stdout == b""
    assert service.requests == []


def test_key_never_in_output_of_a_failed_request(
    glm_env: dict[str, str], service: FakeService
) -> None:
    service.script(Status(401))
    result = glm("ask", "--debug", "--verbose", "hi")  # glm() checks that no key shows
    assert result.exit_code == 3, result.stderr
    assert "401" in result.stderr
    assert len(service.requests) == 1


def test_key_never_in_output_as_a_process(glm_env: dict[str, str], service: FakeService) -> None:
    service.script(Status(400))
    done = run_glm(["ask", "--debug", "--verbose", "hi"], glm_env)
    assert done.returncode == 2, done.stderr
    assert SECRET.encode() not in done.stdout + done.stderr
    assert len(service.requests) == 1


# --- a blank key is not a key (issue 10) -------------------------------------------------


@pytest.mark.parametrize("blank", ["", "   ", "\n", " \t\r\n"])
def test_a_blank_glm_api_key_does_not_hide_the_providers_key(
    glm_env: dict[str, str], service: FakeService, monkeypatch: pytest.MonkeyPatch, blank: str
) -> None:
    monkeypatch.setenv("GLM_API_KEY", blank)
    monkeypatch.setenv("EVOLINK_API_KEY", EVOLINK_KEY)
    shown = glm("config", "show")
    assert shown.exit_code == 0, shown.stderr
    assert re.search(r"^key\s+set \(from EVOLINK_API_KEY\)$", shown.stdout, re.M), shown.stdout
    document = dry_run()
    assert header(document["headers"], "Authorization") == "Bearer ***"
    result = glm("ask", "hi")
    assert result.exit_code == 0, result.stderr
    assert authorization(service) == f"Bearer {EVOLINK_KEY}"


def test_blank_keys_everywhere_are_no_key(
    glm_env: dict[str, str], service: FakeService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GLM_API_KEY", "  ")
    monkeypatch.setenv("EVOLINK_API_KEY", "\t")
    write(default_config(glm_env), 'api_key = "   "\n')
    shown = glm("config", "show")
    assert re.search(r"^key\s+not set$", shown.stdout, re.M), shown.stdout
    document = dry_run()
    assert header(document["headers"], "Authorization") is None
    result = glm("ask", "hi")
    assert result.exit_code == 3, result.stderr
    assert_one_error(result.stderr, "no API key")
    assert service.requests == []
