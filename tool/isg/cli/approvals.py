"""`isg approvals check`: may this pull request merge under the governance rules?"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from isg.approvals import PullRequest, evaluate_approvals
from isg.approvals_report import APPROVAL_REPORTER_BY_NAME
from isg.cli.common import cli, library_errors, parse_at, registry_root, repo_option
from isg.git_history import PullRequestTrees, read_record_files_at
from isg.github_api import parse_reviews
from isg.records import parse_registry


@cli.group("approvals")
def approvals_group() -> None:
    """Pull-request reviews as CAB approval.

    \b
    Example:
      isg approvals check --base origin/main --head HEAD --reviews reviews.json --author fr-x
    """


@approvals_group.command("check")
@click.option(
    "--base",
    "base_ref",
    required=True,
    metavar="REF",
    help="The pull request's base (its rules and members are trusted).",
)
@click.option("--head", "head_ref", required=True, metavar="REF", help="The pull request's head.")
@click.option(
    "--reviews",
    "reviews_file",
    required=True,
    type=click.File("r"),
    help="GET /repos/{o}/{r}/pulls/{n}/reviews as JSON (all pages), or - for stdin.",
)
@click.option("--author", required=True, help="GitHub login of the pull request's author.")
@click.option(
    "--pusher",
    "pushers",
    multiple=True,
    help="GitHub login of who pushed the head commit; repeat for several.",
)
@click.option("--at", metavar="ISO", help="Decide as of this time (default now).")
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
    reviews_file: click.utils.LazyFile,
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
    now = parse_at(at)
    root = registry_root(repo)
    trees = PullRequestTrees(root, base_ref, head_ref)
    reviews = parse_reviews(reviews_file.read())
    decision = evaluate_approvals(
        base=parse_registry(read_record_files_at(root, trees.base)),
        head=parse_registry(read_record_files_at(root, trees.head)),
        changed_paths=trees.changed_paths(),
        reviews=reviews,
        pull_request=PullRequest(author=author, head_sha=trees.head, pushers=pushers),
        changed_since=trees.changed_since,
        at=now,
    )
    click.echo(APPROVAL_REPORTER_BY_NAME[fmt](decision), nl=False)
    sys.exit(0 if decision.may_merge else 1)
