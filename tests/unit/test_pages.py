"""The site's pages as planned from public data (isg.render.pages)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jinja2 import UndefinedError

from conftest import FIXED_NOW, REPO_ROOT
from isg.records import parse_registry, read_record_files
from isg.render.builder import gather, make_environment, render_site
from isg.render.pages import SiteData, back_links, plan_pages
from isg.schemas import load_schemas


@pytest.fixture(scope="module")
def data() -> SiteData:
    registry = parse_registry(read_record_files(REPO_ROOT))
    return gather(registry, load_schemas(REPO_ROOT), at=FIXED_NOW, internal=False)


def _naming(data: SiteData, ci_id: str) -> dict[str, list[str]]:
    """The records that name `ci_id`, found the slow way: a pass per kind for this CI."""
    found: dict[str, list[str]] = {}

    def add(kind: str, records: list[dict[str, Any]]) -> None:
        if records:
            found[kind] = [r["id"] for r in records]

    add("incident", [i for i in data.of("incident") if ci_id in (i.get("affected_cis") or [])])
    for kind in ("problem", "known-error", "rfc", "knowledge"):
        add(kind, [r for r in data.of(kind) if ci_id in (r.get("cis") or [])])
    rfcs = set(found.get("rfc", []))
    add("release", [r for r in data.of("release") if rfcs & set(r.get("rfcs") or [])])
    add("ci", [c for c in data.of("ci") if ci_id in (c.get("depends_on") or [])])
    return found


def test_each_ci_page_names_the_public_records_that_name_it(data: SiteData) -> None:
    links = back_links(data)
    named = {
        ci["id"]: {kind: [r["id"] for r in rs] for kind, rs in links.get(ci["id"], {}).items()}
        for ci in data.of("ci")
    }
    assert named == {ci["id"]: _naming(data, ci["id"]) for ci in data.of("ci")}
    assert sum(len(kinds) for kinds in named.values()) >= 5  # the examples do name CIs


def test_the_ci_page_shows_what_names_it(data: SiteData) -> None:
    """The page's context and its template agree on the name (a clash with the `links` macro
    once left every CI page's "Named by" empty)."""
    ci_id, kinds = next((c, k) for c, k in back_links(data).items() if "incident" in k)
    page = next(p for p in plan_pages(data) if p.path == f"cis/{ci_id}.html")
    html = (
        make_environment(REPO_ROOT / "site")
        .get_template(page.template)
        .render(page=page, root=page.root, at=data.at, data=data, internal=False, **page.context)
    )
    assert "<h3>Incidents</h3>" in html
    for incident in kinds["incident"]:
        assert f'<a href="../incidents/{incident["id"]}.html">{incident["id"]}</a>' in html


def test_internal_records_do_not_name_cis_on_the_public_site() -> None:
    registry = parse_registry(read_record_files(REPO_ROOT))
    schemas = load_schemas(REPO_ROOT)
    public = gather(registry, schemas, at=FIXED_NOW, internal=False)
    internal = gather(registry, schemas, at=FIXED_NOW, internal=True)
    hidden = set(internal.records["incident"]) - set(public.records["incident"])
    assert hidden  # the examples hold internal incidents
    files = render_site(public, REPO_ROOT / "site", internal=False)
    ci_pages = b"".join(content for path, content in files.items() if path.startswith("cis/"))
    for incident in hidden:
        assert incident.encode() not in ci_pages


def test_yearly_reports_made_in_parallel_equal_those_made_here(
    monkeypatch: pytest.MonkeyPatch, data: SiteData
) -> None:
    from isg.render import builder

    registry = parse_registry(read_record_files(REPO_ROOT))
    monkeypatch.setattr(builder, "worth_forking", lambda count, threshold: True)  # 1 core too
    forked: list[int] = []
    real_fork_map = builder.fork_map

    def fork_map(function: Any, jobs: Any) -> Any:
        forked.extend(jobs)
        return real_fork_map(function, forked)

    monkeypatch.setattr(builder, "fork_map", fork_map)
    shared = gather(registry, load_schemas(REPO_ROOT), at=FIXED_NOW, internal=False)
    assert forked == sorted(data.reports) and len(forked) >= 2
    assert shared.reports == data.reports


