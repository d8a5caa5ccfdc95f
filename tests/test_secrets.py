"""The secrets audit of issue 7 (SPEC §2: "The key never appears in any output, error,
log, history, store or `--dry-run`").

One audit runs every command and mode with a sentinel key — success, failures,
`--dry-run`, `--debug`, `--verbose`, chat sessions and files, the interactive loop,
`glm config` — and then looks for the key in every stdout, every stderr and every
file glm could have written under the isolated HOME, XDG and GLM_HOME trees. The
files glm keeps are private (mode 0600). The key travels only to the provider's
URLs: a fallback gets it because it is configured for that provider, a redirect
to another URL is not followed, and a `--base-url` has no fallback.
"""

from __future__ import annotations

import stat
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from glm_cli.core import retry
from tests.fake_service import Drop, FakeService, Reply, Status, Step
from tests.helpers import Run, assert_one_error, glm_command, run_in_process
from tests.test_chat_interactive import Terminal

SENTINEL = "sk-AUDIT-5e1f0c9b7a3d-sentinel-key"
FRAGMENTS = (SENTINEL, SENTINEL[3:], SENTINEL[-12:])  # not even a part of it
PATH = "/v1/chat/completions"


def leaks(data: bytes | str) -> list[str]:
    text = data if isinstance(data, str) else data.decode("utf-8", "replace")
    return [fragment for fragment in FRAGMENTS if fragment in text]


@pytest.fixture(autouse=True)
def _fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(retry, "INITIAL_DELAY", 0.01)


