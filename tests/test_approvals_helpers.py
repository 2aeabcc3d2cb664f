"""Building REST-shaped reviews from GitHub's real webhook payload."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from isg.records import parse_registry, read_record_files

FIXTURES = Path(__file__).parent / "fixtures" / "github"
WEBHOOK_REVIEW = json.loads((FIXTURES / "pull_request_review.submitted.1.json").read_text())


def make_review(
    user: dict[str, Any] | None, *, state: str, commit: str | None, minute: int, first_id: int
) -> dict[str, Any]:
    """The webhook payload's review with the fields a case needs changed."""
    item = copy.deepcopy(WEBHOOK_REVIEW["review"])
    item.update(
        id=first_id + minute,
        state=state,
        commit_id=commit,
        submitted_at=f"2026-11-27T10:{minute:02d}:00Z",
    )
    item["user"] = None if user is None else {**item["user"], **user}
    return item


def review_json(
    root: Path, member: str, commit: str, minute: int, state: str = "APPROVED"
) -> dict[str, Any]:
    record = parse_registry(read_record_files(root)).get("member", member)
    assert record is not None
    github = record.data["github"]
    return make_review(
        {"login": github["login"], "id": github["id"]},
        state=state,
        commit=commit,
        minute=minute,
        first_id=2000,
    )
