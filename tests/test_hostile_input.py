"""SPEC §3.2, "every input has a documented exit" (issue 10): argv bytes that are not
UTF-8, JSON of any depth, malformed URLs, proxy and certificate variables, any TOML
type in any config key, hand-edited JSONL of any shape.

Each bad input is one `glm: error:` line naming the input, its exit code, and no
request reaching the fake service; never "internal error".
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.fake_service import FakeService, RawResponse, Reply
from tests.helpers import assert_one_error, assert_usage_error, run_in_process

DEEP = 100_000
"""Deeper than any parser recurses."""
MIDDLE = 300
"""Deep enough to break orjson's writer (255 levels), shallow enough for its reader."""


def deep_array(levels: int) -> str:
    return "[" * levels + "]" * levels


def deep_object(levels: int) -> Any:
    value: Any = {}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


# --- argv bytes that are not UTF-8 --------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        ([b"ask", b"--model", b"a\xffb", b"hi"], ["argument 3", "--model", "byte offset 1"]),
        ([b"ask", b"-m", b"\xc3", b"hi"], ["argument 3", "-m", "byte offset 0"]),
        ([b"ask", b"caf\xe9 au lait"], ["argument 2", "byte offset 3"]),
        ([b"ask", b"--stop=ab\xe2\x82", b"hi"], ["argument 2", "--stop", "byte offset 9"]),
        ([b"ask", b"--", b"-m", b"\xff"], ["argument 4", "byte offset 0"]),
        ([b"json", b"--schema", b"\xfe.json", b"hi"], ["argument 3", "--schema"]),
        ([b"chat", b"--file", b"x\xff.jsonl", b"hi"], ["argument 3", "--file"]),
        ([b"raw", b"--body", b"\xff"], ["argument 3", "--body"]),
        ([b"\xff"], ["argument 1", "byte offset 0"]),
    ],
)
def test_argv_bytes_that_are_not_utf8_are_a_assert_usage_error(
    glm_env: dict[str, str],
    service: FakeService,
    tmp_path: Path,
    args: list[bytes],
    fragments: list[str],
) -> None:
    command: list[str | bytes] = [sys.executable, "-m", "glm_cli", *args]
    done = subprocess.run(
        command,
        env={**glm_env, "PYTHONPATH": str(Path(__file__).parent.parent)},
        capture_output=True,
        stdin=subprocess.DEVNULL,
        timeout=30,
        cwd=tmp_path,
    )
    assert done.returncode == 2, done.stderr
    assert_one_error(done.stderr, "not valid UTF-8", *fragments)
    assert service.requests == []


def test_argv_surrogates_in_process_name_the_argument(
    glm_env: dict[str, str], service: FakeService
) -> None:
    run = run_in_process(["ask", "--user-id", "abc\udcffdef", "hi"])
    assert_usage_error(run, service, "argument 3 (the value of --user-id)", "byte offset 3")


def test_a_flag_that_takes_no_value_is_not_named_for_the_next_word(
    glm_env: dict[str, str], service: FakeService
) -> None:
    line = assert_usage_error(run_in_process(["ask", "-n", "\udcff"]), service, "argument 3")
    assert "-n" not in line


@pytest.mark.parametrize("variable", ["GLM_MODEL", "GLM_PROVIDER", "CLOUDSWAY_ENDPOINT"])
def test_environment_bytes_that_are_not_utf8_name_the_variable(
    glm_env: dict[str, str], service: FakeService, variable: str
) -> None:
    environ = {**glm_env, variable: "x\udcffy"}
    if variable == "CLOUDSWAY_ENDPOINT":
        environ["GLM_PROVIDER"] = "cloudsway"
    run = run_in_process(["ask", "hi"], environ=environ)
    assert_usage_error(run, service, variable, "not valid UTF-8", "byte offset 1")


# --- JSON nested deeply --------------------------------------------------------------------


