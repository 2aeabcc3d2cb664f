"""Evaluating the incidents of a registry, skipping (and naming) records that cannot be used."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from isg.errors import IsgError
from isg.model import FirstSeen, Record
from isg.records import Registry
from isg.schemas import SchemaSet
from isg.sla.context import SlaContext, build_context
from isg.sla.durations import parse_duration
from isg.sla.evidence import Evidence, judge_evidence
from isg.sla.incident import SOLUTIONS, IncidentStatus, evaluate_incident
from isg.times import parse_time

FOUNDATION_KINDS = ("state", "organisation", "service-levels")


@dataclass
class SlaRun:
    """Statuses of the incidents that could be evaluated, and why others were skipped."""

    context: SlaContext
    statuses: list[IncidentStatus] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def record_skip(self, record: Record, reason: str) -> None:
        self.skipped.append(f"{record.path}: skipped: {reason}")


def evaluate_registry(
    registry: Registry,
    schemas: SchemaSet,
    *,
    now: datetime,
    ids: Sequence[str] = (),
    known: Mapping[str, IncidentStatus] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> SlaRun:
    """Evaluate every incident (or those in `ids`) at `now`.

    `known`: statuses evaluated at another time. One of an incident closed by `now` is
    reused: once closed, nothing about an incident depends on the time it is looked at.

    States, organisations and policies must be schema-valid (else `IsgError`): every deadline
    depends on them. An invalid incident is skipped with its reason, never guessed at.
    """
    for kind in FOUNDATION_KINDS:
        for record in registry.of_kind(kind):
            if not registry.is_valid(record, schemas):
                raise IsgError(f"{record.path} is not valid; run isg validate")
    run = SlaRun(context=build_context(registry))
    wanted = set(ids)
    existing = {r.id for r in registry.of_kind("incident")}
    missing = sorted(wanted - existing)
    if missing:
        raise IsgError(f"no such incident: {', '.join(missing)}")
    incidents = sorted(registry.of_kind("incident"), key=lambda r: r.id)
    for number, record in enumerate(incidents, start=1):
        if progress and (number % 500 == 0 or number == len(incidents)):
            progress(number, len(incidents))
        if wanted and record.id not in wanted:
            continue
        if not registry.is_valid(record, schemas):
            run.record_skip(record, "not a valid incident record; run isg validate")
            continue
        reuse = known.get(record.id) if known else None
        if reuse is not None and _closed_by(record, now):
            run.statuses.append(reuse)
            continue
        try:
            run.statuses.append(evaluate_incident(record.data, run.context, now=now))
        except IsgError as exc:
            run.record_skip(record, str(exc))
    return run


def _closed_by(record: Record, now: datetime) -> bool:
    milestones = record.data.get("milestones")
    closed = parse_time(milestones.get("closed")) if isinstance(milestones, dict) else None
    return record.data.get("status") == "closed" and closed is not None and closed <= now


def collect_evidence(
    run: SlaRun, registry: Registry, first_seen: dict[tuple[str, str, datetime], FirstSeen]
) -> dict[tuple[str, str], Evidence]:
    """Judge every completed milestone against the commit that first recorded its time."""
    found: dict[tuple[str, str], Evidence] = {}
    for status in run.statuses:
        record = registry.get("incident", status.incident_id)
        policy = next(p for p in run.context.policies if p.id == status.policy_id)
        threshold_text = policy.evidence_threshold or parse_duration("1d")
        raw = (record.data.get("milestones") or {}) if record else {}
        for m in status.milestones:
            if m.completed_at is None:
                continue
            keys = SOLUTIONS if m.milestone == "solution" else (m.milestone,)
            key = next(k for k in keys if parse_time(raw.get(k)) == m.completed_at)
            calendar = run.context.calendar(m.calendar)
            found[(status.incident_id, m.milestone)] = judge_evidence(
                m.completed_at,
                first_seen.get((status.incident_id, key, m.completed_at)),
                calendar=calendar,
                threshold=threshold_text.working_time(calendar),
            )
    return found
