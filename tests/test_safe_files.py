"""SPEC §3.2 "Safe files": no planted symlink redirects a write (the store and its
temporaries, `config init`, `/save`, the readline history, `--file`); an append is all
or nothing (a failing write under `RLIMIT_FSIZE` leaves the file byte-identical); and
a store or file glm cannot write fails before the request is sent (exit 1)."""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import pytest

from glm_cli.files.safe import append, write_atomically
from glm_cli.history.conversation import Conversation
from glm_cli.history.jsonl import save
from tests.fake_service import FakeService
from tests.helpers import Run, assert_one_error, run_in_process

VICTIM = b"precious, must not change\n"
NOBODY = 65534


def victim(tmp_path: Path) -> Path:
    path = tmp_path / "victim"
    path.write_bytes(VICTIM)
    return path


def plant(link: Path, target: Path) -> None:
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(target)


def chat(*args: str) -> Run:
    return run_in_process(["chat", *args])


# --- planted symlinks ---------------------------------------------------------------------


def test_a_link_at_the_old_store_temporary_name_is_not_followed(
    glm_env: dict[str, str], tmp_path: Path
) -> None:
    home = Path(glm_env["GLM_HOME"])
    target = victim(tmp_path)
    plant(home / f".glm.db.{os.getpid()}.new", target)  # the name glm used to use
    run = chat("--session", "s", "hi")
    assert run.exit_code == 0, run.stderr
    assert target.read_bytes() == VICTIM
    assert stat.S_IMODE((home / "glm.db").stat().st_mode) == 0o600
    assert sorted(p.name for p in home.iterdir()) == sorted(
        ["glm.db", f".glm.db.{os.getpid()}.new"]
    )  # no temporary left behind


def test_a_dangling_link_at_the_store_is_not_written_through(
    glm_env: dict[str, str], tmp_path: Path, service: FakeService
) -> None:
    home = Path(glm_env["GLM_HOME"])
    target = tmp_path / "elsewhere.db"
    plant(home / "glm.db", target)
    run = chat("--session", "s", "hi")
    assert run.exit_code == 1, run.stderr
    assert_one_error(run.stderr, "chat store")
    assert not target.exists()
    assert service.requests == []


def test_config_init_does_not_follow_a_link_at_its_temporary(
    glm_env: dict[str, str], tmp_path: Path
) -> None:
    config = Path(glm_env["XDG_CONFIG_HOME"]) / "glm" / "config.toml"
    target = victim(tmp_path)
    plant(config.with_name(f".config.toml.{os.getpid()}.tmp"), target)
    run = run_in_process(["config", "init"])
    assert run.exit_code == 0, run.stderr
    assert target.read_bytes() == VICTIM
    assert config.is_file() and not config.is_symlink()
    assert stat.S_IMODE(config.stat().st_mode) == 0o600


def test_config_init_force_replaces_a_link_instead_of_writing_through_it(
    glm_env: dict[str, str], tmp_path: Path
) -> None:
    config = Path(glm_env["XDG_CONFIG_HOME"]) / "glm" / "config.toml"
    target = victim(tmp_path)
    plant(config, target)
    refused = run_in_process(["config", "init"])
    assert refused.exit_code == 2  # a link there is a file there
    assert_one_error(refused.stderr, "already exists")
    run = run_in_process(["config", "init", "--force"])
    assert run.exit_code == 0, run.stderr
    assert target.read_bytes() == VICTIM
    assert not config.is_symlink() and config.read_text().startswith("# glm configuration")


def test_config_init_over_a_dangling_link_needs_force(
    glm_env: dict[str, str], tmp_path: Path
) -> None:
    config = Path(glm_env["XDG_CONFIG_HOME"]) / "glm" / "config.toml"
    target = tmp_path / "not-yet"
    plant(config, target)
    run = run_in_process(["config", "init"])
    assert run.exit_code == 2
    assert not target.exists()


def test_save_does_not_follow_links_at_its_temporary_or_its_target(tmp_path: Path) -> None:
    target = victim(tmp_path)
    path = tmp_path / "talk.jsonl"
    plant(tmp_path / f".talk.jsonl.{os.getpid()}.new", target)  # the name glm used to use
    conversation = Conversation("be brief", [{"role": "user", "content": "hi"}])
    save(path, conversation)
    assert target.read_bytes() == VICTIM
    assert path.read_bytes().count(b"\n") == 2
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    path.unlink()
    plant(path, target)
    save(path, conversation)
    assert target.read_bytes() == VICTIM
    assert not path.is_symlink() and b'"be brief"' in path.read_bytes()


