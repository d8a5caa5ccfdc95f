"""Property tests (issue 7) of the decoders, `Retry-After` parsing and the request checks.

- The SSE decoder, and each protocol's stream decoder on top of it, give the same
  events however the byte stream is cut into chunks (tests/test_sse.py does this for
  recorded streams at every byte; here the streams themselves are generated).
- Arbitrary bytes, and well-framed chunks holding arbitrary JSON, give either
  well-typed neutral events or the defined protocol error (`ServiceError`, of which
  `TransportError` is a kind): never another exception, which would be exit 1.
- `parse_retry_after` never raises and stays in [0, 60] or None.
- The request checks of `glm_cli.core.validate` never let an out-of-range value through
  and never reject an in-range one.
"""

from __future__ import annotations

import itertools
import json
import math
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from glm_cli.core import validate
from glm_cli.core.errors import ServiceError, UsageError
from glm_cli.core.exit_codes import ExitCode
from glm_cli.core.messages import Content, Done, Event, Reasoning, ToolCall, Usage, WebSearch
from glm_cli.core.retry import MAX_RETRY_AFTER, parse_retry_after
from glm_cli.wire.anthropic import AnthropicProtocol
from glm_cli.wire.common import error_from_http_body
from glm_cli.wire.openai import OpenAIProtocol
from glm_cli.wire.protocol import StreamDecoder, WireProtocol
from glm_cli.wire.sse import SSEvent, iter_events
from tests.fake_service import Reply, anthropic_wire, openai_wire
from tests.fake_service.steps import Incoming

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
DECODERS = settings(FAST, max_examples=150)  # wrong shapes hide deep in a chunk: look longer
PROTOCOLS: dict[str, type[WireProtocol]] = {
    "openai": OpenAIProtocol,
    "anthropic": AnthropicProtocol,
}
NEWLINES = ("\n", "\r\n", "\r")

# Text without surrogates (which cannot be encoded) and, for SSE fields, without
# line breaks (which end a field).
text = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)
field_text = st.text(
    st.characters(exclude_categories=("Cs",), exclude_characters="\r\n"), max_size=12
)


