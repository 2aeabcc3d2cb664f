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


FORMAT_VALUES = [
    "2026-11-27T12:00:00Z",
    "2026-11-27t12:00:00z",
    "2026-11-27T12:00:00",
    "2026-11-27T12:00:00.123456+05:30",
    "2026-11-27T24:00:00Z",
    "2016-12-31T23:59:60Z",
    "2026-02-29T10:00:00+01:00",
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
