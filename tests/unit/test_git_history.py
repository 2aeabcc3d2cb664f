"""Reading the registry's git history (isg.git_history): reopened incidents by year, and
kept in the SLA store between builds (sla.memory.remembered_reopened)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conftest import git
from isg.git_history import reopened_by_year, reopened_incidents
from isg.sla import memory
from isg.sla.memory import remembered_reopened


def _set_status(repo: Path, incident: str, status: str, when: str) -> None:
    path = repo / "records" / "incidents" / f"{incident}.yaml"
    text = path.read_text()
    old = next(line for line in text.splitlines() if line.startswith("status: "))
    path.write_text(text.replace(old, f"status: {status}", 1))
    git(repo, "commit", "-q", "--allow-empty", "-am", f"{incident} {status}", date=when)


def test_reopened_incidents_are_found_by_the_year_of_their_commit(git_repo: Path) -> None:
    incidents = sorted(p.stem for p in (git_repo / "records" / "incidents").glob("*.yaml"))
    first, second, third = incidents[:3]
    for incident in (first, second, third):  # a known start, whatever the examples say
        _set_status(git_repo, incident, "registered", "2024-01-02T10:00:00+00:00")
    _set_status(git_repo, first, "resolved", "2024-06-01T10:00:00+00:00")
    _set_status(git_repo, first, "in-progress", "2024-06-03T10:00:00+00:00")  # reopened
    _set_status(git_repo, second, "closed", "2024-12-30T10:00:00+00:00")
    # 2025 where it was written (+02:00), 2024-12-31 in UTC: counted in its written year.
    _set_status(git_repo, second, "in-progress", "2025-01-01T01:00:00+02:00")
    _set_status(git_repo, third, "registered", "2025-03-01T10:00:00+00:00")
    _set_status(git_repo, third, "in-progress", "2025-03-02T10:00:00+00:00")  # not reopened

    found = reopened_by_year(git_repo)
    assert found is not None
    assert found.get(2024) == {first}
    assert found.get(2025) == {second}
    assert reopened_incidents(git_repo, 2024) == {first}
    assert reopened_incidents(git_repo, 2025) == {second}
    assert reopened_incidents(git_repo, 2023) == set()


def test_outside_a_git_checkout_reopened_incidents_are_unknown(registry: Path) -> None:
    assert reopened_by_year(registry) is None
    assert reopened_incidents(registry, 2025) is None


def test_reopened_incidents_kept_in_the_store_equal_a_whole_pass_as_history_moves(
    git_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store's answer equals `reopened_by_year` at every step: first the whole history,
    then nothing read at the same commit, then only the new commits, and the whole history
    again when HEAD no longer grows from the kept commit (a branch reset, a merge)."""
    reads: list[str | None] = []
    real = memory.read_reopened

    def counting(place: Any, since: str | None = None) -> Any:
        reads.append(since)
        return real(place, since=since)

    monkeypatch.setattr(memory, "read_reopened", counting)
    incidents = sorted(p.stem for p in (git_repo / "records" / "incidents").glob("*.yaml"))
    first, second, third = incidents[:3]

    def kept() -> dict[int, set[str]] | None:
        found = remembered_reopened(git_repo)
        assert found == reopened_by_year(git_repo)
        return found

    for incident in (first, second, third):
        _set_status(git_repo, incident, "registered", "2024-01-02T10:00:00+00:00")
    _set_status(git_repo, first, "resolved", "2024-06-01T10:00:00+00:00")
    _set_status(git_repo, first, "in-progress", "2024-06-03T10:00:00+00:00")
    assert kept() == {2024: {first}}
    assert reads == [None]  # the whole history, the first time
    tip = git(git_repo, "rev-parse", "HEAD").strip()

    assert kept() == {2024: {first}}
    assert reads == [None]  # the same commit: nothing read

    _set_status(git_repo, second, "closed", "2025-02-01T10:00:00+00:00")
    _set_status(git_repo, second, "in-progress", "2025-02-02T10:00:00+00:00")
    assert kept() == {2024: {first}, 2025: {second}}
    assert reads == [None, tip]  # only the two new commits

    # HEAD moved back before the reopening of `second`, then on another way.
    git(git_repo, "reset", "-q", "--hard", tip)
    _set_status(git_repo, third, "resolved", "2025-03-01T10:00:00+00:00")
    _set_status(git_repo, third, "in-progress", "2025-03-02T10:00:00+00:00")
    assert kept() == {2024: {first}, 2025: {third}}
    assert reads[-1] is None  # not grown from the kept commit: read whole

    # A merge brings in a side branch's reopening: read whole again.
    side_base = git(git_repo, "rev-parse", "HEAD").strip()
    git(git_repo, "checkout", "-q", "-b", "side")
    _set_status(git_repo, second, "resolved", "2025-04-01T10:00:00+00:00")
    _set_status(git_repo, second, "in-progress", "2025-04-02T10:00:00+00:00")
    git(git_repo, "checkout", "-q", "main")
    assert git(git_repo, "rev-parse", "HEAD").strip() == side_base
    kept()
    git(git_repo, "merge", "-q", "--no-ff", "-m", "merge side", "side")
    reads.clear()
    assert kept() == {2024: {first}, 2025: {second, third}}
    assert reads == [None]


def test_reopened_incidents_without_the_store_or_git(registry: Path) -> None:
    assert remembered_reopened(registry) is None  # not a git checkout
    assert remembered_reopened(registry, use_cache=False) is None


def test_an_incident_file_renamed_as_it_is_reopened_is_found_under_its_new_name(
    git_repo: Path,
) -> None:
    """git's rename detection (on by default) shows the renamed file's own diff, so the
    status it went back from is seen, whether the history is read whole or kept."""
    incidents = git_repo / "records" / "incidents"
    first = sorted(p.stem for p in incidents.glob("*.yaml"))[0]
    _set_status(git_repo, first, "closed", "2025-05-01T10:00:00+00:00")
    old = incidents / f"{first}.yaml"
    text = old.read_text()
    status = next(line for line in text.splitlines() if line.startswith("status: "))
    (incidents / "INC-RENAMED.yaml").write_text(text.replace(status, "status: in-progress", 1))
    old.unlink()
    git(git_repo, "add", "-A")
    git(git_repo, "commit", "-q", "-m", "renamed and reopened", date="2025-05-02T10:00:00+00:00")
    assert reopened_by_year(git_repo) == {2025: {"INC-RENAMED"}}
    assert remembered_reopened(git_repo) == {2025: {"INC-RENAMED"}}
