"""Reading the registry's git history (isg.git_history): reopened incidents by year."""

from __future__ import annotations

from pathlib import Path

from conftest import git
from isg.git_history import reopened_by_year, reopened_incidents


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
