"""Helpers shared by the browser tests (Playwright)."""

from pathlib import Path

PASSWORD = "pw-for-tests-1"  # teams.tests.factories.UserFactory's password


def log_in(page, live_server, username: str) -> None:
    """Log `username` in through the login page and wait for the portfolio."""
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/")


AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"


def axe_violations(page) -> list[str]:
    """axe-core's accessibility violations of the page as it is now (rule: how many elements).
    axe is evaluated through the browser's debugging protocol, which the page's CSP does not
    govern: the page itself loads no script of axe's."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text())
    return page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ['violations']})).violations
             .map(v => `${v.id} (${v.impact}): ${v.nodes.length} × ${v.nodes[0].target.join(' ')}`)"""
    )
