"""`isg approvals check`: may this pull request merge under the governance rules?"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

import click

from isg.approvals import (
    ApprovalDecision,
    PullRequest,
    decided_rfcs,
    evaluate_approvals,
    with_recorded_approvals,
)
from isg.approvals_report import APPROVAL_REPORTER_BY_NAME
from isg.canonical import canonical_text
from isg.cli.common import F, cli, library_errors, parse_at, registry_root, repo_option
from isg.git_history import PullRequestTrees, read_record_files_at
from isg.github_api import parse_reviews
from isg.model import KIND_BY_NAME
from isg.records import Registry, parse_registry, write_atomic
from isg.schemas import load_schemas


@cli.group("approvals")
def approvals_group() -> None:
    """Pull-request reviews as CAB approval.

    \b
    Example:
      isg approvals check --base origin/main --head HEAD --reviews reviews.json --author fr-x
    """


def _decide(
    root: Path,
    base_ref: str,
    head_ref: str,
    reviews_text: str,
    author: str,
    pushers: tuple[str, ...],
    at: str | None,
) -> tuple[ApprovalDecision, Registry]:
    now = parse_at(at)
    trees = PullRequestTrees(root, base_ref, head_ref)
    reviews = parse_reviews(reviews_text)
    head = parse_registry(read_record_files_at(root, trees.head))
    decision = evaluate_approvals(
        base=parse_registry(read_record_files_at(root, trees.base)),
        head=head,
        changed_paths=trees.changed_paths(),
        reviews=reviews,
        pull_request=PullRequest(author=author, head_sha=trees.head, pushers=pushers),
        changed_since=trees.changed_since,
        at=now,
    )
    return decision, head


def pull_request_options(func: F) -> F:
    """The options that describe a pull request, shared by check and record."""
    for option in reversed(_PR_OPTIONS):
        func = option(func)
    return func


_PR_OPTIONS = [
    click.option(
        "--base",
        "base_ref",
        required=True,
        metavar="REF",
        help="The pull request's base (its rules and members are trusted).",
    ),
    click.option(
        "--head", "head_ref", required=True, metavar="REF", help="The pull request's head."
    ),
    click.option(
        "--reviews",
        "reviews_file",
        required=True,
        type=click.File("r"),
        help="GET /repos/{o}/{r}/pulls/{n}/reviews as JSON (all pages), or - for stdin.",
    ),
    click.option("--author", required=True, help="GitHub login of the pull request's author."),
    click.option(
        "--pusher",
        "pushers",
        multiple=True,
        help="GitHub login of who pushed the head commit; repeat for several.",
    ),
    click.option(
        "--at", metavar="ISO", help="Decide as of this time (default now; record: merged_at)."
    ),
]


@approvals_group.command("check")
@pull_request_options
@click.option(
    "--format",
    "fmt",
    type=click.Choice(sorted(APPROVAL_REPORTER_BY_NAME)),
    default="text",
    show_default=True,
)
@repo_option
@library_errors
def check_command(
    base_ref: str,
    head_ref: str,
    reviews_file: TextIO,
    author: str,
    pushers: tuple[str, ...],
    at: str | None,
    fmt: str,
    repo: Path | None,
) -> None:
    """Decide whether the pull request may merge; exit 0 if it may, 1 if not, 2 on bad input.

    \b
    Example:
      gh api --paginate repos/o/r/pulls/7/reviews > reviews.json
      isg approvals check --base origin/main --head pr-7 --reviews reviews.json \\
          --author fr-delegate-demo --format markdown
    """
    root = registry_root(repo)
    decision, _ = _decide(root, base_ref, head_ref, reviews_file.read(), author, pushers, at)
    click.echo(APPROVAL_REPORTER_BY_NAME[fmt](decision), nl=False)
    sys.exit(0 if decision.may_merge else 1)


@approvals_group.command("record")
@pull_request_options
@click.option(
    "--pr",
    "pr_number",
    required=True,
    type=click.IntRange(min=1),
    help="The pull request's number.",
)
@repo_option
@library_errors
def record_command(
    base_ref: str,
    head_ref: str,
    reviews_file: TextIO,
    author: str,
    pushers: tuple[str, ...],
    pr_number: int,
    at: str | None,
    repo: Path | None,
) -> None:
    """Write into each RfC a merged pull request decided who approved it, as what and when.

    Run on the default branch after the merge (cab-record.yml); prints the files written.

    \b
    Example:
      isg approvals record --base HEAD^1 --head HEAD^2 --reviews reviews.json \\
          --author fr-delegate-demo --pr 7
    """
    root = registry_root(repo)
    decision, head = _decide(root, base_ref, head_ref, reviews_file.read(), author, pushers, at)
    schema = load_schemas(root).for_kind(KIND_BY_NAME["rfc"])
    for path, approvals in sorted(decided_rfcs(decision, head).items()):
        record = head.by_path()[path]
        data = with_recorded_approvals(record.data, approvals, pull_request=pr_number)
        write_atomic(root / path, canonical_text(record.kind, data, schema))
        click.echo(path)