def cut(data: bytes, points: list[int]) -> list[bytes]:
    """`data` in chunks, split at `points` (any order, repeats make empty chunks)."""
    bounds = [0, *sorted(p % (len(data) + 1) for p in points), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


# ---------------------------------------------------------------------------
# SSE framing
# ---------------------------------------------------------------------------

sse_events = st.lists(
    st.fixed_dictionaries(
        {"data": st.lists(field_text, min_size=1, max_size=3)},
        optional={
            "event": st.text("abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=10),
            "id": st.text("0123456789abc", min_size=1, max_size=4),
            "comment": field_text,
        },
    ),
    max_size=6,
)


def encode_sse(events: list[dict[str, Any]], newline: str) -> tuple[bytes, list[SSEvent]]:
    lines: list[str] = []
    expected: list[SSEvent] = []
    last_id: str | None = None
    for event in events:
        if "comment" in event:
            lines.append(f":{event['comment']}")
        if "event" in event:
            lines.append(f"event: {event['event']}")
        if "id" in event:
            lines.append(f"id: {event['id']}")
            last_id = event["id"]
        lines += [f"data: {line}" for line in event["data"]]
        lines.append("")
        data = "\n".join(event["data"]).encode()
        expected.append(SSEvent(event.get("event", "message"), data, last_id))
    return "".join(line + newline for line in lines).encode(), expected


@FAST
@given(sse_events, st.sampled_from(NEWLINES), st.lists(st.integers(0, 10_000), max_size=8))
def test_sse_decoder_gives_the_same_events_however_the_stream_is_cut(
    events: list[dict[str, Any]], newline: str, points: list[int]
) -> None:
    data, expected = encode_sse(events, newline)
    assert list(iter_events([data])) == expected
    assert list(iter_events(cut(data, points))) == expected


@FAST
@given(sse_events, st.sampled_from(NEWLINES))
def test_sse_decoder_one_byte_at_a_time(events: list[dict[str, Any]], newline: str) -> None:
    data, expected = encode_sse(events, newline)
    assert list(iter_events(data[i : i + 1] for i in range(len(data)))) == expected


# ---------------------------------------------------------------------------
# Stream decoders: generated answers, rendered as the fake service renders them
# ---------------------------------------------------------------------------

tool_calls = st.lists(
    st.fixed_dictionaries(
        {
            "id": st.text("abc123_", min_size=1, max_size=6),
            "name": st.text("abcdefgh_", min_size=1, max_size=8),
            "arguments": st.dictionaries(st.text("abc", max_size=3), st.integers(), max_size=2).map(
                json.dumps
            ),
        }
    ),
    max_size=2,
)
answers = st.fixed_dictionaries(
    {
        "content": st.lists(text, min_size=1, max_size=6),
        "reasoning": st.none() | st.lists(text, min_size=1, max_size=4),
        "tool_calls": st.none() | tool_calls,
        "finish_reason": st.sampled_from(["stop", "length", "tool_calls", "sensitive", "other"]),
        "chunk_size": st.integers(0, 3),
        "ping": st.booleans(),
    }
)


def neutral(event: Event) -> tuple[str, Any]:
    if isinstance(event, Content | Reasoning):
        return (type(event).__name__, event.text)
    return (type(event).__name__, repr(event))


def decode_stream(protocol: str, chunks: list[bytes]) -> list[tuple[str, Any]]:
    """What `commands.common.consume_stream` does, collecting neutral events."""
    decoder = PROTOCOLS[protocol]().stream_decoder()
    out: list[tuple[str, Any]] = []
    for sse in iter_events(chunks):
        out += [neutral(event) for event in decoder.feed(sse)]
        if decoder.done:
            break
    out += [neutral(event) for event in decoder.close()]
    return out


def rendered(protocol: str, answer: dict[str, Any], newline: str) -> bytes:
    wire = anthropic_wire if protocol == "anthropic" else openai_wire
    reply = Reply(newline=newline, **answer)
    events = wire.events(reply, Incoming({"model": "glm-5.2"}, 1))
    parts = []
    for event in events:
        parts.append(event.encode(newline))
        if reply.ping:
            parts.append(wire.ping().encode(newline))
    return b"".join(parts)


@FAST
@given(
    st.sampled_from(sorted(PROTOCOLS)),
    answers,
    st.sampled_from(NEWLINES),
    st.lists(st.integers(0, 100_000), max_size=10),
)
def test_stream_decoders_give_the_same_events_however_the_stream_is_cut(
    protocol: str, answer: dict[str, Any], newline: str, points: list[int]
) -> None:
    data = rendered(protocol, answer, newline)
    whole = decode_stream(protocol, [data])
    assert decode_stream(protocol, cut(data, points)) == whole
    # ... and the events are the answer: its text, its reasoning, its tool calls
    assert "".join(t for k, t in whole if k == "Content") == "".join(answer["content"])
    reasoning = "".join(answer["reasoning"] or [])
    assert "".join(t for k, t in whole if k == "Reasoning") == reasoning
    assert sum(k == "ToolCall" for k, _ in whole) == len(answer["tool_calls"] or [])
    assert [k for k, _ in whole][-1] == "Done"


# ---------------------------------------------------------------------------
# Arbitrary input: events or the defined protocol error, nothing else
# ---------------------------------------------------------------------------

# Any JSON value, the simple wrong shapes (a list or a number where an object or text
# belongs) drawn first and most often.
json_values = st.sampled_from([None, True, 0, 7, -1.5, "", "x", [], [1], ["x"], {}, {"a": 1}]) | (
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | text,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
        max_leaves=8,
    )
)


def optional(keys: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional=keys)


openai_chunks = st.fixed_dictionaries(
    {
        "choices": json_values
        | st.lists(
            json_values
            | optional(
                {
                    "index": json_values,
                    "finish_reason": json_values,
                    "delta": json_values
                    | optional(
                        {
                            "content": json_values,
                            "reasoning_content": json_values,
                            "role": json_values,
                            "tool_calls": json_values
                            | st.lists(
                                json_values
                                | optional(
                                    {
                                        "index": json_values,
                                        "id": json_values,
                                        "type": json_values,
                                        "function": json_values
                                        | optional({"name": json_values, "arguments": json_values}),
                                        "mcp": json_values,
                                    }
                                ),
                                max_size=2,
                            ),
                        }
                    ),
                    "message": json_values,
                }
            ),
            max_size=2,
        ),
    },
    optional={
        "id": json_values,
        "model": json_values,
        "request_id": json_values,
        "error": json_values,
        "usage": json_values,
        "web_search": json_values,
        "content_filter": json_values,
    },
)
anthropic_chunks = st.fixed_dictionaries(
    {
        "type": st.sampled_from(
            [
                "message_start",
                "content_block_start",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop",
                "ping",
                "error",
                "mystery",
            ]
        )
        | json_values,
    },
    optional={
        "index": json_values,
        "error": json_values,
        "usage": json_values,
        "message": json_values
        | optional(
            {
                "id": json_values,
                "model": json_values,
                "usage": json_values,
                "request_id": json_values,
            }
        ),
        "content_block": json_values
        | optional(
            {
                "type": st.sampled_from(["text", "thinking", "tool_use"]) | json_values,
                "text": json_values,
                "thinking": json_values,
                "id": json_values,
                "name": json_values,
                "input": json_values,
            }
        ),
        "delta": json_values
        | optional(
            {
                "type": st.sampled_from(
                    ["text_delta", "thinking_delta", "input_json_delta", "signature_delta"]
                )
                | json_values,
                "text": json_values,
                "thinking": json_values,
                "partial_json": json_values,
                "stop_reason": json_values,
                "stop_sequence": json_values,
            }
        ),
        "request_id": json_values,
        "content": json_values,
        "stop_reason": json_values,
        "stop_sequence": json_values,
    },
)
CHUNKS = {"openai": openai_chunks, "anthropic": anthropic_chunks}


def _optional_text(value: object) -> bool:
    return value is None or isinstance(value, str)


def _optional_int(value: object) -> bool:
    return value is None or (isinstance(value, int) and not isinstance(value, bool))


def assert_well_typed(events: list[Event]) -> None:
    """What the renderers rely on: every event's fields have their declared types."""
    for event in events:
        if isinstance(event, Content | Reasoning):
            assert isinstance(event.text, str), event.text
        elif isinstance(event, ToolCall):
            assert _optional_text(event.id) and _optional_text(event.name), event
            assert isinstance(event.arguments, str), event
            assert event.detail is None or isinstance(event.detail, dict), event
        elif isinstance(event, WebSearch):
            assert isinstance(event.results, list), event
            assert all(isinstance(result, dict) for result in event.results), event
        else:
            assert isinstance(event, Done), event
            assert _optional_text(event.finish_reason), event
            assert _optional_text(event.stop_sequence), event
            assert _optional_text(event.id) and _optional_text(event.model), event
            assert _optional_text(event.request_id), event
            assert isinstance(event.usage, Usage), event
            assert all(_optional_int(v) for v in event.usage.as_dict().values()), event
            filters = event.content_filter
            assert filters is None or all(isinstance(f, dict) for f in filters), event


def feed_all(decoder: StreamDecoder, events: list[SSEvent]) -> list[Event]:
    out: list[Event] = []
    for sse in events:
        out += decoder.feed(sse)
        if decoder.done:
            break
    return out + decoder.close()


def expect_events_or_protocol_error(run: Any) -> None:
    try:
        events = run()
    except ServiceError as error:  # TransportError is a kind of ServiceError
        assert isinstance(error.line(), str)
        assert error.exit_code in set(ExitCode)
        return
    assert_well_typed(events)


@FAST
@given(
    st.sampled_from(sorted(PROTOCOLS)),
    st.binary(max_size=300),
    st.lists(st.integers(0, 1000), max_size=4),
)
def test_arbitrary_bytes_give_events_or_a_protocol_error(
    protocol: str, data: bytes, points: list[int]
) -> None:
    decoder = PROTOCOLS[protocol]().stream_decoder()
    expect_events_or_protocol_error(lambda: feed_all(decoder, list(iter_events(cut(data, points)))))
    expect_events_or_protocol_error(lambda: PROTOCOLS[protocol]().decode(data))


@pytest.mark.parametrize("protocol", sorted(PROTOCOLS))
@DECODERS
@given(data=st.data())
def test_arbitrary_json_chunks_give_events_or_a_protocol_error(
    data: st.DataObject, protocol: str
) -> None:
    chunks = data.draw(st.lists(CHUNKS[protocol] | json_values, min_size=1, max_size=4))
    names = data.draw(
        st.lists(
            st.sampled_from(["message", "error", "content_block_delta"]),
            min_size=len(chunks),
            max_size=len(chunks),
        )
    )
    events = [
        SSEvent(name, json.dumps(chunk).encode()) for name, chunk in zip(names, chunks, strict=True)
    ]
    decoder = PROTOCOLS[protocol]().stream_decoder()
    expect_events_or_protocol_error(lambda: feed_all(decoder, events))


tool_call_objects = json_values | optional(
    {
        "id": json_values,
        "type": json_values,
        "mcp": json_values,
        "function": json_values | optional({"name": json_values, "arguments": json_values}),
    }
)
openai_bodies = st.fixed_dictionaries(
    {
        "choices": st.lists(
            optional(
                {
                    "finish_reason": json_values,
                    "message": json_values
                    | optional(
                        {
                            "content": json_values,
                            "reasoning_content": json_values,
                            "tool_calls": json_values | st.lists(tool_call_objects, max_size=2),
                        }
                    ),
                }
            )
            | json_values,
            min_size=1,
            max_size=2,
        )
        | json_values
    },
    optional={
        "id": json_values,
        "model": json_values,
        "request_id": json_values,
        "error": json_values,
        "usage": json_values,
        "web_search": json_values,
        "content_filter": json_values,
    },
)
anthropic_bodies = st.fixed_dictionaries(
    {
        "content": st.lists(
            optional(
                {
                    "type": st.sampled_from(["text", "thinking", "tool_use"]) | json_values,
                    "text": json_values,
                    "thinking": json_values,
                    "id": json_values,
                    "name": json_values,
                    "input": json_values,
                }
            )
            | json_values,
            max_size=3,
        )
        | json_values
    },
    optional={
        "type": st.sampled_from(["message", "error"]) | json_values,
        "error": json_values,
        "id": json_values,
        "model": json_values,
        "usage": json_values,
        "request_id": json_values,
        "stop_reason": json_values,
        "stop_sequence": json_values,
    },
)


@pytest.mark.parametrize("protocol", sorted(PROTOCOLS))
@DECODERS
@given(data=st.data())
def test_arbitrary_json_bodies_give_events_or_a_protocol_error(
    data: st.DataObject, protocol: str
) -> None:
    body = data.draw(openai_bodies if protocol == "openai" else anthropic_bodies)
    encoded = json.dumps(body).encode()
    expect_events_or_protocol_error(lambda: PROTOCOLS[protocol]().decode(encoded))


@FAST
@given(
    st.integers(100, 599),
    st.binary(max_size=200)
    | json_values.map(lambda v: json.dumps(v).encode())
    | optional(
        {
            "error": json_values,
            "request_id": json_values,
            "message": json_values,
            "code": json_values,
            "type": json_values,
        }
    ).map(lambda v: json.dumps(v).encode()),
)
def test_any_error_body_gives_one_service_error(status: int, body: bytes) -> None:
    error = error_from_http_body(status, body)
    assert isinstance(error, ServiceError)
    line = error.line()
    assert isinstance(line, str) and "\n" not in line
    assert error.exit_code in set(ExitCode)


# ---------------------------------------------------------------------------
# Retry-After
# ---------------------------------------------------------------------------

http_dates = st.builds(
    lambda day, month, year, h, m, s, zone: (
        f"{day}, {m:02d} {month} {year} {h:02d}:{m:02d}:{s:02d} {zone}"
    ),
    st.sampled_from(["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun", "Xyz"]),
    st.sampled_from(["Jan", "Feb", "Dec", "Foo"]),
    st.integers(0, 99_999),
    st.integers(0, 99),
    st.integers(0, 99),
    st.integers(0, 99),
    st.sampled_from(["GMT", "UTC", "+2359", "-2359", "+0000", "", "EST", "+99999"]),
)
numbers = st.builds(str, st.floats() | st.integers(-(10**30), 10**30)) | st.sampled_from(
    ["1e999", "-1e999", "nan", "inf", "-inf", "0x10", "1_0", "٣", "  7  ", "+5", "-0"]
)


@settings(max_examples=200, deadline=None)
@given(
    st.none() | text | st.text(max_size=40) | http_dates | numbers,
    st.floats(min_value=0, max_value=4e9),
)
def test_retry_after_never_raises_and_stays_within_0_and_60(value: str | None, now: float) -> None:
    seconds = parse_retry_after(value, now)
    assert seconds is None or 0.0 <= seconds <= MAX_RETRY_AFTER


# ---------------------------------------------------------------------------
# The request checks: in range always passes, out of range never does
# ---------------------------------------------------------------------------

RANGES = [(0.0, 1.0), (0.01, 1.0)]  # temperature and top_p; top_p on anthropic is 0–1


def spellings(hundredths: int) -> st.SearchStrategy[object]:
    """Ways to write the number `hundredths / 100` with at most two decimals."""
    value = Decimal(hundredths) / 100
    return st.sampled_from(
        [
            f"{value:.2f}",
            f"{hundredths}e-2",
            f"{value:.2f}0",
            f" {value:.2f} ",
            str(float(value)),
            float(value),
            *([int(value)] if hundredths % 100 == 0 else []),
        ]
    )


@FAST
@given(st.data(), st.sampled_from(RANGES))
def test_two_decimals_accepts_every_in_range_value(
    data: st.DataObject, bounds: tuple[float, float]
) -> None:
    low, high = bounds
    hundredths = data.draw(st.integers(round(low * 100), round(high * 100)))
    value = data.draw(spellings(hundredths))
    assert validate.two_decimals("--temperature", value, low, high) == hundredths / 100


@FAST
@given(st.data(), st.sampled_from(RANGES))
def test_two_decimals_rejects_every_out_of_range_value(
    data: st.DataObject, bounds: tuple[float, float]
) -> None:
    low, high = bounds
    outside = st.integers(-(10**12), round(low * 100) - 1) | st.integers(
        round(high * 100) + 1, 10**12
    )
    value = data.draw(
        outside.flatmap(spellings)
        | st.integers(-(10**6), 10**6).filter(lambda n: n % 10).map(lambda n: f"{n / 1000:.3f}")
        | st.integers(3, 10**9).map(lambda n: f"1e{n}")
        | st.integers(3, 400).map(lambda n: f"1e-{n}")
        | st.sampled_from(["nan", "NaN", "inf", "-inf", "", "0x1", "1_0", "0.5.5", "½", True])
        | st.floats().filter(lambda x: not (math.isfinite(x) and low <= x <= high))
    )
    try:
        validate.two_decimals("--temperature", value, low, high)
    except UsageError as error:
        assert "--temperature" in error.message
    else:
        raise AssertionError(f"{value!r} passed")


@FAST
@given(
    st.one_of(text, st.text(max_size=40), st.floats(), st.integers(), st.booleans()),
    st.sampled_from(RANGES),
)
def test_two_decimals_on_anything_passes_only_in_range_values(
    value: object, bounds: tuple[float, float]
) -> None:
    low, high = bounds
    try:
        number = validate.two_decimals("--top-p", value, low, high)
    except UsageError:
        return
    assert low <= number <= high and round(number, 2) == number


INTEGER_RANGES = [
    (1, validate.MAX_TOKENS_LIMIT),
    (0, 10),
    (1, 50),
    (0, validate.MAX_TOP_K),
    (0, None),
]


@FAST
@given(st.data(), st.sampled_from(INTEGER_RANGES))
def test_integer_accepts_every_in_range_value(
    data: st.DataObject, bounds: tuple[int, int | None]
) -> None:
    low, high = bounds
    number = data.draw(st.integers(low, high if high is not None else 10**18))
    value = data.draw(st.sampled_from([number, str(number), "00" + str(number)]))
    assert validate.integer("--max-tokens", value, low, high) == number


@FAST
@given(st.data(), st.sampled_from(INTEGER_RANGES))
def test_integer_rejects_every_out_of_range_value(
    data: st.DataObject, bounds: tuple[int, int | None]
) -> None:
    low, high = bounds
    outside = st.integers(-(10**30), low - 1)
    if high is not None:
        outside |= st.integers(high + 1, 10**30)
    value = data.draw(
        outside.flatmap(lambda n: st.sampled_from([n, str(n)]))
        | st.integers(4300, 6000).map(lambda n: "9" * n if high is not None else "-9" * n)
        | st.sampled_from(["1.0", "1_000", "+1", " 1", "1e3", "", "٣", "0x10", True, 1.0])
    )
    try:
        validate.integer("--max-tokens", value, low, high)
    except UsageError as error:
        assert "--max-tokens" in error.message
    else:
        raise AssertionError(f"{value!r} passed")


@FAST
@given(
    st.one_of(text, st.text("0123456789", max_size=5000), st.integers(), st.floats()),
    st.sampled_from(INTEGER_RANGES),
)
def test_integer_on_anything_passes_only_in_range_values(
    value: object, bounds: tuple[int, int | None]
) -> None:
    low, high = bounds
    try:
        number = validate.integer("--top-k", value, low, high)
    except UsageError:
        return
    assert isinstance(number, int) and low <= number and (high is None or number <= high)


@FAST
@given(st.text(max_size=140), st.sampled_from([(6, 64), (6, 128)]))
def test_text_length_passes_exactly_the_lengths_in_range(
    value: str, bounds: tuple[int, int]
) -> None:
    low, high = bounds
    try:
        assert validate.text_length("--request-id", value, low, high) == value
    except UsageError:
        assert not low <= len(value) <= high
    else:
        assert low <= len(value) <= high


@FAST
@given(st.lists(st.text(max_size=5), max_size=7) | st.text(max_size=5))
def test_stops_passes_one_to_four_non_empty_texts_only(values: list[str] | str) -> None:
    listed = [values] if isinstance(values, str) else values
    good = len(listed) <= validate.MAX_STOPS and all(listed)
    try:
        assert validate.stops("--stop", values) == listed
    except UsageError:
        assert not good
    else:
        assert good


@FAST
@given(st.sampled_from(validate.EFFORTS) | text | st.integers() | st.none())
def test_choice_passes_exactly_the_choices(value: object) -> None:
    try:
        assert validate.choice("--effort", value, validate.EFFORTS) == value
    except UsageError:
        assert value not in validate.EFFORTS
    else:
        assert value in validate.EFFORTS


@FAST
@given(st.one_of(st.floats(), st.integers(), text, st.sampled_from(["1e999", "1e308", "9e9"])))
def test_seconds_passes_only_positive_numbers_the_clocks_can_hold(value: object) -> None:
    try:
        seconds = validate.seconds("--timeout", value)
    except UsageError:
        return
    assert 0 < seconds <= validate.MAX_SECONDS
