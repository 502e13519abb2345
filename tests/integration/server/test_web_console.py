"""The web console over HTTP on SQLite and PostgreSQL (issue 11): login and its CSRF token,
the session cookie's flags, every page, the page policy, form posts refused without a valid
token, the vendored files. The browser tests (tests/browser) drive the same pages in Chromium.
"""

from __future__ import annotations

import re
import stat
from typing import Any

from fastapi.testclient import TestClient
from tests.integration.server.conftest import InProcessConsole, envelope, gz

from patchwarden.server.headers import PAGE_POLICY
from patchwarden.services.users import set_password

PASSWORD = "alice-correct-horse"
PAGES = ("/", "/vulnerabilities", "/hosts", "/catalogue", "/settings", "/users", "/audit")


def csrf(html: str) -> str:
    """The CSRF token of the first form of a page."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def log_in(client: TestClient, password: str = PASSWORD) -> Any:
    """Sign in as alice through the form; the answer to the form post."""
    token = csrf(client.get("/login").text)
    form = {"username": "alice", "password": password, "csrf_token": token, "next": "/hosts"}
    return client.post("/login", data=form, follow_redirects=False)


def test_login_sessions_pages_and_csrf(
    console: InProcessConsole, debian_inventory: dict[str, Any]
) -> None:
    client = console.client
    assert console.upload(gz(envelope(debian_inventory))).status_code == 200
    set_password(console.new_uow(), console.clock, "alice", PASSWORD)
    # Nothing but the login form before signing in.
    for path in PAGES:
        reply = client.get(path, follow_redirects=False)
        assert reply.status_code == 303 and reply.headers["location"].startswith("/login")
    form = client.get("/login")
    assert form.status_code == 200 and form.headers["content-security-policy"] == PAGE_POLICY
    for field in ('name="username"', 'name="password"', 'type="submit"'):
        assert field in form.text
    assert "<script>" not in form.text  # no inline script: the policy forbids it
    # The login form needs its CSRF token; a wrong password is a 401 and no session.
    no_token = client.post("/login", data={"username": "alice", "password": PASSWORD})
    assert no_token.status_code == 403 and "CSRF token" in no_token.text
    assert log_in(client, "wrong password!").status_code == 401
    assert client.get("/hosts", follow_redirects=False).status_code == 303
    signed = log_in(client)
    assert signed.status_code == 303 and signed.headers["location"] == "/hosts"
    cookie = signed.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Secure" not in cookie
    for path in PAGES:
        reply = client.get(path)
        assert reply.status_code == 200, (path, reply.text[:500])
        assert reply.headers["content-security-policy"] == PAGE_POLICY
    listing = client.get("/vulnerabilities", params={"type": "linux", "exploitable": "false"})
    ids = [int(x) for x in re.findall(r'href="/records/(\d+)"', listing.text)]
    api = console.api("GET", "/api/v1/records", params={"type": "linux"}).json()
    assert ids and ids == [r["id"] for r in api["items"]]
    assert client.get("/vulnerabilities", params={"bucket": "soon"}).status_code == 422
    record = client.get(f"/records/{ids[0]}")
    assert record.status_code == 200
    for name in ("Fix", "Verify", "Restart", "Rollback", "Ignore", "Unignore"):
        assert re.search(rf"<button [^>]*>{name}</button>", record.text), name
    # A post without the session's CSRF token is refused and stores nothing.
    before = console.counts()
    for form in ({"action": "ignore", "reason": "x"}, {"action": "ignore", "csrf_token": "bad"}):
        refused = client.post(f"/records/{ids[0]}/actions", data=form)
        assert refused.status_code == 403 and "CSRF token" in refused.text
    assert console.counts() == before
    token = csrf(record.text)
    done = client.post(
        f"/records/{ids[0]}/actions",
        data={"action": "ignore", "reason": "isolated", "csrf_token": token},
    )
    assert done.status_code == 200 and "ignore: 1 done" in done.text
    audit = client.get("/audit").text
    assert "isolated" in audit and f'href="/records/{ids[0]}"' in audit
    # Logging out ends the session; the old token is void.
    assert client.post("/logout", data={"csrf_token": token}).status_code == 200
    assert client.get("/hosts", follow_redirects=False).status_code == 303
    # A new password ends sessions opened with the old one.
    log_in(client)
    set_password(console.new_uow(), console.clock, "alice", "another long password")
    assert client.get("/hosts", follow_redirects=False).status_code == 303


def test_session_cookie_is_secure_over_tls_and_the_secret_is_private(
    console: InProcessConsole,
) -> None:
    set_password(console.new_uow(), console.clock, "alice", PASSWORD)
    app = console.client.app
    with TestClient(app, base_url="https://console.test") as tls:
        assert "Secure" in tls.get("/login").headers["set-cookie"]
        assert "Secure" in log_in(tls).headers["set-cookie"]
    secret = app.state.config.data_dir / "console-secret"  # type: ignore[attr-defined]
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600


def test_vendored_files(console: InProcessConsole) -> None:
    client = console.client
    htmx = client.get("/static/htmx-2.0.11.min.js")
    assert htmx.status_code == 200 and htmx.headers["content-type"].startswith("text/javascript")
    assert b"2.0.11" in htmx.content
    assert "Zero-Clause BSD" in client.get("/static/htmx-LICENSE.txt").text
    assert client.get("/static/console.css").headers["content-type"].startswith("text/css")
    for bad in ("/static/..%2Fweb.py", "/static/web.py", "/static/.hidden.css", "/static/x.css"):
        assert client.get(bad).status_code == 404, bad


def test_settings_plan_and_users_forms(
    console: InProcessConsole, debian_inventory: dict[str, Any]
) -> None:
    client = console.client
    assert console.upload(gz(envelope(debian_inventory))).status_code == 200
    set_password(console.new_uow(), console.clock, "alice", PASSWORD)
    log_in(client)
    page = client.get("/settings").text
    token = csrf(page)
    # The basic plan (R-P2): the record page's Fix button is disabled and says why.
    form = {"csrf_token": token, "plan": "basic", "scan_cycle_hours.linux": "12"}
    saved = client.post("/settings", data=form)
    assert saved.status_code == 200 and "settings saved" in saved.text
    settings = console.api("GET", "/api/v1/settings").json()
    assert settings["plan"] == "basic" and settings["scan_cycle_hours"]["linux"] == 12.0
    assert settings["scan_levels"] == ["critical", "high", "medium", "low"]  # not in the form
    record_id = console.api("GET", "/api/v1/records").json()["items"][0]["id"]
    record = client.get(f"/records/{record_id}").text
    fix = re.search(r'<button type="submit" id="action-fix" disabled title="([^"]+)"', record)
    assert fix and "basic plan has no one-click fix" in fix.group(1)
    listing = client.get("/vulnerabilities").text
    assert re.search(r'value="fix" disabled title="the basic plan has no one-click fix', listing)
    # A bad value comes back as a message naming it; nothing is stored.
    bad = client.post("/settings", data={"csrf_token": token, "retention_days": "0"})
    assert "retention_days" in bad.text
    assert console.api("GET", "/api/v1/settings").json()["retention_days"] == 7.0
    # The owner adds a sub-user with a password and a permission on top of viewer.
    added = client.post(
        "/users",
        data={
            "csrf_token": token,
            "operation": "add",
            "name": "sam",
            "role": "viewer",
            "permission": ["verify"],
            "password": "sam-battery-staple",
        },
    )
    assert "added user sam (viewer)" in added.text
    users = client.get("/users").text
    assert re.search(r"<td>sam</td><td>viewer</td><td>verify</td>", users)
    # Sam signs in; managing users is refused to him server-side, whatever he posts.
    client.cookies.clear()
    token = csrf(client.get("/login").text)
    form = {"username": "sam", "password": "sam-battery-staple", "csrf_token": token}
    assert client.post("/login", data=form, follow_redirects=False).status_code == 303
    token = csrf(client.get("/users").text)
    forged = client.post(
        "/users",
        data={"csrf_token": token, "operation": "set", "name": "sam", "role": "owner"},
    )
    assert forged.status_code == 403 and "managing users needs the owner role" in forged.text
    forged = client.post("/settings", data={"csrf_token": token, "plan": "ultimate"})
    assert forged.status_code == 403
