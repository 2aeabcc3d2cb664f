"""Cross-record rules that need more than one file: duplicates, hints, suppressed echoes."""

from __future__ import annotations

import pytest

from conftest import FIXED_NOW, REPO_ROOT
from isg.records import parse_registry, read_record_files
from isg.schemas import load_schemas
from isg.validation import check_registry

SCHEMAS = load_schemas(REPO_ROOT)


@pytest.fixture
def files() -> dict[str, bytes]:
    return read_record_files(REPO_ROOT)


def _findings(files: dict[str, bytes]) -> list[tuple[str, int, str, str]]:
    result = check_registry(parse_registry(files), SCHEMAS, now=FIXED_NOW)
    return [(f.path, f.line, f.message, f.hint) for f in result.findings]


def _edit(files: dict[str, bytes], path: str, old: str, new: str) -> None:
    text = files[path].decode()
    assert old in text
    files[path] = text.replace(old, new, 1).encode()


def test_two_files_with_one_id_are_both_reported(files: dict[str, bytes]) -> None:
    files["records/cis/database-copy.yaml"] = files["records/cis/database.yaml"]
    assert _findings(files) == [
        ("records/cis/database-copy.yaml", 2, "duplicate ci id 'database'", ""),
        (
            "records/cis/database-copy.yaml",
            2,
            "id 'database' does not match the file name 'database-copy.yaml'",
            "rename the file to records/cis/database.yaml or fix the id",
        ),
        ("records/cis/database.yaml", 2, "duplicate ci id 'database'", ""),
    ]


def test_github_ids_are_unique(files: dict[str, bytes]) -> None:
    mine = files["records/members/fr-delegate.yaml"].decode()
    other_id = mine.split("  id: ", 1)[1].split("\n", 1)[0]
    _edit(files, "records/members/nl-delegate.yaml", "  id: ", f"  id: {other_id}\n  x: ")
    findings = [f for f in _findings(files) if "GitHub id" in f[2]]
    assert findings == [
        (
            "records/members/nl-delegate.yaml",
            6,
            f"GitHub id {other_id} is also used by member 'fr-delegate'",
            "",
        ),
    ]


def test_reference_to_another_kind_says_what_the_id_is(files: dict[str, bytes]) -> None:
    _edit(files, "records/cis/database.yaml", "owner: isupport-sp", "owner: secure-communication")
    assert _findings(files) == [
        (
            "records/cis/database.yaml",
            5,
            "unknown organisation or state 'secure-communication'",
            "'secure-communication' is the ID of a ci record",
        ),
    ]


def test_reference_to_an_unreadable_record_is_not_reported_twice(
    files: dict[str, bytes],
) -> None:
    files["records/cis/database.yaml"] = b"id: [\n"
    assert [(p, m) for p, _, m, _ in _findings(files)] == [
        ("records/cis/database.yaml", "YAML syntax: did not find expected node content"),
    ]


@pytest.mark.parametrize(
    ("hours", "message"),
    [
        ("['09:00-12:30', '12:00-17:30']", "range 12:00-17:30 overlaps or precedes the one before"),
        ("['13:30-17:30', '09:00-12:30']", "range 09:00-12:30 overlaps or precedes the one before"),
        ("['17:30-09:00']", "range 17:30-09:00 ends before it starts"),
    ],
)
def test_working_hours_are_ordered_ranges(
    files: dict[str, bytes], hours: str, message: str
) -> None:
    text = files["records/states/FR.yaml"].decode()
    start = text.index("  working_hours:\n")
    end = text.index("  hours_per_day:")
    files["records/states/FR.yaml"] = (
        text[:start] + f"  working_hours: {hours}\n" + text[end:]
    ).encode()
    assert [m for _, _, m, _ in _findings(files)] == [message]


def test_placeholder_is_reported_once_not_with_its_enum_failure(files: dict[str, bytes]) -> None:
    _edit(files, "records/cis/database.yaml", "type: database", "type: '<REPLACE: a type>'")
    assert _findings(files) == [
        (
            "records/cis/database.yaml",
            4,
            "template placeholder not filled in",
            "replace the <REPLACE: ...> text with the real value",
        ),
    ]
