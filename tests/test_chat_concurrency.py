"""SPEC §1.4: two processes appending at once lose nothing — here twenty, all started at
once, on one session and on one file. Each exchange must land whole: every question
once, each followed at once by its answer, never half a message."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from tests.fake_service import FakeService
from tests.helpers import glm_command, run_glm

PROCESSES = 20
WAIT = 60


def run_all(commands: list[list[str]], env: dict[str, str]) -> None:
    processes = [
        subprocess.Popen(
            command,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for command in commands
    ]
    failures = []
    for process in processes:
        _, err = process.communicate(timeout=WAIT)
        if process.returncode != 0:
            failures.append((process.args, process.returncode, err.decode()))
    assert not failures, failures


def test_twenty_processes_append_to_one_session(
    glm_env: dict[str, str], service: FakeService
) -> None:
    run_all(
        [glm_command("chat", "--session", "shared", f"question {i}") for i in range(PROCESSES)],
        glm_env,
    )
    shown = run_glm(["chat", "--show", "shared", "--ndjson"], glm_env)
    assert shown.returncode == 0, shown.stderr
    check_pairs([json.loads(line) for line in shown.stdout.splitlines()])
    listed = run_glm(["chat", "--list"], glm_env).stdout.decode()
    assert listed.startswith(f"shared\t{2 * PROCESSES}\t")


def test_twenty_processes_append_to_one_file(
    glm_env: dict[str, str], service: FakeService, tmp_path: Path
) -> None:
    path = tmp_path / "shared.jsonl"
    run_all(
        [glm_command("chat", "--file", str(path), f"question {i}") for i in range(PROCESSES)],
        glm_env,
    )
    check_pairs([json.loads(line) for line in path.read_text().splitlines()])


def check_pairs(history: list[dict[str, Any]]) -> None:
    questions = [m["content"] for m in history if m["role"] == "user"]
    assert sorted(questions) == sorted(f"question {i}" for i in range(PROCESSES))
    assert len(history) == 2 * PROCESSES
    for user, assistant in zip(history[::2], history[1::2], strict=True):
        assert user["role"] == "user", history
        assert assistant == {"role": "assistant", "content": "Hello from the fake service."}
