"""A command line read without typer, for the runs whose start-up is the product.

typer (with its click) costs more to import and build than a cache hit or `glm logs`
costs to run. `read` reads the plain command lines — known options spelled in full
or by their short name, their values, the words, `--` — into exactly the options
typer would give the command. Anything else (`--help`, an unknown or misspelt
option, `-abc` bundles, a value that looks like an option, bytes that are not
UTF-8) is `None`: typer then reads the line and gives its help or its error, so
every message a user can see comes from one place. A property test holds the two
readings equal.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from glm_cli.cli.options import OptionList, Spec, absent

TAKES_VALUE = ("value", "values")


def _spellings(options: OptionList) -> dict[str, tuple[str, Spec, bool]]:
    """Each way to write an option (`--model`, `-m`, `--no-think`): its parameter, its
    spec, and the value a switch or flag so written sets."""
    spelt: dict[str, tuple[str, Spec, bool]] = {}
    for name, spec in options:
        for declared in spec.flags:
            on, _, off = declared.partition("/")
            spelt[on] = (name, spec, True)
            if off:
                spelt[off] = (name, spec, False)
    return spelt


def _plain(word: str) -> bool:
    """A word every reading agrees on: UTF-8, and nothing click could take for an option
    or for the end of them."""
    return not word.startswith("-") and _utf8(word)


def _utf8(word: str) -> bool:
    try:
        word.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def read(options: OptionList, args: Sequence[str]) -> dict[str, Any] | None:
    """The options typer would give for `args` (the words after the command's name),
    or None when the line is not plainly one of them."""
    spelt = _spellings(options)
    given: dict[str, Any] = {name: absent(spec) for name, spec in options}
    words: list[str] = []
    index = 0
    while index < len(args):
        word = args[index]
        index += 1
        if word == "--":
            if not all(_utf8(rest) for rest in args[index:]):
                return None
            words.extend(args[index:])
            break
        if word == "-" or _plain(word):
            words.append(word)
            continue
        name_part, equals, attached = word.partition("=")
        found = spelt.get(name_part if word.startswith("--") else word)
        if found is None or not _utf8(word):
            return None
        name, spec, setting = found
        if spec.kind not in TAKES_VALUE:
            if equals:
                return None
            given[name] = setting
            continue
        if equals:
            text = attached
        elif index < len(args) and (args[index] == "-" or _plain(args[index])):
            text = args[index]
            index += 1
        else:
            return None
        if spec.kind == "values":
            given[name] = [*(given[name] or []), text]
        else:
            given[name] = text
    return _with_words(options, given, words)


def _with_words(
    options: OptionList, given: dict[str, Any], words: list[str]
) -> dict[str, Any] | None:
    arguments = [(name, spec) for name, spec in options if spec.kind in ("arguments", "argument")]
    if not arguments:
        return given if not words else None
    (name, spec), *others = arguments
    if others:
        return None
    if spec.kind == "arguments":
        given[name] = words or None
        return given
    if len(words) > 1:
        return None
    given[name] = words[0] if words else None
    return given
