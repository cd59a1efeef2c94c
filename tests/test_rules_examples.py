"""Every rule's examples, placed into many file formats: the positives are found exactly once, at
the line and column where the renderer put them, with the right encoding; negatives never are.

Each renderer builds a file around a sentinel, then swaps in the value: the expected position is
where the (possibly encoded) value landed, never a number typed by hand. The whole matrix runs with
both prefilter backends.
"""

from __future__ import annotations

import base64
import json
import random
import urllib.parse
import uuid
from typing import Callable, Dict, List, Tuple

import pytest

from pit_guard.detection.detect import scan_bytes
from pit_guard.detection.rules import RULES, Example, Rule

NOW = 1_750_000_000.0  # fixed "now": 2025-06-15, before the synthetic OAuth tokens' expiry
MARK = "@@VALUE@@"
BOM = b"\xef\xbb\xbf"
# Rules whose value is only a secret next to a key name: their shell form is `export KEY=value`.
KEYED = {"ghl-oauth-client-secret", "ghl-sso-shared-secret"}
JWT_RULES = {"ghl-v1-location-api-key", "ghl-v1-agency-api-key", "ghl-oauth-access-token", "ghl-oauth-refresh-token"}
PIT_RULE = "ghl-private-integration-token"
WEBHOOK_RULE = "ghl-inbound-webhook-url"
# Found by its key name (or a request header) too, but reported exactly as written (no lowercasing).
GENERIC_RULE = "ghl-generic-credential"


# --- the filler of a minified bundle: realistic noise, no credential anchors -----------------------


def _minified_filler(seed: int, size: int) -> str:
    rng = random.Random(seed)
    words = [
        "render",
        "props",
        "state",
        "dispatch",
        "useEffect",
        "children",
        "onClick",
        "module",
        "exports",
        "default",
        "value",
        "length",
        "indexOf",
        "concat",
        "Promise",
        "resolve",
        "then",
        "catch",
        "apply",
        "call",
        "bind",
        "prototype",
        "Object",
        "defineProperty",
        "Symbol",
        "iterator",
        "contacts",
        "locations",
        "calendar",
        "pipeline",
        "opportunity",
        "widget",
    ]
    parts: List[str] = []
    total = 0
    while total < size:
        kind = rng.randrange(7)
        name = rng.choice(words) + rng.choice(["", "_", "$"]) + rng.choice("abcdefghtxyz")
        if kind == 0:
            part = f"function {name}(e,t,n){{return e&&t?n.{rng.choice(words)}(e):void 0}}"
        elif kind == 1:
            part = f'var {name}="{uuid.UUID(int=rng.getrandbits(128), version=4)}"'
        elif kind == 2:
            part = f'{name}:"{rng.getrandbits(160):040x}"'
        elif kind == 3:
            part = f'{name}.title="Réservez votre créneau — ça marche ✓"'
        elif kind == 4:
            part = f"{name}=[{','.join(str(rng.randrange(1000)) for _ in range(8))}]"
        elif kind == 5:
            part = f'{name}("data:image/png;base64,{base64.b64encode(rng.randbytes(30)).decode()}")'
        else:
            part = f"if({name}.{rng.choice(words)}>{rng.randrange(99)}){{{name}.{rng.choice(words)}++}}"
        parts.append(part)
        total += len(part) + 1
    return ";".join(parts)


FILLER_BEFORE = _minified_filler(1, 25_000)
FILLER_AFTER = _minified_filler(2, 25_000)


# --- renderers: (example, rule id) -> (file bytes, offset of the value in the text, encoding) -------


def _pairs(example: Example) -> List[Tuple[str, str]]:
    return list(example.before) + [(example.key, MARK)]


def _place(text: str, value: str) -> Tuple[str, int]:
    at = text.index(MARK)
    return text.replace(MARK, value), at


def render_env(example: Example, rule_id: str, newline: str = "\n") -> str:
    lines = ["# service configuration", "NODE_ENV=production", "PORT=3000"]
    lines += [f"{k}={v}" for k, v in _pairs(example)]
    lines += ["LOG_LEVEL=info", ""]
    return newline.join(lines)


def render_json(example: Example, rule_id: str) -> str:
    inner: Dict[str, object] = {"name": "crm-sync", "enabled": True}
    inner.update(_pairs(example))
    return json.dumps({"version": 2, "settings": inner, "retries": 3}, indent=2) + "\n"


def render_yaml(example: Example, rule_id: str) -> str:
    lines = ["app:", "  name: crm-sync", "  services:", "    crm:", "      timeout: 30"]
    lines += [f"      {k}: {v}" for k, v in _pairs(example)]
    lines += ["      retries: 3", "  debug: false", ""]
    return "\n".join(lines)


