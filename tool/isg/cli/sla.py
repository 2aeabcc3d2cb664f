"""Priority and SLA commands: priority, sla deadline/status/explain/watch."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import click

from isg.approvals import owed_retrospective_reviews
from isg.cli.common import (
    Progress,
    caching,
    cli,
    library_errors,
    load_registry,
    parse_at,
    registry_root,
    repo_option,
)
from isg.errors import UsageError
from isg.git_history import first_recorded_milestones
from isg.records import Registry
from isg.schemas import load_schemas
from isg.sla.chart import render_sla_svg
from isg.sla.clock import Pause, compute_deadline, ledger
from isg.sla.context import build_context
from isg.sla.durations import parse_duration
from isg.sla.incident import LATE_STATES
from isg.sla.memory import evaluate_remembered, status_json_lines
from isg.sla.output import (
    describe_priority,
    json_document,
    ledger_text,
    retrospective_text,
    status_text,
    watch_items,
    watch_text,
)
from isg.sla.policy import compute_priority, select_policy
from isg.sla.run import SlaRun, collect_evidence

LEVEL = click.Choice(["high", "medium", "low"])
WATCH_EXIT_PRIORITIES = (1, 2)


def _run(
    repo: Path | None, at: str | None, ids: tuple[str, ...] = ()
) -> tuple[Path, Registry, SlaRun, datetime]:
    now = parse_at(at)
    root = registry_root(repo)
    registry = load_registry(root)
    progress = Progress("isg sla: evaluating incidents")
    run = evaluate_remembered(
        root, registry, load_schemas(root), now=now, ids=ids, progress=progress, use_cache=caching()
    )
    progress.finish()
    for line in run.skipped:
        click.echo(line, err=True)
    return root, registry, run, now


def _zones(run: SlaRun) -> dict[str, object]:
    return {name: calendar.zone for name, calendar in run.context.calendars.items()}


@cli.command("priority")
@click.option(
    "--impact",
    type=LEVEL,
    required=True,
    help="high: all users of all States or of one State; medium: some; low: one user.",
)
@click.option(
    "--urgency",
    type=LEVEL,
    required=True,
    help="high: system unusable; medium: main part unusable or read-only; low: other part.",
)
@click.option("--at", metavar="ISO", help="Use the policy in force at this time (default now).")
@repo_option
@library_errors
def priority_command(impact: str, urgency: str, at: str | None, repo: Path | None) -> None:
    """Print the priority (1 highest .. 5) for an impact and an urgency.

    \b
    Example:
      isg priority --impact high --urgency medium      # prints 2
    """
    root = registry_root(repo)
    context = build_context(load_registry(root))
    policy = select_policy(context.policies, parse_at(at))
    click.echo(compute_priority(policy, impact=impact, urgency=urgency))


@cli.group("sla")
def sla_group() -> None:
    """Service-level deadlines and status in each jurisdiction's working time.

    \b
    Example:
      isg sla status --at 2026-11-27T12:00:00+00:00
    """


def _parse_pause(text: str) -> Pause:
    try:
        start_text, end_text = text.split("/", 1)
        start, end = datetime.fromisoformat(start_text), datetime.fromisoformat(end_text)
    except ValueError:
        raise click.BadParameter(
            f"'{text}' is not START/END in ISO 8601", param_hint="--pause"
        ) from None
    if start.tzinfo is None or end.tzinfo is None:
        raise click.BadParameter(f"'{text}' needs UTC offsets", param_hint="--pause")
    return Pause(start, end)


@sla_group.command("deadline")
@click.option("--start", "start_text", required=True, metavar="ISO", help="When the clock starts.")
@click.option("--duration", "duration_text", required=True, help="10m, 4h, 2d, 1.5w ...")
@click.option(
    "--calendar",
    "calendar_name",
    required=True,
    help="A State's ISO code, service-provider, or 24x7.",
)
@click.option(
    "--pause",
    "--pauses",
    "pause_texts",
    multiple=True,
    metavar="START/END",
    help="A pause of the clock; repeat for several.",
)
@repo_option
@library_errors
def deadline_command(
    start_text: str,
    duration_text: str,
    calendar_name: str,
    pause_texts: tuple[str, ...],
    repo: Path | None,
) -> None:
    """Print the deadline (first late instant) of a duration from a start, in ISO 8601.

    \b
    Example:
      isg sla deadline --start 2026-03-02T15:15:00+01:00 --duration 2d --calendar FR
      # 2026-03-04T15:15:00+01:00: due by 15:14, late from 15:15
    """
    start = parse_at(start_text)
    context = build_context(load_registry(registry_root(repo)))
    calendar = context.calendar(calendar_name)
    target = parse_duration(duration_text).working_time(calendar)
    pauses = [_parse_pause(text) for text in pause_texts]
    deadline = compute_deadline(calendar, start, target, pauses=pauses)
    click.echo(deadline.astimezone(calendar.zone).isoformat())


@sla_group.command("status")
@click.argument("ids", nargs=-1)
@click.option("--at", metavar="ISO", help="Evaluate at this time (default now).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "svg"]),
    default="text",
    show_default=True,
    help="svg draws one row per incident, one cell per milestone.",
)
@click.option(
    "--evidence",
    is_flag=True,
    help="Check each milestone time against the commit that first recorded it.",
)
@repo_option
@library_errors
def status_command(
    ids: tuple[str, ...], at: str | None, fmt: str, evidence: bool, repo: Path | None
) -> None:
    """Per incident and milestone: target, deadline, margin deadline, completion, elapsed
    working time and state (met, late-within-margin, late-beyond-margin, running, at-risk).

    \b
    Example:
      isg sla status INC-2026-7EVZM --format json
      isg sla status --format svg > sla.svg
    """
    if fmt == "json":
        _status_json(repo, at, ids, evidence)
        return
    root, registry, run, now = _run(repo, at, ids)
    proof = None
    if evidence:
        proof = collect_evidence(run, registry, first_recorded_milestones(root))
    if fmt == "svg":
        click.echo(render_sla_svg(run.statuses, now), nl=False)
    else:
        click.echo(status_text(run.statuses, _zones(run), proof), nl=False)


def _status_json(repo: Path | None, at: str | None, ids: tuple[str, ...], evidence: bool) -> None:
    """The JSON document, written as incidents are evaluated (over several processes when
    there are many), reusing what the SLA store kept of closed incidents (isg.sla.memory)."""
    now = parse_at(at)
    root = registry_root(repo)
    progress = Progress("isg sla: evaluating incidents")
    skipped: list[str] = []
    use_cache = caching()

    def lines() -> Iterator[str]:
        for item in status_json_lines(
            root, now=now, evidence=evidence, ids=ids, use_cache=use_cache, progress=progress
        ):
            if item.text is not None:
                yield item.text
            elif item.skip is not None:
                skipped.append(item.skip)

    pending: list[str] = []  # written a megabyte at a time: echo costs ~20 us a call
    size = 0
    for chunk in json_document(lines(), now):
        pending.append(chunk)
        size += len(chunk)
        if size > 1 << 20:
            click.echo("".join(pending), nl=False)
            pending, size = [], 0
    click.echo("".join(pending), nl=False)
    progress.finish()
    for line in skipped:
        click.echo(line, err=True)


@sla_group.command("explain")
@click.argument("incident_id")
@click.option("--at", metavar="ISO", help="Evaluate at this time (default now).")
@repo_option
@library_errors
def explain_command(incident_id: str, at: str | None, repo: Path | None) -> None:
    """Print the ledger of one incident: every counted and excluded interval and why.

    \b
    Example:
      isg sla explain INC-2026-7EVZM
    """
    _, _, run, _ = _run(repo, at, (incident_id,))
    if not run.statuses:
        raise UsageError(f"{incident_id} cannot be evaluated")
    status = run.statuses[0]
    policy = next(p for p in run.context.policies if p.id == status.policy_id)
    zone = run.context.calendar(status.reporting_state).zone
    click.echo(f"{status.incident_id}: {describe_priority(status)}")
    click.echo(status_text([status], _zones(run)).split("\n", 2)[2], nl=False)
    for calendar_name in sorted({m.calendar for m in status.milestones}):
        milestones = [m for m in status.milestones if m.calendar == calendar_name]
        pausable = [
            m.milestone for m in milestones if (r := policy.milestone(m.milestone)) and r.pausable
        ]
        calendar = run.context.calendar(calendar_name)
        ends = [m.completed_at or m.deadline for m in milestones]
        max_pause = policy.max_pause.working_time(calendar) if policy.max_pause else None
        click.echo(f"working time of {calendar_name} ({calendar.zone.key}) from reported_at:")
        if status.pauses:
            click.echo(f"  pauses stop only: {', '.join(pausable)}")
        segments = ledger(
            calendar, status.reported_at, max(ends), pauses=status.pauses, max_pause=max_pause
        )
        for line in ledger_text(segments, zone):
            click.echo(line)


@sla_group.command("watch")
@click.option("--at", metavar="ISO", help="Evaluate at this time (default now).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "markdown"]),
    default="text",
    show_default=True,
    help="markdown suits a GitHub job summary.",
)
@repo_option
@library_errors
def watch_command(at: str | None, fmt: str, repo: Path | None) -> None:
    """List open milestones that are late or at risk; exit 1 if one of priority 1 or 2 is late.

    \b
    Example:
      isg sla watch --format markdown >> "$GITHUB_STEP_SUMMARY"
    """
    _, registry, run, now = _run(repo, at)
    items = watch_items(run.statuses)
    click.echo(watch_text(items, now, _zones(run), markdown=fmt == "markdown"), nl=False)
    owed = owed_retrospective_reviews(registry)
    if owed:
        click.echo(retrospective_text(owed, markdown=fmt == "markdown"), nl=False)
    urgent = [
        i for i in items if i[0].priority in WATCH_EXIT_PRIORITIES and i[1].state in LATE_STATES
    ]
    sys.exit(1 if urgent else 0)
