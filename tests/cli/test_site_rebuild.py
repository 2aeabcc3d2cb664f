"""A rebuild that reads only what changed (isg.render.rebuild): after each kind of change, it
is taken exactly when only incidents' free text changed, and the folder then holds, file for
file, what a build without any store makes in an empty folder."""

from __future__ import annotations

import inspect
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conftest import REPO_ROOT, RunCli, edit_file, git
from isg.render import rebuild
from site_builds import build, fresh, tree

OPEN = "records/incidents/INC-2026-59M2Z.yaml"  # open, on the home page, names a CI
CLOSED = "records/incidents/INC-2025-DA1H6.yaml"  # closed in 2025, names two CIs
INTERNAL = "records/incidents/INC-2026-7EVZM.yaml"  # visibility: internal
WITH_PROBLEM = "records/incidents/INC-2026-4ADP7.yaml"  # its page names its problem


@pytest.fixture
def taken(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many rebuilds wrote the site (one item each: the incidents they changed)."""
    found: list[int] = []
    original = rebuild._write

    def spy(*args: object, **kwargs: object) -> object:
        done = original(*args, **kwargs)  # type: ignore[arg-type]
        if done is not None:
            changed = inspect.signature(original).bind(*args, **kwargs).arguments["changed"]
            found.append(len(changed))
        return done

    monkeypatch.setattr(rebuild, "_write", spy)
    return found


def retitle(repo: Path, rel: str, title: str) -> None:
    """Give the record at `rel` the title `title` (a YAML double-quoted scalar: JSON's)."""
    path = repo / rel
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    at = next(n for n, line in enumerate(lines) if line.startswith("title: "))
    lines[at] = f"title: {json.dumps(title)}\n"
    path.write_text("".join(lines), encoding="utf-8")


Change = Callable[[Path], None]
FREE_TEXT: list[tuple[str, Change, int]] = [  # (what, how, incidents changed)
    ("an open incident retitled", lambda r: edit_file(r, OPEN, "title: ", "title: New, "), 1),
    (
        "markup and JSON's own characters in a title",
        lambda r: retitle(r, CLOSED, '<script>"&\u2028\\ é </script>'),
        1,
    ),
    (
        "a description and one of another year",
        lambda r: (
            edit_file(r, CLOSED, "description: |\n", "description: |\n  Edited.\n"),
            edit_file(r, OPEN, "description: |\n", "description: |\n  <b>Also</b>.\n"),
        ),
        2,
    ),
    (
        "an internal incident's title",
        lambda r: edit_file(r, INTERNAL, "title: ", "title: Hidden, "),
        1,
    ),
    (
        "an incident that names a problem retitled",
        lambda r: edit_file(r, WITH_PROBLEM, "title: ", "title: Renamed, "),
        1,
    ),
    ("nothing", lambda r: None, 0),
    ("back to the last build's bytes", lambda r: edit_file(r, OPEN, "title: New, ", "title: "), 1),
]


@pytest.mark.parametrize("lists", ["patched", "rendered"])
def test_free_text_edits_are_rebuilt_as_a_full_build_makes_them(
    run_cli: RunCli, repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, taken: list[int],
    lists: str,
) -> None:  # fmt: skip
    """Each edit rebuilt, the site compared with a full build's. With the site's own
    templates a retitled incident's row is replaced in the long lists (`row_patches`); with
    another site's (here a comment added to one) those lists are rendered."""
    from isg.render import row_patches

    if lists == "rendered":
        with (repo / "site" / "templates" / "ci.html.j2").open("a") as template:
            template.write("{# this site's own #}\n")
    assert row_patches.patchable(repo / "site") == (lists == "patched")
    patched: list[set[str]] = []
    real_patches = rebuild.list_patches

    def spy(*args: Any) -> dict[str, bytes] | None:
        found = real_patches(*args)
        patched.append(set(found or ()))
        return found

    monkeypatch.setattr(rebuild, "list_patches", spy)
    out = tmp_path / "site"
    files, _ = build(run_cli, repo, out)
    assert taken == []  # the first build is a full one
    for number, (what, change, incidents) in enumerate(FREE_TEXT):
        before = tree(out)
        patched.clear()
        change(repo)
        found, rendered = build(run_cli, repo, out)
        after = tree(out)
        if what == "an internal incident's title":
            assert taken[-1:] != [incidents], what  # not published: a full build tells
        else:
            assert taken[-1:] == [incidents], what
        assert found == files == len(after), what
        assert after == fresh(run_cli, repo, tmp_path / f"fresh-{number}", monkeypatch), what
        changed = {p for p in after if after[p] != before.get(p)}
        made = rendered + sum(len(pages) for pages in patched)
        if what == "an internal incident's title":
            # A full build: it renders again the pages patched before (no memo row), alike.
            assert changed == set(), what
        else:
            assert made == sum(1 for p in changed if p.endswith(".html")), (what, changed)
        if what == "an open incident retitled":
            long_lists = {"incidents/2026.html", "cis/currency-conversion.html"}
            assert patched == ([long_lists] if lists == "patched" else []), what
            assert changed == {
                "index.html",  # the open incidents by priority
                "incidents/index.html",
                "incidents/2026.html",
                "incidents/INC-2026-59M2Z.html",
                "cis/currency-conversion.html",
                "assets/search-index.js",
                "data/records.json",
                "feed.atom",  # reported the day before: a recent change
            }


def test_the_row_formats_were_checked_against_the_templates_the_site_ships() -> None:
    """`row_patches.SHIPPED` is the digest of the templates the long lists are made of: when
    one changes, check that a retitled incident's row is still made by the row helpers
    alone and shown nowhere else on those pages, then set the new digest."""
    from isg.render import row_patches

    assert row_patches.templates_digest(REPO_ROOT / "site") == row_patches.SHIPPED


def test_git_is_asked_only_for_what_its_index_does_not_vouch_for_while_the_index_is_the_same(
    run_cli: RunCli, repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, taken: list[int]
) -> None:
    """While git's index is the one the last build read, a rebuild hashes only the files
    git does not vouch for (`_worktree_changes`); once files are staged, it compares every
    file's blob with the kept ones (`_changes`). Each way, the site a full build makes."""
    asked: list[str] = []
    for name in ("_worktree_changes", "_changes"):
        original = getattr(rebuild, name)

        def spy(*args: object, _name: str = name, _original: Any = original) -> object:
            asked.append(_name)
            return _original(*args)

        monkeypatch.setattr(rebuild, name, spy)
    out = tmp_path / "site"
    build(run_cli, repo, out)
    hashed, compared = "_worktree_changes", "_changes"
    added = "records/incidents/INC-2026-ZZZZZ.yaml"
    steps: list[tuple[str, Change, str, list[int]]] = [  # what, how, asked, taken
        ("edited", lambda r: edit_file(r, OPEN, "title: ", "title: New, "), hashed, [1]),
        ("staged", lambda r: git(r, "add", OPEN), compared, [1, 0]),
        ("edited again", lambda r: edit_file(r, CLOSED, "title: ", "title: Old, "), hashed,
         [1, 0, 1]),
        ("back", lambda r: edit_file(r, CLOSED, "title: Old, ", "title: "), hashed,
         [1, 0, 1, 1]),
        ("staged back", lambda r: git(r, "reset", "-q"), compared, [1, 0, 1, 1, 0]),
        ("a record deleted", lambda r: (r / CLOSED).unlink(), hashed,
         [1, 0, 1, 1, 0]),  # removed: a full build
        ("an untracked file", lambda r: shutil.copy(r / OPEN, r / added), hashed,
         [1, 0, 1, 1, 0]),  # added: a full build
    ]  # fmt: skip
    for number, (what, change, way, rebuilt) in enumerate(steps):
        asked.clear()
        change(repo)
        build(run_cli, repo, out)
        assert asked == [way], what
        assert taken == rebuilt, what
        assert tree(out) == fresh(run_cli, repo, tmp_path / f"fresh-{number}", monkeypatch), what


def test_the_members_build_is_rebuilt_too(
    run_cli: RunCli, repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, taken: list[int]
) -> None:
    out = tmp_path / "site"
    build(run_cli, repo, out, "--internal")
    edit_file(repo, INTERNAL, "title: ", "title: Hidden, ")
    edit_file(repo, OPEN, "reporting_state: MT\n", "reporting_state: MT\ninternal_notes: Called.\n")
    build(run_cli, repo, out, "--internal")
    assert taken == [2]
    expected = tmp_path / "fresh"
    with monkeypatch.context() as patch:
        patch.setenv("ISG_NO_CACHE", "1")
        build(run_cli, repo, expected, "--internal")
    assert tree(out) == tree(expected)
    assert b"Called." in tree(out)["incidents/INC-2026-59M2Z.html"]


def _stray(out: Path) -> None:
    (out / "incidents" / "stray.html").write_text("left here")


def _defaced(out: Path) -> None:
    page = out / "problems" / "index.html"
    page.write_text("defaced")


FULL: list[tuple[str, Change | None, Change | None]] = [  # (what, to the registry, to the site)
    ("an incident's urgency", lambda r: edit_file(r, CLOSED, "urgency: ", "urgency: low\n#"), None),
    (
        "an open incident's impact",
        lambda r: edit_file(r, OPEN, "impact: medium", "impact: high"),
        None,
    ),
    (
        "an incident added",
        lambda r: (r / "records/incidents/INC-2026-ZZZZZ.yaml").write_text(
            (r / OPEN).read_text().replace("INC-2026-59M2Z", "INC-2026-ZZZZZ")
        ),
        None,
    ),
    ("an incident removed", lambda r: (r / CLOSED).unlink(), None),
    ("a problem retitled", lambda r: _retitle(r, "records/problems"), None),
    ("a State changed", lambda r: _retitle(r, "records/states", "name: "), None),
    ("a file added to the site", None, _stray),
    ("a page edited in the site", None, _defaced),
    ("an incident retitled and committed", lambda r: _committed(r, OPEN), None),
]


def _retitle(repo: Path, folder: str, field: str = "title: ") -> None:
    first = sorted((repo / folder).glob("*.yaml"))[0]
    edit_file(repo, first.relative_to(repo).as_posix(), field, f"{field}Other, ")


def _committed(repo: Path, rel: str) -> None:
    edit_file(repo, rel, "title: ", "title: Committed, ")
    git(repo, "commit", "-qam", "retitled")


@pytest.mark.parametrize(("what", "on_records", "on_site"), FULL, ids=[f[0] for f in FULL])
def test_any_other_change_is_a_full_build(
    run_cli: RunCli, repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    taken: list[int], what: str, on_records: Change | None, on_site: Change | None,
) -> None:  # fmt: skip
    out = tmp_path / "site"
    history = () if what.endswith("committed") else ("--no-history",)
    build(run_cli, repo, out, *history)
    if on_records is not None:
        on_records(repo)
    if on_site is not None:
        on_site(out)
    build(run_cli, repo, out, *history)
    assert taken == [], what
    expected = tmp_path / "fresh"
    with monkeypatch.context() as patch:
        patch.setenv("ISG_NO_CACHE", "1")
        build(run_cli, repo, expected, *history)
    assert tree(out) == tree(expected), what
    # The state the full build left is that of the folder now: a free-text edit next is
    # rebuilt, and again as a full build makes it.
    edit_file(repo, "records/incidents/INC-2026-C3PWQ.yaml", "title: ", "title: Next, ")
    build(run_cli, repo, out, *history)
    assert taken == [1], what
    with monkeypatch.context() as patch:
        patch.setenv("ISG_NO_CACHE", "1")
        build(run_cli, repo, tmp_path / "again", *history)
    assert tree(out) == tree(tmp_path / "again"), what


def test_another_time_templates_or_assets_are_a_full_build(
    run_cli: RunCli, repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, taken: list[int]
) -> None:
    out = tmp_path / "site"
    build(run_cli, repo, out)
    edit_file(repo, OPEN, "title: ", "title: New, ")
    result = run_cli(
        "site", "build", "--repo", str(repo), "--at", "2026-11-28T12:00:00+00:00",
        "--out", str(out),
    )  # fmt: skip
    assert result.exit_code == 0 and taken == []
    build(run_cli, repo, out)  # back to the time of the last build but one: a full build
    assert taken == []
    css = sorted((repo / "site" / "static").glob("*.css"))[0]
    css.write_text(css.read_text() + "\n/* edited */\n")
    build(run_cli, repo, out)
    assert taken == []
    assert tree(out) == fresh(run_cli, repo, tmp_path / "fresh", monkeypatch)


def test_the_site_is_looked_at_by_a_forked_process_when_it_is_large(
    run_cli: RunCli, repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, taken: list[int]
) -> None:
    """From `LOOK_APART_FROM` pages, whether every file is as the last build left it is
    worked out in a forked process, and answers the same."""
    from isg import forks

    looked: list[object] = []
    real_soon = rebuild.forked_soon
    monkeypatch.setattr(rebuild, "LOOK_APART_FROM", 1)
    monkeypatch.setattr(forks, "workers", lambda: 2)
    monkeypatch.setattr(rebuild, "forked_soon", lambda *a: looked.append(a[0]) or real_soon(*a))
    out = tmp_path / "site"
    build(run_cli, repo, out)
    edit_file(repo, OPEN, "title: ", "title: New, ")
    build(run_cli, repo, out)
    assert taken == [1] and looked == [rebuild._intact_of]
    _defaced(out)
    edit_file(repo, OPEN, "title: New, ", "title: ")
    build(run_cli, repo, out)
    assert taken == [1] and len(looked) == 2  # looked at, found defaced: a full build
    assert tree(out) == fresh(run_cli, repo, tmp_path / "fresh", monkeypatch)


def test_the_site_is_looked_at_before_the_build_imports_its_modules_when_it_is_large(
    run_cli: RunCli, repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, taken: list[int]
) -> None:
    """From `site_look.LOOK_APART_FROM` pages, `isg site build` forks the look at the site's
    files first (`site_look.early_look`); a rebuild takes its answer (no look of its own),
    and a defaced page makes it a full build, as the look in the process does."""
    from isg import forks
    from isg.render import site_look

    answers: list[object] = []
    monkeypatch.setattr(site_look, "LOOK_APART_FROM", 1)
    monkeypatch.setattr(forks, "workers", lambda: 2)
    real_answered = rebuild.answered

    def counted(early: Any, text: str) -> Any:
        answers.append(early is not None)
        return real_answered(early, text)

    monkeypatch.setattr(rebuild, "answered", counted)
    monkeypatch.setattr(rebuild, "_intact_of", lambda looked: pytest.fail("looked at again"))
    out = tmp_path / "site"
    build(run_cli, repo, out)
    assert answers == []  # the first build: no memo, no look
    edit_file(repo, OPEN, "title: ", "title: New, ")
    build(run_cli, repo, out)
    assert taken == [1] and answers == [True]
    assert tree(out) == fresh(run_cli, repo, tmp_path / "fresh-1", monkeypatch)
    _defaced(out)
    edit_file(repo, OPEN, "title: New, ", "title: ")
    build(run_cli, repo, out)
    assert taken == [1] and answers == [True, True]  # looked at, found defaced: a full build
    assert tree(out) == fresh(run_cli, repo, tmp_path / "fresh-2", monkeypatch)


def test_an_early_look_counts_only_for_the_state_it_looked_at(tmp_path: Path) -> None:
    from isg.render import site_look

    text = '{"files": {}, "folders": {}}'
    yes = site_look.answered(lambda: (site_look.state_digest(text), True), text)
    assert yes is not None and yes()
    other = site_look.answered(lambda: (site_look.state_digest(text + " "), True), text)
    assert other is not None and not other()  # another state: not taken as intact
    defaced = site_look.answered(lambda: (site_look.state_digest(text), False), text)
    assert defaced is not None and not defaced()
    assert site_look.answered(lambda: None, text)() is False  # type: ignore[misc]
    assert site_look.answered(None, text) is None
    # No store, or a small site: not forked.
    with site_look.early_look(tmp_path, tmp_path / "site") as early:
        assert early is None


def test_the_early_look_forks_only_from_look_apart_from_pages_of_its_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlite3

    from isg.render import site_look

    monkeypatch.setattr(site_look, "LOOK_APART_FROM", 3)
    out = tmp_path / "site"
    store = tmp_path / site_look.STORE
    store.parent.mkdir(parents=True)
    db = sqlite3.connect(store)
    db.execute("CREATE TABLE rebuilds (folder TEXT PRIMARY KEY, state TEXT NOT NULL)")
    db.execute("CREATE TABLE pages (folder, path, key, size, mtime)")
    rows = [(str(out), f"{n}.html", b"k", 1, 1) for n in range(2)]
    rows += [(str(tmp_path / "other"), f"{n}.html", b"k", 1, 1) for n in range(5)]
    db.executemany("INSERT INTO pages VALUES (?, ?, ?, ?, ?)", rows)
    db.commit()
    with site_look.early_look(tmp_path, out) as early:
        assert early is None  # two pages of its own: looked at in the process
    db.execute("INSERT INTO pages VALUES (?, ?, ?, ?, ?)", (str(out), "2.html", b"k", 1, 1))
    db.commit()
    db.close()
    with site_look.early_look(tmp_path, out) as early:
        assert early is not None
        assert early() is None  # forked; no state kept for the folder: no answer


def test_the_early_look_reads_the_page_memos_store() -> None:
    from isg.layout import CACHE_DIR
    from isg.render import page_memo, site_look

    assert f"{CACHE_DIR}/{page_memo.STORE_FILE}" == site_look.STORE


def test_a_rebuild_reads_the_git_listing_the_command_started_before_its_imports(
    run_cli: RunCli, repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, taken: list[int]
) -> None:
    """`isg site build` starts git's listing of the records first (git works while the
    build's modules are imported); a rebuild reads that one, and a full build stops it
    unread (no git left running) and lists the records itself."""
    from isg import git_lists

    started: list[git_lists.GitListing] = []
    real_init = git_lists.GitListing.__init__

    def counted(self: git_lists.GitListing, root: Path) -> None:
        real_init(self, root)
        started.append(self)

    monkeypatch.setattr(git_lists.GitListing, "__init__", counted)
    out = tmp_path / "site"
    build(run_cli, repo, out)
    assert taken == [] and len(started) >= 2  # the command's, and the full build's own
    early = started[0]
    processes = (early._modifying, early._adding, early._staging)
    assert all(process.returncode is not None for process in processes)  # stopped, reaped
    started.clear()
    edit_file(repo, OPEN, "title: ", "title: New, ")
    build(run_cli, repo, out)
    assert taken == [1] and len(started) == 1  # the rebuild read the command's listing
    assert all(p.returncode == 0 for p in (started[0]._staging, started[0]._adding))


def test_a_git_listing_never_read_is_stopped(repo: Path) -> None:
    from isg.git_lists import GitListing

    listing = GitListing(repo)
    listing.close()
    processes = (listing._modifying, listing._adding, listing._staging)
    assert all(process.returncode is not None for process in processes)
    listing.close()  # again: nothing left to do


def test_the_look_reads_a_store_whose_path_holds_uri_characters(tmp_path: Path) -> None:
    """The store is opened read-only through a file: URI: a space, `?` or `#` in its path
    is quoted, not taken for the URI's query or fragment."""
    import json
    import os
    import sqlite3

    from isg.render import site_look

    out = tmp_path / "a site? #1"
    out.mkdir()
    (out / "page.html").write_text("x")
    found = os.lstat(out / "page.html")
    store = tmp_path / "odd ?#" / "site.sqlite"
    store.parent.mkdir()
    db = sqlite3.connect(store)
    db.execute("CREATE TABLE rebuilds (folder TEXT PRIMARY KEY, state TEXT NOT NULL)")
    db.execute("CREATE TABLE pages (folder, path, key, size, mtime)")
    folders = {"": os.lstat(out).st_mtime_ns}
    text = json.dumps({"files": {}, "folders": folders})
    db.execute("INSERT INTO rebuilds VALUES (?, ?)", (str(out), text))
    db.execute(
        "INSERT INTO pages VALUES (?, ?, ?, ?, ?)",
        (str(out), "page.html", b"k", found.st_size, found.st_mtime_ns),
    )
    db.commit()
    db.close()
    assert site_look.look((str(out), str(store))) == (site_look.state_digest(text), True)
    (out / "page.html").write_text("xy")
    assert site_look.look((str(out), str(store))) == (site_look.state_digest(text), False)
