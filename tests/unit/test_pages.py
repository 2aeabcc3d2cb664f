"""The site's pages as planned from public data (isg.render.pages)."""

from __future__ import annotations

from typing import Any

import pytest

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
