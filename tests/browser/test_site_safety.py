"""Public means public, payloads stay inert, and the same input builds the same bytes."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from conftest import edit_file
from isg.canonical import canonical_text
from isg.model import KIND_BY_DIRECTORY
from isg.safe_yaml import parse_document
from isg.schemas import load_schemas
from site_fixtures import build

SENTINEL_INTERNAL_FIELD = "SENTINEL-internal-notes-8c41"
SENTINEL_INTERNAL_RECORD = "SENTINEL-internal-record-5d0e"
SENTINEL_PERSONAL = "sentinel-personal-7f3a@example.org"
INCIDENT = "records/incidents/INC-2026-K0X2Z.yaml"  # public, in progress
INTERNAL = "records/incidents/INC-2026-7EVZM.yaml"  # visibility: internal
PAYLOAD = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'


def _set(root: Path, rel: str, **fields: object) -> None:
    """Set top-level fields of a record, written back canonically."""
    path = root / rel
    document = parse_document(path.read_bytes())
    kind = KIND_BY_DIRECTORY[rel.split("/")[1]]
    data = {**document.data, **fields}
    path.write_text(canonical_text(kind, data, load_schemas(root).for_kind(kind)))


def _plant_sentinels(root: Path) -> None:
    edit_file(
        root,
        INCIDENT,
        "visibility: public",
        f"visibility: public\ninternal_notes: {SENTINEL_INTERNAL_FIELD}",
    )
    edit_file(root, INTERNAL, "title: ", f"title: {SENTINEL_INTERNAL_RECORD} ")
    edit_file(
        root,
        "records/members/fr-delegate.yaml",
        "email: fr-delegate@example.org",
        f"email: {SENTINEL_PERSONAL}",
    )
    edit_file(root, INCIDENT, "channel: ", "reported_by: fr-caseworker-lead\nchannel: ")


def _grep(site: Path, needle: str) -> list[str]:
    return sorted(
        str(p.relative_to(site))
        for p in site.rglob("*")
        if p.is_file() and needle.encode() in p.read_bytes()
    )


def test_internal_and_personal_data_never_reach_the_public_site(
    hostile_registry: Path, tmp_path: Path
) -> None:
    _plant_sentinels(hostile_registry)
    site = build(hostile_registry, tmp_path / "public")
    for sentinel in (
        SENTINEL_INTERNAL_FIELD,
        SENTINEL_INTERNAL_RECORD,
        SENTINEL_PERSONAL,
        "INC-2026-7EVZM",
        "reported_by",
    ):
        assert _grep(site, sentinel) == [], sentinel
    members = build(hostile_registry, tmp_path / "members", internal=True)
    assert "incidents/INC-2026-7EVZM.html" in _grep(members, SENTINEL_INTERNAL_RECORD)
    assert "incidents/INC-2026-K0X2Z.html" in _grep(members, SENTINEL_INTERNAL_FIELD)


def test_same_input_same_bytes_and_no_links(hostile_registry: Path, tmp_path: Path) -> None:
    first = build(hostile_registry, tmp_path / "a")
    second = build(hostile_registry, tmp_path / "b")
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(second) for p in second.rglob("*") if p.is_file())
    assert all((first / f).read_bytes() == (second / f).read_bytes() for f in files)
    assert not any(p.is_symlink() for p in first.rglob("*"))


def test_every_page_has_a_csp_its_as_of_time_and_relative_links_only(
    hostile_registry: Path, tmp_path: Path
) -> None:
    site = build(hostile_registry, tmp_path / "site")
    for page in site.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert '<meta http-equiv="Content-Security-Policy" content="default-src \'none\';' in text
        if "Status as of" in text:  # pages that show a state at the build's time
            assert 'Status as of <time datetime="2026-11-27T12:00:00+00:00">' in text
        assert 'href="/' not in text and 'src="/' not in text and "http://" not in text
        assert "<script>" not in text  # scripts only from files (CSP: script-src 'self')


def test_feeds_and_open_data_are_well_formed(hostile_registry: Path, tmp_path: Path) -> None:
    site = build(hostile_registry, tmp_path / "site")
    feed = ET.parse(site / "feed.atom").getroot()
    assert feed.tag == "{http://www.w3.org/2005/Atom}feed"
    assert len(feed.findall("{http://www.w3.org/2005/Atom}entry")) == 20
    data = json.loads((site / "data/records.json").read_text())
    assert data["as_of"] == "2026-11-27T12:00:00+00:00"
    assert "INC-2026-7EVZM" not in data["records"]["incident"]
    assert "email" not in json.dumps(data["records"]["member"])
    ics = (site / "releases.ics").read_bytes().decode()
    assert ics.startswith("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n")
    assert ics.count("BEGIN:VEVENT") == 4
    assert "DTSTART;VALUE=DATE:20270420" in ics


def test_script_payloads_in_records_stay_inert(
    browser: Any, hostile_registry: Path, tmp_path: Path
) -> None:
    _set(
        hostile_registry,
        INCIDENT,
        title=PAYLOAD,
        description=f"[click me](javascript:window.__pwned=3) {PAYLOAD}\n",
    )
    knowledge = next((hostile_registry / "records/knowledge").glob("*.yaml"))
    _set(
        hostile_registry,
        knowledge.relative_to(hostile_registry).as_posix(),
        body="[docs](javascript:alert(1)) <iframe src=x></iframe> [ok](https://example.org)\n",
    )
    site = build(hostile_registry, tmp_path / "site")
    assert _grep(site, 'href="javascript') == []
    assert _grep(site, "<script>window") == []
    page = browser.new_page()
    for rel in [
        "incidents/INC-2026-K0X2Z.html",
        "incidents/index.html",
        "incidents/2026.html",
        "index.html",
        f"knowledge/{knowledge.stem}.html",
        "search.html",
    ]:
        page.goto((site / rel).as_uri())
        if rel == "search.html":
            page.fill("#q", "pwned")
        for link in page.locator("main a").all()[:50]:
            href = link.get_attribute("href") or ""
            assert not href.lower().startswith("javascript"), href
        assert page.evaluate("window.__pwned") is None, rel
    page.goto((site / "incidents/INC-2026-K0X2Z.html").as_uri())
    assert "<script>window.__pwned = 1</script>" in page.inner_text("h1")
