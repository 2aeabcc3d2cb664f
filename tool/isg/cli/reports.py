"""Governing Body reports: report sla, release status/notes, fees."""

from __future__ import annotations

import csv
import io
import json
import sys
from datetime import datetime
from pathlib import Path

import click
from markupsafe import Markup

from isg.cli.common import cli, library_errors, load_registry, parse_at, registry_root, repo_option
from isg.compliance import ComplianceReport
from isg.compliance_report import (
    build_report,
    compliance_svg,
    report_dict,
    report_json,
    report_markdown,
)
from isg.errors import UsageError
from isg.fees import FeesReport, compute_fees
from isg.git_history import read_record_files_at, reopened_incidents, resolve_commit
from isg.records import Registry, parse_registry
from isg.releases import calendar_check, installation_status, release_notes
from isg.render.builder import make_environment
from isg.render.pages import Page
from isg.schemas import load_schemas


@cli.group("report")
def report_group() -> None:
    """Reports for the Permanent Bureau and the Governing Body.

    \b
    Example:
      isg report sla --year 2026 --format md
    """


def _sla_report(root: Path, registry: Registry, year: int, now: datetime, ref: str) -> dict:  # type: ignore[type-arg]
    report = build_report(
        registry,
        load_schemas(root),
        year=year,
        now=now,
        reopened=reopened_incidents(root, year),
        commit=resolve_commit(root, ref),
    )
    return {"report": report, "dict": report_dict(report)}


@report_group.command("sla")
@click.option("--year", type=click.IntRange(2000, 2100), required=True)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["md", "json", "html", "svg"]),
    default="md",
    show_default=True,
)
@click.option("--at", metavar="ISO", help="Judge as of this time (default now).")
@click.option(
    "--verify",
    "verify_ref",
    metavar="REF",
    help="Recompute the report from the records at REF and say whether it matches.",
)
@repo_option
@library_errors
def sla_report_command(
    year: int, fmt: str, at: str | None, verify_ref: str | None, repo: Path | None
) -> None:
    """Table 8 for a year: per priority and milestone, due, met, share against the required
    share, misses within and beyond the 25 % margin, verdicts, breach budget; quantity and
    quality figures. The report records the commit it was computed from.

    \b
    Example:
      isg report sla --year 2026 --format json > sla-2026.json
      isg report sla --year 2026 --verify v2026-q4      # recompute at a tag, compare
    """
    now = parse_at(at)
    root = registry_root(repo)
    current = _sla_report(root, load_registry(root), year, now, "HEAD")
    if verify_ref:
        then = _sla_report(
            root, parse_registry(read_record_files_at(root, verify_ref)), year, now, verify_ref
        )
        mine = {k: v for k, v in current["dict"].items() if k != "commit"}
        theirs = {k: v for k, v in then["dict"].items() if k != "commit"}
        if mine == theirs:
            click.echo(
                f"matches: the {year} report at {verify_ref} ({then['dict']['commit']})"
                " is the same as from the working tree"
            )
            return
        changed = sorted(k for k in mine if mine[k] != theirs.get(k))
        click.echo(f"differs from {verify_ref} in: {', '.join(changed)}")
        sys.exit(1)
    report = current["report"]
    if fmt == "json":
        click.echo(report_json(report), nl=False)
    elif fmt == "svg":
        click.echo(compliance_svg(report), nl=False)
    elif fmt == "html":
        env = make_environment(root / "site")
        page = env.get_template("report.html.j2")
        click.echo(page.render(**report_page_context(report)), nl=False)
    else:
        click.echo(report_markdown(report), nl=False)


def report_page_context(report: ComplianceReport) -> dict[str, object]:
    """What report.html.j2 needs, standalone (the site renders the same template)."""
    page = Page(
        f"reports/sla-{report.year}.html", "report.html.j2", f"Service Level Report {report.year}"
    )
    return {
        "page": page,
        "root": page.root,
        "at": report.at,
        "internal": False,
        "report": report_dict(report),
        "chart": Markup(compliance_svg(report, inline=True)),
    }


@cli.group("release")
def release_group() -> None:
    """The release calendar, installations and release notes.

    \b
    Example:
      isg release status
    """


