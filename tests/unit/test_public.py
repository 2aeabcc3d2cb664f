"""What the public site may show: records without their internal and personal fields, the
registry's own data untouched."""

from __future__ import annotations

import copy
from typing import Any

from conftest import REPO_ROOT
from isg.records import parse_registry, read_record_files
from isg.render.public import _without, publishable
from isg.safe_yaml import JsonPath
from isg.schemas import load_schemas


def _reference(data: dict[str, Any], paths: list[JsonPath]) -> dict[str, Any]:
    """The definition: a deep copy with each value dropped (in a list: None)."""
    found = copy.deepcopy(data)
    for path in sorted(paths, key=len, reverse=True):
        target: Any = found
        for part in path[:-1]:
            target = target[part]
        if isinstance(target, dict):
            target.pop(path[-1], None)
        else:
            target[path[-1]] = None
    return found


def test_only_the_way_to_a_dropped_value_is_copied() -> None:
    data: dict[str, Any] = {
        "id": "X",
        "contact": {"email": "a@example.org", "name": "A"},
        "roles": [{"role": "cab", "phone": "1"}, {"role": "ecab", "phone": "2"}],
        "notes": "internal",
        "cis": ["a", "b"],
        "nested": {"deep": {"secret": 1, "kept": 2}, "whole": {"secret": 3}},
    }
    before = copy.deepcopy(data)
    paths: list[JsonPath] = [
        ("contact", "email"),
        ("roles", 0, "phone"),
        ("roles", 1, "phone"),
        ("notes",),
        ("cis", 1),
        ("nested", "deep", "secret"),
        ("nested", "whole", "secret"),
        ("nested", "whole"),
    ]
    public = _without(data, paths)
    assert public == _reference(data, paths)
    assert public == {
        "id": "X",
        "contact": {"name": "A"},
        "roles": [{"role": "cab"}, {"role": "ecab"}],
        "cis": ["a", None],
        "nested": {"deep": {"kept": 2}},
    }
    assert data == before  # the registry's data is not changed
    assert public is not data and public["contact"] is not data["contact"]
    assert public["roles"][0] is not data["roles"][0]


def test_publishable_leaves_out_private_fields_and_internal_records() -> None:
    registry = parse_registry(read_record_files(REPO_ROOT))
    schemas = load_schemas(REPO_ROOT)
    before = copy.deepcopy([r.data for r in registry.records])
    public = publishable(registry, schemas, internal=False)
    members = internal = 0
    for record in registry.records:
        if record.data.get("visibility") == "internal":
            assert record.path not in public
            internal += 1
            continue
        data = public[record.path]
        assert "internal_notes" not in data and "reported_by" not in data and "email" not in data
        if record.kind.name == "member" and "email" in record.data:
            members += 1  # a member's address is dropped, the registry keeps it
        unchanged = {k: v for k, v in record.data.items() if k in data}
        assert data == unchanged and all(data[k] is record.data[k] for k in data)
    assert members and internal
    assert [r.data for r in registry.records] == before
    assert publishable(registry, schemas, internal=True) == {
        r.path: r.data for r in registry.records
    }
