"""Evaluating the incidents of a registry, skipping (and naming) records that cannot be used."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from isg.errors import IsgError
from isg.forks import fork_map, worth_forking
from isg.model import FirstSeen, Record
from isg.records import Registry
from isg.schemas import SchemaSet
from isg.sla.context import SlaContext, build_context
from isg.sla.durations import parse_duration
from isg.sla.evidence import Evidence, judge_evidence
from isg.sla.incident import SOLUTIONS, IncidentStatus, evaluate_incident
from isg.times import parse_time

if TYPE_CHECKING:
    from isg.sla.memory import KeptStatus

FOUNDATION_KINDS = ("state", "organisation", "service-levels")


@dataclass
class SlaRun:
    """Statuses of the incidents that could be evaluated, and why others were skipped."""

    context: SlaContext
    statuses: list[IncidentStatus] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    selected: list[str] = field(default_factory=list)  # IDs to evaluate (select_only)
    # A digest per status reused from the SLA store (see sla.memory.SlaMemory.statuses).
    fingerprints: dict[str, bytes] = field(default_factory=dict)
    # Statuses reused from the SLA store undecoded (`evaluate_remembered(lazy=True)`).
    kept: dict[str, KeptStatus] = field(default_factory=dict)

    def record_skip(self, record: Record, reason: str) -> None:
        self.skipped.append(f"{record.path}: skipped: {reason}")


def evaluate_registry(
    registry: Registry,
    schemas: SchemaSet,
    *,
    now: datetime,
    ids: Sequence[str] = (),
    known: Mapping[str, IncidentStatus] | None = None,
    reused: Collection[str] = (),
    progress: Callable[[int, int], None] | None = None,
    select_only: bool = False,
) -> SlaRun:
    """Evaluate every incident (or those in `ids`) at `now`.

    `known`: statuses evaluated at another time. One of an incident closed by `now` is
    reused: once closed, nothing about an incident depends on the time it is looked at.
    `reused`: incidents closed by `now` whose status the caller has: neither evaluated nor
    listed.
    `select_only`: check and skip as usual, but only list the IDs to evaluate (`selected`).

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
        if select_only:
            run.selected.append(record.id)
            continue
        if record.id in reused:
            continue
        reuse = known.get(record.id) if known else None
        if reuse is not None and closed_by(record, now):
            run.statuses.append(reuse)
            continue
        try:
            run.statuses.append(evaluate_incident(record.data, run.context, now=now))
        except IsgError as exc:
            run.record_skip(record, str(exc))
    return run


class AllStatuses(Mapping[str, IncidentStatus]):
    """A run's statuses by incident, those the store kept decoded as they are asked for."""

    def __init__(self, run: SlaRun) -> None:
        self._decoded = {s.incident_id: s for s in run.statuses}
        self._kept = {i: k for i, k in run.kept.items() if i not in self._decoded}
        self._size = len(self._decoded) + len(self._kept)  # asked for once per incident

    def __getitem__(self, incident: str) -> IncidentStatus:
        found = self._decoded.get(incident)
        return found if found is not None else self._kept[incident].status()

    def __iter__(self) -> Iterator[str]:
        yield from self._decoded
        yield from self._kept

    def __len__(self) -> int:
        return self._size


def closed_by(record: Record, now: datetime) -> bool:
    """Whether the incident is closed by `now`: then nothing in its status depends on `now`."""
    return settled_by(record.data, now)


def settled_by(incident: Mapping[str, Any], now: datetime) -> bool:
    """`closed_by` of an incident's data."""
    milestones = incident.get("milestones")
    closed = parse_time(milestones.get("closed")) if isinstance(milestones, dict) else None
    return incident.get("status") == "closed" and closed is not None and closed <= now


def collect_evidence(
    run: SlaRun, registry: Registry, first_seen: dict[tuple[str, str, datetime], FirstSeen]
) -> dict[tuple[str, str], Evidence]:
    """Judge every completed milestone against the commit that first recorded its time."""
    found: dict[tuple[str, str], Evidence] = {}
    for status in run.statuses:
        record = registry.get("incident", status.incident_id)
        found.update(incident_evidence(status, record, run.context, first_seen))
    return found


