"""What the site shows: every page as a template name and its context, from public data.

Pure: takes the redacted record data, the SLA statuses and `at`; returns `Page` values. The
builder renders and writes them.
"""

from __future__ import annotations

import contextlib
import heapq
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import Any, NamedTuple

from isg.governance import role_active
from isg.releases import installation_status
from isg.sla.incident import IncidentStatus
from isg.sla.memory import KeptStatus
from isg.sla.output import describe_priority, shown_status
from isg.sla.run import settled_by
from isg.times import parse_date, parse_time

KIND_PAGES = {  # kind -> (folder, title of the list)
    "incident": ("incidents", "Incidents"),
    "problem": ("problems", "Problems"),
    "known-error": ("known-errors", "Known errors"),
    "rfc": ("rfcs", "Requests for change"),
    "release": ("releases", "Releases"),
    "ci": ("cis", "Configuration items"),
    "knowledge": ("knowledge", "Knowledge articles"),
}


@dataclass(frozen=True)
class Page:
    """One HTML page: where it goes, which template, and what it shows."""

    path: str
    template: str
    title: str
    context: dict[str, Any] = field(default_factory=dict)
    # Whether the page shows a state at the build's time (then it says "Status as of"). A
    # page that does not is the same whenever it is built from the same records, so a
    # build at a later time (pages.yml builds at the current time) leaves it untouched.
    timed: bool = True
    # Digests standing in for context values in the page's memo key (page_memo.page_key):
    # a remembered SLA status is known by the digest of its stored form, ~70 us cheaper
    # than its repr, for each of 50,000 incident pages.
    stand_ins: dict[str, bytes] = field(default_factory=dict)

    @property
    def root(self) -> str:
        """The relative prefix from this page to the site root ('' or '../')."""
        return root_of(self.path)


def root_of(path: str) -> str:
    """The relative prefix from the page at `path` to the site root."""
    return "../" * path.count("/")


class Summary(NamedTuple):
    """What the pages about many incidents show of one's status: what a rebuild keeps of an
    incident it did not change (render/rebuild.py)."""

    priority: int
    worst: str


# A remembered status is decoded where it is shown; a summary only stands in the pages
# about many incidents.
Status = IncidentStatus | KeptStatus | Summary


class Later:
    """A page's context value worked out only when the page is rendered (`make()`): a
    remembered status is decoded by the process rendering its page, and only if the page is
    rendered. Its repr names no content: a page holding one has a memo key only through
    `Page.stand_ins` (else it is always rendered)."""

    __slots__ = ("make",)

    def __init__(self, make: Callable[[], Any]) -> None:
        self.make = make


def whole(status: Status) -> IncidentStatus:
    """Every field of a status (a remembered one decoded)."""
    if isinstance(status, Summary):
        raise TypeError("a status summary has no milestones")  # the rebuild asks none
    return status if isinstance(status, IncidentStatus) else status.status()


def _why(status: KeptStatus) -> str:
    return describe_priority(status.shown())


