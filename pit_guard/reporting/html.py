"""`--format html`: one self-contained page for people working through an incident.

Inline CSS and JavaScript only, no URL of any kind (a Content-Security-Policy of `default-src 'none'`
forbids the browser to fetch anything even if one slipped in), so it opens from file:// offline.
Every string from outside (paths, branch names, authors, reasons, account names) goes through
html.escape; the secret shows redacted unless --show-secrets (through Finding.shown only).

Per credential (findings grouped by fingerprint): status, what it reaches, its exposure timeline
(first commit, commits carrying it, still in HEAD, branches, pushed or local only), its places and a
revocation checklist whose ticks persist in the browser's localStorage. Filters by status, kind and
repository, also from the URL fragment (`report.html#status=live&kind=...`), so a link can share a
filtered view.
"""

from __future__ import annotations

import datetime
import html
from typing import Any, Dict, List, Optional, Sequence, Tuple

from pit_guard import __version__
from pit_guard.detection.rules import RULES, RULES_BY_ID
from pit_guard.finding import Finding, Suppression, Unread, describe_suppressed

# Places listed per credential before "and N more" (the JSON report has them all).
MAX_PLACES = 20
MAX_BRANCHES = 30  # branches named per credential, then how many more
_STATUS_ORDER = ("live", "unknown", "not-checked", "not validated", "dead", "expired")


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _status(f: Finding) -> str:
    if f.validation is not None:
        return f.validation.status
    return "expired" if f.expired else "not validated"


def _reach(f: Finding) -> Any:
    """The finding's reach (validation/reach.py) when present: read by attribute, shape in docs/reach.md."""
    return getattr(f, "reach", None)


def _blast_radius(f: Finding) -> int:
    reach = _reach(f)
    radius = getattr(reach, "blast_radius", 0) if reach is not None else 0
    return radius if isinstance(radius, int) else 0


def _repository(f: Finding) -> str:
    """The repository a finding came from, where the source tells (a fleet audit); "" otherwise."""
    repo = getattr(f, "repository", None)
    return repo if isinstance(repo, str) else ""


def _place(f: Finding) -> str:
    where = f"<code>{_e(f.path)}</code> line {f.line}"
    if f.encoding != "plain":
        where += f" ({_e(f.encoding)})"
    if f.provenance is not None:
        where += f", commit <code>{_e(f.provenance.commit[:12])}</code>"
    return where


def _timeline(f: Finding) -> str:
    p = f.provenance
    if p is None:
        return '<p class="muted">Not from git history (a file scan): no commit timeline.</p>'
    rows: List[Tuple[str, str]] = [
        ("First commit", f"<code>{_e(p.commit[:12])}</code> by {_e(p.author)} on {_e(p.date)}"),
        ("Commits carrying it", _e(p.commit_count)),
    ]
    if p.last_commit is not None:
        rows.insert(1, ("Last commit", f"<code>{_e(p.last_commit[:12])}</code> on {_e(p.last_date or '')}"))
    if p.in_head is not None:
        rows.append(("Still in HEAD", "yes" if p.in_head else "no (history only)"))
    if p.branches is not None:
        remote = [b for b in p.branches if b.startswith("remotes/")]
        shown = ", ".join(f"<code>{_e(b)}</code>" for b in p.branches[:MAX_BRANCHES]) or "none (tags, stash)"
        if len(p.branches) > MAX_BRANCHES:
            shown += f" and {len(p.branches) - MAX_BRANCHES} more"
        rows.append(("Branches", shown))
        rows.append(("Pushed", "yes: it left this machine" if remote else "local branches only"))
    body = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    return f'<table class="timeline">{body}</table>'


def _reach_html(f: Finding) -> str:
    reach = _reach(f)
    if reach is None:
        return ""
    parts = [f'<p class="reach"><b>Reaches:</b> {_e(getattr(reach, "summary", "") or getattr(reach, "kind", ""))}']
    names = [str(n) for n in getattr(reach, "first_sub_accounts", ()) or ()]
    if names:
        parts.append(f" (first: {_e(', '.join(names))})")
    parts.append("</p>")
    for label, key in (("Scopes working", "scopes_working"), ("Scopes claimed", "scopes_claimed")):
        scopes = [str(s) for s in getattr(reach, key, ()) or ()]
        if scopes:
            parts.append(f'<p class="muted">{label}: {_e(" ".join(scopes))}</p>')
    note = getattr(reach, "note", "")
    if note:
        parts.append(f'<p class="muted">{_e(note)}</p>')
    return "".join(parts)


