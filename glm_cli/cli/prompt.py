"""Assembling the prompt (SPEC §1.1) from argument words, prompt files and stdin.

Pure apart from the `read_stdin` callable, so every rule is testable without a
process: arguments first, then each prompt file, then stdin, separated by blank
lines; a `-` word takes stdin's place in the arguments instead, and so does
`--prompt-file -` among the files. Stdin can be read once: by a `-` word,
`--prompt-file -`, `--system @-` or `--body -`, and then not appended at the end.
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
    data: bytes | None = None
    """What `take` read, kept so a second look (a system prompt shown again) sees it."""

    def take(self) -> bytes:
        """All of stdin, read on the first call only."""
        if self.data is None:
            self.data = self.read() if self.available else b""
        return self.data


def decode_utf8(data: bytes, source: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise UsageError(
            f"{source} is not valid UTF-8 (byte offset {error.start}: "
            f"{data[error.start : error.start + 1]!r})"
        ) from error


def read_text_file(path: str, what: str) -> str:
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise UsageError(f"{what} {path!r}: {error.strerror or error}") from error
    return decode_utf8(data, f"{what} {path!r}")


def _trim(text: str) -> str:
    return text.rstrip("\r\n")


def check_stdin_readers(readers: list[str], *, use_stdin: bool = True) -> None:
    """At most one reader of stdin (`'-'`, `--prompt-file -`, `--system @-`, `--body -`),
    and none under --no-stdin."""
    if readers and not use_stdin:
        raise UsageError(f"{readers[0]} reads stdin, which --no-stdin forbids")
    if len(readers) > 1:
        if readers[0] == readers[1]:
            raise UsageError(f"{readers[0]} may be given only once: stdin can be read only once")
        raise UsageError(
            f"{readers[0]} and {readers[1]} both want stdin, which can be read only once"
        )


def build_prompt(
    words: list[str],
    prompt_files: list[str],
    stdin: StdinSource,
    *,
    use_stdin: bool = True,
    stdin_taken: bool | str = False,
    allow_empty: bool = False,
    append_stdin: bool = True,
) -> str:
    """The user prompt; raises UsageError for an empty prompt or undecodable input.

    `stdin_taken` names what else reads stdin (`--body -`, `--system @-`; True means
    `--body -`); `allow_empty` returns "" instead of failing (a `--body` needs no prompt);
    `append_stdin=False` reads stdin only where a `-` asks (a template without `{input}`).
    """
    dashes = words.count(STDIN_WORD)
    file_dashes = prompt_files.count(STDIN_WORD)
    taken = "--body -" if stdin_taken is True else stdin_taken or None
    readers = ["'-'"] * dashes + ["--prompt-file -"] * file_dashes + ([taken] if taken else [])
    check_stdin_readers(readers, use_stdin=use_stdin)
    parts: list[str] = []
    if dashes:
        stdin_text = _trim(_read_stdin(stdin))
        words = [stdin_text if word == STDIN_WORD else word for word in words]
    joined = " ".join(words)
    if joined.strip():
        parts.append(joined)
    for path in prompt_files:
        text = _read_stdin(stdin) if path == STDIN_WORD else read_text_file(path, "--prompt-file")
        if text.strip():
            parts.append(_trim(text))
    if not readers and use_stdin and append_stdin and not stdin.is_terminal and stdin.available:
        text = _read_stdin(stdin)
        if text.strip():
            parts.append(_trim(text))
    prompt = "\n\n".join(parts)
    if not prompt.strip():
        if allow_empty:
            return ""
        raise UsageError("empty prompt: give it as arguments, with --prompt-file, or on stdin")
    return prompt


def _read_stdin(stdin: StdinSource) -> str:
    return decode_utf8(stdin.take(), "stdin")


def system_prompt(
    value: str | None, stdin: StdinSource | None = None, source: str = "--system"
) -> str | None:
    """`--system TEXT`, `--system @PATH` (read from a file), `--system @-` (from stdin),
    `--system @@TEXT` (a literal @). `source` names where the value came from."""
    if value is None:
        return None
    if value.startswith("@@"):
        return value[1:]
    if value == "@" + STDIN_WORD:
        if stdin is None:
            raise UsageError(f"{source} @-: stdin cannot be read here")
        return _trim(_read_stdin(stdin))
    if value.startswith("@"):
        return _trim(read_text_file(value[1:], f"{source} file"))
    return value
