"""`glm batch` against the fake service (SPEC §6): order, concurrency, pacing, stopping,
records, settings on the wire, both protocols, bad lines."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.fake_service import FakeService
from tests.fake_service.scenarios import answer, fails_on, latency, prompt_of, storm
from tests.fake_service.steps import Incoming, Status, Step
from tests.helpers import Run, assert_one_error, run_in_process


def write_input(tmp_path: Path, lines: list[Any], name: str = "in.jsonl") -> Path:
    path = tmp_path / name
    path.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))
    return path


def prompts(count: int) -> list[str]:
    return [f"p{n}" for n in range(count)]


def records(data: bytes) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in data.splitlines()]


def batch(*args: str, stdin: bytes = b"", stderr_tty: bool = False) -> Run:
    return run_in_process(["batch", *args], stdin=stdin, stderr_tty=stderr_tty)


def sent_prompts(service: FakeService) -> list[str]:
    return [prompt_of(Incoming(r.json, 0)) for r in service.requests]


def test_records_in_input_order_under_random_latencies(
    service: FakeService, glm_env: dict[str, str], tmp_path: Path
) -> None:
    service.responder = latency((0.0, 0.04), seed=7)
    run = batch("-j", "8", str(write_input(tmp_path, prompts(40))))
    assert run.exit_code == 0, run.stderr
    got = records(run.out)
    assert [r["id"] for r in got] == list(range(1, 41))
    assert [r["index"] for r in got] == list(range(40))
    assert [r["content"] for r in got] == [f"answer to p{n}" for n in range(40)]
    assert all(r["error"] is None and r["attempts"] == 1 for r in got)
    assert "40 done, 0 failed" in run.stderr


def test_unordered_writes_each_record_as_it_finishes(
    service: FakeService, glm_env: dict[str, str], tmp_path: Path
) -> None:
    service.responder = lambda incoming: answer(
        incoming, 0.3 if prompt_of(incoming) == "p0" else 0.0
    )
    run = batch("--unordered", str(write_input(tmp_path, prompts(6))))
    assert run.exit_code == 0, run.stderr
    ids = [r["id"] for r in records(run.out)]
    assert sorted(ids) == [1, 2, 3, 4, 5, 6]
    assert ids[-1] == 1  # the slow first line is written last


@pytest.mark.parametrize(("jobs", "expected"), [(None, 4), ("1", 1), ("8", 8)])
def test_concurrency_measured_at_the_server(
    service: FakeService, glm_env: dict[str, str], tmp_path: Path, jobs: str | None, expected: int
) -> None:
    service.responder = latency(0.08)
    args = ["-j", jobs] if jobs else []
    run = batch(*args, str(write_input(tmp_path, prompts(2 * expected + 2))))
    assert run.exit_code == 0, run.stderr
    assert service.peak_in_flight == expected
    requests = service.requests
    if expected == 1:  # sequential: each request arrives after the one before was answered
        for before, after in itertools.pairwise(requests):
            assert after.arrived >= before.answered


def test_reading_pauses_when_the_reorder_window_is_full(
    service: FakeService, glm_env: dict[str, str], tmp_path: Path
) -> None:
    service.responder = lambda incoming: answer(
        incoming, 0.5 if prompt_of(incoming) == "p0" else 0.0
    )
    run = batch("-j", "2", str(write_input(tmp_path, prompts(30))))
    assert run.exit_code == 0, run.stderr
    requests = service.requests
    first = next(r for r in requests if prompt_of(Incoming(r.json, 0)) == "p0")
    while_first_ran = [r for r in requests if r.arrived < first.answered]
    assert len(while_first_ran) <= 4 * 2  # the window: 4 x jobs lines
    assert [r["id"] for r in records(run.out)] == list(range(1, 31))


def test_failed_lines_get_error_records_and_exit_7(
    service: FakeService, glm_env: dict[str, str], tmp_path: Path
) -> None:
    def respond(incoming: Incoming) -> Step:
        return Status(400) if prompt_of(incoming) == "p2" else answer(incoming)

    service.responder = respond
    run = batch(str(write_input(tmp_path, prompts(5))))
    assert run.exit_code == 7
    assert_one_error(run.stderr, "1 of 5 lines failed")
    got = records(run.out)
    error = got[2]["error"]
    assert error["exit_code"] == 2 and error["status"] == 400 and error["code"] == "1214"
    assert got[2]["content"] is None
    assert [r["error"] for i, r in enumerate(got) if i != 2] == [None] * 4


def test_balance_exhausted_on_request_300_stops_and_a_rerun_finishes(
    service: FakeService, glm_env: dict[str, str], tmp_path: Path
) -> None:
    responder = fails_on(300)
    service.responder = responder
    source = write_input(tmp_path, prompts(1000))
    output = tmp_path / "out.jsonl"
    run = batch("--output", str(output), str(source))
    assert run.exit_code == 4
    assert_one_error(run.stderr, "batch stopped", "1113")
    assert len(service.requests) <= 300 + 4  # at most `jobs` more after the 300th
    first = records(output.read_bytes())
    assert len(first) == 299 and all(r["error"] is None for r in first)
    assert "299 done, 0 failed" in run.stderr

    service.reset()
    run = batch("--output", str(output), str(source))
    assert run.exit_code == 0, run.stderr
    final = records(output.read_bytes())
    assert sorted(r["id"] for r in final) == list(range(1, 1001))
    assert len(service.requests) == 701
    done_before = {f"p{r['index']}" for r in first}
    assert not done_before & set(sent_prompts(service))


def test_a_429_storm_slows_every_worker_and_no_line_fails(
    service: FakeService, glm_env: dict[str, str], tmp_path: Path
) -> None:
    """The issue's storm: every request 429 with `Retry-After: 1` for 3 s, then normal,
    with the default --retries 2 (which alone would fail the first lines)."""
    responder = storm(3.0, retry_after="1")
    service.responder = responder
    run = batch("-j", "4", str(write_input(tmp_path, prompts(12))))
    assert run.exit_code == 0, run.stderr
    got = records(run.out)
    assert all(r["error"] is None for r in got)
    hits = responder.hits[0]  # type: ignore[attr-defined]
    assert 4 <= hits < 3 * 4
    assert max(r["attempts"] for r in got) >= 2


def test_rpm_spreads_requests_evenly(
    service: FakeService, glm_env: dict[str, str], tmp_path: Path
) -> None:
    service.responder = latency(0.0)
    run = batch("--rpm", "600", "-j", "8", str(write_input(tmp_path, prompts(8))))
    assert run.exit_code == 0, run.stderr
    arrived = [r.arrived for r in service.requests]
    assert arrived[-1] - arrived[0] >= 0.5  # a burst of 2, then one each 0.1 s
    for n in range(len(arrived) - 2):
        assert arrived[n + 2] - arrived[n] >= 0.09


def test_shards_cover_every_line_exactly_once(
    service: FakeService, glm_env: dict[str, str], tmp_path: Path
) -> None:
    source = write_input(tmp_path, prompts(31))
    seen: list[int] = []
    for k in (1, 2, 3):
        output = tmp_path / f"shard{k}.jsonl"
        run = batch("--shard", f"{k}/3", "-o", str(output), str(source))
        assert run.exit_code == 0, run.stderr
        indexes = [r["index"] for r in records(output.read_bytes())]
        assert all(index % 3 == k - 1 for index in indexes)
        seen += indexes
    assert sorted(seen) == list(range(31))
    assert len(service.requests) == 31


def test_openai_batch_lines_in_and_openai_shape_out(
    service: FakeService, glm_env: dict[str, str], tmp_path: Path
) -> None:
    def respond(incoming: Incoming) -> Step:
        return Status(400) if prompt_of(incoming) == "bad" else answer(incoming)

    service.responder = respond
    body = {"model": "glm-5.2", "messages": [{"role": "user", "content": "hi"}], "top_p": 0.5}
    lines = [
        {"custom_id": "req-1", "method": "POST", "url": "/v1/chat/completions", "body": body},
        {
            "custom_id": "req-2",
            "method": "POST",
            "url": "/v1/chat/completions",
            "body": {**body, "messages": [{"role": "user", "content": "bad"}]},
        },
    ]
    run = batch("--format", "openai", "-t", "0.3", str(write_input(tmp_path, lines)))
    assert run.exit_code == 7
    ok, failed = records(run.out)
    assert ok["custom_id"] == "req-1" and ok["error"] is None
    assert ok["response"]["status_code"] == 200
    choice = ok["response"]["body"]["choices"][0]
    assert choice["message"] == {"role": "assistant", "content": "answer to hi"}
    assert choice["finish_reason"] == "stop"
    assert ok["response"]["body"]["usage"]["total_tokens"] == 46
    assert failed["custom_id"] == "req-2" and failed["response"]["status_code"] == 400
    assert failed["error"]["code"] == "1214"
    wire = service.requests[0].json
    assert wire["top_p"] == 0.5 and wire["temperature"] == 0.3 and wire["stream"] is False


def test_per_line_settings_reach_the_wire_over_the_flags(
    service: FakeService, glm_env: dict[str, str], tmp_path: Path
) -> None:
    lines = [
        {
            "id": "a",
            "prompt": "x",
            "temperature": 0.2,
            "max-tokens": 50,
            "effort": "high",
            "stop": ["END"],
            "model": "glm-other",
            "system": "be brief",
        },
        "plain",
        {"id": "j", "prompt": "give json", "json": True},
    ]
    run = batch("-j", "1", "-t", "0.7", "--system", "cli system", str(write_input(tmp_path, lines)))
    assert run.exit_code == 7  # the json line's answer is not JSON
    first, second, third = (r.json for r in service.requests)
    assert first["temperature"] == 0.2 and first["max_tokens"] == 50
    assert first["reasoning_effort"] == "high" and first["stop"] == ["END"]
    assert first["model"] == "glm-other"
    assert first["messages"][0] == {"role": "system", "content": "be brief"}
    assert second["temperature"] == 0.7 and second["model"] == "glm-5.2"
    assert second["messages"][0] == {"role": "system", "content": "cli system"}
    assert third["response_format"] == {"type": "json_object"}
    assert records(run.out)[2]["error"]["exit_code"] == 6


@pytest.mark.parametrize("protocol", ["openai", "anthropic"])
def test_both_protocols(
    service: FakeService, glm_env: dict[str, str], tmp_path: Path, protocol: str
) -> None:
    service.responder = latency(0.0)
    run = batch("--protocol", protocol, "-j", "3", str(write_input(tmp_path, prompts(6))))
    assert run.exit_code == 0, run.stderr
    assert [r["content"] for r in records(run.out)] == [f"answer to p{n}" for n in range(6)]
    path = "/v1/messages" if protocol == "anthropic" else "/v1/chat/completions"
    assert {r.path for r in service.requests} == {path}
    assert all(r["usage"]["prompt_tokens"] == 12 for r in records(run.out))


BAD_LINES = [
    "fine",
    {"prompt": "x", "temperature": 5},
    {"prompt": "x", "colour": "red"},
    {"id": 1, "prompt": "repeated id"},
    "fine too",
]


def test_bad_lines_get_error_records_and_nothing_is_sent_for_them(
    service: FakeService, glm_env: dict[str, str], tmp_path: Path
) -> None:
    source = tmp_path / "in.jsonl"
    source.write_bytes(
        b"".join(orjson.dumps(line) + b"\n" for line in BAD_LINES) + b"{not json\n\n"
    )
    run = batch(str(source))
    assert run.exit_code == 7
    got = records(run.out)
    assert [r["index"] for r in got] == [0, 1, 2, 3, 4, 5]
    messages = [r["error"]["message"] if r["error"] else None for r in got]
    assert messages[0] is None and messages[4] is None
    assert "line 2: temperature 5" in messages[1]
    assert "line 3: unknown keys colour" in messages[2]
    assert "line 4: id 1 is repeated" in messages[3]
    assert "line 6: not valid JSON" in messages[5]
    assert all(r["error"]["exit_code"] == 2 for r in got if r["error"])
    assert sorted(sent_prompts(service)) == ["fine", "fine too"]


def test_strict_makes_a_bad_line_a_usage_error_before_anything_is_sent(
    service: FakeService, glm_env: dict[str, str], tmp_path: Path
) -> None:
    run = batch("--strict", str(write_input(tmp_path, BAD_LINES)))
    assert run.exit_code == 2
    assert_one_error(run.stderr, "line 2: temperature 5", "and 2 more bad lines", "--strict")
    assert service.requests == [] and run.out == b""


def test_dry_run_prints_each_request_and_sends_nothing(
    service: FakeService, glm_env: dict[str, str], tmp_path: Path
) -> None:
    run = batch("--dry-run", "-m", "glm-x", str(write_input(tmp_path, prompts(3))))
    assert run.exit_code == 0, run.stderr
    got = records(run.out)
    assert [r["body"]["messages"][-1]["content"] for r in got] == ["p0", "p1", "p2"]
    assert all(r["body"]["model"] == "glm-x" and r["method"] == "POST" for r in got)
    assert service.requests == []


def test_stdin_input_and_quiet(service: FakeService, glm_env: dict[str, str]) -> None:
    service.responder = latency(0.0)
    run = batch("--quiet", stdin=b'"a"\n"b"\n')
    assert run.exit_code == 0 and run.stderr == ""
    assert [r["content"] for r in records(run.out)] == ["answer to a", "answer to b"]


def test_progress_bar_on_a_terminal(
    service: FakeService, glm_env: dict[str, str], tmp_path: Path
) -> None:
    run = batch(str(write_input(tmp_path, prompts(3))), stderr_tty=True)
    assert run.exit_code == 0
    assert "3 done, 0 failed" in run.stderr


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["-j", "0"], "--jobs"),
        (["-j", "257"], "--jobs"),
        (["--shard", "4/3"], "--shard"),
        (["--format", "csv"], "--format"),
        (["--retry-failed"], "--retry-failed needs --output"),
    ],
)
def test_usage_errors(
    service: FakeService, glm_env: dict[str, str], tmp_path: Path, args: list[str], fragment: str
) -> None:
    run = batch(*args, str(write_input(tmp_path, ["x"])))
    assert run.exit_code == 2
    assert_one_error(run.stderr, fragment)
    assert service.requests == []
