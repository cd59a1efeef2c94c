"""Calibration set of the generic rule (`ghl-generic-credential`) and its precision / recall table.

    .venv/bin/python bench/calibrate_generic.py                 # 2000 positives, 2000 negatives, both backends
    .venv/bin/python bench/calibrate_generic.py --n 500 --sweep  # the table for several entropy thresholds

Everything is generated here from a fixed seed (nothing is committed): positives are random secrets
of many alphabets and lengths (16-128: hex, base62, base64url, base64, with and without separators)
in GoHighLevel-named keys or in the Authorization header of a request to a GoHighLevel host, across
15 file formats; negatives are the identifier and expression classes the rule must not report,
configs and code in the style of GoHighLevel's SDK examples and API docs (written here), lockfiles,
minified JS, base64 images, hashes, UUIDs in non-secret keys, and other services' keys beside
GoHighLevel-named neighbours. tests/test_generic_rule.py runs a slice and enforces its thresholds.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import random
import string
import sys
import uuid
from typing import Callable, Dict, List, Optional, Tuple

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from pit_guard.detection import generic, prefilter  # noqa: E402
from pit_guard.detection.detect import scan_bytes  # noqa: E402

RULE = generic.RULE_ID
NOW = 1_750_000_000.0
HEX = "0123456789abcdef"
B62 = string.ascii_letters + string.digits
B64URL = B62 + "-_"
B64 = B62 + "+/"

# (what the set is made of, file bytes, the secret expected or None for a negative)
Sample = Tuple[str, bytes, Optional[str]]

GHL_KEYS = (
    "GHL_API_KEY",
    "ghlApiKey",
    "highlevel.token",
    "LEADCONNECTOR_SECRET",
    "HL_AUTH_TOKEN",
    "lcApiKey",
    "GO_HIGH_LEVEL_TOKEN",
    "ghl_private_key",
    "msgsndrToken",
    "hlAccessToken",
    "GHL_AGENCY_API_KEY",
    "ghlPassword",
    "GHL_CREDENTIALS",
    "HighLevelBearer",
    "GHL_PAT",
    "gohighlevel_api_token",
)


def _chars(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def random_secret(rng: random.Random) -> Tuple[str, str]:
    """(alphabet label, a random secret of 16-128 characters)."""
    kind = rng.choice(("hex", "HEX", "base62", "base64url", "base64", "grouped", "prefixed"))
    n = rng.randint(16, 128)
    if kind == "hex":
        return kind, _chars(rng, HEX, max(n, 24))
    if kind == "HEX":
        return kind, _chars(rng, HEX.upper(), max(n, 24))
    if kind == "base62":
        return kind, _chars(rng, B62, n)
    if kind == "base64url":
        return kind, _chars(rng, B64URL, n)
    if kind == "base64":
        return kind, base64.b64encode(rng.randbytes(max(12, n * 3 // 4))).decode()
    if kind == "grouped":  # `Xk9f-2Lq8-…`, `ab12_cd34_…`
        sep = rng.choice("-_.")
        size = rng.choice((4, 5, 6, 8))
        groups = max(4, n // (size + 1))
        return kind, sep.join(_chars(rng, B62, size) for _ in range(groups))
    prefix = rng.choice(("ghl_", "hl_live_", "lc-", "agency_"))  # a format GoHighLevel could adopt
    return kind, prefix + _chars(rng, B62, max(n, 24))


# --- file formats: (key, value) -> text --------------------------------------------------------

Render = Callable[[random.Random, str, str], str]


def _env(rng: random.Random, key: str, value: str) -> str:
    return f"NODE_ENV=production\nPORT=3000\n{key}={value}\nLOG_LEVEL=info\n"


def _json(rng: random.Random, key: str, value: str) -> str:
    return json.dumps({"name": "crm-sync", "settings": {key: value, "timeout": 30}}, indent=2) + "\n"


def _yaml(rng: random.Random, key: str, value: str) -> str:
    quote = rng.choice(("", '"', "'"))
    return f"app:\n  name: crm-sync\n  crm:\n    {key}: {quote}{value}{quote}\n    retries: 3\n"


def _toml(rng: random.Random, key: str, value: str) -> str:
    return f'[crm]\nname = "sync"\n{key} = "{value}"\ntimeout = 30\n'


def _python(rng: random.Random, key: str, value: str) -> str:
    return f'import os\n\nTIMEOUT = 30\n{key.replace(".", "_")} = "{value}"\n\ndef client():\n    return TIMEOUT\n'


def _js(rng: random.Random, key: str, value: str) -> str:
    return f"import axios from 'axios';\nconst config = {{\n  {key.replace('.', '_')}: '{value}',\n  retries: 3,\n}};\n"


def _php(rng: random.Random, key: str, value: str) -> str:
    return f"<?php\nreturn [\n    '{key}' => '{value}',\n    'timeout' => 30,\n];\n"


def _shell(rng: random.Random, key: str, value: str) -> str:
    return f"#!/usr/bin/env bash\nset -euo pipefail\nexport {key.replace('.', '_')}={value}\nnode sync.js\n"


def _markdown(rng: random.Random, key: str, value: str) -> str:
    return f"# Setup\n\nCopy this into `.env`:\n\n```\n{key}={value}\n```\n"


def _compose(rng: random.Random, key: str, value: str) -> str:
    return f"services:\n  sync:\n    image: crm-sync:1.4\n    environment:\n      - {key}={value}\n"


def _n8n(rng: random.Random, key: str, value: str) -> str:
    body = {"parameters": {"headerParameters": {"parameters": [{"name": key, "value": value}]}}}
    return json.dumps({"nodes": [body]}, indent=2) + "\n"


KEYED_FORMATS: Dict[str, Render] = {
    "env": _env,
    "json": _json,
    "yaml": _yaml,
    "toml": _toml,
    "python": _python,
    "js": _js,
    "php": _php,
    "shell": _shell,
    "markdown": _markdown,
    "compose": _compose,
    "n8n": _n8n,
}

HOSTS = ("services.leadconnectorhq.com", "rest.gohighlevel.com", "backend.leadconnectorhq.com")


def _curl(rng: random.Random, host: str, value: str) -> str:
    return (
        f"curl --request GET \\\n  --url 'https://{host}/contacts/?locationId={_chars(rng, B62, 20)}' \\\n"
        f"  --header 'Accept: application/json' \\\n  --header 'Authorization: Bearer {value}' \\\n"
        "  --header 'Version: 2021-07-28'\n"
    )


def _axios(rng: random.Random, host: str, value: str) -> str:
    return (
        "const res = await axios.get(\n"
        f"  'https://{host}/opportunities/search',\n"
        f"  {{ headers: {{ Authorization: 'Bearer {value}', Version: '2021-07-28' }} }}\n);\n"
    )


def _requests(rng: random.Random, host: str, value: str) -> str:
    return (
        f'headers = {{"Authorization": "Bearer {value}", "Version": "2021-07-28"}}\n'
        f'r = requests.get("https://{host}/calendars/", headers=headers, timeout=10)\n'
    )


def _postman(rng: random.Random, host: str, value: str) -> str:
    item = {
        "request": {
            "method": "GET",
            "header": [{"key": "Authorization", "value": f"Bearer {value}"}, {"key": "Version", "value": "2021-07-28"}],
            "url": {"raw": f"https://{host}/locations/{_chars(rng, B62, 20)}"},
        }
    }
    return json.dumps({"item": [item]}, indent=2) + "\n"


REQUEST_FORMATS: Dict[str, Render] = {"curl": _curl, "axios": _axios, "requests": _requests, "postman": _postman}


def positives(rng: random.Random, n: int) -> List[Sample]:
    out: List[Sample] = []
    formats = list(KEYED_FORMATS) + list(REQUEST_FORMATS)
    for i in range(n):
        kind, value = random_secret(rng)
        fmt = formats[i % len(formats)]
        if fmt in REQUEST_FORMATS:
            text = REQUEST_FORMATS[fmt](rng, rng.choice(HOSTS), value)
        else:
            text = KEYED_FORMATS[fmt](rng, rng.choice(GHL_KEYS), value)
        out.append((f"{fmt}/{kind}", text.encode(), value))
    return out


# --- negatives -----------------------------------------------------------------------------------

ID_KEYS = (
    "GHL_LOCATION_ID",
    "ghlCompanyId",
    "ghlCalendarId",
    "GHL_PIPELINE_ID",
    "ghl_stage_id",
    "GHL_CONTACT_ID",
    "ghlUserId",
    "GHL_WORKFLOW_ID",
    "ghlFormId",
    "GHL_SURVEY_ID",
    "ghlFunnelId",
    "GHL_PAGE_ID",
    "GHL_APP_ID",
    "GHL_CLIENT_ID",
    "ghlApiLocation",
    "GHL_API_KEY_ID",
)
EXPRESSIONS = (
    "${GHL_API_KEY}",
    "${{ secrets.GHL_API_KEY }}",
    "{{ .Values.ghl.apiKey }}",
    "{{$env.GHL_API_KEY}}",
    "process.env.GHL_API_KEY",
    "process.env.HIGHLEVEL_PRIVATE_TOKEN",
    'os.environ["GHL_API_KEY"]',
    "os.environ.get('GHL_API_KEY_PRODUCTION')",
    'os.getenv("GHL_API_KEY_PRODUCTION")',
    "getenv('LEADCONNECTOR_SECRET')",
    "<YOUR_GHL_API_KEY>",
    "%GHL_API_KEY%",
    "import.meta.env.VITE_GHL_API_KEY",
    "config.highlevel.apiKeyFromVault",
    "settings.GHL_PRIVATE_INTEGRATION_TOKEN",
    "this.configService.get('GHL_API_KEY')",
)
PLACEHOLDERS = (
    "your_api_key_goes_here_123",
    "YOUR-GHL-PRIVATE-TOKEN-HERE",
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    "0000000000000000000000000000",
    "abcdefghijklmnopqrstuvwxyz012345",
    "1234567890abcdef1234567890abcdef",
    "Ab12Ab12Ab12Ab12Ab12Ab12Ab12Ab12",
    "changeme-changeme-changeme",
    "SuperSecretGhlToken2024",
    "insert_your_highlevel_token",
    "REPLACE_WITH_LOCATION_API_KEY",
    "my-super-secret-api-key-value",
)
OTHER_SERVICE = (
    "sk_live_{b62:24}",
    "sk_test_{b62:24}",
    "whsec_{b62:32}",
    "AKIA{UP:16}",
    "ghp_{b62:36}",
    "github_pat_{b62:22}_{b62:59}",
    "xoxb-{dig:12}-{dig:13}-{b62:24}",
    "AIza{b64u:35}",
    "sk-proj-{b64u:48}",
    "SG.{b64u:22}.{b64u:43}",
    "glpat-{b64u:20}",
)
GHL_DOCS = (
    # In the style of GoHighLevel's API docs and SDK examples (written here, synthetic ids).
    "curl --request GET \\\n  --url 'https://services.leadconnectorhq.com/contacts/?locationId={id}' \\\n"
    "  --header 'Accept: application/json' \\\n  --header 'Authorization: Bearer <TOKEN>' \\\n"
    "  --header 'Version: 2021-07-28'\n",
    "import {{ HighLevel }} from '@gohighlevel/api-client';\n\nconst ghl = new HighLevel({{\n"
    "  privateIntegrationToken: process.env.GHL_PRIVATE_INTEGRATION_TOKEN,\n}});\n"
    "const contact = await ghl.contacts.getContact({{ contactId: '{id}' }});\n",
    "const ghl = new HighLevel({{ clientId: process.env.CLIENT_ID, clientSecret: process.env.CLIENT_SECRET }});\n"
    "app.get('/oauth/callback', async (req, res) => {{\n"
    "  const token = await ghl.oauth.getAccessToken({{ code: req.query.code }});\n}});\n",
    '{{"type": "ContactCreate", "locationId": "{id}", "id": "{id2}", "appId": "{hex24}", '
    '"email": "jane@example.com", "dateAdded": "2024-05-01T10:00:00.000Z"}}\n',
    "GHL_BASE_URL=https://services.leadconnectorhq.com\nGHL_API_VERSION=2021-07-28\n"
    "GHL_LOCATION_ID={id}\nGHL_COMPANY_ID={id2}\nGHL_REDIRECT_URI=https://app.example.com/oauth/callback\n",
    "const url = `https://services.leadconnectorhq.com/calendars/${{calendarId}}/free-slots`;\n"
    "const res = await fetch(url, {{\n"
    "  headers: {{ Authorization: `Bearer ${{accessToken}}`, Version: '2021-04-15' }},\n}});\n",
    "headers = {{\n    'Authorization': f'Bearer {{self.access_token}}',\n    'Version': '2021-07-28',\n}}\n"
    "resp = requests.post(\n    'https://services.leadconnectorhq.com/oauth/token',\n"
    "    data={{'grant_type': 'refresh_token'}},\n)\n",
    "ghl:\n  location_id: {id}\n  calendar_id: {id2}\n  pipeline_id: {id3}\n  pipeline_stage_id: {uuid}\n"
    "  api_version: 2021-07-28\n  api_key: ${{GHL_API_KEY}}\n",
    "| Header | Value |\n|---|---|\n| Authorization | Bearer `<access_token>` |\n| Version | 2021-07-28 |\n\n"
    "Base URL: `https://services.leadconnectorhq.com`\n",
    "GHL_CLIENT_ID={hex24}-{b36}\nGHL_SCOPES=contacts.readonly contacts.write\n"
    "GHL_SSO_KEY=${{SSO_KEY}}\nGHL_TOKEN_URL=https://services.leadconnectorhq.com/oauth/token\n",
)


def _fill(rng: random.Random, template: str) -> str:
    out, at = [], 0
    while True:
        start = template.find("{", at)
        if start == -1:
            return "".join(out) + template[at:]
        end = template.index("}", start)
        kind, n = template[start + 1 : end].split(":")
        alphabet = {"b62": B62, "b64u": B64URL, "UP": string.ascii_uppercase + string.digits, "dig": string.digits}
        out += [template[at:start], _chars(rng, alphabet[kind], int(n))]
        at = end + 1


def _ghl_id(rng: random.Random) -> str:
    return _chars(rng, B62, 20)


def _lockfile(rng: random.Random) -> str:
    entries = []
    for name in ("@gohighlevel/api-client", "highlevel-sdk", "axios", "lodash"):
        digest = base64.b64encode(rng.randbytes(64)).decode()
        entries.append(
            f'    "node_modules/{name}": {{\n      "version": "1.{rng.randrange(9)}.0",\n'
            f'      "resolved": "https://registry.npmjs.org/{name}/-/{name.split("/")[-1]}-1.0.0.tgz",\n'
            f'      "integrity": "sha512-{digest}"\n    }}'
        )
    return '{\n  "packages": {\n' + ",\n".join(entries) + "\n  }\n}\n"


def _minified(rng: random.Random) -> str:
    parts = []
    for _ in range(40):
        name = _chars(rng, string.ascii_lowercase, 2)
        parts.append(
            rng.choice(
                (
                    f'{name}="{_chars(rng, B62, rng.randint(16, 40))}"',
                    f'{name}.ghlLocationId="{_ghl_id(rng)}"',
                    f"{name}=function(e){{return e.hlKey||null}}",
                    f'{name}={{lcKey:"{_chars(rng, B64URL, 8)}"}}',
                    f'{name}("data:image/png;base64,{base64.b64encode(rng.randbytes(60)).decode()}")',
                )
            )
        )
    return ";".join(parts) + "\n"


def _low_entropy(rng: random.Random) -> str:
    """A value no other check rejects, only its entropy: few distinct characters, no words, no
    period (`a7Ka7aKK7a…`), or a keyboard walk."""
    if rng.random() < 0.3:
        walk = rng.choice(
            ("1qaz2wsx3edc4rfv5tgb", "qwertyuiopasdfghjkl123", "zaq12wsxcde34rfv", "poiuytrewq0987654321")
        )
        return walk[: rng.randint(16, len(walk))]
    pool = rng.sample(string.ascii_lowercase, 7) + rng.sample(string.ascii_uppercase, 6) + rng.sample(string.digits, 5)
    rng.shuffle(pool)
    pool = pool[: rng.randint(3, 18)]
    while True:
        value = "".join(rng.choice(pool) for _ in range(rng.randint(16, 40)))
        if generic.why_not_secret(value) in (None, "low entropy"):
            return value


def negatives(rng: random.Random, n: int) -> List[Sample]:
    out: List[Sample] = []
    makers: List[Tuple[str, Callable[[], str]]] = [
        ("id", lambda: f"{rng.choice(ID_KEYS)}={_ghl_id(rng)}\n"),
        ("id-json", lambda: json.dumps({rng.choice(ID_KEYS): _ghl_id(rng), "ghlApiVersion": "2021-07-28"}) + "\n"),
        ("expression", lambda: f"{rng.choice(GHL_KEYS)}={rng.choice(EXPRESSIONS)}\n"),
        ("expression-js", lambda: f"const {rng.choice(GHL_KEYS).replace('.', '_')} = {rng.choice(EXPRESSIONS)};\n"),
        ("placeholder", lambda: f"{rng.choice(GHL_KEYS)}={rng.choice(PLACEHOLDERS)}\n"),
        ("low-entropy", lambda: f"{rng.choice(GHL_KEYS)}={_low_entropy(rng)}\n"),
        ("url", lambda: f"GHL_API_URL=https://services.leadconnectorhq.com/contacts/{_ghl_id(rng)}\n"),
        ("path", lambda: f"ghlApiKeyFile: /etc/secrets/ghl/{_chars(rng, string.ascii_lowercase, 12)}.json\n"),
        ("hash", lambda: f"GHL_TOKEN_SHA256={hashlib.sha256(rng.randbytes(8)).hexdigest()}\n"),
        ("hash-md5", lambda: f'ghlPayloadHash: "{hashlib.md5(rng.randbytes(8)).hexdigest()}"\n'),
        ("uuid-not-secret", lambda: f"GHL_PIPELINE_STAGE={uuid.UUID(int=rng.getrandbits(128), version=4)}\n"),
        (
            "other-service",
            lambda: f"{rng.choice(GHL_KEYS)}={_fill(rng, rng.choice(OTHER_SERVICE))}\n",
        ),
        (
            "other-neighbour",
            lambda: (
                f"GHL_LOCATION_ID={_ghl_id(rng)}\nSTRIPE_SECRET_KEY={_chars(rng, B62, 32)}\n"
                f"OPENAI_API_KEY={_chars(rng, B64URL, 40)}\n"
            ),
        ),
        ("webhook-secret", lambda: f"GHL_WEBHOOK_SECRET={_chars(rng, B62, 32)}\n"),
        ("jwt-secret", lambda: f"GHL_APP_JWT_SECRET={_chars(rng, B64URL, 43)}\n"),
        ("lockfile", lambda: _lockfile(rng)),
        ("minified", lambda: _minified(rng)),
        (
            "docs",
            lambda: rng.choice(GHL_DOCS).format(
                id=_ghl_id(rng),
                id2=_ghl_id(rng),
                id3=_ghl_id(rng),
                uuid=uuid.UUID(int=rng.getrandbits(128), version=4),
                hex24=_chars(rng, HEX, 24),
                b36=_chars(rng, string.ascii_lowercase + string.digits, 8),
            ),
        ),
        ("highlight", lambda: f"highlight_token = '{_chars(rng, B62, 32)}'\ncalc_key = '{_chars(rng, B62, 32)}'\n"),
    ]
    for i in range(n):
        label, make = makers[i % len(makers)]
        out.append((label, make().encode(), None))
    return out


# --- scoring ---------------------------------------------------------------------------------------


def score(samples: List[Sample]) -> Dict[str, int]:
    """True positives, false negatives and false positives of the generic rule on the samples."""
    tp = fn = fp = 0
    for _label, data, secret in samples:
        found = [f.secret for f in scan_bytes(data, "calibration", now=NOW) if f.rule_id == RULE]
        if secret is None:
            fp += len(found)
        else:
            hit = secret in found
            tp += hit
            fn += not hit
            fp += len(found) - hit
    return {"tp": tp, "fn": fn, "fp": fp}


def failures(samples: List[Sample]) -> List[Tuple[str, str]]:
    """(label, what went wrong) for each sample scored wrong: for reading the table."""
    out = []
    for label, data, secret in samples:
        found = [f.secret for f in scan_bytes(data, "calibration", now=NOW) if f.rule_id == RULE]
        if secret is not None and secret not in found:
            out.append((label, f"missed {secret[:6]}…{secret[-4:]} ({generic.why_not_secret(secret)})"))
        extra = [s for s in found if s != secret]
        out += [(label, f"reported {s[:6]}…{s[-4:]}") for s in extra]
    return out


def table(seed: int, n: int) -> List[Sample]:
    rng = random.Random(seed)
    return positives(rng, n) + negatives(rng, n)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="positives and negatives each (default 2000)")
    parser.add_argument("--seed", type=int, default=10)
    parser.add_argument("--sweep", action="store_true", help="also score other entropy thresholds")
    parser.add_argument("--show", type=int, default=10, help="failures to list")
    args = parser.parse_args()
    samples = table(args.seed, args.n)
    chosen = generic.ENTROPY_RATIO
    thresholds = sorted({chosen, 0.75, 0.8, 0.85, 0.9, 0.95}) if args.sweep else [chosen]
    print(f"calibration set: {args.n} positives, {args.n} negatives, seed {args.seed}")
    print(f"{'backend':9s} {'ratio':>5s} {'TP':>5s} {'FN':>5s} {'FP':>5s} {'precision':>9s} {'recall':>7s}")
    for backend in ("hyperscan", "python"):
        prefilter.use_backend(backend)
        for threshold in thresholds:
            generic.ENTROPY_RATIO = threshold
            s = score(samples)
            precision = s["tp"] / (s["tp"] + s["fp"]) if s["tp"] + s["fp"] else 1.0
            recall = s["tp"] / (s["tp"] + s["fn"])
            mark = " <- chosen" if threshold == chosen else ""
            counts = f"{s['tp']:5d} {s['fn']:5d} {s['fp']:5d}"
            print(f"{backend:9s} {threshold:5.2f} {counts} {precision:9.4f} {recall:7.4f}{mark}")
        generic.ENTROPY_RATIO = chosen
    prefilter.use_backend("auto")
    by_label: Dict[str, int] = {}
    for label, _what in failures(samples):
        by_label[label] = by_label.get(label, 0) + 1
    print("errors by sample kind:", json.dumps(dict(sorted(by_label.items())), ensure_ascii=False))
    for label, what in failures(samples)[: args.show]:
        print(f"  {label}: {what}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
