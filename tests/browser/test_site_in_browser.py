"""The built site in headless Chromium: every page loads cleanly, every internal link works,
search finds a known error by a word of its body, and accessibility has no serious issue."""

from __future__ import annotations

from typing import Any
from urllib.parse import urljoin, urlparse

import pytest

MAIN_PAGES = [
    "index.html",
    "reports/sla-2026.html",
    "incidents/index.html",
    "incidents/2025.html",
    "rfcs/index.html",
    "releases/index.html",
    "governance.html",
    "service-levels.html",
    "search.html",
    "local-changes.html",
    "known-errors/index.html",
]


def _watch(page: Any) -> list[str]:
    problems: list[str] = []
    page.on(
        "console",
        lambda m: (
            problems.append(f"console {m.type}: {m.text}")
            if m.type in ("error", "warning")
            else None
        ),
    )
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    # A request the test's own next navigation cancels (the favicon, say) is not a site fault;
    # anything else that fails is, and so is any HTTP error.
    page.on(
        "requestfailed",
        lambda r: (
            problems.append(f"failed request: {r.url} ({r.failure})")
            if r.failure != "net::ERR_ABORTED"
            else None
        ),
    )
    page.on(
        "response",
        lambda r: problems.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None,
    )
    return problems


def test_every_page_loads_cleanly_and_every_internal_link_works(
    browser: Any, served_site: str
) -> None:
    page = browser.new_page()
    problems = _watch(page)
    seen: set[str] = set()
    queue = [served_site + "index.html"]
    while queue:
        address = queue.pop()
        if address in seen:
            continue
        seen.add(address)
        if not address.endswith(".html"):  # feeds, data, pictures: fetched, not displayed
            assert page.request.get(address).ok, address
            continue
        response = page.goto(address)
        assert response is not None and response.ok, address
        for href in page.eval_on_selector_all(
            "a[href]", "els => els.map(e => e.getAttribute('href'))"
        ):
            target = urljoin(address, href).split("#", 1)[0]
            if urlparse(target).netloc == urlparse(served_site).netloc:
                assert target.startswith(served_site), f"{href} on {address} leaves the sub-path"
                queue.append(target)
    assert problems == []
    assert len([a for a in seen if a.endswith(".html")]) > 80


def test_search_finds_a_known_error_by_a_word_of_its_body(browser: Any, served_site: str) -> None:
    page = browser.new_page()
    problems = _watch(page)
    page.goto(served_site + "search.html")
    page.fill("#q", "consumer resume")  # from the known error's root cause, not its title
    results = page.locator("#results li").all_inner_texts()
    assert any(text.startswith("KE-") and "Gateway reconnect" in text for text in results)
    page.locator("#results a").first.click()
    assert "/known-errors/" in page.url
    assert problems == []


def test_rfc_filters_narrow_the_table(browser: Any, served_site: str) -> None:
    page = browser.new_page()
    page.goto(served_site + "rfcs/index.html")
    all_rows = page.locator("#rfc-table tbody tr:visible").count()
    page.select_option("select[name=type]", "emergency")
    assert page.locator("#rfc-table tbody tr:visible").count() == 1 < all_rows


@pytest.mark.parametrize("path", MAIN_PAGES)
def test_no_serious_accessibility_violations(
    browser: Any, served_site: str, axe_script: str, path: str
) -> None:
    context = browser.new_context(bypass_csp=True)  # to inject axe-core; the site keeps its CSP
    page = context.new_page()
    page.goto(served_site + path)
    page.add_script_tag(content=axe_script)
    result = page.evaluate("async () => await axe.run(document)")
    serious = [
        f"{v['id']}: {v['help']} ({len(v['nodes'])})"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    context.close()
    assert serious == []


def test_the_site_works_on_a_phone(browser: Any, served_site: str) -> None:
    page = browser.new_page(viewport={"width": 375, "height": 740})
    page.goto(served_site + "incidents/index.html")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, "the page scrolls sideways on a phone"