@pytest.mark.parametrize("levels", [DEEP, MIDDLE])
def test_a_deep_schema_file_is_a_assert_usage_error(
    glm_env: dict[str, str], service: FakeService, tmp_path: Path, levels: int
) -> None:
    path = tmp_path / "schema.json"
    path.write_text(
        json.dumps({"items": deep_object(levels)}) if levels < 1000 else deep_array(levels)
    )
    run = run_in_process(["json", "--schema", str(path), "hi"])
    assert_usage_error(run, service, "--schema", "schema.json", "nested too deeply")


@pytest.mark.parametrize("levels", [DEEP, MIDDLE])
def test_a_deep_tool_file_is_a_assert_usage_error(
    glm_env: dict[str, str], service: FakeService, tmp_path: Path, levels: int
) -> None:
    path = tmp_path / "tool.json"
    if levels < 1000:
        parameters = {"type": "object", "properties": {"x": deep_object(levels)}}
        path.write_text(json.dumps({"name": "f", "parameters": parameters}))
    else:
        path.write_text(deep_array(levels))
    run = run_in_process(["ask", "--tool", str(path), "hi"])
    assert_usage_error(run, service, "--tool", "tool.json", "nested too deeply")


@pytest.mark.parametrize("levels", [DEEP, MIDDLE])
@pytest.mark.parametrize("from_stdin", [False, True])
def test_a_deep_raw_body_is_a_assert_usage_error(
    glm_env: dict[str, str],
    service: FakeService,
    tmp_path: Path,
    levels: int,
    from_stdin: bool,
) -> None:
    body = (
        {
            "model": "glm-5.2",
            "messages": [{"role": "user", "content": "x"}],
            "extra": deep_object(levels),
        }
        if levels < 1000
        else None
    )
    data = json.dumps(body).encode() if body is not None else deep_array(levels).encode()
    if from_stdin:
        run = run_in_process(["raw", "--body", "-"], stdin=data)
    else:
        path = tmp_path / "body.json"
        path.write_bytes(data)
        run = run_in_process(["raw", "--body", str(path)])
    name = "--body -" if from_stdin else "body.json"
    assert_usage_error(run, service, name, "not valid JSON")
    assert run.out == b""


@pytest.mark.parametrize("levels", [DEEP, MIDDLE])
def test_a_deep_json_answer_is_exit_6(
    glm_env: dict[str, str], service: FakeService, levels: int
) -> None:
    service.script(Reply(content=deep_array(levels), chunk_size=4096))
    run = run_in_process(["json", "--no-stream", "hi"])
    assert run.exit_code == 6, run.stderr
    assert_one_error(run.stderr, "not valid JSON", "nested too deeply")
    assert run.out == b""


def _tools(tmp_path: Path) -> list[str]:
    path = tmp_path / "tools.json"
    path.write_text(json.dumps({"name": "f", "parameters": {"type": "object"}}))
    return ["--tool", str(path)]


@pytest.mark.parametrize("levels", [DEEP, MIDDLE])
@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
def test_deep_tool_call_arguments_in_the_tool_loop_are_an_error_result(
    glm_env: dict[str, str], service: FakeService, tmp_path: Path, levels: int, protocol: str
) -> None:
    arguments = json.dumps({"a": deep_object(levels)}) if levels < 1000 else deep_array(levels)
    service.script(
        Reply(
            content="",
            tool_calls=[{"id": "c1", "name": "f", "arguments": arguments}],
            finish_reason="tool_calls",
        ),
        Reply(content="done"),
    )
    tool = f"f={sys.executable} -c pass"
    run = run_in_process(
        ["ask", "--protocol", protocol, *_tools(tmp_path), "--tool-cmd", tool, "hi"]
    )
    assert run.exit_code == 0, run.stderr
    assert run.out == b"done\n"
    assert "internal error" not in run.stderr
    assert len(service.requests) == 2
    assert "nested too deeply" in service.requests[1].body.decode()


