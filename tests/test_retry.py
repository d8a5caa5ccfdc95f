"""Unit tests of the retry policy (`glm_cli.core.retry`) and the exit codes
(`glm_cli.core.exit_codes`).

SPEC §3: backoff 0.5 s doubling, capped at 8 s, with jitter; Retry-After in seconds
or as an HTTP date, capped at 60 s. SPEC §3.1 and §5: which failure gets which code.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime

import pytest

from glm_cli.core.exit_codes import ExitCode, for_service_error, is_retryable
from glm_cli.core.retry import (
    DEFAULT_RETRIES,
    MAX_DELAY,
    RetryPolicy,
    backoff_delay,
    next_delay,
    parse_retry_after,
)

NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC).timestamp()


def http_date(offset: float) -> str:
    return format_datetime(datetime.fromtimestamp(NOW + offset, tz=UTC), usegmt=True)


# ---------------------------------------------------------------------------
# Backoff
# ---------------------------------------------------------------------------

NOMINAL = {1: 0.5, 2: 1.0, 3: 2.0, 4: 4.0, 5: 8.0, 6: 8.0, 7: 8.0, 20: 8.0}


@pytest.mark.parametrize(("retry", "nominal"), sorted(NOMINAL.items()))
def test_backoff_without_jitter_doubles_from_half_a_second_capped_at_8(
    retry: int, nominal: float
) -> None:
    assert backoff_delay(retry, rand=0.0) == pytest.approx(nominal)


@pytest.mark.parametrize(("retry", "nominal"), sorted(NOMINAL.items()))
def test_backoff_jitter_is_at_most_a_quarter(retry: int, nominal: float) -> None:
    for rand in (0.0, 0.25, 0.5, 0.999, 1.0):
        delay = backoff_delay(retry, rand=rand)
        assert nominal * 0.75 - 1e-9 <= delay <= nominal + 1e-9, (rand, delay)
    assert backoff_delay(retry, rand=1.0) < backoff_delay(retry, rand=0.0)


def test_backoff_with_real_randomness_stays_in_range_and_varies() -> None:
    delays = [backoff_delay(2) for _ in range(200)]
    assert all(0.75 - 1e-9 <= delay <= 1.0 + 1e-9 for delay in delays)
    assert len(set(delays)) > 1  # there is jitter
    assert all(backoff_delay(30) <= MAX_DELAY for _ in range(50))


def test_default_policy_is_two_retries_three_attempts() -> None:
    assert DEFAULT_RETRIES == 2
    assert RetryPolicy().attempts == 3
    assert RetryPolicy(0).attempts == 1
    assert RetryPolicy(5).attempts == 6


def test_next_delay_prefers_retry_after_over_backoff() -> None:
    assert next_delay(1, 3.0) == 3.0
    assert next_delay(4, 0.0) == 0.0
    assert 0.375 - 1e-9 <= next_delay(1, None) <= 0.5 + 1e-9
    assert 6.0 - 1e-9 <= next_delay(9, None) <= 8.0 + 1e-9


# ---------------------------------------------------------------------------
# Retry-After
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0", 0.0),
        ("1", 1.0),
        ("5", 5.0),
        (" 7 ", 7.0),
        ("2.5", 2.5),
        ("60", 60.0),
        ("61", 60.0),
        ("3600", 60.0),
        ("-5", 0.0),
        ("-0", 0.0),
    ],
)
def test_retry_after_seconds(value: str, expected: float) -> None:
    assert parse_retry_after(value, NOW) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("offset", "expected"),
    [
        (10, 10.0),
        (45, 45.0),
        (59, 59.0),
        (120, 60.0),
        (86400, 60.0),
        (0, 0.0),
        (-30, 0.0),
        (-86400, 0.0),
    ],
)
def test_retry_after_http_date(offset: float, expected: float) -> None:
    assert parse_retry_after(http_date(offset), NOW) == pytest.approx(expected, abs=1e-6)


def test_retry_after_rfc850_date() -> None:
    # An obsolete form HTTP recipients must still accept; NOW is Sat 2025-03-01 12:00:00 UTC.
    assert parse_retry_after("Saturday, 01-Mar-25 12:00:20 GMT", NOW) == pytest.approx(20)


def test_retry_after_asctime_date_is_utc() -> None:
    # RFC 9110 §5.6.7: asctime() dates carry no zone and are read as UTC.
    assert parse_retry_after("Sat Mar  1 12:00:30 2025", NOW) == pytest.approx(30)


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "   ",
        "soon",
        "later please",
        "1s",
        "abc123",
        "Thu, 99 Foo 2025 99:99:99 GMT",
        "nan",
        "NaN",
    ],
)
def test_retry_after_garbage_is_none(value: str | None) -> None:
    assert parse_retry_after(value, NOW) is None


def test_retry_after_infinity_is_capped_or_ignored() -> None:
    result = parse_retry_after("inf", NOW)
    assert result is None or result == 60.0


def test_retry_after_uses_the_given_clock() -> None:
    date = http_date(30)
    assert parse_retry_after(date, NOW) == pytest.approx(30)
    assert parse_retry_after(date, NOW + 20) == pytest.approx(10)
    assert parse_retry_after(date, NOW + 40) == 0.0


# ---------------------------------------------------------------------------
# Exit codes by status (SPEC §3.1)
# ---------------------------------------------------------------------------

STATUS_CODES = {
    400: ExitCode.USAGE,
    404: ExitCode.USAGE,
    405: ExitCode.USAGE,
    413: ExitCode.USAGE,
    422: ExitCode.USAGE,
    418: ExitCode.USAGE,  # any other 4xx not listed
    451: ExitCode.USAGE,
    401: ExitCode.AUTH,
    403: ExitCode.AUTH,
    402: ExitCode.QUOTA,
    429: ExitCode.QUOTA,
    408: ExitCode.SERVICE,
    409: ExitCode.SERVICE,
    500: ExitCode.SERVICE,
    502: ExitCode.SERVICE,
    503: ExitCode.SERVICE,
    504: ExitCode.SERVICE,
    529: ExitCode.SERVICE,
    599: ExitCode.SERVICE,
}


@pytest.mark.parametrize(("status", "code"), sorted(STATUS_CODES.items()))
def test_status_alone_gives_its_exit_code(status: int, code: ExitCode) -> None:
    assert for_service_error(status, None, None) == code


def test_exit_code_values() -> None:
    assert [
        int(c)
        for c in (
            ExitCode.OK,
            ExitCode.INTERNAL,
            ExitCode.USAGE,
            ExitCode.AUTH,
            ExitCode.QUOTA,
            ExitCode.SERVICE,
            ExitCode.UNUSABLE,
        )
    ] == [0, 1, 2, 3, 4, 5, 6]
    assert ExitCode.SIGPIPE == 141


RETRYABLE = [408, 409, 429, 500, 502, 503, 504, 529]


@pytest.mark.parametrize("status", RETRYABLE)
def test_retryable_statuses(status: int) -> None:
    assert is_retryable(status, None)


@pytest.mark.parametrize("status", [400, 401, 402, 403, 404, 405, 413, 418, 422, 451])
def test_client_errors_are_not_retried(status: int) -> None:
    assert not is_retryable(status, None)


# ---------------------------------------------------------------------------
# Business codes (SPEC §5)
# ---------------------------------------------------------------------------

BUSINESS = {
    "1000": ExitCode.AUTH,
    "1001": ExitCode.AUTH,
    "1002": ExitCode.AUTH,
    "1003": ExitCode.AUTH,
    "1004": ExitCode.AUTH,
    "1113": ExitCode.QUOTA,
    "1304": ExitCode.QUOTA,
    "1308": ExitCode.QUOTA,
    "1310": ExitCode.QUOTA,
    "1302": ExitCode.QUOTA,
    "1303": ExitCode.QUOTA,
    "1211": ExitCode.USAGE,
    "1214": ExitCode.USAGE,
    "1261": ExitCode.USAGE,
    "1301": ExitCode.UNUSABLE,
    "1312": ExitCode.SERVICE,
}


@pytest.mark.parametrize(("code", "exit_code"), sorted(BUSINESS.items()))
@pytest.mark.parametrize("status", [None, 400, 429, 500])
def test_business_code_decides_the_exit_code_whatever_the_status(
    code: str, exit_code: ExitCode, status: int | None
) -> None:
    assert for_service_error(status, code, None) == exit_code


@pytest.mark.parametrize("code", ["1113", "1304", "1308", "1310"])
@pytest.mark.parametrize("status", RETRYABLE)
def test_final_quota_codes_are_never_retried(code: str, status: int) -> None:
    assert not is_retryable(status, code)
    assert for_service_error(status, code, None) == ExitCode.QUOTA


@pytest.mark.parametrize("code", ["1302", "1303"])
def test_concurrency_and_frequency_limits_are_retried_then_exit_4(code: str) -> None:
    assert is_retryable(429, code)
    assert for_service_error(429, code, None) == ExitCode.QUOTA


def test_overloaded_1312_is_retried_then_exit_5() -> None:
    assert is_retryable(503, "1312")
    assert is_retryable(529, "1312")
    assert for_service_error(503, "1312", None) == ExitCode.SERVICE


@pytest.mark.parametrize(
    "code", ["1000", "1001", "1002", "1003", "1004", "1211", "1214", "1261", "1301"]
)
def test_codes_no_retry_can_fix_are_not_retried_even_in_a_retryable_status(code: str) -> None:
    assert not is_retryable(429, code)
    assert not is_retryable(503, code)


@pytest.mark.parametrize("code", ["9999", "500", "1234"])
def test_unknown_code_falls_back_to_the_status(code: str) -> None:
    assert for_service_error(429, code, None) == ExitCode.QUOTA
    assert for_service_error(503, code, None) == ExitCode.SERVICE
    assert for_service_error(400, code, None) == ExitCode.USAGE
    assert is_retryable(503, code)
    assert not is_retryable(400, code)


# ---------------------------------------------------------------------------
# Errors inside a stream: no status, classified by their kind (SPEC §3)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "exit_code"),
    [
        ("rate_limit_error", ExitCode.QUOTA),
        ("authentication_error", ExitCode.AUTH),
        ("permission_error", ExitCode.AUTH),
        ("invalid_request_error", ExitCode.USAGE),
        ("overloaded_error", ExitCode.SERVICE),
        ("api_error", ExitCode.SERVICE),
        ("something_new", ExitCode.SERVICE),
        (None, ExitCode.SERVICE),
    ],
)
def test_in_stream_error_kind(kind: str | None, exit_code: ExitCode) -> None:
    assert for_service_error(None, None, kind) == exit_code


def test_in_stream_error_code_beats_kind() -> None:
    assert for_service_error(None, "1113", "api_error") == ExitCode.QUOTA
    assert for_service_error(None, "1001", "overloaded_error") == ExitCode.AUTH
