"""Composition rules: CAB, monthly eCAB rota, observers without a vote."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from conftest import FIXED_NOW, REPO_ROOT
from isg.records import parse_registry, read_record_files
from isg.schemas import load_schemas
from isg.validation import check_registry

SCHEMAS = load_schemas(REPO_ROOT)


def _messages(files: dict[str, bytes], now: datetime = FIXED_NOW) -> list[str]:
    result = check_registry(parse_registry(files), SCHEMAS, now=now)
    lines = []
    for f in result.findings:
        where = f"{f.path}:{f.line}" if f.line else f.path
        lines.append(f"{where}: {f.json_path + ': ' if f.json_path else ''}{f.message}")
    return lines


@pytest.fixture
def files() -> dict[str, bytes]:
    return read_record_files(REPO_ROOT)


def _edit(files: dict[str, bytes], path: str, old: str, new: str) -> None:
    text = files[path].decode()
    assert old in text, f"{old!r} not in {path}"
    files[path] = text.replace(old, new).encode()


def test_cab_needs_a_service_provider_representative(files: dict[str, bytes]) -> None:
    _edit(files, "records/members/sp-service-manager.yaml", "- role: cab\n", "- role: helpdesk\n")
    assert _messages(files) == [
        "records/members: the CAB on 2026-11-27 has no Service Provider representative"
    ]


def test_cab_needs_the_permanent_bureau(files: dict[str, bytes]) -> None:
    for member in ("pb-coordinator", "pb-lawyer"):
        _edit(files, f"records/members/{member}.yaml", "- role: cab\n", "- role: helpdesk\n")
    assert _messages(files) == [
        "records/members: the CAB on 2026-11-27 has no Permanent Bureau representative"
    ]


def test_cab_needs_states_from_more_than_one_region(files: dict[str, bytes]) -> None:
    # Brazil is the CAB's only State from the Americas in November 2026.
    _edit(files, "records/members/br-delegate.yaml", "- role: cab\n", "- role: helpdesk\n")
    assert _messages(files) == [
        "records/members: the CAB on 2026-11-27 has State representatives from 1 region(s);"
        " the document asks for geographical representation (more than one)"
    ]


def test_cab_membership_follows_role_periods(files: dict[str, bytes]) -> None:
    # On 2026-05-01 Malta is not yet on the CAB but the Netherlands still is: no gap.
    early = datetime(2026, 5, 1, tzinfo=UTC)
    assert [m for m in _messages(files, early) if m.startswith("records/members")] == []


def test_every_month_needs_a_state_on_ecab_duty(files: dict[str, bytes]) -> None:
    _edit(files, "records/members/mt-delegate.yaml", "  - 2026-08\n", "")
    _edit(files, "records/members/mt-delegate.yaml", "  - 2026-09\n", "")
    assert _messages(files) == [
        "records/members: no State representative on eCAB duty in 2026-08, 2026-09"
    ]


def test_rota_is_checked_for_the_year_of_now(files: dict[str, bytes]) -> None:
    assert _messages(files, datetime(2028, 1, 15, tzinfo=UTC)) == [
        "records/members: no State representative on eCAB duty in "
        + ", ".join(f"2028-{m:02d}" for m in range(1, 13))
    ]


def test_observers_have_no_vote(files: dict[str, bytes]) -> None:
    _edit(files, "records/members/us-observer.yaml", "voting: false", "voting: true")
    _edit(files, "records/members/ecodex-observer.yaml", "voting: false", "voting: true")
    assert _messages(files) == [
        "records/members/ecodex-observer.yaml:10: $.roles[0].voting:"
        " observers have no vote: ecodex-observer represents the e-codex is an observer",
        "records/members/us-observer.yaml:10: $.roles[0].voting:"
        " observers have no vote: us-observer represents US is an observer State",
    ]


def test_observer_states_hold_no_ecab_seat(files: dict[str, bytes]) -> None:
    _edit(
        files,
        "records/members/us-observer.yaml",
        "- role: governing-body\n",
        "- role: ecab\n  months:\n  - 2026-01\n- role: governing-body\n",
    )
    assert _messages(files) == [
        "records/members/us-observer.yaml:9: $.roles[0]: ecab seats go to States that are"
        " members of the Governing Body; US is an observer State"
    ]
