"""SPEC §2: providers, URLs, keys and the configuration file.

URLs are checked with `--dry-run` (nothing is sent), keys by the `Authorization`
header the fake service records. Every run goes through `glm()`, which also checks
that no API key used by these tests ever shows on stdout or stderr.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import Result

from tests.fake_service import FakeService, Reply, Status
from tests.helpers import SECRET, assert_one_error, invoke, run_glm

FILE_KEY = "sk-from-key-file-7777"
EVOLINK_KEY = "sk-from-evolink-var-8888"
CLOUDSWAY_KEY = "sk-from-cloudsway-var-9999"
CONFIG_KEY = "sk-from-config-file-5555"
LOCAL_KEY = "sk-from-local-key-env-4444"
ALL_KEYS = (SECRET, FILE_KEY, EVOLINK_KEY, CLOUDSWAY_KEY, CONFIG_KEY, LOCAL_KEY)

EVOLINK_URL = "https://direct.evolink.ai/v1/chat/completions"
EVOLINK_ANTHROPIC_URL = "https://direct.evolink.ai/v1/messages"
CLOUDSWAY_URL = "https://genaiapi-m2.cloudsway.net/v1/ai/{endpoint}/chat/completions"


# The fake service's server threads print a traceback on sys.stderr when a client resets
# a kept-alive connection (glm closes its connection at once); CliRunner captures
# sys.stderr as a whole, so that report would land among glm's own stderr lines.
def glm(*args: str) -> Result:
    """Run `glm ARGS` in process with an empty stdin; no key may appear in its output."""
    result = invoke(list(args), input=b"")
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


def usage_error(result: Result, service: FakeService, *fragments: str) -> str:
    assert result.exit_code == 2, (result.stdout, result.stderr)
    line = assert_one_error(result.stderr, *fragments)
    assert result.stdout == ""
    assert service.requests == []
    return line


def warnings(result: Result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("glm: warning:")]


@pytest.fixture
def no_base_url(glm_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """The built-in providers' own URLs (dry runs only: they are not reachable here)."""
    monkeypatch.delenv("GLM_BASE_URL")


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
    usage_error(glm("ask", "--provider", "cloudsway", "hi"), service, "endpoint")


@pytest.mark.usefixtures("no_base_url")
def test_cloudsway_without_an_endpoint_fails_a_dry_run_too(service: FakeService) -> None:
    usage_error(glm("ask", "--dry-run", "--provider", "cloudsway", "hi"), service, "endpoint")


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
    usage_error(glm(*args), service, fragment)


def test_unknown_protocol_is_a_usage_error(glm_env: dict[str, str], service: FakeService) -> None:
    usage_error(glm("ask", "--protocol", "grpc", "hi"), service, "--protocol", "grpc")


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
    assert warnings(result) == []


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
    usage_error(glm("ask", "--api-key-file", str(path), "hi"), service, "--api-key-file")


@pytest.mark.parametrize(("mode", "warned"), [(0o644, True), (0o640, True), (0o600, False)])
def test_key_file_readable_by_others_warns(
    glm_env: dict[str, str], service: FakeService, tmp_path: Path, mode: int, warned: bool
) -> None:
    path = write(tmp_path / "key", FILE_KEY + "\n", mode)
    result = glm("ask", "--api-key-file", str(path), "hi")
    assert result.exit_code == 0, result.stderr
    assert authorization(service) == f"Bearer {FILE_KEY}"
    found = warnings(result)
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
    found = warnings(result)
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


# --- where the config file is ------------------------------------------------------------


def model_sent(service: FakeService) -> str:
    assert len(service.requests) == 1
    model = service.requests[0].json["model"]
    assert isinstance(model, str)
    return model


@pytest.mark.parametrize(
    ("flag", "env", "expected"),
    [
        (True, True, "from-flag"),
        (False, True, "from-glm-config"),
        (False, False, "from-xdg"),
    ],
)
def test_config_location_precedence(
    glm_env: dict[str, str],
    service: FakeService,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    flag: bool,
    env: bool,
    expected: str,
) -> None:
    write(default_config(glm_env), 'model = "from-xdg"\n')
    flag_path = write(tmp_path / "flag.toml", 'model = "from-flag"\n')
    env_path = write(tmp_path / "env.toml", 'model = "from-glm-config"\n')
    if env:
        monkeypatch.setenv("GLM_CONFIG", str(env_path))
    args = ["ask", "--config", str(flag_path), "hi"] if flag else ["ask", "hi"]
    result = glm(*args)
    assert result.exit_code == 0, result.stderr
    assert model_sent(service) == expected


