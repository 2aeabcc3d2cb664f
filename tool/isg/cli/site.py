"""`isg site build` and `isg site serve`: the public knowledge site."""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from isg.cli.common import (
    Progress,
    caching,
    cli,
    library_errors,
    load_registry,
    parse_at,
    registry_root,
    repo_option,
)
from isg.errors import UsageError
from isg.git_lists import GitListing
from isg.render import site_look

if TYPE_CHECKING:  # imported where used: `build_command` starts git before it imports them
    from isg.records import Registry
    from isg.render import rebuild
    from isg.render.builder import BuildCounts
    from isg.render.page_memo import PageMemo
    from isg.schemas import SchemaSet
    from isg.sla.run import SlaRun


def _early_listing(root: Path) -> GitListing | None:
    """`GitListing` of `root` started now, or None if git cannot be started (the build
    then asks again where it needs it, and says what is wrong)."""
    try:
        return GitListing(root)
    except OSError:
        return None


def _as_of(at: str | None, root: Path) -> datetime:
    """--at, else SOURCE_DATE_EPOCH, else the time of the commit being built."""
    if at is not None:
        return parse_at(at)
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch:
        try:
            return datetime.fromtimestamp(int(epoch), tz=UTC)
        except ValueError:
            raise UsageError(f"SOURCE_DATE_EPOCH={epoch!r} is not a number of seconds") from None
    from isg.git_history import head_commit_time

    return head_commit_time(root)


@cli.group("site")
def site_group() -> None:
    """The public knowledge site (static HTML, feeds, open data).

    \b
    Example:
      isg site build --at 2026-11-27T12:00:00Z && isg site serve
    """


@site_group.command("build")
@repo_option
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Output folder (default: _site in the registry).",
)
@click.option(
    "--at",
    metavar="ISO",
    help="Status as of this time (default SOURCE_DATE_EPOCH, else the HEAD commit).",
)
@click.option(
    "--internal", is_flag=True, help="The members' build: include internal records and fields."
)
@click.option(
    "--site-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Templates and assets (default: site/ in the registry).",
)
@click.option(
    "--no-history",
    is_flag=True,
    help="Do not read git (no commit in reports, reopened incidents unknown):"
    " what `make golden` uses, so the golden tree does not change with every commit.",
)
@library_errors
def build_command(
    repo: Path | None,
    out: Path | None,
    at: str | None,
    internal: bool,
    site_dir: Path | None,
    no_history: bool,
) -> None:
    """Build the static site; the same commit and --at give the same bytes.

    \b
    Example:
      isg site build --at 2026-11-27T12:00:00Z --out _site
    """
    root = registry_root(repo)
    now = _as_of(at, root)
    target = out or root / "_site"
    templates = site_dir or root / "site"
    with contextlib.ExitStack() as stack:
        # Started before the build's modules are imported (~0.2 s, on one core), so that
        # they work on the other core meanwhile; a rebuild reads them. Git lists the
        # records (~0.3 s of CPU at 57,000 files, in its own processes), and a forked
        # process looks at the site's files (~0.35 s of CPU: render/site_look.py).
        listing = _early_listing(root) if caching() else None
        if listing is not None:
            stack.callback(listing.close)
        looking = stack.enter_context(contextlib.ExitStack())
        early = looking.enter_context(site_look.early_look(root, target)) if caching() else None
        from isg.git_history import resolve_commit
        from isg.render import rebuild
        from isg.render.page_memo import PageMemo
        from isg.schemas import load_schemas

        schemas = load_schemas(root)
        # The commit the reports name (and a rebuild checks): asked of git once.
        commit = None if no_history else resolve_commit(root, "HEAD")
        # Opened before anything is written: the rows of an empty folder are not read.
        memo = PageMemo.open(root, templates, target) if caching() else None
        made = None
        done = None
        if memo is not None:
            stack.callback(memo.close)
            made = rebuild.inputs(templates, now, internal=internal, head=commit)
            # Only incidents' free text changed since the last build there: only what shows
            # them is made (render/rebuild.py); else a full build, which forgets what the
            # last one left until it is done.
            done = rebuild.rebuild(root, schemas, memo, templates, target, made, listing, early)
            if done is None:
                memo.forget_rebuild_state()
        if done is None:
            # Not read (no rebuild taken): git and the look stop now, not at the end.
            if listing is not None:
                listing.close()
            looking.close()
            done = _build(
                root, schemas, now, target, templates, internal, no_history, commit, memo, made
            )
    click.echo(
        f"{done.files} files written to {target} (status as of {now.isoformat()});"
        f" {done.written} changed, {done.removed} removed; {done.rendered} pages rendered"
    )


