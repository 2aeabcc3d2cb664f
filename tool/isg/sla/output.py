"""SLA status as text, JSON (stable, documented in docs/SLA.md) and Markdown."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from isg.business_calendar import Segment
from isg.model import Record
from isg.sla.evidence import Evidence
from isg.sla.incident import IncidentStatus, MilestoneStatus

JSON_VERSION = 1


def format_duration(value: timedelta) -> str:
    """`1d 2h 05m` style for people; days here are 24-hour days of elapsed working time."""
    total = int(value.total_seconds() // 60)
    sign = "-" if total < 0 else ""
    hours, minutes = divmod(abs(total), 60)
    return f"{sign}{hours}h{minutes:02d}m"


def local(moment: datetime | None, zone: Any) -> str:
    if moment is None:
        return "-"
    return moment.astimezone(zone).isoformat(timespec="minutes")


def describe_priority(status: IncidentStatus | ShownStatus) -> str:
    current = status.current
    text = (
        f"priority {status.priority} (impact {current.impact} x urgency {current.urgency},"
        f" policy {status.policy_id})"
    )
    for earlier in status.history[:-1]:
        assert earlier.until is not None
        text += (
            f"; was priority {earlier.priority} ({earlier.impact} x {earlier.urgency}) until"
            f" {minute_text(earlier.until)}: {earlier.reason};"
            " targets re-counted from reported_at"
        )
    return text


# --- what an incident's page shows of its status -------------------------------------------


def minute_text(moment: datetime | str) -> str:
    """A time as ISO text to the minute, in its own zone (text is already so)."""
    return moment if isinstance(moment, str) else moment.isoformat(timespec="minutes")


class ShownClassification(NamedTuple):
    impact: str
    urgency: str
    priority: int
    until: str | None
    reason: str


class ShownMilestone(NamedTuple):
    name: str
    target: str
    deadline: str
    margin_deadline: str
    completed_at: str | None
    state: str


class ShownDuty(NamedTuple):
    duty: str
    channel: str
    status: ShownMilestone | None


class ShownStatus(NamedTuple):
    """What an incident's page shows of its status (site/templates/incident.html.j2), times
    as ISO text to the minute in the zone the status gives them. A page of a remembered
    status gets it from the stored text without making the whole status
    (`sla.memory.KeptStatus.shown`: ~15 us against ~40 us, and no datetime to format
    again in each of ~12 cells); a page of a fresh one from `shown_status`. Both give the
    same page. A field a template shows is added here."""

    incident_id: str
    reporting_state: str
    priority: int
    policy_id: str
    history: tuple[ShownClassification, ...]
    milestones: tuple[ShownMilestone, ...]
    ecab: tuple[ShownDuty, ...]

    @property
    def current(self) -> ShownClassification:
        return self.history[-1]


def shown_status(status: IncidentStatus) -> ShownStatus:
    return ShownStatus(
        status.incident_id,
        status.reporting_state,
        status.priority,
        status.policy_id,
        tuple(
            ShownClassification(
                c.impact,
                c.urgency,
                c.priority,
                minute_text(c.until) if c.until is not None else None,
                c.reason,
            )
            for c in status.history
        ),
        tuple(_shown_milestone(m) for m in status.milestones),
        tuple(
            ShownDuty(d.duty, d.channel, _shown_milestone(d.status) if d.status else None)
            for d in status.ecab
        ),
    )


def _shown_milestone(m: MilestoneStatus) -> ShownMilestone:
    return ShownMilestone(
        m.name,
        m.target,
        minute_text(m.deadline),
        minute_text(m.margin_deadline),
        minute_text(m.completed_at) if m.completed_at is not None else None,
        m.state,
    )


def status_text(
    statuses: Sequence[IncidentStatus],
    zones: dict[str, Any],
    evidence: dict[tuple[str, str], Evidence] | None = None,
) -> str:
    lines = []
    for status in statuses:
        zone = zones[status.reporting_state]
        lines.append(
            f"{status.incident_id}  {status.reporting_state}  {status.status}  "
            f"{describe_priority(status)}"
        )
        lines.append(f"  {status.title}")
        header = (
            "milestone",
            "target",
            "deadline (late from)",
            "margin deadline",
            "completed",
            "elapsed",
            "state",
        )
        rows = [header] + [_row(m, zone) for m in status.milestones]
        widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
        for row in rows:
            lines.append(
                "  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
            )
        for m in status.milestones:
            if m.note:
                lines.append(f"  note: {m.milestone}: {m.note}")
            found = (evidence or {}).get((status.incident_id, m.milestone))
            if found is not None:
                lines.append(f"  evidence: {m.milestone}: {found.describe()}")
        for duty in status.ecab:
            lines.append("  " + _ecab_line(duty, zone))
        lines.append("")
    return "\n".join(lines)


def _row(m: MilestoneStatus, zone: Any) -> tuple[str, ...]:
    return (
        m.milestone,
        m.target,
        local(m.deadline, zone),
        local(m.margin_deadline, zone),
        local(m.completed_at, zone),
        format_duration(m.elapsed),
        m.state,
    )


def _ecab_line(duty: Any, zone: Any) -> str:
    if duty.status is None:
        return f"eCAB {duty.duty} ({duty.channel}): not required; the eCAB decides whether to meet"
    done = duty.status.completed_at
    when = f"done {local(done, zone)}" if done else f"due {local(duty.status.deadline, zone)}"
    need = "required" if duty.required else "held"
    return f"eCAB {duty.duty} ({duty.channel}, {need}): {when}: {duty.status.state}"


def _milestone_json(m: MilestoneStatus, evidence: Evidence | None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "milestone": m.milestone,
        "name": m.name,
        "target": m.target,
        "target_seconds": int(m.target_time.total_seconds()),
        "calendar": m.calendar,
        "deadline": m.deadline.isoformat(),
        "margin_deadline": m.margin_deadline.isoformat(),
        "completed_at": m.completed_at.isoformat() if m.completed_at else None,
        "elapsed_seconds": int(m.elapsed.total_seconds()),
        "state": m.state,
        "note": m.note,
    }
    if evidence is not None:
        data["evidence"] = evidence.as_dict()
    return data


def status_json(
    statuses: Sequence[IncidentStatus],
    at: datetime,
    evidence: Mapping[tuple[str, str], Evidence] | None = None,
) -> str:
    """The documented JSON shape (docs/SLA.md, "JSON output"); keys sorted."""
    return "".join(status_json_chunks(statuses, at, evidence))


def status_json_chunks(
    statuses: Sequence[IncidentStatus],
    at: datetime,
    evidence: Mapping[tuple[str, str], Evidence] | None = None,
) -> Iterator[str]:
    """`status_json` piece by piece, one incident per line: written as it is made, so 50,000
    incidents never sit in memory as one string, and encoded by json's C encoder (an indented
    document goes through its pure-Python one, ten times slower)."""
    return json_document((incident_json(s, evidence) for s in statuses), at)


def json_document(incidents: Iterable[str], at: datetime) -> Iterator[str]:
    """The JSON document around incidents encoded by `incident_json`, one per line."""
    yield '{"at": ' + json.dumps(at.isoformat()) + ', "incidents": ['
    count = 0
    for count, line in enumerate(incidents, start=1):
        yield ("\n" if count == 1 else ",\n") + line
    yield ("\n" if count else "") + '], "version": ' + str(JSON_VERSION) + "}\n"


def incident_json(
    s: IncidentStatus, evidence: Mapping[tuple[str, str], Evidence] | None = None
) -> str:
    """One incident of the JSON document, on one line."""
    return json.dumps(
        {
            "id": s.incident_id,
            "title": s.title,
            "reporting_state": s.reporting_state,
            "status": s.status,
            "priority": s.priority,
            "impact": s.current.impact,
            "urgency": s.current.urgency,
            "policy": s.policy_id,
            "reported_at": s.reported_at.isoformat(),
            "classification_history": [
                {
                    "impact": c.impact,
                    "urgency": c.urgency,
                    "priority": c.priority,
                    "until": c.until.isoformat() if c.until else None,
                    "reason": c.reason,
                }
                for c in s.history
            ],
            "milestones": [
                _milestone_json(m, (evidence or {}).get((s.incident_id, m.milestone)))
                for m in s.milestones
            ],
            "ecab": [
                {
                    "duty": d.duty,
                    "channel": d.channel,
                    "required": d.required,
                    "state": d.status.state if d.status else "not-required",
                    "due": d.status.deadline.isoformat() if d.status else None,
                    "done_at": d.status.completed_at.isoformat()
                    if d.status and d.status.completed_at
                    else None,
                }
                for d in s.ecab
            ],
        },
        sort_keys=True,
        ensure_ascii=False,
    )


def watch_items(statuses: Iterable[IncidentStatus]) -> list[tuple[IncidentStatus, MilestoneStatus]]:
    """Open milestones of incidents not closed that are late or at risk, worst first."""
    items = [
        (s, m)
        for s in statuses
        if s.status != "closed"
        for m in s.milestones
        if m.completed_at is None
        and m.state in ("at-risk", "late-within-margin", "late-beyond-margin")
    ]
    rank = {"late-beyond-margin": 0, "late-within-margin": 1, "at-risk": 2}
    return sorted(items, key=lambda i: (i[0].priority, rank[i[1].state], i[1].deadline))


def watch_text(
    items: Sequence[tuple[IncidentStatus, MilestoneStatus]],
    at: datetime,
    zones: dict[str, Any],
    *,
    markdown: bool = False,
) -> str:
    title = f"SLA watch as of {at.isoformat(timespec='minutes')}"
    if not items:
        return (
            f"## {title}\n\nNothing is late or at risk.\n"
            if markdown
            else f"{title}: nothing is late or at risk\n"
        )
    if markdown:
        lines = [
            f"## {title}",
            "",
            "| priority | incident | State | milestone | deadline | state |",
            "|---|---|---|---|---|---|",
        ]
        for s, m in items:
            lines.append(
                f"| {s.priority} | {s.incident_id} | {s.reporting_state} |"
                f" {m.milestone} | {local(m.deadline, zones[s.reporting_state])} |"
                f" {m.state} |"
            )
        return "\n".join(lines) + "\n"
    lines = [f"{title}:"]
    for s, m in items:
        lines.append(
            f"P{s.priority} {s.incident_id} {s.reporting_state} {m.milestone}"
            f" deadline {local(m.deadline, zones[s.reporting_state])} {m.state}"
        )
    return "\n".join(lines) + "\n"


def ledger_text(segments: Sequence[Segment], zone: Any) -> list[str]:
    """One line per segment with the running total of counted working time."""
    rows = [("from", "to", "counts", "total", "why")]
    total = timedelta(0)
    for segment in segments:
        if segment.counted:
            total += segment.length
        rows.append(
            (
                local(segment.start, zone),
                local(segment.end, zone),
                format_duration(segment.length) if segment.counted else "-",
                format_duration(total),
                "" if segment.counted and not segment.reason else segment.reason,
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    return [
        "  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows
    ]


def retrospective_text(rfcs: Sequence[Record], *, markdown: bool = False) -> str:
    """Emergency changes the eCAB approved that still owe the full CAB's review."""
    title = "Emergency changes awaiting the full CAB's retrospective review"
    rows = [
        (r.id, str(r.data.get("title", "")), str(r.data["decision"].get("at", ""))) for r in rfcs
    ]
    if markdown:
        lines = ["", f"### {title}", "", "| RfC | title | eCAB decision |", "|---|---|---|"]
        lines += [f"| {i} | {t} | {a} |" for i, t, a in rows]
    else:
        lines = [f"{title}:"] + [f"{i} eCAB decision {a}: {t}" for i, t, a in rows]
    return "\n".join(lines) + "\n"
