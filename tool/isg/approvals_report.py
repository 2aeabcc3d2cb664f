"""An approval decision as text, Markdown (job summary) or JSON."""

from __future__ import annotations

import json
from collections.abc import Callable

from isg.approvals import ApprovalDecision, RuleResult

STATUS_CONTEXT = "cab/approval"


def headline(decision: ApprovalDecision) -> str:
    if decision.may_merge:
        return f"{STATUS_CONTEXT}: may merge"
    open_rules = [r.title for r in decision.rules if not r.satisfied]
    why = ", ".join(open_rules) if open_rules else "see the problems below"
    return f"{STATUS_CONTEXT}: may not merge yet ({why})"


def _rule_lines(rule: RuleResult, bullet: str) -> list[str]:
    mark = "OK" if rule.satisfied else "NOT YET"
    lines = [f"{mark}: {rule.title}"]
    lines += [f"{bullet}because {reason}" for reason in rule.reasons]
    lines += [
        f"{bullet}counted: {c.member} as {c.as_what}"
        + (f", approved {c.at.isoformat()}" if c.at else "")
        for c in rule.counted
    ]
    lines += [f"{bullet}not counted: {text}" for text in rule.not_counted]
    lines += [f"{bullet}missing: {text}" for text in rule.missing]
    lines += [f"{bullet}blocked: {text}" for text in rule.blockers]
    return lines


def report_text(decision: ApprovalDecision) -> str:
    lines = [headline(decision)]
    for rule in decision.rules:
        lines += _rule_lines(rule, "  ")
    lines += [f"problem: {p}" for p in decision.problems]
    lines += [f"ignored: {i}" for i in sorted(set(decision.ignored))]
    return "\n".join(lines) + "\n"


def report_markdown(decision: ApprovalDecision) -> str:
    lines = [f"## {headline(decision)}", ""]
    for rule in decision.rules:
        first, *rest = _rule_lines(rule, "- ")
        lines += [f"### {first}", "", *rest, ""]
    if decision.problems:
        lines += ["### Problems", "", *[f"- {p}" for p in decision.problems], ""]
    if decision.ignored:
        lines += ["### Ignored reviews", "", *[f"- {i}" for i in sorted(set(decision.ignored))], ""]
    return "\n".join(lines)


def report_json(decision: ApprovalDecision) -> str:
    data = {
        "context": STATUS_CONTEXT,
        "may_merge": decision.may_merge,
        "problems": decision.problems,
        "ignored": sorted(set(decision.ignored)),
        "rules": [
            {
                "name": r.name,
                "title": r.title,
                "satisfied": r.satisfied,
                "reasons": r.reasons,
                "missing": r.missing,
                "blockers": r.blockers,
                "not_counted": r.not_counted,
                "counted": [
                    {
                        "member": c.member,
                        "login": c.login,
                        "as": c.as_what,
                        "at": c.at.isoformat() if c.at else None,
                    }
                    for c in r.counted
                ],
            }
            for r in decision.rules
        ],
    }
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


APPROVAL_REPORTER_BY_NAME: dict[str, Callable[[ApprovalDecision], str]] = {
    "text": report_text,
    "markdown": report_markdown,
    "json": report_json,
}
