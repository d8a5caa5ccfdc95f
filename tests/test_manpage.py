"""man/glm.1 (issue 6; SPEC §4): generated from the CLI, never drifting from it.

The options and the synopsis come from typer's click command tree through
`python -m glm_cli.shipped`; these tests fail when the checked-in page is stale,
when the CLI has a command or option the page lacks, when the page names one the
CLI no longer has, and when groff warns about it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import typer.main

from glm_cli import shipped
from glm_cli.__main__ import make_app
from glm_cli.core.exit_codes import ExitCode

ROOT = Path(__file__).resolve().parent.parent
PAGE_PATH = ROOT / "man" / "glm.1"
PAGE = PAGE_PATH.read_text(encoding="utf-8")

SPEC_ENVIRONMENT = [  # SPEC §4, word for word, plus the proxy variables it names
    "GLM_API_KEY",
    "EVOLINK_API_KEY",
    "CLOUDSWAY_API_KEY",
    "CLOUDSWAY_ENDPOINT",
    "GLM_PROVIDER",
    "GLM_PROTOCOL",
    "GLM_BASE_URL",
    "GLM_MODEL",
    "GLM_CONFIG",
    "GLM_HOME",
    "NO_COLOR",
    "XDG_CONFIG_HOME",
    "XDG_DATA_HOME",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "SSL_CERT_FILE",
]


def section(name: str) -> str:
    match = re.search(rf'^\.SH "?{re.escape(name)}"?\n(.*?)(?=^\.SH |\Z)', PAGE, re.M | re.S)
    assert match, f"no section {name}"
    return match.group(1)


def commands_and_options() -> tuple[set[str], set[str]]:
    """Every command path and every option name, read from click directly."""
    commands: set[str] = set()
    options: set[str] = {"-h", "--help"}

    def walk(command: Any, path: tuple[str, ...]) -> None:
        if path:
            commands.add(" ".join(path))
        for param in command.params:
            if param.param_type_name == "option":
                options.update(param.opts)
                options.update(param.secondary_opts)
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, (*path, name))

    walk(typer.main.get_command(make_app()), ())
    return commands, options


def roff_name(name: str) -> str:
    return name.replace("-", "\\-")


def test_the_page_is_up_to_date() -> None:
    expected = shipped.outputs()[shipped.MANPAGE]
    assert expected == PAGE, "man/glm.1 is stale: run `python -m glm_cli.shipped`"


def test_every_command_has_a_subsection() -> None:
    commands, _ = commands_and_options()
    headings = re.findall(r'^\.SS "glm ([a-z][a-z -]*?)(?: \[|"| [a-z]+\|)', PAGE, re.M)
    assert set(headings) == commands, (sorted(headings), sorted(commands))


def test_every_option_is_in_the_page() -> None:
    _, options = commands_and_options()
    described = section("OPTIONS")
    for option in sorted(options):
        assert f"\\fB{roff_name(option)}\\fR" in described, option


def test_the_page_names_no_option_the_cli_lacks() -> None:
    _, options = commands_and_options()
    named = set(re.findall(r"(?<![\w\\-])(\\-\\-[a-z][a-z0-9]*(?:\\-[a-z0-9]+)*)", PAGE))
    unknown = {n.replace("\\-", "-") for n in named} - options
    assert not unknown, f"the page names options glm does not have: {sorted(unknown)}"


def test_the_page_names_no_command_the_cli_lacks() -> None:
    commands, _ = commands_and_options()
    top = {c.split()[0] for c in commands}
    examples = re.findall(r"^\.nf\n(.*?)^\.fi", PAGE, re.M | re.S)
    used = set()
    for block in examples:
        used.update(re.findall(r"(?:^|[|;&] *|\t|\* )glm ([a-z]+)", block, re.M))
    used.update(re.findall(r"\\fBglm ([a-z]+)", PAGE))
    assert used, "no example runs glm"
    assert used <= top, sorted(used - top)


def test_the_template_cannot_keep_prose_for_what_is_gone() -> None:
    template = (ROOT / shipped.TEMPLATE).read_text(encoding="utf-8")
    stale = template + '.\\" @command frobnicate\nGone.\n.\\" @end\n'
    with pytest.raises(SystemExit, match="frobnicate"):
        shipped.render_manpage(shipped.cli_tree(), stale)
    stale = template + '.\\" @option --frobnicate\nGone.\n.\\" @end\n'
    with pytest.raises(SystemExit, match="--frobnicate"):
        shipped.render_manpage(shipped.cli_tree(), stale)


def test_option_arguments_and_ranges_are_shown() -> None:
    described = section("OPTIONS")
    for text in (
        "\\fB\\-\\-effort\\fR \\fILEVEL\\fR",
        "max, xhigh, high, medium, low, minimal, none",
        "\\fB\\-\\-max\\-tokens\\fR \\fIN\\fR",
        "1 to 131072",
        "\\fB\\-t\\fR, \\fB\\-\\-temperature\\fR \\fIX\\fR",
        "0 to 1",
        "\\fB\\-\\-think\\fR, \\fB\\-\\-no\\-think\\fR",
    ):
        assert text in described, text


def test_groff_renders_the_page_without_a_warning() -> None:
    groff = shutil.which("groff")
    if groff is None:
        pytest.skip("groff is not installed (apt-get install groff-base): page not rendered")
    result = subprocess.run(
        [groff, "-man", "-ww", "-z", str(PAGE_PATH)], capture_output=True, timeout=60
    )
    assert result.returncode == 0
    assert result.stderr == b"", result.stderr.decode()


def test_sections() -> None:
    for name in (
        "NAME",
        "SYNOPSIS",
        "DESCRIPTION",
        "COMMANDS",
        "OPTIONS",
        "ENVIRONMENT",
        "FILES",
        "EXIT STATUS",
        "EXAMPLES",
        "SEE ALSO",
    ):
        section(name)
    assert re.match(r'(\.\\".*\n)*\.TH GLM 1 ', PAGE)


def test_environment_lists_every_variable_of_the_spec() -> None:
    environment = section("ENVIRONMENT")
    for name in SPEC_ENVIRONMENT:
        assert re.search(rf"^\.(B|BR) .*\b{name}\b", environment, re.M), name


def test_environment_lists_every_variable_the_code_reads() -> None:
    from glm_cli.settings.providers import BUILT_IN

    read = {p.key_env for p in BUILT_IN.values() if p.key_env}
    pattern = re.compile(r"""(?:environ|env|getenv)(?:\.get)?[\[(]\s*["']([A-Z][A-Z0-9_]+)["']""")
    for path in (ROOT / "glm_cli").rglob("*.py"):
        read.update(pattern.findall(path.read_text(encoding="utf-8")))
    environment = section("ENVIRONMENT")
    missing = {name for name in read if not re.search(rf"\b{name}\b", environment)}
    assert not missing, f"ENVIRONMENT lacks {sorted(missing)}"


def test_files_names_the_config_the_store_and_the_history() -> None:
    files = section("FILES")
    assert "config.toml" in files
    assert "glm.db" in files
    from glm_cli.commands import interactive

    assert interactive.HISTORY_FILE in files


def test_exit_status_lists_every_code() -> None:
    status = section("EXIT STATUS")
    codes = {int(c) for c in re.findall(r"^\.B (\d+)$", status, re.M)}
    assert {int(c) for c in ExitCode} - {7} <= codes  # 7 is glm batch's, not yet here


def test_examples_cover_pipes_cron_make_and_a_tool_loop() -> None:
    examples = section("EXAMPLES")
    assert "| glm ask" in examples
    assert "* * *" in examples and "\\-n" in examples  # cron, no stdin
    assert "$@" in examples and "$<" in examples  # make
    assert "\\-\\-tool\\-cmd" in examples


def test_pyproject_installs_the_page_and_the_completions() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    data_files = project["tool"]["setuptools"]["data-files"]
    assert data_files["share/man/man1"] == ["man/glm.1"]
    installed = {f for files in data_files.values() for f in files}
    assert {"completions/glm.bash", "completions/_glm", "completions/glm.fish"} <= installed


def test_the_generator_checks_and_writes(tmp_path: Path) -> None:
    (tmp_path / "man").mkdir()
    shutil.copy(ROOT / shipped.TEMPLATE, tmp_path / shipped.TEMPLATE)
    assert shipped.main(["--check", "--root", str(tmp_path)]) == 1
    assert shipped.main(["--root", str(tmp_path)]) == 0
    assert shipped.main(["--check", "--root", str(tmp_path)]) == 0
    for path in shipped.outputs():
        assert (tmp_path / path).read_text() == (ROOT / path).read_text(), path
    (tmp_path / shipped.BASH).write_text("stale\n")
    assert shipped.stale(tmp_path) == [shipped.BASH]
