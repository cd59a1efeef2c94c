"""Review of `--format html`: what a checklist tick in localStorage means across reports."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Dict

import pytest
from git_helpers import new_pit
from test_html import finding
from test_html_browser import BROWSER, articles, chromium, proxy  # noqa: F401 - proxy is a fixture

from pit_guard.reporting.html import format_html


def ticks(page: str) -> Dict[str, str]:
    """data-key -> the step's text, for every checklist box of the page."""
    return dict(re.findall(r'data-key="([^"]+)"> <span>([^<]+)</span>', page))


def test_a_stored_tick_means_the_same_step_in_every_report_of_the_credential() -> None:
    """Ticks persist by key in localStorage, shared by every report opened from file://. Keyed by the
    step's position, "Put the new credential in place" ticked while the token was live came back as
    "Remove it from every place listed" once a later report saw it dead: a step never done, shown done."""
    token = new_pit()
    pages = [format_html([finding(token, status)], []) for status in ("live", "unknown", None, "dead", "expired")]
    meaning: Dict[str, str] = {}
    for page in pages:
        found = ticks(page)
        assert len(found) >= 2
        for key, text in found.items():
            step = re.sub(r"\((dead|expired)\)", "(…)", text)
            assert meaning.setdefault(key, step) == step, (key, meaning[key], step)
    other = ticks(format_html([finding(new_pit(), "live")], []))
    assert not set(other) & set(meaning)  # another credential's ticks are its own


def fleet_report() -> str:
    """A fleet audit: one credential leaked in two repositories, another only in the first."""
    shared, own = new_pit(), new_pit()
    findings = [finding(shared, "live", path="a.env"), finding(shared, "live", path="b.env"), finding(own, "dead")]
    for f, repo in zip(findings, ("acme/site", "acme/api", "acme/site")):
        object.__setattr__(f, "repository", repo)
    return format_html(findings, [])


def test_a_credential_in_two_repositories_is_listed_under_both() -> None:
    """Grouped by fingerprint, the article carried the first place's repository only: filtering by the
    second repository hid a live credential leaked there, and that repository was not even offered."""
    page = fleet_report()
    options = re.findall(r'<option value="([^"]*)">', page.split('id="f-repo"')[1].split("</select>")[0])
    assert options == ["", "acme/api", "acme/site"]
    repos = [a.split("\n") for a in re.findall(r'data-repo="([^"]*)"', page)]
    assert sorted(map(sorted, repos)) == [["acme/api", "acme/site"], ["acme/site"]]


@pytest.mark.skipif(BROWSER is None, reason="no Chromium installed (Debian: apt-get install chromium; .ci/run does it)")
def test_filtering_by_either_repository_shows_the_shared_credential(tmp_path: Path, proxy: str) -> None:  # noqa: F811
    path = tmp_path / "fleet.html"
    path.write_text(fleet_report(), encoding="utf-8")
    for repo, count in (("acme/api", 1), ("acme/site", 2)):
        dom = chromium(tmp_path / "profile", proxy, "--dump-dom", path.as_uri() + "#repo=" + repo)
        shown = [a for a in articles(dom) if " hidden" not in a]
        assert len(shown) == count, (repo, shown)
        assert f'<output id="shown">{count} shown</output>' in dom
