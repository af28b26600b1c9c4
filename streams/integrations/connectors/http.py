"""HTTP for connectors: one polite, bounded client that every tool's client uses.

httpx does the HTTP (timeouts, connection reuse, no redirects followed: a redirect to another
host could lead into the portal's own network); tenacity does the retrying. The rules, the
same for every tool:

- a per-connection request rate: requests are spaced at least 1/rate seconds apart;
- 429 and 503 with `Retry-After` (seconds or an HTTP date; Azure DevOps also names its
  throttling `TF400733` in the body) wait as told, up to `CONNECTOR_MAX_WAIT_SECONDS`; a
  longer wait ends the run (`ToolBusy`) and the next scheduled run carries on;
- network errors, timeouts and 5xx are retried with exponential backoff, at most
  `CONNECTOR_RETRIES` times, then the run fails (`ToolUnavailable`);
- 401 and 403 stop the connection (`CredentialsRefused`): an expired or revoked token is not
  retried for ever; other 4xx are the request's fault (`ToolRefused`), never retried;
- a response body is read up to `CONNECTOR_MAX_RESPONSE_MB`: a hostile or broken server
  cannot exhaust memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import datetime as dt
from email.utils import parsedate_to_datetime
import json
import time

from django.conf import settings
import httpx
import tenacity

from core.outbound import check_url


class ToolError(Exception):
    """A call to a tool that did not give an answer; `message` says what happened in words."""

    def __init__(self, message: str, *, status: int | None = None):
        super().__init__(message)
        self.message, self.status = message, status


class CredentialsRefused(ToolError):
    """401/403: the token expired, was revoked or lacks a permission. The connection stops."""


class ToolRefused(ToolError):
    """A 4xx other than 401/403/429: the request is wrong for this tool (a scope that does not exist)."""


class ToolBusy(ToolError):
    """Rate limited for longer than the portal waits within one run."""


class ToolUnavailable(ToolError):
    """Network errors, timeouts or 5xx beyond the retries."""


class _Retry(Exception):
    """A response or error worth another attempt, with the wait the tool asked for (if any)."""

    def __init__(self, message: str, *, wait: float | None = None, status: int | None = None):
        super().__init__(message)
        self.message, self.wait, self.status = message, wait, status


@dataclass
class CallStats:
    """What a run's calls cost, for its record."""

    requests: int = 0
    rate_limit_waits: int = 0
    waited_seconds: float = 0.0
    retries: int = 0
    seconds: float = 0.0  # waiting for the tool's answers (the rest of a run is the portal's own work)
    errors: list[str] = field(default_factory=list)


def rate_limit_wait(headers) -> float | None:
    """Seconds until a spent rate limit resets (GitHub's x-ratelimit-* headers, or Retry-After on
    a 403); None when the answer is not about a rate limit."""
    if (wait := retry_after_seconds(headers.get("Retry-After"))) is not None:
        return wait
    if headers.get("x-ratelimit-remaining") == "0" and (reset := headers.get("x-ratelimit-reset", "")).isdigit():
        return max(0.0, int(reset) - dt.datetime.now(dt.UTC).timestamp()) + 1
    return None


def next_link(headers) -> str | None:
    """The `rel="next"` URL of a Link header (GitHub's pagination), if any."""
    for part in (headers.get("Link") or "").split(","):
        url, _, rest = part.partition(";")
        if 'rel="next"' in rest:
            return url.strip().strip("<>")
    return None


