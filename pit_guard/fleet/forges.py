"""Organisation listings: GitHub REST v3 (`--github-org`, `--github-user`) and GitLab API v4
(`--gitlab-group`, subgroups included). The network boundary of the fleet package.

Pagination follows `Link: <...>; rel="next"` (same host as the API base only), rate limits are
waited out (`Retry-After`, `X-RateLimit-Remaining: 0` + `X-RateLimit-Reset`, GitLab's
`RateLimit-*`), never failed on. The token (GITHUB_TOKEN / GITLAB_TOKEN) is sent only to the API
base (no redirect is followed) and handed to git only for clones from that same host. HTTPS only,
except a loopback API (tests)."""

from __future__ import annotations

import dataclasses
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Callable, Dict, List, Optional, Sequence, Set, Tuple

from pit_guard.errors import FatalError
from pit_guard.finding import Unread, notice, redact_url
from pit_guard.fleet.targets import Target, basic_header, remote_target

GITHUB_API = "https://api.github.com"
GITLAB_API = "https://gitlab.com/api/v4"
_TIMEOUT = 30.0
_MAX_WAITS = 30  # rate-limit waits per page before giving up on that listing
_LONGEST_WAIT = 3600.0  # rate-limit waits of one listing, in all: past it the listing fails (exit 2)
_MAX_PAGES = 10_000  # a million repositories at 100 a page: more is an endless listing
_MAX_PAGE_BYTES = 64 << 20

# The clock, replaceable by tests (a fake clock: no real sleeping).
sleep: Callable[[float], None] = time.sleep
now: Callable[[], float] = time.time


@dataclasses.dataclass
class Listing:
    targets: List[Target] = dataclasses.field(default_factory=list)
    problems: List[Unread] = dataclasses.field(default_factory=list)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an error: following it would send the token to wherever it points."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirect, urllib.request.ProxyHandler())


def _origin(url: str) -> Tuple[str, str]:
    parts = urllib.parse.urlsplit(url)
    return parts.scheme, parts.netloc.lower()


def _check_base(base: str, what: str) -> str:
    parts = urllib.parse.urlsplit(base)
    loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
    if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
        raise FatalError(f"{what} {redact_url(base)}: must be an https:// URL (a token is sent to it)")
    if parts.username or parts.password:
        raise FatalError(f"{what} {redact_url(base)}: put the token in the environment, not in the URL")
    return base.rstrip("/")


def _next_link(header: Optional[str]) -> Optional[str]:
    for part in (header or "").split(","):
        section = part.split(";")
        if len(section) < 2:
            continue
        target = section[0].strip()
        if any(p.strip().replace(" ", "") in ('rel="next"', "rel=next") for p in section[1:]):
            if target.startswith("<") and target.endswith(">"):
                return target[1:-1]
    return None


def _wait_for(headers: Any, status: int) -> Optional[float]:
    """Seconds to wait before asking again, or None when the response is not a rate limit."""
    retry = headers.get("Retry-After")
    if retry is not None and status in (403, 429, 503):
        try:
            return max(0.0, float(retry))
        except ValueError:
            return 60.0
    remaining = headers.get("X-RateLimit-Remaining") or headers.get("RateLimit-Remaining")
    reset = headers.get("X-RateLimit-Reset") or headers.get("RateLimit-Reset")
    if remaining is not None and remaining.strip() == "0" and status in (403, 429):
        try:
            return max(0.0, float(reset or 60) - now()) + 1.0
        except ValueError:
            return 60.0
    if status == 429:
        return 60.0
    return None