def test_config_in_home_dot_config_without_xdg(
    glm_env: dict[str, str], service: FakeService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("XDG_CONFIG_HOME")
    write(Path(glm_env["HOME"]) / ".config" / "glm" / "config.toml", 'model = "from-home"\n')
    result = glm("ask", "hi")
    assert result.exit_code == 0, result.stderr
    assert model_sent(service) == "from-home"


def test_xdg_config_home_moves_the_config(
    glm_env: dict[str, str],
    service: FakeService,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    write(Path(glm_env["HOME"]) / ".config" / "glm" / "config.toml", 'model = "from-home"\n')
    write(tmp_path / "xdg" / "glm" / "config.toml", 'model = "from-xdg"\n')
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    result = glm("ask", "hi")
    assert result.exit_code == 0, result.stderr
    assert model_sent(service) == "from-xdg"


def test_glm_home_does_not_move_the_config(glm_env: dict[str, str], service: FakeService) -> None:
    write(Path(glm_env["GLM_HOME"]) / "config.toml", 'model = "from-glm-home"\n')
    result = glm("ask", "hi")
    assert result.exit_code == 0, result.stderr
    assert model_sent(service) == "glm-5.2"


def test_missing_named_config_is_a_usage_error(
    glm_env: dict[str, str], service: FakeService, tmp_path: Path
) -> None:
    path = tmp_path / "nowhere.toml"
    usage_error(glm("ask", "--config", str(path), "hi"), service, str(path))


# --- what the config file may hold -------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ('model = "x"\nprovider = \n', 2),
        ('model = "x"\n\n[defaults\neffort = "high"\n', 3),
        ('model = "unterminated\n', 1),
        ('model = "a"\nmodel = "b"\n', 2),
    ],
)
def test_malformed_toml_names_the_file_and_the_line(
    glm_env: dict[str, str], service: FakeService, text: str, line: int
) -> None:
    path = write(default_config(glm_env), text)
    message = usage_error(glm("ask", "hi"), service, str(path))
    assert re.search(rf"line {line}\b", message), message


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('colour = "blue"\n', "colour"),
        ("[defaults]\nfrobnicate = 1\n", "defaults.frobnicate"),
        ('[defaults]\nmodel = "glm-5.2"\n', "defaults.model"),
        ('[defaults]\nprovider = "evolink"\n', "defaults.provider"),
        ("[defaults]\ntemperature = 2\n", "defaults.temperature"),
        ("[defaults]\ntemperature = 0.125\n", "defaults.temperature"),
        ('[defaults]\ntemperature = "hot"\n', "defaults.temperature"),
        ("[defaults]\ntop-p = 0.001\n", "defaults.top-p"),
        ("[defaults]\nmax-tokens = 0\n", "defaults.max-tokens"),
        ("[defaults]\nmax-tokens = 131073\n", "defaults.max-tokens"),
        ('[defaults]\neffort = "extreme"\n', "defaults.effort"),
        ('[defaults]\nthink = "yes"\n', "defaults.think"),
        ('[defaults]\nstream = "no"\n', "defaults.stream"),
        ('[defaults]\nuser-id = "abc"\n', "defaults.user-id"),
        (
            '[providers.local]\nurl = "http://127.0.0.1:1/v1/chat/completions"\ncolour = "x"\n',
            "providers.local.colour",
        ),
        (
            '[providers.local]\nurl = "http://127.0.0.1:1/v1/chat/completions"\n'
            'protocol = "grpc"\n',
            "providers.local.protocol",
        ),
    ],
)
def test_bad_config_key_names_the_file_and_the_key(
    glm_env: dict[str, str], service: FakeService, text: str, key: str
) -> None:
    path = write(default_config(glm_env), text)
    usage_error(glm("ask", "hi"), service, str(path), key)


def test_defaults_supply_flags(glm_env: dict[str, str], service: FakeService) -> None:
    write(
        default_config(glm_env),
        "[defaults]\n"
        "temperature = 0.2\n"
        "top-p = 0.9\n"
        'effort = "high"\n'
        "think = true\n"
        "max-tokens = 100\n"
        'stop = ["END"]\n'
        "greedy = true\n"
        'user-id = "user-123456"\n'
        "stream = false\n",
    )
    result = glm("ask", "hi")
    assert result.exit_code == 0, result.stderr
    assert service.requests[0].json == {
        "model": "glm-5.2",
        "messages": [{"role": "user", "content": "hi"}],
        "stream": False,
        "temperature": 0.2,
        "top_p": 0.9,
        "reasoning_effort": "high",
        "thinking": {"type": "enabled"},
        "max_tokens": 100,
        "stop": ["END"],
        "do_sample": False,
        "user_id": "user-123456",
    }


def test_command_line_flags_beat_defaults(glm_env: dict[str, str], service: FakeService) -> None:
    write(
        default_config(glm_env),
        "[defaults]\n"
        "temperature = 0.2\n"
        'effort = "high"\n'
        "think = true\n"
        "max-tokens = 100\n"
        'stop = ["END"]\n'
        "stream = false\n",
    )
    result = glm(
        "ask",
        "--temperature",
        "0.7",
        "--effort",
        "low",
        "--max-tokens",
        "5",
        "--stop",
        "HALT",
        "--stream",
        "hi",
    )
    assert result.exit_code == 0, result.stderr
    body = service.requests[0].json
    assert body["temperature"] == 0.7
    assert body["reasoning_effort"] == "low"
    assert body["thinking"] == {"type": "enabled"}
    assert body["max_tokens"] == 5
    assert body["stop"] == ["HALT"]
    assert body["stream"] is True


@pytest.mark.parametrize(
    ("default", "flag", "kind"),
    [("true", "--no-think", "disabled"), ("false", "--think", "enabled")],
)
def test_think_flag_beats_the_think_default(
    glm_env: dict[str, str], service: FakeService, default: str, flag: str, kind: str
) -> None:
    write(default_config(glm_env), f"[defaults]\nthink = {default}\n")
    result = glm("ask", flag, "hi")
    assert result.exit_code == 0, result.stderr
    assert service.requests[0].json["thinking"] == {"type": kind}


def test_no_stream_default_beaten_by_stream_flag(
    glm_env: dict[str, str], service: FakeService
) -> None:
    write(default_config(glm_env), "[defaults]\nstream = false\n")
    assert glm("ask", "hi").exit_code == 0
    assert glm("ask", "--stream", "hi").exit_code == 0
    assert [request.json["stream"] for request in service.requests] == [False, True]


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


# --- own providers ---------------------------------------------------------------------------


def own_provider(glm_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, body: str) -> None:
    write(default_config(glm_env), "[providers.local]\n" + body)
    monkeypatch.delenv("GLM_BASE_URL")


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
