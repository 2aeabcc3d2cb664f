"""Bounded, position-keeping YAML reading for records.

Records are untrusted input (anyone can open a pull request), so this reader is stricter than
`yaml.safe_load`:

* only the event stream is used (libyaml's C parser when present); nothing is constructed
  from tags, so custom tags, anchors and aliases are refused outright;
* size, nesting depth and node count are bounded before any work is done;
* duplicate keys are errors, not "last one wins";
* plain scalars follow a small, explicit rule instead of YAML 1.1's implicit typing:
  ``null``/``~``/empty, ``true``/``false``, decimal integers without leading zeros and
  decimals with a dot become values; everything else (``NO``, ``on``, ``010``, ``12:30``,
  ``2026-01-01``) stays exactly the text that was written. The schemas then say what a field
  must be, so a YAML 1.1 surprise can only ever surface as a visible error, never as a value
  quietly changed. ``isg fmt`` quotes such strings so every other YAML tool reads them alike.

Every value's position is kept so findings can name file, line and column.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import yaml

from isg.errors import IsgError

# libyaml is ~10x faster; the pure-Python parser gives the same events. Only the parser part of
# these loaders is used: events, never construction.
_Parser = getattr(yaml, "CBaseLoader", yaml.BaseLoader)

MAX_BYTES = 1024 * 1024
MAX_DEPTH = 24
MAX_NODES = 100_000

JsonPath = tuple[str | int, ...]

_INT = re.compile(r"-?(?:0|[1-9][0-9]*)")
_FLOAT = re.compile(r"-?(?:0|[1-9][0-9]*)\.[0-9]+")


@dataclass(frozen=True)
class Position:
    """1-based line and column."""

    line: int
    column: int


class YamlError(IsgError):
    """The text is not a record we are willing to read."""

    def __init__(self, message: str, position: Position | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.position = position or Position(1, 1)


class Document:
    """A parsed mapping with the position of every value and every key.

    Positions are only needed when something is wrong, so a document read the fast way
    (see `parse_document`) finds them by reading its text again the careful way, once, the
    first time one is asked for.
    """

    def __init__(
        self,
        data: dict[str, Any],
        values: dict[JsonPath, Position] | None = None,
        keys: dict[JsonPath, Position] | None = None,
        first_line: str = "",
        text: str | None = None,
        locate: Callable[[], Document | None] | None = None,
    ) -> None:
        self.data = data
        self.first_line = first_line
        self._values = values
        self._keys = keys
        self._text = text  # read again for positions
        self._locate_with = locate  # or asked for a document that has them
        self.derived: dict[str, Any] = {}  # facts computed from `data`, kept with it

    @property
    def values(self) -> dict[JsonPath, Position]:
        if self._values is None:
            self._locate()
        assert self._values is not None
        return self._values

    @property
    def keys(self) -> dict[JsonPath, Position]:
        if self._keys is None:
            self._locate()
        assert self._keys is not None
        return self._keys

    def _locate(self) -> None:
        located = None
        if self._text is not None:
            located = _careful(self._text)
        elif self._locate_with is not None:
            located = self._locate_with()
        self._values = located.values if located else {}
        self._keys = located.keys if located else {}
        self._text = self._locate_with = None  # once

    def position(self, path: JsonPath, *, key: bool = False) -> Position:
        """Where `path` is written; the nearest enclosing value if it is absent."""
        if key and path in self.keys:
            return self.keys[path]
        while path not in self.values and path:
            path = path[:-1]
        return self.values.get(path, Position(1, 1))


def resolve_plain(text: str) -> Any:
    """The value of an unquoted scalar under the registry's explicit rule (see module doc):
    what `_INT` and `_FLOAT` say of it, asked only of text that could be a number (most plain
    scalars are IDs, names and times; two regex calls each took a tenth of a fast read)."""
    special = _SPECIAL.get(text, _NOT_SPECIAL)
    if special is not _NOT_SPECIAL:
        return special
    if text[0] not in _NUMBER_STARTS:
        return text
    digits = text[1:] if text[0] == "-" else text
    if digits.isascii() and digits.isdigit():  # an _INT unless it has a leading zero
        return int(text) if digits[0] != "0" or len(digits) == 1 else text
    if "." in digits and _FLOAT.fullmatch(text):
        return float(text)
    return text


_NOT_SPECIAL = object()
_SPECIAL: dict[str, Any] = {"": None, "~": None, "null": None, "true": True, "false": False}
_NUMBER_STARTS = frozenset("-0123456789")


def _pos(mark: Any) -> Position:
    return Position(mark.line + 1, mark.column + 1)


class _Builder:
    def __init__(self, events: Any) -> None:
        self.events = events
        self.doc = Document(data={}, values={}, keys={})
        self.nodes = 0

    def next_event(self) -> Any:
        event = next(self.events)
        anchor = getattr(event, "anchor", None)
        if isinstance(event, yaml.AliasEvent) or anchor is not None:
            raise YamlError(
                "anchors and aliases are not allowed in records; write the value out",
                _pos(event.start_mark),
            )
        tag = getattr(event, "tag", None)
        if tag is not None:
            raise YamlError(f"tags are not allowed in records: {tag}", _pos(event.start_mark))
        return event

    def value(self, event: Any, path: JsonPath, depth: int) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise YamlError(f"too many values (more than {MAX_NODES})", _pos(event.start_mark))
        if depth > MAX_DEPTH:
            raise YamlError(f"nested deeper than {MAX_DEPTH} levels", _pos(event.start_mark))
        self.doc.values[path] = _pos(event.start_mark)
        if isinstance(event, yaml.ScalarEvent):
            # style is '' (libyaml) or None (pure Python) for plain scalars; quoted and block
            # scalars are always text.
            return event.value if event.style else resolve_plain(event.value)
        if isinstance(event, yaml.SequenceStartEvent):
            items: list[Any] = []
            while not isinstance(nxt := self.next_event(), yaml.SequenceEndEvent):
                items.append(self.value(nxt, (*path, len(items)), depth + 1))
            return items
        if isinstance(event, yaml.MappingStartEvent):
            return self.mapping(path, depth)
        raise YamlError(f"unexpected YAML event {type(event).__name__}", _pos(event.start_mark))

    def mapping(self, path: JsonPath, depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        while not isinstance(key_event := self.next_event(), yaml.MappingEndEvent):
            if not isinstance(key_event, yaml.ScalarEvent):
                raise YamlError("mapping keys must be plain text", _pos(key_event.start_mark))
            key = key_event.value  # keys are always their text: `on:` stays "on"
            if key in result:
                raise YamlError(
                    f"duplicate key '{key}' (first at line {self.doc.keys[(*path, key)].line})",
                    _pos(key_event.start_mark),
                )
            self.doc.keys[(*path, key)] = _pos(key_event.start_mark)
            result[key] = self.value(self.next_event(), (*path, key), depth + 1)
        return result


def parse_document(raw: bytes) -> Document:
    """Parse one record file; raise `YamlError` with a position for anything refused.

    Two readers give the same data. The fast one lets libyaml compose the whole node tree
    in C and keeps no positions; it gives up (returns None) on anything unusual -- a
    character that could be an anchor, alias, tag or directive, a duplicate key, a limit
    reached, any error -- and the careful one, event by event with every position, then
    reads the file and says exactly what is wrong. tests/unit/test_safe_yaml.py holds the
    two together.
    """
    if len(raw) > MAX_BYTES:
        raise YamlError(f"file is larger than {MAX_BYTES // 1024} KiB")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise YamlError(f"not valid UTF-8 (byte {exc.start})", Position(line, 1)) from None
    data = _fast(text) if _CComposer is not None and not _unusual(text) else None
    if data is None:
        return _careful(text)
    return Document(data, first_line=text.split("\n", 1)[0].rstrip("\r"), text=text)


_CComposer = getattr(yaml, "CBaseLoader", None)


def _unusual(text: str) -> bool:
    """Whether `text` has a character that could start an anchor, alias, tag or directive,
    or a line that could be a document marker: the fast reader leaves those to the careful
    one. Substring searches, not a regex: a multi-line regex tried its alternatives at every
    line and took a quarter of the fast read."""
    return (
        "&" in text
        or "*" in text
        or "!" in text
        or text.startswith(_LINE_STARTS)
        or any(start in text for start in _AFTER_NEWLINE)
    )


_LINE_STARTS = ("%", "---", "...")
_AFTER_NEWLINE = tuple("\n" + start for start in _LINE_STARTS)


class _GiveUp(Exception):
    pass


def _fast(text: str) -> dict[str, Any] | None:
    loader = _CComposer(text)  # type: ignore[misc]
    loader.resolve = _no_tag  # tags are never used (node types and styles are), so skip them
    try:
        node = loader.get_single_node()
        if node.__class__ is not _MappingNode:
            return None
        return _mapping_value(node, 1, [1])
    except (yaml.YAMLError, _GiveUp, RecursionError):
        return None
    finally:
        loader.dispose()


def _no_tag(kind: Any, value: Any, implicit: Any) -> str:
    return ""


_ScalarNode, _MappingNode = yaml.ScalarNode, yaml.MappingNode  # else a sequence: no 4th kind


# The node walk below runs for every value of every record read: scalars are handled where
# they are met rather than by a call each, and values are counted a collection at a time.
# `count` holds the number of values so far (the careful reader counts the same ones).
def _mapping_value(node: Any, depth: int, count: list[int]) -> dict[str, Any]:
    items = node.value
    count[0] += len(items)
    if count[0] > MAX_NODES or depth >= MAX_DEPTH:
        raise _GiveUp
    result: dict[str, Any] = {}
    for key_node, value_node in items:
        if key_node.__class__ is not _ScalarNode:
            raise _GiveUp
        key = key_node.value
        if key in result:
            raise _GiveUp
        kind = value_node.__class__
        if kind is _ScalarNode:
            value = value_node.value
            result[key] = value if value_node.style else resolve_plain(value)
        elif kind is _MappingNode:
            result[key] = _mapping_value(value_node, depth + 1, count)
        else:
            result[key] = _sequence_value(value_node, depth + 1, count)
    return result


def _sequence_value(node: Any, depth: int, count: list[int]) -> list[Any]:
    items = node.value
    count[0] += len(items)
    if count[0] > MAX_NODES or depth >= MAX_DEPTH:
        raise _GiveUp
    result: list[Any] = []
    for item in items:
        kind = item.__class__
        if kind is _ScalarNode:
            value = item.value
            result.append(value if item.style else resolve_plain(value))
        elif kind is _MappingNode:
            result.append(_mapping_value(item, depth + 1, count))
        else:
            result.append(_sequence_value(item, depth + 1, count))
    return result


def _careful(text: str) -> Document:
    builder = _Builder(iter(_events(text)))
    builder.doc.first_line = text.split("\n", 1)[0].rstrip("\r")
    try:
        builder.next_event()  # StreamStart
        start = builder.next_event()
        if isinstance(start, yaml.StreamEndEvent):
            raise YamlError("the file is empty; a record is a YAML mapping")
        first = builder.next_event()
        if not isinstance(first, yaml.MappingStartEvent):
            raise YamlError("a record must be a YAML mapping (key: value)", _pos(first.start_mark))
        builder.doc.values[()] = _pos(first.start_mark)
        builder.doc.data = builder.mapping((), 1)
        builder.next_event()  # DocumentEnd
        after = builder.next_event()
        if not isinstance(after, yaml.StreamEndEvent):
            raise YamlError("only one YAML document per file is allowed", _pos(after.start_mark))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = _pos(mark) if mark is not None else Position(1, 1)
        raise YamlError(f"YAML syntax: {exc.problem or exc.context}", where) from None
    except yaml.YAMLError as exc:
        raise YamlError(f"YAML syntax: {exc}") from None
    return builder.doc


def _events(text: str) -> Any:
    parser = _Parser(text)
    try:
        while parser.check_event():
            yield parser.get_event()
    finally:
        parser.dispose()
