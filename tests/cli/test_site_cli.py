"""`isg site build`: where "as of" comes from and refusing invalid registries; `serve`."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conftest import REPO_ROOT, RunCli


@pytest.fixture
def repo_with_site(git_repo: Path) -> Path:
    shutil.copytree(REPO_ROOT / "site", git_repo / "site")
    return git_repo


def _as_of(out: Path) -> str:
    text = (out / "index.html").read_text()
    return text.split('Status as of <time datetime="', 1)[1].split('"', 1)[0]


def test_as_of_from_at_then_source_date_epoch_then_the_commit(
    run_cli: RunCli, repo_with_site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = repo_with_site / "_site"
    result = run_cli(
        "site", "build", "--repo", str(repo_with_site), "--at", "2026-11-27T12:00:00+00:00"
    )
    assert result.exit_code == 0, result.output
    assert f"files written to {out} (status as of 2026-11-27T12:00:00+00:00);" in result.output
    again = run_cli(
        "site", "build", "--repo", str(repo_with_site), "--at", "2026-11-27T12:00:00+00:00"
    )
    # Nothing rewritten; nothing rendered (the pages' inputs and files are as last left)
    assert again.output.endswith("; 0 changed, 0 removed; 0 pages rendered\n")
    assert _as_of(out) == "2026-11-27T12:00:00+00:00"
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1795000000")
    run_cli("site", "build", "--repo", str(repo_with_site))
    assert _as_of(out) == "2026-11-18T11:06:40+00:00"
    monkeypatch.delenv("SOURCE_DATE_EPOCH")
    run_cli("site", "build", "--repo", str(repo_with_site))
    assert _as_of(out) == "2026-11-20T10:00:00+00:00"  # the pinned commit date


def test_invalid_registry_is_refused_and_the_old_site_kept(
    run_cli: RunCli, repo_with_site: Path
) -> None:
    assert (
        run_cli(
            "site", "build", "--repo", str(repo_with_site), "--at", "2026-11-27T12:00:00Z"
        ).exit_code
        == 0
    )
    before = (repo_with_site / "_site" / "index.html").read_bytes()
    incident = next((repo_with_site / "records/incidents").glob("*.yaml"))
    incident.write_text(incident.read_text().replace("impact: ", "impact: huge-", 1))
    result = run_cli("site", "build", "--repo", str(repo_with_site), "--at", "2026-11-28T12:00:00Z")
    assert result.exit_code == 2
    assert result.output.startswith(
        f"isg: the registry does not validate, run isg validate: records/incidents/{incident.name}:"
    )
    assert (repo_with_site / "_site" / "index.html").read_bytes() == before


def test_serve_needs_a_built_site(run_cli: RunCli, registry: Path) -> None:
    result = run_cli("site", "serve", "--repo", str(registry))
    assert result.exit_code == 2
    assert "run isg site build first" in result.output


def test_writing_a_site_changes_only_what_differs(tmp_path: Path) -> None:
    from isg.render.builder import write_site

    out = tmp_path / "_site"
    assert write_site({"index.html": b"a", "incidents/x.html": b"x", "old/y.html": b"y"}, out) == (
        3,
        0,
    )
    (tmp_path / "secret").write_text("keep")
    (out / "incidents" / "z.html").symlink_to(tmp_path / "secret")
    files = {"index.html": b"a", "incidents/x.html": b"x2", "incidents/z.html": b"z"}
    assert write_site(files, out) == (2, 1)
    assert (tmp_path / "secret").read_text() == "keep"  # the link was replaced, not followed
    assert not (out / "incidents" / "z.html").is_symlink()
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        "incidents/x.html",
        "incidents/z.html",
        "index.html",
    ]
    assert not (out / "old").exists()


def test_an_unchanged_file_is_told_block_by_block(tmp_path: Path) -> None:
    from isg.render.builder import _same

    target = tmp_path / "big.svg"
    content = bytes(range(256)) * 40  # 10,240 bytes: blocks of 4,096 end inside it
    target.write_bytes(content)
    assert _same(target, content, block=4096)
    assert _same(target, content, block=1 << 20)
    assert not _same(target, content[:-1] + b"X", block=4096)  # differs in the last block
    assert not _same(target, b"X" + content[1:], block=4096)  # in the first
    assert not _same(target, content + b"X", block=4096)  # longer
    assert not _same(tmp_path / "missing.svg", content)
    (tmp_path / "link.svg").symlink_to(target)
    assert not _same(tmp_path / "link.svg", content)  # a link is replaced, never trusted


def tree_paths(folder: Path) -> list[str]:
    return [p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()]


def test_a_new_file_is_written_in_place_but_never_through_a_link(tmp_path: Path) -> None:
    from isg.render.builder import _put

    out = tmp_path / "site"
    out.mkdir()
    secret = tmp_path / "secret"
    secret.write_bytes(b"secret")
    assert _put(out, "pages/new.html", b"new", False, set())
    assert (out / "pages" / "new.html").read_bytes() == b"new"
    assert [p.name for p in (out / "pages").iterdir()] == ["new.html"]  # nothing left aside
    # A link that appeared after the folder was listed (so the file is taken to be new).
    (out / "pages" / "late.html").symlink_to(secret)
    assert _put(out, "pages/late.html", b"page", False, set())
    assert secret.read_bytes() == b"secret"
    assert not (out / "pages" / "late.html").is_symlink()
    assert (out / "pages" / "late.html").read_bytes() == b"page"
    # A file that is there is replaced whole, and not rewritten when it holds the bytes.
    assert _put(out, "pages/new.html", b"newer", True, set())
    assert not _put(out, "pages/new.html", b"newer", True, set())
    assert (out / "pages" / "new.html").read_bytes() == b"newer"


def test_a_rebuild_after_a_change_equals_a_fresh_build(
    run_cli: RunCli, repo_with_site: Path, tmp_path: Path
) -> None:
    at = "2026-11-27T12:00:00+00:00"
    out = tmp_path / "incremental"
    run_cli("site", "build", "--repo", str(repo_with_site), "--at", at, "--out", str(out))
    incident = sorted((repo_with_site / "records" / "incidents").glob("*.yaml"))[0]
    incident.write_text(incident.read_text().replace("title: ", "title: Changed, ", 1))
    result = run_cli("site", "build", "--repo", str(repo_with_site), "--at", at, "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "; 0 changed" not in result.output
    fresh = tmp_path / "fresh"
    result = run_cli(
        "site", "build", "--repo", str(repo_with_site), "--at", at, "--out", str(fresh)
    )
    assert result.exit_code == 0, result.output

    def tree(folder: Path) -> dict[str, bytes]:
        return {
            p.relative_to(folder).as_posix(): p.read_bytes()
            for p in folder.rglob("*")
            if p.is_file()
        }

    assert tree(out) == tree(fresh)


def test_pages_rendered_in_parallel_equal_pages_rendered_here(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from conftest import FIXED_NOW, REPO_ROOT
    from isg.records import parse_registry, read_record_files
    from isg.render import builder
    from isg.schemas import load_schemas

    registry = parse_registry(read_record_files(REPO_ROOT))
    data = builder.gather(registry, load_schemas(REPO_ROOT), at=FIXED_NOW, internal=False)
    here = builder.render_site(data, REPO_ROOT / "site", internal=False)
    monkeypatch.setattr(builder, "PARALLEL_FROM", 1)
    assert builder.render_site(data, REPO_ROOT / "site", internal=False) == here


def test_rendering_reports_progress_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    from conftest import FIXED_NOW, REPO_ROOT
    from isg.records import parse_registry, read_record_files
    from isg.render import builder
    from isg.schemas import load_schemas

    registry = parse_registry(read_record_files(REPO_ROOT))
    data = builder.gather(registry, load_schemas(REPO_ROOT), at=FIXED_NOW, internal=False)
    for parallel_from in (10_000, 1):
        monkeypatch.setattr(builder, "PARALLEL_FROM", parallel_from)
        seen: list[tuple[int, int]] = []

        def tell(done: int, total: int, seen: list[tuple[int, int]] = seen) -> None:
            seen.append((done, total))

        builder.render_site(data, REPO_ROOT / "site", internal=False, progress=tell)
        assert seen and seen[-1][0] == seen[-1][1] > 50
        assert [d for d, _ in seen] == sorted(d for d, _ in seen)


@pytest.mark.parametrize("reports_parallel_from", [10_000, 1])
def test_the_yearly_reports_report_progress_in_order(
    monkeypatch: pytest.MonkeyPatch, reports_parallel_from: int
) -> None:
    from conftest import FIXED_NOW, REPO_ROOT
    from isg.records import parse_registry, read_record_files
    from isg.render import builder
    from isg.schemas import load_schemas

    monkeypatch.setattr(builder, "REPORTS_PARALLEL_FROM", reports_parallel_from)
    seen: list[tuple[int, int]] = []
    data = builder.gather(
        parse_registry(read_record_files(REPO_ROOT)),
        load_schemas(REPO_ROOT),
        at=FIXED_NOW,
        internal=False,
        progress=lambda done, total: seen.append((done, total)),
    )
    years = len(data.reports)
    assert years >= 2
    assert seen == [(done, years) for done in range(1, years + 1)]


def test_a_large_site_build_shows_each_step_on_a_terminal(
    run_cli: RunCli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """SLA, yearly reports, pages: nothing is silent for long on a terminal (thresholds
    lowered so that the examples count as large)."""
    import io

    from conftest import REPO_ROOT
    from isg.cli import common, site
    from isg.render import builder

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = Terminal()
    real = common.Progress

    def on_screen(label: str, **options: object) -> common.Progress:
        options.pop("stream", None)
        return real(label, stream=screen, minimum=1)

    monkeypatch.setattr(site, "Progress", on_screen)
    monkeypatch.setenv("ISG_NO_CACHE", "1")  # nothing written into the checkout's .isg/
    monkeypatch.setattr(builder, "REPORTS_PARALLEL_FROM", 1)  # read when the build runs
    result = run_cli(
        "site",
        "build",
        "--repo",
        str(REPO_ROOT),
        "--at",
        "2026-11-27T12:00:00Z",
        "--no-history",
        "--out",
        str(tmp_path / "site"),
    )
    assert result.exit_code == 0, result.output
    import re

    drawn = re.findall(r"\r(isg site build: [^:]+): (\d+)/(\d+)", screen.getvalue())
    steps = list(dict.fromkeys(label for label, _, _ in drawn))
    assert steps == [
        "isg site build: SLA of incidents",
        "isg site build: yearly reports",
        "isg site build: rendering pages",
    ]
    last = {label: (done, total) for label, done, total in drawn}
    assert all(done == total for done, total in last.values())  # each step drawn to its end
    assert screen.getvalue().count("\n") == 3  # and its line ended


@pytest.mark.parametrize("parallel_from", [10_000, 1])
def test_building_page_by_page_equals_rendering_then_writing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parallel_from: int
) -> None:
    from conftest import FIXED_NOW, REPO_ROOT
    from isg.records import parse_registry, read_record_files
    from isg.render import builder
    from isg.schemas import load_schemas

    monkeypatch.setattr(builder, "PARALLEL_FROM", parallel_from)
    registry = parse_registry(read_record_files(REPO_ROOT))
    data = builder.gather(registry, load_schemas(REPO_ROOT), at=FIXED_NOW, internal=False)
    builder.write_site(
        builder.render_site(data, REPO_ROOT / "site", internal=False), tmp_path / "a"
    )
    (tmp_path / "b" / "stale").mkdir(parents=True)
    (tmp_path / "b" / "stale" / "x.html").write_text("old")
    count, written, removed, rendered = builder.build_site(
        data, REPO_ROOT / "site", tmp_path / "b", internal=False
    )
    assert (written, removed) == (count, 1)
    assert rendered == sum(1 for path in tree_paths(tmp_path / "b") if path.endswith(".html"))

    def tree(folder: Path) -> dict[str, bytes]:
        return {
            p.relative_to(folder).as_posix(): p.read_bytes()
            for p in folder.rglob("*")
            if p.is_file()
        }

    assert tree(tmp_path / "a") == tree(tmp_path / "b")
    assert len(tree(tmp_path / "b")) == count
    assert builder.build_site(data, REPO_ROOT / "site", tmp_path / "b", internal=False) == (
        count,
        0,
        0,
        rendered,  # without a memo every page is rendered again (and found unchanged)
    )


@pytest.mark.parametrize("members", [False, True], ids=["public", "internal"])
def test_files_made_early_by_workers_equal_files_made_with_the_pages(
    run_cli: RunCli,
    repo_with_site: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    members: bool,
) -> None:
    """With many records, forked workers make the open data, search index, feeds and the
    pages that need only the records from the moment the records are known
    (builder.EarlyFiles); the site, and what the build counts as written, removed and
    rendered, are those of a build that makes them with the other pages (the public
    build and the members')."""
    import re

    from isg.render import builder

    at = "2026-11-27T12:00:00+00:00"
    internal = ("--internal",) if members else ()

    def build(out: Path) -> str:
        result = run_cli(
            "site", "build", "--repo", str(repo_with_site), "--at", at, "--out", str(out), *internal
        )
        assert result.exit_code == 0, result.output
        return re.sub(r" to \S+ ", " to OUT ", result.output)

    def tree(folder: Path) -> dict[str, bytes]:
        return {
            p.relative_to(folder).as_posix(): p.read_bytes()
            for p in folder.rglob("*")
            if p.is_file()
        }

    def prepared(out: Path) -> Path:  # a stale page, a changed and an unchanged early file
        build(out)
        (out / "stale.html").write_text("old")
        (out / "data" / "records.json").write_text("{}")
        return out

    here, early = prepared(tmp_path / "here"), prepared(tmp_path / "early")
    told_here = build(here)
    started: list[list[str]] = []
    real_start = builder.EarlyFiles.start

    def start(self: builder.EarlyFiles, data: builder.SiteData) -> None:
        real_start(self, data)
        started.append(self.paths)

    monkeypatch.setattr(builder.EarlyFiles, "start", start)
    monkeypatch.setattr(builder, "PARALLEL_FROM", 1)
    told_early = build(early)
    assert started and "data/records.json" in started[0] and "sla.svg" not in started[0]
    assert told_early == told_here
    assert re.search(r"; 1 changed, 1 removed; 0 pages rendered", told_early), told_early
    assert tree(early) == tree(here)
    # Into an empty folder: the record pages rendered by the early workers too.
    pages: list[int] = []
    real_done = builder.EarlyFiles.pages_done

    def pages_done(self: builder.EarlyFiles) -> list[builder.PageDone]:
        found = real_done(self)
        pages.append(sum(1 for _, _, kept in found if not kept))
        return found

    monkeypatch.setattr(builder.EarlyFiles, "pages_done", pages_done)
    told_fresh = build(tmp_path / "fresh")
    assert tree(tmp_path / "fresh") == tree(here)
    rendered = int(re.findall(r"(\d+) pages rendered", told_fresh)[0])
    assert pages and 0 < pages[0] < rendered


def test_a_build_failing_after_the_early_files_started_leaves_them_whole(
    run_cli: RunCli, repo_with_site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The early files' workers are waited for when the build fails after they started
    (not stopped mid-write): each file and page they made is whole; the failure is told,
    without a traceback."""
    import json

    from isg.errors import IsgError
    from isg.render import builder
    from isg.sla import memory

    at = "2026-11-27T12:00:00+00:00"
    done = tmp_path / "done"
    result = run_cli("site", "build", "--repo", str(repo_with_site), "--at", at, "--out", str(done))
    assert result.exit_code == 0, result.output

    def damaged(*args: object, **kwargs: object) -> object:
        raise IsgError("the SLA store holds a damaged status")

    monkeypatch.setattr(builder, "PARALLEL_FROM", 1)
    monkeypatch.setattr(memory, "evaluate_remembered", damaged)  # imported when the build runs
    out = tmp_path / "failed"
    result = run_cli("site", "build", "--repo", str(repo_with_site), "--at", at, "--out", str(out))
    assert result.exit_code != 0
    assert "the SLA store holds a damaged status" in result.output
    assert "Traceback" not in result.output
    made = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    # What needs only the records was made (the open data, an RfC's page), what needs the
    # SLA was not (the home page, incident pages, reports)
    assert "data/records.json" in made and any(p.startswith("rfcs/RFC-") for p in made)
    assert not [p for p in made if p.startswith(("incidents/", "reports/", "index.html"))]
    for rel in made:  # every early file whole, as the successful build wrote it
        assert (out / rel).read_bytes() == (done / rel).read_bytes(), rel
    json.loads((out / "data" / "records.json").read_text())
