"""The one canonical text of a record, which `isg fmt` writes and `isg fmt --check` expects.

* the first line points editors at the kind's schema;
* keys follow the order the schema declares (unknown keys last, sorted);
* strings that YAML 1.1 would read as something else (`NO`, `010`, `12:30`, dates and times)
  are quoted, so every YAML tool reads the value `isg` reads;
* text with line breaks is a literal block; nothing is folded.

Comments other than the schema line are not kept: records carry their explanations in fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from isg.errors import IsgError
from isg.model import Finding, Kind
from isg.records import Registry, write_atomic
from isg.safe_yaml import parse_document
from isg.schemas import Schema, SchemaSet, property_order, sub_schema


def schema_header(kind: Kind) -> str:
    """The editor hint every record file starts with."""
    return f"# yaml-language-server: $schema=../../{kind.schema_file}"


class _Dumper(yaml.SafeDumper):
    pass


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style: str | None = None
    if any(_needs_escape(char) for char in value):
        style = '"'  # YAML 1.1 line breaks (NEL, LS, PS) and controls survive only escaped
    elif "\n" in value and all(line == line.rstrip() for line in value.split("\n")):
        style = "|"  # a literal block cannot keep trailing spaces; such text stays quoted
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


def _needs_escape(char: str) -> bool:
    return char in "\x85\u2028\u2029\ufeff" or not (char.isprintable() or char == "\n")


_Dumper.add_representer(str, _represent_str)


def _ordered(value: Any, root: Schema, schema: Schema | None) -> Any:
    if isinstance(value, dict):
        order = property_order(root, schema) if schema is not None else []
        keys = [k for k in order if k in value] + sorted(k for k in value if k not in order)
        return {k: _ordered(value[k], root, _child(root, schema, k)) for k in keys}
    if isinstance(value, list):
        return [_ordered(item, root, _child(root, schema, i)) for i, item in enumerate(value)]
    return value


def _child(root: Schema, schema: Schema | None, key: str | int) -> Schema | None:
    return None if schema is None else sub_schema(root, schema, key)


def canonical_text(kind: Kind, data: dict[str, Any], schema: Schema) -> str:
    """The canonical file content for `data`; raises if it would not read back identically."""
    body = yaml.dump(
        _ordered(data, schema, schema),
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=10_000,
    )
    text = f"{schema_header(kind)}\n{body}"
    if parse_document(text.encode("utf-8")).data != data:
        raise IsgError("cannot write this record canonically without changing a value")
    return text


@dataclass
class FormatResult:
    """Which records are not in canonical form (and were rewritten unless checking)."""

    changed: list[str] = field(default_factory=list)
    unreadable: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.changed and not self.unreadable


def format_registry(
    root: Path, registry: Registry, schemas: SchemaSet, *, check: bool
) -> FormatResult:
    """Rewrite every record canonically, or with `check` only list those that would change."""
    result = FormatResult(unreadable=list(registry.load_findings))
    for record in registry.records:
        try:
            text = canonical_text(record.kind, record.data, schemas.for_kind(record.kind))
        except IsgError as exc:
            result.unreadable.append(Finding(path=record.path, message=str(exc), rule="format"))
            continue
        path = root / record.path
        if path.read_bytes() != text.encode("utf-8"):
            result.changed.append(record.path)
            if not check:
                write_atomic(path, text)
    return result
