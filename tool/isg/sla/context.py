"""What the engine needs from the registry: policies and the calendars to count in."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from isg.business_calendar import TWENTY_FOUR_SEVEN, WorkingCalendar, calendar_from_record
from isg.errors import IsgError
from isg.records import Registry
from isg.sla.policy import Policy, policy_from_record

SERVICE_PROVIDER = "service-provider"


@dataclass(frozen=True)
class SlaContext:
    """Policies and calendars, built once per run from the (validated) registry."""

    policies: tuple[Policy, ...]
    calendars: dict[str, WorkingCalendar]  # by State ID, plus "service-provider" and "24x7"

    def calendar(self, name: str) -> WorkingCalendar:
        """A State's calendar by ISO code, the Service Provider's, or `24x7`."""
        try:
            return self.calendars[name]
        except KeyError:
            raise IsgError(f"no working calendar named '{name}'") from None


def build_context(registry: Registry) -> SlaContext:
    """Read policies and State calendars; the Service Provider counts in its State's calendar."""
    calendars: dict[str, WorkingCalendar] = {"24x7": TWENTY_FOUR_SEVEN}
    for state in registry.of_kind("state"):
        if isinstance(state.data.get("calendar"), dict):
            calendars[state.id] = _calendar(state.id, state.data["calendar"])
    for organisation in registry.of_kind("organisation"):
        home = organisation.data.get("calendar_state")
        if organisation.data.get("type") == SERVICE_PROVIDER and home in calendars:
            calendars[SERVICE_PROVIDER] = calendars[home]
    policies = tuple(policy_from_record(r.data) for r in registry.of_kind("service-levels"))
    return SlaContext(policies=policies, calendars=calendars)


_CALENDARS: dict[str, WorkingCalendar] = {}


def _calendar(name: str, spec: dict[str, Any]) -> WorkingCalendar:
    """The same calendar object for the same State and calendar, across runs in a process:
    its cumulative working time (laid out a year at a time) is then computed once, not once
    per Service Level Report of the site."""
    key = name + "\0" + json.dumps(spec, sort_keys=True, default=str)
    if key not in _CALENDARS:
        _CALENDARS[key] = calendar_from_record(name, spec)
    return _CALENDARS[key]
