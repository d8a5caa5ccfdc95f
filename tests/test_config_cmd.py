"""`glm config path|show|init` (issue 6; SPEC §1, §2)."""

from __future__ import annotations

import io
import os
import re
import stat
from pathlib import Path

import pytest

from glm_cli.commands.config_cmd import template
from glm_cli.output.terminal import Env
from glm_cli.settings.config import load
from tests.fake_service import FakeService
from tests.helpers import SECRET, Run, invoke, run_glm


def config(*args: str, environ: dict[str, str] | None = None) -> Run:
    out, err = io.BytesIO(), io.BytesIO()
    env = Env(
        stdin=io.BytesIO(),
        stdout=out,
        stderr=err,
        stdin_isatty=False,
        stdout_isatty=False,
        stderr_isatty=False,
        environ=dict(os.environ if environ is None else environ),
    )
    result = invoke(["config", *args], obj=env)
    stderr = err.getvalue().decode() or result.stderr
    return Run(result.exit_code, out.getvalue(), stderr)


def show(*args: str, environ: dict[str, str] | None = None) -> dict[str, str]:
    """`glm config show` as {name: "value (source)"}."""
    result = config("show", *args, environ=environ)
    assert result.exit_code == 0, result.stderr
    rows = {}
    for line in result.stdout.splitlines():
        name, _, rest = line.partition(" ")
        rows[name] = rest.strip()
    return rows


def default_path(glm_env: dict[str, str]) -> Path:
    return Path(glm_env["XDG_CONFIG_HOME"]) / "glm" / "config.toml"


# ---------------------------------------------------------------------------
# path
# ---------------------------------------------------------------------------


def test_path_is_the_xdg_file_by_default(glm_env: dict[str, str]) -> None:
    result = config("path")
    assert result.exit_code == 0
    assert result.stdout == f"{default_path(glm_env)}\n"
    assert result.stderr == ""


def test_path_follows_glm_config_and_the_flag(glm_env: dict[str, str], tmp_path: Path) -> None:
    env = {**glm_env, "GLM_CONFIG": str(tmp_path / "env.toml")}
    assert config("path", environ=env).stdout == f"{tmp_path / 'env.toml'}\n"
    flagged = config("path", "--config", str(tmp_path / "flag.toml"), environ=env)
    assert flagged.stdout == f"{tmp_path / 'flag.toml'}\n"


def test_path_without_xdg_is_under_home(glm_env: dict[str, str]) -> None:
    env = {k: v for k, v in glm_env.items() if k != "XDG_CONFIG_HOME"}
    expected = Path(glm_env["HOME"]) / ".config" / "glm" / "config.toml"
    assert config("path", environ=env).stdout == f"{expected}\n"


# ---------------------------------------------------------------------------
# show
# ---------------------------------------------------------------------------


def test_show_defaults_and_their_sources(glm_env: dict[str, str]) -> None:
    env = {k: v for k, v in glm_env.items() if k != "GLM_BASE_URL"}
    rows = show(environ=env)
    assert rows["config"] == f"{default_path(glm_env)} (from XDG_CONFIG_HOME; not found)"
    assert rows["provider"] == "evolink (default)"
    assert rows["protocol"] == "openai (from provider evolink)"
    assert rows["url"] == "https://direct.evolink.ai/v1/chat/completions (from provider evolink)"
    assert rows["fallback"].startswith("https://api.evolink.ai/v1/chat/completions")
    assert rows["model"] == "glm-5.2 (default)"
    assert rows["key"] == "set (from GLM_API_KEY)"
    assert rows["timeout"] == "10 s connect, 300 s read (default)"
    assert rows["max-time"] == "none (default)"
    assert rows["retries"] == "2 (default)"


def test_show_names_the_environment_variables(glm_env: dict[str, str]) -> None:
    env = {
        **glm_env,
        "GLM_PROVIDER": "evolink-anthropic",
        "GLM_MODEL": "glm-x",
        "GLM_PROTOCOL": "anthropic",
    }
    rows = show(environ=env)
    assert rows["provider"] == "evolink-anthropic (from GLM_PROVIDER)"
    assert rows["protocol"] == "anthropic (from GLM_PROTOCOL)"
    assert rows["model"] == "glm-x (from GLM_MODEL)"
    assert rows["url"] == f"{glm_env['GLM_BASE_URL']}/v1/messages (from GLM_BASE_URL)"
    assert rows["fallback"] == "none (from GLM_BASE_URL)"