def incident_evidence(
    status: IncidentStatus,
    record: Record | None,
    context: SlaContext,
    first_seen: Mapping[tuple[str, str, datetime], FirstSeen],
) -> dict[tuple[str, str], Evidence]:
    """The evidence of each completed milestone of one incident."""
    found: dict[tuple[str, str], Evidence] = {}
    policy = next(p for p in context.policies if p.id == status.policy_id)
    threshold_text = policy.evidence_threshold or parse_duration("1d")
    raw = (record.data.get("milestones") or {}) if record else {}
    for m in status.milestones:
        if m.completed_at is None:
            continue
        keys = SOLUTIONS if m.milestone == "solution" else (m.milestone,)
        key = next(k for k in keys if parse_time(raw.get(k)) == m.completed_at)
        calendar = context.calendar(m.calendar)
        found[(status.incident_id, m.milestone)] = judge_evidence(
            m.completed_at,
            first_seen.get((status.incident_id, key, m.completed_at)),
            calendar=calendar,
            threshold=threshold_text.working_time(calendar),
        )
    return found


# --- sharing the work out -------------------------------------------------------------------

PARALLEL_FROM = 1500  # fewer incidents than this are not worth starting processes for
CHUNK = 250
_WORKER: dict[str, Any] = {}
Encode = Callable[[IncidentStatus, Record, SlaContext], str]


@dataclass(frozen=True)
class Encoded:
    """One incident's text as `encode_incidents` made it, or why it was skipped."""

    record: Record | None  # None for a record skipped before evaluation (invalid)
    text: str | None
    skip: str | None
    reused: bool = False  # the text came from `known`


def encode_incidents(
    registry: Registry,
    schemas: SchemaSet,
    *,
    now: datetime,
    encode: Encode,
    ids: Sequence[str] = (),
    known: Mapping[str, str] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Iterator[Encoded]:
    """encode(status, record, context) for each incident evaluated at `now`, or why it was
    skipped, in ID order, as `evaluate_registry` would evaluate them; for an incident in
    `known`, that text, without evaluating it.

    The point is the output, not the statuses: with many incidents the evaluation and the
    encoding are shared out over forked processes, which send back only text (sending the
    statuses back would cost more than evaluating them: pickling 10,000 took 3.7 s).
    """
    run = evaluate_registry(registry, schemas, now=now, ids=ids, known={}, select_only=True)
    for reason in run.skipped:
        yield Encoded(None, None, reason)
    known = known or {}
    records = [registry.get("incident", rid) for rid in run.selected]
    todo = [record for record in records if record is not None and record.id not in known]
    fresh = _encoded(todo, run.context, now, encode)
    for number, record in enumerate(records, start=1):
        assert record is not None
        if progress and (number % 500 == 0 or number == len(records)):
            progress(number, len(records))
        if record.id in known:
            yield Encoded(record, known[record.id], None, reused=True)
        else:
            text, skip = next(fresh)
            yield Encoded(record, text, skip)


def _encoded(
    records: list[Record], context: SlaContext, now: datetime, encode: Encode
) -> Iterator[tuple[str | None, str | None]]:
    """(text, None) or (None, why skipped) for each record, in order; over forked processes
    when there are many."""
    if not worth_forking(len(records), PARALLEL_FROM):
        _WORKER.update(context=context, now=now, encode=encode)
        for record in records:
            yield _encode_one(record)
        return
    # The workers inherit the records (fork) and are sent only where their chunk starts.
    starts = range(0, len(records), CHUNK)
    setup = (records, context, now, encode)
    for lines in fork_map(_encode_chunk, starts, initializer=_init_worker, initargs=setup):
        yield from lines


def _init_worker(records: list[Record], context: SlaContext, now: datetime, encode: Encode) -> None:
    _WORKER.update(records=records, context=context, now=now, encode=encode)


def _encode_chunk(start: int) -> list[tuple[str | None, str | None]]:
    return [_encode_one(record) for record in _WORKER["records"][start : start + CHUNK]]


def _encode_one(record: Record) -> tuple[str | None, str | None]:
    try:
        status = evaluate_incident(record.data, _WORKER["context"], now=_WORKER["now"])
    except IsgError as exc:
        return None, f"{record.path}: skipped: {exc}"
    return _WORKER["encode"](status, record, _WORKER["context"]), None
