"""What every wire protocol provides (the interface the transport and commands use)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import field
from typing import Any

from glm_cli.core.errors import ServiceError
from glm_cli.core.messages import ChatRequest, Event, Message, RequestParams
from glm_cli.core.records import record
from glm_cli.wire.sse import SSEvent


@record
class Encoded:
    body: dict[str, Any]
    warnings: list[str] = field(default_factory=list)


class StreamDecoder(ABC):
    """Turns one protocol's SSE events into neutral events.

    `finished` is true once the answer is complete (a finish reason arrived), so a
    connection lost after that point is not a failure; `done` is true once the
    stream's own end marker arrived and nothing more needs reading.
    """

    finished: bool = False
    done: bool = False

    @abstractmethod
    def feed(self, event: SSEvent) -> list[Event]: ...

    @abstractmethod
    def close(self) -> list[Event]:
        """The events owed at the end; raises TransportError if the stream was cut short."""


class WireProtocol(ABC):
    name: str

    @abstractmethod
    def encode(self, request: ChatRequest) -> Encoded: ...

    @abstractmethod
    def encode_params(self, params: RequestParams) -> Encoded:
        """Only the fields the user set (for `raw --body`, where flags override a body)."""

    @abstractmethod
    def set_system(self, body: dict[str, Any], system: str) -> None:
        """Put (or replace) the system prompt in an already built body."""

    @abstractmethod
    def add_user_message(self, body: dict[str, Any], message: Message) -> None: ...

    @abstractmethod
    def decode(self, body: bytes) -> list[Event]:
        """A whole (non-streamed) response body as neutral events, the last one `Done`."""

    @abstractmethod
    def stream_decoder(self) -> StreamDecoder: ...

    def error_from_body(self, status: int, body: bytes) -> ServiceError:
        """An HTTP error response as a ServiceError carrying the service's message and code.

        Both protocols send `{"error": {...}, "request_id"}`; a protocol with another
        shape overrides this.
        """
        from glm_cli.wire.common import error_from_http_body

        return error_from_http_body(status, body)
