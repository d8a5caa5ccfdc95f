"""Shell completions (issue 6; SPEC §4): generated from the CLI, checked in, and
driven for real in bash, zsh and fish.

bash is always there. zsh and fish come from the distribution (`.ci/run` installs
them); where one is missing its tests skip and say so.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from glm_cli import shipped
from glm_cli.core.validate import EFFORTS
from glm_cli.settings.config import PROTOCOLS
from glm_cli.settings.providers import BUILT_IN

ROOT = Path(__file__).resolve().parent.parent
BASH_SCRIPT = ROOT / shipped.BASH
ZSH_SCRIPT = ROOT / shipped.ZSH
FISH_SCRIPT = ROOT / shipped.FISH
TIMEOUT = 60
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


def bash_complete(cases: list[list[str]], cwd: Path | None = None) -> list[list[str]]:
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
        ["bash", "--norc", "--noprofile", "-c", "\n".join(lines)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        cwd=cwd,
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


def zsh_complete(line: str, tmp_path: Path, cwd: Path | None = None) -> list[str]:
    zsh = need("zsh")
    harness = tmp_path / "capture.zsh"
    harness.write_text(ZSH_CAPTURE)
    result = subprocess.run(
        [zsh, "-f", str(harness), str(ZSH_SCRIPT.parent), line, str(tmp_path / "init.zsh")],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        cwd=cwd or tmp_path,
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


def fish_complete(lines: list[str], cwd: Path) -> list[list[str]]:
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
