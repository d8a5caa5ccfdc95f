"""A fake GLM service for the tests: both protocols, SSE streaming, scripted faults.

svc = FakeService().start()
svc.script(Reply(content=["Hel", "lo"]), Status(429, headers={"Retry-After": "1"}))
... run the client against svc.url ...
assert svc.requests[0].json["model"] == "glm-5.2"
svc.stop()
"""

from .server import FakeService, Headers, RecordedRequest
from .steps import (
    Drop,
    RawResponse,
    Reply,
    Stall,
    Status,
    Step,
    anthropic_error,
    default_usage,
    openai_error,
)

__all__ = [
    "Drop",
    "FakeService",
    "Headers",
    "RawResponse",
    "RecordedRequest",
    "Reply",
    "Stall",
    "Status",
    "Step",
    "anthropic_error",
    "default_usage",
    "openai_error",
]
