"""Build the site: gather, render every page with one Jinja2 environment, write atomically."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Mapping, MutableMapping, Sequence
from datetime import datetime
from functools import cache
from pathlib import Path
from stat import S_ISREG
from typing import Any, NamedTuple, Protocol

from jinja2 import (
    BytecodeCache,
    Environment,
    FileSystemBytecodeCache,
    FileSystemLoader,
    StrictUndefined,
    UndefinedError,
    pass_context,
    select_autoescape,
)
from jinja2.runtime import Context
from markupsafe import Markup, escape

from isg.compliance import year_end
from isg.compliance_report import ReportBasis, build_report, compliance_svg, report_dict
from isg.errors import IsgError
from isg.forks import fork_map, forked_soon, workers, worth_forking
from isg.git_history import reopened_in
from isg.model import KIND_BY_DIRECTORY
from isg.records import Registry
from isg.render.feeds import atom_feed, export_json, release_calendar, search_index_js
from isg.render.markdown import render_markdown
from isg.render.page_memo import PageMemo, Row, file_row, page_key, unchanged
from isg.render.pages import (
    KIND_PAGES,
    Later,
    Page,
    SiteData,
    Status,
    charted_statuses,
    plan_pages,
    recent_changes,
    record_pages,
    status_pages,
    url,
    year_url,
)
from isg.render.public import publishable
from isg.render.svg import release_timeline, state_badge
from isg.schemas import SchemaSet, check_record
from isg.sla.chart import render_sla_svg_bytes
from isg.sla.run import AllStatuses, SlaRun, evaluate_registry

SEARCH_FIELDS = ("description", "body", "root_cause", "workaround", "notes")
MAX_SEARCH_TEXT = 2000
# Record IDs a report lists that may belong to internal records.
PRIVATE_ID_PREFIXES = ("INC-", "PRB-")
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
    " base-uri 'none'; form-action 'none'"
)


class SiteError(IsgError):
    """The site cannot be built (missing templates, an unusable output folder)."""


class _Environment(Environment):
    """Templates hold the environment's globals as a plain dict. Jinja2 gives each a
    ChainMap over them, which every page's context copied key by key in Python (~10 us a
    page, 57,000 pages); here every global is set before the first template is loaded
    (`make_environment`) and none changes after."""

    def make_globals(self, d: MutableMapping[str, Any] | None) -> MutableMapping[str, Any]:
        return {**self.globals, **(d or {})}


def make_environment(site_dir: Path) -> Environment:
    """The one Jinja2 environment: autoescape everywhere, undefined names are errors."""
    templates = site_dir / "templates"
    if not templates.is_dir():
        raise SiteError(f"no templates in {templates}")
    env = _Environment(
        loader=FileSystemLoader(templates),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,  # one build, templates fixed: no stat of each template per page
        bytecode_cache=_bytecode_cache(),
    )
    env.filters["markdown"] = render_markdown
    env.filters["badge"] = state_badge
    env.filters["when"] = _when
    env.globals["url"] = url
    env.globals["year_url"] = year_url
    env.globals["csp"] = Markup(CSP)  # our constant, not record data
    env.globals["part"] = _parts(env)
    env.globals["link"] = link
    env.globals["links"] = links
    env.globals["incident_rows"] = incident_rows
    env.globals["named_rows"] = named_rows
    return env


def _bytecode_cache() -> BytecodeCache | None:
    """Jinja2's own cache of compiled templates, keyed by each template's source: the
    templates a site rebuild renders took ~0.05 s to compile, ~0.005 s to load (~3 % of a
    rebuild at 50,000 incidents). In Jinja2's per-user folder in the temporary directory,
    which it makes private and refuses if anyone else owns it; not under `.isg/cache`,
    which CI restores from a cache and which holds data, never code. None if unusable."""
    try:
        return FileSystemBytecodeCache()
    except (OSError, RuntimeError):  # Jinja2 refuses a folder it cannot make safe
        return None


# A link to a record's page, relative to the page being rendered (its `root`). Functions,
# not macros: a template importing macros `with context` (they need `root`) made Jinja2 run
# the macros' module again for every page (an incident page 0.217 -> 0.186 ms, warm, A/B).
@pass_context
def link(context: Context, kind: str, record_id: Any, text: Any = None) -> Markup:
    """`<a href="{root}{url}">{text or id}</a>`, every part escaped."""
    # An f-string of escaped parts: Markup.format goes through string.Formatter in Python,
    # which made a link cost more than the macro it replaced.
    href = f"{escape(context['root'])}{escape(url(kind, record_id))}"
    return Markup(f'<a href="{href}">{escape(text or record_id)}</a>')


# The long lists (a year's incidents, the incidents naming a CI: 5,000 and 10,000 rows at
# 50,000 incidents) are made here, not by a loop in the template: Jinja2 took ~35 us a row
# of the incident table and ~23 us a CI page's row (a year's list 0.18 s, a CI's 0.23 s,
# ~3 s of CPU in a full build, most of a rebuild's rendering); here a row takes ~2-3 us.
# Every value is escaped as the template's `{{ }}` escaped it (the same bytes: the golden
# site's test compares them).
@pass_context
def incident_rows(context: Context, incidents: Iterable[Mapping[str, Any]]) -> Markup:
    """The rows of the incident table (`_macros.html.j2`), each on its own line: a link to
    the incident, its title, State, priority, status and SLA badge."""
    return Markup(incident_rows_html(context["root"], incidents))


def incident_rows_html(root: str, incidents: Iterable[Mapping[str, Any]]) -> str:
    """`incident_rows` on a page whose way to the site's root is `root` (a rebuild finds
    an incident's row by these bytes: render/row_patches.py)."""
    root = escape(root)
    try:
        return "".join(
            f'<tr><td><a href="{root}{escape(url("incident", row["id"]))}">'
            f"{escape(row['id'])}</a></td><td>{escape(row['title'])}</td>"
            f"<td>{escape(row['reporting_state'])}</td><td>{escape(row['_priority'] or '')}"
            f"</td><td>{escape(row['status'])}</td><td>{state_badge(row['_state'])}</td>"
            "</tr>\n"
            for row in incidents
        )
    except KeyError as missing:  # as the template's StrictUndefined said it
        raise UndefinedError(f"'dict object' has no attribute {missing}") from None


