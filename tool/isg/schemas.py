"""JSON Schema loading and checking of single records, with positions and hints.

Schemas carry a few annotations of our own (JSON Schema ignores unknown keywords):
``x-isg-ref`` (the value is the ID of a record of that kind, or one of a list of kinds),
``x-isg-hint`` (said when the value fails), ``x-isg-personal`` and ``x-isg-internal``
(never published on the public site).
"""

from __future__ import annotations

import calendar
import difflib
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jsonschema_rs

from isg.errors import RegistryError
from isg.model import KINDS, Finding, Kind, Record, record_finding
from isg.safe_yaml import JsonPath
from isg.times import time_of

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError

Schema = dict[str, Any]
MAX_VALUE_CHARS = 60
MAX_ENUM_SHOWN = 12


@dataclass(frozen=True)
class SchemaSet:
    """The schema and a ready validator for every kind."""

    schemas: dict[str, Schema]
    validators: dict[str, Any]  # jsonschema's, built when first needed (see _Explainers)
    # jsonschema-rs answers "valid or not" about a hundred times faster; only a record it
    # rejects goes through `jsonschema` for the positioned, explained findings. Formats are
    # checked by jsonschema's own format checker in both, so the two agree on what is valid
    # (tests/unit/test_schemas.py holds them together on every example file).
    fast: dict[str, Any]

    def for_kind(self, kind: Kind) -> Schema:
        return self.schemas[kind.name]


def load_schemas(root: Path) -> SchemaSet:
    """Read and check `schemas/<kind>.schema.json` for every kind; build validators once."""
    schemas: dict[str, Schema] = {}
    fast: dict[str, Any] = {}
    for kind in KINDS:
        path = root / kind.schema_file
        try:
            schema = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise RegistryError(f"{kind.schema_file}: cannot use this schema: {exc}") from None
        if not jsonschema_rs.meta.is_valid(schema):  # fast; jsonschema says why
            import jsonschema

            try:
                jsonschema.Draft202012Validator.check_schema(schema)
            except jsonschema.SchemaError as exc:
                raise RegistryError(f"{kind.schema_file}: cannot use this schema: {exc}") from None
        schemas[kind.name] = schema
        fast[kind.name] = jsonschema_rs.Draft202012Validator(
            schema, validate_formats=True, formats=_FORMATS
        )
    return SchemaSet(schemas=schemas, validators=_Explainers(schemas), fast=fast)


class _Explainers(dict[str, Any]):
    """jsonschema's validators by kind, built only when a record fails the fast check and
    must be explained: a run where every file is valid or cached never imports jsonschema
    (0.12 s of start-up)."""

    def __init__(self, schemas: dict[str, Schema]) -> None:
        super().__init__()
        self._schemas = schemas

    def __missing__(self, kind: str) -> Any:
        import jsonschema

        validator = jsonschema.Draft202012Validator(
            self._schemas[kind], format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
        )
        self[kind] = validator
        return validator


def _date_time(value: Any) -> bool:
    """What jsonschema's `date-time` check says (rfc3339_validator's regex and day check on
    the text upper-cased), ~6x faster: it runs for every time in every record of a cold run
    (importing the validator's function in here each call cost more than its regex)."""
    if not isinstance(value, str):
        return True
    found = _RFC3339.fullmatch(value.upper())
    if found is None:
        return False
    year, month, day = found.groups()
    if year == "0000":
        return False
    if "01" <= day <= "28":  # in every month
        return True
    return 1 <= int(day) <= calendar.monthrange(int(year), int(month))[1]


# rfc3339_validator's regex: its `$` also matched before a final newline, hence `\n?`.
_RFC3339 = re.compile(
    r"(\d{4})-(0[1-9]|1[0-2])-(\d{2})T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d+)?"
    r"(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)\n?",
    re.ASCII,
)


_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)


def _date(value: Any) -> bool:
    if not isinstance(value, str):
        return True
    try:
        return bool(_DATE.fullmatch(value) and date.fromisoformat(value))
    except ValueError:
        return False


# What jsonschema's FORMAT_CHECKER does for the formats our schemas use, written out so that
# the fast check does not import jsonschema (0.1 s) to check a date. The test that holds the
# two validators together on every record and mutation covers these. jsonschema checks `uri`
# only with an extra package (not installed), so neither does this.
_FORMATS: dict[str, Callable[[Any], bool]] = {
    "date-time": _date_time,
    "date": _date,
    "email": lambda value: not isinstance(value, str) or "@" in value,
    "uri": lambda value: True,
}


