"""Value types shared by every layer: record kinds, records and findings."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

from isg.safe_yaml import Document, JsonPath


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


@dataclass(frozen=True)
class Record:
    """One parsed record file."""

    kind: Kind
    path: str  # repository-relative, POSIX separators
    document: Document = field(compare=False, repr=False)

    @property
    def data(self) -> dict[str, Any]:
        return self.document.data

    @cached_property
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