@pytest.mark.parametrize("levels", [DEEP, MIDDLE])
@pytest.mark.parametrize("mode", [[], ["--ndjson"]])
def test_deep_tool_call_arguments_are_printed_as_text(
    glm_env: dict[str, str],
    service: FakeService,
    tmp_path: Path,
    levels: int,
    mode: list[str],
) -> None:
    arguments = deep_array(levels)
    service.script(
        Reply(
            content="",
            finish_reason="tool_calls",
            tool_calls=[{"id": "c1", "name": "f", "arguments": arguments}],
        )
    )
    run = run_in_process(["ask", *mode, *_tools(tmp_path), "hi"])
    assert run.exit_code == 0, run.stderr
    calls = [json.loads(line) for line in run.out.splitlines() if b'"c1"' in line]
    assert len(calls) == 1
    assert calls[0]["arguments"] == arguments  # too deep to parse: the raw text


# --- URLs ----------------------------------------------------------------------------------

BAD_URLS = [
    "http://",
    "http://[::1",
    "http://host:99999",
    "http://host:0",
    "http://host:abc",
    "http://exa mple.com",
    "http://host/\npath",
    "http://host\t",
    "ftp://host",
    "file:///etc/passwd",
    "127.0.0.1:8080",
    "http://h\x1b[31m",
    "http://\udcffhost",
    "http://ex\u00e4mple..com",
]


@pytest.mark.parametrize("url", BAD_URLS)
def test_a_malformed_base_url_flag_is_a_assert_usage_error(
    glm_env: dict[str, str], service: FakeService, url: str
) -> None:
    assert_usage_error(run_in_process(["ask", "--base-url", url, "hi"]), service, "--base-url")


@pytest.mark.parametrize("url", BAD_URLS)
def test_a_malformed_glm_base_url_names_the_variable(
    glm_env: dict[str, str], service: FakeService, url: str
) -> None:
    run = run_in_process(["ask", "hi"], environ={**glm_env, "GLM_BASE_URL": url})
    assert_usage_error(run, service, "GLM_BASE_URL")


def test_a_base_url_with_a_query_is_a_assert_usage_error(
    glm_env: dict[str, str], service: FakeService
) -> None:
    run = run_in_process(["ask", "--base-url", f"{service.url}?x=1", "hi"])
    assert_usage_error(run, service, "--base-url", "'?'")


@pytest.mark.parametrize("key", ["url", "fallback_url"])
@pytest.mark.parametrize("url", ["http://", "http://[::1", "http://h:70000", "http://a b"])
def test_a_malformed_provider_url_names_the_file_and_key(
    glm_env: dict[str, str], service: FakeService, tmp_path: Path, key: str, url: str
) -> None:
    config = tmp_path / "config.toml"
    good = f"{service.url}/v1/chat/completions"
    urls = {"url": good, "fallback_url": good, key: url}
    config.write_text(
        "[providers.local]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in urls.items())
    )
    run = run_in_process(["ask", "--config", str(config), "--provider", "local", "hi"])
    assert_usage_error(run, service, str(config), f"providers.local.{key}")


@pytest.mark.parametrize("name", ["a/b", "a?b", "a b", "a#b", "%2e%2e"])
def test_a_cloudsway_endpoint_that_is_not_a_name_is_a_assert_usage_error(
    glm_env: dict[str, str], service: FakeService, name: str
) -> None:
    run = run_in_process(["ask", "--provider", "cloudsway", "--endpoint", name, "hi"])
    assert_usage_error(run, service, "--endpoint")


