"""Fail-closed matrix, detector rows: no input makes the detector raise (each crafted input found
by reading detect.py is a row), UTF-16/UTF-32 text is scanned decoded, and scan_stream gives
exactly scan_bytes' findings whatever the chunk boundaries. Every CLI row asserts the exit code,
that no planted secret is printed in full, and that the other planted credential is reported."""

from __future__ import annotations

import base64
import io
import json
import os
import uuid
from pathlib import Path
from typing import Callable, Dict, List

import pytest
from git_helpers import new_pit
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pit_guard.cli import main
from pit_guard.detection import detect
from pit_guard.detection.detect import scan_bytes, scan_or_error, scan_stream, scan_stream_or_error
from pit_guard.detection.rules import RULES_BY_ID

NOW = 1_750_000_000.0


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _jwt(payload: bytes, alg: object = "RS256", header: bytes = b"") -> str:
    head = header or json.dumps({"alg": alg, "typ": "JWT"}).encode()
    return _b64url(head) + "." + _b64url(payload) + "." + _b64url(os.urandom(256))


def _oauth(**claims: object) -> bytes:
    payload: Dict[str, object] = {"authClass": "Location", "authClassId": "Ab3dE5gH7jK9mN1pQ3sT", "channel": "OAUTH"}
    payload.update(claims)
    return json.dumps(payload).encode()


def _run(tmp_path: Path, capsys: pytest.CaptureFixture[str], crafted: bytes, *args: str) -> dict:
    """Scan a folder holding `crafted` and a real planted PIT; returns the JSON report."""
    other = new_pit()
    (tmp_path / "crafted.txt").write_bytes(crafted)
    (tmp_path / "other.env").write_text(f"GHL_TOKEN={other}\n")
    code = main(["scan", "--format", "json", *args, str(tmp_path)])
    out = capsys.readouterr()
    report = json.loads(out.out)
    assert other not in out.out + out.err
    assert any(f["path"].endswith("other.env") for f in report["findings"]), report
    report["exit"] = code
    report["output"] = out.out + out.err
    return report


# --- item 1: crafted inputs that made the detector raise or report garbage -------------------------

WEBHOOK_NON_HEX = b"https://services.leadconnectorhq.com/hooks/Qw3rTy7uI9oP1aS5dF8g/webhook-trigger/abcdefgh-ijkl-mnop-qrst-uvwxyz012345"
DEEP = 900  # nested below json's recursion limit: parses, but its text is kilobytes of brackets

CRAFTED: Dict[str, Callable[[], bytes]] = {
    # The string: the UUID placeholder check called int(c, 16) on `g` (ValueError).
    "webhook-trigger-uuid-shaped-not-hex": lambda: WEBHOOK_NON_HEX,
    "webhook-trigger-uuid-shaped-not-hex-url-encoded": lambda: WEBHOOK_NON_HEX.replace(b"/", b"%2F"),
    "webhook-trigger-uuid-shaped-not-hex-json-escaped": lambda: WEBHOOK_NON_HEX.replace(b"/", b"\\/"),
    # JWT claims of the wrong type were turned into text (or kept as lists) for the report.
    "jwt-authclass-deeply-nested-list": lambda: _jwt(_oauth(authClass=json.loads("[" * DEEP + "]" * DEEP))).encode(),
    "jwt-authclassid-object": lambda: _jwt(_oauth(authClassId={"a": [1, None]})).encode(),
    "jwt-authclass-null": lambda: _jwt(_oauth(authClass=None)).encode(),
    "jwt-authclass-huge-int": lambda: _jwt(
        b'{"authClass": ' + b"9" * 4000 + b', "authClassId": "Ab3dE5gH7jK9mN1pQ3sT", "channel": "OAUTH"}'
    ).encode(),
    "jwt-authclassid-terminal-escape": lambda: _jwt(_oauth(authClassId="\x1b[2J\x1b]0;pwned\x07")).encode(),
    "jwt-scopes-nested": lambda: _jwt(_oauth(oauthMeta={"scopes": [json.loads("[" * DEEP + "]" * DEEP)]})).encode(),
    "jwt-channel-list": lambda: _jwt(_oauth(channel=["OAUTH"])).encode(),
    "jwt-alg-not-a-string": lambda: _jwt(_oauth(), alg=["RS256"]).encode(),
    "jwt-header-is-a-list": lambda: _jwt(_oauth(), header=b'["RS256"]').encode(),
    "jwt-payload-is-null": lambda: _jwt(b"null").encode(),
    "jwt-payload-too-deep-for-json": lambda: _jwt(b"[" * 100_000 + b"]" * 100_000).encode(),
    # Glued JWTs: each signature runs into the next header; finditer found every other one.
    "jwt-glued-chain": lambda: (RULES_BY_ID["ghl-v1-location-api-key"].positives[0].value * 7).encode(),
    "jwt-payload-not-utf8": lambda: _jwt(b'{"authClass": "\xff\xfe"}').encode(),
    "jwt-exp-infinity-and-nan": lambda: _jwt(
        b'{"authClass": "Location", "authClassId": "Ab3dE5gH7jK9mN1pQ3sT", "channel": "OAUTH", "exp": Infinity,'
        b' "iat": NaN}'
    ).encode(),
    "jwt-enormous-base64-signature": lambda: _jwt(_oauth()).encode().rsplit(b".", 1)[0] + b"." + b"A" * 3_000_000,
    "base64-run-of-nuls-and-anchors": lambda: b"cGl0LT" + b"\x00" * 100 + b"cGl0LT" * 50_000,
}
# What each crafted input is, as a finding (None: nothing at all).
EXPECTED_RULE: Dict[str, object] = {
    "jwt-glued-chain": ["ghl-v1-location-api-key"] * 7,
    "jwt-exp-infinity-and-nan": "ghl-oauth-access-token",
    "jwt-scopes-nested": "ghl-oauth-access-token",  # the token is real; only the odd scope is dropped
}


