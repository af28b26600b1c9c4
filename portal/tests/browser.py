"""Helpers shared by the browser tests (Playwright)."""

PASSWORD = "pw-for-tests-1"  # teams.tests.factories.UserFactory's password


def log_in(page, live_server, username: str) -> None:
    """Log `username` in through the login page and wait for the portfolio."""
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/")
