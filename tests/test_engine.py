"""The engine as a library: one `Client`, exchanges pulled as events, in many threads.

These tests drive `engine.exchange` directly against the fake service: an exchange
is a value with its own deadline and snapshot, one client is shared by threads
over one connection pool, a retried attempt starts with `Restart`, and an
exchange abandoned half-way closes its connection.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from glm_cli.core.deadline import Deadline, MaxTimeReached
from glm_cli.core.messages import ChatRequest, Content, Done, Event, Restart
from glm_cli.engine.exchange import Client
from glm_cli.net.options import NetOptions
from glm_cli.settings.providers import BUILT_IN, Endpoint
from glm_cli.wire import get_protocol
from tests.fake_service import FakeService, Reply
from tests.fake_service.steps import Incoming, Stall, Step

THREADS = 16
PROTOCOLS = ("openai", "anthropic")
PATHS = {"openai": "/v1/chat/completions", "anthropic": "/v1/messages"}


class QuietLog:
    """The `Log` the engine speaks through; these tests keep what it said."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def note(self, message: str) -> None:
        self.lines.append(message)

    def warn(self, message: str) -> None:
        self.lines.append(message)

    def line(self, text: str) -> None:
        self.lines.append(text)


def client(service: FakeService, protocol: str, **net: Any) -> Client:
    endpoint = Endpoint(BUILT_IN["evolink"], protocol, service.url + PATHS[protocol], None)
    return Client(
        get_protocol(protocol),
        endpoint,
        NetOptions(**net),
        QuietLog(),
        key="sk-test",
        environ={},
        connections=THREADS,
    )


def body(protocol: str, prompt: str, stream: bool = True) -> dict[str, Any]:
    request = ChatRequest("glm-5.2", [{"role": "user", "content": prompt}], stream=stream)
    return get_protocol(protocol).encode(request).body


def prompt_of(incoming: Incoming) -> str:
    content = incoming.body["messages"][-1]["content"]
    return content if isinstance(content, str) else content[0]["text"]


def events_of(exchange: Any) -> list[Event]:
    with exchange:
        return [event for batch in exchange for event in batch]


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("stream", [True, False], ids=["stream", "no-stream"])
def test_sixteen_exchanges_at_once_over_one_client(
    service: FakeService, protocol: str, stream: bool
) -> None:
    """Every request is in flight before any is answered (a barrier in the service), so
    the exchanges truly overlap, each on its own deadline; each gets its own answer."""
    all_in = threading.Barrier(THREADS, timeout=20)

    def answer(incoming: Incoming) -> Step:
        all_in.wait()
        return Reply(content=f"answer to {prompt_of(incoming)}", reasoning=None)

    service.responder = answer
    with client(service, protocol) as shared:

        def one(number: int) -> tuple[str, str | None]:
            exchange = shared.exchange(body(protocol, f"q{number}", stream), Deadline(30))
            events = events_of(exchange)
            assert sum(type(event) is Done for event in events) == 1
            assert exchange.attempts == 1
            done = exchange.result.done
            assert done is not None
            return exchange.result.text, done.finish_reason

        with ThreadPoolExecutor(THREADS) as pool:
            results = list(pool.map(one, range(THREADS)))
    assert results == [(f"answer to q{number}", "stop") for number in range(THREADS)]
    assert len(service.requests) == THREADS
    assert all_in.n_waiting == 0 and not all_in.broken


def test_each_exchange_has_its_own_deadline(service: FakeService) -> None:
    """One exchange runs out of time while the others, on the same client, finish."""

    def answer(incoming: Incoming) -> Step:
        if prompt_of(incoming) == "slow":
            return Stall(10)
        return Reply(content="quick", reasoning=None)

    service.responder = answer
    with client(service, "openai", retries=0) as shared:

        def one(prompt: str) -> str:
            seconds = 0.5 if prompt == "slow" else 30
            exchange = shared.exchange(body("openai", prompt), Deadline(seconds))
            try:
                events_of(exchange)
            except MaxTimeReached as error:
                return f"max-time: {error.message}"
            return exchange.result.text

        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(one, ["fast", "slow", "fast", "fast"]))
    assert results == ["quick", "max-time: --max-time 0.5s reached", "quick", "quick"]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_retried_attempt_starts_with_restart_and_a_fresh_snapshot(
    service: FakeService, protocol: str
) -> None:
    """The first attempt sends reasoning and is cut before its answer; the retry's
    events start with `Restart`, and the result holds the second attempt only."""
    service.script(
        Reply(content="lost", reasoning="first thoughts", drop_after=2),
        Reply(content="kept", reasoning="second thoughts"),
    )
    with client(service, protocol) as shared:
        exchange = shared.exchange(body(protocol, "hi"), Deadline(None))
        events = events_of(exchange)
    assert exchange.attempts == 2
    kinds = [type(event) for event in events]
    assert Restart in kinds
    after = events[kinds.index(Restart) + 1 :]
    assert "".join(event.text for event in after if type(event) is Content) == "kept"
    assert exchange.result.text == "kept"
    assert exchange.result.reasoning.value() == "second thoughts"


def test_no_retry_once_the_consumer_has_shown_something(service: FakeService) -> None:
    service.script(Reply(content=["shown ", "then cut"], reasoning=None, drop_after=2), Reply())
    shown: list[str] = []
    with client(service, "openai") as shared:
        exchange = shared.exchange(
            body("openai", "hi"), Deadline(None), may_retry=lambda: not shown
        )
        with pytest.raises(Exception, match=r"connection lost|ended before"), exchange:
            for batch in exchange:
                shown += [event.text for event in batch if type(event) is Content]
    assert exchange.attempts == 1
    assert len(service.requests) == 1


def test_an_abandoned_exchange_closes_its_connection(service: FakeService) -> None:
    """Stop pulling after the first event: leaving the `with` closes the response, and
    the service sees the client go while it still had more to send."""
    service.script(Reply(content=["one ", "two ", "three"], reasoning=None, stall_after=1))
    with client(service, "openai") as shared:
        exchange = shared.exchange(body("openai", "hi"), Deadline(None))
        with exchange:
            first = next(iter(exchange))
        assert any(type(event) is Content for event in first)
        assert service.disconnected.wait(10)
    assert exchange.result.done is None