def test_the_readline_history_replaces_a_link_instead_of_writing_through_it(
    tmp_path: Path,
) -> None:
    import readline

    from glm_cli.commands.interactive import ChatLoop

    target = victim(tmp_path)
    history_file = tmp_path / "glm" / "chat_history"
    plant(history_file, target)
    readline.clear_history()
    readline.add_history("a line typed in the loop")
    try:
        ChatLoop._save_readline(SimpleNamespace(history_file=history_file))  # type: ignore[arg-type]
    finally:
        readline.clear_history()
    assert target.read_bytes() == VICTIM
    assert not history_file.is_symlink()
    assert b"a line typed in the loop" in history_file.read_bytes()
    assert stat.S_IMODE(history_file.stat().st_mode) == 0o600
    assert sorted(p.name for p in history_file.parent.iterdir()) == ["chat_history"]


@pytest.mark.parametrize("dangling", [False, True])
def test_chat_file_refuses_a_symlink_before_any_request(
    glm_env: dict[str, str], tmp_path: Path, service: FakeService, dangling: bool
) -> None:
    target = tmp_path / "missing" if dangling else victim(tmp_path)
    link = tmp_path / "talk.jsonl"
    plant(link, target)
    run = chat("--file", str(link), "hi")
    assert run.exit_code == 2, run.stderr
    assert_one_error(run.stderr, "symbolic link")
    assert service.requests == []
    assert not target.exists() if dangling else target.read_bytes() == VICTIM


# --- all or nothing ---------------------------------------------------------------------


def test_write_atomically_leaves_the_old_file_when_it_fails(tmp_path: Path) -> None:
    path = tmp_path / "kept"
    path.write_bytes(VICTIM)

    class Boom(Exception):
        pass

    def fail(*args: object) -> None:
        raise Boom()

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(os, "fsync", fail)
        with pytest.raises(Boom):
            write_atomically(path, b"new")
    assert path.read_bytes() == VICTIM
    assert [p.name for p in tmp_path.iterdir()] == ["kept"]


def test_append_cuts_a_failed_write_back(tmp_path: Path) -> None:
    path = tmp_path / "log"
    path.write_bytes(VICTIM)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    try:
        original = os.write
        calls = []

        def short_then_full(descriptor: int, data: bytes) -> int:
            calls.append(len(data))
            if len(calls) == 1:
                return original(descriptor, bytes(data[:3]))
            raise OSError(28, "No space left on device")

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(os, "write", short_then_full)
            with pytest.raises(OSError):
                append(fd, b"a whole line\n")
    finally:
        os.close(fd)
    assert len(calls) == 2  # a torn line was written, then taken back
    assert path.read_bytes() == VICTIM


