"""The README's promises that can drift: its commands, and CI doing what it says."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import environ_without_glm, run_glm

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
CI = (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def _code_blocks() -> list[str]:
    return re.findall(r"```sh\n(.*?)```", README, re.DOTALL)


def test_readme_has_an_install_and_run_command() -> None:
    blocks = _code_blocks()
    assert any("pip install ." in b and "glm ask" in b for b in blocks), blocks


def test_ci_installs_and_tests_the_way_the_readme_says() -> None:
    test_command = next(b for b in _code_blocks() if "pytest" in b).strip()
    assert 'pip install ".[test,dev]"' in test_command
    assert 'pip install --quiet ".[test,dev]"' in CI
    assert test_command.endswith("pytest")
    assert re.search(r"^pytest$", CI, re.MULTILINE)


def test_ci_runs_ruff_mypy_and_the_layer_contracts() -> None:
    assert re.search(r"^ruff check ", CI, re.MULTILINE)
    assert re.search(r"^ruff format --check ", CI, re.MULTILINE)
    assert re.search(r"^mypy$", CI, re.MULTILINE)
    assert re.search(r"lint-imports\"?$", CI, re.MULTILINE)


def test_exit_code_table_matches_the_code() -> None:
    from glm_cli.core.exit_codes import ExitCode

    for code in (0, 1, 2, 3, 4, 5, 6):
        assert re.search(rf"^\| {code} \|", README, re.MULTILINE), code
    assert {0, 1, 2, 3, 4, 5, 6, 141} <= {int(c) for c in ExitCode}
    deaths = [128 + s for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGPIPE)]
    assert re.search(r"^\| " + " / ".join(map(str, deaths)) + r" \|", README, re.MULTILINE)


MAN = (ROOT / "man" / "glm.1.in").read_text(encoding="utf-8")
_JQ_FILTER = re.compile(r"(?:\||\$\()\s*jq((?:\s+\\?-\w+)*)\s+([^\s|)]+)")


@pytest.mark.parametrize("text", [README, MAN], ids=["README.md", "glm.1.in"])
def test_jq_filters_with_shell_characters_are_quoted(text: str) -> None:
    """`jq -c .choices[0].delta` is a glob to zsh ("no matches found"): quote it."""
    unquoted = [
        match.group(0)
        for match in _JQ_FILTER.finditer(text)
        if match.group(2)[0] not in "'\"" and re.search(r"[][*?(){}<>;&$]", match.group(2))
    ]
    assert unquoted == []
    assert "jq -c '.choices[0].delta'" in text.replace("\\-", "-")


def test_the_fresh_machine_commands_work_from_nothing() -> None:
    """A clone before `pip install .`, and `~/.local/bin` made before linking into it."""
    install = next(b for b in _code_blocks() if "pip install ." in b)
    assert re.search(r"^git clone \S+ && cd glm$", install, re.MULTILINE), install
    assert "from a clone of this repository" in README.lower()
    assert "mkdir -p ~/.local/bin && ln -s ~/.glm/bin/glm ~/.local/bin/glm" in README


def test_the_test_command_says_what_ci_adds() -> None:
    ruff = re.search(r"^(ruff check .*)$", CI, re.MULTILINE)
    assert ruff is not None
    before_tests = README[: README.index('.venv/bin/pip install ".[test,dev]"')]
    sentence = before_tests[before_tests.rindex("Install and run the tests") :]
    assert "runs the test suite only" in sentence
    assert f"`{ruff.group(1)}`" in sentence and "`mypy`" in sentence and "`.ci/run`" in sentence
    assert "`lint-imports`" in sentence and "`ruff format --check" in sentence


def test_the_local_server_in_the_readme_answers_glm(tmp_path: Path) -> None:
    """`python3 -m tests.fake_service` prints its URL, and glm asks it as the README shows."""
    assert "python3 -m tests.fake_service --port 8080 &" in README
    assert "GLM_BASE_URL=http://127.0.0.1:8080 GLM_API_KEY=x ~/.glm/bin/glm ask hi" in README
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.fake_service", "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )
    try:
        assert server.stdout is not None
        url = server.stdout.readline().decode().strip()  # waits for the line: it is listening
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url), url
        env = {
            **environ_without_glm(),
            "GLM_BASE_URL": url,
            "GLM_API_KEY": "x",
            "HOME": str(tmp_path),
            "XDG_CONFIG_HOME": str(tmp_path / "config"),
        }
        result = run_glm(["ask", "hi"], env)
        assert result.returncode == 0, result.stderr
        assert result.stdout == b"Hello from the fake service.\n"
    finally:
        server.send_signal(signal.SIGINT)
        assert server.wait(timeout=30) == 0