# --- proxies and certificates ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "value", "fragment"),
    [
        ("HTTPS_PROXY", "socks5://127.0.0.1:1080", "socks5"),
        ("https_proxy", "socks5h://127.0.0.1:1080", "socks5h"),
        ("HTTP_PROXY", "ftp://proxy", "ftp"),
        ("ALL_PROXY", "socks4://proxy:1", "socks4"),
        ("all_proxy", "http://[::1", "all_proxy"),
        ("HTTP_PROXY", "http://proxy:99999", "HTTP_PROXY"),
        ("HTTPS_PROXY", "http://", "HTTPS_PROXY"),
        ("HTTP_PROXY", "proxy:abc", "HTTP_PROXY"),
        ("HTTPS_PROXY", "http://pro xy:8080", "HTTPS_PROXY"),
        ("NO_PROXY", "localhost,[::1", "NO_PROXY"),
    ],
)
def test_a_proxy_variable_glm_cannot_use_is_a_assert_usage_error(
    glm_env: dict[str, str], service: FakeService, variable: str, value: str, fragment: str
) -> None:
    environ = {**glm_env, variable: value}
    if variable == "NO_PROXY":
        environ["HTTPS_PROXY"] = "http://127.0.0.1:9"
    os.environ.update(environ)  # httpx reads the process's own environment
    try:
        run = run_in_process(["ask", "hi"], environ=environ)
    finally:
        for name in (variable, "HTTPS_PROXY"):
            os.environ.pop(name, None)
    assert_usage_error(run, service, variable, fragment)