def _recent_the_plain_way(data: SiteData, limit: int) -> list[dict[str, Any]]:
    """Recent changes as first written: every event a dict, all of them sorted."""
    from datetime import datetime

    from isg.render.pages import url
    from isg.times import parse_date, parse_time

    events: list[dict[str, Any]] = []

    def add(kind: str, record: dict[str, Any], when: Any, what: str) -> None:
        moment = parse_time(when)
        if moment is None and isinstance(when, str) and parse_date(when):
            moment = datetime.fromisoformat(when + "T00:00:00+00:00")
        if moment is not None and moment <= data.at:
            events.append(
                {
                    "at": moment,
                    "kind": kind,
                    "id": record["id"],
                    "title": record.get("title", record["id"]),
                    "what": what,
                    "url": url(kind, record["id"]),
                }
            )

    for incident in data.of("incident"):
        add("incident", incident, incident.get("reported_at"), "incident reported")
        add(
            "incident",
            incident,
            (incident.get("milestones") or {}).get("closed"),
            "incident closed",
        )
    for rfc in data.of("rfc"):
        add("rfc", rfc, rfc.get("submitted_at"), "RfC submitted")
        decision = rfc.get("decision") or {}
        add("rfc", rfc, decision.get("at"), f"RfC {decision.get('outcome', 'decided')}")
    for release in data.of("release"):
        add("release", release, release.get("released_on"), "release published")
    for article in data.of("knowledge"):
        add("knowledge", article, article.get("updated_at"), "knowledge article updated")
    events.sort(key=lambda e: (e["at"], e["kind"], e["id"]), reverse=True)
    return events[:limit]


# Times around 2026-03-01 in every offset Python reads (up to a minute short of a day),
# dates alone, and text that is no time: what `_newest` must sort as a full parse does.
WHEN = st.one_of(
    st.builds(
        lambda day, minute, offset: (
            f"2026-03-{day:02d}T{minute // 60:02d}:{minute % 60:02d}:00"
            f"{'+' if offset >= 0 else '-'}{abs(offset) // 60:02d}:{abs(offset) % 60:02d}"
        ),
        st.integers(1, 9), st.integers(0, 1439), st.integers(-1439, 1439),
    ),
    st.builds(lambda day: f"2026-03-{day:02d}", st.integers(1, 9)),
    st.sampled_from(["2026-03-04T25:00:00Z", "2026-03-0", "garbage", "2026-02-30"]),
    st.none(),
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(WHEN, WHEN), max_size=30), st.integers(1, 6), st.integers(0, 240))
def test_recent_changes_parse_only_what_can_be_newest_and_find_what_a_full_parse_finds(
    times: list[tuple[Any, Any]], limit: int, hours: int
) -> None:
    from datetime import UTC, datetime, timedelta

    from isg.render.pages import _recent_changes

    incidents = {}
    for n, (reported, closed) in enumerate(times):
        incident: dict[str, Any] = {"id": f"INC-{n % 7}{n}", "title": "t"}
        if reported is not None:
            incident["reported_at"] = reported
        if closed is not None:
            incident["milestones"] = {"closed": closed}
        incidents[incident["id"]] = incident
    at = datetime(2026, 3, 1, tzinfo=UTC) + timedelta(hours=hours)
    site = SiteData(at=at, records={"incident": incidents}, sla={})
    assert _recent_changes(site, limit) == _recent_the_plain_way(site, limit)


