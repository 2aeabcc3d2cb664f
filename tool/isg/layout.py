"""Where things are in a registry: its records, its schemas and isg's cache.

Light on purpose (no YAML, no click): `isg site build` needs the root and these folders
before it imports the rest of isg, to start git's listing and the look at the site early
(render/site_look.py, git_lists.py).
"""

from __future__ import annotations

from pathlib import Path

from isg.errors import RegistryError

RECORDS_DIR = "records"
SCHEMAS_DIR = "schemas"
CACHE_DIR = ".isg/cache"  # caches and stores, never committed (record_cache writes its .gitignore)


def find_root(start: Path) -> Path:
    """The nearest folder at or above `start` that holds `records/` and `schemas/`."""
    for candidate in (start, *start.parents):
        if (candidate / RECORDS_DIR).is_dir() and (candidate / SCHEMAS_DIR).is_dir():
            return candidate
    raise RegistryError(
        f"no registry found at or above {start} (a folder with records/ and schemas/);"
        " use --repo DIR"
    )
