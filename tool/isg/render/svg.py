"""Small SVG pictures for pages: state badges and the release timeline. All text is escaped."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from functools import lru_cache
from html import escape
from typing import Any

from markupsafe import Markup

from isg.sla.chart import STATE_COLOURS, TEXT_ON
from isg.times import parse_date


@lru_cache(maxsize=64)  # a handful of states, drawn ~320,000 times at 50,000 incidents
def state_badge(state: str) -> Markup:
    """A coloured badge with the state's name, readable without colour."""
    colour = STATE_COLOURS.get(state, "#616161")
    width = 8 + 7 * len(state)
    text_colour = TEXT_ON.get(state, "#ffffff")
    return Markup(
        f'<svg class="badge" width="{width}" height="20" viewBox="0 0 {width} 20"'
        f' role="img" aria-label="{escape(state)}"><rect width="{width}" height="20" rx="4"'
        f' fill="{colour}"/><text x="{width // 2}" y="14" text-anchor="middle"'
        f' font-size="12" font-family="sans-serif" fill="{text_colour}">{escape(state)}'
        "</text></svg>"
    )


def release_timeline(releases: Sequence[Mapping[str, Any]], at: datetime) -> Markup:
    """Releases on a time line: regular ones above, secondary ones below, today marked."""
    dated = [
        (parse_date(r.get("released_on")) or parse_date(r.get("planned_date")), r) for r in releases
    ]
    points = [(d, r) for d, r in dated if d is not None]
    if not points:
        return Markup("")
    first = min(min(d for d, _ in points), at.date()).replace(month=1, day=1)
    last = max(max(d for d, _ in points), at.date()).replace(month=12, day=31)
    width, height, left, right = 860, 150, 20, 20

    def x(day: date) -> float:
        return left + (width - left - right) * (day - first).days / max((last - first).days, 1)

    parts = [
        f'<svg class="timeline" width="100%" viewBox="0 0 {width} {height}" role="img"'
        ' aria-labelledby="timeline-title"><title id="timeline-title">Release calendar</title>',
        f'<line x1="{left}" y1="75" x2="{width - right}" y2="75" stroke="#424242"/>',
    ]
    for year in range(first.year, last.year + 1):
        xs = x(date(year, 1, 1))
        parts.append(
            f'<line x1="{xs:.1f}" y1="68" x2="{xs:.1f}" y2="82" stroke="#424242"/>'
            f'<text x="{xs + 4:.1f}" y="96" font-size="12">{year}</text>'
        )
    today = x(at.date())
    parts.append(
        f'<line x1="{today:.1f}" y1="20" x2="{today:.1f}" y2="130" stroke="#c62828"'
        ' stroke-dasharray="4 3"/><text x="{0:.1f}" y="142" font-size="11"'
        ' fill="#c62828">today</text>'.replace("{0:.1f}", f"{today + 3:.1f}")
    )
    for day, release in sorted(points, key=lambda p: p[0]):
        regular = release.get("type") == "regular"
        y = 45 if regular else 105
        done = bool(release.get("released_on"))
        fill = "#1565c0" if done else "#ffffff"
        label = escape(str(release["id"]))
        parts.append(
            f"<g><title>{label}: {escape(str(release.get('title', '')))}"
            f" ({escape(day.isoformat())})</title>"
            f'<line x1="{x(day):.1f}" y1="{y}" x2="{x(day):.1f}" y2="75" stroke="#90a4ae"/>'
            f'<circle cx="{x(day):.1f}" cy="{y}" r="6" fill="{fill}" stroke="#1565c0"'
            ' stroke-width="2"/>'
            f'<text x="{x(day) + 9:.1f}" y="{y + 4}" font-size="12">{label}</text></g>'
        )
    parts.append(
        '<text x="20" y="14" font-size="11">regular releases (above), secondary'
        " (below); filled = released</text></svg>"
    )
    return Markup("".join(parts))
