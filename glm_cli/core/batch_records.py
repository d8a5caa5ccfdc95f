"""`glm batch` output records (SPEC §6): glm's record shape and the OpenAI Batch one.

Pure: values in, one JSON line out, and back (`read_record`, for resuming). Text from
the service (content, tool-call arguments) is kept as the strings it arrived as, so
no number in them changes.
"""

from __future__ import annotations

from typing import Any

import orjson

from glm_cli.core.accumulate import Result
from glm_cli.core.batch_lines import LineId, id_key
from glm_cli.core.errors import GlmError, ServiceError
from glm_cli.core.exit_codes import ExitCode

FORMATS = ("record", "openai")


def error_object(error: GlmError) -> dict[str, Any]:
    status = code = None
    if isinstance(error, ServiceError):
        status, code = error.status, error.code
    return {
        "exit_code": int(error.exit_code),
        "message": error.message,
        "status": status,
        "code": code,
    }


def bad_line_error(message: str) -> dict[str, Any]:
    return {"exit_code": int(ExitCode.USAGE), "message": message, "status": None, "code": None}


def tool_calls(result: Result) -> list[dict[str, Any]] | None:
    if not result.tool_calls:
        return None
    calls = []
    for call in result.tool_calls:
        if call.kind == "mcp" and call.detail is not None:
            calls.append({"id": call.id, "type": "mcp", "mcp": call.detail})
        else:
            calls.append(
                {
                    "id": call.id,
                    "type": call.kind,
                    "function": {"name": call.name, "arguments": call.arguments},
                }
            )
    return calls


def record(
    line_id: LineId,
    index: int,
    result: Result | None,
    *,
    reasoning: bool,
    elapsed: float,
    attempts: int,
    error: dict[str, Any] | None,
) -> dict[str, Any]:
    """glm's record of one line: the answer (what there was of it) and the error, if any."""
    done = result.done if result is not None else None
    fields: dict[str, Any] = {
        "id": line_id,
        "index": index,
        "content": result.text if result is not None and (done or result.text) else None,
    }
    if reasoning:
        fields["reasoning"] = result.reasoning.value() or None if result is not None else None
    fields |= {
        "tool_calls": tool_calls(result) if result is not None else None,
        "finish_reason": done.finish_reason if done else None,
        "usage": done.usage.as_dict() if done else None,
        "model": done.model if done else None,
        "request_id": done.request_id if done else None,
        "elapsed_s": round(elapsed, 3),
        "attempts": attempts,
        "error": error,
    }
    return fields


def openai_record(fields: dict[str, Any]) -> dict[str, Any]:
    """The OpenAI Batch output shape of a record: `response.body` is a chat.completion
    built from the answer (the same for both protocols, streamed or not)."""
    error = fields["error"]
    body: dict[str, Any]
    if error is None:
        message: dict[str, Any] = {"role": "assistant", "content": fields["content"]}
        if fields.get("reasoning"):
            message["reasoning_content"] = fields["reasoning"]
        if fields["tool_calls"]:
            message["tool_calls"] = fields["tool_calls"]
        usage = fields["usage"] or {}
        body = {
            "object": "chat.completion",
            "model": fields["model"],
            "choices": [{"index": 0, "message": message, "finish_reason": fields["finish_reason"]}],
            "usage": {
                key: usage.get(key)
                for key in ("prompt_tokens", "completion_tokens", "total_tokens")
            },
        }
        response: dict[str, Any] | None = {
            "status_code": 200,
            "request_id": fields["request_id"],
            "body": body,
        }
    elif error["status"] is not None:
        body = {"error": {"code": error["code"], "message": error["message"]}}
        response = {
            "status_code": error["status"],
            "request_id": fields["request_id"],
            "body": body,
        }
    else:
        response = None
    return {
        "id": f"batch_req_{fields['index']}",
        "custom_id": fields["id"],
        "response": response,
        "error": None
        if error is None
        else {"code": error["code"] or str(error["exit_code"]), "message": error["message"]},
    }


def encode(fields: dict[str, Any], shape: str) -> bytes:
    return orjson.dumps(openai_record(fields) if shape == "openai" else fields) + b"\n"


def read_record(raw: bytes) -> tuple[bytes, bool] | None:
    """(id key, failed) of a record line written by an earlier run, in either shape;
    None when the line is not a record (it is then neither skipped nor redone)."""
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(value, dict):
        return None
    key = "custom_id" if "custom_id" in value else "id"
    line_id = value.get(key)
    if isinstance(line_id, bool) or not isinstance(line_id, str | int):
        return None
    return id_key(line_id), value.get("error") is not None


def tokens(fields: dict[str, Any]) -> int:
    usage = fields.get("usage") or {}
    total = usage.get("total_tokens")
    if isinstance(total, int):
        return total
    return sum(usage.get(key) or 0 for key in ("prompt_tokens", "completion_tokens"))
