"""The service-level policy in force and the priority matrix (tables 6, 7 and 8)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from isg.errors import IsgError
from isg.sla.durations import Duration, parse_duration

LEVELS = ("high", "medium", "low")


class PolicyError(IsgError):
    """No policy applies, or a policy cannot be used."""


@dataclass(frozen=True)
class MilestoneRule:
    """One row of table 7 (targets) and table 8 (required compliance)."""

    id: str
    name: str
    targets: tuple[Duration | None, ...]  # index 0 = priority 1
    compliance: tuple[float, ...] | None
    calendar: str  # reporting-state | service-provider | 24x7
    pausable: bool

    def target(self, priority: int) -> Duration | None:
        return self.targets[priority - 1]


@dataclass(frozen=True)
class EcabRule:
    priority: int
    duty: str  # meeting | informed
    channel: str


@dataclass(frozen=True)
class Policy:
    """A versioned service-level policy."""

    id: str
    effective_from: date
    matrix: Mapping[str, Mapping[str, int]]
    milestones: tuple[MilestoneRule, ...]
    ecab: tuple[EcabRule, ...]
    margin: float
    at_risk_share: float
    max_pause: Duration | None
    evidence_threshold: Duration | None

    def ecab_rule(self, priority: int) -> EcabRule | None:
        return next((rule for rule in self.ecab if rule.priority == priority), None)

    def milestone(self, milestone_id: str) -> MilestoneRule | None:
        return next((m for m in self.milestones if m.id == milestone_id), None)


def compute_priority(policy: Policy, *, impact: str, urgency: str) -> int:
    """Priority 1 (highest) to 5 from impact and urgency through the policy's matrix.

    Impact: high = all users of all States or of one State; medium = some users; low = one
    user. Urgency: high = the system cannot be used at all; medium = the main part cannot be
    used, or can be viewed but not edited; low = another part cannot be used.
    """
    if impact not in LEVELS or urgency not in LEVELS:
        raise PolicyError(f"impact and urgency are high, medium or low, not {impact}/{urgency}")
    return int(policy.matrix[impact][urgency])


def select_policy(policies: Iterable[Policy], at: datetime | date) -> Policy:
    """The policy in force on the date of `at` (the latest `effective_from` not after it)."""
    day = at.date() if isinstance(at, datetime) else at
    candidates = [p for p in policies if p.effective_from <= day]
    if not candidates:
        raise PolicyError(f"no service-level policy is in force on {day}")
    return max(candidates, key=lambda p: (p.effective_from, p.id))


def policy_from_record(data: Mapping[str, Any]) -> Policy:
    """A `Policy` from a schema-valid service-levels record."""
    try:
        return Policy(
            id=data["id"],
            effective_from=date.fromisoformat(data["effective_from"]),
            matrix=data["priority_matrix"],
            milestones=tuple(
                MilestoneRule(
                    id=m["id"],
                    name=m["name"],
                    targets=tuple(parse_duration(t) if t else None for t in m["targets"]),
                    compliance=tuple(m["compliance"]) if m.get("compliance") else None,
                    calendar=m.get("calendar", "reporting-state"),
                    pausable=bool(m.get("pausable", False)),
                )
                for m in data["milestones"]
            ),
            ecab=tuple(
                EcabRule(e["priority"], e["duty"], e["channel"]) for e in data.get("ecab", ())
            ),
            margin=float(data["margin"]),
            at_risk_share=float(data.get("at_risk_share", 0.25)),
            max_pause=parse_duration(data["max_pause"]) if data.get("max_pause") else None,
            evidence_threshold=(
                parse_duration(data["evidence_threshold"])
                if data.get("evidence_threshold")
                else None
            ),
        )
    except (KeyError, ValueError, TypeError, IsgError) as exc:
        raise PolicyError(f"service-levels {data.get('id')}: cannot be used: {exc}") from None


def margin_time(target: timedelta, margin: float) -> timedelta:
    """The target with the Service Provider's margin: 10 minutes + 25 % = 12.5 minutes."""
    return target * (1 + margin)