@release_group.command("status")
@click.option("--at", metavar="ISO", help="As of this time (default now).")
@repo_option
@library_errors
def release_status_command(at: str | None, repo: Path | None) -> None:
    """Regular releases per year (two expected), each State's installation of each regular
    release (on time, late, overdue, pending), and the overdue States. Exit 1 if any is overdue.

    \b
    Example:
      isg release status --at 2026-11-27T12:00:00Z
    """
    now = parse_at(at)
    registry = load_registry(registry_root(repo))
    releases = sorted(
        (r.data for r in registry.of_kind("release")), key=lambda r: str(r.get("planned_date"))
    )
    states = [r.data for r in registry.of_kind("state")]
    years = sorted({int(str(r.get("released_on") or r.get("planned_date"))[:4]) for r in releases})
    for line in calendar_check(releases, [y for y in years if y <= now.year]):
        click.echo(f"calendar: {line}")
    overdue = []
    for release in releases:
        day = release.get("released_on") or f"planned {release.get('planned_date')}"
        click.echo(f"{release['id']}  {release['type']}  {release['status']}  {day}")
        if release.get("type") != "regular":
            continue
        for row in installation_status(release, states, now):
            installed = row["installed_on"] or "-"
            click.echo(
                f"  {row['state']}  installed {installed}  due {row['due']}  {row['verdict']}"
            )
            if row["verdict"] == "overdue":
                overdue.append(f"{row['state']} ({release['id']}, due {row['due']})")
    click.echo("overdue: " + (", ".join(overdue) if overdue else "none"))
    sys.exit(1 if overdue else 0)


@release_group.command("notes")
@click.argument("version")
@repo_option
@library_errors
def release_notes_command(version: str, repo: Path | None) -> None:
    """Markdown release notes from the included RfCs and incident fixes.

    \b
    Example:
      isg release notes 4.2.0 > NOTES.md
    """
    registry = load_registry(registry_root(repo))
    release = registry.get("release", version)
    if release is None:
        raise UsageError(f"no release {version}")
    rfcs = {r.id: r.data for r in registry.of_kind("rfc")}
    incidents = {
        r.id: r.data for r in registry.of_kind("incident") if r.data.get("visibility") != "internal"
    }
    click.echo(release_notes(release.data, rfcs, incidents), nl=False)


@cli.command("fees")
@click.option("--year", type=click.IntRange(2000, 2100), required=True)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json", "csv"]), default="text", show_default=True
)
@repo_option
@library_errors
def fees_command(year: int, fmt: str, repo: Path | None) -> None:
    """Each operating State's contribution for a year, by UPU units, pro rata for States that
    joined during the year (paid into the reserve fund), and the reserve's movement.

    \b
    Example:
      isg fees --year 2026 --format csv > fees-2026.csv
    """
    registry = load_registry(registry_root(repo))
    report = compute_fees(
        year=year,
        budgets=[r.data for r in registry.of_kind("budget")],
        states=[r.data for r in registry.of_kind("state")],
    )
    click.echo({"text": fees_text, "json": fees_json, "csv": fees_csv}[fmt](report), nl=False)


def fees_text(report: FeesReport) -> str:
    c = report.currency
    lines = [
        f"Fees {report.year} ({c})",
        f"  support contract   {report.support_contract:>14,.2f}",
        f"  lawyer             {report.lawyer:>14,.2f}",
        f"  IT co-ordinator    {report.it_coordinator:>14,.2f}",
        f"  amount to share    {report.amount:>14,.2f}",
        f"  carried over       {report.carried_over:>14,.2f}  (for upgrades; not deducted)",
        f"  full-year units    {report.full_year_units:>14}",
        f"  fee per unit       {report.fee_per_unit:>14,.4f}",
        "",
    ]
    for s in report.shares:
        basis = f"{s.days}/{s.days_in_year} days, to the reserve" if s.pro_rata else "full year"
        lines.append(f"  {s.state}  {s.units:>6} units  {s.amount:>14,.2f}  {basis}")
    lines += [
        "",
        f"  reserve fund: {report.reserve_opening:,.2f} + {report.reserve_in:,.2f}"
        f" = {report.reserve_closing:,.2f}",
    ]
    return "\n".join(lines) + "\n"


def fees_json(report: FeesReport) -> str:
    data = {
        "year": report.year,
        "currency": report.currency,
        "support_contract": str(report.support_contract),
        "lawyer": str(report.lawyer),
        "it_coordinator": str(report.it_coordinator),
        "amount": str(report.amount),
        "carried_over": str(report.carried_over),
        "full_year_units": str(report.full_year_units),
        "fee_per_unit": str(report.fee_per_unit),
        "states": [
            {
                "state": s.state,
                "units": str(s.units),
                "days": s.days,
                "days_in_year": s.days_in_year,
                "amount": str(s.amount),
                "pro_rata": s.pro_rata,
            }
            for s in report.shares
        ],
        "reserve": {
            "opening": str(report.reserve_opening),
            "in": str(report.reserve_in),
            "closing": str(report.reserve_closing),
        },
    }
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def fees_csv(report: FeesReport) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        ["year", "state", "units", "days", "days_in_year", "amount", "currency", "pro_rata"]
    )
    for s in report.shares:
        writer.writerow(
            [
                report.year,
                s.state,
                s.units,
                s.days,
                s.days_in_year,
                s.amount,
                report.currency,
                "yes" if s.pro_rata else "no",
            ]
        )
    return out.getvalue()
