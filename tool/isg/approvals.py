"""Whether a pull request may merge: the governance rules applied to its reviews.

`evaluate_approvals` is a pure function. Its inputs are values: the registry at the base (the
trusted one: membership, roles and rules are read from it, so a pull request cannot make its
author a CAB member and then count), the registry at the head, the paths the pull request
changes, the reviews, the author and pushers, and the time.

What the pull request changes decides the rules (from the `governance` record):

* a record of kind K: the rule `kinds[K]`; an RfC whose status becomes approved or rejected:
  `rfc_decisions[type]` (both types' rules if the type changes too);
* a path under `protected_paths`: that rule; any other path: `default_rule`;
* a State's member may change only that State's records (incidents it reported, RfCs it
  requested, its members and its State record);
* a local change is requested by a member of that State, and cannot be marked implemented in
  the pull request that approves it.

Review semantics:

* only each reviewer's latest approving or blocking review counts; a later comment does not
  cancel an approval, a dismissal does;
* an approval counts for a rule if it was given on the head commit, or on an earlier commit
  when none of the paths that need the rule changed since;
* the author's and the pushers' approvals never count; reviewers are matched to members by
  numeric GitHub id; deleted accounts and non-members are ignored (and listed);
* within a rule a person fills one requirement; States count as States, not people;
* consensus: an outstanding "changes requested" from a member holding the rule's consensus role
  blocks.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from isg.errors import IsgError
from isg.github_api import APPROVED, CHANGES_REQUESTED, DISMISSED, Review
from isg.governance import Seat, seats
from isg.layout import RECORDS_DIR
from isg.model import KIND_BY_DIRECTORY, Record
from isg.records import Registry

# Which State owns a record of each kind (absent: no State owns it).
STATE_FIELD = {"state": "id", "incident": "reporting_state", "rfc": "requester", "member": "state"}
DECIDED = ("approved", "rejected")
AFFILIATION_NAMES = {"permanent-bureau": "Permanent Bureau", "service-provider": "Service Provider"}

ChangedSince = Callable[[str], frozenset[str] | None]


class ApprovalRulesError(IsgError):
    """The base has no usable governance record."""


@dataclass(frozen=True)
class PullRequest:
    """The facts about a pull request that are not reviews."""

    author: str
    head_sha: str
    pushers: tuple[str, ...] = ()
    number: int | None = None


@dataclass(frozen=True)
class Counted:
    """One approval that counted, and what for."""

    member: str
    login: str
    as_what: str
    at: datetime | None


@dataclass
class RuleResult:
    """One rule that applies to the pull request, and how far its approvals go."""

    name: str
    title: str
    reasons: list[str] = field(default_factory=list)
    paths: set[str] = field(default_factory=set)
    counted: list[Counted] = field(default_factory=list)
    not_counted: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    blockers: list[str] = field(default_factory=list)

    @property
    def satisfied(self) -> bool:
        return not self.missing and not self.blockers


@dataclass
class ApprovalDecision:
    """The whole answer: may the pull request merge, and why (not)."""

    rules: list[RuleResult] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)

    @property
    def may_merge(self) -> bool:
        return not self.problems and all(rule.satisfied for rule in self.rules)


@dataclass(frozen=True)
class Standing:
    """A reviewer's latest approving or blocking review."""

    review: Review
    member: Record
    seat_roles: tuple[Seat, ...]


def evaluate_approvals(
    *,
    base: Registry,
    head: Registry,
    changed_paths: Iterable[str],
    reviews: Iterable[Review],
    pull_request: PullRequest,
    changed_since: ChangedSince,
    at: datetime,
) -> ApprovalDecision:
    """Decide whether the pull request may merge (see the module docstring for the rules)."""
    rules_record = _rules_record(base)
    decision = ApprovalDecision()
    results: dict[str, RuleResult] = {}
    author = _member_by_login(base, pull_request.author)
    for path in sorted(set(changed_paths)):
        for rule_name, reason in _rules_for_path(path, base, head, rules_record, author, decision):
            result = results.get(rule_name)
            if result is None:
                result = RuleResult(rule_name, _rule(rules_record, rule_name)["title"])
                results[rule_name] = result
            result.reasons.append(f"{path}: {reason}")
            result.paths.add(path)
    standings = _standings(base, reviews, pull_request, decision)
    for result in results.values():
        _evaluate_rule(
            result,
            _rule(rules_record, result.name),
            standings,
            base,
            changed_since,
            pull_request,
            at,
        )
    decision.rules = sorted(results.values(), key=lambda r: r.name)
    return decision


