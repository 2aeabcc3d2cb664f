"""An SVG overview of SLA health: one row per incident, one cell per milestone, coloured by
state, with the share of the target used. Deterministic: the same statuses give the same bytes.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from datetime import datetime
from html import escape

from isg.sla.incident import IncidentStatus

STATE_COLOURS = {
    "met": "#2e7d32",
    "running": "#1565c0",
    "at-risk": "#f9a825",
    "late-within-margin": "#ef6c00",
    "late-beyond-margin": "#c62828",
}
TEXT_ON = {"at-risk": "#000000"}  # contrast on amber
COLUMNS = (
    ("registration_confirmed", "registration"),
    ("initial_documentation", "initial doc."),
    ("ecab_meeting", "eCAB meeting"),
    ("analysis", "analysis"),
    ("solution", "solution"),
    ("knowledge_documented", "knowledge"),
)
LABEL_WIDTH, CELL_W, CELL_H, TOP, GAP = 250, 104, 22, 56, 2


def render_sla_svg(statuses: Sequence[IncidentStatus], at: datetime) -> str:
    """The chart as an SVG document (text, every label escaped)."""
    return "\n".join(sla_svg_lines(statuses, at)) + "\n"


def render_sla_svg_bytes(statuses: Sequence[IncidentStatus], at: datetime) -> bytes:
    """`render_sla_svg(...).encode()`, encoded a few thousand lines at a time: at 50,000
    incidents the chart is 74 MB, and its half a million lines held at once, then joined,
    then encoded, made the site build's memory peak."""
    out = io.BytesIO()
    batch: list[str] = []
    for line in sla_svg_lines(statuses, at):
        batch.append(line)
        if len(batch) == BATCH_LINES:
            out.write(("\n".join(batch) + "\n").encode())
            batch.clear()
    if batch:
        out.write(("\n".join(batch) + "\n").encode())
    return out.getvalue()


BATCH_LINES = 4096


def sla_svg_lines(statuses: Sequence[IncidentStatus], at: datetime) -> Iterator[str]:
    """The lines of the SVG document, one by one."""
    width = LABEL_WIDTH + CELL_W * len(COLUMNS) + 10
    legend_y = TOP + len(statuses) * CELL_H + 24
    height = legend_y + 30
    yield (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}"'
        f' viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12"'
        ' role="img" aria-labelledby="title">'
    )
    yield (
        f'<title id="title">SLA status of {len(statuses)} incidents as of'
        f" {escape(at.isoformat(timespec='minutes'))}</title>"
    )
    yield (
        f'<text x="0" y="18" font-size="15" font-weight="bold">SLA status as of'
        f" {escape(at.isoformat(timespec='minutes'))}</text>"
    )
    for column, (_, label) in enumerate(COLUMNS):
        x = LABEL_WIDTH + column * CELL_W + CELL_W // 2
        yield f'<text x="{x}" y="{TOP - 8}" text-anchor="middle">{escape(label)}</text>'
    for row, status in enumerate(statuses):
        y = TOP + row * CELL_H
        yield (
            f'<text x="0" y="{y + 15}">{escape(status.incident_id)} P{status.priority}'
            f" {escape(status.reporting_state)} {escape(status.status)}</text>"
        )
        by_id = {m.milestone: m for m in status.milestones}
        for column, (milestone_id, _) in enumerate(COLUMNS):
            x = LABEL_WIDTH + column * CELL_W
            m = by_id.get(milestone_id)
            if m is None:
                yield (
                    f'<rect x="{x}" y="{y}" width="{CELL_W - GAP}"'
                    f' height="{CELL_H - GAP}" fill="#eeeeee"/>'
                )
                continue
            used = m.elapsed / m.target_time if m.target_time else 0
            tip = (
                f"{status.incident_id} {m.milestone}: {m.state}; target {m.target},"
                f" deadline {m.deadline.isoformat(timespec='minutes')}"
            )
            yield (
                f'<g><title>{escape(tip)}</title><rect x="{x}" y="{y}" width="{CELL_W - GAP}"'
                f' height="{CELL_H - GAP}" fill="{STATE_COLOURS[m.state]}"'
                f' data-state="{m.state}"/><text x="{x + CELL_W // 2}" y="{y + 15}"'
                f' text-anchor="middle" fill="{TEXT_ON.get(m.state, "#ffffff")}">'
                f"{round(used * 100)} %</text></g>"
            )
    for index, (state, colour) in enumerate(STATE_COLOURS.items()):
        x = index * 150
        yield (
            f'<rect x="{x}" y="{legend_y}" width="14" height="14" fill="{colour}"/>'
            f'<text x="{x + 20}" y="{legend_y + 12}">{escape(state)}</text>'
        )
    yield "</svg>"