def test_recent_changes_are_the_newest_events_whatever_their_zone(data: SiteData) -> None:
    from isg.render.pages import _recent_changes

    assert _recent_changes(data, 500) == _recent_the_plain_way(data, 500)
    # The same instants written in other zones, and ties: one record reported and closed at
    # one instant, two records at one instant.
    twins = SiteData(
        at=data.at,
        records={
            "incident": {
                "INC-B": {
                    "id": "INC-B",
                    "title": "b",
                    "reported_at": "2026-03-01T10:00:00+01:00",
                    "milestones": {"closed": "2026-03-01T09:00:00Z"},
                },
                "INC-A": {
                    "id": "INC-A",
                    "title": "a",
                    "reported_at": "2026-03-01T04:00:00-05:00",
                    "milestones": {"closed": "2026-03-01T12:00:00+03:00"},
                },
                "INC-C": {"id": "INC-C", "title": "c", "reported_at": "2030-01-01T00:00:00Z"},
            },
            "release": {"1.0": {"id": "1.0", "released_on": "2026-03-01"}},
        },
        sla={},
    )
    found = _recent_changes(twins, 20)
    assert found == _recent_the_plain_way(twins, 20)
    assert [(e["id"], e["what"]) for e in found] == [
        ("INC-B", "incident reported"),
        ("INC-B", "incident closed"),
        ("INC-A", "incident reported"),
        ("INC-A", "incident closed"),
        ("1.0", "release published"),
    ]
    assert [e["at"].isoformat() for e in found][:2] == [
        "2026-03-01T10:00:00+01:00",
        "2026-03-01T09:00:00+00:00",
    ]


def test_only_pages_that_depend_on_the_time_say_status_as_of() -> None:
    """Built again three days later from the same records, a page without "Status as of" is
    byte for byte the same (so a later build leaves it untouched), and the pages with it are
    those that show open incidents, due installations, roles or reports."""
    from datetime import timedelta

    registry = parse_registry(read_record_files(REPO_ROOT))
    schemas = load_schemas(REPO_ROOT)
    later = FIXED_NOW + timedelta(days=3)
    first = render_site(
        gather(registry, schemas, at=FIXED_NOW, internal=False), REPO_ROOT / "site", internal=False
    )
    second = render_site(
        gather(registry, schemas, at=later, internal=False), REPO_ROOT / "site", internal=False
    )
    assert first.keys() == second.keys()
    timed = {path for path, content in first.items() if b"Status as of" in content}
    untimed = {path for path in first if path.endswith(".html")} - timed
    assert all(first[path] == second[path] for path in untimed)
    assert all(first[path] != second[path] for path in timed)
    data = gather(registry, schemas, at=FIXED_NOW, internal=False)
    open_incidents = {
        f"incidents/{i['id']}.html" for i in data.of("incident") if i.get("status") != "closed"
    }
    closed = {f"incidents/{i['id']}.html" for i in data.of("incident")} - open_incidents
    assert open_incidents and closed
    assert open_incidents <= timed and closed <= untimed
    assert {"index.html", "incidents/index.html", "governance.html", "releases/index.html"} <= timed
    assert {"problems/index.html", "rfcs/index.html", "search.html", "cis/index.html"} <= untimed


def test_the_members_build_says_so_on_every_page() -> None:
    registry = parse_registry(read_record_files(REPO_ROOT))
    data = gather(registry, load_schemas(REPO_ROOT), at=FIXED_NOW, internal=True)
    files = render_site(data, REPO_ROOT / "site", internal=True)
    pages = [content for path, content in files.items() if path.endswith(".html")]
    assert all(b"<strong>members' build: contains internal records</strong>" in p for p in pages)
    assert any(b"Status as of" not in p for p in pages)


