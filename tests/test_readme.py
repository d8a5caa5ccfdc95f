"""The README's promises that can drift: its commands, and CI doing what it says."""

from __future__ import annotations

import re
from pathlib import Path

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


def test_ci_runs_ruff_and_mypy() -> None:
    assert re.search(r"^ruff check ", CI, re.MULTILINE)
    assert re.search(r"^mypy$", CI, re.MULTILINE)


def test_exit_code_table_matches_the_code() -> None:
    from glm_cli.core.exit_codes import ExitCode

    for code in (0, 1, 2, 3, 4, 5, 6):
        assert re.search(rf"^\| {code} \|", README, re.MULTILINE), code
    assert {0, 1, 2, 3, 4, 5, 6, 130, 141, 143} <= {int(c) for c in ExitCode}