def test_no_proxy_star_bypasses_even_an_unusable_proxy(
    glm_env: dict[str, str], service: FakeService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", "socks5://127.0.0.1:1")
    monkeypatch.setenv("NO_PROXY", "*")
    run = run_in_process(["ask", "hi"])
    assert run.exit_code == 0, run.stderr
    assert len(service.requests) == 1


@pytest.mark.parametrize(
    ("variable", "make", "fragment"),
    [
        ("SSL_CERT_FILE", lambda tmp: tmp / "missing.pem", "No such file"),
        ("SSL_CERT_FILE", lambda tmp: tmp, "SSL_CERT_FILE"),
        ("SSL_CERT_FILE", lambda tmp: _text_file(tmp), "not a file of PEM certificates"),
        ("SSL_CERT_DIR", lambda tmp: tmp / "missing", "not a directory"),
    ],
)
def test_an_unusable_certificate_variable_is_a_assert_usage_error(
    glm_env: dict[str, str],
    service: FakeService,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
    make: Any,
    fragment: str,
) -> None:
    for name in ("SSL_CERT_FILE", "SSL_CERT_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(variable, str(make(tmp_path)))
    run = run_in_process(["ask", "--base-url", "https://127.0.0.1:9", "--retries", "0", "hi"])
    assert_usage_error(run, service, variable, fragment)


def _text_file(tmp: Path) -> Path:
    path = tmp / "not-a-cert.pem"
    path.write_text("hello\n")
    return path


def test_a_certificate_file_is_not_loaded_for_plain_http(
    glm_env: dict[str, str],
    service: FakeService,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "missing.pem"))
    run = run_in_process(["ask", "hi"])
    assert run.exit_code == 0, run.stderr
    assert len(service.requests) == 1


def test_a_valid_certificate_file_is_used(
    glm_env: dict[str, str], service: FakeService, monkeypatch: pytest.MonkeyPatch
) -> None:
    import certifi

    monkeypatch.setenv("SSL_CERT_FILE", certifi.where())
    run = run_in_process(["ask", "--base-url", "https://127.0.0.1:9", "--retries", "0", "hi"])
    assert run.exit_code == 5, run.stderr  # got as far as connecting
    assert_one_error(run.stderr, "127.0.0.1:9")


# --- config values of any TOML type ---------------------------------------------------------


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        ("[defaults]\nsystem = 5", "defaults.system"),
        ("[defaults]\nsystem = {a = 1}", "defaults.system"),
        ('[defaults]\nsystem = ["a"]', "defaults.system"),
        ('[defaults]\ntemperature = "hot"', "defaults.temperature"),
        ("[defaults]\nstop = [1, 2]", "defaults.stop"),
        ('[defaults]\nstop = [["a"]]', "defaults.stop"),
        ('[defaults]\nthink = "yes"', "defaults.think"),
        ('[defaults]\nmarkdown = "yes"', "defaults.markdown"),
        ("[defaults]\nendpoint = 5", "defaults.endpoint"),
        ('[defaults]\nendpoint = "  "', "defaults.endpoint"),
        ('[defaults]\neffort = ["high"]', "defaults.effort"),
        ("[defaults]\ntimeout = 1979-05-27T07:32:00Z", "defaults.timeout"),
        ("[defaults]\nmax-time = 07:32:00", "defaults.max-time"),
        ("[defaults]\nretries = 1.5", "defaults.retries"),
        ("[defaults]\nusage = 1", "defaults.usage"),
        ("[defaults.quiet]\nx = 1", "defaults.quiet"),
        ("defaults = 3", "defaults"),
        ("[[defaults]]\nthink = true", "defaults"),
        ("providers = []", "providers"),
        ('[[providers.x]]\nurl = "http://h"', "providers.x"),
        ("[providers]\nx = 5", "providers.x"),
        ("[providers.x]\nurl = 5", "providers.x.url"),
        ("[providers.x]\nurl = {a = 1}", "providers.x.url"),
        ('[providers.x]\nurl = "http://h"\nmodel = 1979-05-27', "providers.x.model"),
        ("provider = 5", "provider"),
        ('model = ["glm"]', "model"),
        ("api_key = 5", "api_key"),
        ("api_key = {a = 1}", "api_key"),
    ],
)
@pytest.mark.parametrize("command", [["ask", "hi"], ["config", "show"]])
def test_any_toml_type_in_any_key_names_the_file_and_the_key(
    glm_env: dict[str, str],
    service: FakeService,
    tmp_path: Path,
    toml: str,
    key: str,
    command: list[str],
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(toml + "\n")
    path.chmod(0o600)
    run = run_in_process(command, environ={**glm_env, "GLM_CONFIG": str(path)})
    assert_usage_error(run, service, str(path), key)


def test_a_system_file_from_the_config_names_the_key(
    glm_env: dict[str, str], service: FakeService, tmp_path: Path
) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[defaults]\nsystem = "@/nonexistent/system.txt"\n')
    run = run_in_process(["ask", "hi"], environ={**glm_env, "GLM_CONFIG": str(path)})
    assert_usage_error(run, service, "defaults.system", "/nonexistent/system.txt")


# --- hand-edited JSONL -----------------------------------------------------------------------

GOOD_LINE = '{"role": "user", "content": "earlier"}'
BAD_LINES = [
    b"not json",
    b"[1, 2]",
    b'"a string"',
    b"5",
    b"null",
    b'{"role": 5, "content": "x"}',
    b'{"role": ["user"], "content": "x"}',
    b'{"role": {"a": 1}, "content": "x"}',
    b'{"role": "user", "content": 5}',
    b'{"role": "user", "content": ["a"]}',
    b'{"role": "user", "content": null}',
    b'{"role": "tool", "content": "x", "tool_call_id": 5}',
    b'{"role": "tool", "content": "x"}',
    b'{"role": "user", "content": "x", "tool_calls": []}',
    b'{"role": "assistant", "content": null, "tool_calls": 5}',
    b'{"role": "assistant", "content": null, "tool_calls": [5]}',
    b'{"role": "assistant", "content": null, "tool_calls": [{"function": "f"}]}',
    b'{"role": "assistant", "content": null, "tool_calls": [{"id": "a"}]}',
    b'{"role": "assistant", "content": null, "tool_calls": [{"id": ["a"], '
    b'"function": {"name": "f", "arguments": "{}"}}]}',
    b'{"role": "assistant", "content": null, "tool_calls": [{"id": "a", "type": 5, '
    b'"function": {"name": "f", "arguments": "{}"}}]}',
    b'{"role": "assistant", "content": null, "tool_calls": [{"id": "a", '
    b'"function": {"name": 5, "arguments": "{}"}}]}',
    b'{"role": "assistant", "content": null, "tool_calls": [{"id": "a", '
    b'"function": {"name": "f", "arguments": {"x": 1}}}]}',
    b'{"role": "assistant", "content": null, "tool_calls": [{"id": "a", "type": "mcp", "mcp": 5}]}',
    b'{"role": "user", "content": "x", "extra": ' + deep_array(MIDDLE).encode() + b"}",
    deep_array(DEEP).encode(),
    b'{"role": "user", "content": "caf\xe9"}',
    b'{"role": "user", "content": "\\ud800"}',
]


@pytest.mark.parametrize("line", BAD_LINES)
@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
def test_a_jsonl_line_of_any_shape_names_the_file_and_the_line(
    glm_env: dict[str, str], service: FakeService, tmp_path: Path, line: bytes, protocol: str
) -> None:
    path = tmp_path / "talk.jsonl"
    path.write_bytes(GOOD_LINE.encode() + b"\n" + line + b"\n")
    before = path.read_bytes()
    run = run_in_process(["chat", "--protocol", protocol, "--file", str(path), "hi"])
    assert_usage_error(run, service, "talk.jsonl", "line 2")
    assert path.read_bytes() == before


@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
def test_odd_but_valid_tool_calls_in_a_file_are_sent(
    glm_env: dict[str, str], service: FakeService, tmp_path: Path, protocol: str
) -> None:
    """Arguments that are not JSON, or too deep, or not an object, never crash an encoder."""
    path = tmp_path / "talk.jsonl"
    lines = [
        {"role": "user", "content": "q"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "a", "type": "function", "function": {"name": "f", "arguments": "not json"}},
                {
                    "id": "b",
                    "type": "function",
                    "function": {"name": "f", "arguments": deep_array(MIDDLE)},
                },
                {"id": "c", "type": "function", "function": {"name": "f", "arguments": "[1, 2]"}},
            ],
        },
        *({"role": "tool", "tool_call_id": i, "content": "r"} for i in "abc"),
        {"role": "assistant", "content": "done"},
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    run = run_in_process(["chat", "--protocol", protocol, "--file", str(path), "hi"])
    assert run.exit_code == 0, run.stderr
    assert len(service.requests) == 1


