"""Errors are values: each carries its exit code and the one line the user sees.

    GlmError                      exit code chosen by the subclass or the service
    ├── UsageError                2  bad flag, value, file, config, prompt or input bytes
    ├── AuthError                 3  no API key (HTTP 401/403 arrive as ServiceError)
    ├── ServiceError              by SPEC §3.1: an HTTP error, an error inside a stream
    │   └── TransportError        5  connection, timeout, --max-time, broken stream
    ├── OutputError               1  stdout or a file glm writes could not be written
    ├── UnusableAnswer            6  invalid JSON, schema mismatch, content filtered
    ├── OutputError               1  stdout cannot be written (disk full, closed at start)
    └── StdoutClosed              141 the reader of stdout went away (glm dies by SIGPIPE)

`outcome.reported` is the only place that turns these into stderr lines and exit codes.
"""

from __future__ import annotations

import errno

from glm_cli.core.exit_codes import ExitCode, describe_code, for_service_error


class GlmError(Exception):
    exit_code: int = ExitCode.INTERNAL

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def line(self) -> str:
        """The one line written to stderr after `glm: error: `."""
        return self.message


class UsageError(GlmError):
    exit_code = ExitCode.USAGE


class AuthError(GlmError):
    exit_code = ExitCode.AUTH


class UnusableAnswer(GlmError):
    exit_code = ExitCode.UNUSABLE

    def __init__(self, message: str, detail: str | None = None) -> None:
        super().__init__(message)
        self.detail = detail


class StdoutClosed(GlmError):
    exit_code = ExitCode.SIGPIPE


class OutputError(GlmError):
    """glm could not write its output (stdout or a file it writes): exit 1 with one line
    naming what and why (SPEC §3.1)."""

    exit_code = ExitCode.OUTPUT_FAILED


def stdout_failure(error: OSError | ValueError) -> GlmError:
    """A failed write to stdout: a closed pipe (EPIPE) is `StdoutClosed`, anything else
    (a full disk, a descriptor closed or not open for writing) an `OutputError`."""
    if isinstance(error, BrokenPipeError) or getattr(error, "errno", None) == errno.EPIPE:
        return StdoutClosed("stdout was closed")
    if isinstance(error, OSError) and error.strerror:
        return OutputError(f"cannot write to stdout: {error.strerror}")
    return OutputError(f"cannot write to stdout: {error or 'it is closed'}")


class ServiceError(GlmError):
    """A failure reported by the service: an HTTP error status or an error in a stream."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        kind: str | None = None,
        request_id: str | None = None,
        exit_code: int | None = None,
        retry_after: float | None = None,
        retryable: bool = False,
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.body: bytes | None = None
        """The HTTP error body as received (`glm raw` prints it)."""
        self.status = status
        self.code = code
        self.kind = kind
        self.request_id = request_id
        self.retry_after = retry_after
        self.exit_code = (
            exit_code if exit_code is not None else for_service_error(status, code, kind)
        )

    def line(self) -> str:
        parts = []
        if self.status is not None:
            parts.append(f"HTTP {self.status}")
        parts.append(self.message or "no message from the service")
        head = ": ".join(parts)
        extras = []
        if self.code is not None:
            meaning = describe_code(self.code)
            extras.append(f"code {self.code}" + (f", {meaning}" if meaning else ""))
        elif self.kind is not None:
            extras.append(self.kind)
        if self.request_id:
            extras.append(f"request id {self.request_id}")
        return head + (f" ({'; '.join(extras)})" if extras else "")


class TransportError(ServiceError):
    """The network or the stream failed: exit 5 unless told otherwise."""

    def __init__(
        self, message: str, *, request_id: str | None = None, retryable: bool = False
    ) -> None:
        super().__init__(
            message, request_id=request_id, exit_code=ExitCode.SERVICE, retryable=retryable
        )
