"""Allowed status changes between a base revision and the working tree.

Records are never deleted: they are closed, rejected or withdrawn and keep their ID. A new
record starts in one of its kind's initial statuses; every later change of status must be a
transition listed here (staying in the same status is always allowed). A closed incident is
frozen: its classification and milestones no longer change.
"""

from __future__ import annotations

from collections.abc import Iterator

from isg.model import Finding, Record, record_finding
from isg.records import Registry

TRANSITIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "incident": {
        "reported": ("registered", "closed"),
        "registered": ("in-progress", "on-hold", "resolved"),
        "in-progress": ("on-hold", "resolved"),
        "on-hold": ("in-progress", "resolved"),
        "resolved": ("closed", "in-progress"),  # back to in-progress = reopened
        "closed": (),
    },
    "rfc": {
        "submitted": ("assessed", "withdrawn"),
        "assessed": ("approved", "rejected", "withdrawn"),
        "approved": ("scheduled", "implemented", "withdrawn"),
        "scheduled": ("implemented", "approved", "withdrawn"),
        "implemented": ("reviewed",),
        "reviewed": ("closed",),
        "rejected": (),
        "closed": (),
        "withdrawn": (),
    },
    "problem": {
        "open": ("known-error", "resolved", "closed"),
        "known-error": ("resolved", "closed"),
        "resolved": ("closed", "open"),
        "closed": (),
    },
    "known-error": {"open": ("fixed",), "fixed": ()},
    "release": {
        "planned": ("testing", "cancelled"),
        "testing": ("released", "planned", "cancelled"),
        "released": (),
        "cancelled": (),
    },
    "improvement": {"open": ("closed",), "closed": ("open",)},
}
INITIAL: dict[str, tuple[str, ...]] = {
    "incident": ("reported", "registered", "in-progress"),
    "rfc": ("submitted",),
    "problem": ("open",),
    "known-error": ("open",),
    "release": ("planned",),
    "improvement": ("open",),
}
FROZEN_WHEN_CLOSED = ("reported_at", "impact", "urgency", "milestones", "reporting_state")


def check_lifecycle(base: Registry, head: Registry) -> Iterator[Finding]:
    """Every finding about how `head` changed `base` (deletions, status jumps, frozen fields)."""
    head_by_path = head.by_path()
    for old in base.records:
        if old.path not in head_by_path:
            yield Finding(
                path=old.path,
                line=1,
                column=1,
                rule="lifecycle",
                message=f"{old.kind.name} {old.id} was deleted; records are never deleted",
                hint="restore the file and set its status to closed or withdrawn",
            )
    base_by_path = base.by_path()
    for new in head.records:
        old_record = base_by_path.get(new.path)
        if old_record is None:
            yield from _check_new(new)
        else:
            yield from _check_change(old_record, new)


def _check_new(record: Record) -> Iterator[Finding]:
    initial = INITIAL.get(record.kind.name)
    if initial and record.status is not None and record.status not in initial:
        yield record_finding(
            record,
            ("status",),
            f"a new {record.kind.name} starts as {' or '.join(initial)}, not {record.status}",
            rule="lifecycle",
        )


def _check_change(old: Record, new: Record) -> Iterator[Finding]:
    table = TRANSITIONS.get(new.kind.name)
    before, after = old.status, new.status
    if table and before in table and after is not None and after != before:
        allowed = table[before]
        if after not in allowed:
            hint = (
                f"from {before} it can go to {', '.join(allowed)}"
                if allowed
                else (f"{before} is final")
            )
            yield record_finding(
                new,
                ("status",),
                f"status cannot change from {before} to {after}",
                rule="lifecycle",
                hint=hint,
            )
    if new.kind.name == "incident" and before == "closed":
        for field in FROZEN_WHEN_CLOSED:
            if old.data.get(field) != new.data.get(field):
                yield record_finding(
                    new,
                    (field,),
                    f"{field} of a closed incident cannot change",
                    rule="lifecycle",
                    hint="open a new incident that refers to this one",
                )
