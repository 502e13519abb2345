"""The web console in a real browser (issue 11): Chromium, driven by Playwright, against a real
`patchwarden server` whose three hosts were reported by real agents (tests/e2e/fleet.py).

Each page is screenshotted at 1280×800 into test-artifacts/browser/ and checked not to scroll
sideways. The lock-out after failed logins has its own console (test_login_lockout.py): it
locks the test's address out of that console's login form.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.browser.conftest import (
    OWNER,
    OWNER_PASSWORD,
    SUB,
    SUB_PASSWORD,
    VIEWPORT,
)
from tests.e2e.fleet import Fleet

PAGES = ("/", "/vulnerabilities", "/hosts", "/catalogue", "/settings", "/users", "/audit")


def new_page(browser: Any) -> Any:
    """A fresh browser context (no cookies) and page at 1280×800."""
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    # A page policy violation, a missing file or a script error shows up here (refused
    # logins and forms answer 401 / 403 / 422 on purpose: those are not counted).
    expected = re.compile(r"status of (401|403|422|429)")

    def console(m: Any) -> None:
        if m.type == "error" and not expected.search(m.text):
            errors.append(m.text)

    page.on("console", console)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.console_errors = errors
    return page


def log_in(page: Any, url: str, name: str, password: str) -> None:
    """Sign in through the login form."""
    page.goto(url + "/login")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(url + "/")


def shoot(page: Any, artifacts: Path, name: str) -> None:
    """Screenshot the page and check it fits 1280 px wide (no sideways scrolling)."""
    page.screenshot(path=str(artifacts / f"{name}.png"), full_page=True)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= VIEWPORT["width"], f"{name}: the page is {width} px wide"


def record_ids(page: Any) -> list[int]:
    """The record ids the list links to, in order."""
    hrefs = page.eval_on_selector_all(
        "table.list a[href^='/records/']", "els => els.map(e => e.getAttribute('href'))"
    )
    return [int(h.rsplit("/", 1)[1]) for h in hrefs]


def test_login_form_session_and_every_page(
    console_fleet: Fleet, browser: Any, artifacts: Path
) -> None:
    url = console_fleet.console.url
    page = new_page(browser)
    # Not signed in: every page sends to the login form.
    page.goto(url + "/vulnerabilities?exploitable=true")
    assert page.url.startswith(url + "/login")
    assert page.locator("input[name=username]").count() == 1
    assert page.locator("input[name=password]").get_attribute("type") == "password"
    assert page.locator("label[for=username]").count() == 1
    shoot(page, artifacts, "login")
    # A wrong password: the form again, saying so, nobody signed in.
    page.fill("input[name=username]", OWNER)
    page.fill("input[name=password]", "not the password")
    page.click("button[type=submit]")
    assert "wrong user name or password" in page.inner_text("main")
    # The keyboard alone signs in, and lands on the page asked for first.
    page.fill("input[name=password]", "")
    page.focus("input[name=username]")
    page.keyboard.press("Control+A")
    page.keyboard.type(OWNER)
    page.keyboard.press("Tab")
    page.keyboard.type(OWNER_PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/vulnerabilities\?exploitable=true$"))
    cookie = next(c for c in page.context.cookies() if c["name"] == "pw_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    for path in PAGES:
        response = page.goto(url + path)
        assert response.status == 200, path
        csp = response.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
        shoot(page, artifacts, "overview" if path == "/" else path.strip("/"))
    # A host's page, from the hosts list.
    page.goto(url + "/hosts")
    page.click("table.list a >> text=alma-9")
    page.wait_for_url(re.compile(r".*/hosts/[0-9a-f-]{36}$"))
    host = page.inner_text("main")
    for part in ("AlmaLinux", "Kernel", "Reboot needed", "Boot default pinned", "Records"):
        assert part in host, part
    shoot(page, artifacts, "host")
    # The catalogue's search.
    page.goto(url + "/catalogue")
    page.fill("#q", "CVE-2021-3156")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/catalogue\?q=CVE-2021-3156$"))
    shoot(page, artifacts, "catalogue-search")
    page.goto(url + "/")
    overview = page.inner_text("main")
    assert "Open records by type and urgency" in overview
    assert "exploitable" in overview and "hosts online" in overview
    assert page.locator("svg.chart polyline").count() == 1  # the trend, drawn by the server
    # Logging out ends the session: the cookie no longer opens a page.
    page.click("text=Log out")
    page.wait_for_url(url + "/login")
    page.goto(url + "/hosts")
    assert page.url.startswith(url + "/login")
    assert page.console_errors == []


def test_filters_tabs_and_only_exploitable(
    console_fleet: Fleet, browser: Any, artifacts: Path
) -> None:
    url = console_fleet.console.url
    page = new_page(browser)
    log_in(page, url, OWNER, OWNER_PASSWORD)
    page.goto(url + "/vulnerabilities?per_page=500")
    everything = record_ids(page)
    api_open = console_fleet.console.records()
    assert sorted(everything) == sorted(r["id"] for r in api_open)
    # Most urgent first, as the API sorts them.
    assert everything == [r["id"] for r in api_open][: len(everything)]
    # The switch: only the records the API calls exploitable, and the URL says so.
    page.goto(url + "/vulnerabilities")
    page.check("#only-exploitable")
    page.wait_for_url(re.compile(r".*exploitable=true.*"))
    page.wait_for_selector("#only-exploitable:checked")
    exploitable = console_fleet.console.records(exploitable="true")
    assert 0 < len(exploitable) < len(api_open)
    shown = record_ids(page)
    assert sorted(shown) == sorted(r["id"] for r in exploitable)[: len(shown)]
    for row in page.locator("table.list tbody tr").all():
        assert "Exploitable" in row.inner_text()
    shoot(page, artifacts, "vulnerabilities-exploitable")
    # A severity filter, validated like the API's.
    page.goto(url + "/vulnerabilities?severity=high&per_page=500")
    high = console_fleet.console.records(severity="high")
    assert sorted(record_ids(page)) == sorted(r["id"] for r in high)
    bad = page.goto(url + "/vulnerabilities?severity=hgih")
    assert bad.status == 422 and "invalid severity 'hgih'" in page.inner_text("main")
    # One tab per type.
    page.goto(url + "/vulnerabilities")
    tabs = page.locator("nav.tabs a").all_inner_texts()
    for label in ("Linux software", "Windows system", "Web-CMS", "Application", "Emergency"):
        assert label in tabs
    page.click("nav.tabs >> text=Windows system")
    page.wait_for_url(re.compile(r".*type=windows.*"))
    assert record_ids(page) == []
    # Grouped by advisory, with affected-host counts.
    page.goto(url + "/vulnerabilities?view=advisories")
    first_row = page.locator("table.list tbody tr").first.inner_text()
    assert re.search(r"\t\d+\t\d+", first_row), first_row
    shoot(page, artifacts, "vulnerabilities-grouped")
    assert page.console_errors == []


def test_ignore_with_reason_leaves_the_list_and_enters_the_audit_log(
    console_fleet: Fleet, browser: Any, artifacts: Path
) -> None:
    url = console_fleet.console.url
    page = new_page(browser)
    log_in(page, url, OWNER, OWNER_PASSWORD)
    page.goto(url + "/vulnerabilities")
    target = record_ids(page)[0]
    page.click(f"a[href='/records/{target}']")
    page.wait_for_url(url + f"/records/{target}")
    for name in ("Fix", "Verify", "Restart", "Rollback", "Ignore", "Unignore"):
        assert page.locator("button", has_text=re.compile(f"^{name}$")).count() == 1, name
    shoot(page, artifacts, "record")
    page.fill("#reason-ignore", "accepted risk: box is isolated")
    page.click("button#action-ignore")
    page.wait_for_url(url + f"/records/{target}")
    assert "ignore: 1 done" in page.inner_text("main")
    assert console_fleet.console.record(target)["status"] == "ignored"
    page.goto(url + "/vulnerabilities?per_page=500")
    assert target not in record_ids(page)
    page.goto(url + f"/audit?actor={OWNER}")
    line = page.locator("table.list tbody tr", has_text="accepted risk: box is isolated")
    assert line.count() == 1
    assert f"/records/{target}" in line.locator("a").first.get_attribute("href")
    assert "ignored" in line.inner_text()
    shoot(page, artifacts, "audit-after-ignore")


def test_batch_verify(console_fleet: Fleet, browser: Any, artifacts: Path) -> None:
    url = console_fleet.console.url
    page = new_page(browser)
    log_in(page, url, OWNER, OWNER_PASSWORD)
    page.goto(url + "/vulnerabilities?host=alma-9")
    chosen = record_ids(page)[:3]
    assert len(chosen) == 3
    for rid in chosen:
        page.check(f"input[name=record_id][value='{rid}']")
    page.click("button[name=action][value=verify]")
    page.wait_for_url(re.compile(r".*/vulnerabilities\?host=alma-9$"))
    assert "verify: 3 done" in page.inner_text("main")
    for rid in chosen:
        assert console_fleet.console.record(rid)["status"] == "verifying"
    shoot(page, artifacts, "vulnerabilities-after-batch-verify")


def test_sub_user_without_fix_sees_why_and_a_forged_post_is_refused(
    console_fleet: Fleet, browser: Any, artifacts: Path
) -> None:
    url = console_fleet.console.url
    page = new_page(browser)
    log_in(page, url, SUB, SUB_PASSWORD)
    target = console_fleet.console.records()[0]["id"]
    before = console_fleet.console.record(target)
    page.goto(url + f"/records/{target}")
    fix = page.locator("button#action-fix")
    assert fix.inner_text() == "Fix" and fix.is_disabled()
    why = fix.get_attribute("title")
    assert "fix needs the" in why and "(you are viewer)" in why
    assert page.locator("#why-fix").inner_text() == why  # shown, not only on hover
    assert page.locator("button#action-verify").is_enabled()  # granted on top of viewer
    shoot(page, artifacts, "record-sub-user")
    # The page's own CSRF token does not make a forged fix pass: the service refuses it.
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    forged = page.request.post(
        url + f"/records/{target}/actions",
        form={"action": "fix", "reason": "", "csrf_token": token},
        max_redirects=0,
    )
    assert forged.status == 403, forged.text()
    assert "fix needs the" in forged.text()
    after = console_fleet.console.record(target)
    assert (after["status"], after["history"]) == (before["status"], before["history"])
    page.goto(url + "/vulnerabilities")
    assert page.locator("button[name=action][value=fix]").is_disabled()
    assert "fix needs the fix permission" in page.locator("#why-batch-fix").inner_text()
    assert page.locator("button[name=action][value=verify]").is_enabled()
    page.goto(url + "/users")
    assert page.locator("form[action='/users']").count() == 0  # no user management


def test_posts_without_a_valid_csrf_token_are_refused(console_fleet: Fleet, browser: Any) -> None:
    url = console_fleet.console.url
    page = new_page(browser)
    log_in(page, url, OWNER, OWNER_PASSWORD)
    target = console_fleet.console.records()[0]["id"]
    before = console_fleet.console.record(target)["status"]
    for form in (
        {"action": "ignore", "reason": "no token"},
        {"action": "ignore", "reason": "wrong token", "csrf_token": "x" * 43},
    ):
        refused = page.request.post(url + f"/records/{target}/actions", form=form, max_redirects=0)
        assert refused.status == 403, refused.text()
        assert "CSRF token" in refused.text()
    refused = page.request.post(url + "/logout", form={}, max_redirects=0)
    assert refused.status == 403
    assert console_fleet.console.record(target)["status"] == before
