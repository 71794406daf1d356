"""Values that break a regex ``pattern``, derived from the regex itself.

A fixed list of odd strings misses most of what a pattern excludes ("a .mp4 file", "a
space in the name"). The pattern is parsed (``re._parser``, the parser ``re`` compiles
with) into a sample that matches; each breaker changes that sample in one place: a
character the class there refuses (one per kind: "/", a space, a non-ASCII letter...),
a fixed run left out (the ``.mov`` suffix), a bounded repeat stretched past its bound.
Only values that really fail the pattern are returned.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterator
from re import _constants as sre
from re import _parser as sre_parse
from typing import Any, cast

_PROBES: tuple[tuple[str, str], ...] = (
    ("a '/'", "/"), ("a space", " "), ("a non-ASCII letter", "é"), ("a backslash", "\\"),
    ("a letter", "x"), ("a digit", "7"), ("a '.'", "."), ("a '#'", "#"),
    ("an upper-case letter", "Q"), ("a newline", "\n"),
)
_PROBES_IN_PLACE = (_PROBES[4], _PROBES[5], *_PROBES[:4], *_PROBES[6:])
_PROBES_PER_REPEAT, _PROBES_PER_CHARACTER = 3, 1
_SAMPLES = "aA0_-.x é" + string.printable
_SINGLE = {sre.LITERAL, sre.NOT_LITERAL, sre.ANY, sre.IN, sre.CATEGORY}
_REPEATS = {sre.MAX_REPEAT, sre.MIN_REPEAT, getattr(sre, "POSSESSIVE_REPEAT", sre.MAX_REPEAT)}
_CATEGORIES = {
    sre.CATEGORY_DIGIT: str.isdigit, sre.CATEGORY_WORD: lambda c: c.isalnum() or c == "_",
    sre.CATEGORY_SPACE: str.isspace,
}
_NEGATED = {sre.CATEGORY_NOT_DIGIT: sre.CATEGORY_DIGIT, sre.CATEGORY_NOT_WORD: sre.CATEGORY_WORD,
            sre.CATEGORY_NOT_SPACE: sre.CATEGORY_SPACE}


class Unsupported(Exception):
    """A construct (a lookaround, a back reference) this sampler does not render."""


def breakers(pattern: str) -> list[tuple[str, str]]:
    """(what is wrong, value) pairs, each failing ``pattern``; empty if it cannot be read."""
    try:
        nodes = list(sre_parse.parse(pattern))
        found = dict(_candidates(nodes))
    except (Unsupported, re.error, RecursionError):
        return []
    unique: dict[str, str] = {}
    for what, value in found.items():
        if value not in unique.values() and re.search(pattern, value) is None:
            unique[what] = value
    return list(unique.items())


def matching(pattern: str, length: int) -> str | None:
    """A value of at least ``length`` characters that matches ``pattern`` (its first
    unbounded repeat stretched), to break a ``maxLength`` without breaking the pattern."""
    try:
        nodes = list(sre_parse.parse(pattern))
        index = next(i for i, (op, av) in enumerate(nodes)
                     if op in _REPEATS and av[1] == sre.MAXREPEAT)
        short = _render(nodes)
        item = _sequence(list(nodes[index][1][2]))
        extra = -(-(length - len(short)) // max(len(item), 1)) + 1
        value = _render(nodes, stretch=index, times=extra)
    except (StopIteration, Unsupported, re.error, RecursionError):
        return None
    return value if len(value) >= length and re.search(pattern, value) else None


def _candidates(nodes: list[Any]) -> Iterator[tuple[str, str]]:
    """Most telling first: refused characters in the free part, a fixed run left out,
    a repeat past its bound, then a character swapped at each end of a fixed run."""
    yield "empty", ""
    for index, (op, av) in enumerate(nodes):
        if op in _REPEATS:
            yield from _probed(nodes, index, _PROBES_PER_REPEAT)
            if av[1] != sre.MAXREPEAT:
                yield f"longer than the {av[1]} its pattern allows there", _render(
                    nodes, stretch=index)
    runs = list(_fixed_runs(nodes))
    for start, end in runs:
        left_out = "".join(_sample(op, av) for op, av in nodes[start:end])
        yield f"without {left_out!r}", _render(nodes, omit=range(start, end))
    for start, end in runs:
        for index in sorted({start, end - 1}):
            yield from _probed(nodes, index, _PROBES_PER_CHARACTER)


def _probed(nodes: list[Any], index: int, wanted: int) -> Iterator[tuple[str, str]]:
    """Up to ``wanted`` probes the pattern refuses at node ``index``."""
    kept = 0
    op, av = nodes[index]
    repeated = op in _REPEATS
    for what, probe in _PROBES if repeated else _PROBES_IN_PLACE:
        value = _render(nodes, override=(index, probe))
        if _refused(nodes, index, probe):
            yield (f"with {what} where its pattern refuses it" if repeated
                   else f"with {what} in place of {_sample(op, av)!r}"), value
            kept += 1
        if kept == wanted:
            return


def _refused(nodes: list[Any], index: int, probe: str) -> bool:
    op, av = nodes[index]
    if op in _REPEATS:
        inner = list(av[2])
        if len(inner) != 1 or inner[0][0] not in _SINGLE:
            return False
        op, av = inner[0]
    return not _accepts(op, av, probe)


def _fixed_runs(nodes: list[Any]) -> Iterator[tuple[int, int]]:
    """Maximal runs of single-character nodes (a literal suffix such as ``.mov``)."""
    start = None
    for index, (op, _) in enumerate([*nodes, (None, None)]):
        if op in _SINGLE and start is None:
            start = index
        elif op not in _SINGLE and start is not None:
            yield start, index
            start = None


def _render(nodes: list[Any], override: tuple[int, str] | None = None,
            omit: range = range(0), stretch: int | None = None, times: int = 0) -> str:
    parts = []
    for index, (op, av) in enumerate(nodes):
        if index in omit:
            continue
        if override is not None and override[0] == index:
            parts.append(_before_probe(op, av) + override[1])
        elif index == stretch:
            parts.append(_sequence(list(av[2])) * (times or av[1] + 1))
        else:
            parts.append(_sample(op, av))
    return "".join(parts)


def _before_probe(op: Any, av: Any) -> str:
    """What a repeat matches before the probe: one item at least ("a/.mov", not "/.mov"),
    leaving room for the probe within the repeat's bound."""
    if op not in _REPEATS:
        return ""
    low, high, inner = av
    count: int = max(low, 1) if high > max(low, 1) else high - 1
    return _sequence(list(inner)) * max(count, 0)


