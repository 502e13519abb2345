"""Repeated failed logins lock the client out of the web console's login form (the REST
API's failed-authentication throttle), in Chromium. A console of its own: the lock covers the
test's address."""

from __future__ import annotations

from typing import Any

from tests.browser.conftest import OWNER, OWNER_PASSWORD
from tests.browser.test_console_pages import new_page
from tests.e2e.fleet import Fleet


def test_repeated_failed_logins_lock_out(bare_console: Fleet, browser: Any) -> None:
    url = bare_console.console.url
    page = new_page(browser)
    statuses = []
    for _ in range(11):
        page.goto(url + "/login")
        page.fill("input[name=username]", "mallory")
        page.fill("input[name=password]", "guess guess guess")
        with page.expect_response(
            lambda r: r.url.endswith("/login") and r.request.method == "POST"
        ) as answer:
            page.click("button[type=submit]")
        statuses.append(answer.value.status)
    # Ten failures from one address within a minute lock it out.
    assert statuses == [401] * 10 + [429], statuses
    assert "too many failed authentication attempts" in page.inner_text("main")
    # The right password does not get in while the lock lasts.
    page.goto(url + "/login")
    page.fill("input[name=username]", OWNER)
    page.fill("input[name=password]", OWNER_PASSWORD)
    page.click("button[type=submit]")
    assert page.url.startswith(url + "/login") and "too many" in page.inner_text("main")