def _get(url: str, headers: Dict[str, str], what: str, waited: List[float]) -> Tuple[Any, Optional[str]]:
    """One page: (decoded JSON, next page URL). Rate limits are waited out (`waited`: the listing's
    seconds waited so far, kept under _LONGEST_WAIT)."""
    for _ in range(_MAX_WAITS):
        request = urllib.request.Request(url, headers=headers)
        try:
            with _opener.open(request, timeout=_TIMEOUT) as response:
                body = response.read(_MAX_PAGE_BYTES + 1)
                if len(body) > _MAX_PAGE_BYTES:
                    raise FatalError(f"{what}: a page of over {_MAX_PAGE_BYTES >> 20} MB: not a listing")
                link = response.headers.get("Link")
                # Out of requests after this page: wait before the next one, not after a refusal.
                remaining = response.headers.get("X-RateLimit-Remaining") or response.headers.get("RateLimit-Remaining")
                reset = response.headers.get("X-RateLimit-Reset") or response.headers.get("RateLimit-Reset")
                if remaining is not None and remaining.strip() == "0" and reset:
                    try:
                        until_reset = max(0.0, float(reset) - now()) + 1.0
                    except ValueError:
                        until_reset = 60.0
                    _pause(until_reset, what, waited)
        except urllib.error.HTTPError as e:
            delay = _wait_for(e.headers, e.code)
            if delay is not None:
                _pause(delay, what, waited)
                continue
            if e.code == 401:
                raise FatalError(f"{what}: HTTP 401 (the token is missing, wrong or expired)") from None
            if e.code == 404:
                raise FatalError(f"{what}: HTTP 404 (no such name, or private and the token cannot see it)") from None
            if 300 <= e.code < 400:
                raise FatalError(
                    f"{what}: HTTP {e.code} redirect, not followed (the token goes to the API only)"
                ) from None
            raise FatalError(f"{what}: HTTP {e.code}") from None
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise FatalError(f"{what}: cannot reach the API ({reason})") from None
        try:
            return json.loads(body), _next_link(link)
        except ValueError:
            raise FatalError(f"{what}: the API answered something that is not JSON") from None
    raise FatalError(f"{what}: still rate limited after {_MAX_WAITS} waits")


def _pause(delay: float, what: str, waited: List[float]) -> None:
    if not delay <= _LONGEST_WAIT - waited[0]:  # NaN too
        raise FatalError(
            f"{what}: rate limited for {delay:.0f} s more, past the one hour a listing may wait in all: run again later"
        )
    waited[0] += delay
    notice(f"{what}: rate limited, waiting {delay:.0f} s")
    sleep(delay)


def _pages(first: str, headers: Dict[str, str], what: str) -> List[Dict[str, Any]]:
    items: List[Dict[str, Any]] = []
    url: Optional[str] = first
    origin = _origin(first)
    seen: Set[str] = set()
    waited = [0.0]
    while url:
        if url in seen:
            raise FatalError(f"{what}: the next-page links loop ({redact_url(url)} again): not followed")
        if len(seen) >= _MAX_PAGES:
            raise FatalError(f"{what}: more than {_MAX_PAGES} pages: not followed further")
        seen.add(url)
        page, url = _get(url, headers, what, waited)
        if not isinstance(page, list):
            raise FatalError(f"{what}: the API answered something that is not a list")
        items += [item for item in page if isinstance(item, dict)]
        if url is not None and _origin(url) != origin:
            raise FatalError(f"{what}: the next page is on another host ({redact_url(url)}): not followed")
    return items


def _git_headers(clone_url: str, api: str, user: str, token: str) -> Tuple[Tuple[str, str], ...]:
    """The token for git, only for an https clone from the API's own host (or the host it is the
    `api.` of, as github.com is for api.github.com)."""
    if not token:
        return ()
    clone, base = urllib.parse.urlsplit(clone_url), urllib.parse.urlsplit(api)
    if clone.scheme not in ("https", "http") or clone.scheme != base.scheme:
        return ()
    host, api_host = (clone.netloc or "").lower(), (base.netloc or "").lower()
    if host != api_host and "api." + host != api_host:
        return ()
    return (basic_header(f"{clone.scheme}://{clone.netloc}/", user, token),)


