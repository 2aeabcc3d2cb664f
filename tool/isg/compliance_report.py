"""Assembling the Service Level Report and writing it as Markdown, JSON or HTML (with SVG)."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from html import escape
from typing import Any

from isg.compliance import (
    JUDGED,
    ComplianceReport,
    Span,
    count_quality,
    count_quantity,
    incident_spans,
    judge_milestones,
    year_end,
)
from isg.records import Registry
from isg.schemas import SchemaSet
from isg.sla.incident import IncidentStatus
from isg.sla.policy import select_policy
from isg.sla.run import evaluate_registry
from isg.times import parse_time

POPULATION_RULE = (
    "A milestone belongs to the year (UTC) in which its deadline falls and is judged at the"
    " end of that year (or now, if the year is not over); milestones not yet due are left out;"
    " one still open past its deadline counts as missed; one never recorded on a closed"
    " incident is missed beyond the margin."
)
MILESTONE_NAMES = {
    "registration_confirmed": "registration confirmed",
    "initial_documentation": "initial doc.",
    "analysis": "analysis",
    "solution": "solution",
    "knowledge_documented": "knowledge",
}


@dataclass(frozen=True)
class ReportBasis:
    """What a yearly report reads of every incident, RfC and problem, read once when many
    years are reported (the site reports every year: each was a pass over all incidents)."""

    incidents: list[dict[str, Any]]
    rfcs: list[dict[str, Any]]
    problems: list[dict[str, Any]]
    spans: list[Span]
    reported_in: dict[int, list[str]]  # year of `reported_at` as written -> incident IDs

    @classmethod
    def of(cls, registry: Registry) -> ReportBasis:
        incidents = [r.data for r in registry.of_kind("incident")]
        reported_in: dict[int, list[str]] = defaultdict(list)
        for record in registry.of_kind("incident"):
            when = parse_time(record.data.get("reported_at"))
            if when is not None:
                reported_in[when.year].append(record.id)
        return cls(
            incidents=incidents,
            rfcs=[r.data for r in registry.of_kind("rfc")],
            problems=[r.data for r in registry.of_kind("problem")],
            spans=incident_spans(incidents),
            reported_in=dict(reported_in),
        )


def build_report(
    registry: Registry,
    schemas: SchemaSet,
    *,
    year: int,
    now: datetime,
    reopened: set[str] | None,
    commit: str | None,
    known: Mapping[str, IncidentStatus] | None = None,
    basis: ReportBasis | None = None,
) -> ComplianceReport:
    """The Service Level Report of `year` as the registry says at `now`.

    `known`: statuses already evaluated at another time (see `evaluate_registry`).
    `basis`: `ReportBasis.of(registry)`, when already made for other years."""
    basis = basis or ReportBasis.of(registry)
    at = min(now, year_end(year))
    # Deadlines are at most weeks after the report: only incidents reported in the year or
    # the one before can have a milestone due in it, so only those are evaluated.
    relevant = basis.reported_in.get(year - 1, []) + basis.reported_in.get(year, [])
    run = evaluate_registry(registry, schemas, now=at, ids=relevant, known=known)
    policy = select_policy(run.context.policies, at)
    return ComplianceReport(
        year=year,
        at=at,
        policy=policy.id,
        commit=commit,
        cells=judge_milestones(year=year, statuses=run.statuses, policy=policy),
        quantity=count_quantity(
            year=year,
            at=at,
            incidents=basis.incidents,
            rfcs=basis.rfcs,
            priorities={s.incident_id: s.priority for s in run.statuses},
            spans=basis.spans,
        ),
        quality=count_quality(
            year=year,
            incidents=basis.incidents,
            rfcs=basis.rfcs,
            problems=basis.problems,
            reopened=reopened,
        ),
    )


def report_dict(report: ComplianceReport) -> dict[str, Any]:
    return {
        "year": report.year,
        "as_of": report.at.isoformat(),
        "commit": report.commit,
        "policy": report.policy,
        "population_rule": POPULATION_RULE,
        "verdict": report.verdict,
        "cells": [
            {
                "priority": c.priority,
                "milestone": c.milestone,
                "required": c.required,
                "due": c.due,
                "met": c.met,
                "missed_within_margin": c.within_margin,
                "missed_beyond_margin": c.beyond_margin,
                "share_met": round(c.share, 4) if c.share is not None else None,
                "verdict": c.verdict,
                "breach_budget": c.breach_budget,
            }
            for c in report.cells
        ],
        "quantity": report.quantity,
        "quality": report.quality,
    }


def report_json(report: ComplianceReport) -> str:
    return json.dumps(report_dict(report), indent=2, sort_keys=True) + "\n"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.0f} %"


def report_markdown(report: ComplianceReport) -> str:
    lines = [
        f"# Service Level Report {report.year}",
        "",
        f"As of {report.at.isoformat()}; policy {report.policy};"
        f" computed from commit {report.commit or 'unknown'}.",
        "",
        f"**Overall: {report.verdict.upper()}**",
        "",
        f"Population rule: {POPULATION_RULE}",
        "",
        "| priority | milestone | due | met | share met | required | missed within margin |"
        " missed beyond margin | verdict | can still miss |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for c in report.cells:
        lines.append(
            f"| {c.priority} | {MILESTONE_NAMES[c.milestone]} | {c.due} | {c.met} |"
            f" {_pct(c.share)} | {_pct(c.required)} | {c.within_margin} | {c.beyond_margin} |"
            f" {c.verdict} | {c.breach_budget if c.verdict == 'pass' else 0} |"
        )
    lines += ["", "## Quantity", ""]
    lines += [f"- {key.replace('_', ' ')}: {value}" for key, value in report.quantity.items()]
    lines += ["", "## Quality", ""]
    lines += [
        f"- {key.replace('_', ' ')}: {'unknown (not a git checkout)' if value is None else value}"
        for key, value in report.quality.items()
    ]
    return "\n".join(lines) + "\n"


NAMESPACE = ' xmlns="http://www.w3.org/2000/svg"'
COLOURS = {"pass": "#2e7d32", "fail": "#c62828", "none due": "#9e9e9e"}


def compliance_svg(report: ComplianceReport, *, inline: bool = False) -> str:
    """Share met per cell as bars, with the required share as a tick; colour = verdict.

    `inline` leaves out the XML namespace, which an SVG inside an HTML page does not need.
    """
    width, row = 760, 26
    height = 60 + 5 * row + 30
    col = (width - 80) // len(JUDGED)
    parts = [
        f'<svg{"" if inline else NAMESPACE} width="{width}" height="{height}"'
        f' viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12" role="img"'
        f' aria-labelledby="c-title"><title id="c-title">Service level compliance'
        f" {report.year}: {escape(report.verdict)}</title>",
    ]
    for i, milestone in enumerate(JUDGED):
        parts.append(
            f'<text x="{80 + i * col + col // 2}" y="40" text-anchor="middle">'
            f"{escape(MILESTONE_NAMES[milestone])}</text>"
        )
    for c in report.cells:
        x = 80 + JUDGED.index(c.milestone) * col
        y = 50 + (c.priority - 1) * row
        if c.milestone == JUDGED[0]:
            parts.append(f'<text x="10" y="{y + 16}">priority {c.priority}</text>')
        bar = int((col - 12) * (c.share or 0))
        tick = x + 4 + int((col - 12) * c.required)
        tip = (
            f"P{c.priority} {c.milestone}: {c.met}/{c.due} met ({_pct(c.share)}),"
            f" required {_pct(c.required)}: {c.verdict}"
        )
        parts.append(
            f'<g><title>{escape(tip)}</title><rect x="{x + 4}" y="{y + 4}" width="{col - 12}"'
            f' height="{row - 8}" fill="#eeeeee"/><rect x="{x + 4}" y="{y + 4}" width="{bar}"'
            f' height="{row - 8}" fill="{COLOURS[c.verdict]}" data-verdict="{c.verdict}"/>'
            f'<line x1="{tick}" y1="{y + 1}" x2="{tick}" y2="{y + row - 1}" stroke="#000"/></g>'
        )
    parts.append(
        f'<text x="10" y="{height - 10}">bar: share met; tick: required share;'
        " green pass, red fail, grey none due</text></svg>"
    )
    return "\n".join(parts) + "\n"
