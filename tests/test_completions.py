"""Shell completions (issue 6; SPEC §4): generated from the CLI, checked in, and
driven for real in bash, zsh and fish.

bash is always there. zsh and fish come from the distribution (`.ci/run` installs
them); where one is missing its tests skip and say so.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from glm_cli import shipped
from glm_cli.core.validate import EFFORTS
from glm_cli.settings.config import PROTOCOLS
from glm_cli.settings.providers import BUILT_IN
from tests.fake_service import FakeService
from tests.helpers import run_in_process

ROOT = Path(__file__).resolve().parent.parent
BASH_SCRIPT = ROOT / shipped.BASH
ZSH_SCRIPT = ROOT / shipped.ZSH
FISH_SCRIPT = ROOT / shipped.FISH
TIMEOUT = 60
BASH = shutil.which("bash") or "bash"
TREE = shipped.cli_tree()
LEAVES = [c for c in TREE.walk() if c.path and not c.subcommands]


def file_options(command: shipped.Command) -> list[str]:
    return [n for o in command.options if o.files for n in o.names if n.startswith("--")]


# ---------------------------------------------------------------------------
# Generated and up to date
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", [shipped.BASH, shipped.ZSH, shipped.FISH], ids=str)
def test_completion_is_up_to_date(path: Path) -> None:
    expected = shipped.outputs()[path]
    assert (ROOT / path).read_text(encoding="utf-8") == expected, (
        f"{path} is stale: run `python -m glm_cli.shipped`"
    )


def test_the_required_options_complete_files() -> None:
    """--tool, --schema, --body, --file, --prompt-file, --config, --api-key-file."""
    seen = {n for c in LEAVES for n in file_options(c)}
    present = {n for c in LEAVES for o in c.options for n in o.names}
    assert shipped.FILE_OPTIONS & present <= seen
    assert {"--schema", "--body", "--prompt-file", "--config", "--api-key-file"} <= seen


def test_the_fixed_choices() -> None:
    choices = {o.key: o.choices for c in LEAVES for o in c.options if o.choices}
    assert choices["--effort"] == list(EFFORTS)
    assert choices["--provider"] == list(BUILT_IN)
    assert choices["--protocol"] == list(PROTOCOLS)
    if "--mcp-transport" in choices:
        assert choices["--mcp-transport"] == ["sse", "streamable-http"]
    for path in (BASH_SCRIPT, ZSH_SCRIPT, FISH_SCRIPT):
        text = path.read_text(encoding="utf-8")
        for values in choices.values():
            assert " ".join(values) in text, (path, values)


# ---------------------------------------------------------------------------
# bash, for real
# ---------------------------------------------------------------------------


def bash_complete(
    cases: list[list[str]],
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> list[list[str]]:
    """Complete each command line (its last word the one being completed) in one bash."""
    lines = [f"source {BASH_SCRIPT}"]
    for words in cases:
        quoted = " ".join("'" + w.replace("'", "'\\''") + "'" for w in words)
        lines += [
            f"COMP_WORDS=({quoted}); COMP_CWORD={len(words) - 1}; COMP_LINE='{' '.join(words)}'",
            "COMPREPLY=(); _glm",
            'printf "%s\\n" "${COMPREPLY[@]}"; echo "@@END@@"',
        ]
    result = subprocess.run(
        [BASH, "--norc", "--noprofile", "-c", "\n".join(lines)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        cwd=cwd,
        env=env,
    )
    assert result.returncode == 0 and result.stderr == "", result.stderr
    replies = result.stdout.split("@@END@@\n")[:-1]
    return [[w for w in reply.split("\n") if w] for reply in replies]


def test_bash_completes_commands_and_choices() -> None:
    got = bash_complete(
        [
            ["glm", "a"],
            ["glm", "ask", "--effort", "h"],
            ["glm", ""],
            ["glm", "ask", "--provider", ""],
            ["glm", "ask", "--protocol", "a"],
            ["glm", "ask", "--effort", "=", "m"],  # --effort=m, as bash splits it
            ["glm", "config", ""],
            ["glm", "config", "show", "--prov"],
            ["glm", "ask", "--model", ""],
            ["glm", "ask", "--", "--eff"],
            ["glm", "--v"],
        ]
    )
    assert got[0] == ["ask"]
    assert got[1] == ["high"]
    assert sorted(got[2]) == sorted(c.path[-1] for c in TREE.subcommands)
    assert got[3] == list(BUILT_IN)
    assert got[4] == ["anthropic"]
    assert got[5] == ["max", "medium", "minimal"]
    assert got[6] == ["path", "show", "init"]
    assert got[7] == ["--provider"]
    assert got[8] == []  # free text: nothing to offer
    assert got[9] == []  # after --, the prompt
    assert got[10] == ["--version"]


def test_bash_offers_every_option_of_every_command() -> None:
    got = bash_complete([["glm", *c.path, "--"] for c in LEAVES])
    for command, reply in zip(LEAVES, got, strict=True):
        expected = {n for o in command.options for n in o.all_names if n.startswith("--")}
        assert set(reply) == expected, command.name


def test_bash_completes_files_for_file_options(tmp_path: Path) -> None:
    (tmp_path / "schema.json").write_text("{}")
    (tmp_path / "notes.txt").write_text("")
    cases = [(c, option) for c in LEAVES for option in file_options(c)]
    assert cases
    got = bash_complete([["glm", *c.path, option, "sch"] for c, option in cases], tmp_path)
    for (command, option), reply in zip(cases, got, strict=True):
        assert reply == ["schema.json"], (command.name, option, reply)


# ---------------------------------------------------------------------------
# zsh, for real (through zpty, as a user pressing Tab)
# ---------------------------------------------------------------------------

ZSH_CAPTURE = r"""
zmodload zsh/zpty || { print -u2 "zsh/zpty is missing"; exit 3 }
dir=$1 line=$2 init=$3
zpty z zsh -f -i
cat > $init <<INIT
PROMPT=
fpath=($dir \$fpath)
autoload -Uz compinit
compinit -u -D
bindkey '^I' complete-word
zstyle ':completion:*' list-grouped false
zstyle ':completion:*' insert-tab false
null-line() { print -r -- \$'\\0' }
compprefuncs=( null-line )
comppostfuncs=( null-line exit )
compadd() {
  if [[ \${@[1,(i)(-|--)]} == *-(O|A|D)\\ * ]]; then
    builtin compadd "\$@"; return \$?
  fi
  typeset -a __hits
  builtin compadd -A __hits "\$@"
  local h
  for h in \$__hits; do print -r -- "CAND:\$h"; done
}
print ok
INIT
zpty -w z "source $init"
repeat 20; do
  zpty -r z got || break
  [[ $got == ok* ]] && break
