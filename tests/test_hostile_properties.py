"""Property tests of SPEC §3.2 (issue 10): random argv words (surrogate escapes too, and
a few real non-UTF-8 bytes in a real process), random TOML values in random config
keys, and random JSONL shapes for `chat --file` never end in "internal error" (exit 1);
every failing run says exactly one `glm: error:` line.
"""

from __future__ import annotations

import datetime
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from glm_cli.settings.config import DEFAULTABLE_KEYS, PROVIDER_KEYS, TOP_LEVEL_KEYS
from tests.helpers import Run, assert_one_error, run_in_process

QUICK = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

FLAGS = [
    "--model",
    "-m",
    "--stop",
    "--temperature",
    "--top-p",
    "--max-tokens",
    "--effort",
    "--system",
    "--user-id",
    "--base-url",
    "--provider",
    "--protocol",
    "--endpoint",
    "--timeout",
    "--retries",
    "--prompt-file",
    "--tool",
    "-n",
    "--think",
    "--",
    "-",
]
word = st.text(
    st.one_of(
        st.characters(min_codepoint=0xDC80, max_codepoint=0xDCFF),  # bytes that were not UTF-8
        st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    ),
    max_size=8,
)


def well_ended(run: Run) -> None:
    """Not an internal error; a failure is one error line and no traceback."""
    assert run.exit_code != 1, run.stderr
    assert "internal error" not in run.stderr, run.stderr
    if run.exit_code != 0:
        assert_one_error(run.stderr)


@QUICK
@given(
    words=st.lists(st.one_of(st.sampled_from(FLAGS), word), max_size=6),
    command=st.sampled_from(["ask", "json", "chat", "raw"]),
)
def test_random_argv_never_ends_in_an_internal_error(
    glm_env: dict[str, str], words: list[str], command: str
) -> None:
    well_ended(run_in_process([command, "--dry-run", *words]))


@settings(QUICK, max_examples=4)
@given(data=st.binary(min_size=1, max_size=6).filter(lambda b: b"\x00" not in b))
def test_random_argv_bytes_in_a_real_process(glm_env: dict[str, str], data: bytes) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "glm_cli", "ask", "--dry-run", "--model", data, data],
        env=glm_env,
        capture_output=True,
        stdin=subprocess.DEVNULL,
        timeout=30,
    )
    assert done.returncode in (0, 2), done.stderr
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        assert done.returncode == 2
        assert_one_error(done.stderr, "not valid UTF-8")
    else:  # valid text may still be a bad model name (`--model '\t'`): one clear line
        if done.returncode:
            assert_one_error(done.stderr)


# --- TOML ------------------------------------------------------------------------------

toml_scalar = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(),
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=10),
    st.sampled_from(["@-", "@/nonexistent", "http://", "http://[::1", "high", "0.5", "30"]),
    st.datetimes(),
    st.dates(),
    st.times(),
)
toml_value = st.recursive(
    toml_scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(["a", "url", "x"]), inner, max_size=2),
    ),
    max_leaves=5,
)


def toml(value: Any) -> str:
    """`value` as a TOML value (inline tables and arrays)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(toml(item) for item in value) + "]"
    assert isinstance(value, dict)
    return "{" + ", ".join(f"{json.dumps(k)} = {toml(v)}" for k, v in value.items()) + "}"


@QUICK
@given(
    table=st.sampled_from(["", "defaults", "providers.mine"]),
    key=st.sampled_from(sorted(DEFAULTABLE_KEYS | TOP_LEVEL_KEYS | PROVIDER_KEYS)),
    value=toml_value,
)
def test_random_toml_values_never_end_in_an_internal_error(
    glm_env: dict[str, str], tmp_path: Path, table: str, key: str, value: Any
) -> None:
    path = tmp_path / "config.toml"
    header = f"[{table}]\n" if table else ""
    if table == "providers.mine" and key != "url":
        header += 'url = "http://127.0.0.1:9/v1/chat/completions"\n'
    path.write_text(f"{header}{json.dumps(key)} = {toml(value)}\n")
    path.chmod(0o600)
    args = ["--provider", "mine"] if table == "providers.mine" else []
    for command in (["ask", "--dry-run", *args, "hi"], ["config", "show", *args]):
        run = run_in_process(command, environ={**glm_env, "GLM_CONFIG": str(path)})
        well_ended(run)


# --- JSONL -------------------------------------------------------------------------------

json_value = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=5)
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=8,
)
message_like = st.fixed_dictionaries(
    {},
    optional={
        "role": st.one_of(st.sampled_from(["system", "user", "assistant", "tool"]), json_value),
        "content": st.one_of(st.text(max_size=5), json_value),
        "tool_call_id": st.one_of(st.sampled_from(["c1"]), json_value),
        "tool_calls": st.one_of(
            json_value,
            st.lists(
                st.fixed_dictionaries(
                    {},
                    optional={
                        "id": st.one_of(st.just("c1"), json_value),
                        "type": st.one_of(st.sampled_from(["function", "mcp"]), json_value),
                        "function": st.one_of(
                            json_value,
                            st.fixed_dictionaries(
                                {},
                                optional={
                                    "name": st.one_of(st.just("f"), json_value),
                                    "arguments": st.one_of(st.just("{}"), json_value),
                                },
                            ),
                        ),
                    },
                ),
                max_size=2,
            ),
        ),
    },
)


@QUICK
@given(
    lines=st.lists(st.one_of(message_like, json_value), min_size=1, max_size=3),
    protocol=st.sampled_from(["openai", "anthropic"]),
    raw=st.one_of(st.none(), st.binary(max_size=6)),
)
def test_random_jsonl_shapes_never_end_in_an_internal_error(
    glm_env: dict[str, str],
    tmp_path: Path,
    lines: list[Any],
    protocol: str,
    raw: bytes | None,
) -> None:
    path = tmp_path / "talk.jsonl"
    data = b"".join(json.dumps(line).encode() + b"\n" for line in lines)
    path.write_bytes(data + (raw + b"\n" if raw is not None else b""))
    for command in (["chat", "--dry-run"], ["chat", "--dry-run", "--ndjson"]):
        run = run_in_process([*command, "--protocol", protocol, "--file", str(path), "hi"])
        well_ended(run)