def test_the_incident_list_shows_open_incidents_and_links_a_page_per_year(
    data: SiteData,
) -> None:
    files = render_site(data, REPO_ROOT / "site", internal=False)
    incidents = data.of("incident")
    years = sorted({int(i["reported_at"][:4]) for i in incidents})
    assert len(years) >= 2  # the examples span years
    index = files["incidents/index.html"].decode()
    for incident in incidents:
        row = f'<tr><td><a href="../incidents/{incident["id"]}.html">{incident["id"]}</a></td>'
        assert (row in index) == (incident["status"] != "closed"), incident["id"]
        year_page = files[f"incidents/{incident['reported_at'][:4]}.html"].decode()
        assert row in year_page
    for year in years:
        count = sum(1 for i in incidents if i["reported_at"].startswith(str(year)))
        plural = "" if count == 1 else "s"
        link = f'<li><a href="../incidents/{year}.html">{year}</a>'
        assert f"{link} ({count} incident{plural})</li>" in index
        page = files[f"incidents/{year}.html"].decode()
        assert page.count("<tr><td>") == count
        assert f"<h1>Incidents reported in {year}</h1>" in page
    # A year whose incidents were all settled long before does not change with the time.
    settled = [y for y in years if b"Status as of" not in files[f"incidents/{y}.html"]]
    assert settled and settled[0] < FIXED_NOW.year


def test_the_sla_chart_draws_open_and_recently_closed_incidents(data: SiteData) -> None:
    from datetime import timedelta

    from isg.render.pages import CHART_DAYS, charted_statuses
    from isg.times import parse_time

    drawn = [s.incident_id for s in charted_statuses(data)]
    since = FIXED_NOW - timedelta(days=CHART_DAYS)
    expected = []
    for incident in data.of("incident"):
        closed = parse_time((incident.get("milestones") or {}).get("closed"))
        if incident["status"] != "closed" or closed is None or closed >= since:
            expected.append(incident["id"])
    assert drawn == expected
    assert 0 < len(drawn) < len(data.of("incident"))  # the examples have old closed ones
    chart = render_site(data, REPO_ROOT / "site", internal=False)["sla.svg"].decode()
    assert f"SLA status of {len(drawn)} incidents as of" in chart


def test_links_are_relative_to_the_page_and_escape_every_part() -> None:
    env = make_environment(REPO_ROOT / "site")
    template = env.from_string(
        '{{ link("problem", id, text) }}|{{ links("ci", ids) }}|{{ links("ci", []) }}'
    )
    html = template.render(root="../", id='P&"<', text="<b>x</b>", ids=["a<b", "c"])
    assert html == (
        '<a href="../problems/P&amp;&#34;&lt;.html">&lt;b&gt;x&lt;/b&gt;</a>'
        '|<a href="../cis/a&lt;b.html">a&lt;b</a>, <a href="../cis/c.html">c</a>|none'
    )
    assert env.from_string('{{ link("rfc", "R-1") }}').render(root="") == (
        '<a href="rfcs/R-1.html">R-1</a>'
    )


# The loops the row helpers replaced (builder.incident_rows, named_rows), as they were in
# the templates: the helpers must give their bytes.
INCIDENT_ROWS_LOOP = (
    "{% for incident in incidents %}\n"
    '<tr><td>{{ link("incident", incident.id) }}</td><td>{{ incident.title }}</td>'
    '<td>{{ incident.reporting_state }}</td><td>{{ incident._priority or "" }}</td>'
    "<td>{{ incident.status }}</td><td>{{ incident._state|badge }}</td></tr>\n"
    "{% endfor %}\n"
)
NAMED_ROWS_LOOP = (
    "{% for r in rows %}<li>{{ link(kind, r.id) }} {{ r.title|default(r.name) }}</li>{% endfor %}"
)


