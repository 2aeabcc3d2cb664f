"""The release calendar and States' installations (para 28): two regular releases a year,
secondary ones between; States install regular releases within three months."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from typing import Any

from isg.times import parse_date

INSTALL_WITHIN_DAYS = 92  # three months, counted generously as 92 days
REGULAR_PER_YEAR = 2


def installation_due(release: Mapping[str, Any]) -> date | None:
    released = parse_date(release.get("released_on"))
    return released + timedelta(days=INSTALL_WITHIN_DAYS) if released else None


def installation_status(
    release: Mapping[str, Any], states: Iterable[Mapping[str, Any]], at: datetime
) -> list[dict[str, Any]]:
    """Each operating State's installation of a released release: on time, late, overdue or
    pending (not installed, still within the three months). States that started operating
    after the window closed are not listed."""
    due = installation_due(release)
    if due is None:
        return []
    installed = {
        i["state"]: parse_date(i.get("installed_on"))
        for i in release.get("installations") or []
        if isinstance(i, dict)
    }
    rows = []
    for state in states:
        if state.get("role") != "operating":
            continue
        since = parse_date(state.get("operational_since"))
        if since and since > due:
            continue
        day = installed.get(state["id"])
        if day is not None:
            verdict = "on time" if day <= due else "late"
        else:
            verdict = "overdue" if at.date() > due else "pending"
        rows.append(
            {
                "state": state["id"],
                "name": state.get("name"),
                "installed_on": day,
                "due": due,
                "verdict": verdict,
            }
        )
    return rows


def calendar_check(releases: Iterable[Mapping[str, Any]], years: Iterable[int]) -> list[str]:
    """Years whose regular releases (released or planned) differ from two."""
    counts = Counter(
        (parse_date(r.get("released_on")) or parse_date(r.get("planned_date")) or date.min).year
        for r in releases
        if r.get("type") == "regular" and r.get("status") != "cancelled"
    )
    return [
        f"{year}: {counts.get(year, 0)} regular release(s), {REGULAR_PER_YEAR} expected"
        for year in years
        if counts.get(year, 0) != REGULAR_PER_YEAR
    ]


def release_notes(
    release: Mapping[str, Any],
    rfcs: Mapping[str, Mapping[str, Any]],
    incidents: Mapping[str, Mapping[str, Any]],
) -> str:
    """Markdown release notes from the included RfCs and incident fixes."""
    day = release.get("released_on") or f"planned {release.get('planned_date')}"
    lines = [
        f"# {release.get('title', release['id'])}",
        "",
        f"Version {release['id']}, {release.get('type')} release, {day}.",
        "",
    ]
    if release.get("notes"):
        lines += [str(release["notes"]).strip(), ""]
    lines += ["## Changes", ""]
    for rfc_id in release.get("rfcs") or []:
        rfc = rfcs.get(rfc_id, {})
        lines.append(
            f"- {rfc_id}: {rfc.get('title', '(not found)')}"
            f" ({rfc.get('type', '?')}, requested by {rfc.get('requester', '?')})"
        )
    if not release.get("rfcs"):
        lines.append("- none")
    lines += ["", "## Incidents fixed", ""]
    for incident_id in release.get("incidents") or []:
        incident = incidents.get(incident_id, {})
        lines.append(f"- {incident_id}: {incident.get('title', '(not found)')}")
    if not release.get("incidents"):
        lines.append("- none")
    return "\n".join(lines) + "\n"
