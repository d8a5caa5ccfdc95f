"""`record`: a dataclass without the `__repr__`, `__eq__` and `__match_args__` glm
never uses.

Every method a dataclass generates is compiled when the module is imported; with
some twenty of them on the way to the first request, the plain `@dataclass`
cost about 15 ms of start-up (measured: ~1.0 ms each, ~1.6 ms frozen, ~0.4 ms as
a record). Records compare by identity and are not frozen; the neutral events
of `messages`, which are compared by value, stay plain dataclasses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeVar, dataclass_transform

T = TypeVar("T")


@dataclass_transform(field_specifiers=(field,))
def record(cls: type[T]) -> type[T]:
    return dataclass(repr=False, eq=False, match_args=False)(cls)
