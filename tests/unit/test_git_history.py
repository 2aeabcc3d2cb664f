"""Reading the registry's git history (isg.git_history): reopened incidents by year, and
kept in the SLA store between builds (sla.memory.remembered_reopened)."""

from __future__ import annotations

from datetime import datetime
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


def test_the_milestone_log_parsed_as_git_writes_it_equals_one_parse_of_all_of_it(
    git_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cut into chunks of a few bytes (each line cut somewhere), the log gives what the
    whole log read at once and parsed with the same pattern gives."""
    import subprocess

    from isg import git_history

    source = sorted((git_repo / "records" / "incidents").glob("*.yaml"))[0]
    copy = git_repo / "records" / "incidents" / "INC-2026-ABCDE.yaml"
    copy.write_text(source.read_text().replace(source.stem, copy.stem))
    git(git_repo, "add", "-A")
    git(git_repo, "commit", "-q", "-m", "one more", date="2026-01-02T10:00:00+00:00")
    top, folder, head = git_history.milestone_log_place(git_repo)
    command = ["git", "-C", str(top), "log", "--reverse", "--no-renames", "-p", "--unified=0"]
    command += ["--no-color", "--no-ext-diff", "--format=%x00%H %cI", str(head), "--", folder]
    whole = subprocess.run(command, capture_output=True, check=True).stdout
    expected = {}
    commit = None
    incident = ""
    for match in git_history._LOG_LINE.finditer(whole):
        sha, when, path_text, key, value = match.groups()
        if sha is not None:
            commit = (sha.decode(), when.decode())
        elif path_text is not None:
            incident = Path(path_text.decode()).stem
        elif commit is not None:
            instant = git_history._instant(value)
            if instant is not None:
                expected.setdefault((incident, key.decode(), instant), commit)
    assert len(expected) > 20
    for chunk in (7, 64, 1 << 18):
        monkeypatch.setattr(git_history, "_LOG_CHUNK", chunk)
        found = git_history.read_milestone_log(git_repo).found
        assert {k: (v.commit, v.committed_at.isoformat()) for k, v in found.items()} == {
            k: (sha, datetime.fromisoformat(when).isoformat())
            for k, (sha, when) in expected.items()
        }


def test_whole_lines_end_each_chunk_after_a_line_and_keep_a_last_line_without_one() -> None:
    import io

    from isg import git_history

    text = b"one\ntwo two\n\nthree-and-a-long-tail"
    chunks = list(git_history._whole_lines(io.BytesIO(text)))
    assert b"".join(chunks) == text
    assert all(chunk.endswith(b"\n") for chunk in chunks[:-1])
    assert chunks[-1] == b"three-and-a-long-tail"
    assert list(git_history._whole_lines(io.BytesIO(b""))) == []


def test_a_failing_git_log_is_told_with_what_git_said(git_repo: Path) -> None:
    from isg.errors import RegistryError
    from isg.git_history import milestone_log_place, read_milestone_log

    top, folder, _ = milestone_log_place(git_repo)
    with pytest.raises(RegistryError, match=r"\Agit log failed: fatal: bad object f{40}\Z"):
        read_milestone_log(git_repo, place=(top, folder, "f" * 40))
