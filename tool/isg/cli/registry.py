"""Registry commands: validate, fmt, new."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

import click

from isg.canonical import canonical_text, format_registry
from isg.cli.common import (
    Progress,
    caching,
    cli,
    library_errors,
    parse_at,
    registry_root,
    repo_option,
)
from isg.errors import UsageError
from isg.integrity import check_privacy, member_emails
from isg.model import KIND_BY_NAME
from isg.privacy import iter_hits
from isg.records import parse_registry, read_record_files, record_path, write_atomic
from isg.report import REPORTER_BY_NAME
from isg.schemas import load_schemas
from isg.validation import validate_repository


@cli.command("validate")
@click.argument("paths", nargs=-1)
@repo_option
@click.option(
    "--base",
    "base_ref",
    metavar="REF",
    help="Also check status changes since this git revision (a PR's target).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(sorted(REPORTER_BY_NAME)),
    default="text",
    show_default=True,
    help="Output format.",
)
@click.option(
    "--at",
    "at",
    metavar="ISO",
    help="Check as of this time instead of now (e.g. 2026-11-27T12:00:00+00:00).",
)
@click.option(
    "--no-cache",
    is_flag=True,
    help="Read and check every file (ignore .isg/cache/; also ISG_NO_CACHE=1).",
)
@library_errors
def validate_command(
    paths: tuple[str, ...],
    repo: Path | None,
    base_ref: str | None,
    fmt: str,
    at: str | None,
    no_cache: bool,
) -> None:
    """Check records against their schemas, each other and the governance rules.

    Reports every problem as FILE:LINE:COL: $.json.path: message. With PATHS, only
    problems in those files or folders are reported (the whole registry is still read, so
    references resolve). Exit 0 clean, 1 problems found, 2 usage.

    \b
    Example:
      isg validate --base origin/main --format github
    """
    now = parse_at(at)
    root = registry_root(repo)
    rel_paths = [_relative(root, p) for p in paths]
    progress = Progress("isg validate: reading records")
    result = validate_repository(
        root,
        now=now,
        base_ref=base_ref,
        paths=rel_paths,
        use_cache=not no_cache and caching(),
        progress=progress,
    )
    progress.finish()
    click.echo(REPORTER_BY_NAME[fmt](result), nl=False)
    sys.exit(0 if result.ok else 1)


def _relative(root: Path, given: str) -> str:
    path = Path(given).resolve()
    if not path.exists():
        raise click.BadParameter(f"{given} does not exist", param_hint="PATHS")
    try:
        return path.relative_to(root.resolve()).as_posix()
    except ValueError:
        raise click.BadParameter(f"{given} is not inside the registry {root}") from None


@cli.command("fmt")
@repo_option
@click.option("--check", is_flag=True, help="Only list records that are not canonical; exit 1.")
@library_errors
def fmt_command(repo: Path | None, check: bool) -> None:
    """Rewrite records in canonical form (key order, quoting, the schema line).

    \b
    Example:
      isg fmt --check
    """
    root = registry_root(repo)
    registry = parse_registry(read_record_files(root))
    result = format_registry(root, registry, load_schemas(root), check=check)
    for finding in result.unreadable:
        click.echo(f"{finding.path}:{finding.line}:{finding.column}: {finding.message}", err=True)
    verb = "not canonical" if check else "reformatted"
    for path in result.changed:
        click.echo(f"{path}: {verb}")
    total = len(registry.records)
    click.echo(f"{len(result.changed)} of {total} records {verb}", err=True)
    sys.exit(1 if result.unreadable or (check and result.changed) else 0)


@cli.command("new")
@click.argument("kind", type=click.Choice(list(KIND_BY_NAME)))
@repo_option
@click.option("--id", "record_id", help="ID for kinds named by a natural key (state, release...).")
@library_errors
def new_command(kind: str, repo: Path | None, record_id: str | None) -> None:
    """Write a new record from its template with a fresh ID and print its path.

    Fill in every <REPLACE: ...> placeholder; validation fails until you do.

    \b
    Example:
      isg new incident
      isg new state --id NO
    """
    root = registry_root(repo)
    from isg.scaffold import new_record  # each command imports what only it needs

    path = new_record(root, KIND_BY_NAME[kind], now=datetime.now(UTC), record_id=record_id)
    click.echo(path.relative_to(root).as_posix())


@cli.command("codeowners")
@repo_option
@click.option(
    "--check", is_flag=True, help="Only say whether the file is up to date; exit 1 if not."
)
@library_errors
def codeowners_command(repo: Path | None, check: bool) -> None:
    """Write .github/CODEOWNERS from the governance rules and the members' roles today.

    \b
    Example:
      isg codeowners
    """
    root = registry_root(repo)
    from isg.codeowners import CODEOWNERS_PATH, render_codeowners

    text = render_codeowners(parse_registry(read_record_files(root)), at=datetime.now(UTC))
    path = root / CODEOWNERS_PATH
    current = path.read_text(encoding="utf-8") if path.is_file() else None
    if check:
        click.echo(f"{CODEOWNERS_PATH}: {'up to date' if current == text else 'out of date'}")
        sys.exit(0 if current == text else 1)
    if current != text:
        write_atomic(path, text)
    click.echo(CODEOWNERS_PATH)


@cli.command("privacy-scan")
@click.argument("paths", nargs=-1)
@repo_option
@library_errors
def privacy_scan_command(paths: tuple[str, ...], repo: Path | None) -> None:
    """Flag what looks like personal or case data; print where and what kind, never the value.

    Records are scanned field by field (free text only); any other file line by line. With no
    PATHS, every record. `isg validate` runs the same scan over the records. Exit 1 on a hit.

    \b
    Example:
      isg privacy-scan records/incidents records/rfcs/RFC-2026-DQ42X.patch
    """
    root = registry_root(repo)
    registry = parse_registry(read_record_files(root))
    allowed = frozenset(member_emails(registry))
    schemas = load_schemas(root)
    findings = [f for r in registry.records for f in check_privacy(r, schemas, allowed)]
    selected = [_relative(root, p) for p in paths]
    if selected:
        findings = [
            f
            for f in findings
            if any(f.path == s or f.path.startswith(s.rstrip("/") + "/") for s in selected)
        ]
    lines = [f"{f.path}:{f.line}:{f.column}: {f.json_path}: {f.message}" for f in findings]
    for rel in selected:
        path = root / rel
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        for file in files:
            name = file.relative_to(root).as_posix()
            if name.endswith(".yaml") and name.startswith("records/"):
                continue  # scanned as records above
            text = file.read_text(encoding="utf-8", errors="replace")
            lines += [
                f"{name}:{line}:{column}: looks like a {kind} (value not shown)"
                for line, column, kind in iter_hits(text, allowed=allowed)
            ]
    for line in lines:
        click.echo(line)
    click.echo(f"{len(lines)} possible personal data found", err=True)
    sys.exit(1 if lines else 0)


@cli.command("intake")
@click.option(
    "--event",
    "event_file",
    required=True,
    type=click.File("r"),
    help="An `issues` webhook payload ($GITHUB_EVENT_PATH in a workflow), or -.",
)
@repo_option
@library_errors
def intake_command(event_file: TextIO, repo: Path | None) -> None:
    """Turn an issue written with the incident or RfC form into a record; print its path.

    The issue's body is read as data against the form's labels; nothing in it runs. Refused,
    with nothing written, if a field is missing or unknown, or if it looks like personal data.

    \b
    Example:
      isg intake --event "$GITHUB_EVENT_PATH"
    """
    from isg.ids import new_id
    from isg.intake import (
        FORM_BY_LABEL,
        IntakeError,
        load_form,
        parse_form_body,
        privacy_problems,
        record_from_issue,
    )

    root = registry_root(repo)
    try:
        event = json.loads(event_file.read())
        issue = event["issue"]
        labels = {label["name"] for label in issue.get("labels") or []}
    except (ValueError, KeyError, TypeError):
        raise UsageError("the event is not an `issues` webhook payload") from None
    kinds = [kind for kind in FORM_BY_LABEL if kind in labels]
    if len(kinds) != 1:
        raise UsageError("the issue needs exactly one of the labels: incident, rfc")
    kind = kinds[0]
    fields = load_form(root / ".github" / "ISSUE_TEMPLATE" / FORM_BY_LABEL[kind])
    values = parse_form_body(issue.get("body"), fields)
    problems = privacy_problems(issue, values)
    if problems:
        raise IntakeError(
            "not registered: the issue looks like it holds personal data ("
            + "; ".join(problems)
            + "); edit the issue and remove it"
        )
    registry = parse_registry(read_record_files(root))
    known = {k: {r.id for r in registry.of_kind(k)} for k in ("state", "organisation", "ci")}
    created = datetime.fromisoformat(str(issue.get("created_at")).replace("Z", "+00:00"))
    record_kind = KIND_BY_NAME[kind]
    assert record_kind.id_prefix is not None
    data = record_from_issue(
        issue, kind, values, known=known, record_id=new_id(record_kind.id_prefix, now=created)
    )
    schema = load_schemas(root).for_kind(record_kind)
    path = root / record_path(record_kind, data["id"])
    try:
        write_atomic(path, canonical_text(record_kind, data, schema), exclusive=True)
    except FileExistsError:
        raise UsageError(f"{path} already exists; run intake again for a new ID") from None
    click.echo(path.relative_to(root).as_posix())
