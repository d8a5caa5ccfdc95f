"""The typer-free reading of a command line (cli.parse) gives what typer gives, or steps aside."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from glm_cli.cli.app import build_app
from glm_cli.cli.catalog import COMMANDS, GROUPS
from glm_cli.cli.options import OptionList
from glm_cli.cli.parse import read

ALL = {
    **COMMANDS,
    **{
        f"{group} {name}": table
        for group, (commands, _) in GROUPS.items()
        for name, table in commands.items()
    },
}
VALUES = st.sampled_from(["x", "", "a=b", "two words", "-", "é", "0.5", "line\nbreak", "{input}"])
FIXTURE_HEALTH = HealthCheck.function_scoped_fixture
SOUP = st.sampled_from(["-", "--", "-z", "--nope", "-nq", "--model=", "=", "-1", "--x=1"])


class Typer:
    """typer's reading of one command's line, the command body replaced by a recorder."""

    def __init__(self, command: str) -> None:
        self.command = command
        self.seen: dict[str, Any] = {}
        self.app = build_app(self._record, command.split()[0])

    def _record(self, name: str, given: dict[str, Any], obj: Any) -> None:
        self.seen = dict(given)

    def read(self, args: list[str]) -> dict[str, Any] | None:
        self.seen = {}
        try:
            self.app([*self.command.split(), *args], prog_name="glm")
        except SystemExit as end:
            if end.code not in (0, None):
                return None
        return self.seen


def _joined(parts: list[list[str]]) -> list[str]:
    return [word for part in parts for word in part]


def _words_of(options: OptionList) -> st.SearchStrategy[list[str]]:
    """Lines made only of the command's own options, values and words."""
    pieces: list[st.SearchStrategy[list[str]]] = []
    for _, spec in options:
        if spec.kind in ("arguments", "argument"):
            continue
        spellings = [part for declared in spec.flags for part in declared.split("/")]
        spelling = st.sampled_from(spellings)
        if spec.kind in ("value", "values"):
            long_ones = [word for word in spellings if word.startswith("--")]
            pieces.append(st.tuples(spelling, VALUES).map(list))
            if long_ones:
                pieces.append(
                    st.tuples(st.sampled_from(long_ones), VALUES).map(lambda p: [f"{p[0]}={p[1]}"])
                )
        else:
            pieces.append(spelling.map(lambda word: [word]))
    has_words = any(spec.kind in ("arguments", "argument") for _, spec in options)
    if has_words:
        pieces.append(st.sampled_from(["hello", "two words", "{x}", "", "-"]).map(lambda w: [w]))
    if not pieces:
        return st.just([])
    return st.lists(st.one_of(pieces), max_size=6).map(_joined)


@pytest.fixture(scope="module")
def readers() -> dict[str, Typer]:
    return {command: Typer(command) for command in ALL}


@pytest.mark.parametrize("command", sorted(ALL))
@settings(max_examples=25, deadline=None, suppress_health_check=[FIXTURE_HEALTH])
@given(data=st.data())
def test_a_plain_line_is_read_as_typer_reads_it(
    readers: dict[str, Typer], command: str, data: st.DataObject
) -> None:
    options, _ = ALL[command]
    args = data.draw(_words_of(options))
    ours = read(options, args)
    theirs = readers[command].read(args)
    if ours is not None:
        assert ours == theirs
    elif theirs is not None and all(not word.startswith("-") or word == "-" for word in args):
        pytest.fail(f"a line of words only that typer reads was not read: {args}")


@pytest.mark.parametrize("command", ["ask", "logs", "batch", "config show"])
@settings(max_examples=40, deadline=None, suppress_health_check=[FIXTURE_HEALTH])
@given(data=st.data())
def test_any_line_read_is_read_as_typer_reads_it(
    readers: dict[str, Typer], command: str, data: st.DataObject
) -> None:
    options, _ = ALL[command]
    args = data.draw(
        st.lists(st.one_of(_words_of(options), SOUP.map(lambda w: [w])), max_size=4).map(_joined)
    )
    ours = read(options, args)
    if ours is not None:
        assert ours == readers[command].read(args)


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["-h"],
        ["--modle", "x"],
        ["-nq"],
        ["--model"],
        ["--model", "-x"],
        ["--no-stdin=1"],
        ["-mglm-4.6"],
        ["a\udcffb"],
    ],
)
def test_lines_typer_must_read_are_left_to_it(args: list[str]) -> None:
    assert read(COMMANDS["ask"][0], args) is None


def test_the_common_lines_are_read() -> None:
    options = COMMANDS["ask"][0]
    given = read(options, ["--cache", "-m", "glm-5.2", "--stop=x", "--stop", "y", "hi", "--", "-q"])
    assert given is not None
    assert given["cache"] is True and given["model"] == "glm-5.2"
    assert given["stop"] == ["x", "y"] and given["prompt"] == ["hi", "-q"]
    assert given["quiet"] is None and given["no_stdin"] is False