def _checklist(first: Finding, status: str) -> List[Tuple[str, str]]:
    """(step id, text): the id keys the tick in localStorage, so a tick means the same step in every
    report of this credential (the list differs by status: a position would not)."""
    rule = RULES_BY_ID[first.rule_id]
    if status in ("dead", "expired"):
        steps = [("confirm", f"Confirm it no longer works ({status}): no revocation needed")]
    else:
        steps = [
            ("revoke", f"Revoke it: {rule.revoke}"),
            ("replace", "Put the new credential where the integration reads it (secret store or environment)"),
        ]
    steps.append(("remove", "Remove it from every place listed (and from history: `pit-guard purge`)"))
    return steps


def _credential(places: List[Finding], show_secrets: bool) -> str:
    first = places[0]
    rule = RULES_BY_ID[first.rule_id]
    status = _status(first)
    fp = first.fingerprint
    unique: Dict[str, Finding] = {}
    for f in sorted(places, key=lambda f: (f.path, f.line, f.column)):
        unique.setdefault(_place(f), f)
    listed = list(unique)
    with_history = [f for f in places if f.provenance is not None]
    widest = max(with_history, key=lambda f: f.provenance.commit_count if f.provenance else 0, default=first)
    # a fleet audit: the same credential in several repositories is one article, shown under each of them
    repos = sorted({_repository(f) for f in places} - {""})
    repo = "\n".join(repos)
    out = [
        f'<article class="cred" data-status="{_e(status)}" data-kind="{_e(rule.id)}" data-repo="{_e(repo)}" '
        f'data-fp="{_e(fp)}">',
        f'<h3>{_e(rule.name)} <code class="secret">{_e(first.shown(show_secrets))}</code> '
        f'<span class="badge s-{_e(status.replace(" ", "-"))}">{_e(status)}</span></h3>',
    ]
    facts = [f"Rule <code>{_e(rule.id)}</code>"]
    if repos:
        named = ", ".join(f"<code>{_e(r)}</code>" for r in repos)
        facts.append(f"repositor{'ies' if len(repos) > 1 else 'y'} {named}")
    if first.location_id:
        near = " (an id written near it, not confirmed)" if first.location_near else ""
        facts.append(f"sub-account (location) <code>{_e(first.location_id)}</code>{near}")
    if first.company_id:
        facts.append(f"agency (company) <code>{_e(first.company_id)}</code>")
    if first.validation is not None and first.validation.reason:
        facts.append(f"status reason: {_e(first.validation.reason)}")
    out.append(f'<p class="muted">{"; ".join(facts)}</p>')
    out.append(_reach_html(first))
    out.append("<h4>Exposure</h4>" + _timeline(widest))
    more = f" and {len(listed) - MAX_PLACES} more (see --format json)" if len(listed) > MAX_PLACES else ""
    items = "".join(f"<li>{place}</li>" for place in listed[:MAX_PLACES])
    out.append(
        f"<details><summary>Found in {len(listed)} place{'s' if len(listed) != 1 else ''}{more}</summary>"
        f"<ul>{items}</ul></details>"
    )
    steps = "".join(
        f'<li><label><input type="checkbox" data-key="{_e(fp)}:{key}"> <span>{_e(step)}</span></label></li>'
        for key, step in _checklist(first, status)
    )
    out.append(f'<h4>Revocation checklist</h4><ul class="check">{steps}</ul></article>')
    return "\n".join(out)


def _summary(credentials: List[List[Finding]], findings: Sequence[Finding]) -> str:
    statuses = [_status(c[0]) for c in credentials]
    live = statuses.count("live")
    out = [
        f'<p class="big"><b>{len(credentials)}</b> credential{"s" if len(credentials) != 1 else ""} in '
        f"<b>{len(findings)}</b> place{'s' if len(findings) != 1 else ''}; "
        f'<b class="{"s-live" if live else ""}">{live} live</b></p>'
    ]
    present = [s for s in _STATUS_ORDER if s in statuses] + sorted(set(statuses) - set(_STATUS_ORDER))
    if credentials:
        head = "".join(f"<th>{_e(s)}</th>" for s in present)
        rows = []
        for rule in RULES:
            mine = [_status(c[0]) for c in credentials if c[0].rule_id == rule.id]
            if mine:
                cells = "".join(f"<td>{mine.count(s) or ''}</td>" for s in present)
                rows.append(f"<tr><th>{_e(rule.name)}</th>{cells}<td>{len(mine)}</td></tr>")
        out.append(f'<table class="kinds"><tr><th>Kind</th>{head}<th>All</th></tr>{"".join(rows)}</table>')
    wide = [c for c in credentials if _blast_radius(c[0]) > 0][:5]
    if wide:
        items = "".join(
            f"<li>{_e(RULES_BY_ID[c[0].rule_id].name)} {_e(c[0].redacted)}: "
            f"{_e(getattr(_reach(c[0]), 'summary', ''))}</li>"
            for c in wide
        )
        out.append(f"<h3>Widest reach first</h3><ol>{items}</ol>")
    return "\n".join(out)