def check_record(record: Record, schemas: SchemaSet) -> list[Finding]:
    """Every schema violation in `record`, each at the line of the offending value or key."""
    if schemas.fast[record.kind.name].is_valid(record.data):
        return []
    validator = schemas.validators[record.kind.name]
    findings: list[Finding] = []
    for error in validator.iter_errors(record.data):
        findings.extend(_findings_for(record, error))
    return findings


def _findings_for(record: Record, error: ValidationError) -> Iterator[Finding]:
    if error.validator in ("additionalProperties", "unevaluatedProperties"):
        yield from _unknown_keys(record, error)
        return
    choice = _required_choice(error)
    if choice:
        yield record_finding(record, tuple(error.absolute_path), choice, rule="schema")
        return
    if error.context:  # oneOf/anyOf: say what the closest alternative wanted
        from jsonschema.exceptions import best_match

        error = best_match(error.context)
    path: JsonPath = tuple(error.absolute_path)
    schema = error.schema if isinstance(error.schema, dict) else {}
    hint = schema.get("x-isg-hint", "")
    message = _message(error)
    if error.validator == "pattern" and hint:  # the hint says it better than a regex
        message = f"{_shown(error.instance)} is not in the expected form"
    yield record_finding(record, path, message, rule="schema", hint=hint)


def _required_choice(error: ValidationError) -> str | None:
    """`oneOf: [{required: [a]}, {required: [b]}]` means "exactly one of a, b"."""
    options = error.validator_value if error.validator == "oneOf" else None
    if not isinstance(options, list) or not all(
        isinstance(o, dict) and list(o) == ["required"] and len(o["required"]) == 1 for o in options
    ):
        return None
    return "give exactly one of: " + ", ".join(o["required"][0] for o in options)


def _unknown_keys(record: Record, error: ValidationError) -> Iterator[Finding]:
    known = list(error.schema.get("properties", {})) if isinstance(error.schema, dict) else []
    base: JsonPath = tuple(error.absolute_path)
    for key in sorted(set(error.instance) - set(known)):
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
        hint = f"did you mean '{close[0]}'?" if close else f"known keys: {', '.join(known)}"
        yield record_finding(
            record, (*base, key), f"unknown key '{key}'", rule="schema", hint=hint, key=True
        )


def _shown(value: object) -> str:
    # Never echo a long value back: it may be free text that belongs in no log.
    shown = repr(value)
    return shown if len(shown) <= MAX_VALUE_CHARS else shown[:MAX_VALUE_CHARS] + "...'"


def _message(error: ValidationError) -> str:
    if error.validator == "enum" and len(error.validator_value) > MAX_ENUM_SHOWN:
        count = len(error.validator_value)
        return f"{_shown(error.instance)} is not one of the {count} allowed values"
    if error.validator in ("pattern", "format", "enum", "type", "const", "maxLength"):
        return str(error.message).replace(repr(error.instance), _shown(error.instance))
    return str(error.message)


def resolve_ref(root: Schema, schema: Schema) -> Schema:
    """Follow a local `$ref` (`#/$defs/name`) and merge the referring keywords over it."""
    ref = schema.get("$ref")
    if not isinstance(ref, str) or not ref.startswith("#/"):
        return schema
    key = (id(root), id(schema))
    cached = _RESOLVED.get(key)
    if cached is not None and cached[0] is schema:
        return cached[1]
    target: Any = root
    for part in ref[2:].split("/"):
        target = target[part]
    merged = dict(resolve_ref(root, target))
    merged.update({k: v for k, v in schema.items() if k != "$ref"})
    _RESOLVED[key] = (schema, merged)
    return merged


# Resolved `$ref`s by schema object: walks over thousands of records ask the same questions.
# The schema object itself is kept with the answer, so a reused id() can never match.
_RESOLVED: dict[tuple[int, int], tuple[Schema, Schema]] = {}


