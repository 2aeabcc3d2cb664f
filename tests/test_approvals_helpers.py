"""Building REST-shaped reviews from GitHub's real webhook payload."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from isg.records import parse_registry, read_record_files

FIXTURES = Path(__file__).parent / "fixtures" / "github"
WEBHOOK_REVIEW = json.loads((FIXTURES / "pull_request_review.submitted.1.json").read_text())


def review_json(
    root: Path, member: str, commit: str, minute: int, state: str = "APPROVED"
) -> dict[str, Any]:
    record = parse_registry(read_record_files(root)).get("member", member)
    assert record is not None
    item = copy.deepcopy(WEBHOOK_REVIEW["review"])
    item.update(
        id=2000 + minute,
        state=state,
        commit_id=commit,
        submitted_at=f"2026-11-27T10:{minute:02d}:00Z",
    )
    item["user"] = {
        **item["user"],
        "login": record.data["github"]["login"],
        "id": record.data["github"]["id"],
    }
    return item