def test_show_names_the_flags(glm_env: dict[str, str]) -> None:
    rows = show(
        "--provider",
        "cloudsway",
        "--endpoint",
        "e1",
        "-m",
        "flagged",
        "--base-url",
        "http://10.0.0.1:9",
        "--timeout",
        "7",
        "--retries",
        "0",
    )
    assert rows["provider"] == "cloudsway (from --provider)"
    assert rows["endpoint"] == "e1 (from --endpoint)"
    assert rows["model"] == "flagged (from --model)"
    assert rows["url"] == "http://10.0.0.1:9/v1/ai/e1/chat/completions (from --base-url)"
    assert rows["timeout"] == "7 s (from --timeout)"
    assert rows["retries"] == "0 (from --retries)"


def test_show_names_the_config_file(glm_env: dict[str, str]) -> None:
    path = default_path(glm_env)
    path.parent.mkdir(parents=True)
    path.write_text(
        'provider = "local"\nmodel = "top"\n'
        '[defaults]\neffort = "high"\ntemperature = 0.2\nmax-time = 90\nstop = ["a", "b"]\n'
        '[providers.local]\nurl = "http://127.0.0.1:1/v1/chat/completions"\nmodel = "own"\n'
    )
    env = {k: v for k, v in glm_env.items() if k != "GLM_BASE_URL"}
    rows = show(environ=env)
    assert rows["config"] == f"{path} (from XDG_CONFIG_HOME)"
    assert rows["provider"] == "local (from config file, provider)"
    assert rows["url"] == (
        "http://127.0.0.1:1/v1/chat/completions (from config file, providers.local.url)"
    )
    assert rows["fallback"] == "none (from config file, providers.local.url)"
    assert rows["model"] == "own (from config file, providers.local.model)"
    assert rows["max-time"] == "90 s (from config file, defaults.max-time)"
    assert rows["defaults.effort"] == "high (from config file)"
    assert rows["defaults.temperature"] == "0.2 (from config file)"
    assert rows["defaults.stop"] == '["a", "b"] (from config file)'


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        ({"GLM_API_KEY": SECRET}, "set (from GLM_API_KEY)"),
        ({"EVOLINK_API_KEY": SECRET}, "set (from EVOLINK_API_KEY)"),
        ({}, "not set"),
    ],
)
def test_show_says_where_the_key_is_never_what_it_is(
    glm_env: dict[str, str], variables: dict[str, str], expected: str
) -> None:
    env = {k: v for k, v in glm_env.items() if k != "GLM_API_KEY"} | variables
    result = config("show", environ=env)
    assert result.exit_code == 0
    assert re.search(rf"^key +{re.escape(expected)}$", result.stdout, re.M), result.stdout
    assert SECRET not in result.stdout + result.stderr


def test_show_key_from_the_config_file_and_a_key_file(
    glm_env: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(f'api_key = "{SECRET}"\n')
    path.chmod(0o600)
    env = {k: v for k, v in glm_env.items() if k != "GLM_API_KEY"}
    rows = show("--config", str(path), environ=env)
    assert rows["key"] == "set (from config file, api_key)"
    assert rows["config"] == f"{path} (from --config)"
    key_file = tmp_path / "key"
    key_file.write_text(SECRET + "\n")
    key_file.chmod(0o600)
    result = config("show", "--api-key-file", str(key_file), environ=glm_env)
    assert re.search(r"^key +set \(from --api-key-file\)$", result.stdout, re.M)
    assert SECRET not in result.stdout + result.stderr


def test_show_in_a_real_process_never_prints_the_key(glm_env: dict[str, str]) -> None:
    result = run_glm(["config", "show"], glm_env)
    assert result.returncode == 0
    assert SECRET.encode() not in result.stdout + result.stderr
    assert b"set (from GLM_API_KEY)" in result.stdout


def test_show_with_a_broken_config_is_a_usage_error(glm_env: dict[str, str]) -> None:
    path = default_path(glm_env)
    path.parent.mkdir(parents=True)
    path.write_text("provider = \n")
    result = config("show")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"glm: error: config file {path}")
    assert result.stdout == ""


def test_show_with_a_missing_named_config_is_a_usage_error(
    glm_env: dict[str, str], tmp_path: Path
) -> None:
    result = config("show", "--config", str(tmp_path / "nope.toml"))
    assert result.exit_code == 2
    assert "not found" in result.stderr


# ---------------------------------------------------------------------------
# init
# ---------------------------------------------------------------------------