def retry_after_seconds(value: str | None, now: dt.datetime | None = None) -> float | None:
    """`Retry-After` as seconds: delta-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - (now or dt.datetime.now(dt.UTC))).total_seconds())


class ToolHttp:
    """A tool's HTTP session: base URL, auth headers, rate, retries and statistics."""

    def __init__(
        self,
        base_url: str,
        *,
        headers: dict[str, str] | None = None,
        auth: httpx.Auth | tuple[str, str] | None = None,
        rate: float | None = None,
        tool: str = "the tool",
    ):
        self.base_url = check_url(base_url)  # again at each run: DNS may have changed since saving
        self.tool = tool
        self.stats = CallStats()
        self.interval = 1.0 / rate if rate else 0.0
        self.last_request = 0.0
        self.max_bytes = settings.CONNECTOR_MAX_RESPONSE_MB * 1024 * 1024
        self.last_headers: httpx.Headers = httpx.Headers()
        self.client = httpx.Client(
            base_url=self.base_url,
            headers={"Accept": "application/json", "User-Agent": "product-operating-model-portal", **(headers or {})},
            auth=auth,
            timeout=httpx.Timeout(settings.CONNECTOR_TIMEOUT_SECONDS),
            follow_redirects=False,
        )

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> ToolHttp:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def get(self, path: str, **params) -> dict:
        return self.request("GET", path, params=params or None)

    def get_pages(self, path: str, **params):
        """The JSON arrays of every page, following the Link header's `rel="next"` (GitHub), only
        within the tool's own address (a Link to another host is not followed)."""
        url: str | None = path
        while url:
            page = self.request("GET", url, params=params or None, expect=list)
            url, params = next_link(self.last_headers), {}  # read before the caller's own requests
            if url and not url.startswith(self.base_url + "/"):
                raise ToolRefused(f"{self.tool} pointed the next page at another address ({url[:80]}); not followed")
            url = url[len(self.base_url) :] if url else None
            yield page

    def get_list(self, path: str, **params) -> list:
        """For the few endpoints that answer a JSON array (Jira's statuses and issue types)."""
        return self.request("GET", path, params=params or None, expect=list)

    def post(self, path: str, body: dict, **params) -> dict:
        return self.request("POST", path, json=body, params=params or None)

    def request(self, method: str, path: str, *, expect: type = dict, **kwargs):
        """The JSON object (or array, with `expect=list`) the tool answered, after waits and
        retries; a ToolError otherwise."""
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(_Retry),
            stop=self._stop,
            wait=self._wait,
            before_sleep=self._before_sleep,
            reraise=True,
        )
        try:
            return retrying(self._once, method, path, expect, **kwargs)
        except _Retry as error:
            if error.wait is not None and error.wait > settings.CONNECTOR_MAX_WAIT_SECONDS:
                raise ToolBusy(error.message, status=error.status) from None
            raise ToolUnavailable(
                f"{error.message}; gave up after {self.stats.retries} retries.", status=error.status
            ) from None

    # -- tenacity's hooks ------------------------------------------------------------------

    def _stop(self, state: tenacity.RetryCallState) -> bool:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, _Retry) and error.wait is not None:  # the tool said how long: not a fault
            return error.wait > settings.CONNECTOR_MAX_WAIT_SECONDS or state.attempt_number > 50
        return state.attempt_number > settings.CONNECTOR_RETRIES

    def _wait(self, state: tenacity.RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, _Retry) and error.wait is not None:
            return error.wait
        backoff = settings.CONNECTOR_BACKOFF_SECONDS * 2 ** (state.attempt_number - 1)
        return min(backoff, 60.0)

    def _before_sleep(self, state: tenacity.RetryCallState) -> None:
        error = state.outcome.exception()
        seconds = state.next_action.sleep if state.next_action else 0.0
        if isinstance(error, _Retry) and error.wait is not None:
            self.stats.rate_limit_waits += 1
        else:
            self.stats.retries += 1
        self.stats.waited_seconds += seconds
        if len(self.stats.errors) < 20:
            self.stats.errors.append(error.message)

    # -- one attempt -----------------------------------------------------------------------

    def _once(self, method: str, path: str, expect: type, **kwargs):
        pause = self.last_request + self.interval - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        self.last_request = time.monotonic()
        self.stats.requests += 1
        where = f"{self.tool} ({method} {path.split('?')[0]})"
        asked = time.monotonic()
        try:
            with self.client.stream(method, path, **kwargs) as response:
                body = self._read(response, where)
        except httpx.TimeoutException:
            raise _Retry(f"{where} did not answer within {settings.CONNECTOR_TIMEOUT_SECONDS} s") from None
        except httpx.TransportError as error:
            raise _Retry(f"{where} could not be reached ({type(error).__name__}: {error})") from None
        finally:
            self.stats.seconds += time.monotonic() - asked
        status = response.status_code
        self.last_headers = response.headers
        if status in (429, 503) and (wait := retry_after_seconds(response.headers.get("Retry-After"))) is not None:
            raise _Retry(f"{where} asked to wait {wait:.0f} s ({status})", wait=wait, status=status)
        if status in (403, 429) and (wait := rate_limit_wait(response.headers)) is not None:
            # GitHub: a primary limit spent (x-ratelimit-remaining: 0) or a secondary one (Retry-After).
            raise _Retry(f"{where} is rate limited for {wait:.0f} s ({status})", wait=wait, status=status)
        if status == 429 or status >= 500:
            raise _Retry(f"{where} answered {status} {_summary(body)}".rstrip(), status=status)
        if status in (401, 403):
            raise CredentialsRefused(
                f"{self.tool} refused the credentials ({status} {_summary(body)}); the token may have expired, been "
                "revoked, or lack read access to this scope. Enter a valid token on the connection's page.".replace(
                    "  ", " "
                ),
                status=status,
            )
        if status == 203:  # Azure DevOps answers a sign-in page, not an error, to a token it does not take
            raise CredentialsRefused(
                f"{self.tool} answered with a sign-in page (203): it did not accept the token. Enter a valid token "
                "on the connection's page.",
                status=status,
            )
        if status >= 300:
            raise ToolRefused(f"{where} answered {status} {_summary(body)}".rstrip(), status=status)
        try:
            data = json.loads(body or b"null")
        except ValueError:
            raise ToolRefused(f"{where} answered something that is not JSON", status=status) from None
        if not isinstance(data, expect):
            what = "an object" if expect is dict else "a list"
            raise ToolRefused(f"{where} answered JSON that is not {what}", status=status)
        return data

    def _read(self, response: httpx.Response, where: str) -> bytes:
        chunks, size = [], 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > self.max_bytes:
                raise ToolRefused(
                    f"{where} sent more than {settings.CONNECTOR_MAX_RESPONSE_MB} MB in one answer; refused",
                    status=response.status_code,
                )
            chunks.append(chunk)
        return b"".join(chunks)


def _summary(body: bytes) -> str:
    """The tool's own words about an error, short: Jira's errorMessages, Azure DevOps' message
    (TF400733 and friends), GitHub's message."""
    try:
        data = json.loads(body)
    except ValueError:
        return ""
    if not isinstance(data, dict):
        return ""
    parts = []
    for key in ("message", "errorMessage"):
        if isinstance(data.get(key), str):
            parts.append(data[key])
    messages = data.get("errorMessages")
    if isinstance(messages, list):
        parts += [m for m in messages if isinstance(m, str)]
    text = "; ".join(parts)[:300]
    return f"({text})" if text else ""
