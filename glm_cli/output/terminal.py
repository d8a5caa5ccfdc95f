"""The process's surroundings, decided once: streams, which are terminals, colour.

Commands receive an `Env` instead of touching `sys.*`, so tests can flip "is a
terminal" without a terminal (pass one as the click context's `obj`).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from dataclasses import field
from typing import IO, Any, cast

from glm_cli.core.records import record


@record
class Env:
    stdin: IO[bytes] | None
    stdout: IO[bytes]
    stderr: IO[bytes]
    stdin_isatty: bool
    stdout_isatty: bool
    stderr_isatty: bool
    environ: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_process(cls) -> Env:
        stdin = _binary(sys.stdin)
        return cls(
            stdin=stdin,
            stdout=_binary(sys.stdout) or _binary(sys.__stdout__) or open(os.devnull, "wb"),
            stderr=_binary(sys.stderr) or _binary(sys.__stderr__) or open(os.devnull, "wb"),
            stdin_isatty=_isatty(sys.stdin),
            stdout_isatty=_isatty(sys.stdout),
            stderr_isatty=_isatty(sys.stderr),
            environ=dict(os.environ),
        )

    @property
    def color(self) -> bool:
        """Escape codes on stderr: only on a terminal, never with NO_COLOR or TERM=dumb."""
        return (
            self.stderr_isatty
            and "NO_COLOR" not in self.environ
            and self.environ.get("TERM") != "dumb"
        )


def _binary(stream: Any) -> IO[bytes] | None:
    if stream is None:
        return None
    buffer = getattr(stream, "buffer", None)
    return cast("IO[bytes]", buffer if buffer is not None else stream)


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream is not None and stream.isatty())
    except (ValueError, OSError):
        return False


_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
"""Control characters other than tab and newline (C0, DEL, C1)."""
_CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0b-\x1f]")
_JSON_RAW_CONTROLS = re.compile(rb"\x7f|\xc2[\x80-\x9f]")
"""DEL and the C1 controls in UTF-8: the controls a JSON encoder leaves raw."""


def _hex(match: re.Match[str]) -> str:
    return f"\\x{ord(match.group()):02x}"


def escape_controls(text: str) -> str:
    """Text from the service as a terminal shows it safely: control characters other
    than newline and tab as `\\x1b` (so no escape sequence reaches the terminal).
    Cheap when there is none: one search of a precompiled pattern."""
    if _CONTROLS.search(text) is None:
        return text
    return _CONTROLS.sub(_hex, text)


def _json_escape(match: re.Match[bytes]) -> bytes:
    return b"\\u%04x" % ord(match.group().decode())


def escape_json_bytes(data: bytes) -> bytes:
    """A JSON text for a terminal: DEL and C1 controls (left raw by JSON encoders) as
    `\\u009b` escapes, so the text shows safely and stays the same JSON."""
    if _JSON_RAW_CONTROLS.search(data) is None:
        return data
    return _JSON_RAW_CONTROLS.sub(_json_escape, data)


def escape_bytes(data: bytes) -> bytes:
    """Service bytes (maybe not JSON, maybe not UTF-8) for a terminal: C0 controls
    other than newline and tab as `\\x1b`, DEL and C1 as JSON's `\\u009b`."""
    if _CONTROL_BYTES.search(data) is not None:
        data = _CONTROL_BYTES.sub(lambda m: b"\\x%02x" % m.group()[0], data)
    return escape_json_bytes(data)


def one_line(text: str) -> str:
    """`text` on one line: its lines joined by a space, control characters escaped."""
    lines = text.splitlines()
    if len(lines) > 1:
        text = " ".join(part.strip() for part in lines if part.strip())
    return _CONTROLS.sub(_hex, text)


DIM = "\x1b[2m"
RESET = "\x1b[0m"


class _Stderr:
    """What every console of one process shares about stderr: whether its last line
    ended, and the spinner drawn on it."""

    __slots__ = ("at_line_start", "spinner")

    def __init__(self) -> None:
        self.at_line_start = True
        self.spinner: Any = None


class Console:
    """Everything glm says on stderr: warnings, notes, errors and reasoning."""

    def __init__(
        self, env: Env, *, quiet: bool = False, verbose: bool = False, _state: _Stderr | None = None
    ) -> None:
        self.env = env
        self.quiet = quiet
        self.verbose = verbose
        self._state = _state or _Stderr()

    @property
    def spinner(self) -> Any:
        """The spinner being drawn, if any."""
        return self._state.spinner

    def configured(self, *, quiet: bool, verbose: bool) -> Console:
        """This console with the levels the flags chose (the same stderr state)."""
        return Console(self.env, quiet=quiet, verbose=verbose, _state=self._state)

    def start_spinner(self, label: str = "thinking…") -> None:
        """While waiting: drawn only when stderr is a terminal, not TERM=dumb, not --quiet
        (with NO_COLOR, without escape codes). Any later stderr line, and the first
        byte of the answer, erase it."""
        if (
            self._state.spinner is not None
            or self.quiet
            or not self.env.stderr_isatty
            or self.env.environ.get("TERM") == "dumb"
        ):
            return
        from glm_cli.output.spinner import Spinner

        plain = "NO_COLOR" in self.env.environ
        self._state.spinner = Spinner(self.env.stderr, label, plain=plain).start()

    def stop_spinner(self) -> None:
        spinner, self._state.spinner = self._state.spinner, None
        if spinner is not None:
            spinner.stop()

    def spinner_label(self, label: str) -> None:
        if self._state.spinner is not None:
            self._state.spinner.label = label

    def _write(self, text: str) -> None:
        if self._state.spinner is not None:
            self.stop_spinner()
        try:
            self.env.stderr.write(text.encode("utf-8", "replace"))
            self.env.stderr.flush()
        except (BrokenPipeError, ValueError, OSError):
            return
        if text:
            self._state.at_line_start = text.endswith("\n")

    def line(self, text: str) -> None:
        """One line; on a terminal, control characters from the service are escaped."""
        if self.env.stderr_isatty:
            text = escape_controls(text)
        self.end_partial_line()
        self._write(text + "\n")

    def warn(self, message: str) -> None:
        if not self.quiet:
            self.line(f"glm: warning: {message}")

    def note(self, message: str) -> None:
        """Said only with --verbose."""
        if self.verbose:
            self.line(f"glm: {message}")

    def error(self, message: str) -> None:
        """The one error line: a service's message over several lines is joined, and
        control characters (a terminal's escape codes) are shown, not sent."""
        self.line(f"glm: error: {one_line(message)}")

    def thinking(self, text: str) -> None:
        """Reasoning as it arrives: dim on a colour terminal (control characters
        escaped on any terminal), plain otherwise."""
        if self.env.stderr_isatty:
            text = escape_controls(text)
        if self.env.color:
            self._write(f"{DIM}{text}{RESET}")
        else:
            self._write(text)

    def end_partial_line(self) -> None:
        if not self._state.at_line_start:
            self._write("\n")