@pytest.mark.parametrize("name", list(CRAFTED))
def test_crafted_input_never_raises_and_the_other_credential_is_reported(tmp_path, capsys, name: str) -> None:
    crafted = CRAFTED[name]()
    found, error = scan_or_error(crafted, "crafted.txt")
    assert error is None
    expected = EXPECTED_RULE.get(name, [])
    assert [f.rule_id for f in found] == (expected if isinstance(expected, list) else [expected])
    for f in found:  # what reaches a report is text, short and printable
        for value in (f.auth_class, f.location_id, f.company_id, f.client_id, *f.scopes):
            assert value is None or (isinstance(value, str) and value.isprintable() and len(value) <= 128)
    report = _run(tmp_path, capsys, crafted)
    assert report["exit"] == 1
    assert not [s for s in report["skipped"] if s["fails"]]
    for token in crafted.split():
        if len(token) > 40:
            assert token.decode("latin-1") not in report["output"]


def test_webhook_trigger_ids_keep_their_precision() -> None:
    # Real trigger ids are random UUIDs or 20-character ids: both stay findings.
    for positive in RULES_BY_ID["ghl-inbound-webhook-url"].positives:
        assert [f.rule_id for f in scan_bytes(positive.value.encode(), now=NOW)] == ["ghl-inbound-webhook-url"]
    hook = "https://services.leadconnectorhq.com/hooks/Qw3rTy7uI9oP1aS5dF8g/webhook-trigger/"
    assert scan_bytes((hook + str(uuid.uuid4())).encode(), now=NOW)
    for made_up in (
        "abcdefgh-ijkl-mnop-qrst-uvwxyz012345",
        "5c2d9e1f-7a4b-4c8d-9e2f",
        "zzzzzzzz-7a4b-4c8d-9e2f-1a3b5c7d9e0f",
    ):
        assert scan_bytes((hook + made_up).encode(), now=NOW) == []


def test_company_id_claim_of_the_wrong_type_is_dropped_not_reported() -> None:
    token = _jwt(_oauth(companyId=[1, 2], sourceId={"x": 1}, oauthMeta={"scopes": ["a.b", ["c"], None, "d"]}))
    (found,) = scan_bytes(token.encode(), now=NOW)
    assert (found.company_id, found.client_id, found.scopes) == (None, None, ("a.b", "d"))


def test_markdown_and_sarif_reports_take_every_crafted_claim(tmp_path, capsys) -> None:
    crafted = b"\n".join(CRAFTED[name]() for name in ("jwt-exp-infinity-and-nan", "jwt-authclassid-object"))
    crafted += b"\n" + _jwt(_oauth(companyId=[1, 2], sourceId={"x": 1})).encode()
    for fmt in ("markdown", "sarif", "text"):
        report_args = ("--format", fmt)
        other = new_pit()
        (tmp_path / "crafted.txt").write_bytes(crafted)
        (tmp_path / "other.env").write_text(f"GHL_TOKEN={other}\n")
        assert main(["scan", *report_args, str(tmp_path)]) == 1
        out = capsys.readouterr()
        assert other not in out.out + out.err and "Traceback" not in out.err


# --- item 2: UTF-16 / UTF-32 text ---------------------------------------------------------------

