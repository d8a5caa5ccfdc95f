"""Text from the operating system that may not be UTF-8: argv words and environment values.

Python hands over bytes that are not UTF-8 as surrogate escapes (`'\\udcff'`); sent
on, they would fail deep inside a JSON encoder. `check_argv` runs before the
command line is parsed and names the argument (its position, and the flag it
belongs to) and the byte offset (SPEC §3.2).
"""

from __future__ import annotations

from collections.abc import Sequence

from glm_cli.core.text import not_utf8, undecodable


def _takes_value(option: str, command: str = "") -> bool:
    """Whether `option` (`--model`, `-m`) is a flag of `command` that takes a value
    (`glm logs` has options of its own: its `-n` is a count)."""
    from glm_cli.cli.catalog import COMMANDS

    options, _ = COMMANDS.get(command, COMMANDS["ask"])
    return any(spec.kind in ("value", "values") and option in spec.flags for _, spec in options)


def _describe(args: Sequence[str], index: int) -> str:
    """`argument 3 (the value of --model)`, `argument 2 (--stop=...)`, `argument 4`."""
    word = args[index]
    where = f"argument {index + 1}"
    ended = "--" in args[:index]
    if not ended and word.startswith("--") and "=" in word:
        flag = word.partition("=")[0]
        if undecodable(flag) is None:
            return f"{where} ({flag}=...)"
    if not ended and index > 0:
        previous = args[index - 1]
        if (
            previous.startswith("-")
            and undecodable(previous) is None
            and _takes_value(previous, args[0])
        ):
            return f"{where} (the value of {previous})"
    return where


def check_argv(args: Sequence[str]) -> None:
    """Raise UsageError for the first argument holding bytes that are not UTF-8."""
    for index, word in enumerate(args):
        if undecodable(word) is not None:
            error = not_utf8(_describe(args, index), word)
            assert error is not None
            raise error