@pytest.fixture
def audited(glm_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("GLM_API_KEY", SENTINEL)
    return {**glm_env, "GLM_API_KEY": SENTINEL}


class Audit:
    """Runs glm, keeping every output to search for the key afterwards."""

    def __init__(self, service: FakeService, environ: dict[str, str]) -> None:
        self.service = service
        self.environ = environ
        self.outputs: list[tuple[str, bytes]] = []

    def run(self, code: int, *args: str, steps: tuple[Step, ...] = (), stdin: bytes = b"") -> Run:
        self.service.script(*steps)
        result = run_in_process(list(args), stdin=stdin)
        self.outputs.append((" ".join(args), result.out + result.stderr.encode()))
        assert result.exit_code == code, (args, result.stderr)
        assert "Traceback" not in result.stderr or "--debug" in args, result.stderr
        return result

    def process(self, code: int, *args: str, steps: tuple[Step, ...] = ()) -> None:
        self.service.script(*steps)
        done = subprocess.run(
            glm_command(*args),
            env=self.environ,
            capture_output=True,
            timeout=30,
            stdin=subprocess.DEVNULL,
        )
        self.outputs.append((" ".join(args), done.stdout + done.stderr))
        assert done.returncode == code, (args, done.stderr)


def files_under(*roots: Path) -> Iterator[Path]:
    for root in roots:
        for path in root.rglob("*"):
            if path.is_file():
                yield path


def test_the_key_is_in_no_output_and_no_file(
    audited: dict[str, str], service: FakeService, tmp_path: Path
) -> None:
    home, glm_home = Path(audited["HOME"]), Path(audited["GLM_HOME"])
    talk = home / "talk.jsonl"
    audit = Audit(service, audited)
    down = (Status(500),) * 3
    dropped = (Drop(),) * 3
    body = home / "body.json"
    body.write_text('{"model": "glm-5.2", "messages": [{"role": "user", "content": "hi"}]}')

    # ask, json, raw: success in every output mode
    for extra in (
        [],
        ["--no-stream"],
        ["--ndjson"],
        ["--usage", "--show-thinking", "--sources"],
        ["--verbose"],
        ["--debug"],
        ["--protocol", "anthropic"],
    ):
        audit.run(0, "ask", *extra, "hi")
    audit.run(0, "json", "a JSON object", steps=(Reply(content='{"a": 1}'),))
    audit.run(
        0, "json", "--debug", "--no-stream", "a JSON object", steps=(Reply(content='{"a": 1}'),)
    )
    audit.run(0, "raw", "hi")
    audit.run(0, "raw", "--no-stream", "--debug", "hi")
    audit.run(0, "raw", "--body", str(body), "--verbose")
    # --dry-run, which shows the headers
    for command in ("ask", "json", "raw", "chat"):
        result = audit.run(0, command, "--dry-run", "hi")
        assert '"Bearer ***"' in result.stdout
    # failures: the service refuses the key, breaks, drops; bad flags
    audit.run(3, "ask", "hi", steps=(Status(401),))
    audit.run(3, "ask", "--debug", "--verbose", "hi", steps=(Status(401),))
    audit.run(3, "ask", "--ndjson", "hi", steps=(Status(403),))
    audit.run(3, "raw", "--debug", "hi", steps=(Status(401),))
    audit.run(5, "ask", "hi", steps=down)
    audit.run(5, "ask", "--verbose", "--debug", "hi", steps=down)
    audit.run(5, "ask", "--no-stream", "hi", steps=dropped)
    audit.run(5, "ask", "--debug", "hi", steps=dropped)
    cut = (Reply(content=["a ", "b"], reasoning=None, drop_after=1),)
    audit.run(5, "ask", "--stream", "hi", steps=cut)
    audit.run(2, "ask", "--temperature", "5", "hi")
    audit.run(2, "ask", "--no-such-flag", "hi")
    audit.run(2, "json", "--debug", "--temperature", "0.125", "hi")
    # chat: sessions and files, their management, and a failed exchange
    audit.run(0, "chat", "hi")
    audit.run(0, "chat", "--session", "work", "--system", "Be brief.", "hi")
    audit.run(0, "chat", "--session", "work", "--debug", "--verbose", "and then?")
    audit.run(0, "chat", "--file", str(talk), "hi")
    audit.run(0, "chat", "--file", str(talk), "--ndjson", "again")
    audit.run(5, "chat", "--session", "work", "--retries", "0", "lost", steps=(Status(500),))
    audit.run(0, "chat", "--list")
    audit.run(0, "chat", "--show", "work")
    audit.run(0, "chat", "--show", "work", "--ndjson")
    audit.run(0, "chat", "--session", "work", "--dry-run", "next")
    # glm config
    audit.run(0, "config", "path")
    audit.run(0, "config", "show")
    audit.run(0, "config", "init")
    audit.run(0, "config", "show", "--model", "other")
    # real processes: --debug writes its traceback to the process's own stderr
    audit.process(3, "ask", "--debug", "hi", steps=(Status(401),))
    audit.process(0, "chat", "--verbose", "--session", "work", "once more")
    # the interactive loop, whose readline history is kept on disk
    terminal = Terminal(["--session", "work"], audited)
    try:
        terminal.expect("glm> ")
        terminal.send("hello from the terminal\r")
        terminal.expect("Hello from the fake service.")
        terminal.expect("glm> ")
        terminal.send("\x04")
        assert terminal.wait() == 0
        audit.outputs.append(("chat (terminal)", terminal.output.encode()))
    finally:
        terminal.close()

    for command, output in audit.outputs:
        assert not leaks(output), (command, output.decode("utf-8", "replace"))
    written = list(files_under(tmp_path))
    for path in written:
        assert not leaks(path.read_bytes()), path
    # ... and the key did travel, to the service only
    assert service.requests
    assert {r.headers.get("authorization") for r in service.requests} == {f"Bearer {SENTINEL}"}

    # what glm keeps is private
    kept = [
        *(glm_home.glob("glm.db*")),
        talk,
        glm_home / "chat_history",
        Path(audited["XDG_CONFIG_HOME"]) / "glm" / "config.toml",
    ]
    assert glm_home / "glm.db" in kept and all(path.exists() for path in kept), written
    for path in kept:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert "hello from the terminal" in (glm_home / "chat_history").read_text()


# ---------------------------------------------------------------------------
# A key in the config file
# ---------------------------------------------------------------------------


def test_a_config_file_others_can_read_holding_the_key_is_warned_about(
    glm_env: dict[str, str],
    service: FakeService,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("GLM_API_KEY")
    config = tmp_path / "secret" / "config.toml"
    config.parent.mkdir()
    config.write_text(f'api_key = "{SENTINEL}"\n')
    for mode, warned in ((0o644, True), (0o604, True), (0o600, False)):
        config.chmod(mode)
        for args in (
            ["ask", "--config", str(config), "hi"],
            ["config", "show", "--config", str(config)],
        ):
            result = run_in_process(args)
            assert result.exit_code == 0, result.stderr
            assert not leaks(result.out + result.stderr.encode())
            assert ("readable by others" in result.stderr) is warned, (mode, result.stderr)
    assert service.requests[0].headers["authorization"] == f"Bearer {SENTINEL}"


# ---------------------------------------------------------------------------
# Where the key travels
# ---------------------------------------------------------------------------


def authorizations(service: FakeService) -> list[str | None]:
    return [request.headers.get("authorization") for request in service.requests]


def own_provider(tmp_path: Path, url: str, fallback_url: str) -> list[str]:
    config = tmp_path / "config.toml"
    config.write_text(
        f'[providers.local]\nprotocol = "openai"\nurl = "{url}"\nfallback_url = "{fallback_url}"\n'
        'key_env = "LOCAL_KEY"\n'
    )
    config.chmod(0o600)
    return ["--config", str(config), "--provider", "local"]


@pytest.fixture
def provider_key(audited: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Callable[..., Run]:
    """Runs with the key in the own provider's variable only, and no base URL."""
    monkeypatch.delenv("GLM_API_KEY")
    monkeypatch.delenv("GLM_BASE_URL")
    monkeypatch.setenv("LOCAL_KEY", SENTINEL)

    def run(*args: str) -> Run:
        result = run_in_process(list(args))
        assert not leaks(result.out + result.stderr.encode()), result.stderr
        return result

    return run


def test_the_fallback_of_the_provider_gets_the_key(
    provider_key: Callable[..., Run],
    service: FakeService,
    fallback_service: FakeService,
    tmp_path: Path,
) -> None:
    service.script(Drop())
    args = own_provider(tmp_path, service.url + PATH, fallback_service.url + PATH)
    result = provider_key("ask", *args, "hi")
    assert result.exit_code == 0, result.stderr
    assert authorizations(service) == [f"Bearer {SENTINEL}"]
    assert authorizations(fallback_service) == [f"Bearer {SENTINEL}"]


def test_a_base_url_takes_the_key_nowhere_else(
    provider_key: Callable[..., Run],
    service: FakeService,
    fallback_service: FakeService,
    tmp_path: Path,
) -> None:
    service.script(Drop(), Drop(), Drop())
    args = own_provider(tmp_path, fallback_service.url + PATH, fallback_service.url + PATH)
    result = provider_key("ask", *args, "--base-url", service.url, "hi")
    assert result.exit_code == 5
    assert authorizations(service) == [f"Bearer {SENTINEL}"] * 3
    assert fallback_service.requests == []


def test_a_redirect_is_not_followed_with_the_key(
    provider_key: Callable[..., Run],
    service: FakeService,
    fallback_service: FakeService,
    tmp_path: Path,
) -> None:
    elsewhere = fallback_service.url + PATH
    args = own_provider(tmp_path, service.url + PATH, service.url + PATH)
    for status in (301, 302, 307, 308):
        service.reset()
        service.script(Status(status, body=b"", headers={"Location": elsewhere}))
        result = provider_key("ask", *args, "--retries", "0", "hi")
        assert result.exit_code == 5, result.stderr
        assert_one_error(result.stderr, str(status), f"redirected to {elsewhere}")
    assert fallback_service.requests == []


def test_the_key_goes_to_no_other_providers_service(
    provider_key: Callable[..., Run],
    service: FakeService,
    fallback_service: FakeService,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A second provider with its own variable never gets the first one's key."""
    config = tmp_path / "two.toml"
    config.write_text(
        f'[providers.one]\nprotocol = "openai"\nurl = "{service.url + PATH}"\n'
        'key_env = "LOCAL_KEY"\n'
        f'[providers.two]\nprotocol = "openai"\nurl = "{fallback_service.url + PATH}"\n'
        'key_env = "TWO_KEY"\n'
    )
    monkeypatch.setenv("TWO_KEY", "sk-the-other-providers-key")
    assert provider_key("ask", "--config", str(config), "--provider", "one", "hi").exit_code == 0
    assert provider_key("ask", "--config", str(config), "--provider", "two", "hi").exit_code == 0
    assert authorizations(service) == [f"Bearer {SENTINEL}"]
    assert authorizations(fallback_service) == ["Bearer sk-the-other-providers-key"]


# ---------------------------------------------------------------------------
# A key that cannot go in a header is never quoted back
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("suffix", "code", "sent"),
    [
        ("\n", 0, True),  # a pasted newline is dropped
        ("  ", 0, True),
        ("\r\nX-Injected: yes", 3, False),  # never a second header
        ("’", 3, False),
        ("\t", 0, True),
        ("\x7f", 3, False),
    ],
    ids=repr,
)
def test_a_key_with_characters_a_header_cannot_carry(
    glm_env: dict[str, str],
    service: FakeService,
    monkeypatch: pytest.MonkeyPatch,
    suffix: str,
    code: int,
    sent: bool,
) -> None:
    monkeypatch.setenv("GLM_API_KEY", SENTINEL + suffix)
    result = run_in_process(["ask", "--retries", "0", "hi"])
    assert result.exit_code == code, result.stderr
    assert not leaks(result.out + result.stderr.encode()), result.stderr
    if sent:
        assert authorizations(service) == [f"Bearer {SENTINEL}"]
    else:
        assert_one_error(result.stderr, "GLM_API_KEY", "HTTP header")
        assert service.requests == []
