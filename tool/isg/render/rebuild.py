"""A site rebuild that reads only what changed (docs/REBUILD.md, docs/SITE.md "Rebuilds").

The page memo (page_memo.py) spares a rebuild the pages whose inputs are the same, but
working those inputs out passes over every record (~7.5 s at 50,000 incidents). When the
records that changed since the last build into a folder are incidents, and only in what no
yearly report reads (`sla.memory.REPORT_BLIND`: title, description, notes, who reported it
and how: the helpdesk's everyday edits), only these can change: each such incident's page,
its year's list, the open list, the home page, the pages of the CIs it names, the feed, the
search index and the open data. `rebuild` then reads the changed incidents, the few
records every deadline depends on (states, organisations, policies), what the last build
kept of every other incident (`pages.thin_incident` with its status's priority and worst
state) and of every other record (`pages.thin_other`: what those pages read of it); plans
only those pages (`pages.pages_showing`, through the memo as usual); remakes the feed; and
replaces the changed records' lines in the search index and the open data.

Anything else is a full build (with the memo): another record or attachment changed, an
incident added, removed, or changed in what reports read (its status, its years...), more
than `LIMIT` changed, another `--at`, the members' build, another HEAD when git's history is
read, other templates, assets or isg code, or a file of the site not as the last build left
it (edited, removed, added: each file's size and modification time, each folder's
modification time). Its output is the output of a full build: tests/cli/test_site_rebuild.py
builds both after each kind of change and compares every file.

What a build leaves for the next (`remember`) is in the page memo's store, per output
folder, written after the site: a build first forgets it (`PageMemo.forget_rebuild_state`),
so a build cut short leaves none.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from stat import S_ISREG
from typing import Any, NamedTuple

from isg.compliance import years_read
from isg.errors import IsgError
from isg.forks import forked_soon
from isg.git_lists import GitListing, GitLists, git_lists
from isg.model import KINDS
from isg.record_cache import (
    INCIDENTS,
    FileState,
    current_files,
    git_listing,
    is_there,
    load_registry,
)
from isg.records import Registry, read_one
from isg.render.builder import (
    BuildCounts,
    _put,
    _render_all,
    _walk_files,
    make_environment,
    published_records,
    search_entry,
    static_assets,
    write_all,
)
from isg.render.feeds import atom_feed, patch_export, patch_search_index
from isg.render.page_memo import KeptIncident, PageMemo, Row
from isg.render.pages import (
    SiteData,
    Status,
    Summary,
    incident_year,
    pages_showing,
    recent_changes,
    thin_incident,
    thin_other,
)
from isg.render.row_patches import list_patches, patchable
from isg.render.site_look import LOOK_APART_FROM, Answer, answered, look, state_digest
from isg.render.site_look import intact as site_intact
from isg.schemas import SchemaSet
from isg.sla.memory import SlaMemory, evaluate_remembered, report_digest
from isg.sla.run import FOUNDATION_KINDS
from isg.summaries import blob_id

VERSION = 3
# The folders of the records every deadline depends on: the only ones besides incidents a
# rebuild reads.
FOUNDATION_FOLDERS = frozenset(kind.directory for kind in KINDS if kind.name in FOUNDATION_KINDS)
LIMIT = 100  # changed incidents: with more, a full build costs little more
# The files besides the pages that a rebuild makes again (the others need no incident's text).
EXPORT, SEARCH, FEED = "data/records.json", "assets/search-index.js", "feed.atom"


@dataclass(frozen=True)
class Inputs:
    """What a build is made from besides the records: equal, or a rebuild is not taken."""

    at: str  # isoformat
    internal: bool
    head: str | None  # the commit, when git's history is read (reports name it)
    assets: dict[str, str]  # the site's static files by name: the blob of each

    def as_json(self) -> dict[str, Any]:
        return {"at": self.at, "internal": self.internal, "head": self.head, "assets": self.assets}


def inputs(site_dir: Path, at: datetime, *, internal: bool, head: str | None) -> Inputs:
    """The inputs of a build with the templates in `site_dir` (`head`: the commit, when
    git's history is read)."""
    assets = {asset.name: blob_id(asset.read_bytes()) for asset in static_assets(site_dir)}
    return Inputs(at.isoformat(), internal, head, assets)


# What is kept of an incident, decoded: [path, blob, ID, thin data (None: not published),
# its status's priority and worst state (None: no status)].
Kept = list[Any]


KeptOf = tuple[Path, Mapping[str, str], Mapping[str, str], SiteData]  # root, files, IDs, data


class Keep(NamedTuple):
    """What a full build keeps for the next rebuild besides its pages (`kept_of`)."""

    incidents: list[KeptIncident]
    staged: str | None  # the digest of git's index (`GitLists.digest`) the files were read at
    worktree: dict[str, str | None]  # the files git did not vouch for then: blobs (None: absent)


def kept_of(job: KeptOf) -> Keep | None:
    """What a rebuild keeps of every incident (`_kept_row`), from `files` (every file under
    `records/` by path, with its blob: `registry_files`), `ids` (each incident's ID by
    path) and the site's data; with what git says of the files now, if it says they are
    `files` (`_git_state`). None if a file among incidents is no incident record, or two
    have one ID (which one is shown is the full build's to say). ~1 s of CPU at 50,000
    incidents: a full build has a forked process make it while the pages are rendered."""
    root, files, ids, data = job
    shown = data.records.get("incident", {})
    kept: list[KeptIncident] = []
    seen: set[str] = set()
    for path in sorted(p for p in files if p.startswith(INCIDENTS)):
        record_id = ids.get(path)
        if record_id is None or record_id in seen:
            return None
        seen.add(record_id)
        kept.append(
            _kept_row([path, files[path], *_part(record_id, shown.get(record_id), data.sla)])
        )
    return Keep(kept, *_git_state(root, files))


def _git_state(root: Path, files: Mapping[str, str]) -> tuple[str | None, dict[str, str | None]]:
    """The digest of git's index and the blobs of the files it does not vouch for, if git
    now lists `files` with these blobs (a file changed during the build: (None, {}), and the
    next rebuild compares every file)."""
    lists = git_lists(root)
    listing = None if lists is None else git_listing(root, lists)
    if lists is None or listing is None or listing.keys() != files.keys():
        return None, {}
    worktree = _worktree(root, lists)
    if any((blob or worktree.get(rel)) != files[rel] for rel, blob in listing.items()):
        return None, {}
    return lists.digest, worktree


def _worktree(root: Path, lists: GitLists) -> dict[str, str | None]:
    """The blob of each file git does not vouch for (None: not there, e.g. deleted)."""
    return {
        rel: blob_id(read_one(root, rel)) if is_there(root, rel) else None for rel in lists.unstaged
    }


def remember(
    memo: PageMemo, out: Path, files: Mapping[str, str], data: SiteData, made: Inputs,
    keep: Keep | None,
) -> None:  # fmt: skip
    """After a full build into `out`: keep what a rebuild needs (`keep`: `kept_of`'s)."""
    if keep is None:
        return
    kept = keep.incidents
    others = {path: blob for path, blob in files.items() if not path.startswith(INCIDENTS)}
    # The recent events: which they are and when follows from what a rebuild does not
    # change (times, the other records); only the titles shown are read again.
    recent = [
        [event["kind"], event["id"], event["what"], event["at"].isoformat(), event["url"]]
        for event in recent_changes(data)
    ]
    years = Counter(year for _, _, _, year, *_ in kept if year is not None)
    # What the pages a rebuild makes read of the records besides incidents (`thin_other`),
    # with each one's blob (an incident page's key stands on its problem's).
    shown_others = {
        kind: {
            record_id: [_text(data.blobs.get((kind, record_id))), thin_other(kind, record)]
            for record_id, record in of_kind.items()
        }
        for kind, of_kind in data.records.items()
        if kind != "incident"
    }
    out = out.resolve()
    files_of, folders = _site_files(out, memo.rows)
    if files_of is None:
        return
    records = json.dumps({"others": others, "shown_others": shown_others})
    state = {
        "version": VERSION,
        **made.as_json(),
        "records": state_digest(records),  # which `rebuild_records` goes with this state
        "staged": keep.staged,
        "worktree": keep.worktree,
        "years": sorted(years.items()),  # incidents shown a year (the incident list's counts)
        "files": files_of,
        "folders": folders,
        "recent": recent,
        "count": len(memo.rows) + len(files_of),  # files in the site
    }
    memo.keep_rebuild_state(json.dumps(state), kept, every=True, records=records)


def _text(blob: bytes | None) -> str | None:
    return None if blob is None else blob.decode()


def _kept_row(kept: Kept) -> KeptIncident:
    """An incident's row in the page memo's store: what it is listed under, read from its
    thin data (a year's list, the open list, its CIs' pages), and `kept` as JSON."""
    path, blob, record_id, thin, *_ = kept
    text = json.dumps(kept)
    if thin is None:
        return path, blob, record_id, None, 0, "", text  # in no list
    cis = "".join(f"{ci}\n" for ci in dict.fromkeys(thin.get("affected_cis") or []))
    is_open = int(thin.get("status") != "closed")
    return path, blob, record_id, incident_year(thin), is_open, f"\n{cis}", text


def _decoded(texts: list[str]) -> list[Kept]:
    """Kept incidents from their rows' JSON, decoded in one call (a call a row took ~10 us
    more a row)."""
    return json.loads(f"[{','.join(texts)}]") if texts else []


def registry_files(root: Path, registry: Registry) -> dict[str, str] | None:
    """Every file under `records/` with its blob (records and attachments), None if the
    loader did not know the blobs."""
    if registry.blobs is None:
        return None
    found = dict(registry.blobs)
    for rel in registry.attachments:
        found[rel] = blob_id(read_one(root, rel))
    return found


def _part(record_id: str, data: Mapping[str, Any] | None, sla: Mapping[str, Status]) -> list[Any]:
    """What the pages about many incidents read of one: [ID, its thin data (None: not
    published), its status's priority and worst state (None: no status)]."""
    status = sla.get(record_id) if data is not None else None
    thin = thin_incident(data) if data is not None else None
    if status is None:
        return [record_id, thin, None, None]
    return [record_id, thin, status.priority, status.worst]


def _site_files(
    out: Path, rows: Mapping[str, Row]
) -> tuple[dict[str, list[int]] | None, dict[str, int]]:
    """The size and modification time of each file of `out` that has no memo row, and the
    modification time of each folder (a file added to a folder changes its time)."""
    files: dict[str, list[int]] = {}
    folders = {""}
    for path in _walk_files(out):  # a link to a folder is listed, and is no regular file
        folders.update(_parents(path))
        if path not in rows:
            found = os.lstat(out / path)
            if not S_ISREG(found.st_mode):
                return None, {}
            files[path] = [found.st_size, found.st_mtime_ns]
    return files, {rel: os.lstat(out / rel).st_mtime_ns for rel in sorted(folders)}


def _parents(path: str) -> list[str]:
    """The folders `path` is in, relative ("a/b/c.html": "a", "a/b")."""
    parts = path.split("/")[:-1]
    return ["/".join(parts[: n + 1]) for n in range(len(parts))]


def _intact_of(looked: tuple[str, str, str]) -> bool:
    """In a forked process: whether the site's folder `looked[0]` is intact, by
    `site_look.look` through the page memo's store `looked[1]`, when what it read is the
    state `looked[2]` this rebuild reads."""
    folder, store, text = looked
    return look((folder, store)) == (state_digest(text), True)


def rebuild(
    root: Path, schemas: SchemaSet, memo: PageMemo, site_dir: Path, out: Path, made: Inputs,
    listing: GitListing | None = None, early: Callable[[], Answer] | None = None,
) -> BuildCounts | None:  # fmt: skip
    """Rebuild the site in `out` from what changed since the last build there, when only
    incidents changed and only in what yearly reports do not read; None (nothing written)
    when a full build is needed. `listing`: git's listing of the records, if the caller
    started it (else it is started here); `early`: the caller's `site_look.early_look` at
    the folder, if it forked one (else the folder is looked at here)."""
    text = memo.rebuild_state()
    if text is None:
        return None
    try:
        state = json.loads(text)
    except ValueError:
        return None
    if not isinstance(state, dict) or state.get("version") != VERSION:
        return None
    if {k: state.get(k) for k in made.as_json()} != made.as_json():
        return None
    out = out.resolve()
    with contextlib.ExitStack() as stack:
        # Every file of the site is looked at (57,000 at 50,000 incidents: ~0.35 s of CPU):
        # by the look `isg site build` forked before its imports, when it did and looked at
        # this state; else in a forked process when there are many, begun first (before any
        # thread); waited for only before the first write.
        apart: Callable[[], list[bool]] | None = None
        looked_early = answered(early, text)
        if looked_early is None and state.get("count", 0) >= LOOK_APART_FROM and memo.path:
            looked = (memo.folder, str(memo.path), text)
            apart = stack.enter_context(forked_soon(_intact_of, [looked]))
        records = _kept_records(memo, state)
        if records is None:
            return None
        others_kept, shown_others = records
        # Of the records besides incidents, only those every deadline depends on are read
        # (states, organisations, policies: a few files, parsed; the pages read what the
        # last build kept of the others, `remember`), while git lists the records and the
        # open data and search index are read, in threads. If any of them changed since,
        # no rebuild is taken.
        with ThreadPoolExecutor(2) as pool:
            asked = pool.submit((listing or GitListing(root)).result)
            reading = pool.submit(_whole_files, out)
            founding = {
                rel: (None, blob)
                for rel, blob in others_kept.items()
                if rel.split("/")[1] in FOUNDATION_FOLDERS
            }
            try:
                others: Registry | None = load_registry(
                    root, schemas, use_cache=False, listing=founding, only=founding
                )
            except IsgError:
                others = None
            lists, whole = asked.result(), reading.result()
        if (
            others is None
            or whole is None
            or others.blobs != {rel: blob for rel, (_, blob) in founding.items()}
        ):
            return None
        if lists is not None and lists.digest == state.get("staged"):
            # Git's index is as the last build read it: only the files it does not vouch
            # for now or did not then can differ (the helpdesk's edits before a commit).
            found = _worktree_changes(root, lists, state["worktree"])
        else:
            # Anything else (a commit, a checkout, files staged): every file's blob against
            # the kept ones (~0.3 s more at 57,000 files).
            files = current_files(root, lists)
            blobs = memo.kept_blobs()
            found = None if blobs is None else _changes(root, files, others_kept, blobs)
        if found is None:
            return None
        changed, worktree = found
        state["staged"] = None if lists is None else lists.digest
        state["worktree"] = worktree
        before = memo.kept_of(changed)
        if before is None or len(before) != len(changed):
            return None
        kept = {row[0]: row for row in _decoded(before)}

        def intact() -> bool:
            if looked_early is not None:
                return looked_early()
            if apart is not None:
                return apart()[0]
            pages = ((path, size, mtime) for path, (_, size, mtime) in memo.rows.items())
            return site_intact(out, pages, state["files"], state["folders"])

        try:
            # The changed incidents first: a change that is not only free text costs no more.
            mine = load_registry(
                root, schemas, listing={rel: (None, None) for rel in changed}, only=changed
            )
            if not _only_free_text(root, mine, schemas, changed, kept):
                return None
            registry = _joined(mine, others)
        except IsgError:
            return None
        # Every incident the lists the changed ones are in show: the open ones, those of
        # their years, those that name one of their CIs (all as they were: only free text
        # changed, which no list is made under); and those among the recent changes.
        thin = [row[3] for row in kept.values()]
        recent = {record_id for kind, record_id, *_ in state["recent"] if kind == "incident"}
        if patching := patchable(site_dir):
            # The years' lists and the CI pages are patched (`row_patches`), not made: only
            # the changed incidents themselves are read besides the open and recent ones.
            listed_rows = memo.kept_listed((), (), recent | {row[2] for row in kept.values()})
        else:
            listed_rows = memo.kept_listed(
                {incident_year(one) for one in thin},
                {str(ci) for one in thin for ci in one.get("affected_cis") or []},
                recent,
            )
        if listed_rows is None:
            return None
        site = _site_data(
            root, registry, schemas, changed, _decoded(listed_rows), made, state, shown_others
        )
        if site is None:
            return None
        return _write(
            out, site_dir, memo, site, made, state, kept, changed, whole, intact, patching
        )


def _kept_records(
    memo: PageMemo, state: Mapping[str, Any]
) -> tuple[dict[str, str], dict[str, dict[str, list[Any]]]] | None:
    """What the last full build kept of the records besides incidents, if it is what the
    kept `state` names: their blobs by path, and by kind and ID what the pages read of
    each (`remember`); None if not."""
    text = memo.rebuild_records()
    if text is None or state_digest(text) != state.get("records"):
        return None
    try:
        kept = json.loads(text)
        return kept["others"], kept["shown_others"]
    except (ValueError, TypeError, KeyError):
        return None


def _whole_files(out: Path) -> tuple[bytes, bytes] | None:
    """The open data and the search index in `out` (None: not there)."""
    try:
        return (out / EXPORT).read_bytes(), (out / SEARCH).read_bytes()
    except OSError:
        return None


def _joined(one: Registry, other: Registry) -> Registry:
    """The records of two registries loaded apart (`load_registry(only=...)`), as one."""
    return Registry(
        records=sorted([*one.records, *other.records], key=lambda r: r.path),
        load_findings=[*one.load_findings, *other.load_findings],
        attachments=one.attachments | other.attachments,
        valid_paths=frozenset(one.valid_paths or ()) | frozenset(other.valid_paths or ()),
        blobs={**(one.blobs or {}), **(other.blobs or {})},
    )


def _changes(
    root: Path, listing: Mapping[str, FileState], others: Mapping[str, str],
    kept: list[tuple[str, str]],
) -> tuple[dict[str, str], dict[str, str | None]] | None:  # fmt: skip
    """The incident files that changed (path -> blob now) against the `kept` incidents'
    (path, blob) and the `others`' blobs, with the blobs of the files git did not vouch
    for; None unless only incident files changed, none added or removed, at most `LIMIT`."""
    if len(listing) != len(others) + len(kept):
        return None
    unknown = [rel for rel, (_, blob) in listing.items() if blob is None]
    if len(unknown) > LIMIT:
        return None
    hashed = {rel: blob_id(read_one(root, rel)) for rel in unknown}

    def now(path: str) -> str | None:
        found = listing.get(path)
        return None if found is None else found[1] or hashed[path]

    if any(now(path) != blob for path, blob in others.items()):
        return None
    changed: dict[str, str] = {}
    for path, blob in kept:
        current = now(path)
        if current is None:
            return None
        if current != blob:
            changed[path] = current
            if len(changed) > LIMIT:
                return None
    return changed, dict(hashed)


def _worktree_changes(
    root: Path, lists: GitLists, last: Mapping[str, str | None]
) -> tuple[dict[str, str], dict[str, str | None]] | None:
    """The incident files that changed since the last build (path -> blob now), when git's
    index is the one that build read, with the blobs of the files git does not vouch for
    now; `last`: those it did not vouch for then, with their blobs. None unless only
    incident files changed, none added or removed, at most `LIMIT`."""
    if len(lists.unstaged) > LIMIT:
        return None
    worktree = _worktree(root, lists)
    changed: dict[str, str] = {}
    for rel in sorted(worktree.keys() | last.keys()):
        now = worktree[rel] if rel in worktree else lists.staged_blob(rel)
        before = last[rel] if rel in last else lists.staged_blob(rel)
        if now == before:
            continue
        if now is None or before is None or not rel.startswith(INCIDENTS):
            return None  # added, removed, or not an incident
        changed[rel] = now
    return (changed, worktree) if len(changed) <= LIMIT else None


def _only_free_text(
    root: Path, registry: Registry, schemas: SchemaSet, changed: Mapping[str, str],
    before: Mapping[str, Kept],
) -> bool:  # fmt: skip
    """Whether each changed incident is a valid, published record that reads, to yearly
    reports, as its kept file did: the same ID, years and what reports read (the SLA store
    keeps that by blob), so every report, and every status but its title, is as it was.
    Each one's reads are kept under its new blob for the next rebuild. `before`: what was
    kept of each."""
    if registry.load_findings or len(registry.records) != len(changed):
        return False
    reads: dict[str, tuple[Any, str]] = {}
    for record in registry.records:
        path = record.path
        if not registry.is_valid(record, schemas):
            return False
        if record.id != before[path][2] or before[path][3] is None:
            return False  # not published before: a full build says whether it is now
        reads[path] = (years_read("incident", record.data), report_digest("incident", record.data))
    store = SlaMemory.open(root)
    if store is None:
        return False
    try:
        old = store.report_reads({f"incident {before[path][1]}" for path in changed})
        for path in changed:
            if old.get(f"incident {before[path][1]}") != reads[path]:
                return False
        store.keep_report_reads({f"incident {changed[path]}": reads[path] for path in changed})
    except sqlite3.Error:
        return False
    finally:
        store.close()
    return True


def _site_data(
    root: Path, registry: Registry, schemas: SchemaSet, changed: Mapping[str, str],
    listed: list[Kept], made: Inputs, state: Mapping[str, Any],
    shown_others: Mapping[str, Mapping[str, list[Any]]],
) -> SiteData | None:  # fmt: skip
    """The site data of the rebuild: the `listed` incidents (`rebuild`), the changed ones
    whole and the others thin, with a `Summary` for a status; the records besides
    incidents as the last build kept them (`remember`); None if the records read here (the
    changed incidents, those deadlines depend on) do not load whole."""
    if registry.load_findings or any(not registry.is_valid(r, schemas) for r in registry.records):
        return None  # the full build says what is wrong
    found, blobs = published_records(registry, schemas, internal=made.internal)
    published = found.get("incident", {})  # the changed ones (IDs are unique: `_changes`)
    records: dict[str, dict[str, dict[str, Any]]] = {}
    for kind, of_kind in shown_others.items():
        records[kind] = {record_id: thin for record_id, (_, thin) in of_kind.items()}
        blobs.update(
            ((kind, record_id), blob.encode())
            for record_id, (blob, _) in of_kind.items()
            if blob is not None
        )
    shown: dict[str, dict[str, Any]] = {}
    sla: dict[str, Status] = {}
    for path, _, record_id, thin, priority, worst in listed:  # in path order, as `gather`
        if path in changed:
            if record_id not in published:
                return None  # not published any more: a full build
            shown[record_id] = published[record_id]
        elif thin is not None:
            shown[record_id] = thin
            if priority is not None:
                sla[record_id] = Summary(priority, worst)
    records["incident"] = shown
    at = datetime.fromisoformat(made.at)
    try:
        run = evaluate_remembered(root, registry, schemas, now=at, lazy=True)
    except IsgError:
        return None
    ids = {row[2] for row in listed if row[0] in changed}
    sla.update((s.incident_id, s) for s in run.statuses if s.incident_id in ids)
    sla.update((i, k) for i, k in run.kept.items() if i in ids)
    data = SiteData(
        at=at, records=records, sla=sla, blobs=blobs,
        fingerprints={k: v for k, v in run.fingerprints.items() if k in ids},
        year_counts={year: count for year, count in state["years"]},
    )  # fmt: skip
    data.recent = []
    for kind, record_id, what, when, url in state["recent"]:
        record = data.get(kind, record_id) or {}
        data.recent.append(
            {
                "at": datetime.fromisoformat(when), "kind": kind, "id": record_id,
                "title": record.get("title", record_id), "what": what, "url": url,
            }
        )  # fmt: skip
    return data


def _replace_by_spare(
    out: Path, rel: str, pieces: Sequence[bytes | memoryview], folder: Path, site: str
) -> bool:  # fmt: skip
    """Replace `out/rel` (a large file of the site `site`) by `pieces` written over the
    file it replaced last time, kept as a spare in `folder` (off the site): the new file is
    moved in whole (a reader sees the old file or the new one), and the old one becomes the
    next spare. No block is allocated or freed: writing a new 48 MB file and freeing the
    old one cost a rebuild ~0.07 s more at 50,000 incidents, measured in turns (the first
    time, with no spare yet, the file is new). False, with nothing changed in the site,
    when it cannot be done (`folder` on another file system): the caller writes the file.

    Safe beside another build: the spare is claimed by renaming it to a name of this
    process (only one process gets it; another writes a new file), and written only when
    it has no other name (a copy of the site made with hard links keeps its bytes)."""
    name = hashlib.sha1(f"{site}\0{rel}".encode(), usedforsecurity=False).hexdigest()[:16]
    spare = folder / f".spare-{name}"
    mine = folder / f".spare-{name}.{os.getpid()}"
    old = folder / f".spare-{name}.{os.getpid()}.old"
    with contextlib.suppress(OSError):
        os.rename(spare, mine)  # none there (the first time), or another build has it
    try:
        _overwrite(mine, pieces)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(old)
        os.link(out / rel, old)
    except OSError:
        _unlink_quietly(mine)
        return False
    try:
        os.replace(mine, out / rel)
    except OSError:
        _unlink_quietly(mine)
        _unlink_quietly(old)
        return False
    with contextlib.suppress(OSError):
        os.replace(old, spare)
    return True


def _unlink_quietly(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


def _overwrite(path: Path, pieces: Sequence[bytes | memoryview]) -> None:
    """`pieces`, one after the other, as the whole content of the file `path`: over what it
    holds when it is a regular file with no other name, else in a new file."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
    handle = os.open(path, flags, 0o666)
    try:
        found = os.fstat(handle)
        if not S_ISREG(found.st_mode) or found.st_nlink != 1:
            os.close(handle)
            os.unlink(path)
            handle = os.open(path, flags | os.O_EXCL, 0o666)
        os.ftruncate(handle, write_all(handle, pieces))
    finally:
        os.close(handle)


def _write(
    out: Path, site_dir: Path, memo: PageMemo, data: SiteData, made: Inputs,
    state: dict[str, Any], before: Mapping[str, Kept], changed: Mapping[str, str],
    whole: tuple[bytes, bytes], intact: Callable[[], bool], patching: bool,
) -> BuildCounts | None:  # fmt: skip
    """Make the pages and files the changed incidents are shown in, and keep the new state
    (`state`: the one the last build left; `before`: what it kept of each changed incident;
    `whole`: the open data and the search index as the last build left them).
    The open data and the search index are worked out before anything is written, and
    nothing is unless the site is `intact` (as the last build left it). With `patching`,
    the years' lists and CI pages are patched (`row_patches.list_patches`), not made."""
    ids = sorted(row[2] for row in before.values())
    incidents = data.records["incident"]
    rows = [
        _kept_row([path, changed[path], *_part(record_id, incidents[record_id], data.sla)])
        for path, (_, _, record_id, *_) in sorted(before.items())
    ]
    export, search = whole
    # Where the incidents end in the open data: kept from the last rebuild (else looked for).
    end = state.get("export_end")
    new_export = patch_export(
        export, "incident", {i: incidents[i] for i in ids}, end if isinstance(end, int) else None
    )
    new_search = patch_search_index(search, [search_entry("incident", incidents[i]) for i in ids])
    patches: dict[str, bytes] | None = {}
    if patching:
        retitled = [
            (
                thin,
                thin_incident(incidents[record_id]),
                None if priority is None else Summary(priority, worst),
                data.sla.get(record_id),
            )
            for _, _, record_id, thin, priority, worst in before.values()
        ]
        patches = list_patches(out, retitled, data.records.get("ci", {}))
    if new_export is None or new_search is None or patches is None or not intact():
        return None
    memo.forget_rebuild_state()  # from here on the folder changes
    pages = pages_showing(data, ids, long_lists=not patching)
    env = make_environment(site_dir)
    had = memo.rows_of(page.path for page in pages)
    done = _render_all(env, pages, data, made.internal, out=out, present=set(had), memo=had)
    made_folders: set[str] = set()
    # Whether the open data and the search index differ is known from the lines replaced
    # (65 MB at 50,000 incidents: not read again from the disk, nor joined in memory).
    spares = None if memo.path is None else memo.path.parent
    written = 0
    for rel, new in ((EXPORT, new_export), (SEARCH, new_search)):
        if not new.changed:
            continue
        if spares is None or not _replace_by_spare(out, rel, new.pieces, spares, memo.folder):
            _put(out, rel, new.pieces, True, made_folders, known=True)
        written += 1
    written += _put(out, FEED, atom_feed(recent_changes(data), data.at), True, made_folders)
    remade: dict[str, Row | None] = {
        page.path: row
        for page, (_, row, kept_as_was) in zip(pages, done, strict=True)
        if not kept_as_was
    }
    for path, content in patches.items():  # no memo row: the next full build makes them
        written += _put(out, path, content, True, made_folders, known=True)
        remade[path] = None
    memo.keep_rows(remade)
    # What is not a memo row now (the files remade here, a page whose key cannot be made),
    # with its size and time; the folders' times (a file replaced changes them).
    files = {p: size_time for p, size_time in state["files"].items() if remade.get(p) is None}
    try:
        for path in [EXPORT, SEARCH, FEED, *(p for p, row in remade.items() if row is None)]:
            found = os.lstat(out / path)
            files[path] = [found.st_size, found.st_mtime_ns]
        folders = {rel: os.lstat(out / rel if rel else out).st_mtime_ns for rel in state["folders"]}
    except OSError:
        return None  # something else is writing there: no state kept, a full build next
    state = {**state, "files": files, "folders": folders, "export_end": new_export.section_end}
    memo.keep_rebuild_state(json.dumps(state), rows, every=False)
    return BuildCounts(
        files=state["count"],
        written=written + sum(w for w, _, _ in done),
        removed=0,
        rendered=sum(1 for _, _, kept_as_was in done if not kept_as_was),
    )
