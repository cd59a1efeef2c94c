"""The rule table is the single source of per-rule knowledge: every rule id the package names is in
it, and every rule's declared pieces (severity, probe, token-shape family) are well formed."""

from __future__ import annotations

import ast
import pathlib
import re
from typing import List, Tuple

import pytest

from pit_guard.detection.patterns import SHAPES
from pit_guard.detection.rules import PROBE_KINDS, RULES, RULES_BY_ID, Rule

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "pit_guard"
RULE_ID = re.compile(r"ghl-[a-z0-9]+(?:-[a-z0-9]+)+")


def rule_ids_named(source: str) -> List[str]:
    """Every string constant (or f-string piece) in `source` that is spelt like a rule id."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            found += RULE_ID.findall(node.value)
    return found


def named_ids() -> List[Tuple[str, str]]:
    return [
        (str(path.relative_to(PACKAGE.parent)), rule_id)
        for path in sorted(PACKAGE.rglob("*.py"))
        for rule_id in rule_ids_named(path.read_text(encoding="utf-8"))
    ]


def test_finder_sees_ids_in_code() -> None:
    assert rule_ids_named('if rule == "ghl-made-up-rule": pass') == ["ghl-made-up-rule"]


def test_every_rule_id_named_in_the_package_is_in_the_table() -> None:
    named = named_ids()
    assert {rule_id for _, rule_id in named} >= set(RULES_BY_ID)  # the scan sees the table itself
    unknown = [(path, rule_id) for path, rule_id in named if rule_id not in RULES_BY_ID]
    assert not unknown


def test_rule_ids_are_unique() -> None:
    assert len(RULES_BY_ID) == len(RULES)


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_rule_declares_everything(rule: Rule) -> None:
    assert rule.severity in ("Critical", "High", "Medium", "Low")
    assert 0.0 <= float(rule.security_severity) <= 10.0
    assert rule.probe.kind in PROBE_KINDS
    if rule.probe.kind in ("v1", "v2"):
        assert rule.probe.path.startswith("/")
    if rule.probe.kind == "never":
        assert rule.probe.reason
    assert rule.family in SHAPES
    assert rule.revoke and rule.name and rule.description


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_positive_examples_have_the_rules_token_shape(rule: Rule) -> None:
    """The shape the prefilter looks for is in every positive example (as it is assigned)."""
    for example in rule.positives:
        text = f"{example.key}={example.value}".encode()
        assert re.search(SHAPES[rule.family], text), example.value[:12]
