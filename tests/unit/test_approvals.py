"""The approval decision against every rule and every known way to fool an approval check.

Reviews are built from GitHub's real `pull_request_review` payload (tests/fixtures/github),
with the fields a case needs changed.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from conftest import REPO_ROOT
from isg.approvals import ApprovalDecision, PullRequest, evaluate_approvals
from isg.github_api import parse_reviews
from isg.records import parse_registry, read_record_files
from test_approvals_helpers import WEBHOOK_REVIEW, make_review

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)  # eCAB on duty: Brazil (October-December)
HEAD, OLD = "a" * 40, "b" * 40
MT_RFC = "records/rfcs/RFC-2026-GS4XV.yaml"  # Malta, normal change, assessed
BR_RFC = "records/rfcs/RFC-2026-0R57D.yaml"  # Brazil, normal change, submitted
BASE_FILES = read_record_files(REPO_ROOT)
BASE = parse_registry(BASE_FILES)


def github_id(member: str) -> int:
    record = BASE.get("member", member)
    assert record is not None, member
    return int(record.data["github"]["id"])


def review(
    member: str | None,
    state: str = "APPROVED",
    *,
    commit: str = HEAD,
    minute: int = 0,
    login: str | None = None,
) -> dict[str, Any]:
    """A REST-shaped review; `@name` is a non-member, None a deleted account."""
    if member is None:
        user = None
    elif member.startswith("@"):
        user = {"login": member[1:], "id": 424242}
    else:
        user = {"login": login or f"{member}-demo", "id": github_id(member)}
    return make_review(user, state=state, commit=commit, minute=minute, first_id=1000)


def edit(files: dict[str, bytes], path: str, old: str, new: str) -> None:
    text = files[path].decode()
    assert old in text, f"{old!r} not in {path}"
    files[path] = text.replace(old, new, 1).encode()


def approve_mt_rfc(files: dict[str, bytes]) -> None:
    edit(
        files,
        MT_RFC,
        "status: assessed\n",
        "status: approved\ndecision:\n  outcome: approved\n"
        "  at: '2026-11-27T09:00:00+01:00'\n  by: cab\n",
    )


def decide(
    head_files: dict[str, bytes],
    reviews: list[dict[str, Any]],
    *,
    author: str = "mt-delegate",
    changed: set[str] | None = None,
    pushers: tuple[str, ...] = (),
    base_files: dict[str, bytes] | None = None,
    touched_since_old: set[str] | None = None,
    at: datetime = NOW,
) -> ApprovalDecision:
    base_files = base_files or BASE_FILES
    if changed is None:
        changed = {
            p for p in set(head_files) | set(base_files) if head_files.get(p) != base_files.get(p)
        }
    touched = touched_since_old if touched_since_old is not None else changed
    return evaluate_approvals(
        base=parse_registry(base_files),
        head=parse_registry(head_files),
        changed_paths=changed,
        reviews=parse_reviews(json.dumps(reviews)),
        pull_request=PullRequest(author=f"{author}-demo", head_sha=HEAD, pushers=pushers),
        changed_since=lambda commit: frozenset(touched) if commit == OLD else None,
        at=at,
    )


def summary(decision: ApprovalDecision) -> dict[str, Any]:
    return {
        "may_merge": decision.may_merge,
        "rules": {
            r.name: {
                "counted": [c.as_what for c in r.counted],
                "missing": r.missing,
                "blockers": r.blockers,
            }
            for r in decision.rules
        },
        "problems": decision.problems,
    }


CAB_QUORUM = ["pb-coordinator", "sp-service-manager", "fr-delegate", "br-delegate"]


@pytest.fixture
def files() -> dict[str, bytes]:
    return dict(BASE_FILES)


# --- the CAB (normal change) -----------------------------------------------------------------


def test_normal_change_approved_by_the_cab_may_merge(files: dict[str, bytes]) -> None:
    approve_mt_rfc(files)
    decision = decide(files, [review(m, minute=i) for i, m in enumerate(CAB_QUORUM)])
    assert summary(decision) == {
        "may_merge": True,
        "rules": {
            "cab": {
                "counted": [
                    "Permanent Bureau (cab)",
                    "Service Provider (cab)",
                    "State FR (cab)",
                    "State BR (cab)",
                ],
                "missing": [],
                "blockers": [],
            }
        },
        "problems": [],
    }
    assert decision.rules[0].reasons == [
        f"{MT_RFC}: RfC RFC-2026-GS4XV becomes approved (normal change)"
    ]


def test_cab_needs_two_states(files: dict[str, bytes]) -> None:
    approve_mt_rfc(files)
    decision = decide(files, [review(m, minute=i) for i, m in enumerate(CAB_QUORUM[:3])])
    assert not decision.may_merge
    assert decision.rules[0].missing == [
        "1 more State (one representative each) holding the cab role"
    ]


def test_two_people_from_one_state_count_as_one_state(files: dict[str, bytes]) -> None:
    base = dict(BASE_FILES)
    edit(base, "records/members/fr-caseworker-lead.yaml", "roles: []", "roles:\n- role: cab")
    head = dict(base)
    approve_mt_rfc(head)
    reviewers = ["pb-coordinator", "sp-service-manager", "fr-delegate", "fr-caseworker-lead"]
    decision = decide(head, [review(m, minute=i) for i, m in enumerate(reviewers)], base_files=base)
    assert [c.as_what for c in decision.rules[0].counted] == [
        "Permanent Bureau (cab)",
        "Service Provider (cab)",
        "State FR (cab)",
    ]
    assert not decision.may_merge


def test_changes_requested_by_a_cab_member_blocks(files: dict[str, bytes]) -> None:
    approve_mt_rfc(files)
    reviews = [review(m, minute=i) for i, m in enumerate(CAB_QUORUM)]
    reviews.append(review("mt-delegate", "CHANGES_REQUESTED", minute=9))  # on the CAB since July
    decision = decide(files, reviews, author="sp-service-manager")
    assert decision.rules[0].blockers == ["changes requested by mt-delegate (State MT)"]
    assert not decision.may_merge


def test_approval_followed_by_changes_requested_blocks(files: dict[str, bytes]) -> None:
    approve_mt_rfc(files)
    reviews = [review(m, minute=i) for i, m in enumerate(CAB_QUORUM)]
    reviews.append(review("br-delegate", "CHANGES_REQUESTED", minute=20))
    decision = decide(files, reviews)
    assert decision.rules[0].blockers == ["changes requested by br-delegate (State BR)"]
    assert "1 more State (one representative each) holding the cab role" in (
        decision.rules[0].missing
    )


def test_a_later_comment_does_not_cancel_an_approval(files: dict[str, bytes]) -> None:
    approve_mt_rfc(files)
    reviews = [review(m, minute=i) for i, m in enumerate(CAB_QUORUM)]
    reviews.append(review("br-delegate", "COMMENTED", minute=30))
    assert decide(files, reviews).may_merge


@pytest.mark.parametrize("state", ["DISMISSED", "dismissed"])
def test_a_dismissed_approval_does_not_count(files: dict[str, bytes], state: str) -> None:
    approve_mt_rfc(files)
    reviews = [review(m, minute=i) for i, m in enumerate(CAB_QUORUM)]
    reviews[3]["state"] = state  # REST shows the dismissed review with its new state
    assert not decide(files, reviews).may_merge


def test_webhook_lower_case_states_are_understood(files: dict[str, bytes]) -> None:
    approve_mt_rfc(files)
    reviews = [review(m, "approved", minute=i) for i, m in enumerate(CAB_QUORUM)]
    assert decide(files, reviews).may_merge


def test_self_approval_and_pusher_approval_never_count(files: dict[str, bytes]) -> None:
    approve_mt_rfc(files)
    reviews = [review(m, minute=i) for i, m in enumerate(CAB_QUORUM)]
    decision = decide(files, reviews, author="fr-delegate", pushers=("br-delegate-demo",))
    assert decision.rules[0].missing == [
        "2 more States (one representative each) holding the cab role"
    ]
    assert decision.ignored == [
        "fr-delegate-demo: the author's or a pusher's own approval does not count",
        "br-delegate-demo: the author's or a pusher's own approval does not count",
    ]


def test_non_members_and_deleted_accounts_are_ignored(files: dict[str, bytes]) -> None:
    approve_mt_rfc(files)
    reviews = [review(m, minute=i) for i, m in enumerate(CAB_QUORUM[:3])]
    reviews += [review("@stranger", minute=10), review(None, minute=11)]
    decision = decide(files, reviews)
    assert not decision.may_merge
    assert sorted(decision.ignored) == [
        "review 1011: deleted account",
        "stranger: not a member of the registry",
    ]


def test_renamed_login_still_counts_by_numeric_id(files: dict[str, bytes]) -> None:
    approve_mt_rfc(files)
    reviews = [review(m, minute=i) for i, m in enumerate(CAB_QUORUM)]
    reviews[3] = review("br-delegate", minute=3, login="brand-new-login")
    assert decide(files, reviews).may_merge


def test_approval_before_a_push_that_touched_the_rfc_does_not_count(
    files: dict[str, bytes],
) -> None:
    approve_mt_rfc(files)
    reviews = [review(m, minute=i) for i, m in enumerate(CAB_QUORUM)]
    reviews[3] = review("br-delegate", commit=OLD, minute=3)
    stale = decide(files, reviews, touched_since_old={MT_RFC})
    assert not stale.may_merge
    assert stale.rules[0].not_counted == [
        f"br-delegate approved commit {OLD[:12]}; the files this rule guards changed since,"
        " so it must be given again"
    ]
    still_good = decide(files, reviews, touched_since_old={"records/cis/database.yaml"})
    assert still_good.may_merge


def test_unknown_commit_makes_an_approval_stale(files: dict[str, bytes]) -> None:
    approve_mt_rfc(files)
    reviews = [review(m, minute=i) for i, m in enumerate(CAB_QUORUM)]
    reviews[0]["commit_id"] = None
    assert not decide(files, reviews).may_merge


def test_one_person_holding_two_roles_counts_once() -> None:
    base = dict(BASE_FILES)
    edit(
        base,
        "records/governance/approval-rules.yaml",
        "  service-provider:\n    title: the Service Provider's acceptance\n    requires:\n",
        "  service-provider:\n    title: the Service Provider's acceptance\n    requires:\n"
        "    - affiliation: service-provider\n      role: ecab\n      count: 1\n",
    )
    head = dict(base)
    edit(head, "records/cis/database.yaml", "name: iSupport database schema", "name: Database")
    decision = decide(head, [review("sp-service-manager")], base_files=base, author="sp-helpdesk-1")
    assert [c.member for c in decision.rules[0].counted] == ["sp-service-manager"]
    assert decision.rules[0].missing == ["1 more Service Provider member"]


def test_the_rules_come_from_the_base_not_the_pull_request(files: dict[str, bytes]) -> None:
    approve_mt_rfc(files)
    edit(
        files,
        "records/governance/approval-rules.yaml",
        "      role: cab\n      count: 2",
        "      role: cab\n      count: 0",
    )
    edit(files, "records/members/fr-caseworker-lead.yaml", "roles: []", "roles:\n- role: cab")
    decision = decide(
        files,
        [
            review("pb-coordinator"),
            review("sp-service-manager", minute=1),
            review("fr-caseworker-lead", minute=2),
        ],
    )
    cab = next(r for r in decision.rules if r.name == "cab")
    assert cab.missing == ["2 more States (one representative each) holding the cab role"]


# --- the eCAB (emergency change) -------------------------------------------------------------


def emergency_base() -> dict[str, bytes]:
    base = dict(BASE_FILES)
    edit(
        base,
        BR_RFC,
        "type: normal\nstatus: submitted\n",
        "type: emergency\nassessment:\n  impact: high\n  risk: medium\n"
        "  assessed_at: '2026-11-26T10:00:00-03:00'\nstatus: assessed\n",
    )
    return base


def approve_br_rfc(files: dict[str, bytes]) -> None:
    edit(
        files,
        BR_RFC,
        "status: assessed\n",
        "status: approved\ndecision:\n  outcome: approved\n"
        "  at: '2026-11-27T09:00:00-03:00'\n  by: ecab\n",
    )


def test_emergency_change_needs_the_ecab_on_duty() -> None:
    base = emergency_base()
    head = dict(base)
    approve_br_rfc(head)
    off_rota = decide(
        head,
        [
            review("pb-coordinator"),
            review("sp-service-manager", minute=1),
            review("fr-delegate", minute=2),
        ],
        base_files=base,
        author="br-delegate",
    )
    assert off_rota.rules[0].name == "ecab"
    assert off_rota.rules[0].missing == [
        "1 more State (one representative each) holding the ecab role and on eCAB duty this month"
    ]
    with_br = decide(
        head,
        [
            review("pb-coordinator"),
            review("sp-service-manager", minute=1),
            review("br-delegate", minute=2),
        ],
        base_files=base,
        author="sp-helpdesk-1",
    )
    assert with_br.may_merge


def test_changing_the_type_in_the_same_pull_request_needs_both_rules() -> None:
    base = emergency_base()
    head = dict(base)
    approve_br_rfc(head)
    edit(head, BR_RFC, "type: emergency", "type: service-request")
    decision = decide(head, [review("sp-service-manager")], base_files=base, author="br-delegate")
    assert [r.name for r in decision.rules] == ["ecab", "service-provider"]
    assert not decision.may_merge


# --- service requests, local changes, ownership ----------------------------------------------


def new_local_rfc(state: str, author_state: str) -> dict[str, bytes]:
    files = dict(BASE_FILES)
    text = BASE_FILES[MT_RFC].decode().replace("RFC-2026-GS4XV", "RFC-2026-NEW00")
    text = text.replace("requester: MT", f"requester: {state}").replace(
        "submitted_by: mt-delegate", f"submitted_by: {author_state.lower()}-delegate"
    )
    files["records/rfcs/RFC-2026-NEW00.yaml"] = text.encode()
    return files


def test_new_local_change_from_its_state_needs_the_service_provider() -> None:
    decision = decide(new_local_rfc("FR", "FR"), [review("sp-helpdesk-1")], author="fr-delegate")
    assert summary(decision)["rules"] == {
        "service-provider": {"counted": ["Service Provider"], "missing": [], "blockers": []}
    }
    assert decision.may_merge


def test_local_change_must_come_from_a_member_of_that_state() -> None:
    decision = decide(new_local_rfc("FR", "NL"), [review("sp-helpdesk-1")], author="sp-helpdesk-2")
    assert decision.problems == [
        "records/rfcs/RFC-2026-NEW00.yaml: a local change must come from a member of FR;"
        " the author is not one"
    ]


def test_local_change_cannot_be_implemented_with_its_approval(files: dict[str, bytes]) -> None:
    approve_mt_rfc(files)
    edit(
        files,
        MT_RFC,
        "status: approved",
        "status: implemented\nimplemented_at: '2026-11-27T10:00:00+01:00'",
    )
    decision = decide(files, [review(m, minute=i) for i, m in enumerate(CAB_QUORUM)])
    assert decision.problems == [
        f"{MT_RFC}: a local change cannot be marked implemented before the Service Provider's"
        " approval has been merged"
    ]


def test_a_state_member_may_change_only_that_states_records(files: dict[str, bytes]) -> None:
    path = "records/incidents/INC-2026-4ADP7.yaml"  # reported by the Netherlands
    edit(files, path, "status: on-hold", "status: in-progress")
    decision = decide(files, [review("sp-helpdesk-1")], author="fr-delegate")
    assert decision.problems == [
        f"{path}: belongs to NL; a member of FR may change only FR's records"
    ]
    assert not decision.may_merge


def test_helpdesk_incident_update_needs_another_service_provider_member(
    files: dict[str, bytes],
) -> None:
    edit(files, "records/incidents/INC-2026-4ADP7.yaml", "status: on-hold", "status: in-progress")
    own = decide(files, [review("sp-helpdesk-1")], author="sp-helpdesk-1")
    assert not own.may_merge
    other = decide(files, [review("sp-helpdesk-2")], author="sp-helpdesk-1")
    assert other.may_merge


# --- governance, protected paths -------------------------------------------------------------


def test_release_needs_the_governing_body_and_observers_do_not_count(
    files: dict[str, bytes],
) -> None:
    edit(
        files,
        "records/releases/4.3.0.yaml",
        "planned_date: '2027-04-20'",
        "planned_date: '2027-04-27'",
    )
    reviews = [
        review("pb-coordinator"),
        review("fr-delegate", minute=1),
        review("us-observer", minute=2),
    ]
    decision = decide(files, reviews, author="sp-release-manager")
    assert decision.rules[0].title == "the Governing Body"
    assert decision.rules[0].missing == [
        "1 more State (one representative each) holding the governing-body role and with a vote"
    ]
    reviews.append(review("ch-delegate", minute=3))
    assert decide(files, reviews, author="sp-release-manager").may_merge


def test_tool_and_schema_changes_need_the_permanent_bureau(files: dict[str, bytes]) -> None:
    decision = decide(
        files,
        [review("sp-service-manager")],
        author="sp-helpdesk-1",
        changed={"tool/isg/cli/__init__.py", "schemas/rfc.schema.json"},
    )
    assert summary(decision)["rules"] == {
        "permanent-bureau": {
            "counted": [],
            "missing": ["1 more Permanent Bureau member"],
            "blockers": [],
        }
    }
    assert decision.rules[0].reasons == [
        "schemas/rfc.schema.json: schemas/ is protected",
        "tool/isg/cli/__init__.py: tool/ is protected",
    ]
    assert decide(
        files, [review("pb-lawyer")], author="sp-helpdesk-1", changed={"tool/isg/cli/__init__.py"}
    ).may_merge


# --- reviews as GitHub sends them --------------------------------------------------------------


def test_pagination_of_more_than_thirty_reviews(files: dict[str, bytes]) -> None:
    approve_mt_rfc(files)
    chatter = [review("@someone", "COMMENTED", minute=i % 60) for i in range(33)]
    pages = [
        chatter[:30],
        chatter[30:] + [review(m, minute=40 + i) for i, m in enumerate(CAB_QUORUM)],
    ]
    text = "".join(json.dumps(page) for page in pages)  # `gh api --paginate` prints pages
    decision = evaluate_approvals(
        base=BASE,
        head=parse_registry(files),
        changed_paths={MT_RFC},
        reviews=parse_reviews(text),
        pull_request=PullRequest(author="mt-delegate-demo", head_sha=HEAD),
        changed_since=lambda commit: None,
        at=NOW,
    )
    assert len(parse_reviews(text)) == 37
    assert decision.may_merge


def test_a_webhook_payload_is_read_as_one_review() -> None:
    (only,) = parse_reviews(json.dumps(WEBHOOK_REVIEW))
    assert (only.state, only.login, only.user_id) == ("COMMENTED", "Codertocat", 21031067)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "{not json",
            "reviews are not JSON: Expecting property name enclosed in double quotes"
            " at character 1",
        ),
        ('"text"', "reviews must be a JSON list (GET /pulls/{n}/reviews)"),
        ('[{"id": 1, "state": "LOVED", "user": null}]', "review 1 has an unknown state 'LOVED'"),
        (
            '[{"id": 1, "state": "APPROVED", "user": {"login": "x"}}]',
            "review 1 has a user without a numeric id",
        ),
    ],
)
def test_bad_review_json_is_a_clear_error(text: str, message: str) -> None:
    from isg.github_api import GitHubDataError

    with pytest.raises(GitHubDataError) as caught:
        parse_reviews(text)
    assert str(caught.value) == message
