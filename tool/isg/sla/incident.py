"""The service-level status of one incident: every milestone and eCAB duty, at a time `now`.

States of a milestone:

* `met`: completed before its deadline;
* `late-within-margin`: completed (or still open) after the deadline but before the margin
  deadline (target x 1.25, the Service Provider's allowance for its misses);
* `late-beyond-margin`: completed or still open after the margin deadline, or never recorded
  on an incident that is closed;
* `at-risk`: open, with less than the policy's `at_risk_share` of the target left;
* `running`: open, on time.

Targets come from the priority computed from the *current* impact and urgency, counted from
`reported_at` (a reclassification re-targets from the start); the policy in force at
`reported_at` applies.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from isg.business_calendar import Span, WorkingCalendar
from isg.errors import IsgError
from isg.sla.clock import Pause, compute_deadline, elapsed_working_time
from isg.sla.context import SERVICE_PROVIDER, SlaContext
from isg.sla.policy import MilestoneRule, Policy, compute_priority, margin_time, select_policy
from isg.times import parse_time

MET, WITHIN, BEYOND, AT_RISK, RUNNING = (
    "met",
    "late-within-margin",
    "late-beyond-margin",
    "at-risk",
    "running",
)
LATE_STATES = (WITHIN, BEYOND)
STATE_RANK = {BEYOND: 0, WITHIN: 1, AT_RISK: 2, RUNNING: 3, MET: 4}  # the worst first
SOLUTIONS = ("workaround", "permanent_solution")
ECAB_MEETING = "ecab_meeting"
REGISTRATION = "registration_confirmed"


@dataclass(frozen=True)
class Clock:
    """Where one milestone's clock counts: the calendar, the start and the pauses."""

    calendar: WorkingCalendar
    start: datetime
    pauses: tuple[Pause, ...] = ()
    max_pause: timedelta | None = None
    span: Span | None = field(default=None, compare=False)  # set when there are no pauses

    def deadline(self, target: timedelta) -> datetime:
        if self.span is not None and not self.pauses:
            return self.span.deadline(target)
        return compute_deadline(
            self.calendar, self.start, target, pauses=self.pauses, max_pause=self.max_pause
        )

    def elapsed(self, end: datetime) -> timedelta:
        if self.span is not None and not self.pauses:
            return self.span.elapsed(end)
        return elapsed_working_time(
            self.calendar, self.start, end, pauses=self.pauses, max_pause=self.max_pause
        )


@dataclass(frozen=True)
class MilestoneStatus:
    """One milestone of one incident, evaluated at `now`."""

    milestone: str
    name: str
    target: str
    target_time: timedelta
    calendar: str
    deadline: datetime
    margin_deadline: datetime
    completed_at: datetime | None
    elapsed: timedelta
    state: str
    note: str = ""

    @property
    def late(self) -> bool:
        return self.state in LATE_STATES


@dataclass(frozen=True)
class EcabDuty:
    """What the eCAB is owed for a priority 1 or 2 incident, and whether it was done."""

    duty: str  # informed | meeting
    channel: str
    required: bool
    status: MilestoneStatus | None  # None: a meeting the eCAB may still decide to hold


@dataclass(frozen=True)
class Classification:
    """Impact and urgency over a period; `until` None means current."""

    impact: str
    urgency: str
    priority: int
    until: datetime | None = None
    reason: str = ""


@dataclass(frozen=True)
class IncidentStatus:
    incident_id: str
    title: str
    reporting_state: str
    status: str
    priority: int
    policy_id: str
    reported_at: datetime
    history: tuple[Classification, ...]
    milestones: tuple[MilestoneStatus, ...]
    ecab: tuple[EcabDuty, ...] = field(default_factory=tuple)
    pauses: tuple[Pause, ...] = ()  # open pauses closed at `now` (or at the closing)

    @property
    def current(self) -> Classification:
        return self.history[-1]

    @property
    def worst(self) -> str:
        """The worst state of its milestones (`met` without any): what lists show."""
        return min((m.state for m in self.milestones), key=STATE_RANK.__getitem__, default=MET)


def evaluate_state(
    *,
    deadline: datetime,
    margin_deadline: datetime,
    completed: datetime | None,
    now: datetime,
    remaining: timedelta,
    target: timedelta,
    at_risk_share: float,
) -> str:
    """The state of one milestone (see the module docstring)."""
    moment = completed if completed is not None else now
    if moment >= margin_deadline:
        return BEYOND
    if moment >= deadline:
        return WITHIN
    if completed is not None:
        return MET
    return AT_RISK if remaining < target * at_risk_share else RUNNING