def test_init_writes_a_private_commented_template(glm_env: dict[str, str]) -> None:
    path = default_path(glm_env)
    result = config("init")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"{path}\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert text == template()
    loaded, warnings = load(path, True)
    assert loaded.exists and loaded.defaults == {} and loaded.provider is None
    assert warnings == []
    assert [p.name for p in path.parent.iterdir()] == ["config.toml"]  # no temporary left


def test_init_refuses_to_overwrite_without_force(glm_env: dict[str, str]) -> None:
    path = default_path(glm_env)
    path.parent.mkdir(parents=True)
    path.write_text('model = "mine"\n')
    result = config("init")
    assert result.exit_code == 2
    assert "--force" in result.stderr and str(path) in result.stderr
    assert path.read_text() == 'model = "mine"\n'
    path.chmod(0o644)
    forced = config("init", "--force")
    assert forced.exit_code == 0
    assert path.read_text() == template()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_init_writes_where_config_points(glm_env: dict[str, str], tmp_path: Path) -> None:
    target = tmp_path / "deep" / "er" / "glm.toml"
    assert config("init", "--config", str(target)).exit_code == 0
    assert target.read_text() == template()
    env = {**glm_env, "GLM_CONFIG": str(tmp_path / "env.toml")}
    assert config("init", environ=env).exit_code == 0
    assert (tmp_path / "env.toml").exists()


def test_init_into_an_unwritable_place_is_a_usage_error(
    glm_env: dict[str, str], tmp_path: Path
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = config("init", "--config", str(blocker / "config.toml"))
    assert result.exit_code == 2
    assert result.stderr.startswith("glm: error: config file ")


def test_every_example_in_the_template_is_valid(glm_env: dict[str, str], tmp_path: Path) -> None:
    """Uncommenting every setting gives a file glm accepts, for show and for a request."""
    lines = []
    for line in template().splitlines():
        if re.match(r"^# (\[[a-z.]+\]|[a-z_-]+ = )", line):
            line = line[2:]
        lines.append(line)
    path = tmp_path / "config.toml"
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)
    loaded, _ = load(path, True)
    assert loaded.provider == "evolink" and loaded.defaults["effort"] == "high"
    assert "local" in loaded.providers
    rows = show("--config", str(path))
    assert rows["provider"] == "evolink (from config file, provider)"
    result = run_glm(["ask", "--config", str(path), "--dry-run", "hi"], glm_env)
    assert result.returncode == 0, result.stderr


def test_template_lists_every_defaults_key() -> None:
    from glm_cli.settings.config import DEFAULTABLE_KEYS

    text = " ".join(line.strip("# ") for line in template().splitlines())
    for key in DEFAULTABLE_KEYS:
        assert re.search(rf"(?<![\w-]){re.escape(key)}(?![\w-])", text), key


# ---------------------------------------------------------------------------
# The group itself
# ---------------------------------------------------------------------------


def test_bare_config_prints_help_on_stderr_and_exits_2(glm_env: dict[str, str]) -> None:
    result = run_glm(["config"], glm_env)
    assert result.returncode == 2
    assert result.stdout == b""
    for name in (b"path", b"show", b"init"):
        assert name in result.stderr


def test_unknown_config_command_is_a_usage_error(glm_env: dict[str, str]) -> None:
    result = run_glm(["config", "edit"], glm_env)
    assert result.returncode == 2
    assert result.stderr.startswith(b"glm: error: ")


def test_glm_help_lists_config(glm_env: dict[str, str]) -> None:
    result = invoke(["--help"])
    assert re.search(r"^  config +The configuration in use", result.stdout, re.M)


def test_config_via_the_script_builds_only_that_command(glm_env: dict[str, str]) -> None:
    """`glm config ...` through `main` (the pruned command table) still works."""
    result = run_glm(["config", "path"], glm_env)
    assert result.returncode == 0
    assert result.stdout.decode().strip().endswith("config.toml")


def test_usage_in_defaults_is_honoured(glm_env: dict[str, str], service: FakeService) -> None:
    """`--usage` absent from the command line leaves `[defaults] usage` in force."""
    assert "tokens" not in invoke(["ask", "hi"]).stderr
    path = default_path(glm_env)
    path.parent.mkdir(parents=True)
    path.write_text("[defaults]\nusage = true\n")
    run = invoke(["ask", "hi"])
    assert run.exit_code == 0, run.stderr
    assert "tokens" in run.stderr
