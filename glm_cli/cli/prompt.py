"""Assembling the prompt (SPEC §1.1) from argument words, prompt files and stdin.

Pure apart from the `read_stdin` callable, so every rule is testable without a
process: arguments first, then each prompt file, then stdin, separated by blank
lines; a `-` word takes stdin's place in the arguments instead.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from glm_cli.core.errors import UsageError
from glm_cli.core.records import record

STDIN_WORD = "-"


@record
class StdinSource:
    """How stdin may be read: `read` returns all of its bytes (called at most once)."""

    read: Callable[[], bytes]
    is_terminal: bool
    available: bool = True


def decode_utf8(data: bytes, source: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise UsageError(
            f"{source} is not valid UTF-8 (byte offset {error.start}: "
            f"{data[error.start:error.start + 1]!r})"
        ) from error


def read_text_file(path: str, what: str) -> str:
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise UsageError(f"{what} {path!r}: {error.strerror or error}") from error
    return decode_utf8(data, f"{what} {path!r}")


def _trim(text: str) -> str:
    return text.rstrip("\r\n")


def build_prompt(
    words: list[str],
    prompt_files: list[str],
    stdin: StdinSource,
    *,
    use_stdin: bool = True,
    stdin_taken: bool = False,
    allow_empty: bool = False,
) -> str:
    """The user prompt; raises UsageError for an empty prompt or undecodable input.

    `stdin_taken` says stdin was already consumed for something else (`--body -`);
    `allow_empty` returns "" instead of failing (a `--body` needs no prompt).
    """
    dashes = words.count(STDIN_WORD)
    if dashes:
        if not use_stdin:
            raise UsageError("'-' reads the prompt from stdin, which --no-stdin forbids")
        if stdin_taken:
            raise UsageError("'-' and --body - both want stdin, which can be read only once")
        if dashes > 1:
            raise UsageError("'-' may be given only once: stdin can be read only once")
    parts: list[str] = []
    stdin_text: str | None = None
    if dashes:
        stdin_text = _trim(_read_stdin(stdin))
        words = [stdin_text if word == STDIN_WORD else word for word in words]
    joined = " ".join(words)
    if joined.strip():
        parts.append(joined)
    for path in prompt_files:
        text = read_text_file(path, "--prompt-file")
        if text.strip():
            parts.append(_trim(text))
    if not dashes and use_stdin and not stdin_taken and not stdin.is_terminal and stdin.available:
        text = _read_stdin(stdin)
        if text.strip():
            parts.append(_trim(text))
    prompt = "\n\n".join(parts)
    if not prompt.strip():
        if allow_empty:
            return ""
        raise UsageError(
            "empty prompt: give it as arguments, with --prompt-file, or on stdin"
        )
    return prompt


def _read_stdin(stdin: StdinSource) -> str:
    if not stdin.available:
        return ""
    return decode_utf8(stdin.read(), "stdin")


def system_prompt(value: str | None) -> str | None:
    """`--system TEXT`, `--system @PATH` (read from a file), `--system @@TEXT` (a literal @)."""
    if value is None:
        return None
    if value.startswith("@@"):
        return value[1:]
    if value.startswith("@"):
        return _trim(read_text_file(value[1:], "--system file"))
    return value
