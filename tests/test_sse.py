"""Unit tests of `glm_cli.wire.sse` and of each protocol's stream decoder.

Recorded streams are fed split at every byte boundary, one byte at a time and in
random pieces, with LF, CRLF and CR line endings: the events must never change.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterable, Iterator
from typing import Any

import pytest

from glm_cli.core.errors import TransportError
from glm_cli.core.messages import Content, Event, Reasoning
from glm_cli.wire.anthropic import AnthropicProtocol
from glm_cli.wire.openai import OpenAIProtocol
from glm_cli.wire.protocol import StreamDecoder
from glm_cli.wire.sse import LineSplitter, SSEDecoder, SSEvent, iter_events

# ---------------------------------------------------------------------------
# Recorded streams (written with LF; other endings are derived from them)
# ---------------------------------------------------------------------------

OPENAI_STREAM = (
    b": keep-alive\n"
    b"\n"
    b'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,'
    b'"model":"glm-5.2","request_id":"req-abc","choices":[{"index":0,"delta":'
    b'{"role":"assistant","reasoning_content":"Let me "}}],'
    b'"web_search":[{"title":"T\xc3\xaftle","link":"https://example.com/a"}]}\n'
    b"\n"
    b'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,'
    b'"model":"glm-5.2","choices":[{"index":0,"delta":{"reasoning_content":"think."}}]}\n'
    b"\n"
    b": ping\n"
    b'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,'
    b'"model":"glm-5.2","choices":[{"index":0,"delta":{"content":"H\xc3\xa9llo, "}}]}\n'
    b"\n"
    b'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,'
    b'"model":"glm-5.2","choices":[{"index":0,"delta":{"content":"\xe4\xb8\x96\xe7\x95\x8c'
    b' \xf0\x9f\x8c\x8d"}}]}\n'
    b"\n"
    b'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,'
    b'"model":"glm-5.2","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,'
    b'"id":"call_1","type":"function","function":{"name":"get_weather","arguments":""}}]}}]}\n'
    b"\n"
    b'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,'
    b'"model":"glm-5.2","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,'
    b'"function":{"arguments":"{\\"city\\": "}}]}}]}\n'
    b"\n"
    b'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,'
    b'"model":"glm-5.2","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,'
    b'"function":{"arguments":"\\"Paris\\"}"}}]},"finish_reason":"tool_calls"}],'
    b'"usage":{"prompt_tokens":12,"completion_tokens":34,"total_tokens":46,'
    b'"prompt_tokens_details":{"cached_tokens":2},'
    b'"completion_tokens_details":{"reasoning_tokens":5}}}\n'
    b"\n"
    b"data: [DONE]\n"
    b"\n"
)

OPENAI_PAYLOADS = [line[6:] for line in OPENAI_STREAM.split(b"\n") if line.startswith(b"data: ")]

ANTHROPIC_STREAM = (
    b": opening comment\n"
    b"retry: 3000\n"
    b"\n"
    b"id: 1\n"
    b"event: message_start\n"
    b'data: {"type":"message_start","message":{"id":"msg_1","type":"message",'
    b'"role":"assistant","model":"glm-5.2","content":[],"stop_reason":null,'
    b'"usage":{"input_tokens":12,"cache_read_input_tokens":2,"output_tokens":1}}}\n'
    b"\n"
    b"event: ping\n"
    b'data: {"type": "ping"}\n'
    b"\n"
    b"event: content_block_start\n"
    b'data: {"type":"content_block_start","index":0,'
    b'"content_block":{"type":"thinking","thinking":"","signature":""}}\n'
    b"\n"
    b"id: 2\n"
    b"event: content_block_delta\n"
    b'data: {"type":"content_block_delta","index":0,'
    b'"delta":{"type":"thinking_delta","thinking":"Let me think."}}\n'
    b"\n"
    b"event: content_block_delta\n"
    b'data: {"type":"content_block_delta","index":0,'
    b'"delta":{"type":"signature_delta","signature":""}}\n'
    b"\n"
    b"event: content_block_stop\n"
    b'data: {"type":"content_block_stop","index":0}\n'
    b"\n"
    b"event: content_block_start\n"
    b'data: {"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}}\n'
    b"\n"
    b": a comment between events\n"
    b"event: content_block_delta\n"
    b'data: {"type":"content_block_delta",\n'
    b'data:"index":1,\n'
    b'data: "delta":{"type":"text_delta","text":"H\xc3\xa9llo, "}}\n'
    b"\n"
    b"event: content_block_delta\n"
    b'data: {"type":"content_block_delta","index":1,'
    b'"delta":{"type":"text_delta","text":"\xe4\xb8\x96\xe7\x95\x8c \xf0\x9f\x8c\x8d"}}\n'
    b"\n"
    b"event: content_block_stop\n"
    b'data: {"type":"content_block_stop","index":1}\n'
    b"\n"
    b"event: content_block_start\n"
    b'data: {"type":"content_block_start","index":2,"content_block":{"type":"tool_use",'
    b'"id":"toolu_1","name":"get_weather","input":{}}}\n'
    b"\n"
    b"event: content_block_delta\n"
    b'data: {"type":"content_block_delta","index":2,'
    b'"delta":{"type":"input_json_delta","partial_json":"{\\"city\\": "}}\n'
    b"\n"
    b"event: content_block_delta\n"
    b'data: {"type":"content_block_delta","index":2,'
    b'"delta":{"type":"input_json_delta","partial_json":"\\"Paris\\"}"}}\n'
    b"\n"
    b"event: content_block_stop\n"
    b'data: {"type":"content_block_stop","index":2}\n'
    b"\n"
    b"id: 3\n"
    b"event: message_delta\n"
    b'data: {"type":"message_delta","delta":{"stop_reason":"tool_use"},'
    b'"usage":{"output_tokens":34}}\n'
    b"\n"
    b"event: message_stop\n"
    b'data: {"type":"message_stop"}\n'
    b"\n"
)

_MULTILINE = (
    b'{"type":"content_block_delta",\n"index":1,\n'
    b'"delta":{"type":"text_delta","text":"H\xc3\xa9llo, "}}'
)

# (event name, last event id) of each event, in order, as the decoder must deliver them
ANTHROPIC_NAMES_IDS: list[tuple[str, str | None]] = [
    ("message_start", "1"),
    ("ping", "1"),
    ("content_block_start", "1"),
    ("content_block_delta", "2"),
    ("content_block_delta", "2"),
    ("content_block_stop", "2"),
    ("content_block_start", "2"),
    ("content_block_delta", "2"),
    ("content_block_delta", "2"),
    ("content_block_stop", "2"),
    ("content_block_start", "2"),
    ("content_block_delta", "2"),
    ("content_block_delta", "2"),
    ("content_block_stop", "2"),
    ("message_delta", "3"),
    ("message_stop", "3"),
]

ENDINGS = {"LF": b"\n", "CRLF": b"\r\n", "CR": b"\r"}


def with_ending(stream: bytes, ending: bytes) -> bytes:
    return stream.replace(b"\n", ending)


def as_tuples(events: Iterable[SSEvent]) -> list[tuple[str, bytes, str | None]]:
    return [(event.event, event.data, event.id) for event in events]


def decode(chunks: Iterable[bytes]) -> list[tuple[str, bytes, str | None]]:
    return as_tuples(iter_events(chunks))


def two_pieces(data: bytes) -> Iterator[tuple[int, list[bytes]]]:
    for cut in range(len(data) + 1):
        yield cut, [data[:cut], data[cut:]]


def one_byte_at_a_time(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


def random_pieces(data: bytes, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    pieces = []
    start = 0
    while start < len(data):
        size = rng.randint(1, 40)
        pieces.append(data[start : start + size])
        start += size
    return pieces


# ---------------------------------------------------------------------------
# The expected SSE events of the recorded streams
# ---------------------------------------------------------------------------


def openai_expected() -> list[tuple[str, bytes, str | None]]:
    return [("message", payload, None) for payload in OPENAI_PAYLOADS]


def anthropic_expected() -> list[tuple[str, bytes, str | None]]:
    """The events as written in ANTHROPIC_STREAM, data taken from its `data:` lines."""
    datas: list[bytes] = []
    current: list[bytes] = []
    for line in ANTHROPIC_STREAM.split(b"\n"):
        if line.startswith(b"data:"):
            value = line[5:]
            current.append(value[1:] if value.startswith(b" ") else value)
        elif not line and current:
            datas.append(b"\n".join(current))
            current = []
    return [
        (name, data, event_id)
        for (name, event_id), data in zip(ANTHROPIC_NAMES_IDS, datas, strict=True)
    ]


def test_unsplit_openai_stream_gives_each_data_payload() -> None:
    events = decode([OPENAI_STREAM])
    assert events == openai_expected()
    assert len(events) == 8
    assert events[-1] == ("message", b"[DONE]", None)


def test_unsplit_anthropic_stream_gives_events_names_ids_and_joined_data() -> None:
    events = decode([ANTHROPIC_STREAM])
    assert events == anthropic_expected()
    assert events[1] == ("ping", b'{"type": "ping"}', "1")
    assert events[7] == ("content_block_delta", _MULTILINE, "2")  # data lines joined with LF
    assert events[-1] == ("message_stop", b'{"type":"message_stop"}', "3")


@pytest.mark.parametrize("ending", list(ENDINGS), ids=list(ENDINGS))
@pytest.mark.parametrize("name", ["openai", "anthropic"])
def test_every_byte_boundary_and_line_ending_gives_the_same_events(name: str, ending: str) -> None:
    stream = OPENAI_STREAM if name == "openai" else ANTHROPIC_STREAM
    expected = openai_expected() if name == "openai" else anthropic_expected()
    data = with_ending(stream, ENDINGS[ending])
    for cut, chunks in two_pieces(data):
        assert decode(chunks) == expected, f"split at byte {cut}"


@pytest.mark.parametrize("ending", list(ENDINGS), ids=list(ENDINGS))
@pytest.mark.parametrize("name", ["openai", "anthropic"])
def test_one_byte_at_a_time_and_random_pieces_give_the_same_events(name: str, ending: str) -> None:
    stream = OPENAI_STREAM if name == "openai" else ANTHROPIC_STREAM
    expected = openai_expected() if name == "openai" else anthropic_expected()
    data = with_ending(stream, ENDINGS[ending])
    assert decode(one_byte_at_a_time(data)) == expected
    for seed in range(20):
        assert decode(random_pieces(data, seed)) == expected, f"seed {seed}"


def test_mixed_line_endings_in_one_stream() -> None:
    data = b"event: a\r\ndata: 1\rdata: 2\n\r\nid: x\rdata: 3\r\r"
    expected = [("a", b"1\n2", None), ("message", b"3", "x")]
    assert decode([data]) == expected
    assert decode(one_byte_at_a_time(data)) == expected
    for cut, chunks in two_pieces(data):
        assert decode(chunks) == expected, f"split at byte {cut}"


# ---------------------------------------------------------------------------
# LineSplitter
# ---------------------------------------------------------------------------


def test_crlf_split_between_two_chunks_is_one_line_break() -> None:
    splitter = LineSplitter()
    assert splitter.feed(b"data: a\r") == [b"data: a"]
    assert splitter.feed(b"\ndata: b\r") == [b"data: b"]
    assert splitter.feed(b"\n\r") == [b""]
    assert splitter.feed(b"\n") == []
    assert not splitter.pending()


def test_crlf_split_across_lone_chunks() -> None:
    splitter = LineSplitter()
    lines: list[bytes] = []
    for chunk in (b"x", b"\r", b"\n", b"\r", b"\n", b"y\r", b"\r", b"\n"):
        lines += splitter.feed(chunk)
    # x CRLF, CRLF (empty line), y CR, CRLF (empty line)
    assert lines == [b"x", b"", b"y", b""]


def test_crlf_split_between_chunks_dispatches_a_single_event() -> None:
    chunks = [b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n"]
    assert decode(chunks) == [("message", b"a\nb", None)]


def test_lf_after_a_cr_that_ended_a_chunk_is_not_an_extra_empty_line() -> None:
    # Were the LF taken as a second line break, "a" would be dispatched alone.
    assert decode([b"data: a\r", b"\ndata: b\n\n"]) == [("message", b"a\nb", None)]


def test_two_crs_are_two_line_breaks() -> None:
    assert decode([b"data: a\r", b"\rdata: b\r\r"]) == [
        ("message", b"a", None),
        ("message", b"b", None),
    ]


def test_splitter_keeps_an_unended_line_pending() -> None:
    splitter = LineSplitter()
    assert splitter.feed(b"data: par") == []
    assert splitter.pending()
    assert splitter.feed(b"tial") == []
    assert splitter.feed(b"\n") == [b"data: partial"]
    assert not splitter.pending()
    assert splitter.feed(b"") == []


# ---------------------------------------------------------------------------
# End of stream
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("ending", list(ENDINGS), ids=list(ENDINGS))
def test_final_event_without_blank_line_is_delivered_when_its_line_ended(ending: str) -> None:
    nl = ENDINGS[ending]
    data = b"data: first" + nl + nl + b"event: last" + nl + b"data: second" + nl
    expected = [("message", b"first", None), ("last", b"second", None)]
    assert decode([data]) == expected
    assert decode(one_byte_at_a_time(data)) == expected


@pytest.mark.parametrize("ending", list(ENDINGS), ids=list(ENDINGS))
def test_line_cut_mid_way_at_eof_is_not_delivered(ending: str) -> None:
    nl = ENDINGS[ending]
    data = b"data: first" + nl + nl + b'data: {"choices": [{"del'
    assert decode([data]) == [("message", b"first", None)]
    assert decode(one_byte_at_a_time(data)) == [("message", b"first", None)]


def test_event_whose_earlier_lines_ended_but_last_line_is_cut_is_not_delivered() -> None:
    data = b"data: first\n\ndata: line one\ndata: line tw"
    assert decode([data]) == [("message", b"first", None)]


def test_openai_stream_truncated_at_every_byte_never_yields_a_partial_payload() -> None:
    payloads = set(OPENAI_PAYLOADS)
    for cut in range(len(OPENAI_STREAM)):
        for _, data, _ in decode([OPENAI_STREAM[:cut]]):
            assert data in payloads, f"cut at byte {cut}: {data!r}"


def test_empty_input_gives_no_events() -> None:
    assert decode([]) == []
    assert decode([b""]) == []
    assert decode([b"\n\n\n"]) == []
    assert decode([b": only a comment\n\n"]) == []


# ---------------------------------------------------------------------------
# SSEDecoder field rules
# ---------------------------------------------------------------------------


def feed_lines(decoder: SSEDecoder, lines: list[bytes]) -> list[SSEvent]:
    out = []
    for line in lines:
        event = decoder.line(line)
        if event is not None:
            out.append(event)
    return out


def test_decoder_keeps_retry_and_ignores_a_bad_one() -> None:
    decoder = SSEDecoder()
    feed_lines(decoder, [b"retry: 3000", b""])
    assert decoder.retry == 3000
    feed_lines(decoder, [b"retry: soon", b""])
    assert decoder.retry == 3000


def test_retry_from_recorded_anthropic_stream() -> None:
    decoder = SSEDecoder()
    splitter = LineSplitter()
    feed_lines(decoder, splitter.feed(with_ending(ANTHROPIC_STREAM, b"\r\n")))
    assert decoder.retry == 3000


def test_decoder_field_details() -> None:
    decoder = SSEDecoder()
    events = feed_lines(
        decoder,
        [
            b"data:no space",
            b"data:  two spaces",  # only the first space is removed
            b"unknown: field",
            b"",
            b"event: named",
            b"",  # no data: nothing dispatched, and the event name is reset
            b"data: plain",
            b"",
            b"id: 7",
            b"data: with id",
            b"",
            b"data: id persists",
            b"",
            b"id: bad\0id",  # ignored: the last id stays
            b"data: still 7",
            b"",
        ],
    )
    assert as_tuples(events) == [
        ("message", b"no space\n two spaces", None),
        ("message", b"plain", None),
        ("message", b"with id", "7"),
        ("message", b"id persists", "7"),
        ("message", b"still 7", "7"),
    ]


def test_event_name_applies_to_one_event_only() -> None:
    assert decode([b"event: a\ndata: 1\n\ndata: 2\n\n"]) == [
        ("a", b"1", None),
        ("message", b"2", None),
    ]


def test_comment_lines_never_become_data() -> None:
    assert decode([b":data: x\ndata: y\n: z\n\n"]) == [("message", b"y", None)]


# ---------------------------------------------------------------------------
# The protocols' stream decoders over the recorded streams
# ---------------------------------------------------------------------------


def neutral(event: Event) -> tuple[str, Any]:
    if isinstance(event, Content):
        return ("content", event.text)
    if isinstance(event, Reasoning):
        return ("reasoning", event.text)
    assert dataclasses.is_dataclass(event)
    return (type(event).__name__, dataclasses.asdict(event))


def run_decoder(decoder: StreamDecoder, chunks: Iterable[bytes]) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for sse in iter_events(chunks):
        out += [neutral(event) for event in decoder.feed(sse)]
        if decoder.done:
            break
    out += [neutral(event) for event in decoder.close()]
    return out


def check_openai_neutral(events: list[tuple[str, Any]]) -> None:
    kinds = [kind for kind, _ in events]
    assert kinds == [
        "WebSearch",
        "reasoning",
        "reasoning",
        "content",
        "content",
        "ToolCall",
        "Done",
    ]
    assert "".join(v for k, v in events if k == "reasoning") == "Let me think."
    assert "".join(v for k, v in events if k == "content") == "Héllo, 世界 🌍"
    assert events[0][1] == {"results": [{"title": "Tïtle", "link": "https://example.com/a"}]}
    call = events[5][1]
    assert (call["id"], call["name"], call["arguments"]) == (
        "call_1",
        "get_weather",
        '{"city": "Paris"}',
    )
    done = events[6][1]
    assert done["finish_reason"] == "tool_calls"
    assert done["usage"] == {
        "prompt_tokens": 12,
        "completion_tokens": 34,
        "reasoning_tokens": 5,
        "cached_tokens": 2,
        "total_tokens": 46,
    }
    assert (done["id"], done["model"], done["request_id"]) == ("chatcmpl-1", "glm-5.2", "req-abc")


def check_anthropic_neutral(events: list[tuple[str, Any]]) -> None:
    kinds = [kind for kind, _ in events]
    assert kinds == ["reasoning", "content", "content", "ToolCall", "Done"]
    assert events[0][1] == "Let me think."
    assert "".join(v for k, v in events if k == "content") == "Héllo, 世界 🌍"
    call = events[3][1]
    assert (call["id"], call["name"], call["arguments"]) == (
        "toolu_1",
        "get_weather",
        '{"city": "Paris"}',
    )
    done = events[4][1]
    assert done["finish_reason"] == "tool_calls"
    assert done["stop_sequence"] is None
    assert done["usage"]["prompt_tokens"] == 12
    assert done["usage"]["completion_tokens"] == 34
    assert done["usage"]["cached_tokens"] == 2
    assert done["usage"]["total_tokens"] == 46
    assert (done["id"], done["model"]) == ("msg_1", "glm-5.2")


PROTOCOL_CASES = {
    "openai": (OpenAIProtocol, OPENAI_STREAM, check_openai_neutral),
    "anthropic": (AnthropicProtocol, ANTHROPIC_STREAM, check_anthropic_neutral),
}


@pytest.mark.parametrize("ending", list(ENDINGS), ids=list(ENDINGS))
@pytest.mark.parametrize("name", list(PROTOCOL_CASES))
def test_stream_decoder_gives_the_same_neutral_events_at_every_split(
    name: str, ending: str
) -> None:
    protocol_class, stream, check = PROTOCOL_CASES[name]
    data = with_ending(stream, ENDINGS[ending])
    reference = run_decoder(protocol_class().stream_decoder(), [data])
    check(reference)
    for cut, chunks in two_pieces(data):
        assert run_decoder(protocol_class().stream_decoder(), chunks) == reference, cut
    assert run_decoder(protocol_class().stream_decoder(), one_byte_at_a_time(data)) == reference


@pytest.mark.parametrize("name", list(PROTOCOL_CASES))
def test_stream_decoder_finished_and_done_flags(name: str) -> None:
    protocol_class, stream, _ = PROTOCOL_CASES[name]
    decoder = protocol_class().stream_decoder()
    events = list(iter_events([stream]))
    for sse in events[:-2]:
        decoder.feed(sse)
    assert not decoder.finished
    decoder.feed(events[-2])
    assert decoder.finished and not decoder.done
    decoder.feed(events[-1])
    assert decoder.done


@pytest.mark.parametrize("name", list(PROTOCOL_CASES))
def test_stream_without_finish_reason_is_a_transport_error_exit_5(name: str) -> None:
    protocol_class, stream, _ = PROTOCOL_CASES[name]
    decoder = protocol_class().stream_decoder()
    for sse in list(iter_events([stream]))[:-2]:
        decoder.feed(sse)
    with pytest.raises(TransportError) as caught:
        decoder.close()
    assert caught.value.exit_code == 5


@pytest.mark.parametrize("name", list(PROTOCOL_CASES))
def test_final_event_without_end_marker_is_complete(name: str) -> None:
    protocol_class, stream, check = PROTOCOL_CASES[name]
    events = list(iter_events([stream]))[:-1]  # no [DONE] / message_stop
    decoder = protocol_class().stream_decoder()
    out: list[tuple[str, Any]] = []
    for sse in events:
        out += [neutral(event) for event in decoder.feed(sse)]
    out += [neutral(event) for event in decoder.close()]
    check(out)


@pytest.mark.parametrize("name", list(PROTOCOL_CASES))
def test_malformed_chunk_is_a_transport_error_exit_5(name: str) -> None:
    protocol_class, _, _ = PROTOCOL_CASES[name]
    decoder = protocol_class().stream_decoder()
    with pytest.raises(TransportError) as caught:
        decoder.feed(SSEvent("content_block_delta", b'{"choices": [{"del'))
    assert caught.value.exit_code == 5


# --- SPEC §3.2: a leading BOM, multi-line data on one line ----------------------------


@pytest.mark.parametrize(
    "chunks",
    [
        [b"\xef\xbb\xbfdata: a\n\n"],
        [b"\xef", b"\xbb", b"\xbfdata: a\n\n"],  # the BOM split across reads
        [b"\xef\xbb\xbf", b"data: a\n\n"],
    ],
)
def test_one_leading_bom_is_ignored(chunks: list[bytes]) -> None:
    assert [event.data for event in iter_events(chunks)] == [b"a"]


def test_a_bom_later_in_the_stream_is_data() -> None:
    chunks = [b"\xef\xbb\xbf\xef\xbb\xbfdata: a\n\ndata: \xef\xbb\xbfb\n\n"]
    assert [event.data for event in iter_events(chunks)] == [b"\xef\xbb\xbfb"]


def test_a_multi_line_payload_is_one_line_and_the_same_json() -> None:
    import json

    from glm_cli.wire.sse import one_line

    [event] = iter_events([b'data: {"a":\ndata:  [1,\ndata: 2]}\n\n'])
    assert event.data == b'{"a":\n [1,\n2]}'
    assert one_line(event.data) == b'{"a":  [1, 2]}'
    assert json.loads(one_line(event.data)) == json.loads(event.data)