def _sequence(nodes: list[Any]) -> str:
    return "".join(_sample(op, av) for op, av in nodes)


def _sample(op: Any, av: Any) -> str:
    """A short string the node matches: repeats once at least, the first alternative."""
    if op is sre.LITERAL:
        return chr(av)
    if op in _SINGLE:
        found = next((c for c in _SAMPLES if _accepts(op, av, c)), None)
        if found is None:
            raise Unsupported(f"no sample for {op} {av}")
        return found
    if op in _REPEATS:
        low, high, inner = av
        count: int = low if high == low else max(low, 1)
        return _sequence(list(inner)) * count
    if op is sre.SUBPATTERN:
        return _sequence(list(av[-1]))
    if op is sre.BRANCH:
        return _sequence(list(av[1][0]))
    if op is sre.AT:
        return ""
    raise Unsupported(str(op))


def _accepts(op: Any, av: Any, char: str) -> bool:
    """Whether a single-character node matches ``char``."""
    if op is sre.LITERAL:
        return ord(char) == cast(int, av)
    if op is sre.NOT_LITERAL:
        return ord(char) != cast(int, av)
    if op is sre.ANY:
        return char != "\n"
    if op is sre.CATEGORY:
        return _in_category(av, char)
    if op is sre.IN:
        items = list(av)
        negated = bool(items) and items[0][0] is sre.NEGATE
        inside = any(_in_item(item_op, item_av, char)
                     for item_op, item_av in items[1 if negated else 0:])
        return inside != negated
    raise Unsupported(str(op))


def _in_item(op: Any, av: Any, char: str) -> bool:
    if op is sre.RANGE:
        low, high = cast(tuple[int, int], av)
        return low <= ord(char) <= high
    return _accepts(op, av, char)


def _in_category(category: Any, char: str) -> bool:
    if category in _NEGATED:
        return not _CATEGORIES[_NEGATED[category]](char)
    if category not in _CATEGORIES:
        raise Unsupported(str(category))
    return bool(_CATEGORIES[category](char))
