"""The SVG overview: well-formed, one row per incident, cells coloured by state, escaped."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import replace

import pytest

from conftest import FIXED_NOW, REPO_ROOT
from isg.records import parse_registry, read_record_files
from isg.schemas import load_schemas
from isg.sla.chart import COLUMNS, STATE_COLOURS, render_sla_svg
from isg.sla.run import evaluate_registry

SVG = "{http://www.w3.org/2000/svg}"
RUN = evaluate_registry(
    parse_registry(read_record_files(REPO_ROOT)), load_schemas(REPO_ROOT), now=FIXED_NOW
)


def test_one_cell_per_incident_and_milestone_coloured_by_state() -> None:
    root = ET.fromstring(render_sla_svg(RUN.statuses, FIXED_NOW))
    cells = [r for r in root.iter(f"{SVG}rect") if r.get("data-state")]
    expected = [m.state for s in RUN.statuses for m in s.milestones if m.milestone in dict(COLUMNS)]
    assert sorted(c.get("data-state") for c in cells) == sorted(expected)
    assert all(c.get("fill") == STATE_COLOURS[c.get("data-state", "")] for c in cells)
    assert root.find(f"{SVG}title").text == (  # type: ignore[union-attr]
        f"SLA status of {len(RUN.statuses)} incidents as of 2026-11-27T12:00+00:00"
    )


def test_labels_are_escaped() -> None:
    hostile = replace(RUN.statuses[0], reporting_state="<script>alert(1)</script>")
    text = render_sla_svg([hostile], FIXED_NOW)
    assert "<script>" not in text
    assert "&lt;script&gt;" in text
    ET.fromstring(text)


def test_rows_are_labelled_in_incident_order() -> None:
    root = ET.fromstring(render_sla_svg(RUN.statuses, FIXED_NOW))
    labels = [t.text for t in root.iter(f"{SVG}text") if (t.text or "").startswith("INC-")]
    assert labels[0] == "INC-2025-04AVC P4 NL closed"
    assert labels == sorted(labels)


@pytest.mark.parametrize("batch", [1, 7, 4096, "all"])
def test_the_site_s_bytes_are_the_chart_encoded(
    batch: int | str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The site encodes the chart a batch of lines at a time; the bytes are the same at any
    batch size, including one that divides the number of lines exactly."""
    from isg.sla import chart
    from isg.sla.chart import render_sla_svg_bytes, sla_svg_lines

    statuses = RUN.statuses
    lines = len(list(sla_svg_lines(statuses, FIXED_NOW)))
    monkeypatch.setattr(chart, "BATCH_LINES", lines if batch == "all" else batch)
    assert render_sla_svg_bytes(statuses, FIXED_NOW) == render_sla_svg(statuses, FIXED_NOW).encode()
