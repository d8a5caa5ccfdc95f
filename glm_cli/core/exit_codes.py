"""The exit codes of SPEC §3.1 and the one mapping from a service failure to a code.

Everything that decides "which code does this failure get" lives here, so the
table in the README, the man page and the code can be checked against one place.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    INTERNAL = 1
    """An unexpected exception: always a bug."""
    OUTPUT_FAILED = 1
    """glm could not write its output (stdout or a file it writes)."""
    USAGE = 2
    AUTH = 3
    QUOTA = 4
    SERVICE = 5
    UNUSABLE = 6
    BATCH_PARTIAL = 7
    """`glm batch` ran, and some lines failed (each has an error record)."""
    SIGPIPE = 141
    """What a shell reports for a closed stdout (glm dies by SIGPIPE: 128 + 13)."""


# Business codes carried in an error body (SPEC §5), with what they mean.
BUSINESS_CODES: dict[str, tuple[ExitCode, str]] = {
    "1000": (ExitCode.AUTH, "authentication failed"),
    "1001": (ExitCode.AUTH, "authentication failed"),
    "1002": (ExitCode.AUTH, "invalid API key"),
    "1003": (ExitCode.AUTH, "API key expired"),
    "1004": (ExitCode.AUTH, "authentication failed"),
    "1113": (ExitCode.QUOTA, "balance exhausted"),
    "1304": (ExitCode.QUOTA, "daily limit reached"),
    "1308": (ExitCode.QUOTA, "usage cap reached"),
    "1310": (ExitCode.QUOTA, "usage cap reached"),
    "1302": (ExitCode.QUOTA, "concurrency limit"),
    "1303": (ExitCode.QUOTA, "frequency limit"),
    "1211": (ExitCode.USAGE, "unknown model"),
    "1214": (ExitCode.USAGE, "invalid parameter"),
    "1261": (ExitCode.USAGE, "prompt too long"),
    "1301": (ExitCode.UNUSABLE, "unsafe content"),
    "1312": (ExitCode.SERVICE, "model overloaded"),
}

# Codes that no retry can fix: the balance or a cap is spent.
FINAL_QUOTA_CODES = frozenset({"1113", "1304", "1308", "1310"})

RETRYABLE_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504, 529})

# Anthropic error types (and OpenAI-style `type` values) by kind.
ERROR_TYPES: dict[str, ExitCode] = {
    "rate_limit_error": ExitCode.QUOTA,
    "insufficient_quota": ExitCode.QUOTA,
    "authentication_error": ExitCode.AUTH,
    "permission_error": ExitCode.AUTH,
    "invalid_request_error": ExitCode.USAGE,
    "not_found_error": ExitCode.USAGE,
    "request_too_large": ExitCode.USAGE,
    "overloaded_error": ExitCode.SERVICE,
    "api_error": ExitCode.SERVICE,
}


def for_status(status: int) -> ExitCode:
    """The exit code of an HTTP error status when the body says nothing more."""
    if status in (401, 403):
        return ExitCode.AUTH
    if status in (402, 429):
        return ExitCode.QUOTA
    if status in (408, 409) or status >= 500:
        return ExitCode.SERVICE
    if 400 <= status < 500:
        return ExitCode.USAGE
    return ExitCode.SERVICE


def for_service_error(status: int | None, code: str | None, kind: str | None) -> ExitCode:
    """Classify a service failure: the business code first, then the status, then the type."""
    if code is not None and code in BUSINESS_CODES:
        return BUSINESS_CODES[code][0]
    if status is not None and status >= 400:
        return for_status(status)
    if kind is not None:
        return ERROR_TYPES.get(kind, ExitCode.SERVICE)
    return ExitCode.SERVICE


def is_retryable(status: int, code: str | None) -> bool:
    """Whether an HTTP error may be retried (SPEC §3): by status, unless the code is final."""
    if status not in RETRYABLE_STATUSES:
        return False
    if code is None or code not in BUSINESS_CODES:
        return True
    return BUSINESS_CODES[code][0] in (ExitCode.QUOTA, ExitCode.SERVICE) and (
        code not in FINAL_QUOTA_CODES
    )


def describe_code(code: str | None) -> str | None:
    if code is None or code not in BUSINESS_CODES:
        return None
    return BUSINESS_CODES[code][1]
