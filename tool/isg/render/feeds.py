"""Machine-readable outputs: the Atom feed, the iCalendar release calendar, the JSON export and
the search index. JSON always comes from the JSON encoder, XML text is escaped, never templated.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

SITE_ID = "urn:isupport-governance:site"


def escape(text: str, *, quote: bool = False) -> str:
    """`text` as XML character data (`quote`: as an attribute value in double quotes): what
    `xml.sax.saxutils.escape` gives, without importing it (it imports urllib.request, http
    and ssl: ~12 ms of every build's start)."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace('"', "&quot;") if quote else text


def _markup_safe(text: str) -> str:
    """JSON text with <, > and & escaped, so no consumer can mistake it for markup."""
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def export_json(records: Mapping[str, Mapping[str, Any]], at: datetime) -> bytes:
    """Every published record, by kind then ID (open data): one JSON document, laid out one
    record per line with keys sorted, markup-safe (`<`, `>`, `&` escaped).

    One record a line lets json's C encoder do the work (the indented layout went through
    its Python encoder: 8-10 s for 50,000 incidents, against ~1 s), lets a reader `grep` or
    stream it (`jq .` pretty-prints it), and lets a rebuild replace one record's line
    (`patch_export`). Written a thousand records at a time."""
    out = io.BytesIO()
    out.write(('{"as_of": ' + json.dumps(at.isoformat()) + ', "records": {').encode())
    for number, kind in enumerate(sorted(records)):
        of_kind = records[kind]
        out.write(((",\n" if number else "\n") + json.dumps(kind) + ": {").encode())
        batch: list[str] = []
        for index, record_id in enumerate(sorted(of_kind)):
            batch.append(
                ("\n" if index == 0 else ",\n") + _export_text(record_id, of_kind[record_id])
            )
            if len(batch) == 1000:
                out.write(_markup_safe("".join(batch)).encode())
                batch.clear()
        out.write(_markup_safe("".join(batch)).encode())
        out.write(b"\n}" if of_kind else b"}")
    out.write(b"\n}}\n" if records else b"}}\n")
    return out.getvalue()


def _export_text(record_id: str, record: Mapping[str, Any]) -> str:
    """A record's line of the open data before it is made markup-safe (a character-wise
    replacement: the same made line by line or a batch at a time)."""
    key = json.dumps(record_id, ensure_ascii=False)
    return key + ": " + json.dumps(record, sort_keys=True, ensure_ascii=False)


def patch_export(
    old: bytes, kind: str, records: Mapping[str, Mapping[str, Any]], end: int | None = None
) -> Spliced | None:
    """`export_json`'s bytes `old` with the line of each of `records` (of `kind`, by ID) made
    from its new data: what `export_json` makes of the records `old` was made from with
    those replaced. None when one of them has no line in `old`. `end`: where the kind's
    section ends in `old` (its closing brace's line), if known (`Spliced.section_end` of the
    last patch): looking for it took ~0.05 s of a 48 MB export; a wrong one gives None."""
    head = ("\n" + json.dumps(kind) + ": {\n").encode()
    start = old.find(head)
    if start < 0:
        return None
    first = start + len(head) - 1  # the newline the section's first line begins after
    if end is None:
        end = old.find(b"\n}", first)
    elif not (first <= end and old.startswith(b"\n}", end)):
        return None
    if end < 0:
        return None
    lines = {
        _markup_safe(
            "\n" + json.dumps(record_id, ensure_ascii=False) + ": "
        ).encode(): _markup_safe(_export_text(record_id, record)).encode()
        for record_id, record in records.items()
    }
    return replace_lines(old, lines, first, end)


def search_index_js(entries: list[dict[str, str]]) -> bytes:
    """The search index as a script (a fetch of JSON fails when the site is opened from
    disk): one entry a line, so that a rebuild can replace an entry's line
    (`patch_search_index`)."""
    if not entries:
        return b"window.ISG_SEARCH_INDEX = [];\n"
    # Encoded in one call (one a line took ~0.3 s more at 57,000 entries), then a line begun
    # at each entry: an entry is flat (strings only) and a quote in a string is escaped, so
    # `}, {"id": ` is only ever the end of one entry and the start of the next.
    text = json.dumps(entries, sort_keys=True, ensure_ascii=True)[1:-1]
    lines = text.replace('}, {"id": ', '},\n{"id": ')
    return f"window.ISG_SEARCH_INDEX = [\n{_markup_safe(lines)}\n];\n".encode()


def patch_search_index(old: bytes, entries: list[dict[str, str]]) -> Spliced | None:
    """`search_index_js`'s bytes `old` with the line of each of `entries` (one of a record
    already in it: the same kind and ID) made anew; None when one has no line in `old`."""
    lines = {
        _markup_safe(
            "\n" + json.dumps({"id": entry["id"], "kind": entry["kind"]})[:-1] + ", "
        ).encode(): _markup_safe(json.dumps(entry, sort_keys=True, ensure_ascii=True)).encode()
        for entry in entries
    }
    return replace_lines(old, lines, 0, len(old))


@dataclass(frozen=True)
class Spliced:
    """Bytes made of an old file's with some lines replaced, as pieces: slices of the old
    bytes (views, not copies) and the new lines. Joining 48 MB took ~0.05 s: a writer
    writes the pieces one after the other (`joined` for whoever needs bytes)."""

    pieces: list[bytes | memoryview]
    changed: bool  # whether any line replaced differs
    section_end: int  # where the section the lines were in ends now (`replace_lines`'s end)

    def joined(self) -> bytes:
        return b"".join(self.pieces)


def replace_lines(
    old: bytes, lines: Mapping[bytes, bytes], start: int = 0, end: int | None = None
) -> Spliced | None:
    """`old` with the line that begins, between `start` and `end`, with each key of `lines`
    (a newline and what is unique to the line) replaced by its value, the comma ending it
    kept. JSON text holds no raw newline, so a line is found only where it begins."""
    end = len(old) if end is None else end
    found: list[tuple[int, int, bytes]] = []
    for needle, line in lines.items():
        at = old.find(needle, start, end)
        if at < 0:
            return None
        first = at + 1
        last = old.find(b"\n", first)
        last = len(old) if last < 0 else last
        comma = b"," if old[first:last].endswith(b",") else b""
        found.append((first, last, line + comma))
    view = memoryview(old)  # slices of a view are not copies
    pieces: list[bytes | memoryview] = []
    done = 0
    changed = False
    for first, last, line in sorted(found):
        pieces += [view[done:first], line]
        changed = changed or view[first:last] != line
        end += len(line) - (last - first)
        done = last
    pieces.append(view[done:])
    return Spliced(pieces, changed, end)


def atom_feed(events: list[dict[str, Any]], at: datetime) -> bytes:
    """An Atom feed of the recent changes (relative links resolve against the feed's URL)."""
    entries = []
    for event in events:
        when = event["at"].astimezone(UTC).isoformat()
        entries.append(
            "  <entry>\n"
            f"    <id>{SITE_ID}:{escape(event['kind'])}:{escape(event['id'])}:{escape(when)}</id>\n"
            f"    <title>{escape(event['what'])}: {escape(event['id'])}"
            f" {escape(event['title'])}</title>\n"
            f"    <updated>{escape(when)}</updated>\n"
            f'    <link href="{escape(event["url"], quote=True)}"/>\n'
            "  </entry>\n"
        )
    text = (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<feed xmlns="http://www.w3.org/2005/Atom">\n'
        f"  <id>{SITE_ID}</id>\n"
        "  <title>iSupport maintenance: recent changes</title>\n"
        f"  <updated>{at.astimezone(UTC).isoformat()}</updated>\n"
        "  <author><name>iSupport Governance</name></author>\n" + "".join(entries) + "</feed>\n"
    )
    return text.encode()


def _ics_text(value: str) -> str:
    return re.sub(r"([,;\\])", r"\\\1", value).replace("\n", "\\n")


def release_calendar(releases: Sequence[Mapping[str, Any]], at: datetime) -> bytes:
    """An iCalendar feed with one all-day event per release (release or planned date)."""
    stamp = at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//iSupport Governance//isg//EN",
        "CALSCALE:GREGORIAN",
        "X-WR-CALNAME:iSupport releases",
    ]
    for release in releases:
        day = str(release.get("released_on") or release.get("planned_date", ""))
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", day):
            continue
        state = "released" if release.get("released_on") else release.get("status", "planned")
        lines += [
            "BEGIN:VEVENT",
            f"UID:release-{_ics_text(str(release['id']))}@isupport-governance",
            f"DTSTAMP:{stamp}",
            f"DTSTART;VALUE=DATE:{day.replace('-', '')}",
            f"SUMMARY:{_ics_text(str(release.get('title', release['id'])))} ({state})",
            f"DESCRIPTION:{_ics_text(str(release.get('type', '')))} release",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return ("\r\n".join(lines) + "\r\n").encode()