@dataclass
class SiteData:
    """Public records by kind and ID, with the SLA state of incidents at `at`."""

    at: datetime
    records: dict[str, dict[str, dict[str, Any]]]
    sla: dict[str, Status]
    reports: dict[int, dict[str, Any]] = field(default_factory=dict)  # year -> page context
    # Incident ID -> digest of its status as the SLA store keeps it (SlaRun.fingerprints).
    fingerprints: dict[str, bytes] = field(default_factory=dict, repr=False, compare=False)
    # (kind, ID) -> the blob of its file shown: an incident page's key stands on its own and
    # its problem's, not on the repr of the data (the data follows from the
    # blob, the schemas and isg's code, which are the page memo's version, and from whether
    # the build is the members').
    blobs: dict[tuple[str, str], bytes | None] = field(
        default_factory=dict, repr=False, compare=False
    )
    recent: list[dict[str, Any]] | None = field(default=None, repr=False, compare=False)
    # Incidents shown a year, when `records` holds only some incidents (a rebuild's:
    # render/rebuild.py); None: counted from `records`.
    year_counts: dict[int, int] | None = field(default=None, repr=False, compare=False)
    _sorted: dict[str, list[dict[str, Any]]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def of(self, kind: str) -> list[dict[str, Any]]:
        """The records of `kind` by ID (sorted once: pages ask for incidents many times)."""
        found = self._sorted.get(kind)
        if found is None:
            of_kind = self.records.get(kind, {})
            found = self._sorted[kind] = [of_kind[key] for key in sorted(of_kind)]
        return list(found)  # a copy: callers may sort it

    def get(self, kind: str, record_id: Any) -> dict[str, Any] | None:
        return self.records.get(kind, {}).get(str(record_id))


def shown(record: Mapping[str, Any], *names: str) -> dict[str, Any]:
    """Only the fields a list shows of a record (those it has): a list's context is then
    what it shows, so its key is cheap and it is not rendered again when a field it does
    not show changes."""
    return {name: record[name] for name in names if name in record}


LISTED = ("id", "title", "name", "status", "type")  # what list.html.j2 shows of a record


# What the pages about many incidents read of each (the incident lists, the home page,
# recent changes, the CI pages' back-links), besides the closing time among its milestones:
# a rebuild keeps this much of every incident and gives it in place of the whole record
# (`thin_incident`, render/rebuild.py). A test builds those pages from thin incidents and
# from whole ones and finds them the same (tests/unit/test_pages.py).
THIN_FIELDS = ("id", "title", "reporting_state", "status", "reported_at", "affected_cis")


def thin_incident(incident: Mapping[str, Any]) -> dict[str, Any]:
    """What the pages about many incidents read of `incident`."""
    thin = {name: incident[name] for name in THIN_FIELDS if name in incident}
    milestones = incident.get("milestones")
    if isinstance(milestones, dict) and "closed" in milestones:
        thin["milestones"] = {"closed": milestones["closed"]}
    return thin


# What the pages a rebuild makes (`pages_showing`) read of a record that is no incident:
# the home page's waiting changes and next release, the CI pages' back-links, an incident
# page's problem, the recent changes' titles. A CI is read whole (its own page shows it).
OTHER_FIELDS = (
    "id", "title", "name", "status", "type", "planned_date", "cis", "rfcs", "depends_on",
)  # fmt: skip


def thin_other(kind: str, record: Mapping[str, Any]) -> dict[str, Any]:
    """What the pages about many records read of `record`, of `kind` (no incident:
    `thin_incident`)."""
    if kind == "ci":
        return dict(record)
    return {name: record[name] for name in OTHER_FIELDS if name in record}


def url(kind: str, record_id: str) -> str:
    """Site-relative URL of a record's page."""
    return f"{KIND_PAGES[kind][0]}/{record_id}.html"


def worst_state(status: Status | None) -> str:
    return "met" if status is None else status.worst


def _time(value: Any) -> datetime | None:
    return parse_time(value)


RECENT = 20  # events kept: the Atom feed's; the home page shows the first ten


def recent_changes(data: SiteData, limit: int = RECENT) -> list[dict[str, Any]]:
    """The latest dated events of public records, newest first (home page and Atom feed);
    worked out once per site (a pass over every record)."""
    if limit > RECENT:
        return _recent_changes(data, limit)
    if data.recent is None:
        data.recent = _recent_changes(data, RECENT)
    return data.recent[:limit]


def _recent_changes(data: SiteData, limit: int) -> list[dict[str, Any]]:
    # Every dated event, as written (~110,000 at 50,000 incidents; parsing them all took
    # ~0.5 s): only those whose date text can be among the newest are parsed (`_newest`).
    dated: list[tuple[Any, str, Mapping[str, Any], str]] = []
    for incident in data.of("incident"):
        dated.append((incident.get("reported_at"), "incident", incident, "incident reported"))
        closed = (incident.get("milestones") or {}).get("closed")
        dated.append((closed, "incident", incident, "incident closed"))
    for rfc in data.of("rfc"):
        dated.append((rfc.get("submitted_at"), "rfc", rfc, "RfC submitted"))
        decision = rfc.get("decision") or {}
        outcome = f"RfC {decision.get('outcome', 'decided')}"
        dated.append((decision.get("at"), "rfc", rfc, outcome))
    for release in data.of("release"):
        dated.append((release.get("released_on"), "release", release, "release published"))
    for article in data.of("knowledge"):
        dated.append((article.get("updated_at"), "knowledge", article, "knowledge article updated"))
    return [
        {
            "at": moment,
            "kind": kind,
            "id": record_id,
            "title": record.get("title", record_id),
            "what": what,
            "url": url(kind, record_id),
        }
        for _, kind, record_id, _, record, moment, what in _newest(dated, data.at, limit)
    ]


Event = tuple[datetime, str, str, int, Mapping[str, Any], datetime, str]


def _newest(
    dated: list[tuple[Any, str, Mapping[str, Any], str]], at: datetime, limit: int
) -> list[Event]:
    """The `limit` newest events at or before `at`, newest first; of events at one instant
    for one record, the one listed first stays first. Ordered by the instant in UTC:
    comparing times in different zones asks each zone for its offset on every comparison,
    which made sorting 110,000 events take ~3 s.

    A time's offset is less than a day, so the instant of a date text ("YYYY-MM-DD...") d is
    after d-1 and before d+2 (00:00 UTC). Events whose date text is two days or more after
    `at`'s are after it; of the rest, only those from two days before the `limit`-th
    newest date text on (`first`) are parsed. Whether that left out none of the newest is
    checked (each left out is before first+1): if it may have, all are parsed."""
    at = at.astimezone(UTC)
    late = (at.date() + timedelta(days=1)).isoformat()
    days = [
        when[:10] if isinstance(when, str) and when[4:5] == "-" and when[7:8] == "-" else None
        for when, *_ in dated
    ]
    known = heapq.nlargest(limit, (day for day in days if day is not None and day <= late))
    first = None
    if len(known) == limit:
        with contextlib.suppress(ValueError):
            first = (date.fromisoformat(known[-1]) - timedelta(days=2)).isoformat()
    if first is not None:
        chosen = [n for n, day in enumerate(days) if day is None or first <= day <= late]
        found = _events(dated, chosen, at, limit)
        bound = datetime.fromisoformat(f"{first}T00:00:00+00:00") + timedelta(days=1)
        if len(found) == limit and found[-1][0] >= bound:
            return found
    return _events(dated, range(len(dated)), at, limit)


def _events(
    dated: list[tuple[Any, str, Mapping[str, Any], str]], chosen: Iterable[int],
    at: datetime, limit: int,
) -> list[Event]:  # fmt: skip
    """The `limit` newest of the `chosen` dated events at or before `at` (UTC)."""
    events: list[Event] = []
    for n in chosen:
        when, kind, record, what = dated[n]
        moment = _time(when)
        if moment is None and isinstance(when, str) and parse_date(when):
            moment = datetime.fromisoformat(when + "T00:00:00+00:00")
        if moment is not None and (instant := moment.astimezone(UTC)) <= at:
            events.append((instant, kind, record["id"], -n, record, moment, what))
    return heapq.nlargest(limit, events, key=lambda e: e[:4])


CHART_DAYS = 90  # the site's SLA chart: open incidents and those closed in these many days


def charted_statuses(data: SiteData) -> list[IncidentStatus]:
    """The statuses the site's SLA chart draws, by incident ID: of open incidents and those
    closed in the last CHART_DAYS (every incident made it 72 MB at 50,000 incidents, more
    than a browser will draw; older ones are in the incident list and the yearly reports)."""
    since = data.at - timedelta(days=CHART_DAYS)
    found = []
    for incident in data.of("incident"):
        status = data.sla.get(incident["id"])
        if status is None:
            continue
        closed = _time((incident.get("milestones") or {}).get("closed"))
        if incident.get("status") != "closed" or closed is None or closed >= since:
            found.append(whole(status))
    return found


def back_links(
    data: SiteData, only: Collection[str] | None = None
) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Every public record that names each CI (`only`: these CIs), by CI and kind, in one
    pass over the records (asked per CI, it was a pass over 50,000 incidents for each CI)."""
    found: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for incident in data.of("incident"):
        for ci_id in dict.fromkeys(incident.get("affected_cis") or []):
            if only is None or ci_id in only:
                found[ci_id]["incident"].append(shown(incident, "id", "title"))
    rfc_cis: dict[str, set[str]] = {}
    for kind in ("problem", "known-error", "rfc", "knowledge"):
        for record in data.of(kind):
            named = dict.fromkeys(record.get("cis") or [])
            for ci_id in named:
                found[ci_id][kind].append(shown(record, "id", "title", "name"))
            if kind == "rfc":
                rfc_cis[record["id"]] = set(named)
    for release in data.of("release"):
        for ci_id in sorted(
            set().union(*(rfc_cis.get(r, set()) for r in release.get("rfcs") or [])),
            key=str,
        ):
            found[ci_id]["release"].append(shown(release, "id", "title", "name"))
    for ci in data.of("ci"):
        for ci_id in dict.fromkeys(ci.get("depends_on") or []):
            found[ci_id]["ci"].append(shown(ci, "id", "title", "name"))
    return {ci_id: dict(kinds) for ci_id, kinds in found.items()}


def plan_pages(data: SiteData) -> list[Page]:
    """Every HTML page of the site."""
    return status_pages(data) + record_pages(data)


def status_pages(data: SiteData) -> list[Page]:
    """The pages that show the SLA state of incidents or the yearly reports: the home page,
    the incidents' pages and lists, the reports."""
    pages = [_home(data)]
    pages += _incident_pages(data)
    pages.append(
        Page(
            "reports/index.html",
            "reports.html.j2",
            "Reports",
            {"years": sorted(data.reports, reverse=True)},
        )
    )
    for year, context in sorted(data.reports.items()):
        pages.append(
            Page(
                f"reports/sla-{year}.html",
                "report.html.j2",
                f"Service Level Report {year}",
                context,
            )
        )
    return pages


def record_pages(data: SiteData) -> list[Page]:
    """The pages that need only the records, not their SLA state (`data.sla`, `data.reports`
    and `data.fingerprints` unread): problems, known errors, RfCs, releases, CIs, articles
    and the pages about the service. A large build renders them while the SLA is
    evaluated (`builder.EarlyFiles`)."""
    pages = _simple_pages(data, "problem")
    pages += _simple_pages(data, "known-error")
    pages += _rfc_pages(data)
    pages += _release_pages(data)
    pages += _ci_pages(data)
    pages += _simple_pages(data, "knowledge")
    pages.append(
        Page(
            "local-changes.html",
            "local_changes.html.j2",
            "Local changes",
            {"changes": _local_changes(data)},
            timed=False,
        )
    )
    policies = data.of("service-levels")
    pages.append(
        Page(
            "service-levels.html",
            "service_levels.html.j2",
            "Service levels",
            {"policies": sorted(policies, key=lambda p: p["effective_from"], reverse=True)},
            timed=False,
        )
    )
    pages.append(Page("governance.html", "governance.html.j2", "Governance", _governance(data)))
    pages.append(Page("search.html", "search.html.j2", "Search", {}, timed=False))
    return pages


def _home(data: SiteData) -> Page:
    open_incidents = [i for i in data.of("incident") if i.get("status") != "closed"]
    by_priority: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for incident in open_incidents:
        status = data.sla.get(incident["id"])
        priority = status.priority if status else 0
        by_priority[priority].append(
            {**shown(incident, "id", "title"), "_state": worst_state(status)}
        )
    waiting = [
        shown(r, "id", "title", "type", "status")
        for r in data.of("rfc")
        if r.get("status") in ("submitted", "assessed")
    ]
    upcoming = sorted(
        (
            shown(r, "id", "title", "planned_date")
            for r in data.of("release")
            if r.get("status") in ("planned", "testing")
        ),
        key=lambda r: r.get("planned_date", ""),
    )
    return Page(
        "index.html",
        "home.html.j2",
        "iSupport maintenance",
        {
            "by_priority": sorted(by_priority.items()),
            "waiting": waiting,
            "next_release": upcoming[0] if upcoming else None,
            "recent": recent_changes(data, 10),
            "chart_days": CHART_DAYS,
        },
    )


def incident_year(incident: Mapping[str, Any]) -> int:
    """The year an incident was reported in, as written in its `reported_at`."""
    moment = parse_time(incident.get("reported_at"))
    return moment.year if moment is not None else 0  # the schema requires the time


def pages_showing(
    data: SiteData, incidents: Collection[str], *, long_lists: bool = True
) -> list[Page]:
    """The pages that show something of the `incidents` (IDs) besides what yearly reports
    read: the home page, the incidents' own pages, the open list and their years' lists,
    the pages of the CIs they name. What a rebuild plans when nothing else changed
    (render/rebuild.py): the other incidents may be thin (`thin_incident`), with a
    `Summary` for a status. Without `long_lists`, not the years' lists nor the CI pages (a
    rebuild that replaces a retitled incident's row in them: `row_patches`)."""
    if not long_lists:
        return [_home(data), *_incident_pages(data, set(incidents), year_lists=False)]
    named = {
        str(ci_id)
        for incident_id in incidents
        if (incident := data.get("incident", incident_id)) is not None
        for ci_id in incident.get("affected_cis") or []
    }
    return [_home(data), *_incident_pages(data, set(incidents)), *_ci_pages(data, named)]


def _incident_pages(
    data: SiteData, only: Collection[str] | None = None, *, year_lists: bool = True
) -> list[Page]:
    """A page per incident; the incident list: open incidents, then a page per year (one
    list of every incident was 22 MB at 50,000 incidents, and changed with any of them).
    `only`: the pages of these incidents and (`year_lists`) of their years, and the list."""
    by_year: dict[int, list[dict[str, Any]]] = defaultdict(list)
    counting = data.year_counts is None
    counts: dict[int, int] = defaultdict(int) if counting else dict(data.year_counts or {})
    open_rows = []
    timed_years: set[int] = set()
    pages = []
    years_of = (
        None
        if only is None
        else {
            incident_year(found)
            for incident_id in only
            if (found := data.get("incident", incident_id)) is not None
        }
        if year_lists
        else set()
    )
    for incident in data.of("incident"):
        year = incident_year(incident)
        if counting:
            counts[year] += 1  # incidents a year
        listed = years_of is None or year in years_of
        own = only is None or incident["id"] in only
        is_open = incident.get("status") != "closed"
        if not listed and not own and not is_open:
            continue  # in no list planned here (a rebuild plans a few years' lists)
        status = data.sla.get(incident["id"])
        row = list_row(incident, status)
        if is_open:
            open_rows.append(row)
        if not listed and not own:
            continue  # neither its page nor its year's list is planned
        if listed:
            by_year[year].append(row)
        # A remembered status is only ever of an incident closed by `at`
        # (`evaluate_remembered`): settled, without parsing its closing time again.
        timed = (
            status is not None
            and type(status) is not KeptStatus
            and not settled_by(incident, data.at)
        )
        if timed:
            timed_years.add(year)
        if not own:
            continue
        named = data.get("problem", incident.get("problem"))
        problem = None if named is None else shown(named, "id", "title")
        pages.append(
            Page(
                url("incident", incident["id"]),
                "incident.html.j2",
                f"{incident['id']}: {incident['title']}",
                {"incident": incident, **_sla_context(status), "problem": problem},
                timed=timed,
                stand_ins=_stand_ins(data, incident["id"], problem),
            )
        )
    years = sorted(counts, reverse=True)
    pages.append(
        Page(
            "incidents/index.html",
            "incidents.html.j2",
            "Incidents",
            {"incidents": open_rows, "years": [(year, counts[year]) for year in years]},
        )
    )
    for year in sorted(by_year):
        pages.append(
            Page(
                year_url(year),
                "incidents_year.html.j2",
                f"Incidents reported in {year}",
                {"year": year, "incidents": by_year[year]},
                timed=year in timed_years,
            )
        )
    return pages


def list_row(incident: Mapping[str, Any], status: Status | None) -> dict[str, Any]:
    """An incident's row in the incident lists (`builder.incident_rows`)."""
    return {
        **shown(incident, "id", "title", "reporting_state", "status"),
        "_priority": status.priority if status else None,
        "_state": worst_state(status),
    }


def _sla_context(status: Status | None) -> dict[str, Any]:
    """An incident page's status and the reason for its priority (a remembered status: both
    worked out when the page is rendered)."""
    if isinstance(status, KeptStatus):
        return {"sla": Later(status.shown), "why": Later(partial(_why, status))}
    if status is None:
        return {"sla": None, "why": ""}
    shown = shown_status(whole(status))
    return {"sla": shown, "why": describe_priority(shown)}


def _stand_ins(data: SiteData, incident_id: str, problem: Any) -> dict[str, bytes]:
    """What stands in an incident page's key for its record, its status and the problem it
    names, where known (the repr of the problem's data was ~10 us of each page's key)."""
    found = {}
    if blob := data.blobs.get(("incident", incident_id)):
        found["incident"] = blob
    if problem is not None and (blob := data.blobs.get(("problem", str(problem.get("id"))))):
        found["problem"] = blob
    if (fingerprint := data.fingerprints.get(incident_id)) is not None:
        found["sla"] = found["why"] = fingerprint
    return found


def year_url(year: int) -> str:
    """Site-relative URL of the list of incidents reported in `year`."""
    return f"incidents/{year}.html"


def _simple_pages(data: SiteData, kind: str) -> list[Page]:
    folder, title = KIND_PAGES[kind]
    records = data.of(kind)
    known_errors: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    if kind == "problem":
        for known_error in data.of("known-error"):
            known_errors[known_error.get("problem")].append(known_error)
    pages = [
        Page(
            f"{folder}/index.html",
            "list.html.j2",
            title,
            {"records": [shown(r, *LISTED) for r in records], "kind": kind},
            timed=False,
        )
    ]
    for record in records:
        context: dict[str, Any] = {"record": record, "kind": kind}
        if kind == "problem":
            context["known_errors"] = known_errors.get(record["id"], [])
        pages.append(
            Page(
                url(kind, record["id"]),
                f"{kind}.html.j2",
                f"{record['id']}: {record['title']}",
                context,
                timed=False,
            )
        )
    return pages


def _rfc_pages(data: SiteData) -> list[Page]:
    rfcs = data.of("rfc")
    pages = [
        Page(
            "rfcs/index.html",
            "rfcs.html.j2",
            "Requests for change",
            {
                "rfcs": [
                    shown(r, "id", "title", "status", "type", "scope", "requester") for r in rfcs
                ],
                "statuses": sorted({r["status"] for r in rfcs}),
                "types": sorted({r["type"] for r in rfcs}),
                "scopes": sorted({r["scope"] for r in rfcs}),
                "requesters": sorted({r["requester"] for r in rfcs}),
            },
            timed=False,
        )
    ]
    adopters = _adopters(rfcs)
    for rfc in rfcs:
        pages.append(
            Page(
                url("rfc", rfc["id"]),
                "rfc.html.j2",
                f"{rfc['id']}: {rfc['title']}",
                {
                    "rfc": rfc,
                    "release": data.get("release", rfc.get("release")),
                    "adopted_by": adopters.get(rfc["id"], []),
                },
                timed=False,
            )
        )
    return pages


def _adopters(rfcs: list[dict[str, Any]]) -> dict[Any, list[dict[str, Any]]]:
    """The RfCs that adopt each RfC (a local change taken into the common system), in
    order: one pass, not one per RfC (5,000 RfCs made that 25 million comparisons)."""
    found: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for rfc in rfcs:
        adopted = rfc.get("adopts")
        if adopted is not None:
            found[adopted].append(rfc)
    return found


def _release_pages(data: SiteData) -> list[Page]:
    releases = sorted(data.of("release"), key=lambda r: r.get("planned_date", ""))
    states = data.of("state")
    pages = [
        Page(
            "releases/index.html",
            "releases.html.j2",
            "Releases and the release calendar",
            {"releases": releases, "overdue": _overdue(releases, states, data.at)},
        )
    ]
    for release in releases:
        installs = (
            installation_status(release, states, data.at)
            if (release.get("type") == "regular")
            else []
        )
        pages.append(
            Page(
                url("release", release["id"]),
                "release.html.j2",
                f"Release {release['id']}",
                {
                    "release": release,
                    "installs": installs,
                    "rfcs": [
                        data.get("rfc", r) for r in release.get("rfcs") or [] if data.get("rfc", r)
                    ],
                },
                timed=release.get("type") == "regular",  # installations are due by then
            )
        )
    return pages


def _overdue(
    releases: list[dict[str, Any]], states: list[dict[str, Any]], at: datetime
) -> list[dict[str, Any]]:
    return [
        {**row, "release": release["id"]}
        for release in releases
        if release.get("type") == "regular"
        for row in installation_status(release, states, at)
        if row["verdict"] == "overdue"
    ]


def _ci_pages(data: SiteData, only: Collection[str] | None = None) -> list[Page]:
    """The CI list and a page per CI (`only`: the pages of these CIs, not the list)."""
    cis = data.of("ci")
    pages = []
    if only is None:
        pages.append(
            Page(
                "cis/index.html",
                "list.html.j2",
                "Configuration items",
                {"records": [shown(ci, *LISTED) for ci in cis], "kind": "ci"},
                timed=False,
            )
        )
    links = back_links(data, only)
    for ci in cis:
        if only is not None and ci["id"] not in only:
            continue
        pages.append(
            Page(
                url("ci", ci["id"]),
                "ci.html.j2",
                f"{ci['name']}",
                {"ci": ci, "named_by": links.get(ci["id"], {})},
                timed=False,
            )
        )
    return pages


def _local_changes(data: SiteData) -> list[dict[str, Any]]:
    rfcs = data.of("rfc")
    adopters = _adopters(rfcs)
    return [
        {**rfc, "_adopted_by": adopters.get(rfc["id"], [])}
        for rfc in rfcs
        if rfc.get("scope") == "local" and not rfc.get("adopts")
    ]


def _governance(data: SiteData) -> dict[str, Any]:
    members = data.of("member")
    day = data.at.date()
    month = f"{data.at.year}-{data.at.month:02d}"

    def holding(role: str) -> list[dict[str, Any]]:
        return [
            m
            for m in members
            if any(role_active(r, day) and r.get("role") == role for r in m.get("roles") or [])
        ]

    rota: dict[str, list[str]] = defaultdict(list)
    for member in members:
        for role in member.get("roles") or []:
            if role.get("role") == "ecab":
                for m in role.get("months") or []:
                    rota[m].append(member.get("state") or member["id"])
    year = [f"{data.at.year}-{m:02d}" for m in range(1, 13)]
    return {
        "governing_body": holding("governing-body"),
        "cab": holding("cab"),
        "ecab_standing": [m for m in holding("ecab") if not m.get("state")],
        "rota": [(m, sorted(rota.get(m, [])), m == month) for m in year],
        "states": data.of("state"),
        "organisations": {o["id"]: o for o in data.of("organisation")},
        "improvements": data.of("improvement"),
    }