def _build(
    root: Path, schemas: SchemaSet, now: datetime, target: Path, templates: Path,
    internal: bool, no_history: bool, commit: str | None, memo: PageMemo | None,
    made: rebuild.Inputs | None,
) -> BuildCounts:  # fmt: skip
    """A full build (through the memo, if any): every record read. `commit`: HEAD's, when
    git's history is read."""
    from concurrent.futures import ThreadPoolExecutor

    from isg.forks import forked_soon, worth_forking
    from isg.render import rebuild
    from isg.render.builder import (
        PARALLEL_FROM,
        REPORTS_PARALLEL_FROM,
        EarlyFiles,
        build_site,
        gather,
    )
    from isg.sla.memory import KeptReports, evaluate_remembered, remembered_reopened

    # Reopened incidents for every yearly report: kept in the SLA store up to the last
    # build's commit; the commits since (or, the first time, the whole history: one pass)
    # read while the records load (git does most of it, in its own process).
    reopened: dict[int, set[str]] | None = None
    with ThreadPoolExecutor(1) as pool:  # finished before any worker is forked
        history = (
            None if no_history else pool.submit(remembered_reopened, root, use_cache=caching())
        )
        registry = load_registry(root)
        if history is not None:
            reopened = history.result()

    def evaluate(registry: Registry, schemas: SchemaSet, at: datetime) -> SlaRun:
        shown = Progress("isg site build: SLA of incidents")
        try:
            return evaluate_remembered(
                root, registry, schemas, now=at, use_cache=caching(), progress=shown, lazy=True
            )
        finally:
            shown.finish()

    # The yearly reports take a few seconds from ~5,000 incidents: shown then (years, not
    # incidents, are counted, so Progress's own minimum is set aside).
    reports = (
        Progress("isg site build: yearly reports", minimum=1)
        if len(registry.of_kind("incident")) >= REPORTS_PARALLEL_FROM
        else None
    )
    kept = KeptReports.open(root, registry) if caching() else None
    with contextlib.ExitStack() as stack:
        # The open data, search index and feeds are made by forked workers from the moment
        # the records are known (with many records), beside the SLA and the pages' plan.
        early = stack.enter_context(
            contextlib.closing(EarlyFiles(templates, target, internal=internal, memo=memo))
        )
        try:
            data = gather(
                registry,
                schemas,
                at=now,
                internal=internal,
                commit=commit,
                reopened=reopened,
                evaluate=evaluate,
                progress=reports,
                kept=kept,
                records_known=early.start,
            )
        finally:
            if kept is not None:
                kept.close()
            if reports is not None:
                reports.finish()
        # What the next rebuild needs of the registry (render/rebuild.py), what it keeps of
        # each incident made beside the rendering (the parent mostly waits meanwhile).
        files = rebuild.registry_files(root, registry) if made is not None else None
        job = (root, files or {}, {r.path: r.id for r in registry.of_kind("incident")}, data)
        kept_apart: Callable[[], list[rebuild.Keep | None]] | None = None
        if files is not None and worth_forking(len(registry.records), PARALLEL_FROM):
            kept_apart = stack.enter_context(forked_soon(rebuild.kept_of, [job]))
        # The pages need only `data`: the rest goes before forking. Freed by reference
        # counting (a collection here found 33 objects in 1.4 s at 50,000 incidents).
        del registry
        progress = Progress("isg site build: rendering pages")
        done = build_site(
            data, templates, target, internal=internal, progress=progress, memo=memo, early=early
        )
        progress.finish()
        if memo is not None and made is not None and files is not None:
            keep = kept_apart()[0] if kept_apart else rebuild.kept_of(job)
            rebuild.remember(memo, target, files, data, made, keep)
    return done


@site_group.command("serve")
@repo_option
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="The built site (default: _site in the registry).",
)
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@library_errors
def serve_command(repo: Path | None, out: Path | None, port: int) -> None:
    """Preview the built site on http://127.0.0.1:PORT/ (local only).

    \b
    Example:
      isg site serve --port 8000
    """
    folder = out or registry_root(repo) / "_site"
    if not (folder / "index.html").is_file():
        raise UsageError(f"no site in {folder}; run isg site build first")
    import http.server  # here: 0.03 s of every `isg site build` otherwise

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    with http.server.ThreadingHTTPServer(("127.0.0.1", port), handler) as server:
        click.echo(f"serving {folder} on http://127.0.0.1:{server.server_address[1]}/ (Ctrl-C)")
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()
