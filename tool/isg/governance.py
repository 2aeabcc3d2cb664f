"""The document's composition rules for the Governing Body, the CAB and the eCAB.

* The CAB has at least one Permanent Bureau and one Service Provider representative, and
  representatives of member States from more than one region (geographical representation).
* Every month of the year has at least one State representative on eCAB duty (monthly rota),
  besides the Permanent Bureau and the Service Provider.
* CAB and eCAB State seats go to States that are members of the Governing Body (operating or
  contributing); observers (observer States, the Service Provider, e-CODEX, associations)
  have no vote.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from isg.integrity import RegistryRule
from isg.model import Finding, Record, record_finding
from isg.records import Registry
from isg.times import parse_date

if TYPE_CHECKING:
    from isg.summaries import SummaryIndex

MEMBERS_DIR = "records/members"
VOTING_STATE_ROLES = ("operating", "contributing")


@dataclass(frozen=True)
class Seat:
    """One role held by one member, with the affiliation that decides what it counts for."""

    member: Record
    role: dict[str, Any]
    index: int
    state: Record | None
    organisation_type: str | None

    def active_on(self, day: date) -> bool:
        return role_active(self.role, day)

    def on_duty_in(self, month: str) -> bool:
        months = self.role.get("months")
        return isinstance(months, list) and month in months


def role_active(role: Mapping[str, Any], day: date) -> bool:
    """Whether a role entry covers `day` (`from` and `until` both included, open-ended)."""
    start = parse_date(role.get("from")) or date.min
    end = parse_date(role.get("until")) or date.max
    return start <= day <= end


def seats(registry: Registry, role: str) -> list[Seat]:
    """Every holding of `role`, with the member's State or organisation resolved."""
    found = []
    for member in registry.of_kind("member"):
        state = registry.get("state", str(member.data.get("state")))
        organisation = registry.get("organisation", str(member.data.get("organisation")))
        org_type = organisation.data.get("type") if organisation else None
        for index, entry in enumerate(member.data.get("roles") or []):
            if isinstance(entry, dict) and entry.get("role") == role:
                found.append(Seat(member, entry, index, state, org_type))
    return found


def _gap(message: str, hint: str = "") -> Finding:
    return Finding(path=MEMBERS_DIR, message=message, hint=hint, rule="governance")


def check_cab(registry: Registry, summaries: SummaryIndex, now: datetime) -> Iterator[Finding]:
    """The CAB in office today has the PB, the SP and States from more than one region."""
    today = now.date()
    active = [seat for seat in seats(registry, "cab") if seat.active_on(today)]
    if not any(seat.organisation_type == "permanent-bureau" for seat in active):
        yield _gap(f"the CAB on {today} has no Permanent Bureau representative")
    if not any(seat.organisation_type == "service-provider" for seat in active):
        yield _gap(f"the CAB on {today} has no Service Provider representative")
    regions = {seat.state.data.get("region") for seat in active if seat.state}
    if len(regions) < 2:
        yield _gap(
            f"the CAB on {today} has State representatives from {len(regions)} region(s);"
            " the document asks for geographical representation (more than one)"
        )


def check_ecab_rota(
    registry: Registry, summaries: SummaryIndex, now: datetime
) -> Iterator[Finding]:
    """Every month of `now`'s year has a State on eCAB duty, plus the PB and the SP."""
    ecab = seats(registry, "ecab")
    uncovered = []
    for month in range(1, 13):
        label = f"{now.year}-{month:02d}"
        if not any(seat.state and seat.on_duty_in(label) for seat in ecab):
            uncovered.append(label)
    if uncovered:
        yield _gap(
            "no State representative on eCAB duty in " + ", ".join(uncovered),
            hint="add the months to an ecab role's `months` list",
        )
    today = now.date()
    for org_type, label in (
        ("permanent-bureau", "Permanent Bureau"),
        ("service-provider", "Service Provider"),
    ):
        if not any(s.organisation_type == org_type and s.active_on(today) for s in ecab):
            yield _gap(f"the eCAB on {today} has no {label} representative")


def check_votes(registry: Registry, summaries: SummaryIndex, now: datetime) -> Iterator[Finding]:
    """Observers have no vote and hold no CAB or eCAB State seat."""
    for role in ("governing-body", "cab", "ecab"):
        for seat in seats(registry, role):
            observer = _observer(seat)
            if not observer:
                if role == "ecab" and seat.state is None and "months" in seat.role:
                    yield record_finding(
                        seat.member,
                        ("roles", seat.index, "months"),
                        "the eCAB rota (months) is for State representatives",
                        rule="governance",
                    )
                continue
            if role == "governing-body" and seat.role.get("voting") is True:
                yield record_finding(
                    seat.member,
                    ("roles", seat.index, "voting"),
                    f"observers have no vote: {seat.member.id} represents {observer}",
                    rule="governance",
                    hint="set voting: false",
                )
            elif role != "governing-body" and seat.state is not None:
                yield record_finding(
                    seat.member,
                    ("roles", seat.index),
                    f"{role} seats go to States that are members of the Governing Body; {observer}",
                    rule="governance",
                )


def _observer(seat: Seat) -> str | None:
    """Why the seat's holder is an observer, or None if they may vote."""
    if seat.state is not None:
        role = seat.state.data.get("role")
        return None if role in VOTING_STATE_ROLES else f"{seat.state.id} is an observer State"
    if seat.organisation_type in (None, "permanent-bureau"):
        return None
    return f"the {seat.organisation_type} is an observer"


GOVERNANCE_RULES: tuple[RegistryRule, ...] = (check_cab, check_ecab_rota, check_votes)
