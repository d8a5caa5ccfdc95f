"""What the lower layers may say on stderr, as a protocol (the console satisfies it).

`net` and `engine` report retries and debug lines through a `Log` they are given,
so they never import the output layer that draws the terminal.
"""

from __future__ import annotations

from typing import Protocol


class Log(Protocol):
    def note(self, message: str) -> None:
        """Said only with --verbose."""

    def warn(self, message: str) -> None:
        """A warning (silenced by --quiet)."""

    def line(self, text: str) -> None:
        """A line as it is (debug output)."""
