"""`isg fmt` writes one canonical form; `isg new` writes a fresh record from a template."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import FIXED_AT, RunCli
from isg.canonical import canonical_text
from isg.errors import UsageError
from isg.model import KIND_BY_NAME, KINDS
from isg.safe_yaml import parse_document
from isg.scaffold import new_record
from isg.schemas import load_schemas

STATE = "records/states/FR.yaml"


def test_fmt_check_lists_non_canonical_records_and_exits_1(run_cli: RunCli, registry: Path) -> None:
    path = registry / STATE
    path.write_text(
        path.read_text()
        .replace("name: France\n", "")
        .replace("id: FR\n", "id: FR\nname: France\n", 1)
        + "\n\n"
    )
    # Moving a key or adding blank lines changes no value but leaves the canonical form.
    result = run_cli("fmt", "--check", "--repo", str(registry))
    assert result.exit_code == 1
    assert result.stdout == f"{STATE}: not canonical\n"


def test_fmt_rewrites_keys_in_schema_order_and_quotes_yaml11_traps(
    run_cli: RunCli, registry: Path
) -> None:
    path = registry / "records/states/NO.yaml"
    path.write_text(
        "id: NO\nupu_units: 5\nregion: europe\nrole: observer\nname: Norway\n"
        "calendar:\n  working_days: [mon, tue]\n  timezone: Europe/Oslo\n"
        "  working_hours: [08:00-16:00]\n  hours_per_day: 8\n  holidays: {country: NO}\n"
    )
    result = run_cli("fmt", "--repo", str(registry))
    assert result.exit_code == 0
    assert result.stdout == "records/states/NO.yaml: reformatted\n"
    assert path.read_text() == (
        "# yaml-language-server: $schema=../../schemas/state.schema.json\n"
        "id: 'NO'\nname: Norway\nrole: observer\nregion: europe\nupu_units: 5\n"
        "calendar:\n  timezone: Europe/Oslo\n  working_days:\n  - mon\n  - tue\n"
        "  working_hours:\n  - 08:00-16:00\n  hours_per_day: 8\n  holidays:\n"
        "    country: 'NO'\n"
    )
    again = run_cli("fmt", "--check", "--repo", str(registry))
    assert again.exit_code == 0
    assert run_cli("validate", "--repo", str(registry), "--at", FIXED_AT).exit_code == 0


def test_fmt_leaves_unreadable_files_alone_and_exits_1(run_cli: RunCli, registry: Path) -> None:
    broken = registry / "records/incidents/INC-2026-AAAAA.yaml"
    broken.write_bytes(b"a: [\n")
    result = run_cli("fmt", "--repo", str(registry))
    assert result.exit_code == 1
    assert broken.read_bytes() == b"a: [\n"
    assert "records/incidents/INC-2026-AAAAA.yaml:2:1: YAML syntax" in result.stderr


texts = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)
values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | texts
    | st.sampled_from(["NO", "on", "010", "12:30", "2026-01-01", "1.0", "~", "a\nb\n", " x "]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=12,
)


INCIDENT_SCHEMA = load_schemas(Path(__file__).parents[2]).for_kind(KIND_BY_NAME["incident"])


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(texts, values, max_size=6))
def test_canonical_text_reads_back_identically(data: dict[str, object]) -> None:
    schema = INCIDENT_SCHEMA
    text = canonical_text(KIND_BY_NAME["incident"], data, schema)
    assert parse_document(text.encode()).data == data


# --- isg new --------------------------------------------------------------------------------


def test_new_incident_gets_a_fresh_id_and_fails_until_filled(
    run_cli: RunCli, registry: Path
) -> None:
    result = run_cli("new", "incident", "--repo", str(registry))
    assert result.exit_code == 0
    rel = result.stdout.strip()
    assert re.fullmatch(r"records/incidents/INC-\d{4}-[0-9A-HJKMNP-TV-Z]{5}\.yaml", rel)
    check = run_cli("validate", rel and str(registry / rel), "--repo", str(registry))
    assert check.exit_code == 1
    assert ": $.title: template placeholder not filled in" in check.stdout


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
def test_every_template_validates_once_placeholders_are_filled(
    run_cli: RunCli, registry: Path, kind: object
) -> None:
    fills = {
        "reporting_state": "FR",
        "requester": "FR",
        "problem": "PRB-2026-G4VRN",
        "role": "operating",
        "region": "europe",
        "timezone": "Europe/Oslo",
        "type": "regular",
        "planned_date": "2027-10-01",
        "owner": "isupport-sp",
        "impact": "low",
        "urgency": "low",
        "login": "someone",
        "state": "FR",
    }
    record_id = {
        "state": "NO",
        "organisation": "new-org",
        "member": "new-member",
        "service-levels": "sla-2030",
        "ci": "new-ci",
        "release": "9.0.0",
        "budget": "budget-2027",
        "governance": "rules-2030",
    }.get(kind.name)  # type: ignore[attr-defined]
    path = new_record(
        registry,
        kind,
        now=datetime(2026, 11, 27, 9, 0, tzinfo=UTC),  # type: ignore[arg-type]
        record_id=record_id,
        rng=random.Random(1),
    )
    lines = []
    for line in path.read_text().splitlines():
        key = line.strip().lstrip("- ").split(":", 1)[0]
        if "<REPLACE" in line:
            value = fills.get(key, "filled in")
            if key == "type":
                value = "regular" if kind.name == "release" else "other"  # type: ignore[attr-defined]
            line = re.sub(r"'?<REPLACE:[^>]*>'?", value if key != "targets" else "10m", line)
        lines.append(line)
    path.write_text("\n".join(lines) + "\n")
    result = run_cli("validate", str(path), "--repo", str(registry), "--at", FIXED_AT)
    assert result.stdout.endswith(": 0 problems\n"), result.stdout


def test_new_never_overwrites(registry: Path) -> None:
    with pytest.raises(UsageError, match=r"records/states/FR\.yaml already exists"):
        new_record(registry, KIND_BY_NAME["state"], now=datetime.now(UTC), record_id="FR")


def test_natural_key_kinds_need_an_id(run_cli: RunCli, registry: Path) -> None:
    result = run_cli("new", "state", "--repo", str(registry))
    assert result.exit_code == 2
    assert result.stderr == "isg: a state is named by its natural key: give --id\n"


def test_id_cannot_escape_the_folder(run_cli: RunCli, registry: Path) -> None:
    result = run_cli("new", "ci", "--id", "../../x", "--repo", str(registry))
    assert result.exit_code == 2
    assert not (registry.parent / "x.yaml").exists()