def _select(name: str, label: str, values: Sequence[Tuple[str, str]]) -> str:
    options = "".join(f'<option value="{_e(v)}">{_e(text)}</option>' for v, text in values)
    select = f'<select id="f-{name}" data-filter="{name}"><option value="">all</option>{options}</select>'
    return f"<label>{label} {select}</label>"


def format_html(
    findings: Sequence[Finding],
    skipped: Sequence[Unread],
    show_secrets: bool = False,
    *,
    suppressed: Sequence[Suppression] = (),
    started: Optional[datetime.datetime] = None,
) -> str:
    groups: Dict[str, List[Finding]] = {}
    for f in findings:
        groups.setdefault(f.fingerprint, []).append(f)
    rule_order = {rule.id: i for i, rule in enumerate(RULES)}
    status_rank = {s: i for i, s in enumerate(_STATUS_ORDER)}
    credentials = sorted(
        groups.values(),
        key=lambda c: (
            -_blast_radius(c[0]),
            status_rank.get(_status(c[0]), len(_STATUS_ORDER)),
            rule_order.get(c[0].rule_id, 99),
            c[0].fingerprint,
        ),
    )
    statuses = sorted({_status(c[0]) for c in credentials}, key=lambda s: status_rank.get(s, 99))
    kinds = sorted({c[0].rule_id for c in credentials}, key=lambda r: rule_order.get(r, 99))
    repos = sorted({_repository(f) for f in findings} - {""})
    filters = [
        _select("status", "Status", [(s, s) for s in statuses]),
        _select("kind", "Kind", [(k, RULES_BY_ID[k].name) for k in kinds]),
    ]
    if repos:
        filters.append(_select("repo", "Repository", [(r, r) for r in repos]))
    body = [
        "<header><h1>GoHighLevel credentials: what leaked and what to do</h1>",
        f'<p class="muted">pit-guard {_e(__version__)}'
        + (f", run started {_e(started.strftime('%Y-%m-%d %H:%M UTC'))}" if started else "")
        + (", secrets shown in full" if show_secrets else ", secrets redacted")
        + "</p></header>",
        '<section id="summary"><h2>Summary</h2>' + _summary(credentials, findings) + "</section>",
    ]
    if any(not u.chosen for u in skipped):
        body.append('<p class="alert">Incomplete scan: the inputs under <i>Not scanned</i> were not read.</p>')
    body.append(
        '<section id="credentials"><h2>Credentials</h2>'
        f'<div class="filters">{"".join(filters)} <output id="shown">{len(credentials)} shown</output></div>'
    )
    body += [_credential(c, show_secrets) for c in credentials]
    if not credentials:
        body.append("<p>pit-guard found no GoHighLevel credentials.</p>")
    body.append("</section>")
    if skipped:
        items = "".join(
            f"<li><code>{_e(u.path)}</code>: {'skipped' if u.chosen else 'not scanned'}: {_e(u.reason)}</li>"
            for u in skipped
        )
        body.append(f'<section id="unread"><h2>Not scanned</h2><ul>{items}</ul></section>')
    told = describe_suppressed(suppressed)
    if told:
        body.append(f'<section id="suppressed"><h2>Suppressed</h2><p>{_e(told)}</p></section>')
    body.append('<footer class="muted">Resources loaded: <output id="net">not measured</output></footer>')
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">\n'
        # Nothing may be fetched: no image, font, frame, connection or form target.
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; script-src 'unsafe-inline'; form-action 'none'; base-uri 'none'\">\n"
        '<meta name="referrer" content="no-referrer">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        "<title>pit-guard report</title>\n"
        f"<style>{_CSS}</style></head>\n<body>\n" + "\n".join(body) + f"\n<script>{_JS}</script>\n</body></html>\n"
    )


