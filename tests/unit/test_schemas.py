"""The fast validator (jsonschema-rs) and the explaining one (jsonschema) agree on what is
valid: a record the fast one accepts is never explained, so a disagreement would hide a
finding. Checked on every embedded record, every example, and generated mutations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from isg.model import KIND_BY_DIRECTORY
from isg.safe_yaml import YamlError, parse_document
from isg.schemas import load_schemas

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = load_schemas(ROOT)


def _documents() -> list[tuple[str, str, Any]]:
    found = []
    for base in (
        ROOT / "records",
        ROOT / "tests" / "examples" / "valid",
        ROOT / "tests" / "examples" / "invalid",
    ):
        for path in sorted(base.rglob("*.yaml")):
            try:
                data = parse_document(path.read_bytes()).data
            except YamlError:
                continue
            kind = KIND_BY_DIRECTORY[path.parent.name].name
            found.append((path.relative_to(ROOT).as_posix(), kind, data))
    return found


DOCUMENTS = _documents()


def _agree(kind: str, data: Any) -> None:
    slow = not any(True for _ in SCHEMAS.validators[kind].iter_errors(data))
    assert SCHEMAS.fast[kind].is_valid(data) == slow


@pytest.mark.parametrize(("path", "kind", "data"), DOCUMENTS, ids=[d[0] for d in DOCUMENTS])
def test_fast_and_explaining_validators_agree(path: str, kind: str, data: Any) -> None:
    _agree(kind, data)


def test_the_examples_include_schema_failures() -> None:
    rejected = [p for p, kind, data in DOCUMENTS if not SCHEMAS.fast[kind].is_valid(data)]
    assert len(rejected) >= 5


TEXTS = st.one_of(
    st.sampled_from(
        [
            "2026-02-30T10:00:00+01:00",
            "2026-11-27T12:00:00Z",
            "2026-11-27",
            "2026-13-01",
            "not a date",
            "x@example.org",
            "https://example.org",
            "INC-2026-0000A",
            "",
            "high",
        ]
    ),
    st.text(max_size=12),
)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([d for d in DOCUMENTS if d[0].startswith("records/")]), st.data())
def test_validators_agree_on_mutated_records(document: tuple[str, str, Any], data: Any) -> None:
    _, kind, original = document
    mutated = dict(original)
    key = data.draw(st.sampled_from(sorted(mutated)))
    mutated[key] = data.draw(st.one_of(TEXTS, st.integers(), st.none(), st.booleans()))
    _agree(kind, mutated)


def test_one_walk_finds_what_the_schema_annotations_say() -> None:
    """`record_fields` (one walk) against `iter_annotated` (one walk per keyword)."""
    from isg.model import KIND_BY_NAME, Record
    from isg.safe_yaml import Document
    from isg.schemas import iter_annotated, record_fields
    from isg.times import parse_time

    checked = 0
    for path, kind, data in DOCUMENTS:
        if not path.startswith("records/"):
            continue
        record = Record(KIND_BY_NAME[kind], path, Document(data))
        schema = SCHEMAS.schemas[kind]
        fields = record_fields(record, SCHEMAS)
        refs = [
            (p, v, (k,) if isinstance(k, str) else tuple(k))
            for p, v, k in iter_annotated(schema, data, "x-isg-ref")
            if isinstance(v, str)
        ]
        times = [
            (p, v, parse_time(v))
            for p, v, f in iter_annotated(schema, data, "format")
            if f == "date-time" and parse_time(v) is not None
        ]
        private = [
            p
            for keyword in ("x-isg-internal", "x-isg-personal")
            for p, _, flag in iter_annotated(schema, data, keyword)
            if flag
        ]
        assert sorted(fields.private, key=repr) == sorted(private, key=repr)
        assert sorted(fields.references, key=repr) == sorted(refs, key=repr)
        assert sorted(fields.times, key=repr) == sorted(times, key=repr)
        checked += len(refs)
    assert checked > 100


PRIVATE_KEYS = ["email", "internal_notes", "reported_by", "members", "contacts"]


def _private_both_ways(kind: str, data: Any) -> tuple[list[Any], list[Any]]:
    from isg.model import KIND_BY_NAME, Record
    from isg.safe_yaml import Document
    from isg.schemas import private_paths, record_fields

    def fresh() -> Record:  # a new Document: neither may reuse what the other walked
        return Record(KIND_BY_NAME[kind], f"records/x/{kind}.yaml", Document(data))

    return (
        sorted(private_paths(fresh(), SCHEMAS), key=repr),
        sorted(record_fields(fresh(), SCHEMAS).private, key=repr),
    )


def test_the_short_walk_finds_the_private_fields_the_full_walk_finds() -> None:
    found = 0
    for _, kind, data in DOCUMENTS:
        quick, full = _private_both_ways(kind, data)
        assert quick == full
        found += len(full)
    assert found > 10


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([d for d in DOCUMENTS if d[0].startswith("records/")]), st.data())
def test_the_short_walk_agrees_on_mutated_records(
    document: tuple[str, str, Any], data: Any
) -> None:
    """Private fields planted anywhere, of any shape, in records of every kind."""
    _, kind, original = document
    mutated = dict(original)
    for key in data.draw(st.lists(st.sampled_from(PRIVATE_KEYS + sorted(mutated)), max_size=4)):
        mutated[key] = data.draw(
            st.one_of(
                TEXTS,
                st.none(),
                st.lists(st.one_of(TEXTS, st.dictionaries(st.sampled_from(PRIVATE_KEYS), TEXTS))),
                st.dictionaries(st.sampled_from([*PRIVATE_KEYS, "name"]), TEXTS),
            )
        )
    quick, full = _private_both_ways(kind, mutated)
    assert quick == full


NESTED_PRIVATE_SCHEMA = {  # private fields deep down, through $ref, items, maps and a cycle
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "contacts": {"type": "array", "items": {"$ref": "#/$defs/contact"}},
        "by_state": {"type": "object", "additionalProperties": {"$ref": "#/$defs/contact"}},
        "tree": {"$ref": "#/$defs/node"},
        "plain": {"type": "object", "properties": {"name": {"type": "string"}}},
    },
    "$defs": {
        "contact": {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "email": {"type": "string", "x-isg-personal": True},
                "notes": {"type": "array", "items": {"type": "string", "x-isg-internal": True}},
            },
        },
        "node": {
            "type": "object",
            "properties": {
                "secret": {"type": "string", "x-isg-internal": True},
                "children": {"type": "array", "items": {"$ref": "#/$defs/node"}},
            },
        },
    },
}


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_the_short_walk_agrees_where_private_fields_lie_deep(data: Any) -> None:
    from isg.model import KIND_BY_NAME, Record
    from isg.safe_yaml import Document
    from isg.schemas import private_paths, record_fields

    class Nested:
        def for_kind(self, kind: object) -> dict[str, Any]:
            return NESTED_PRIVATE_SCHEMA

    keys = ["id", "name", "email", "notes", "secret", "children", "contacts", "by_state", "tree"]
    leaves = st.one_of(TEXTS, st.none(), st.integers())
    values = st.recursive(
        leaves,
        lambda inner: st.one_of(
            st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(keys), inner, max_size=4)
        ),
        max_leaves=20,
    )
    document = data.draw(st.dictionaries(st.sampled_from([*keys, "plain"]), values, max_size=5))
    schemas: Any = Nested()

    def fresh() -> Record:
        return Record(KIND_BY_NAME["incident"], "records/incidents/x.yaml", Document(document))

    quick = sorted(private_paths(fresh(), schemas), key=repr)
    assert quick == sorted(record_fields(fresh(), schemas).private, key=repr)


def test_the_short_walk_reaches_private_fields_under_refs_items_and_maps() -> None:
    from isg.model import KIND_BY_NAME, Record
    from isg.safe_yaml import Document
    from isg.schemas import private_paths

    class Nested:
        def for_kind(self, kind: object) -> dict[str, Any]:
            return NESTED_PRIVATE_SCHEMA

    document = {
        "contacts": [{"name": "a", "email": "a@example.org", "notes": ["x", "y"]}],
        "by_state": {"FR": {"email": "f@example.org"}},
        "tree": {"children": [{"children": [{"secret": "s"}]}]},
        "plain": {"name": "n"},
    }
    record = Record(KIND_BY_NAME["incident"], "records/incidents/x.yaml", Document(document))
    schemas: Any = Nested()
    assert sorted(private_paths(record, schemas), key=repr) == sorted(
        [
            ("contacts", 0, "email"),
            ("contacts", 0, "notes", 0),
            ("contacts", 0, "notes", 1),
            ("by_state", "FR", "email"),
            ("tree", "children", 0, "children", 0, "secret"),
        ],
        key=repr,
    )


FORMAT_VALUES = [
    "2026-11-27T12:00:00Z",
    "2026-11-27t12:00:00z",
    "2026-11-27T12:00:00",
    "2026-11-27T12:00:00.123456+05:30",
    "2026-11-27T24:00:00Z",
    "2016-12-31T23:59:60Z",
    "2026-02-29T10:00:00+01:00",
    "2024-02-29T10:00:00+01:00",
    "2026-04-31T10:00:00Z",
    "2026-04-30T10:00:00Z",
    "2026-12-32T10:00:00Z",
    "2026-12-00T10:00:00Z",
    "0000-01-01T00:00:00Z",
    "0001-01-01T00:00:00Z",
    "2026-13-01T00:00:00Z",
    "2026-11-27T12:00:00Z\n",
    "2026-11-27T12:00:00Z\n\n",
    "2026-11-27T12:00:00Z ",
    "2026-11-27T12:00:00.Z",
    "2026-11-27T12:00:00-23:59",
    "2026-11-27T12:00:00+24:00",
    "2026-11-27 12:00:00Z",
    "2026-11-27",
    "2026-02-29",
    "2024-02-29",
    "2026-1-07",
    "\uff12\uff10\uff12\uff16-11-27",
    "20261127",
    "x@example.org",
    "no at sign",
    "https://example.org",
    "not a uri",
    "",
    7,
    None,
]


@pytest.mark.parametrize("name", ["date-time", "date", "email", "uri"])
def test_the_fast_format_checks_are_jsonschemas(name: str) -> None:
    """The fast validator's format checks say what jsonschema's FORMAT_CHECKER says."""
    import jsonschema

    from isg.schemas import _FORMATS

    checker = jsonschema.Draft202012Validator.FORMAT_CHECKER
    ours = [_FORMATS[name](value) for value in FORMAT_VALUES]
    theirs = [checker.conforms(value, name) for value in FORMAT_VALUES]
    assert ours == theirs
    assert name in ("uri", "email") or not all(ours)  # the check does reject something


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "0",
                "1",
                "2",
                "3",
                "9",
                "00",
                "02",
                "28",
                "29",
                "30",
                "31",
                "2024",
                "2026",
                "-",
                ":",
                "T",
                "t",
                "Z",
                "z",
                ".",
                "+",
                "\n",
                " ",
                "\u0131",
                "\uff12",
            ]
        ),
        max_size=24,
    ),
    st.sampled_from(["2024-02-29T", "2026-02-29T", "2026-04-31T", "2026-11-27T", ""]),
)
def test_the_fast_date_time_check_is_jsonschemas_on_any_text(pieces: list[str], start: str) -> None:
    import jsonschema

    from isg.schemas import _FORMATS

    checker = jsonschema.Draft202012Validator.FORMAT_CHECKER
    for value in (start + "".join(pieces), start + "12:30:00" + "".join(pieces)):
        assert _FORMATS["date-time"](value) == checker.conforms(value, "date-time"), value


def _fields_as_first_written(record: Any, schemas: Any = SCHEMAS) -> tuple[list[Any], ...]:
    """`record_fields` as first written (a call a value): the definition the faster walk
    (text handled where it is met) is held to, field for field and in order."""
    from isg.schemas import PLACEHOLDER, _plan
    from isg.times import parse_time

    free, refs, times, holders, private = [], [], [], [], []  # type: ignore[var-annotated]

    def walk(plan: Any, value: Any, path: tuple[Any, ...], declared: bool) -> None:
        if plan is not None and plan.private:
            private.append(path)
        if isinstance(value, str):
            if plan is None or plan.free:
                free.append((path, value))
            if PLACEHOLDER in value:
                holders.append(path)
            if declared and plan is not None:
                if plan.ref is not None:
                    refs.append((path, value, plan.ref))
                if plan.format == "date-time" and (when := parse_time(value)) is not None:
                    times.append((path, value, when))
        elif isinstance(value, dict):
            for key, item in value.items():
                child, known = plan.child(key) if plan else (None, False)
                walk(child, item, (*path, key), declared and known)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                child, known = plan.child(index) if plan else (None, False)
                walk(child, item, (*path, index), declared and known)

    walk(_plan(schemas.for_kind(record.kind)), record.data, (), True)
    return free, refs, times, holders, private


def _fields_both_ways(kind: str, data: Any, schemas: Any = SCHEMAS) -> None:
    from isg.model import KIND_BY_NAME, Record
    from isg.safe_yaml import Document
    from isg.schemas import record_fields

    record = Record(KIND_BY_NAME[kind], f"records/x/{kind}.yaml", Document(data))
    found = record_fields(record, schemas)
    assert (
        found.free_text,
        found.references,
        found.times,
        found.placeholders,
        found.private,
    ) == _fields_as_first_written(record, schemas)


def test_the_walk_finds_what_it_found_as_first_written() -> None:
    for _, kind, data in DOCUMENTS:
        _fields_both_ways(kind, data)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([d for d in DOCUMENTS if d[0].startswith("records/")]), st.data())
def test_the_walk_finds_what_it_found_as_first_written_on_mutated_records(
    document: tuple[str, str, Any], data: Any
) -> None:
    _, kind, original = document
    mutated = dict(original)
    values = st.recursive(
        TEXTS | st.sampled_from(["<REPLACE me>", "CI-0001", 7, None, True]),
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(
                st.sampled_from([*PRIVATE_KEYS, *sorted(original)]), inner, max_size=3
            )
        ),
        max_leaves=8,
    )
    for key in data.draw(st.lists(st.sampled_from([*PRIVATE_KEYS, *sorted(mutated)]), max_size=4)):
        mutated[key] = data.draw(values)
    _fields_both_ways(kind, mutated)


MAPPED_SCHEMA = {  # references and times declared under maps, items and undeclared keys
    "type": "object",
    "properties": {
        "ci": {"type": "string", "x-isg-ref": "ci"},
        "at": {"type": "string", "format": "date-time"},
        "by_state": {"type": "object", "additionalProperties": {"$ref": "#/$defs/entry"}},
        "entries": {"type": "array", "items": {"$ref": "#/$defs/entry"}},
    },
    "additionalProperties": {"$ref": "#/$defs/entry"},
    "$defs": {
        "entry": {
            "type": "object",
            "properties": {
                "ci": {"type": "string", "x-isg-ref": ["ci", "release"]},
                "at": {"type": "string", "format": "date-time"},
                "email": {"type": "string", "x-isg-personal": True},
                "note": {"type": "string"},
            },
        }
    },
}


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["ci", "at", "by_state", "entries", "other", "email"]),
        st.recursive(
            TEXTS | st.sampled_from(["<REPLACE me>", "CI-0001", 7, None]),
            lambda inner: (
                st.lists(inner, max_size=3)
                | st.dictionaries(
                    st.sampled_from(["ci", "at", "email", "note", "FR"]), inner, max_size=4
                )
            ),
            max_leaves=10,
        ),
        max_size=5,
    )
)
def test_the_walk_finds_what_it_found_as_first_written_under_maps_and_items(data: Any) -> None:
    class Mapped:
        def for_kind(self, kind: object) -> dict[str, Any]:
            return MAPPED_SCHEMA

    _fields_both_ways("incident", data, Mapped())
