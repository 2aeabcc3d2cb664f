"""GitHub's JSON shapes read as values: pull-request reviews (REST list or webhook review)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from isg.errors import IsgError

# REST lists states in upper case, webhooks in lower case: compare upper case.
APPROVED, CHANGES_REQUESTED, COMMENTED, DISMISSED, PENDING = (
    "APPROVED",
    "CHANGES_REQUESTED",
    "COMMENTED",
    "DISMISSED",
    "PENDING",
)
KNOWN_STATES = (APPROVED, CHANGES_REQUESTED, COMMENTED, DISMISSED, PENDING)
MAX_REVIEWS = 10_000


class GitHubDataError(IsgError):
    """JSON that is not what GitHub sends."""


@dataclass(frozen=True)
class Review:
    """One pull-request review. `user_id` is None for a deleted account."""

    review_id: int
    user_id: int | None
    login: str | None
    state: str
    commit_id: str | None
    submitted_at: datetime | None


def _values(text: str) -> Iterator[Any]:
    """Every JSON value in `text`: `gh api --paginate` prints one array per page."""
    decoder = json.JSONDecoder()
    index = 0
    while True:
        while index < len(text) and text[index].isspace():
            index += 1
        if index >= len(text):
            return
        try:
            value, index = decoder.raw_decode(text, index)
        except json.JSONDecodeError as exc:
            raise GitHubDataError(
                f"reviews are not JSON: {exc.msg} at character {exc.pos}"
            ) from None
        yield value


def parse_reviews(text: str) -> list[Review]:
    """Reviews from a REST list (one array, or several pages one after another), a list of
    pages, or a `pull_request_review` webhook payload; in the order GitHub gave them."""
    raw: list[Any] = []
    for value in _values(text):
        if isinstance(value, dict) and "review" in value:
            raw.append(value["review"])
        elif isinstance(value, list):
            for item in value:
                raw.extend(item if isinstance(item, list) else [item])
        else:
            raise GitHubDataError("reviews must be a JSON list (GET /pulls/{n}/reviews)")
    if len(raw) > MAX_REVIEWS:
        raise GitHubDataError(f"more than {MAX_REVIEWS} reviews")
    return [_review(item, index) for index, item in enumerate(raw)]


def _review(item: Any, index: int) -> Review:
    if not isinstance(item, dict):
        raise GitHubDataError(f"review {index + 1} is not a JSON object")
    state = item.get("state")
    if not isinstance(state, str) or state.upper() not in KNOWN_STATES:
        raise GitHubDataError(f"review {index + 1} has an unknown state {state!r}")
    user = item.get("user")
    if user is not None and not (isinstance(user, dict) and isinstance(user.get("id"), int)):
        raise GitHubDataError(f"review {index + 1} has a user without a numeric id")
    review_id = item.get("id")
    if not isinstance(review_id, int):
        raise GitHubDataError(f"review {index + 1} has no numeric id")
    submitted = item.get("submitted_at")
    try:
        when = datetime.fromisoformat(submitted) if isinstance(submitted, str) else None
    except ValueError:
        raise GitHubDataError(
            f"review {index + 1}: submitted_at {submitted!r} is not a time"
        ) from None
    commit = item.get("commit_id")
    return Review(
        review_id=review_id,
        user_id=user["id"] if user else None,
        login=str(user.get("login")) if user else None,
        state=state.upper(),
        commit_id=commit if isinstance(commit, str) else None,
        submitted_at=when,
    )