WIDE = {
    "utf-16-le-bom": lambda t: b"\xff\xfe" + t.encode("utf-16-le"),
    "utf-16-be-bom": lambda t: b"\xfe\xff" + t.encode("utf-16-be"),
    "utf-16-le-no-bom (PowerShell >)": lambda t: t.encode("utf-16-le"),
    "utf-16-be-no-bom": lambda t: t.encode("utf-16-be"),
    "utf-32-le-bom": lambda t: b"\xff\xfe\x00\x00" + t.encode("utf-32-le"),
    "utf-32-be-bom": lambda t: b"\x00\x00\xfe\xff" + t.encode("utf-32-be"),
}


@pytest.mark.parametrize("encoding", list(WIDE))
def test_wide_text_is_scanned_decoded_with_lines_and_columns_in_characters(tmp_path, capsys, encoding: str) -> None:
    secret = new_pit()
    text = f"# réglages\r\n$env:GHL_TOKEN = '{secret}'\r\n"
    crafted = WIDE[encoding](text)
    (found,) = scan_bytes(crafted, "x.ps1", now=NOW)
    assert (found.secret, found.line, found.column, found.encoding) == (secret, 2, 19, "plain")
    assert scan_stream(io.BytesIO(crafted).read, "x.ps1", chunk_size=7, now=NOW) == [found]
    report = _run(tmp_path, capsys, crafted)
    assert report["exit"] == 1
    assert secret not in report["output"]
    (row,) = [f for f in report["findings"] if f["path"].endswith("crafted.txt")]
    assert (row["line"], row["column"]) == (2, 19)


@pytest.mark.parametrize("order", ["utf-16-le", "utf-16-be"])
def test_utf16_token_inside_a_binary_file_is_found(tmp_path, capsys, order: str) -> None:
    secret = new_pit()
    blob = bytes(range(256)) * 40  # a NUL in the first 4 KB: binary, as git tells it
    crafted = blob + b"\x00\x00" + f"GHL_TOKEN={secret}".encode(order) + b"\x00\x00" + blob
    (found,) = scan_bytes(crafted, "app.exe", now=NOW)
    assert found.secret == secret
    assert scan_stream(io.BytesIO(crafted).read, "app.exe", chunk_size=64, now=NOW) == [found]
    report = _run(tmp_path, capsys, crafted)
    assert report["exit"] == 1 and secret not in report["output"]
    assert [f["rule_id"] for f in report["findings"] if f["path"].endswith("crafted.txt")] == [found.rule_id]


def test_plain_ascii_with_a_few_nuls_is_not_taken_for_utf16() -> None:
    assert detect.wide_encoding(b"abc\x00def\x00" * 10) is None
    assert detect.wide_encoding(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 10) is None
    assert detect.wide_encoding(b"plain text, no NUL" * 100) is None


# --- item 3: streams ------------------------------------------------------------------------------


@pytest.fixture
def small_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    """Shrink the reaches the stream overlap is made of (the same module constants that
    scan_bytes uses), so that windows of 64..4096 bytes are exercised in kilobytes of data."""
    monkeypatch.setattr(detect, "_MAX_B64_RUN", 400)
    monkeypatch.setattr(detect, "_CONTEXT_WINDOW", 120)
    monkeypatch.setattr(detect, "_MAX_TOKEN", 1024)


_PIT = "pit-3f2b9c4e-8a1d-4c6e-9b7a-1e2d3c4b5a69"
_STREAM_PIECES = [
    b"\n",
    b"\r\n",
    b" ",
    b"x" * 37,
    b"A" * 150,
    b" pit-guard: allow ",
    "é€😀".encode(),
    b"\xe2\x82",
    b"\xef\xbb\xbf",
    _PIT.encode(),
    base64.b64encode(b"GHL_TOKEN: " + _PIT.encode()),
    base64.b64encode(b"x" * 120 + _PIT.encode() + b"y" * 60),
    # wrapped at 64 (LF) and 76 (CRLF) columns, and base64 of base64 (det2)
    base64.encodebytes(b"x" * 50 + b" GHL_TOKEN=" + _PIT.encode()),
    b"\r\n".join(base64.b64encode(b"xy GHL_TOKEN=" + _PIT.encode())[i : i + 64] for i in range(0, 72, 64)) + b"\r\n",
    base64.b64encode(base64.b64encode(b"GHL_TOKEN=" + _PIT.encode())) + b"\n",
    ("t=" + _PIT).encode("utf-32-le"),
    b'GHL_CLIENT_SECRET="c4e7a1d9-8b2f-4e63-a5d0-7f19b3c82e46"',
    b"sso_key: 1e9d7c5b-3a2f-4d8e-b6c4-0a9f8e7d6c5b",
    b"highlevel",
    RULES_BY_ID["ghl-v1-location-api-key"].positives[0].value.encode(),
    RULES_BY_ID["ghl-oauth-access-token"].positives[0].value.encode(),
    RULES_BY_ID["ghl-inbound-webhook-url"].positives[0].value.encode(),
]
# Pieces joined by spaces: scan_stream is exact for tokens up to _MAX_TOKEN and base64 runs up to
# _MAX_B64_RUN (see stream_overlap); glued pieces would make longer ones (JWTs glued into one run).
_stream_data = st.lists(st.one_of(st.sampled_from(_STREAM_PIECES), st.binary(max_size=8)), max_size=100).map(b" ".join)