def test_long_lists_are_made_with_the_bytes_of_the_template_loops_they_replaced() -> None:
    env = make_environment(REPO_ROOT / "site")
    hostile = "<script>\"&'</script>"
    incidents = [
        {"id": "INC-1", "title": hostile, "reporting_state": "F<R", "status": "open",
         "_priority": 2, "_state": "breached"},
        {"id": 'I&"<', "title": "", "reporting_state": "DE", "status": "closed",
         "_priority": None, "_state": "met"},
    ]  # fmt: skip
    loop = env.from_string(INCIDENT_ROWS_LOOP).render(root="../", incidents=incidents)
    made = env.from_string("{{ incident_rows(incidents) }}").render(root="../", incidents=incidents)
    assert made == loop
    assert "&lt;script&gt;&#34;&amp;&#39;&lt;/script&gt;" in made and "<script>" not in made
    rows = [{"id": "P-1", "title": hostile}, {"id": "c<i", "name": "A & B"}]
    for kind in ("problem", "ci"):
        loop = env.from_string(NAMED_ROWS_LOOP).render(root="", kind=kind, rows=rows)
        made = env.from_string("{{ named_rows(kind, rows) }}").render(root="", kind=kind, rows=rows)
        assert made == loop
    # A row without what the table shows fails as the template did: not an empty cell.
    with pytest.raises(UndefinedError, match="'title'"):
        env.from_string("{{ incident_rows(rows) }}").render(root="", rows=[{"id": "INC-2"}])
    with pytest.raises(UndefinedError, match="'name'"):
        env.from_string("{{ named_rows('ci', rows) }}").render(root="", rows=[{"id": "x"}])


def test_templates_see_the_globals_and_their_own_never_reach_the_environment() -> None:
    """Each template holds the globals as a plain dict (builder._Environment), which must
    keep what Jinja2's ChainMap gave: a template's own globals stay its own."""
    env = make_environment(REPO_ROOT / "site")
    own = env.from_string("{{ url('rfc', 'R-1') }} {{ extra }}", globals={"extra": "mine"})
    assert own.render() == "rfcs/R-1.html mine"
    assert "extra" not in env.globals
    with pytest.raises(UndefinedError):
        env.from_string("{{ extra }}").render()


@pytest.mark.parametrize("rel", ["../escape.html", "a/../../escape.html", "/tmp/escape.html"])
def test_no_file_is_written_outside_the_site(tmp_path: Path, rel: str) -> None:
    from isg.render.builder import SiteError, write_site

    with pytest.raises(SiteError, match="refusing to write outside the site"):
        write_site({"index.html": b"ok", rel: b"x"}, tmp_path / "out")
    assert not (tmp_path / "escape.html").exists()
    assert not (tmp_path / "out" / "index.html").exists()  # checked before anything is written


def test_a_new_page_is_whole_or_absent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    from isg.render import builder

    target = str(tmp_path / "page.html")
    builder._write_new(target, b"x" * 100_000)
    assert (tmp_path / "page.html").read_bytes() == b"x" * 100_000
    with pytest.raises(FileExistsError):  # never written through what is there
        builder._write_new(target, b"other")
    writes: list[int] = []

    def full_disk(handle: int, data: memoryview) -> int:
        if writes:
            raise OSError(errno.ENOSPC, "No space left on device")
        writes.append(len(data))
        return 10  # a short write first: the rest is written in a loop, then the disk fills

    monkeypatch.setattr(builder.os, "write", full_disk)
    with pytest.raises(OSError, match="No space"):
        builder._write_new(str(tmp_path / "half.html"), b"y" * 50)
    assert writes == [50]
    assert not (tmp_path / "half.html").exists()


def test_the_output_folder_is_listed_with_links_but_not_through_them(tmp_path: Path) -> None:
    from isg.render.builder import _walk_files

    out = tmp_path / "out"
    (out / "incidents" / "deep").mkdir(parents=True)
    (out / "index.html").write_text("i")
    (out / "incidents" / "INC-1.html").write_text("1")
    (out / "incidents" / "deep" / "x.txt").write_text("x")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "secret.txt").write_text("s")
    (out / "linked").symlink_to(tmp_path / "elsewhere")
    (out / "incidents" / "file-link.html").symlink_to(tmp_path / "elsewhere" / "secret.txt")
    assert sorted(_walk_files(out)) == [
        "incidents/INC-1.html",
        "incidents/deep/x.txt",
        "incidents/file-link.html",
        "index.html",
        "linked",
    ]


