"""Frozen dataclass values built without the per-field cost of their ``__init__``.

The values every parser returns are frozen dataclasses, so nothing downstream can
change what was checked. A frozen dataclass's generated ``__init__`` stores each
field through ``object.__setattr__`` (its own ``__setattr__`` refuses), which is
most of the cost of building a small value: on a long log, where every entry makes
a leaf, an envelope, a payload and its parts, that is a measurable share of a
verification. :func:`build` makes the same instance by giving it its whole field
dict at once.

It is exact only for a plain frozen dataclass: every field set by ``__init__``, no
``__post_init__``, no ``__slots__``, no ``InitVar``; and *values* must hold every
field, in declaration order, defaults included (what ``__init__`` would store).
:func:`buildable` says whether a class qualifies; the tests check every class built
this way against its ``__init__``.
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any, TypeVar

T = TypeVar("T")

_new = object.__new__
_set = object.__setattr__


def build(cls: type[T], values: dict[str, Any]) -> T:
    """``cls(**values)`` for a frozen dataclass that :func:`buildable` accepts.

    *values* becomes the instance's ``__dict__``: the caller must not keep it.
    """
    obj = _new(cls)
    _set(obj, "__dict__", values)
    return obj


def buildable(cls: type) -> bool:
    """Whether :func:`build` makes exactly what ``cls(...)`` makes."""
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen or "__slots__" in cls.__dict__:
        return False
    if hasattr(cls, "__post_init__"):
        return False
    fields = dataclasses.fields(cls)
    # An InitVar would be a parameter of __init__ that is not a field.
    init = cls.__dict__.get("__init__")
    if init is None:
        return False
    parameters = list(inspect.signature(init).parameters)[1:]
    return all(f.init for f in fields) and parameters == [f.name for f in fields]