done
zpty -w z "$line"$'\t'
integer tog=0
while zpty -r z got; do
  [[ $got == *$'\0'* ]] && { (( tog++ )); (( tog >= 2 )) && break; continue }
  if (( tog )) && [[ $got == CAND:* ]]; then
    h=${got#CAND:}; h=${h//$'\r'/}; h=${h//$'\n'/}; print -r -- $h
  fi
done
zpty -d z
"""


def need(shell: str) -> str:
    path = shutil.which(shell)
    if path is None:
        pytest.skip(
            f"{shell} is not installed, so its completion is not tested here "
            f"(apt-get install {shell}; .ci/run does)"
        )
    return path


def zsh_complete(
    line: str, tmp_path: Path, cwd: Path | None = None, env: dict[str, str] | None = None
) -> list[str]:
    zsh = need("zsh")
    harness = tmp_path / "capture.zsh"
    harness.write_text(ZSH_CAPTURE)
    result = subprocess.run(
        [zsh, "-f", str(harness), str(ZSH_SCRIPT.parent), line, str(tmp_path / "init.zsh")],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        cwd=cwd or tmp_path,
        env=env,
    )
    if result.returncode == 3:
        pytest.skip(f"zsh cannot drive a completion here: {result.stderr.strip()}")
    return sorted(w for w in result.stdout.split("\n") if w)


def test_zsh_script_parses() -> None:
    zsh = need("zsh")
    result = subprocess.run([zsh, "-n", str(ZSH_SCRIPT)], capture_output=True, timeout=TIMEOUT)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("glm a", ["ask"]),
        ("glm ask --effort h", ["high"]),
        ("glm ask --effort=h", ["high"]),
        ("glm ask --provider ", sorted(BUILT_IN)),
        ("glm raw --protocol ", sorted(PROTOCOLS)),
        ("glm config ", ["init", "path", "show"]),
        ("glm config show --prov", ["--provider"]),
        ("glm json --schema sch", ["schema.json"]),
    ],
)
def test_zsh_completes(tmp_path: Path, line: str, expected: list[str]) -> None:
    (tmp_path / "schema.json").write_text("{}")
    assert zsh_complete(line, tmp_path) == expected


# ---------------------------------------------------------------------------
# fish, for real
# ---------------------------------------------------------------------------


def fish_complete(
    lines: list[str], cwd: Path, env: dict[str, str] | None = None
) -> list[list[str]]:
    fish = need("fish")
    script = [f"source {FISH_SCRIPT}"]
    for line in lines:
        script += [f"complete -C {shipped.fish_quote(line)}", "echo @@END@@"]
    result = subprocess.run(
        [fish, "--no-config", "-c", "\n".join(script)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        cwd=cwd,
        env=env,
    )
    assert result.returncode == 0 and result.stderr == "", result.stderr
    replies = result.stdout.split("@@END@@\n")[:-1]
    return [sorted(w.split("\t")[0] for w in reply.split("\n") if w) for reply in replies]


def test_fish_script_parses() -> None:
    fish = need("fish")
    result = subprocess.run(
        [fish, "--no-config", "--no-execute", str(FISH_SCRIPT)],
        capture_output=True,
        timeout=TIMEOUT,
    )
    assert result.returncode == 0, result.stderr


def test_fish_completes(tmp_path: Path) -> None:
    (tmp_path / "schema.json").write_text("{}")
    got = fish_complete(
        [
            "glm a",
            "glm ask --effort h",
            "glm ask --provider ",
            "glm config ",
            "glm config show --prov",
            "glm json --schema sch",
            "glm ask --model ",
            "glm ",
        ],
        tmp_path,
    )
    assert got[0] == ["ask"]
    assert got[1] == ["high"]
    assert got[2] == sorted(BUILT_IN)
    assert got[3] == ["init", "path", "show"]
    assert got[4] == ["--provider"]
    assert got[5] == ["schema.json"]
    assert got[6] == []
    assert set(c.path[-1] for c in TREE.subcommands) <= set(got[7])


# ---------------------------------------------------------------------------
# Names glm lists: sessions (glm chat --list), templates (glm templates list)
# ---------------------------------------------------------------------------

SESSIONS = ["alpha", "beta notes"]
SESSION_VALUES = ["--session", "--fork", "--show", "--delete"]
TEMPLATES = ["review", "summary"]


def glm_on_path(tmp_path: Path, env: dict[str, str], script: str) -> dict[str, str]:
    """`env` with a `glm` first on PATH that runs `script` (sh)."""
    folder = tmp_path / "bin"
    folder.mkdir(exist_ok=True)
    glm = folder / "glm"
    glm.write_text(f"#!/bin/sh\n{script}\n")
    glm.chmod(0o755)
    return {**env, "PATH": f"{folder}{os.pathsep}{env['PATH']}"}


@pytest.fixture
def two_sessions(glm_env: dict[str, str], service: FakeService, tmp_path: Path) -> dict[str, str]:
    """A store holding two sessions, and an environment whose `glm` is this one."""
    for name in SESSIONS:
        assert run_in_process(["chat", "--session", name, "hi"]).exit_code == 0
    return glm_on_path(tmp_path, glm_env, f'exec {shlex.quote(sys.executable)} -m glm_cli "$@"')


@pytest.fixture
def two_templates(two_sessions: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """Two templates beside the two sessions; the environment as `two_sessions`."""
    folder = Path(two_sessions["XDG_CONFIG_HOME"]) / "glm" / "templates"
    folder.mkdir(parents=True)
    for name in TEMPLATES:
        (folder / f"{name}.toml").write_text('prompt = "{input}"\n', encoding="utf-8")
    return two_sessions


def test_which_values_are_names_glm_lists() -> None:
    listed = {
        o.key: shipped.value_action(o, str, "FILE", "ANY", lambda a, f: f"LIST {a}")
        for c in LEAVES
        for o in c.options
        if o.metavar
    }
    for option in SESSION_VALUES:
        assert listed[option] == "LIST chat --list", option
    assert listed["--model"] == "ANY"
    assert listed["--template"] == "LIST templates list"


def test_bash_completes_session_names(two_sessions: dict[str, str]) -> None:
    got = bash_complete(
        [
            ["glm", "chat", "--session", ""],
            ["glm", "chat", "--fork", "a"],
            ["glm", "chat", "--show", "b"],
            ["glm", "chat", "--delete", ""],
            ["glm", "chat", "--session", "=", ""],  # --session=, as bash splits it
            ["glm", "logs", "--session", "al"],
            ["glm", "chat", "--session", "z"],
            ["glm", "chat", "--model", ""],
        ],
        env=two_sessions,
    )
    assert got[0] == ["alpha", "beta\\ notes"]  # quoted for the command line
    assert got[1] == ["alpha"]
    assert got[2] == ["beta\\ notes"]
    assert got[3] == got[4] == got[0]
    assert got[5] == ["alpha"]
    assert got[6] == got[7] == []


def test_bash_offers_nothing_when_glm_fails_or_is_missing(
    glm_env: dict[str, str], tmp_path: Path
) -> None:
    failing = glm_on_path(tmp_path, glm_env, "echo broken >&2; exit 2")
    assert bash_complete([["glm", "chat", "--session", ""]], env=failing) == [[]]
    missing = {**glm_env, "PATH": str(tmp_path / "nowhere")}
    assert bash_complete([["glm", "chat", "--show", ""]], env=missing) == [[]]


def test_bash_completes_template_names_and_files(
    two_templates: dict[str, str], tmp_path: Path
) -> None:
    """-T takes a template's name or a path: both are offered."""
    folder = tmp_path / "work"
    folder.mkdir()
    (folder / "story.toml").write_text("")
    got = bash_complete(
        [["glm", "ask", "-T", "r"], ["glm", "chat", "--template", "s"]], folder, two_templates
    )
    assert got == [["review"], ["story.toml", "summary"]]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("glm chat --session ", ["alpha", "beta\\ notes"]),  # quoted for the command line
        ("glm chat --fork a", ["alpha"]),
        ("glm chat --delete=b", ["beta\\ notes"]),
        ("glm logs --session ", ["alpha", "beta\\ notes"]),
    ],
)
def test_zsh_completes_session_names(
    two_sessions: dict[str, str], tmp_path: Path, line: str, expected: list[str]
) -> None:
    assert zsh_complete(line, tmp_path, env=two_sessions) == expected


def test_zsh_completes_template_names_and_files(
    two_templates: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "story.toml").write_text("")
    assert zsh_complete("glm ask -T r", tmp_path, env=two_templates) == ["review"]
    assert zsh_complete("glm json --template=s", tmp_path, env=two_templates) == [
        "story.toml",
        "summary",
    ]


def test_fish_completes_session_and_template_names(
    two_templates: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "story.toml").write_text("")
    got = fish_complete(
        [
            "glm chat --session ",
            "glm chat --show b",
            "glm logs --session ",
            "glm chat --model ",
            "glm ask -T r",
            "glm chat --template s",
        ],
        tmp_path,
        env=two_templates,
    )
    assert got == [SESSIONS, ["beta notes"], SESSIONS, [], ["review"], ["story.toml", "summary"]]