def environment_credentials(url: str) -> Tuple[Tuple[str, str], ...]:
    """For a repository named in a report (`pit-guard merge --validate`): GITHUB_TOKEN or GITLAB_TOKEN
    for git, when the URL's host is that of GITHUB_API_URL / CI_API_V4_URL (or their defaults)."""
    for token_var, api_var, default, user in (
        ("GITHUB_TOKEN", "GITHUB_API_URL", GITHUB_API, "x-access-token"),
        ("GITLAB_TOKEN", "CI_API_V4_URL", GITLAB_API, "oauth2"),
    ):
        headers = _git_headers(url, os.environ.get(api_var) or default, user, os.environ.get(token_var, ""))
        if headers:
            return headers
    return ()


def _target(clone_url: Any, api: str, user: str, token: str, listing: Listing, what: str) -> Optional[Target]:
    if not isinstance(clone_url, str) or not clone_url:
        return None
    try:
        return remote_target(clone_url, _git_headers(clone_url, api, user, token))
    except (FatalError, ValueError) as e:  # one hostile entry is that repository's problem, not the listing's
        listing.problems.append(Unread(f"<{what}: a repository>", str(e)))
        return None


def github(
    kind: str, name: str, api: Optional[str], include_forks: bool, include_archived: bool, listing: Listing
) -> None:
    base = _check_base(api or os.environ.get("GITHUB_API_URL") or GITHUB_API, "--github-api-url")
    token = os.environ.get("GITHUB_TOKEN", "")
    headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    what = f"GitHub {kind} {name}"
    path = "orgs" if kind == "organisation" else "users"
    query = "type=all" if kind == "organisation" else "type=owner"
    url = f"{base}/{path}/{urllib.parse.quote(name, safe='')}/repos?per_page=100&{query}"
    try:
        repos = _pages(url, headers, what)
    except FatalError as e:
        listing.problems.append(Unread(f"<{what}>", str(e)))
        return
    for repo in sorted(repos, key=lambda r: str(r.get("full_name", ""))):
        if (repo.get("fork") and not include_forks) or (repo.get("archived") and not include_archived):
            continue
        target = _target(repo.get("clone_url"), base, "x-access-token", token, listing, what)
        if target is not None:
            listing.targets.append(target)


def gitlab(group: str, api: Optional[str], include_forks: bool, include_archived: bool, listing: Listing) -> None:
    base = _check_base(api or os.environ.get("CI_API_V4_URL") or GITLAB_API, "--gitlab-url")
    token = os.environ.get("GITLAB_TOKEN", "")
    headers = {"Accept": "application/json"}
    if token:
        headers["PRIVATE-TOKEN"] = token
    what = f"GitLab group {group}"
    query = "include_subgroups=true&per_page=100&order_by=id&sort=asc"
    if not include_archived:
        query += "&archived=false"
    url = f"{base}/groups/{urllib.parse.quote(group, safe='')}/projects?{query}"
    try:
        projects = _pages(url, headers, what)
    except FatalError as e:
        listing.problems.append(Unread(f"<{what}>", str(e)))
        return
    for project in sorted(projects, key=lambda p: str(p.get("path_with_namespace", ""))):
        if (project.get("forked_from_project") and not include_forks) or (
            project.get("archived") and not include_archived
        ):
            continue
        target = _target(project.get("http_url_to_repo"), base, "oauth2", token, listing, what)
        if target is not None:
            listing.targets.append(target)


def list_all(
    *,
    github_orgs: Sequence[str] = (),
    github_users: Sequence[str] = (),
    github_api: Optional[str] = None,
    gitlab_groups: Sequence[str] = (),
    gitlab_api: Optional[str] = None,
    include_forks: bool = False,
    include_archived: bool = False,
) -> Listing:
    listing = Listing()
    for org in github_orgs:
        github("organisation", org, github_api, include_forks, include_archived, listing)
    for user in github_users:
        github("user", user, github_api, include_forks, include_archived, listing)
    for group in gitlab_groups:
        gitlab(group, gitlab_api, include_forks, include_archived, listing)
    return listing