@pass_context
def named_rows(context: Context, kind: str, records: Iterable[Mapping[str, Any]]) -> Markup:
    """`<li>` items linking to `records` of `kind`, each with its title (or name)."""
    return Markup(named_rows_html(context["root"], kind, records))


def named_rows_html(root: str, kind: str, records: Iterable[Mapping[str, Any]]) -> str:
    """`named_rows` on a page whose way to the site's root is `root`."""
    root = escape(root)
    try:
        return "".join(
            f'<li><a href="{root}{escape(url(kind, row["id"]))}">{escape(row["id"])}</a>'
            f" {escape(row['title'] if 'title' in row else row['name'])}</li>"
            for row in records
        )
    except KeyError as missing:
        raise UndefinedError(f"'dict object' has no attribute {missing}") from None


@pass_context
def links(context: Context, kind: str, ids: Iterable[Any]) -> Markup:
    """Links to the records `ids`, separated by commas; "none" when there are none."""
    found = [link(context, kind, record_id) for record_id in ids]
    return Markup(", ").join(found) if found else Markup("none")


def _parts(env: Environment) -> Callable[[str, str], Markup]:
    """`part(name, root)`: the template `name` rendered with only `root` (the header and
    footer every page has), once per depth: they are most of a page's variables (~17 of
    them), and rendering them for each of 57,000 pages cost seconds."""

    @cache
    def part(name: str, root: str) -> Markup:
        text = env.get_template(name).render(root=root)
        return Markup(text.removesuffix("\n"))  # the line the call stands on ends it

    return part


