"""Fenced code blocks in an answer (SPEC §8 `-x/--extract`), as CommonMark reads them.

A fence is a line of three or more backticks or tildes, indented by at most three
spaces; what follows it on the line is the info string (`python`, `c++`, `c#`,
`{.python}`, `python title="x"`), whose first word names the language. A block
ends at a line of the same character, at least as long, and nothing but blanks
after it; a block never closed runs to the end of the answer (`closed` is false:
the answer was cut off inside it). Line ends are CRLF or LF; the code comes out with
LF, so a script extracted from a CRLF answer runs (`bash -n` fails on a `\\r`).
"""

from __future__ import annotations

import re

from glm_cli.core.records import record

_OPENING = re.compile(r"^( {0,3})(`{3,}|~{3,})(.*)$")


@record
class Block:
    language: str
    """The info string's first word, without `{`, `.` or `}`; "" when none."""
    code: str
    closed: bool


@record
class Extraction:
    """Which block `-x` prints: the first, the last, or the first in `language`; with
    `strict`, none is exit 6."""

    last: bool = False
    language: str | None = None
    strict: bool = False


def language_of(info: str) -> str:
    """`python title="x"` → python; `{.python .numberLines}` → python; `c++` → c++."""
    info = info.strip()
    if info.startswith("{"):
        info = info.strip("{}").strip()
    word = info.split(maxsplit=1)[0] if info.split() else ""
    return word.lstrip(".").rstrip("}").rstrip(",")


def blocks(text: str) -> list[Block]:
    """Every fenced block of `text`, in order."""
    lines = text.replace("\r\n", "\n").split("\n")
    found: list[Block] = []
    index = 0
    while index < len(lines):
        opening = _OPENING.match(lines[index])
        index += 1
        if opening is None:
            continue
        indent, fence, info = len(opening.group(1)), opening.group(2), opening.group(3)
        if fence[0] == "`" and "`" in info:
            continue  # not a fence: a backtick in a backtick fence's info string
        closing = re.compile(rf"^ {{0,3}}{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$")
        code: list[str] = []
        closed = False
        while index < len(lines):
            line = lines[index]
            index += 1
            if closing.match(line):
                closed = True
                break
            code.append(_dedent(line, indent))
        if not closed and code and code[-1] == "":
            code.pop()  # the answer's own last line end
        body = "".join(line + "\n" for line in code)
        found.append(Block(language=language_of(info), code=body, closed=closed))
    return found


def _dedent(line: str, indent: int) -> str:
    """A content line loses as many leading spaces as the fence had, at most."""
    spaces = len(line) - len(line.lstrip(" "))
    return line[min(spaces, indent) :]


def pick(text: str, *, last: bool = False, language: str | None = None) -> Block | None:
    """The first block (`last`: the last one; `language`: the first in it, the name
    compared without case), or None when there is none."""
    found = blocks(text)
    if language is not None:
        wanted = language.lower()
        found = [block for block in found if block.language.lower() == wanted]
    if not found:
        return None
    return found[-1] if last else found[0]
