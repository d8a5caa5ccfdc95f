"""The one accumulator's text: kept compact, and empty or not without a copy."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from glm_cli.core.accumulate import Text


@given(st.lists(st.text(max_size=3), max_size=700))
def test_text_is_its_pieces_joined_and_empty_only_when_they_are(pieces: list[str]) -> None:
    text = Text()
    for piece in pieces:
        text.add(piece)
    assert text.empty() == ("".join(pieces) == "")
    assert text.value() == "".join(pieces)
    assert text.empty() == ("".join(pieces) == "")