def _when(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat(timespec="minutes")
    return "" if value is None else str(value)


def gather(
    registry: Registry,
    schemas: SchemaSet,
    *,
    at: datetime,
    internal: bool,
    commit: str | None = None,
    reopened: Mapping[int, set[str]] | None = None,
    evaluate: Callable[[Registry, SchemaSet, datetime], SlaRun] | None = None,
    progress: Callable[[int, int], None] | None = None,
    kept: ReportKeeper | None = None,
    records_known: Callable[[SiteData], None] | None = None,
) -> SiteData:
    """Public (or, with `internal`, all) record data and the SLA state of incidents at `at`
    (evaluated by `evaluate`, e.g. `sla.memory.evaluate_remembered`; by default afresh).
    `reopened`: each year's reopened incidents (`git_history.reopened_by_year`; None:
    unknown). `progress(done, total)` is told as the yearly reports are made; `kept` (e.g.
    `sla.memory.KeptReports`) gives back reports made from the same inputs before and keeps
    the new ones. `records_known` is given the records as soon as they are known, before
    the SLA is evaluated (`EarlyFiles.start`: the files that need only them).

    Refuses a registry with unreadable or schema-invalid records: a page silently missing
    is worse than no new site.
    """
    problems = [f"{f.path}:{f.line}: {f.message}" for f in registry.load_findings]
    problems += [
        f"{f.path}:{f.line}: {f.json_path}: {f.message}"
        for record in registry.records
        if not registry.is_valid(record, schemas)
        for f in check_record(record, schemas)
    ]
    if problems:
        shown = "; ".join(problems[:5]) + (
            f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        )
        raise SiteError(f"the registry does not validate, run isg validate: {shown}")
    records, blobs = published_records(registry, schemas, internal=internal)
    if records_known is not None:
        unknown = _NotYet()  # what is not known yet fails loudly if asked for
        early = SiteData(at=at, records=records, sla=unknown, reports=unknown, blobs=blobs)
        early.fingerprints = unknown
        records_known(early)
    published = set(records.get("incident", {}))
    if evaluate is None:
        run = evaluate_registry(registry, schemas, now=at)
    else:
        run = evaluate(registry, schemas, at)
    sla: dict[str, Status] = {s.incident_id: s for s in run.statuses if s.incident_id in published}
    sla.update((i, kept) for i, kept in run.kept.items() if i in published)
    reported = {s.reported_at.year for s in run.statuses} | {k.year for k in run.kept.values()}
    years = sorted(year for year in reported if year <= at.year)
    known = AllStatuses(run)  # the remembered ones decoded only for a report made here
    visible = published | set(records.get("problem", {}))
    again = {year: reopened_in(reopened, year) for year in years}
    keys: dict[int, bytes] = {}
    made: dict[int, Any] = {}
    if kept is not None:
        for year in years:
            keys[year] = kept.key(year, min(at, year_end(year)), again[year])
            if (found := kept.get(year, keys[year])) is not None:
                made[year] = found
    missing = [year for year in years if year not in made]
    # Read once for all the years to make (none when every report was kept).
    basis = ReportBasis.of(registry) if missing else None

    def report(year: int) -> dict[str, Any]:
        """The report of `year`: its dict and its chart."""
        one = build_report(
            registry,
            schemas,
            year=year,
            now=at,
            reopened=again[year],
            commit=commit,
            known=known,
            basis=basis,
        )
        return {"report": report_dict(one), "svg": compliance_svg(one, inline=True)}

    fresh = dict(zip(missing, _each(report, missing, len(known), progress), strict=True))
    made.update(fresh)
    if kept is not None:
        kept.keep({year: (keys[year], fresh[year]) for year in fresh})
    # The commit a report names is only its label: set here, so a kept report made at an
    # earlier commit (of the same records) names this one.
    reports = {
        year: {
            "report": _only_published({**made[year]["report"], "commit": commit}, visible),
            "chart": Markup(made[year]["svg"]),
        }
        for year in years
    }
    fingerprints = {k: v for k, v in run.fingerprints.items() if k in published}
    return SiteData(
        at=at, records=records, sla=sla, reports=reports, fingerprints=fingerprints, blobs=blobs
    )


Records = dict[str, dict[str, dict[str, Any]]]  # kind -> ID -> data
Blobs = dict[tuple[str, str], bytes | None]  # (kind, ID) -> the blob of the file shown


def published_records(
    registry: Registry, schemas: SchemaSet, *, internal: bool
) -> tuple[Records, Blobs]:
    """The public (or, with `internal`, all) records' data by kind and ID, in path order
    (of two files with one ID, the later is shown), with the blob of each one's file."""
    records: Records = {}
    blobs: Blobs = {}
    for path, data in publishable(registry, schemas, internal=internal).items():
        kind = KIND_BY_DIRECTORY[path.split("/")[1]].name
        records.setdefault(kind, {})[str(data.get("id"))] = data
        blob = (registry.blobs or {}).get(path)
        blobs[kind, str(data.get("id"))] = blob.encode() if blob else None
    return records, blobs


class _NotYet(dict[Any, Any]):
    """The SLA states, reports and fingerprints of the site data given to `records_known`,
    before they are known: reading them is a mistake (`pages.record_pages` and the early
    files must not depend on them), told at once rather than rendered as empty."""

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise SiteError("the SLA states are not known yet: only the records may be read here")

    __getitem__ = __contains__ = __iter__ = __len__ = get = keys = values = items = _refuse


class ReportKeeper(Protocol):
    """Yearly reports kept between builds (`sla.memory.KeptReports`)."""

    def key(self, year: int, at: datetime, reopened: set[str] | None) -> bytes: ...

    def get(self, year: int, key: bytes) -> Any | None: ...

    def keep(self, rows: Mapping[int, tuple[bytes, Any]]) -> None: ...


REPORTS_PARALLEL_FROM = 5000  # incidents: below this, one yearly report is quicker than a fork
_REPORT: dict[str, Callable[[int], Any]] = {}


def _each(
    function: Callable[[int], Any],
    years: list[int],
    incidents: int,
    progress: Callable[[int, int], None] | None = None,
) -> list[Any]:
    """`function(year)` for each year: each report passes over every incident (~0.5 s at
    50,000), so with many incidents they are shared out over forked processes."""
    made: Iterable[Any]
    if len(years) < 2 or not worth_forking(incidents, REPORTS_PARALLEL_FROM):
        made = map(function, years)
    else:
        _REPORT["function"] = function
        made = fork_map(_report_of, years)
    try:
        found = []
        for report in made:
            found.append(report)
            if progress:
                progress(len(found), len(years))
        return found
    finally:
        _REPORT.clear()


def _report_of(year: int) -> Any:
    return _REPORT["function"](year)


def _only_published(value: Any, published: set[str]) -> Any:
    """The report with lists of record IDs cut to published ones (counts stay complete)."""
    if isinstance(value, dict):
        return {key: _only_published(item, published) for key, item in value.items()}
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return [v for v in value if not v.startswith(PRIVATE_ID_PREFIXES) or v in published]
    return value


def render_site(
    data: SiteData,
    site_dir: Path,
    *,
    internal: bool,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, bytes]:
    """Every output file of the site, by relative path; `progress(done, total)` is told as
    pages are rendered."""
    env = make_environment(site_dir)
    files: dict[str, bytes] = {}
    pages = plan_pages(data)
    rendered = _render_all(env, pages, data, internal, progress)
    for page, content in zip(pages, rendered, strict=True):
        files[page.path] = content
    files.update(other_files(data, site_dir))
    return files


class BuildCounts(NamedTuple):
    files: int  # in the site
    written: int  # whose bytes changed
    removed: int  # no longer in the site
    rendered: int  # pages rendered (the others were as the last build left them)


def build_site(
    data: SiteData,
    site_dir: Path,
    out: Path,
    *,
    internal: bool,
    progress: Callable[[int, int], None] | None = None,
    memo: PageMemo | None = None,
    early: EarlyFiles | None = None,
) -> BuildCounts:
    """`write_site(render_site(...), out)` without holding the site in memory: each page and
    file is written (if its bytes differ) by the process that made it. With `memo` (what
    the last build into `out` left), a page given the same inputs whose file is as it was
    left is neither rendered nor read. `early`: files already being made (for `out`)."""
    if early is not None and early.started:
        out, present = early.out, early.present  # listed before any of them was written
        makers = [_chart_maker(data)]  # the others are made early
        pages = status_pages(data)
    else:
        out = _prepare(out)
        present = set(_walk_files(out))
        makers = _file_makers(data, site_dir)
        pages = plan_pages(data)
    makers_paths = [rel for rel, _ in makers]
    env = make_environment(site_dir)
    with contextlib.ExitStack() as stack:
        files_made: Callable[[], list[list[bool]]] | None = None
        if worth_forking(_count(data), PARALLEL_FROM):
            # The files besides the pages need only `data`: forked workers make and write
            # them while the pages are planned here, on one core (~1.3 s at 50,000
            # incidents; the SLA chart ~0.25 s, the others ~1.8 s when not made early).
            file_jobs: list[Job] = [("file", index, 0) for index in range(len(makers))]
            files_made = _forked_jobs(
                stack, file_jobs, env=env, pages=[], data=data, internal=internal, memo=None,
                out=out, present=present, makers=makers,
            )  # fmt: skip
        results = _render_all(
            env,
            pages,
            data,
            internal,
            progress,
            out=out,
            present=present,
            makers=() if files_made else makers,
            memo=memo.rows if memo is not None else None,
        )
        files = [found[0] for found in files_made()] if files_made else results[len(pages) :]
        done: list[PageDone] = results[: len(pages)]
        page_paths = [page.path for page in pages]
        if early is not None and early.started:
            files += early.written()
            makers_paths += early.paths
            page_paths += early.page_paths()
            done += early.pages_done()
    rows: dict[str, Row] = {}
    if memo is not None:
        for path, (_, row, kept) in zip(page_paths, done, strict=True):
            if kept:
                rows[path] = memo.rows[path]
            elif row is not None:
                rows[path] = row
        memo.keep(rows)
    paths = set(page_paths) | set(makers_paths)
    return BuildCounts(
        files=len(paths),
        written=sum(written for written, _, _ in done) + sum(files),
        removed=_remove_stale(out, present - paths),
        rendered=sum(1 for _, _, kept in done if not kept),
    )


def other_files(data: SiteData, site_dir: Path) -> dict[str, bytes]:
    """The site's files besides its HTML pages: feeds, calendar, open data, search, assets."""
    return {rel: make() for rel, make in _file_makers(data, site_dir)}


Maker = tuple[str, Callable[[], bytes]]  # a file besides the pages, and what makes it


def _file_makers(data: SiteData, site_dir: Path) -> list[Maker]:
    """Each file besides the pages with what makes it (each is made and written apart, while
    pages are rendered: the largest are ~50 MB at 50,000 incidents)."""
    return [_chart_maker(data), *_record_file_makers(data, site_dir)]


def _chart_maker(data: SiteData) -> Maker:
    """The SLA chart: the one file besides the pages that needs the statuses."""
    return ("sla.svg", lambda: render_sla_svg_bytes(charted_statuses(data), data.at))


def _record_file_makers(data: SiteData, site_dir: Path) -> list[Maker]:
    """The files that need only the records (not their SLA), the slowest first."""
    makers: list[Maker] = [
        ("data/records.json", lambda: export_json(data.records, data.at)),
        ("assets/search-index.js", lambda: search_index_js(_search_entries(data))),
        ("feed.atom", lambda: atom_feed(recent_changes(data), data.at)),
        (
            "releases.ics",
            lambda: release_calendar(
                sorted(data.of("release"), key=lambda r: r.get("planned_date", "")), data.at
            ),
        ),
    ]
    makers += [(f"assets/{asset.name}", asset.read_bytes) for asset in static_assets(site_dir)]
    return makers


def static_assets(site_dir: Path) -> list[Path]:
    """The site's static files (`site/static/`), copied to `assets/`: links left out."""
    found = sorted((site_dir / "static").glob("*"))
    return [asset for asset in found if asset.is_file() and not asset.is_symlink()]


class EarlyFiles:
    """Everything that needs only the records, not their SLA state: the open data, search
    index, feeds and assets, and the pages of problems, known errors, RfCs, releases, CIs
    and articles (`pages.record_pages`: ~7,500 at 50,000 incidents, ~2 s of CPU, planned
    by the worker that makes them). With many records, forked workers make and write them
    from the moment the records are known (`start`, given to `gather` as
    `records_known`), while the SLA is evaluated and the other pages are planned here;
    `build_site` then makes only the rest and counts these. `close` waits for the
    workers, then ends them."""

    def __init__(
        self, site_dir: Path, out: Path, *, internal: bool, memo: PageMemo | None = None
    ) -> None:
        self.site_dir = site_dir
        self.out = out
        self.internal = internal
        self.memo = memo
        self.present: set[str] = set()  # what `out` held before any of them was written
        self.paths: list[str] = []  # of the files besides the pages
        self._stack = contextlib.ExitStack()
        self._soon: Callable[[], list[list[Any]]] | None = None
        self._found: list[list[Any]] | None = None

    @property
    def started(self) -> bool:
        return self._soon is not None

    def start(self, data: SiteData) -> None:
        if self.started or not worth_forking(_count(data), PARALLEL_FROM):
            return
        self.out = _prepare(self.out)
        self.present = set(_walk_files(self.out))
        makers = _record_file_makers(data, self.site_dir)
        # The record pages are planned by the worker that makes them (~0.5 s at 50,000
        # incidents, off the parent's way), the second job: the open data, the slowest
        # file, is the first worker's first.
        jobs: list[Job] = [("file", index, 0) for index in range(len(makers))]
        jobs.insert(_RECORD_PAGES_JOB, ("record-pages", 0, 0))
        self._soon = _forked_jobs(
            self._stack, jobs, env=make_environment(self.site_dir), pages=[], data=data,
            internal=self.internal, out=self.out, present=self.present, makers=makers,
            memo=self.memo.rows if self.memo is not None else None,
        )  # fmt: skip
        self.paths = [rel for rel, _ in makers]

    def _results(self) -> list[list[Any]]:
        if self._found is None:
            self._found = self._soon() if self._soon is not None else []
        return self._found

    def written(self) -> list[bool]:
        """Whether each file besides the pages was written (its bytes changed)."""
        return [found[0] for job, found in enumerate(self._results()) if job != _RECORD_PAGES_JOB]

    def page_paths(self) -> list[str]:
        """The record pages' paths, in the order of `pages_done`."""
        return [path for path, _ in self._record_pages()]

    def pages_done(self) -> list[PageDone]:
        """What became of each record page, in order."""
        return [done for _, done in self._record_pages()]

    def _record_pages(self) -> list[tuple[str, PageDone]]:
        found = self._results()
        return found[_RECORD_PAGES_JOB] if found else []

    def close(self) -> None:
        """Wait for the workers (a build failing meanwhile leaves no file half written:
        each is whole, old or new), then end them."""
        if self._soon is not None and self._found is None:
            with contextlib.suppress(Exception):  # the build's own failure is the one told
                self._results()
        self._stack.close()


_RECORD_PAGES_JOB = 1  # the early job making the record pages; the others make files


def _count(data: SiteData) -> int:
    return sum(len(of_kind) for of_kind in data.records.values())


def _forked_jobs(
    stack: contextlib.ExitStack, jobs: list[Job], **job: Any
) -> Callable[[], list[list[Any]]]:
    """Start `_run_job` for each of `jobs` in forked workers that inherit `job` (what
    `_run_job` reads: env, pages, data, internal, out, present, makers, memo); the
    returned function waits for their results, in order. The workers end with `stack`."""
    _JOB.update(job)
    try:
        return stack.enter_context(forked_soon(_run_job, jobs))
    finally:
        _JOB.clear()  # the workers have their copy


PARALLEL_FROM = 1000  # fewer pages are rendered here: starting processes costs more
_JOB: dict[str, Any] = {}
# ("pages", first, end), ("file", index of its maker, 0) or ("record-pages", 0, 0): those
# planned by the worker (`pages.record_pages`), each with its path.
Job = tuple[str, int, int]
PageDone = tuple[bool, Row | None, bool]  # written, its memo row, kept as the memo says


def _render_all(
    env: Environment,
    pages: list[Page],
    data: SiteData,
    internal: bool,
    progress: Callable[[int, int], None] | None = None,
    *,
    out: Path | None = None,
    present: set[str] | None = None,
    makers: Sequence[tuple[str, Callable[[], bytes]]] = (),
    memo: Mapping[str, Row] | None = None,
) -> list[Any]:
    """Every page rendered, in order: its bytes, or with `out`, a `PageDone` (whether it was
    written there, only if its bytes differ; the memo row of its file; whether it was kept
    unrendered, as `memo` says it can be); then, for each of `makers` (only with `out`),
    whether its file was written, made here after the pages (`build_site` has workers make
    them earlier when there is much to do). Pages are shared out over forked processes when
    there are many (they inherit the data and the compiled templates)."""
    _JOB.update(
        env=env, pages=pages, data=data, internal=internal, out=out, present=present or set()
    )
    _JOB.update(makers=makers, memo=memo)
    results: Iterable[list[Any]]
    try:
        if not worth_forking(len(pages), PARALLEL_FROM):
            step = 200  # progress is told after each step
            jobs: list[Job] = [
                ("pages", i, min(i + step, len(pages))) for i in range(0, len(pages), step)
            ]
            results = map(_run_job, jobs)
        else:
            # Small steps (~900 pages at 57,000): the workers finish together, where eight
            # steps a worker left one of them idle for up to a step (~1 s) at the end.
            step = max(50, len(pages) // (workers() * 32))
            jobs = [("pages", i, min(i + step, len(pages))) for i in range(0, len(pages), step)]
            results = fork_map(_run_job, jobs)
        rendered: list[Any] = []
        for found in results:
            rendered.extend(found)
            if progress:
                progress(len(rendered), len(pages))
        if progress and not pages:
            progress(0, 0)
        files = [_run_job(("file", index, 0))[0] for index in range(len(makers))]
        return rendered + files
    finally:
        _JOB.clear()


def _run_job(job: Job) -> list[Any]:
    env, pages, data, internal = _JOB["env"], _JOB["pages"], _JOB["data"], _JOB["internal"]
    out, present = _JOB["out"], _JOB["present"]
    folders: set[str] = set()
    if job[0] == "file":
        rel, make = _JOB["makers"][job[1]]
        content = make()
        return [_put(out, rel, content, rel in present, folders)]
    if job[0] == "record-pages":
        planned = record_pages(data)
        done = _pages_done(env, planned, data, internal, out, present, folders)
        return [(page.path, one) for page, one in zip(planned, done, strict=True)]
    return _pages_done(env, pages[job[1] : job[2]], data, internal, out, present, folders)


def _pages_done(
    env: Environment,
    pages: list[Page],
    data: SiteData,
    internal: bool,
    out: Path | None,
    present: set[str],
    folders: set[str],
) -> list[Any]:
    """Each page rendered (`out` None: its bytes), else written if its bytes differ, or kept
    as the memo says it can be (a `PageDone`)."""
    found: list[Any] = []
    memo = _JOB["memo"]
    for page in pages:
        if out is None:
            found.append(_render(env, page, data, internal=internal))
            continue
        target = f"{out}/{page.path}"
        key = page_key(page, data.at, internal) if memo is not None else None
        if key is not None and page.path in present and unchanged(target, key, memo.get(page.path)):
            found.append((False, None, True))
            continue
        content = _render(env, page, data, internal=internal)
        written = _put(out, page.path, content, page.path in present, folders)
        found.append((written, file_row(target, key) if key is not None else None, False))
    return found


def _render(env: Environment, page: Page, data: SiteData, *, internal: bool) -> bytes:
    template = env.get_template(page.template)
    context = {
        name: value.make() if type(value) is Later else value
        for name, value in page.context.items()
    }
    text = template.render(
        page=page,
        root=page.root,
        at=data.at,
        internal=internal,
        timeline=release_timeline,
        **context,
    )
    return text.encode("utf-8")


def _search_entries(data: SiteData) -> list[dict[str, str]]:
    return [search_entry(kind, record) for kind in KIND_PAGES for record in data.of(kind)]


def search_entry(kind: str, record: Mapping[str, Any]) -> dict[str, str]:
    """A record's entry in the search index."""
    text = " ".join(str(record.get(f, "")) for f in SEARCH_FIELDS if record.get(f))
    return {
        "url": url(kind, record["id"]),
        "kind": kind,
        "id": record["id"],
        "title": str(record.get("title") or record.get("name") or record["id"]),
        "text": text[:MAX_SEARCH_TEXT],
    }


def write_site(files: Mapping[str, bytes], out: Path) -> tuple[int, int]:
    """Make the folder `out` hold exactly `files`; return (files written, files removed).

    Only files whose bytes differ are written (50,000 unchanged pages are only read and
    compared, which is far cheaper than writing them after deleting them). A file that is
    there is replaced whole (written aside, renamed over it), so it is never seen half
    written; a new file is written in place, refusing anything that has appeared at its
    path. Links planted in the folder are replaced, never written through.
    """
    out = _prepare(out)
    for rel in files:
        _check_inside(rel)
    present = set(_walk_files(out))
    folders: set[str] = set()
    written = sum(_put(out, rel, files[rel], rel in present, folders) for rel in sorted(files))
    return written, _remove_stale(out, present - set(files))


def _prepare(out: Path) -> Path:
    out = out.resolve()
    if out.exists() and (out.is_symlink() or not out.is_dir()):
        raise SiteError(f"{out} exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    os.chmod(out, 0o755)
    return out


def _check_inside(rel: str) -> None:
    # Strings, not Path objects: asked for each of 57,000 files (POSIX paths: fork only).
    if rel.startswith("/") or ".." in rel.split("/"):
        raise SiteError(f"refusing to write outside the site: {rel}")


def _put(
    out: Path, rel: str, content: bytes | Sequence[bytes | memoryview], present: bool,
    folders: set[str], *, known: bool = False,
) -> bool:  # fmt: skip
    """Write `content` (bytes, or pieces of them written one after the other) to `out/rel`
    unless it is already there; True if written. Paths are strings here: this runs for each
    of 57,000 files, and pathlib cost ~20 us a file. `known`: the caller knows the file
    there differs (it is not read to compare)."""
    pieces = [content] if isinstance(content, bytes) else content
    _check_inside(rel)
    target = f"{out}/{rel}"
    folder = target.rpartition("/")[0]
    if folder not in folders:
        _safe_folder(out, Path(folder), folders)
    if present and not known and _same(target, b"".join(pieces)):
        return False
    if not present:
        # A page nobody can have seen yet is written in place: writing aside and renaming
        # took 110-560 us a file on this disk against 60 us (50,000 new pages: up to 25 s).
        try:  # O_EXCL: not through a link planted since
            _write_new(target, b"".join(pieces))
            return True
        except FileExistsError:
            pass  # something appeared there since the folder was listed: replaced whole
    tmp = f"{folder}/.{rel.rpartition('/')[2]}.{os.getpid()}.tmp"
    with open(tmp, "wb") as handle:
        handle.writelines(pieces)
    os.replace(tmp, target)
    return True


_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)


def write_all(handle: int, pieces: Sequence[bytes | memoryview]) -> int:
    """Write `pieces` one after the other to the open file `handle` (os.write may write
    less than it is given); the bytes written."""
    size = 0
    for piece in pieces:
        view = memoryview(piece)
        while view:
            done = os.write(handle, view)
            size += done
            view = view[done:]
    return size


def _write_new(target: str, content: bytes) -> None:
    """Create the file `target` holding `content` (FileExistsError if anything is there).
    Three system calls: Python's open() adds an fstat and an isatty to each of 57,000."""
    handle = os.open(target, _NEW_FILE, 0o666)
    try:
        write_all(handle, [content])
    except BaseException:  # a disk full: no half page left behind
        os.close(handle)
        with contextlib.suppress(OSError):
            os.unlink(target)
        raise
    os.close(handle)


def _remove_stale(out: Path, stale: set[str]) -> int:
    for rel in sorted(stale):
        (out / rel).unlink()
    for folder in sorted({(out / rel).parent for rel in stale}, reverse=True):
        while folder != out and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
            folder = folder.parent
    return len(stale)


def _walk_files(out: Path) -> list[str]:
    """Every file (and link) under `out`, relative, POSIX (strings, not Paths: 57,000 of
    them at 50,000 incidents)."""
    found = []
    top = str(out)
    for dirpath, dirnames, filenames in os.walk(top):
        prefix = "" if dirpath == top else dirpath[len(top) + 1 :].replace(os.sep, "/") + "/"
        links = [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]
        found += [prefix + d for d in links]  # a link to a folder: removed
        dirnames[:] = [d for d in dirnames if d not in links]
        found += [prefix + name for name in filenames]
    return found


def _same(target: str, content: bytes, block: int = 1 << 20) -> bool:
    """Whether the file at `target` holds `content`, read a block at a time (the old copies
    of the open data and the SLA chart are ~70 MB each: not held beside the new ones)."""
    try:
        found = os.lstat(target)
        if not S_ISREG(found.st_mode) or found.st_size != len(content):
            return False
        view = memoryview(content)
        offset = 0
        with open(target, "rb") as handle:
            while chunk := handle.read(block):
                if view[offset : offset + len(chunk)] != chunk:
                    return False
                offset += len(chunk)
        return offset == len(content)
    except OSError:
        return False


def _safe_folder(out: Path, folder: Path, known: set[str]) -> None:
    """Create `folder` inside `out`; a link standing where a folder belongs is removed."""
    if str(folder) in known:
        return
    if folder != out:
        _safe_folder(out, folder.parent, known)
        if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
            folder.unlink(missing_ok=True)  # another worker may have just done it
        folder.mkdir(exist_ok=True)
    known.add(str(folder))
