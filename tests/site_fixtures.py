"""Site fixtures (a plugin of tests/conftest.py): a built site served over HTTP under a sub-path,
and headless Chromium to look at it."""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import FIXED_NOW, REPO_ROOT
from isg.records import parse_registry, read_record_files
from isg.render.builder import gather, render_site, write_site
from isg.schemas import load_schemas

CHROMIUM = os.environ.get("ISG_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SUB_PATH = "isupport-governance"  # GitHub Pages project sites live under /<repo>/


def missing(what: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} is required under CI=true (.ci/run installs it)")
    pytest.skip(f"{what} not installed")


def build(root: Path, out: Path, *, internal: bool = False) -> Path:
    registry = parse_registry(read_record_files(root))
    data = gather(registry, load_schemas(root), at=FIXED_NOW, internal=internal)
    write_site(render_site(data, REPO_ROOT / "site", internal=internal), out)
    return out


@pytest.fixture(scope="session")
def served_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The embedded registry's site at http://127.0.0.1:PORT/isupport-governance/."""
    top = tmp_path_factory.mktemp("www")
    build(REPO_ROOT, top / SUB_PATH)
    handler = functools.partial(_QuietHandler, directory=str(top))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/{SUB_PATH}/"
    server.shutdown()
    server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("playwright")
    if not Path(CHROMIUM).exists():
        missing(f"Chromium at {CHROMIUM}")
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture(scope="session")
def axe_script() -> str:
    path = REPO_ROOT / "node_modules" / "axe-core" / "axe.min.js"
    if not path.is_file():
        missing("the npm package axe-core")
    return path.read_text(encoding="utf-8")


@pytest.fixture
def hostile_registry(registry: Path) -> Path:
    """The registry with script payloads planted in titles, markdown and link fields."""
    shutil.copytree(REPO_ROOT / "site", registry / "site")
    return registry
