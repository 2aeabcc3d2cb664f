"""`isg site build` remembers what it wrote (isg.render.page_memo): a rebuild renders only the
pages whose inputs changed, and its output is always that of a build without the memo."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from conftest import RunCli, git
from isg.render.page_memo import page_key, unchanged
from isg.render.pages import Page
from site_builds import build, fresh, tree


def test_a_rebuild_renders_only_the_pages_whose_inputs_changed(
    run_cli: RunCli, repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from isg.render import rebuild

    patched: list[dict[str, bytes]] = []
    real_patches = rebuild.list_patches

    def spy(*args: Any) -> dict[str, bytes] | None:
        found = real_patches(*args)
        patched.append(found or {})
        return found

    monkeypatch.setattr(rebuild, "list_patches", spy)
    out = tmp_path / "site"
    files, rendered = build(run_cli, repo, out)
    pages = sum(1 for path in tree(out) if path.endswith(".html"))
    assert rendered == pages > 50
    before = tree(out)
    assert build(run_cli, repo, out) == (files, 0)  # nothing changed: nothing rendered
    incident = sorted((repo / "records" / "incidents").glob("*.yaml"))[0]
    incident.write_text(incident.read_text().replace("title: ", "title: Changed, ", 1))
    _, rendered = build(run_cli, repo, out)
    after = tree(out)
    changed = {p for p in after if p.endswith(".html") and after[p] != before.get(p)}
    incident_id = incident.name.removesuffix(".yaml")
    year = incident_id.split("-")[1]  # a closed incident: its year's list, not the open ones
    assert f"incidents/{incident_id}.html" in changed and f"incidents/{year}.html" in changed
    assert "incidents/index.html" not in changed
    # Every page whose bytes changed was rendered (or, a long list, its row replaced:
    # render/row_patches.py), and little else: the pages that name the incident (its CIs,
    # the lists, the home page, reports) are the only ones given new data.
    made = rendered + len(patched[-1] if patched else {})
    assert len(changed) <= made <= len(changed) + 3, (rendered, patched, sorted(changed))
    assert after == fresh(run_cli, repo, tmp_path / "fresh", monkeypatch)


def test_a_page_edited_or_removed_in_the_folder_is_made_again(
    run_cli: RunCli, repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "site"
    build(run_cli, repo, out)
    (out / "problems" / "index.html").write_text("defaced")
    (out / "search.html").unlink()
    page = out / "governance.html"  # same size, same time: only the bytes differ
    stat = page.stat()
    page.write_bytes(page.read_bytes().replace(b"Governance", b"G0vernance", 1))
    os.utime(page, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert page.stat().st_size == stat.st_size
    _, rendered = build(run_cli, repo, out)
    # The two whose files changed on disk; the same-time edit is not seen (the memo trusts
    # size and modification time, as make and git do) until its inputs change.
    assert rendered == 2
    expected = fresh(run_cli, repo, tmp_path / "fresh", monkeypatch)
    assert tree(out)["problems/index.html"] == expected["problems/index.html"]
    assert tree(out)["search.html"] == expected["search.html"]


def test_new_templates_or_a_new_time_render_what_they_touch(
    run_cli: RunCli, repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "site"
    _, everything = build(run_cli, repo, out)
    top = repo / "site" / "templates" / "_top.html.j2"
    top.write_text(top.read_text().replace("Skip to the content", "Skip to content"))
    assert build(run_cli, repo, out)[1] == everything
    assert b"Skip to content" in (out / "index.html").read_bytes()
    later = "2026-11-30T12:00:00+00:00"
    result = run_cli("site", "build", "--repo", str(repo), "--at", later, "--out", str(out))
    timed = [p for p, content in tree(out).items() if b"Status as of" in content]
    assert result.output.rstrip().endswith(f"; {len(timed)} pages rendered")
    assert 0 < len(timed) < everything
    # Back at the first time: equal to a build without the memo.
    build(run_cli, repo, out)
    assert tree(out) == fresh(run_cli, repo, tmp_path / "fresh", monkeypatch)


def test_other_rendering_libraries_render_everything_again(
    run_cli: RunCli, repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new markdown-it or nh3 may render the same description differently."""
    from isg.render import page_memo

    out = tmp_path / "site"
    _, everything = build(run_cli, repo, out)
    assert "nh3 " in page_memo.renderer_versions()
    assert build(run_cli, repo, out)[1] == 0
    real = page_memo.renderer_versions
    monkeypatch.setattr(page_memo, "renderer_versions", lambda: real() + "; nh3 99")
    assert build(run_cli, repo, out)[1] == everything