def render_python(example: Example, rule_id: str) -> str:
    lines = ["import os", "", "TIMEOUT = 30"]
    lines += [f'{k} = "{v}"' for k, v in _pairs(example)]
    lines += ["", "def client():", "    return TIMEOUT", ""]
    return "\n".join(lines)


def render_js(example: Example, rule_id: str) -> str:
    lines = ["import axios from 'axios';", "", "const timeout: number = 30_000;"]
    lines += [f'const {k} = "{v}";' for k, v in _pairs(example)]
    lines += ["", "export default { timeout };", ""]
    return "\n".join(lines)


def render_shell(example: Example, rule_id: str) -> str:
    lines = ["#!/usr/bin/env bash", "set -euo pipefail"]
    lines += [f"export {k}={v}" for k, v in example.before]
    if rule_id in KEYED:
        lines += [
            f"export {example.key}={MARK}",
            'curl -s -X POST https://services.leadconnectorhq.com/oauth/token -d "grant_type=refresh_token"',
        ]
    elif rule_id == WEBHOOK_RULE:
        lines += [f'curl -s -X POST "{MARK}" -H "Content-Type: application/json" -d \'{{"email":"a@b.c"}}\'']
    else:
        lines += [
            f'curl -s -H "Authorization: Bearer {MARK}" -H "Version: 2021-07-28" \\',
            "  https://services.leadconnectorhq.com/contacts/?limit=1",
        ]
    return "\n".join(lines + [""])


def render_markdown(example: Example, rule_id: str) -> str:
    lines = ["# Setup", "", "Créez un fichier `.env` à la racine — then start the server:", "", "```bash"]
    lines += [f"{k}={v}" for k, v in _pairs(example)]
    lines += ["```", "", "That's it. *Enjoy* 🎉", ""]
    return "\n".join(lines)


def render_bundle(example: Example, rule_id: str) -> str:
    config = ",".join(f'{k}:"{v}"' for k, v in _pairs(example))
    return "!function(){" + FILLER_BEFORE + ";var cfg={" + config + "};" + FILLER_AFTER + "}();\n"


def render_crlf_env(example: Example, rule_id: str) -> str:
    return render_env(example, rule_id, newline="\r\n")


def render_bom_env(example: Example, rule_id: str) -> str:
    # The value sits on line 1 when there is no context to render first: BOM must not count.
    lines = [f"{k}={v}" for k, v in _pairs(example)] + ["PORT=3000", ""]
    return "\n".join(lines)


def render_bom_json(example: Example, rule_id: str) -> str:
    return json.dumps(dict(_pairs(example))) + "\n"


def render_form_body(example: Example, rule_id: str) -> str:
    # A form body / query string where the value needs no escaping (it is plain there).
    pairs = [("grant_type", "authorization_code")] + _pairs(example)
    return "POST /oauth/token\n\n" + "&".join(f"{k}={v}" for k, v in pairs) + "\n"


PLAIN_FORMATS: Dict[str, Callable[[Example, str], str]] = {
    "env": render_env,
    "json": render_json,
    "yaml": render_yaml,
    "python": render_python,
    "js": render_js,
    "shell": render_shell,
    "markdown": render_markdown,
    "bundle": render_bundle,
    "crlf": render_crlf_env,
    "bom-env": render_bom_env,
    "bom-json": render_bom_json,
    "form": render_form_body,
}


def render_plain(fmt: str, example: Example, rule_id: str) -> Tuple[bytes, int, str]:
    text, at = _place(PLAIN_FORMATS[fmt](example, rule_id), example.value)
    data = text.encode()
    return (BOM + data if fmt.startswith("bom") else data), at, "plain"


def render_json_escaped(example: Example, rule_id: str) -> Tuple[bytes, int, str]:
    # A JSON string holding JSON (webhook bodies, n8n/Make exports), with PHP-style `\/` escaping.
    inner = json.dumps(dict(_pairs(example)))
    outer = json.dumps({"event": "sync", "body": inner}, indent=2).replace("/", "\\/")
    value = example.value.replace("/", "\\/")
    text, at = _place(outer, value)
    # The quotes around a key name (context rules) or the value's own slashes (webhook) changed.
    changed = rule_id in KEYED or rule_id == GENERIC_RULE or value != example.value
    return text.encode(), at, "json-escaped" if changed else "plain"