def evaluate_incident(
    incident: Mapping[str, Any], context: SlaContext, *, now: datetime
) -> IncidentStatus:
    """Every milestone and eCAB duty of `incident` (a schema-valid record) at `now`."""
    reported = parse_time(incident.get("reported_at"))
    if reported is None:
        raise IsgError(f"incident {incident.get('id')}: reported_at is not a time with offset")
    policy = select_policy(context.policies, reported)
    history = classification_history(incident, policy)
    priority = history[-1].priority
    times = {k: t for k, v in (incident.get("milestones") or {}).items() if (t := parse_time(v))}
    solved = [times[k] for k in SOLUTIONS if k in times]
    if solved:
        times["solution"] = min(solved)
    closed = times.get("closed")
    pauses = tuple(
        Pause(start, parse_time(p.get("end")), p.get("waiting_on", ""), p.get("reason", "")).until(
            min(now, closed) if closed else now
        )
        for p in incident.get("pauses") or ()
        if (start := parse_time(p.get("start")))
    )
    statuses = {}
    for rule in policy.milestones:
        duration = rule.target(priority)
        if duration is None:
            continue
        ecab_rule = policy.ecab_rule(priority)
        if (
            rule.id == ECAB_MEETING
            and rule.id not in times
            and not (ecab_rule and ecab_rule.duty == "meeting")
        ):
            continue  # priority 2: the eCAB decides whether to meet
        clock = _clock(rule, policy, context, incident, reported, pauses)
        statuses[rule.id] = _milestone(
            rule, duration, clock, times.get(rule.id), closed, policy, now
        )
    return IncidentStatus(
        incident_id=str(incident.get("id")),
        title=str(incident.get("title", "")),
        reporting_state=str(incident.get("reporting_state")),
        status=str(incident.get("status")),
        priority=priority,
        policy_id=policy.id,
        reported_at=reported,
        history=history,
        milestones=tuple(statuses.values()),
        ecab=_ecab_duties(policy, priority, statuses, times, context, incident, reported, now),
        pauses=pauses,
    )


def _clock(
    rule: MilestoneRule,
    policy: Policy,
    context: SlaContext,
    incident: Mapping[str, Any],
    reported: datetime,
    pauses: tuple[Pause, ...],
) -> Clock:
    name = {
        "reporting-state": str(incident.get("reporting_state")),
        "service-provider": SERVICE_PROVIDER,
    }.get(rule.calendar, rule.calendar)
    calendar = context.calendar(name)
    if not rule.pausable or not pauses:
        return Clock(calendar, reported, span=_span(calendar, reported))
    max_pause = policy.max_pause.working_time(calendar) if policy.max_pause else None
    return Clock(calendar, reported, pauses, max_pause)


_SPANS: dict[tuple[int, datetime], tuple[WorkingCalendar, Span]] = {}


def _span(calendar: WorkingCalendar, start: datetime) -> Span:
    """One `Span` per calendar and start: every milestone of an incident shares it."""
    key = (id(calendar), start)
    found = _SPANS.get(key)
    if found is None or found[0] is not calendar:
        if len(_SPANS) > 64:
            _SPANS.clear()
        found = _SPANS[key] = (calendar, calendar.span(start))
    return found[1]


def _milestone(
    rule: MilestoneRule,
    duration: Any,
    clock: Clock,
    completed: datetime | None,
    closed: datetime | None,
    policy: Policy,
    now: datetime,
) -> MilestoneStatus:
    target = duration.working_time(clock.calendar)
    deadline = clock.deadline(target)
    margin_deadline = clock.deadline(margin_time(target, policy.margin))
    end = completed or (closed if closed else now)
    elapsed = clock.elapsed(end)
    state = evaluate_state(
        deadline=deadline,
        margin_deadline=margin_deadline,
        completed=completed,
        now=now,
        remaining=target - elapsed,
        target=target,
        at_risk_share=policy.at_risk_share,
    )
    note = ""
    if completed is None and closed is not None:
        state, note = BEYOND, "the incident was closed without it"
    return MilestoneStatus(
        milestone=rule.id,
        name=rule.name,
        target=str(duration),
        target_time=target,
        calendar=clock.calendar.name,
        deadline=deadline,
        margin_deadline=margin_deadline,
        completed_at=completed,
        elapsed=elapsed,
        state=state,
        note=note,
    )


def _ecab_duties(
    policy: Policy,
    priority: int,
    statuses: dict[str, MilestoneStatus],
    times: dict[str, datetime],
    context: SlaContext,
    incident: Mapping[str, Any],
    reported: datetime,
    now: datetime,
) -> tuple[EcabDuty, ...]:
    ecab_rule = policy.ecab_rule(priority)
    registration = policy.milestone(REGISTRATION)
    if ecab_rule is None or registration is None:
        return ()
    duties = []
    duration = registration.target(priority)
    if duration is not None:
        # "Confirm registration of the incident to the reporter (priority 1 and 2 also to
        # eCAB)": the eCAB is told on the registration's clock.
        clock = _clock(registration, policy, context, incident, reported, ())
        informed = _milestone(
            registration,
            duration,
            clock,
            times.get("ecab_informed"),
            times.get("closed"),
            policy,
            now,
        )
        duties.append(EcabDuty("informed", "e-mail", True, informed))
    meeting = statuses.get(ECAB_MEETING)
    duties.append(EcabDuty("meeting", "telephone", ecab_rule.duty == "meeting", meeting))
    return tuple(duties)


def classification_history(
    incident: Mapping[str, Any], policy: Policy
) -> tuple[Classification, ...]:
    """Earlier classifications (oldest first) and the current one last."""
    earlier = sorted(
        (r for r in incident.get("reclassifications") or () if parse_time(r.get("at"))),
        key=lambda r: parse_time(r["at"]),  # type: ignore[arg-type, return-value]
    )
    history = [
        Classification(
            r["impact"],
            r["urgency"],
            compute_priority(policy, impact=r["impact"], urgency=r["urgency"]),
            until=parse_time(r["at"]),
            reason=r.get("reason", ""),
        )
        for r in earlier
    ]
    impact, urgency = str(incident.get("impact")), str(incident.get("urgency"))
    history.append(
        Classification(impact, urgency, compute_priority(policy, impact=impact, urgency=urgency))
    )
    return tuple(history)
