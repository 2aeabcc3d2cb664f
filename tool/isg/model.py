"""Value types shared by every layer: record kinds, records and findings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar, overload

from isg.safe_yaml import Document, JsonPath

T = TypeVar("T")


@dataclass(frozen=True)
class Kind:
    """A kind of record: where its files live and how new IDs are made."""

    name: str
    directory: str
    # Generated IDs are PREFIX-YEAR-XXXXX (see docs/IDS.md); None means the ID is a natural
    # key the author chooses (an ISO code, a version, a slug).
    id_prefix: str | None = None

    @property
    def schema_file(self) -> str:
        return f"schemas/{self.name}.schema.json"


KINDS: tuple[Kind, ...] = (
    Kind("state", "states"),
    Kind("organisation", "organisations"),
    Kind("member", "members"),
    Kind("service-levels", "service-levels"),
    Kind("ci", "cis"),
    Kind("incident", "incidents", "INC"),
    Kind("problem", "problems", "PRB"),
    Kind("known-error", "known-errors", "KE"),
    Kind("rfc", "rfcs", "RFC"),
    Kind("release", "releases"),
    Kind("knowledge", "knowledge", "KB"),
    Kind("budget", "budgets"),
    Kind("improvement", "improvements", "CSI"),
    Kind("governance", "governance"),
)
KIND_BY_NAME: dict[str, Kind] = {kind.name: kind for kind in KINDS}
KIND_BY_DIRECTORY: dict[str, Kind] = {kind.directory: kind for kind in KINDS}


class _kept(Generic[T]):
    """functools.cached_property without its lock: on Python 3.11 it takes one on each
    first access (~6 us of each of 57,000 records loaded). The value, once worked out, is
    kept in the instance's __dict__, where later lookups find it without calling this."""

    def __init__(self, function: Callable[[Any], T]) -> None:
        self.function = function
        self.name = function.__name__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, instance: None, owner: type | None = None) -> _kept[T]: ...
    @overload
    def __get__(self, instance: object, owner: type | None = None) -> T: ...
    def __get__(self, instance: object | None, owner: type | None = None) -> T | _kept[T]:
        if instance is None:
            return self
        value = instance.__dict__[self.name] = self.function(instance)
        return value


@dataclass(frozen=True)
class Record:
    """One parsed record file."""

    kind: Kind
    path: str  # repository-relative, POSIX separators
    document: Document = field(compare=False, repr=False)

    @property
    def data(self) -> dict[str, Any]:
        return self.document.data

    @_kept
    def id(self) -> str:  # asked millions of times in a 50,000-record build; data never changes
        value = self.data.get("id")
        return value if isinstance(value, str) else ""

    @property
    def status(self) -> str | None:
        value = self.data.get("status")
        return value if isinstance(value, str) else None


@dataclass(frozen=True, order=True)
class Finding:
    """One problem in one place. Sorted by file, then position."""

    path: str
    line: int = 0
    column: int = 0
    message: str = ""
    json_path: str = ""
    hint: str = ""
    rule: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.path,
            "line": self.line,
            "column": self.column,
            "path": self.json_path,
            "message": self.message,
            "hint": self.hint,
            "rule": self.rule,
        }


def format_json_path(path: JsonPath) -> str:
    """`('milestones', 'analysis')` -> `$.milestones.analysis`; list items as `[0]`."""
    text = "$"
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


def record_finding(
    record: Record, path: JsonPath, message: str, *, rule: str, hint: str = "", key: bool = False
) -> Finding:
    """A finding located at `path` inside `record`."""
    where = record.document.position(path, key=key)
    return Finding(
        path=record.path,
        line=where.line,
        column=where.column,
        message=message,
        json_path=format_json_path(path),
        hint=hint,
        rule=rule,
    )


@dataclass(frozen=True)
class FirstSeen:
    """The first commit in which a value appeared (evidence that it existed by then)."""

    commit: str
    committed_at: datetime