def test_a_damaged_memo_is_started_again(
    run_cli: RunCli, repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "site"
    _, everything = build(run_cli, repo, out)
    (repo / ".isg" / "cache" / "site.sqlite").write_bytes(b"not a database" * 100)
    (out / "index.html").unlink()
    assert build(run_cli, repo, out)[1] == everything
    assert tree(out) == fresh(run_cli, repo, tmp_path / "fresh", monkeypatch)
    assert build(run_cli, repo, out)[1] == 0


def test_without_the_cache_every_page_is_rendered(
    run_cli: RunCli, repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "site"
    _, everything = build(run_cli, repo, out)
    monkeypatch.setenv("ISG_NO_CACHE", "1")
    assert build(run_cli, repo, out)[1] == everything


def test_a_page_given_something_without_a_faithful_repr_is_always_rendered(
    tmp_path: Path,
) -> None:
    from datetime import UTC, datetime

    at = datetime(2026, 11, 27, tzinfo=UTC)
    plain = Page("a.html", "list.html.j2", "A", {"records": [{"id": "X"}]})
    assert page_key(plain, at, False) == page_key(plain, at, False)
    assert page_key(plain, at, False) != page_key(plain, at, True)  # the members' build
    assert page_key(plain, at, False) != page_key(plain, at.replace(day=28), False)
    untimed = Page("a.html", "list.html.j2", "A", {"records": [{"id": "X"}]}, timed=False)
    assert page_key(untimed, at, False) == page_key(untimed, at.replace(day=28), False)
    odd = Page("a.html", "list.html.j2", "A", {"records": [object()]})
    assert page_key(odd, at, False) is None
    target = tmp_path / "a.html"
    target.write_text("x")
    assert not unchanged(target, None, (b"k", 1, target.stat().st_mtime_ns))


def test_a_remembered_status_that_changes_renders_its_page_again(
    run_cli: RunCli, repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Incident pages are keyed by the digest of their status as the SLA store keeps it
    (not its repr): a new policy must still show on every closed incident's page."""
    out = tmp_path / "site"
    build(run_cli, repo, out)
    assert build(run_cli, repo, out)[1] == 0  # the statuses now come from the store
    before = tree(out)
    policy = repo / "records" / "service-levels" / "sla-2016.yaml"
    text = policy.read_text()
    renamed = "name: Registration confirmed to the reporter"
    policy.write_text(
        text.replace(
            "name: Confirm registration of the incident to the reporter"
            " (priority 1 and 2 also to eCAB)",
            renamed,
            1,
        )
    )
    build(run_cli, repo, out)
    after = tree(out)
    closed = [
        p.stem
        for p in (repo / "records" / "incidents").glob("*.yaml")
        if "\nstatus: closed\n" in p.read_text()
    ]
    assert closed
    for incident in closed:
        page = after[f"incidents/{incident}.html"].decode()
        assert f"<tr><td>{renamed.removeprefix('name: ')}</td>" in page
        assert after[f"incidents/{incident}.html"] != before[f"incidents/{incident}.html"]
    assert after == fresh(run_cli, repo, tmp_path / "fresh", monkeypatch)


@pytest.mark.parametrize("forked", [False, True], ids=["keys-here", "keys-forked"])
def test_yearly_reports_are_kept_until_a_record_they_read_changes(
    run_cli: RunCli, repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, forked: bool
) -> None:
    """A build reuses each past year's report made from the same records, policies and
    reopened incidents; the current year's is made at each new time; a changed incident
    makes again the years that may read it; the site is always that of a build without the
    store. The same when the years each record is read in are worked out by a forked worker
    (as from 10,000 records)."""
    from isg.render import builder, rebuild
    from isg.sla import memory

    # Every build here is a full one: this is about the reports it keeps (a rebuild of
    # free-text edits, which makes no report, is tests/cli/test_site_rebuild.py's).
    monkeypatch.setattr(rebuild, "rebuild", lambda *args: None)
    forks: list[object] = []
    if forked:
        real_soon = memory.forked_soon
        monkeypatch.setattr(memory, "REPORT_KEYS_PARALLEL_FROM", 1)
        monkeypatch.setattr(memory, "forked_soon", lambda *a: forks.append(a[0]) or real_soon(*a))

    made: list[int] = []
    real = builder.build_report

    def counting(*args: object, **kwargs: object) -> object:
        made.append(kwargs["year"])  # type: ignore[arg-type]
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builder, "build_report", counting)
    bases: list[object] = []
    real_basis = builder.ReportBasis.of
    monkeypatch.setattr(
        builder.ReportBasis, "of", lambda registry: bases.append(1) or real_basis(registry)
    )
    reads: list[str] = []  # what reports read of a record, worked out (here, not forked)
    real_reads = memory.years_read
    monkeypatch.setattr(memory, "years_read", lambda k, d: reads.append(k) or real_reads(k, d))
    out = tmp_path / "site"
    build(run_cli, repo, out)
    years = sorted(made)
    assert len(years) >= 2
    assert bool(reads) is not forked  # worked out for each record, the first time
    made.clear()
    reads.clear()
    build(run_cli, repo, out)
    assert made == [] and bases == [1]  # nothing changed: every report kept, nothing read
    assert reads == []  # what reports read of each file is kept by blob
    assert tree(out) == fresh(run_cli, repo, tmp_path / "fresh-kept", monkeypatch)
    made.clear()
    later = "2026-11-28T12:00:00+00:00"
    result = run_cli("site", "build", "--repo", str(repo), "--at", later, "--out", str(out))
    assert result.exit_code == 0, result.output
    assert made == [2026]  # only the year that is still running is reported at the new time
    # A changed incident: the years that may read it (compliance.years_read) are made again;
    # its free text, which no report reads (memory.REPORT_BLIND), makes none.
    incidents = repo / "records" / "incidents"
    for name, old, new, again in (
        ("INC-2026-4ADP7", "urgency: medium", "urgency: high", [2026]),
        ("INC-2025-04AVC", "urgency: medium", "urgency: high", [2025, 2026]),
        ("INC-2025-04AVC", "title: ", "title: Changed, ", []),
        ("INC-2026-4ADP7", "title: ", "title: Changed, ", []),
    ):
        made.clear()
        incident = incidents / f"{name}.yaml"
        text = incident.read_text()
        assert old in text
        incident.write_text(text.replace(old, new, 1))
        build(run_cli, repo, out)
        assert sorted(made) == again, (name, old)
        fresh_site = fresh(run_cli, repo, tmp_path / f"fresh-{name}-{len(again)}", monkeypatch)
        assert tree(out) == fresh_site
    # Those changes committed: no record a report reads changed, so none is made again,
    # and each names the new commit (a report's label, not what it is made of).
    git(repo, "commit", "-q", "-am", "changed")
    head = git(repo, "rev-parse", "HEAD").strip()
    made.clear()
    build(run_cli, repo, out)
    assert made == []
    for year in years:
        assert f"<code>{head}</code>" in (out / f"reports/sla-{year}.html").read_text()
    assert tree(out) == fresh(run_cli, repo, tmp_path / "fresh-committed", monkeypatch)
    assert years == [2025, 2026]
    assert forks == ([memory._year_groups_of] * 8 if forked else [])  # one per cached build


def test_a_field_newly_marked_private_leaves_every_page_that_showed_it(
    run_cli: RunCli, repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An incident page's key stands on its file's blob, not on its data: what the schemas
    redact from that data is in the memo's version (a schema change renders every page)."""
    import json

    out = tmp_path / "site"
    _, everything = build(run_cli, repo, out)
    assert build(run_cli, repo, out)[1] == 0
    shown = [p for p, content in tree(out).items() if b"(e-mail)</dd>" in content]
    assert any(p.startswith("incidents/INC-") for p in shown)
    schema_path = repo / "schemas" / "incident.schema.json"
    schema = json.loads(schema_path.read_text())
    schema["properties"]["channel"]["x-isg-personal"] = True
    schema_path.write_text(json.dumps(schema, indent=2))
    assert build(run_cli, repo, out)[1] == everything
    after = tree(out)
    assert not [p for p in shown if p.startswith("incidents/INC-") and b"(e-mail)</dd>" in after[p]]
    assert after == fresh(run_cli, repo, tmp_path / "fresh", monkeypatch)


def test_the_memo_keeps_exactly_the_rows_of_the_last_build(repo: Path, tmp_path: Path) -> None:
    from isg.render.page_memo import PageMemo

    for name in ("one", "two"):  # the rows of a folder with nothing in it are not read
        (tmp_path / name).mkdir()
        (tmp_path / name / "a.html").write_text("a page")

    def reopened(out: Path) -> dict[str, tuple[bytes, int, int]]:
        memo = PageMemo.open(repo, repo / "site", out)
        try:
            return memo.rows
        finally:
            memo.close()

    first = {"a.html": (b"k1", 10, 1), "b.html": (b"k2", 20, 2)}
    second = {"b.html": (b"k3", 21, 3), "c.html": (b"k4", 30, 4)}
    memo = PageMemo.open(repo, repo / "site", tmp_path / "one")
    memo.keep(first)
    memo.close()
    assert reopened(tmp_path / "one") == first
    other = PageMemo.open(repo, repo / "site", tmp_path / "two")  # another folder's rows
    other.keep({"a.html": (b"x", 1, 1)})
    other.close()
    memo = PageMemo.open(repo, repo / "site", tmp_path / "one")
    memo.keep(second)  # one row gone, one changed, one new
    memo.keep(second)  # nothing to write
    memo.close()
    assert reopened(tmp_path / "one") == second
    assert reopened(tmp_path / "two") == {"a.html": (b"x", 1, 1)}
    # Emptied, the folder's rows are not read; kept again, they are exactly the new ones.
    (tmp_path / "one" / "a.html").unlink()
    memo = PageMemo.open(repo, repo / "site", tmp_path / "one")
    assert memo.rows == {} and memo.unread
    memo.keep(first)
    memo.close()
    (tmp_path / "one" / "a.html").write_text("a page")
    assert reopened(tmp_path / "one") == first
    assert reopened(tmp_path / "two") == {"a.html": (b"x", 1, 1)}


def test_a_problem_retitled_renders_the_incident_pages_that_name_it(
    run_cli: RunCli, repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An incident page's key knows the problem it names by its file's blob."""
    out = tmp_path / "site"
    build(run_cli, repo, out)
    before = tree(out)
    naming = {
        p
        for p, content in before.items()
        if p.startswith("incidents/INC-") and b'href="../problems/PRB-' in content
    }
    assert naming  # the examples link incidents to problems
    for problem in (repo / "records" / "problems").glob("*.yaml"):
        problem.write_text(problem.read_text().replace("title: ", "title: Retitled, ", 1))
    _, rendered = build(run_cli, repo, out)
    after = tree(out)
    assert all(b"Retitled, " in after[p] for p in naming)
    assert {p for p in naming if after[p] != before[p]} == naming
    assert rendered >= len(naming)
    assert after == fresh(run_cli, repo, tmp_path / "fresh", monkeypatch)