@pytest.mark.parametrize("stream", [True, False])
@pytest.mark.parametrize("mode", [[], ["--ndjson"], ["--sources"]])
def test_a_deeply_nested_response_is_a_service_failure(
    glm_env: dict[str, str], service: FakeService, stream: bool, mode: list[str]
) -> None:
    """Server JSON nested past what orjson writes again (255 levels) is malformed (exit 5)."""
    chunk = {
        "choices": [{"index": 0, "delta": {"content": "hi"}, "finish_reason": "stop"}],
        "web_search": [{"title": "t", "link": "l", "refer": deep_object(MIDDLE)}],
    }
    if stream:
        body = b"data: " + json.dumps(chunk).encode() + b"\n\ndata: [DONE]\n\n"
        service.script(RawResponse(body=body, content_type="text/event-stream"))
    else:
        chunk["choices"][0]["message"] = chunk["choices"][0].pop("delta")
        service.script(RawResponse(body=json.dumps(chunk).encode()))
    args = ["ask", "--stream" if stream else "--no-stream", "--retries", "0", *mode, "hi"]
    run = run_in_process(args)
    assert run.exit_code == 5, run.stderr
    assert_one_error(run.stderr)


def test_a_top_p_of_zero_from_the_config_names_the_key(
    glm_env: dict[str, str], service: FakeService, tmp_path: Path
) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[defaults]\ntop-p = 0\n")
    run = run_in_process(["ask", "hi"], environ={**glm_env, "GLM_CONFIG": str(path)})
    assert_usage_error(run, service, "defaults.top-p", "anthropic")