def _chunked(data: bytes, sizes: List[int]) -> Callable[[int], bytes]:
    """A reader returning short reads of the given sizes in turn (as pipes do)."""
    stream, turn = io.BytesIO(data), [0]

    def read(n: int) -> bytes:
        turn[0] += 1
        return stream.read(min(n, sizes[turn[0] % len(sizes)]))

    return read


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    data=_stream_data,
    chunk=st.integers(64, 4096),
    reads=st.lists(st.integers(1, 5000), min_size=1, max_size=4),
    wide=st.sampled_from([None, None, None, "utf-16", "utf-16-le", "utf-16-be", "utf-32"]),
)
def test_scan_stream_equals_scan_bytes(small_windows, data: bytes, chunk: int, reads: List[int], wide) -> None:
    if wide:  # the same text as UTF-16/32: decoded across window edges and odd-sized reads
        data = data.decode("utf-8", "replace").encode(wide)
    whole = scan_bytes(data, "p", now=NOW, keep_allowed=True)
    assert scan_stream(_chunked(data, reads), "p", chunk_size=chunk, now=NOW, keep_allowed=True) == whole
    assert scan_stream(io.BytesIO(data).read, "p", chunk_size=chunk, now=NOW) == [f for f in whole if not f.allowed]


@pytest.mark.parametrize("shift", range(0, 400, 37))
def test_tokens_straddling_every_window_edge_are_found_once(small_windows, shift: int) -> None:
    # Tokens every 97 bytes with 64-byte windows: every token crosses or touches an edge somewhere.
    lines = [("y" * (shift % 23)) + f"k{i}={new_pit()} z" for i in range(40)]
    data = ("\n".join(lines)).encode()
    whole = scan_bytes(data, now=NOW)
    assert len(whole) == 40
    assert scan_stream(io.BytesIO(data).read, chunk_size=64, now=NOW) == whole


def test_token_straddling_the_32mb_boundary_is_found_once() -> None:
    secret = new_pit()
    edge = detect.STREAM_CHUNK
    data = bytearray(b"a" * (edge + 4096))
    data[edge - 21 : edge - 20 + len(secret) + 1] = b" " + secret.encode() + b" "
    data[1000:1001] = b"\n"
    found = scan_stream(io.BytesIO(bytes(data)).read, "big.bin", now=NOW)
    assert [(f.secret, f.line, f.column) for f in found] == [(secret, 2, edge - 20 - 1000)]


def test_scan_stream_or_error_keeps_allowed_and_names_only_the_error_type(monkeypatch) -> None:
    secret = new_pit()
    data = f"a={secret}  # pit-guard: allow\n".encode()
    found, error = scan_stream_or_error(io.BytesIO(data).read, "a.txt")
    assert error is None and [f.allowed for f in found] == [True]

    def broken(*_args: object) -> None:
        raise ValueError(secret)

    monkeypatch.setattr(detect, "_pits", broken)
    found, error = scan_stream_or_error(io.BytesIO(data).read, "a.txt")
    assert found == [] and error == "detector error (ValueError); please report it"

    def failing_read(_n: int) -> bytes:
        raise OSError(5, "Input/output error")

    with pytest.raises(OSError):  # the source's own error is the caller's to report, with its name
        scan_stream_or_error(failing_read, "a.txt")


# --- det2 item 1: wide text anywhere in a file, not only in its first 4 KB -------------------------

WIDE_ANYWHERE = {
    "utf-32-le-no-bom": lambda t: t.encode("utf-32-le"),
    "utf-32-be-no-bom": lambda t: t.encode("utf-32-be"),
    "utf-16-le-no-bom-cjk-head": lambda t: ("中文" * 3000 + "\n" + t).encode("utf-16-le"),
    "utf-16-be-no-bom-cjk-head": lambda t: ("中文" * 3000 + "\n" + t).encode("utf-16-be"),
    # Windows PowerShell's `>>`: an ASCII file with UTF-16 text appended.
    "ascii-then-utf-16-le (PowerShell >>)": lambda t: b"ascii header\n" * 400 + t.encode("utf-16-le"),
    "ascii-then-utf-32-le": lambda t: b"ascii header\n" * 400 + t.encode("utf-32-le"),
    "utf-8-then-utf-16-be": lambda t: "en-tête\n".encode() * 600 + t.encode("utf-16-be"),
}


