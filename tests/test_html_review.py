"""Review of `--format html`: what a checklist tick in localStorage means across reports."""

from __future__ import annotations

import re
from typing import Dict

from git_helpers import new_pit
from test_html import finding

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