_CSS = """
body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;max-width:980px;padding:1em 1.5em;
 color:#1d2330;background:#fafbfc}
h1{font-size:1.5em}h2{border-bottom:1px solid #d6dae1;padding-bottom:.2em}h3{margin:.2em 0}h4{margin:.8em 0 .3em}
code{font:13px ui-monospace,monospace;background:#eef0f4;padding:0 .25em;border-radius:3px;overflow-wrap:anywhere}
.muted{color:#5b6372}.big{font-size:1.2em}.alert{background:#fde8e8;border:1px solid #e0a3a3;padding:.5em}
table{border-collapse:collapse}th,td{padding:.2em .6em;text-align:left;border-bottom:1px solid #e3e6eb}
.kinds td{text-align:center}
.cred{background:#fff;border:1px solid #d6dae1;border-left:6px solid #8a94a6;border-radius:6px;
 padding:.8em 1em;margin:1em 0;content-visibility:auto;contain-intrinsic-size:auto 420px}
.cred[data-status=live]{border-left-color:#c62828}.cred[data-status=unknown]{border-left-color:#e68a00}
.cred[data-status=dead],.cred[data-status=expired]{border-left-color:#2e7d32}
.badge{font-size:.75em;padding:.1em .5em;border-radius:1em;background:#8a94a6;color:#fff;vertical-align:middle}
.s-live{background:#c62828;color:#fff}b.s-live{background:none;color:#c62828}.s-unknown{background:#e68a00}
.s-dead,.s-expired{background:#2e7d32}
.filters{display:flex;gap:1em;flex-wrap:wrap;align-items:center;margin:.5em 0}
.check{list-style:none;padding-left:0}
.check input:checked+span{text-decoration:line-through;color:#5b6372}
[hidden]{display:none!important}
"""

# Filters (from the select boxes and the URL fragment) and the checklist's memory (localStorage).
# No fetch, no XHR, no element that loads anything: the footer shows what the browser loaded
# (performance entries of type "resource"), which must stay 0.
_JS = """
(function(){
var KEYS=['status','kind','repo'];
function sel(k){return document.getElementById('f-'+k);}
function readHash(){var out={};location.hash.replace(/^#/,'').split('&').forEach(function(p){
  var i=p.indexOf('=');
  if(i>0){try{out[decodeURIComponent(p.slice(0,i))]=decodeURIComponent(p.slice(i+1));}catch(e){}}});
  return out;}
function apply(){var want={},n=0;KEYS.forEach(function(k){var s=sel(k);if(s&&s.value)want[k]=s.value;});
  document.querySelectorAll('article.cred').forEach(function(a){var ok=KEYS.every(function(k){
    return !want[k]||(a.getAttribute('data-'+k)||'').split('\\n').indexOf(want[k])>=0;});
    if(ok){a.removeAttribute('hidden');n++;}else{a.setAttribute('hidden','');}});
  document.getElementById('shown').textContent=n+' shown';return want;}
function fromHash(){var h=readHash();KEYS.forEach(function(k){var s=sel(k);if(!s)return;
  var v=h[k]||'';if(v&&!Array.prototype.some.call(s.options,function(o){return o.value===v;})){
    var o=document.createElement('option');o.value=v;o.textContent=v;s.appendChild(o);}s.value=v;});apply();}
KEYS.forEach(function(k){var s=sel(k);if(s)s.addEventListener('change',function(){var want=apply();
  var parts=Object.keys(want).map(function(k){return encodeURIComponent(k)+'='+encodeURIComponent(want[k]);});
  history.replaceState(null,'',parts.length?'#'+parts.join('&'):location.pathname+location.search);});});
window.addEventListener('hashchange',fromHash);fromHash();
var store=null;try{store=window.localStorage;}catch(e){}
document.querySelectorAll('.check input[type=checkbox]').forEach(function(box){
  var key='pit-guard:'+box.getAttribute('data-key');
  try{if(store&&store.getItem(key)==='1'){box.checked=true;box.setAttribute('checked','');}}catch(e){}
  box.addEventListener('change',function(){try{if(box.checked){store.setItem(key,'1');box.setAttribute('checked','');}
    else{store.removeItem(key);box.removeAttribute('checked');}}catch(e){}});});
function net(){var n=performance.getEntriesByType('resource').length;
  document.getElementById('net').textContent=String(n);}
if(document.readyState==='complete')net();else window.addEventListener('load',net);
})();
"""