def test_record_pages_are_planned_from_the_records_alone(data: SiteData) -> None:
    """What `gather` gives `records_known` (builder.EarlyFiles) has the records only: the
    record pages planned from it equal those planned from the whole data, and reading an
    SLA state, report or fingerprint there fails loudly instead of showing nothing."""
    from isg.render.builder import SiteError
    from isg.render.pages import record_pages, status_pages

    early: list[SiteData] = []
    registry = parse_registry(read_record_files(REPO_ROOT))
    gather(
        registry, load_schemas(REPO_ROOT), at=FIXED_NOW, internal=False, records_known=early.append
    )
    assert len(early) == 1

    def planned(pages: list[Any]) -> list[tuple[str, str, str, bool, str]]:
        return [(p.path, p.template, p.title, p.timed, repr(p.context)) for p in pages]

    assert planned(record_pages(early[0])) == planned(record_pages(data))
    paths = {p.path for p in record_pages(data)} | {p.path for p in status_pages(data)}
    assert len(paths) == len(plan_pages(data)) and any(p.startswith("rfcs/") for p in paths)
    for asked in (
        lambda: early[0].sla.get("INC-2026-00001"),
        lambda: "x" in early[0].reports,
        lambda: len(early[0].fingerprints),
    ):
        with pytest.raises(SiteError, match="the SLA states are not known yet"):
            asked()
    with pytest.raises(SiteError):
        status_pages(early[0])


def test_the_pages_showing_an_incident_need_only_the_others_thin(data: SiteData) -> None:
    """What a rebuild plans (isg.render.rebuild): every other incident as `thin_incident`
    with a `Summary` for its status, the pages showing one incident are the full plan's."""
    from isg.render.pages import Summary, pages_showing, thin_incident

    every = {page.path: page for page in plan_pages(data)}
    incidents = data.records["incident"]
    for incident_id, incident in incidents.items():
        thin = {i: thin_incident(record) for i, record in incidents.items()}
        sla: dict[str, Any] = {i: Summary(s.priority, s.worst) for i, s in data.sla.items()}
        thin[incident_id], sla[incident_id] = incident, data.sla[incident_id]
        records = {**data.records, "incident": thin}
        slim = SiteData(at=data.at, records=records, sla=sla, reports=data.reports)
        planned = pages_showing(slim, [incident_id])
        paths = {page.path for page in planned}
        assert {"index.html", "incidents/index.html", f"incidents/{incident_id}.html"} <= paths
        assert {f"cis/{ci}.html" for ci in incident.get("affected_cis") or []} <= paths
        for page in planned:
            assert page == every[page.path], (incident_id, page.path)
    assert not set(thin_incident(incidents[incident_id])) - {
        "id", "title", "reporting_state", "status", "reported_at", "affected_cis", "milestones"
    }  # fmt: skip


def test_compiled_templates_are_kept_by_their_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second environment loads a template compiled by the first (Jinja2's bytecode
    cache, in its private per-user folder), and compiles it again once its source changed."""
    import os
    import tempfile

    from jinja2 import Environment

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    template = tmp_path / "site" / "templates" / "x.html.j2"
    template.parent.mkdir(parents=True)
    template.write_text("{{ a }}!")
    compiled: list[str] = []
    real = Environment.compile

    def counted(self: Environment, source: str, name: str | None = None, *rest: Any) -> Any:
        compiled.append(str(name))
        return real(self, source, name, *rest)

    monkeypatch.setattr(Environment, "compile", counted)
    assert make_environment(tmp_path / "site").get_template("x.html.j2").render(a="<b>") == (
        "&lt;b&gt;!"
    )
    assert make_environment(tmp_path / "site").get_template("x.html.j2").render(a=1) == "1!"
    assert compiled == ["x.html.j2"]
    template.write_text("{{ a }}?")
    assert make_environment(tmp_path / "site").get_template("x.html.j2").render(a=1) == "1?"
    assert compiled == ["x.html.j2", "x.html.j2"]
    folder = tmp_path / "tmp" / f"_jinja2-cache-{os.getuid()}"
    assert folder.stat().st_mode & 0o777 == 0o700
    assert len(list(folder.iterdir())) == 1  # one template, one file
