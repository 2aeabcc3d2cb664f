"""Dogfood: the repository's own schemas and records are valid, complete and canonical."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from conftest import FIXED_NOW, REPO_ROOT
from isg.canonical import format_registry
from isg.model import KINDS
from isg.records import parse_registry, read_record_files
from isg.schemas import load_schemas
from isg.validation import validate_repository


def test_embedded_registry_validates_cleanly() -> None:
    result = validate_repository(REPO_ROOT, now=FIXED_NOW)
    assert [f"{f.path}:{f.line}: {f.message}" for f in result.findings] == []


def test_embedded_registry_is_canonical() -> None:
    registry = parse_registry(read_record_files(REPO_ROOT))
    result = format_registry(REPO_ROOT, registry, load_schemas(REPO_ROOT), check=True)
    assert result.changed == []
    assert result.unreadable == []


def test_embedded_registry_covers_what_the_document_describes() -> None:
    registry = parse_registry(read_record_files(REPO_ROOT))
    by_kind = {kind.name: registry.of_kind(kind.name) for kind in KINDS}
    assert all(by_kind.values()), "every kind has at least one record"
    assert {r.id for r in by_kind["state"]} == {"BR", "CA", "FR", "MT", "NL", "CH", "US"}
    assert len(by_kind["incident"]) >= 30
    assert len(by_kind["rfc"]) >= 10
    assert {r.data["type"] for r in by_kind["rfc"]} == {"service-request", "emergency", "normal"}
    assert {r.status for r in by_kind["rfc"]} == {
        "submitted",
        "assessed",
        "approved",
        "rejected",
        "scheduled",
        "implemented",
        "reviewed",
        "closed",
        "withdrawn",
    }
    assert any(r.data.get("scope") == "local" for r in by_kind["rfc"])
    releases = [r.data["type"] for r in by_kind["release"] if r.status == "released"]
    assert releases.count("regular") >= 2 and "secondary" in releases
    assert {r.data["impact"] + "/" + r.data["urgency"] for r in by_kind["incident"]} >= {
        "high/high",
        "high/medium",
        "medium/medium",
        "medium/low",
        "low/low",
    }


def _properties(schema: Any, where: str) -> list[tuple[str, Any]]:
    found = []
    if isinstance(schema, dict):
        for name, sub in schema.get("properties", {}).items():
            found.append((f"{where}.{name}", sub))
        for key, sub in schema.items():
            if key != "properties":
                found.extend(_properties(sub, f"{where}/{key}"))
        for name, sub in schema.get("properties", {}).items():
            found.extend(_properties(sub, f"{where}.{name}"))
    elif isinstance(schema, list):
        for index, sub in enumerate(schema):
            found.extend(_properties(sub, f"{where}[{index}]"))
    return found


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
def test_schema_is_documented_for_editors(kind: Any) -> None:
    schema = json.loads((REPO_ROOT / kind.schema_file).read_text())
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"].endswith(f"/{kind.name}.schema.json")
    assert schema["title"] and schema["description"]
    assert schema["additionalProperties"] is False
    undocumented = [
        path
        for path, sub in _properties(schema, kind.name)
        if isinstance(sub, dict)
        and not sub.get("description")
        and "/allOf" not in path
        and "/oneOf" not in path
    ]
    assert undocumented == []


def test_every_record_starts_with_its_schema_line() -> None:
    for kind in KINDS:
        for path in sorted((REPO_ROOT / "records" / kind.directory).glob("*.yaml")):
            first = path.read_text(encoding="utf-8").split("\n", 1)[0]
            assert first == f"# yaml-language-server: $schema=../../{kind.schema_file}", path


def test_policy_reproduces_the_documents_tables() -> None:
    policy = parse_registry(read_record_files(REPO_ROOT)).get("service-levels", "sla-2016")
    assert policy is not None
    data = policy.data
    assert data["priority_matrix"] == {
        "high": {"high": 1, "medium": 2, "low": 3},
        "medium": {"high": 2, "medium": 3, "low": 4},
        "low": {"high": 3, "medium": 4, "low": 5},
    }
    targets = {m["id"]: m["targets"] for m in data["milestones"]}
    assert targets == {
        "registration_confirmed": ["10m", "1h", "4h", "4h", "4h"],
        "initial_documentation": ["2h", "3h", "8h", "3d", "5d"],
        "ecab_meeting": ["4h", "8h", None, None, None],
        "analysis": ["8h", "2d", "3d", "5d", "3w"],
        "solution": ["2d", "3d", "4d", "1.5w", "4w"],
        "knowledge_documented": ["2d", "3.5d", "4.5d", "2w", "4.5w"],
    }
    compliance = {m["id"]: m.get("compliance") for m in data["milestones"]}
    assert all(
        share == [0.9, 0.9, 0.75, 0.75, 0.75]
        for key, share in compliance.items()
        if key != "ecab_meeting"
    )
    assert data["margin"] == 0.25
    assert [(e["priority"], e["duty"], e["channel"]) for e in data["ecab"]] == [
        (1, "meeting", "telephone"),
        (2, "informed", "e-mail"),
    ]


def test_templates_exist_for_every_kind() -> None:
    templates = REPO_ROOT / "tool" / "isg" / "templates"
    assert sorted(p.stem for p in templates.glob("*.yaml")) == sorted(k.name for k in KINDS)


@pytest.mark.parametrize("group", ["valid", "invalid"])
def test_examples_cover_every_kind(group: str) -> None:
    folder = Path(__file__).parent / "examples" / group
    assert sorted(p.name for p in folder.iterdir()) == sorted(k.directory for k in KINDS)