@pytest.mark.parametrize("kind", list(WIDE_ANYWHERE))
def test_wide_token_anywhere_in_a_file_is_found(tmp_path, capsys, kind: str) -> None:
    secret = new_pit()
    crafted = WIDE_ANYWHERE[kind](f"TOKEN={secret}\n")
    found = scan_bytes(crafted, "w.txt", now=NOW)
    assert [f.secret for f in found] == [secret]
    assert scan_stream(io.BytesIO(crafted).read, "w.txt", chunk_size=1000, now=NOW) == found
    report = _run(tmp_path, capsys, crafted)
    assert report["exit"] == 1 and secret not in report["output"]
    assert [f["rule_id"] for f in report["findings"] if f["path"].endswith("crafted.txt")] == [found[0].rule_id]


# --- det2 item 2: base64 wrapped at a fixed width (`base64`, MIME at 76, PEM at 64) ----------------


def _wrapped(raw: bytes, width: int, newline: bytes) -> bytes:
    encoded = base64.b64encode(raw)
    return b"".join(encoded[i : i + width] + newline for i in range(0, len(encoded), width))


@pytest.mark.parametrize("width", [76, 64, 60])
@pytest.mark.parametrize("newline", [b"\n", b"\r\n"])
@pytest.mark.parametrize("lead", [0, 1, 2, 7, 30])
def test_token_crossing_a_line_of_wrapped_base64_is_found(tmp_path, capsys, width, newline, lead) -> None:
    secret = new_pit()
    raw = b"D" * lead + f"DATABASE_URL=postgres://u@h/db\nGHL_TOKEN={secret}\n".encode()
    crafted = b"# env, base64\n" + _wrapped(raw, width, newline) + b"# end\n"
    found = scan_bytes(crafted, "e.b64", now=NOW)
    # Reported at the start of the block: the line after the comment, column 1.
    assert [(f.secret, f.line, f.column, f.encoding) for f in found] == [(secret, 2, 1, "base64")]
    assert scan_stream(io.BytesIO(crafted).read, "e.b64", chunk_size=50, now=NOW) == found
    report = _run(tmp_path, capsys, crafted)
    assert report["exit"] == 1 and secret not in report["output"]


# --- det2 item 4: base64 inside base64 ------------------------------------------------------------


@pytest.mark.parametrize("form", ["line", "wrapped", "no-final-newline"])
def test_doubly_base64_encoded_token_is_found(tmp_path, capsys, form: str) -> None:
    # `echo "GHL_TOKEN=$T" | base64 -w0 | base64 -w0`, with `base64` wrapping, or ending a line.
    secret = new_pit()
    once = base64.b64encode(f"GHL_TOKEN={secret}\n".encode())
    twice = base64.b64encode(once)
    crafted = {"line": twice + b"\n", "wrapped": _wrapped(once, 76, b"\n"), "no-final-newline": twice}[form]
    found = scan_bytes(crafted, "twice.b64", now=NOW)
    assert [(f.secret, f.line, f.encoding) for f in found] == [(secret, 1, "base64")]
    assert scan_stream(io.BytesIO(crafted).read, "twice.b64", chunk_size=64, now=NOW) == found
    report = _run(tmp_path, capsys, crafted)
    assert report["exit"] == 1 and secret not in report["output"]


def test_a_zero_width_no_break_space_after_a_utf16_bom_counts_the_same_streamed_and_whole() -> None:
    """Found by the stream property test: U+FEFF right after a UTF-16 byte order mark is a character
    of the text (column 3 here), whether the input is scanned whole or streamed byte by byte."""
    data = "\ufeff\ufeff pit-3f2b9c4e-8a1d-4c6e-9b7a-1e2d3c4b5a69".encode("utf-16-le")
    data = b"\xff\xfe" + data[2:]
    pieces = iter([data[i : i + 1] for i in range(len(data))])
    streamed = detect.scan_stream(lambda n: next(pieces, b""), "p", chunk_size=64, now=0, keep_allowed=True)
    whole = detect.scan_bytes(data, "p", now=0, keep_allowed=True)
    assert [(f.line, f.column) for f in whole] == [(f.line, f.column) for f in streamed] == [(1, 3)]
