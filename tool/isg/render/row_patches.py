"""A rebuild's change to the long lists of incidents: a retitled incident's row replaced in
its year's list and in its CIs' pages (5,000 and up to ~8,000 rows at 50,000 incidents).

Rendering those pages again needed every incident they list, as the last build kept it
(~9,000 rows read and decoded, their context made and keyed: ~0.3 s of a rebuild). A
change a rebuild takes is free text only (render/rebuild.py), and of free text those
lists show only the title: so the row of a retitled incident is found in each page by the
bytes the row helpers made of it before (`builder.incident_rows_html`, `named_rows_html`,
with the status the last build kept), and replaced by those they make of it now. A
description or notes edited change no list at all.

Only with the templates these formats were checked against (`SHIPPED`: their digest; a
test fails when one of them changes until it is checked again): a template of another
site could show a title elsewhere on the page. A row not found exactly once (a page
edited, a template that lists otherwise) means no patch: the rebuild is not taken.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from isg.render.builder import incident_rows_html, named_rows_html
from isg.render.pages import Status, incident_year, list_row, root_of, shown, url, year_url

# The templates a patched page is made of, and their digest as isg's site ships them.
TEMPLATES = (
    "base.html.j2",
    "_top.html.j2",
    "_footer.html.j2",
    "_macros.html.j2",
    "incidents_year.html.j2",
    "ci.html.j2",
)
SHIPPED = "cb0f5d36526ab63c745e95098801e31e0a1448bb"


def templates_digest(site_dir: Path) -> str:
    """The digest of `TEMPLATES` in `site_dir` (a missing one counts as empty)."""
    digest = hashlib.sha1(usedforsecurity=False)
    for name in TEMPLATES:
        try:
            content = (site_dir / "templates" / name).read_bytes()
        except OSError:
            content = b""
        digest.update(f"{name}\0{len(content)}\0".encode() + content)
    return digest.hexdigest()


def patchable(site_dir: Path) -> bool:
    """Whether the lists in `site_dir`'s templates are those the formats here were checked
    against."""
    return templates_digest(site_dir) == SHIPPED


Retitled = tuple[Mapping[str, Any], Mapping[str, Any], Status | None, Status | None]


def list_patches(
    out: Path, retitled: Sequence[Retitled], cis: Mapping[str, Any]
) -> dict[str, bytes] | None:
    """The new bytes of each list page in `out` a retitled incident is in, from `retitled`:
    (its thin data before, after, its status the last build kept, its status now); `cis`:
    the CIs that have a page. None if a row is not in its page exactly once."""
    pages: dict[str, bytes] = {}
    for before, after, kept, now in retitled:
        if before.get("title") == after.get("title"):
            continue
        year_page = year_url(incident_year(before))
        root = root_of(year_page)
        changes = [
            (
                year_page,
                incident_rows_html(root, [list_row(before, kept)]),
                incident_rows_html(root, [list_row(after, now)]),
            )
        ]
        for ci_id in dict.fromkeys(before.get("affected_cis") or []):
            if str(ci_id) in cis:
                ci_page = url("ci", str(ci_id))
                root = root_of(ci_page)
                changes.append(
                    (
                        ci_page,
                        named_rows_html(root, "incident", [shown(before, "id", "title")]),
                        named_rows_html(root, "incident", [shown(after, "id", "title")]),
                    )
                )
        for path, old, new in changes:
            content = pages.get(path)
            if content is None:
                try:
                    content = (out / path).read_bytes()
                except OSError:
                    return None
            old_bytes, new_bytes = old.encode(), new.encode()
            if content.count(old_bytes) != 1:
                return None
            pages[path] = content.replace(old_bytes, new_bytes)
    return pages