def _rules_record(base: Registry) -> Mapping[str, Any]:
    records = base.of_kind("governance")
    if not records:
        raise ApprovalRulesError("the base branch has no governance record (records/governance/)")
    return max(records, key=lambda r: (str(r.data.get("effective_from")), r.id)).data


def _rule(rules: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    try:
        rule: Mapping[str, Any] = rules["rules"][name]
    except KeyError:
        raise ApprovalRulesError(f"the governance record names an unknown rule '{name}'") from None
    return rule


def _member_by_login(registry: Registry, login: str) -> Record | None:
    for member in registry.of_kind("member"):
        github = member.data.get("github") or {}
        if str(github.get("login", "")).lower() == login.lower():
            return member
    return None


# --- which rules apply -----------------------------------------------------------------------


def _rules_for_path(
    path: str,
    base: Registry,
    head: Registry,
    rules: Mapping[str, Any],
    author: Record | None,
    decision: ApprovalDecision,
) -> list[tuple[str, str]]:
    parts = path.split("/")
    if parts[0] != RECORDS_DIR:
        for entry in rules.get("protected_paths") or ():
            guarded = entry["path"]
            if path == guarded or (guarded.endswith("/") and path.startswith(guarded)):
                return [(entry["rule"], f"{guarded} is protected")]
        return [(rules["default_rule"], "changed")]
    kind = KIND_BY_DIRECTORY.get(parts[1]) if len(parts) == 3 else None
    if kind is None:
        return [(rules["default_rule"], "changed")]
    if not path.endswith(".yaml"):  # a local change's patch belongs to its RfC
        return [(rules["kinds"].get(kind.name, rules["default_rule"]), f"{kind.name} attachment")]
    before = base.by_path().get(path)
    after = head.by_path().get(path)
    _check_ownership(path, before, after, author, decision)
    if kind.name == "rfc" and after is not None:
        decided = _rfc_decision_rules(path, before, after, rules, author, decision)
        if decided:
            return decided
    verb = "new" if before is None else ("deleted" if after is None else "changed")
    return [(rules["kinds"].get(kind.name, rules["default_rule"]), f"{kind.name} {verb}")]


def _rfc_decision_rules(
    path: str,
    before: Record | None,
    after: Record,
    rules: Mapping[str, Any],
    author: Record | None,
    decision: ApprovalDecision,
) -> list[tuple[str, str]]:
    old_status = before.status if before else None
    data = after.data
    if data.get("scope") == "local":
        requester = data.get("requester")
        if before is None and (author is None or author.data.get("state") != requester):
            decision.problems.append(
                f"{path}: a local change must come from a member of {requester};"
                " the author is not one"
            )
        if after.status == "implemented" and old_status not in ("approved", "scheduled"):
            decision.problems.append(
                f"{path}: a local change cannot be marked implemented before the Service"
                " Provider's approval has been merged"
            )
    if after.status not in DECIDED or after.status == old_status:
        return []
    types = {str(data.get("type"))}
    if before is not None and before.data.get("type"):
        types.add(str(before.data["type"]))  # a type changed in the same PR: both rules
    found = []
    for change_type in sorted(types):
        name = rules["rfc_decisions"].get(change_type)
        if name is None:
            raise ApprovalRulesError(f"no rule decides RfCs of type '{change_type}'")
        found.append((name, f"RfC {after.id} becomes {after.status} ({change_type} change)"))
    return found


def _owner_state(record: Record | None) -> str | None:
    if record is None or record.kind.name not in STATE_FIELD:
        return None
    value = record.data.get(STATE_FIELD[record.kind.name])
    return value if isinstance(value, str) and len(value) == 2 else None


def _check_ownership(
    path: str,
    before: Record | None,
    after: Record | None,
    author: Record | None,
    decision: ApprovalDecision,
) -> None:
    author_state = author.data.get("state") if author else None
    if not author_state:
        return
    for record in (before, after):
        owner = _owner_state(record)
        if owner and owner != author_state:
            decision.problems.append(
                f"{path}: belongs to {owner}; a member of {author_state} may change only"
                f" {author_state}'s records"
            )
            return


# --- reviews ---------------------------------------------------------------------------------


def _standings(
    base: Registry,
    reviews: Iterable[Review],
    pull_request: PullRequest,
    decision: ApprovalDecision,
) -> list[Standing]:
    """Each member's latest approving or blocking review, in review order."""
    excluded = {login.lower() for login in (pull_request.author, *pull_request.pushers)}
    members = {(m.data.get("github") or {}).get("id"): m for m in base.of_kind("member")}
    latest: dict[int, Review | None] = {}
    for review in reviews:
        if review.user_id is None:
            decision.ignored.append(f"review {review.review_id}: deleted account")
            continue
        if review.user_id not in members:
            decision.ignored.append(f"{review.login}: not a member of the registry")
            continue
        if review.state in (APPROVED, CHANGES_REQUESTED):
            latest[review.user_id] = review
        elif review.state == DISMISSED:
            latest[review.user_id] = None
    standings = []
    for user_id, standing_review in latest.items():
        if standing_review is None:
            continue
        review = standing_review
        member = members[user_id]
        login = str((member.data.get("github") or {}).get("login", ""))
        if (review.login and review.login.lower() in excluded) or login.lower() in excluded:
            if review.state == APPROVED:
                decision.ignored.append(
                    f"{review.login}: the author's or a pusher's own approval does not count"
                )
            continue
        standings.append(Standing(review, member, member_seats(base, member)))
    return sorted(
        standings,
        key=lambda s: (s.review.submitted_at is None, s.review.submitted_at, s.review.review_id),
    )


_ROLES = (
    "governing-body",
    "cab",
    "ecab",
    "helpdesk",
    "release-manager",
    "service-level-manager",
    "csi-manager",
    "coordinator",
)


def _affiliation(member: Record, base: Registry) -> tuple[str | None, str | None]:
    """('state', 'FR') / ('permanent-bureau', None) / ('service-provider', None)."""
    data = member.data
    if isinstance(data.get("state"), str):
        return "state", data["state"]
    organisation = base.get("organisation", str(data.get("organisation")))
    return (organisation.data.get("type") if organisation else None), None


def _holds(member_seats: Iterable[Seat], requirement: Mapping[str, Any], at: datetime) -> bool:
    role = requirement.get("role")
    if role is None:
        return True
    for seat in member_seats:
        if seat.role.get("role") != role or not seat.active_on(at.date()):
            continue
        if requirement.get("voting") and seat.role.get("voting") is not True:
            continue
        if requirement.get("on_duty") and not seat.on_duty_in(f"{at.year}-{at.month:02d}"):
            continue
        return True
    return False


# --- evaluating one rule ---------------------------------------------------------------------


def _evaluate_rule(
    result: RuleResult,
    rule: Mapping[str, Any],
    standings: list[Standing],
    base: Registry,
    changed_since: ChangedSince,
    pull_request: PullRequest,
    at: datetime,
) -> None:
    consensus_role = (rule.get("consensus") or {}).get("role")
    fresh = []
    for standing in standings:
        review = standing.review
        if review.state == CHANGES_REQUESTED:
            if consensus_role and _holds(standing.seat_roles, {"role": consensus_role}, at):
                result.blockers.append(
                    f"changes requested by {standing.member.id} ({_describe(standing, base)})"
                )
        elif _is_fresh(review, result.paths, pull_request, changed_since):
            fresh.append(standing)
        else:
            result.not_counted.append(
                f"{standing.member.id} approved commit {(review.commit_id or 'unknown')[:12]};"
                " the files this rule guards changed since, so it must be given again"
            )
    used: set[str] = set()
    for requirement in rule["requires"]:
        _fill(result, requirement, fresh, used, base, at)


def _is_fresh(
    review: Review, paths: set[str], pull_request: PullRequest, changed_since: ChangedSince
) -> bool:
    if review.commit_id is None:
        return False
    if review.commit_id == pull_request.head_sha:
        return True
    changed = changed_since(review.commit_id)
    return changed is not None and not (changed & paths)


def _fill(
    result: RuleResult,
    requirement: Mapping[str, Any],
    fresh: list[Standing],
    used: set[str],
    base: Registry,
    at: datetime,
) -> None:
    affiliation = requirement["affiliation"]
    need = int(requirement["count"])
    states: set[str] = set()
    taken = 0
    for standing in fresh:
        if standing.member.id in used or not _holds(standing.seat_roles, requirement, at):
            continue
        kind, state = _affiliation(standing.member, base)
        if kind != affiliation:
            continue
        if affiliation == "state":
            if state in states:
                continue  # States count as States, not people
            states.add(str(state))
        used.add(standing.member.id)
        taken += 1
        result.counted.append(
            Counted(
                member=standing.member.id,
                login=str((standing.member.data.get("github") or {}).get("login", "")),
                as_what=_requirement_label(requirement, state),
                at=standing.review.submitted_at,
            )
        )
        if taken == need:
            return
    result.missing.append(_missing_text(requirement, need - taken))


def _requirement_label(requirement: Mapping[str, Any], state: str | None) -> str:
    who = f"State {state}" if state else AFFILIATION_NAMES.get(requirement["affiliation"], "")
    role = requirement.get("role")
    return f"{who} ({role})" if role else who


def _missing_text(requirement: Mapping[str, Any], count: int) -> str:
    role = requirement.get("role")
    qualifiers = []
    if role:
        qualifiers.append(f"holding the {role} role")
    if requirement.get("on_duty"):
        qualifiers.append("on eCAB duty this month")
    if requirement.get("voting"):
        qualifiers.append("with a vote")
    tail = f" {' and '.join(qualifiers)}" if qualifiers else ""
    if requirement["affiliation"] == "state":
        noun = "State" if count == 1 else "States"
        return f"{count} more {noun} (one representative each){tail}"
    who = AFFILIATION_NAMES[requirement["affiliation"]]
    return f"{count} more {who} member{'s' if count > 1 else ''}{tail}"


def _describe(standing: Standing, base: Registry) -> str:
    kind, state = _affiliation(standing.member, base)
    return f"State {state}" if kind == "state" else AFFILIATION_NAMES.get(str(kind), str(kind))


def member_seats(base: Registry, member: Record) -> tuple[Seat, ...]:
    """Every role `member` holds, as seats."""
    return tuple(s for role in _ROLES for s in seats(base, role) if s.member == member)


def eligible_members(base: Registry, rule_name: str, at: datetime) -> list[Record]:
    """Members who could fill some requirement of the rule at `at` (for CODEOWNERS).

    The monthly eCAB rota is left out, so the list changes only when roles do.
    """
    rule = _rule(_rules_record(base), rule_name)
    requirements = [{k: v for k, v in req.items() if k != "on_duty"} for req in rule["requires"]]
    found = []
    for member in base.of_kind("member"):
        held = member_seats(base, member)
        kind, _ = _affiliation(member, base)
        if any(kind == req["affiliation"] and _holds(held, req, at) for req in requirements):
            found.append(member)
    return found


def rules_record(base: Registry) -> Mapping[str, Any]:
    """The governance record in force (the one with the latest effective_from)."""
    return _rules_record(base)


def decided_rfcs(decision: ApprovalDecision, head: Registry) -> dict[str, list[Counted]]:
    """For each RfC the pull request approved or rejected: the approvals that decided it."""
    found: dict[str, list[Counted]] = {}
    for rule in decision.rules:
        for reason in rule.reasons:
            path, _, text = reason.partition(": ")
            record = head.by_path().get(path)
            if record is None or record.kind.name != "rfc" or " becomes " not in text:
                continue
            found.setdefault(path, []).extend(rule.counted)
    return found


def with_recorded_approvals(
    rfc: Mapping[str, Any], approvals: Iterable[Counted], *, pull_request: int
) -> dict[str, Any]:
    """The RfC's data with `decision.pull_request` and `decision.approvals` filled in."""
    data = copy.deepcopy(dict(rfc))
    decision = data.setdefault("decision", {})
    decision["pull_request"] = pull_request
    decision["approvals"] = [
        {"member": c.member, "as": c.as_what, **({"at": c.at.isoformat()} if c.at else {})}
        for c in approvals
    ]
    return data


def owed_retrospective_reviews(registry: Registry) -> list[Record]:
    """Emergency RfCs decided by the eCAB that the full CAB has not reviewed yet."""
    return [
        r
        for r in sorted(registry.of_kind("rfc"), key=lambda r: r.id)
        if r.data.get("type") == "emergency"
        and isinstance(r.data.get("decision"), dict)
        and r.data["decision"].get("outcome") == "approved"
        and not r.data["decision"].get("retrospective_review")
    ]