def iter_annotated(
    root: Schema, instance: Any, keyword: str, path: JsonPath = (), schema: Schema | None = None
) -> Iterator[tuple[JsonPath, Any, Any]]:
    """Yield `(path, value, annotation)` for every value whose schema carries `keyword`.

    Follows `properties`, `items` and local `$ref`s, which is where the registry's schemas
    declare references, formats and visibility.
    """
    schema = resolve_ref(root, root if schema is None else schema)
    if keyword in schema:
        yield path, instance, schema[keyword]
    if isinstance(instance, dict):
        for key, sub in schema.get("properties", {}).items():
            if key in instance:
                yield from iter_annotated(root, instance[key], keyword, (*path, key), sub)
    elif isinstance(instance, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(instance):
            yield from iter_annotated(root, item, keyword, (*path, index), schema["items"])


def property_order(root: Schema, schema: Schema | None = None) -> list[str]:
    """The keys of an object schema in the order the schema declares them."""
    return list(resolve_ref(root, root if schema is None else schema).get("properties", {}))


def sub_schema(root: Schema, schema: Schema | None, key: str | int) -> Schema | None:
    """The schema of child `key` (a property name or a list index), if declared."""
    resolved = resolve_ref(root, root if schema is None else schema)
    if isinstance(key, int):
        items = resolved.get("items")
        return items if isinstance(items, dict) else None
    sub = resolved.get("properties", {}).get(key)
    if sub is None:
        sub = resolved.get("additionalProperties")
    return sub if isinstance(sub, dict) else None


# --- one walk per record ----------------------------------------------------------------------
# Several rules want the same facts of a record: its free text (privacy), its references, its
# times, its unfilled placeholders. `record_fields` walks the record once, guided by a plan of
# each kind's schema compiled once, and keeps the answer with the document.

STRUCTURED = ("enum", "format", "pattern", "x-isg-ref", "x-isg-personal", "const")
PLACEHOLDER = "<REPLACE"


class FieldPlan:
    """What the schema says about one place in a record, its children compiled on demand."""

    def __init__(self, root: Schema, schema: Schema) -> None:
        resolved = resolve_ref(root, schema)
        self.root = root
        self.resolved = resolved
        self.free = not any(key in resolved for key in STRUCTURED)
        kinds = resolved.get("x-isg-ref")
        self.ref: tuple[str, ...] | None = (
            None if kinds is None else (kinds,) if isinstance(kinds, str) else tuple(kinds)
        )
        self.format = resolved.get("format")
        self.private = bool(resolved.get("x-isg-internal") or resolved.get("x-isg-personal"))
        self.properties: dict[str, Any] = resolved.get("properties", {})
        additional = resolved.get("additionalProperties")
        self._additional = additional if isinstance(additional, dict) else None
        items = resolved.get("items")
        self._items = items if isinstance(items, dict) else None
        self._children: dict[str, tuple[FieldPlan | None, bool]] = {}
        self._private_below: bool | None = None
        self._leading: tuple[str, ...] | bool | None = False  # False: not worked out yet

    @property
    def private_below(self) -> bool:
        """Whether a field under this place may be private (the schema marks one there)."""
        if self._private_below is None:
            self._private_below = _holds_private(self.root, self.resolved, {id(self.resolved)})
        return self._private_below

    @property
    def keys_to_private(self) -> tuple[str, ...] | None:
        """The declared properties that are private or hold a private field; None when any
        key of an object here may (its additionalProperties may be private)."""
        if self._leading is False:
            extra = FieldPlan(self.root, self._additional) if self._additional else None
            if extra is not None and (extra.private or extra.private_below):
                self._leading = None
            else:
                leading = []
                for name in self.properties:
                    child, _ = self.child(name)
                    if child is not None and (child.private or child.private_below):
                        leading.append(name)
                self._leading = tuple(leading)
        return self._leading  # type: ignore[return-value]

    def child(self, key: str | int) -> tuple[FieldPlan | None, bool]:
        """The plan of child `key`, and whether it is declared (properties or items)."""
        name = "[]" if isinstance(key, int) else key
        found = self._children.get(name)
        if found is None:
            if isinstance(key, int):
                sub, declared = self._items, self._items is not None
            else:  # as `sub_schema`: a declared property, else additionalProperties
                sub, declared = self.properties.get(key), key in self.properties
                sub = self._additional if sub is None else sub
            plan = FieldPlan(self.root, sub) if sub and isinstance(sub, dict) else None
            found = self._children[name] = (plan, declared)
        return found


def _holds_private(root: Schema, schema: Schema, seen: set[int]) -> bool:
    """Whether a schema under `schema` (its properties, additionalProperties and items, as
    FieldPlan.child follows them) is marked internal or personal."""
    properties = schema.get("properties")
    subs = list(properties.values()) if isinstance(properties, dict) else []
    subs += [schema.get(key) for key in ("additionalProperties", "items")]
    for sub in subs:
        if not isinstance(sub, dict):
            continue
        resolved = resolve_ref(root, sub)
        if id(resolved) in seen:
            continue
        seen.add(id(resolved))
        if resolved.get("x-isg-internal") or resolved.get("x-isg-personal"):
            return True
        if _holds_private(root, resolved, seen):
            return True
    return False


@dataclass
class RecordFields:
    free_text: list[tuple[JsonPath, str]]
    references: list[tuple[JsonPath, str, tuple[str, ...]]]
    times: list[tuple[JsonPath, str, Any]]  # (path, text, instant) of date-time values
    placeholders: list[JsonPath]
    private: list[JsonPath]  # values marked x-isg-internal or x-isg-personal


_PLANS: dict[int, tuple[Schema, FieldPlan]] = {}


def _plan(schema: Schema) -> FieldPlan:
    cached = _PLANS.get(id(schema))
    if cached is None or cached[0] is not schema:
        cached = _PLANS[id(schema)] = (schema, FieldPlan(schema, schema))
    return cached[1]


def private_paths(record: Record, schemas: SchemaSet) -> list[JsonPath]:
    """`record_fields(record, schemas).private`, walking only where the schema marks private
    fields (the site redacts every record; most hold none)."""
    found = record.document.derived.get("fields")
    if isinstance(found, RecordFields):
        return found.private
    paths: list[JsonPath] = []

    def walk(plan: FieldPlan, value: Any, path: JsonPath) -> None:
        if plan.private:
            paths.append(path)
        if not plan.private_below:
            return
        if isinstance(value, dict):
            keys = plan.keys_to_private
            # Only the keys that can lead to a private field: 2 of an incident's ~13.
            items: Any = (
                value.items() if keys is None else [(k, value[k]) for k in keys if k in value]
            )
        elif isinstance(value, list):
            items = enumerate(value)
        else:
            return
        for key, item in items:
            child, _ = plan.child(key)
            if child is not None:
                walk(child, item, (*path, key))

    walk(_plan(schemas.for_kind(record.kind)), record.data, ())
    return paths


def record_fields(record: Record, schemas: SchemaSet) -> RecordFields:
    """The free text, references, date-times and placeholders of `record` (walked once).

    Every value of every record read goes through here, so a value that is text is looked
    at where it is met, not by a call of its own (most values are text)."""
    document = record.document
    found = document.derived.get("fields")
    if isinstance(found, RecordFields):
        return found
    fields = RecordFields([], [], [], [], [])
    plan = _plan(schemas.for_kind(record.kind))
    if plan.private:
        fields.private.append(())
    if isinstance(record.data, (dict, list)):  # a record is a mapping (parse_document's)
        _walk(fields, plan, record.data, (), True)
    document.derived["fields"] = fields
    return fields


_UNPLANNED: tuple[None, bool] = (None, False)


def _walk(
    fields: RecordFields, plan: FieldPlan | None, value: Any, path: JsonPath, known: bool
) -> None:
    """Into `fields`: the values in `value` (a mapping or a list) at `path`, planned by
    `plan`; `known`: whether the schema declares `path`. (A function of the module, not a
    closure of record_fields: a closure that calls itself is a reference cycle, which kept
    each record's fields until the collector ran.)"""
    free_text, references, times = fields.free_text, fields.references, fields.times
    placeholders, private = fields.placeholders, fields.private
    if isinstance(value, dict):
        pairs: Any = value.items()
        every: tuple[FieldPlan | None, bool] | None = _UNPLANNED if plan is None else None
    else:
        pairs = enumerate(value)
        every = _UNPLANNED if plan is None else plan.child(0)  # one plan for all items
    for key, item in pairs:
        # FieldPlan.child's cache asked here: a method call a value cost a tenth of the walk
        child, declared = every or plan._children.get(key) or plan.child(key)  # type: ignore[union-attr]
        where = (*path, key)
        if child is not None and child.private:  # declared or not: a map of private values
            private.append(where)
        if isinstance(item, str):
            if child is None or child.free:
                free_text.append((where, item))
            if PLACEHOLDER in item:
                placeholders.append(where)
            if known and declared and child is not None:
                if child.ref is not None:
                    references.append((where, item, child.ref))
                if child.format == "date-time" and (when := time_of(item)) is not None:
                    times.append((where, item, when))
        elif isinstance(item, (dict, list)):
            _walk(fields, child, item, where, known and declared)