def render_url_encoded(example: Example, rule_id: str) -> Tuple[bytes, int, str]:
    # The whole assignment URL-encoded as one query parameter (a redirect's `state`, a webhook's
    # `next`): `KEY%3Dvalue`, and the value's own `:`/`/` as `%3A`/`%2F`.
    pairs = _pairs(example)
    query = "&".join(f"{k}={v}" for k, v in pairs)
    encoded = urllib.parse.quote(query, safe="").replace(urllib.parse.quote(MARK, safe=""), MARK)
    value = urllib.parse.quote(example.value, safe="")
    text, at = _place('<a href="https://app.example.com/cb?state=' + encoded + '&lang=fr">continue</a>\n', value)
    changed = rule_id in KEYED or rule_id == GENERIC_RULE or value != example.value
    return text.encode(), at, "url" if changed else "plain"


def render_k8s_secret(example: Example, rule_id: str) -> Tuple[bytes, int, str]:
    lines = ["apiVersion: v1", "kind: Secret", "metadata:", "  name: crm-sync", "type: Opaque", "data:"]
    lines += [f"  {k}: {base64.b64encode(v.encode()).decode()}" for k, v in example.before]
    lines += [f"  {example.key}: {MARK}", "  PORT: MzAwMA==", ""]
    text, at = _place("\n".join(lines), base64.b64encode(example.value.encode()).decode())
    return text.encode(), at, "base64"


def render_base64_env(example: Example, rule_id: str) -> Tuple[bytes, int, str]:
    # A whole .env file base64-encoded into a CI variable.
    env = render_env(example, rule_id).replace(MARK, example.value)
    prefix = "ENV_FILE_B64="
    return (prefix + base64.b64encode(env.encode()).decode() + "\n").encode(), len(prefix), "base64"


ENCODED_FORMATS = {
    "json-escaped": render_json_escaped,
    "url-encoded": render_url_encoded,
    "k8s-base64": render_k8s_secret,
    "base64-env": render_base64_env,
}


def _expected_line_column(data: bytes, char_offset: int) -> Tuple[int, int]:
    text = data.decode("utf-8")
    if text.startswith("\ufeff"):
        text = text[1:]
    line_start = text.rfind("\n", 0, char_offset) + 1
    return text.count("\n", 0, char_offset) + 1, char_offset - line_start + 1


CASES = [
    pytest.param(rule, example, fmt, id=f"{rule.id}-{i}-{fmt}")
    for rule in RULES
    for i, example in enumerate(rule.positives)
    for fmt in list(PLAIN_FORMATS) + list(ENCODED_FORMATS)
]


@pytest.mark.parametrize("rule,example,fmt", CASES)
def test_positive_found_once_at_its_place(backend: str, rule: Rule, example: Example, fmt: str) -> None:
    if fmt in PLAIN_FORMATS:
        data, at, encoding = render_plain(fmt, example, rule.id)
    else:
        data, at, encoding = ENCODED_FORMATS[fmt](example, rule.id)
    if fmt == "base64-env":
        # The position of a whole encoded file is the start of its base64 run.
        line, column = 1, at + 1
    else:
        line, column = _expected_line_column(data, at)
    findings = scan_bytes(data, "f", now=NOW)
    assert [(f.rule_id, f.line, f.column, f.encoding) for f in findings] == [(rule.id, line, column, encoding)]
    secret = findings[0].secret
    if rule.id == PIT_RULE:
        assert secret == "pit-" + example.value[4:].lower()
    elif rule.id in KEYED:
        assert secret == example.value.lower()
    else:
        assert secret == example.value


def test_bundle_filler_is_clean(backend: str) -> None:
    assert scan_bytes((FILLER_BEFORE + FILLER_AFTER).encode(), now=NOW) == []


# --- negatives -------------------------------------------------------------------------------------


def _negative_contexts(negative: str) -> Dict[str, bytes]:
    return {
        "alone": negative.encode(),
        "markdown": ("# Notes\n\nSet it up like this:\n\n```\n" + negative + "\n```\n").encode(),
        "bundle": (
            "!function(){" + FILLER_BEFORE + ";" + negative.replace("\n", ";") + ";" + FILLER_AFTER + "}();"
        ).encode(),
        "crlf-bom": BOM + ("# config\r\n" + negative.replace("\n", "\r\n") + "\r\nPORT=3000\r\n").encode(),
        "json": json.dumps({"notes": negative.splitlines()}, indent=2).encode(),
    }


NEGATIVE_CASES = [
    pytest.param(negative, context, id=f"{rule.id}-{i}-{context}")
    for rule in RULES
    for i, negative in enumerate(rule.negatives)
    for context in ("alone", "markdown", "bundle", "crlf-bom", "json")
]


@pytest.mark.parametrize("negative,context", NEGATIVE_CASES)
def test_negative_finds_nothing(backend: str, negative: str, context: str) -> None:
    assert scan_bytes(_negative_contexts(negative)[context], "f", now=NOW) == []


def test_every_rule_has_examples() -> None:
    for rule in RULES:
        assert rule.positives, rule.id
        assert rule.negatives, rule.id