def _file_size_limit(limit: int) -> None:
    """In the child: a file size limit, and EFBIG instead of death by SIGXFSZ."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def test_a_failed_append_to_a_chat_file_leaves_it_byte_identical(
    glm_env: dict[str, str], tmp_path: Path, service: FakeService
) -> None:
    path = tmp_path / "talk.jsonl"
    assert chat("--file", str(path), "first").exit_code == 0
    before = path.read_bytes()
    process = subprocess.run(
        [sys.executable, "-m", "glm_cli", "chat", "--file", str(path), "x" * 500],
        env=glm_env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=60,
        preexec_fn=lambda: _file_size_limit(len(before) + 10),
    )
    assert process.returncode == 1, process.stderr
    assert_one_error(process.stderr, f"cannot write to {path}: File too large")
    assert len(service.requests) == 2  # the answer came; storing it failed
    assert path.read_bytes() == before
    again = chat("--file", str(path), "third")
    assert again.exit_code == 0, again.stderr
    sent = service.requests[-1].json
    assert isinstance(sent, dict)
    assert [m["content"] for m in sent["messages"] if m["role"] == "user"] == ["first", "third"]


def test_a_chat_into_a_full_stdout_stores_nothing(
    glm_env: dict[str, str], service: FakeService
) -> None:
    with open("/dev/full", "wb") as full:
        process = subprocess.run(
            [sys.executable, "-m", "glm_cli", "chat", "--session", "s", "hi"],
            env=glm_env,
            stdin=subprocess.DEVNULL,
            stdout=full,
            stderr=subprocess.PIPE,
            timeout=60,
        )
    assert process.returncode == 1, process.stderr
    assert b"Traceback" not in process.stderr
    assert len(service.requests) == 1
    shown = chat("--show", "s")
    assert shown.exit_code == 2  # no such session: nothing was stored
    assert "no such session" in shown.stderr


# --- writable before the request -----------------------------------------------------------


@pytest.fixture
def open_home(glm_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """HOME, the XDG folders and GLM_HOME in a folder `as_glm_user` can reach (as root,
    the tests' own tmp_path cannot be entered by another user)."""
    base = Path(tempfile.mkdtemp(prefix="glm-safe-files-"))
    if os.geteuid() == 0:
        os.chown(base, NOBODY, NOBODY)
    for name, sub in (
        ("HOME", "home"),
        ("XDG_CONFIG_HOME", "home/.config"),
        ("XDG_DATA_HOME", "home/.local/share"),
        ("GLM_HOME", "glm-home"),
    ):
        monkeypatch.setenv(name, str(base / sub))
    try:
        yield base
    finally:
        _make_writable(base)
        shutil.rmtree(base)


def _make_writable(base: Path) -> None:
    for folder, _, files in os.walk(base):
        os.chmod(folder, 0o700)
        for name in files:
            os.chmod(Path(folder) / name, 0o600)


def _hand_over(base: Path) -> None:
    """As root, give the files to the user `as_glm_user` runs as, so modes bind it."""
    if os.geteuid() != 0:
        return
    for folder, _, files in os.walk(base):
        os.chown(folder, NOBODY, NOBODY)
        for name in files:
            os.chown(Path(folder) / name, NOBODY, NOBODY)


@contextmanager
def as_glm_user() -> Iterator[None]:
    """Permission bits do not bind root: as root, run glm as `nobody` (real and
    effective ids, so `os.access` answers for it too), then come back."""
    if os.geteuid() != 0:
        yield
        return
    os.setresgid(NOBODY, NOBODY, 0)
    os.setresuid(NOBODY, NOBODY, 0)
    try:
        yield
    finally:
        os.setresuid(0, 0, 0)
        os.setresgid(0, 0, 0)


def _session_messages(store: Path, name: str) -> int:
    with sqlite3.connect(store) as db:
        row = db.execute(
            "SELECT count(*) FROM messages JOIN sessions ON sessions.id = session_id"
            " WHERE name = ?",
            (name,),
        ).fetchone()
    return int(row[0])


@pytest.mark.parametrize("what", ["file", "folder"])
def test_a_read_only_store_fails_before_the_request(
    open_home: Path, service: FakeService, what: str
) -> None:
    home = open_home / "glm-home"
    store = home / "glm.db"
    assert chat("--session", "s", "first").exit_code == 0
    _hand_over(open_home)
    (store if what == "file" else home).chmod(0o444 if what == "file" else 0o555)
    with as_glm_user():
        run = chat("--session", "s", "second")
    assert run.exit_code == 1, run.stderr
    assert_one_error(run.stderr, f"cannot write the chat store {store}")
    assert len(service.requests) == 1  # the first exchange only
    _make_writable(open_home)
    assert _session_messages(store, "s") == 2


def test_a_new_store_in_a_read_only_folder_fails_before_the_request(
    open_home: Path, service: FakeService
) -> None:
    home = open_home / "glm-home"
    home.mkdir()
    _hand_over(open_home)
    home.chmod(0o555)
    with as_glm_user():
        run = chat("--session", "s", "hi")
    assert run.exit_code == 1, run.stderr
    assert_one_error(run.stderr, f"cannot write the chat store {home / 'glm.db'}")
    assert service.requests == []


def test_a_store_that_is_a_directory_fails_before_the_request(
    glm_env: dict[str, str], service: FakeService
) -> None:
    store = Path(glm_env["GLM_HOME"]) / "glm.db"
    store.mkdir(parents=True)
    run = chat("--session", "s", "hi")
    assert run.exit_code == 1, run.stderr
    assert_one_error(run.stderr, f"cannot write the chat store {store}")
    assert service.requests == []


def test_a_read_only_chat_file_fails_before_the_request(
    open_home: Path, service: FakeService
) -> None:
    path = open_home / "talk.jsonl"
    assert chat("--file", str(path), "first").exit_code == 0
    before = path.read_bytes()
    _hand_over(open_home)
    path.chmod(0o444)
    with as_glm_user():
        run = chat("--file", str(path), "second")
    assert run.exit_code == 1, run.stderr
    assert_one_error(run.stderr, f"cannot write to {path}")
    assert len(service.requests) == 1
    assert path.read_bytes() == before
    assert json.loads(before.splitlines()[0])["content"] == "first"


def test_a_chat_file_in_a_read_only_folder_fails_before_the_request(
    open_home: Path, service: FakeService
) -> None:
    folder = open_home / "ro"
    folder.mkdir()
    _hand_over(open_home)
    folder.chmod(0o555)
    with as_glm_user():
        run = chat("--file", str(folder / "talk.jsonl"), "hi")
    assert run.exit_code == 1, run.stderr
    assert_one_error(run.stderr, "cannot write to", "cannot create a file in")
    assert service.requests == []
