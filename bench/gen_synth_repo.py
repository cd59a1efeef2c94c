#!/usr/bin/env python3
"""Build a deterministic synthetic git repository with GoHighLevel-shaped credentials planted at
known places, and write where they are as JSON ground truth (for bench/bench_history.py).

    python3 bench/gen_synth_repo.py OUT.git --ground-truth OUT.truth.json [--commits 20000]

OUT.git is created as a bare repository; clone it to get a work tree with remote-tracking branches.
The same --seed and options always give the same commits (dates included), so the same hashes.
Only the Python standard library and the git CLI are used: history is streamed to `git fast-import`.

Planted credentials (every one must be reported), by category:
  head              still in a file of the default branch's last commit
  history_line      a line added, then removed by a later commit
  history_file      a file added, then deleted by a later commit
  bundle_head       inside a one-line minified JS bundle (about --bundle-kb KiB), still there
  bundle_history    inside the bundle, removed again later
  unmerged_branch   only on a feature branch never merged into the default branch
  merged_branch     added on a feature branch that is later merged
Kinds: `pit` (Private Integration Token: "pit-" + lowercase UUID v4) and `v1_location_jwt` (API v1
location key: an HS256 JWT whose payload holds a 20-character location_id and "version": 1).

Decoys (none may be reported): bare UUIDs, "pit-" followed by something that is not a UUID,
placeholder tokens (x's, zeros, repeated or counting digits), a UUID after "cockpit-"-like words,
JWTs without a GoHighLevel payload, and a v1-shaped JWT whose ids and signature are all "x".
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import random
import subprocess
import sys
import time
import uuid
from typing import Callable, Dict, List, Optional, Set, Tuple

EPOCH = 1_546_300_800  # 2019-01-01T00:00:00Z: the first commit's date
ALPHANUMERIC = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
BUNDLE_PATH = "web/public/assets/app.min.js"

NOUNS = (
    "account agent alarm batch bill board booking branch broker bucket calendar call campaign card "
    "cart case channel chart check client coupon course credit cursor customer deal device digest "
    "draft email entry estimate event export feed field filter folder form funnel gateway grant "
    "group import inbox index invoice issue item job label layer lead ledger limit listing loader "
    "locale lookup mailbox margin media member menu merchant message meter note notice offer order "
    "owner package page panel partner payment period pipeline plan policy portal preview price "
    "product profile prompt quote rate reader receipt record region reminder report request review "
    "route rule sample schedule score segment sender session shipment sitemap slot snippet source "
    "stage status store survey table tag task team tenant thread ticket timer topic tracker trigger "
    "upload user vendor view visit voucher widget worker workflow"
).split()
VERBS = (
    "add apply build check clear count fetch find format handle list load make map merge parse pick post push "
    "read render resolve save send sort split sync update"
).split()
PEOPLE = (
    ("Ada Brennan", "ada.brennan"),
    ("Bruno Ferri", "bruno.ferri"),
    ("Chiara Lenz", "chiara.lenz"),
    ("Dara Okafor", "dara.okafor"),
    ("Emil Novak", "emil.novak"),
    ("Fatima Zahra", "fatima.zahra"),
    ("Gustav Holm", "gustav.holm"),
    ("Hana Mori", "hana.mori"),
    ("Ivo Petrov", "ivo.petrov"),
    ("Jun Park", "jun.park"),
    ("Kofi Mensah", "kofi.mensah"),
    ("Lena Vogel", "lena.vogel"),
)
SUBJECTS = (
    "Fix {n} {n2} when {n3} is empty",
    "Add {n} filter to {n2} view",
    "Refactor {v} {n} into its own module",
    "Speed up {n} lookup",
    "Remove dead {n} code",
    "Handle {n} errors in {n2} worker",
    "Rename {n} to {n2}",
    "Update {n} docs",
    "Cover {n} {n2} in tests",
    "Bump {n} client",
    "Log {n} retries",
    "Validate {n} input",
)
# (language, share of files, folders, suffix)
LANGUAGES = (
    ("py", 32, ("app", "app/api", "app/services", "app/models", "tests", "tools"), ".py"),
    ("js", 28, ("web/src", "web/src/components", "web/src/store", "web/test"), ".js"),
    ("yaml", 12, ("deploy", "deploy/helm", ".github/workflows", "config"), ".yaml"),
    ("json", 10, ("config", "web/i18n", "fixtures"), ".json"),
    ("md", 10, ("docs", "docs/guides"), ".md"),
    ("sh", 5, ("bin", "deploy/scripts"), ".sh"),
    ("env", 3, ("config/env",), ".env"),
)
# Credential-bearing names and the line shapes a credential is assigned with, per language.
KEY_NAMES = ("GHL_API_KEY", "GHL_PIT", "HIGHLEVEL_TOKEN", "LEADCONNECTOR_KEY", "CRM_TOKEN", "LOCATION_API_KEY")
SECRET_SHAPES: Dict[str, Tuple[str, ...]] = {
    "py": ('{K} = "{S}"', '    session.headers["Authorization"] = "Bearer {S}"', "    api = GhlClient(token='{S}')"),
    "js": ("const {k} = '{S}';", "    headers: {{ Authorization: 'Bearer {S}' }},", '  token: "{S}",'),
    "yaml": ("  {k}: {S}", '  api_token: "{S}"'),
    "json": ('  "{k}": "{S}",', '  "apiKey": "{S}",'),
    "md": ("    curl -H 'Authorization: Bearer {S}' https://services.leadconnectorhq.com/contacts/",),
    "sh": ("export {K}={S}", 'curl -s -H "Authorization: Bearer {S}" "$API/locations/search"'),
    "env": ("{K}={S}",),
}
# Decoys sit in neutral lines: nothing about them says "GoHighLevel credential".
DECOY_SHAPES = ('request_id = "{S}"', "# trace {S}", '  "correlationId": "{S}",', "  image: registry.local/{S}")


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class Words:
    """Deterministic filler: identifiers, lines of code per language, commit subjects."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.makers: Dict[str, Callable[[], str]] = {
            "py": self.py,
            "js": self.js,
            "yaml": self.yaml,
            "json": self.json,
            "md": self.md,
            "sh": self.sh,
            "env": self.env,
        }

    def n(self) -> str:
        return self.rng.choice(NOUNS)

    def snake(self) -> str:
        return f"{self.rng.choice(VERBS)}_{self.n()}"

    def camel(self) -> str:
        noun = self.n()
        return self.rng.choice(VERBS) + noun[:1].upper() + noun[1:]

    def num(self, high: int = 9999) -> int:
        return self.rng.randrange(high)

    def py(self) -> str:
        pick = self.rng.randrange(8)
        if pick == 0:
            return f"def {self.snake()}({self.n()}, {self.n()}=None):"
        if pick == 1:
            return f"    return {self.snake()}({self.n()}, limit={self.num(500)})"
        if pick == 2:
            return f"    if not {self.n()}:"
        if pick == 3:
            return f"        logger.info('{self.n()} %s done', {self.n()})"
        if pick == 4:
            return f"{self.n().upper()}_TIMEOUT = {self.num(120)}"
        if pick == 5:
            return f"from app.{self.n()} import {self.snake()}"
        if pick == 6:
            return f"    # {self.n()} before {self.n()}"
        return ""

    def js(self) -> str:
        pick = self.rng.randrange(8)
        if pick == 0:
            return f"export async function {self.camel()}({self.n()}) {{"
        if pick == 1:
            return f"  const {self.camel()} = await api.get(`/{self.n()}s/${{{self.n()}Id}}`);"
        if pick == 2:
            return f"  if ({self.n()}.length > {self.num(50)}) return [];"
        if pick == 3:
            return "}"
        if pick == 4:
            return f"import {{ {self.camel()} }} from './{self.n()}';"
        if pick == 5:
            return f"  // {self.n()} {self.n()}"
        if pick == 6:
            return f"  store.{self.camel()}({self.num(100)});"
        return ""

    def yaml(self) -> str:
        pick = self.rng.randrange(5)
        if pick == 0:
            return f"{self.n()}:"
        if pick == 1:
            return f"  {self.n()}_{self.n()}: {self.num(3000)}"
        if pick == 2:
            return f"  host: {self.n()}.svc.cluster.local"
        if pick == 3:
            return f"  enabled: {self.rng.choice(('true', 'false'))}"
        return f"  # {self.n()} {self.n()}"

    def json(self) -> str:
        pick = self.rng.randrange(3)
        if pick == 0:
            return f'  "{self.camel()}": {self.num()},'
        if pick == 1:
            return f'  "{self.camel()}": "{self.n()} {self.n()}",'
        return f'  "{self.n()}Enabled": {self.rng.choice(("true", "false"))},'

    def md(self) -> str:
        pick = self.rng.randrange(4)
        if pick == 0:
            return f"### {self.n().capitalize()} {self.n()}"
        if pick == 1:
            return ""
        if pick == 2:
            return f"* `{self.snake()}` {self.rng.choice(VERBS)}s the {self.n()}."
        return " ".join(self.n() for _ in range(self.rng.randrange(5, 14))).capitalize() + "."

    def sh(self) -> str:
        pick = self.rng.randrange(4)
        if pick == 0:
            return f'{self.n().upper()}_DIR="${{{self.n().upper()}_DIR:-/var/lib/{self.n()}}}"'
        if pick == 1:
            return f'echo "{self.rng.choice(VERBS)}ing {self.n()}"'
        if pick == 2:
            return f"# {self.n()} {self.n()}"
        return f'"$BIN/{self.n()}" --{self.n()} {self.num(10)}'

    def env(self) -> str:
        return f"{self.n().upper()}_{self.n().upper()}={self.rng.choice((self.n(), str(self.num(100))))}"

    def line(self, language: str) -> str:
        return self.makers[language]()

    def subject(self) -> str:
        return self.rng.choice(SUBJECTS).format(n=self.n(), n2=self.n(), n3=self.n(), v=self.rng.choice(VERBS))

    def bundle(self, size: int) -> List[str]:
        """About `size` bytes of minified JavaScript, as chunks joined without separators."""
        chunks = ['(function(w,d){"use strict";']
        total = 0
        while total < size:
            name, noun, value = self.camel(), self.n(), self.num(1 << 20)
            chunk = self.rng.choice(
                (
                    f"var {name}=function(a,b){{return a&&a.{noun}?b({value}):void 0}};",
                    f'w.{name}="{noun}:{value:x}";',
                    f"function {name}(l){{for(var i=0;i<l.length;i++)if(l[i].{noun}=={value})return i;return-1}}",
                    f'd.{name}={{{noun}:{value},k:"{self.n()}"}};',
                )
            )
            chunks.append(chunk)
            total += len(chunk)
        chunks.append("})(window,document);")
        return chunks


class Values:
    """Planted and decoy values, all derived from the seeded generator."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def uuid4(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def ident(self, length: int = 20) -> str:
        return "".join(self.rng.choice(ALPHANUMERIC) for _ in range(length))

    def jwt(self, claims: Dict[str, object]) -> str:
        head = b64url(b'{"alg":"HS256","typ":"JWT"}')
        body = b64url(json.dumps(claims, separators=(",", ":")).encode())
        key = self.rng.getrandbits(256).to_bytes(32, "big")
        signature = hmac.new(key, f"{head}.{body}".encode(), hashlib.sha256).digest()
        return f"{head}.{body}.{b64url(signature)}"

    def pit(self) -> str:
        return "pit-" + self.uuid4()

    def v1_location_jwt(self) -> str:
        claims: Dict[str, object] = {"location_id": self.ident()}
        if self.rng.random() < 0.3:  # older keys also carry the company
            claims["company_id"] = self.ident()
        claims["version"] = 1
        claims["iat"] = 1_560_000_000_000 + self.rng.randrange(10**11)  # milliseconds
        claims["sub"] = self.rng.choice(("user_id", self.ident()))
        return self.jwt(claims)

    def decoys(self) -> List[Tuple[str, str]]:
        out = [("bare_uuid", self.uuid4()) for _ in range(6)]
        out += [
            ("pit_not_uuid", "pit-stop"),
            ("pit_not_uuid", "pit-crew-42"),
            ("pit_not_uuid", "pit-" + self.uuid4().replace("-", "")),
            ("pit_not_uuid", "pit-" + self.uuid4()[:28]),
            ("pit_not_uuid", "pit-" + self.uuid4()[:-2] + "zz"),
        ]
        out += [
            ("placeholder", "pit-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"),
            ("placeholder", "pit-XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX"),
            ("placeholder", "pit-00000000-0000-0000-0000-000000000000"),
            ("placeholder", "pit-12345678-1234-1234-1234-123456789012"),
            ("placeholder", "pit-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"),
            ("placeholder", "pit-<your-private-integration-token>"),
        ]
        out += [("pit_inside_word", prefix + self.uuid4()) for prefix in ("cockpit-", "armpit-", "spit-")]
        for _ in range(3):
            claims = {"sub": self.ident(12), "role": "reader", "iat": 1_650_000_000 + self.rng.randrange(10**7)}
            out.append(("jwt_not_ghl", self.jwt(claims)))
        head = b64url(b'{"alg":"HS256","typ":"JWT"}')
        body = b64url(b'{"location_id":"xxxxxxxxxxxxxxxxxxxx","version":1,"iat":0,"sub":"user_id"}')
        out.append(("jwt_placeholder", f"{head}.{body}.{'x' * 43}"))
        return out


class SourceFile:
    """A text file as lines; `keep` holds lines random edits must not touch (planted values)."""

    __slots__ = ("language", "lines", "keep", "joiner")

    def __init__(self, language: str, lines: List[str], joiner: str = "\n") -> None:
        self.language = language
        self.lines = lines
        self.keep: Set[str] = set()
        self.joiner = joiner

    def data(self) -> bytes:
        return (self.joiner.join(self.lines) + "\n").encode()


class FastImport:
    """Writes commits to a `git fast-import` process; returns marks, resolves them to hashes."""

    def __init__(self, git_dir: str, rng: random.Random) -> None:
        self.marks_file = os.path.join(git_dir, "gen-marks")
        self.proc = subprocess.Popen(
            ["git", "--git-dir", git_dir, "fast-import", "--quiet", "--done", "--export-marks=" + self.marks_file],
            stdin=subprocess.PIPE,
            bufsize=1 << 20,
        )
        assert self.proc.stdin is not None
        self.out = self.proc.stdin
        self.rng = rng
        self.clock = EPOCH
        self.last = 0

    def commit(
        self,
        ref: str,
        subject: str,
        files: Dict[str, SourceFile],
        deleted: List[str],
        parent: Optional[int] = None,
        merged: Optional[int] = None,
        step: Tuple[int, int] = (600, 30000),
    ) -> int:
        self.last += 1
        self.clock += self.rng.randrange(*step)
        name, login = self.rng.choice(PEOPLE)
        who = f"{name} <{login}@example.org> {self.clock} +0000"
        message = subject.encode()
        parts = [f"commit {ref}\nmark :{self.last}\nauthor {who}\ncommitter {who}\ndata {len(message)}\n".encode()]
        parts.append(message + b"\n")
        if parent is not None:
            parts.append(f"from :{parent}\n".encode())
        if merged is not None:
            parts.append(f"merge :{merged}\n".encode())
        for path, source in files.items():
            data = source.data()
            parts.append(f"M 100644 inline {path}\ndata {len(data)}\n".encode())
            parts.append(data + b"\n")
        parts.extend(f"D {path}\n".encode() for path in deleted)
        parts.append(b"\n")
        self.out.write(b"".join(parts))
        return self.last

    def close(self) -> Dict[int, str]:
        self.out.write(b"done\n")
        self.out.close()
        if self.proc.wait() != 0:
            sys.exit("git fast-import failed")
        with open(self.marks_file) as handle:
            marks = {int(mark[1:]): sha for mark, sha in (line.split() for line in handle)}
        os.remove(self.marks_file)
        return marks


class Builder:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.rng = random.Random(args.seed)
        self.words = Words(self.rng)
        self.values = Values(self.rng)
        self.tree: Dict[str, SourceFile] = {}
        self.secrets: List[Dict[str, object]] = []
        self.decoys: List[Dict[str, object]] = []
        # main-branch commit index -> things to do in that commit
        self.agenda: Dict[int, List[Tuple[str, Dict[str, object]]]] = {}
        self.where: Dict[str, Tuple[str, str]] = {}  # id -> (path, line or bundle chunk)
        self.throwaway: Set[str] = set()  # files created to hold one secret, deleted later

    # -- files ------------------------------------------------------------------------------
    def new_path(self, taken: Dict[str, SourceFile], folder: Optional[str] = None) -> Tuple[str, str]:
        languages = [entry[0] for entry in LANGUAGES]
        shares = [entry[1] for entry in LANGUAGES]
        while True:
            index = languages.index(self.rng.choices(languages, shares)[0])
            language, _, folders, suffix = LANGUAGES[index]
            path = f"{folder or self.rng.choice(folders)}/{self.words.snake()}{suffix}"
            if path not in taken:
                return path, language

    def new_file(self, language: str) -> SourceFile:
        count = max(6, min(1200, int(self.rng.lognormvariate(3.8, 0.75))))
        lines = [self.words.line(language) for _ in range(count)]
        if language == "json":
            lines = ["{", *lines, '  "end": true', "}"]
        return SourceFile(language, lines)

    def edit(self, source: SourceFile) -> None:
        """One to three random changes: replace, insert or delete lines, never a kept one."""
        for _ in range(self.rng.randrange(1, 4)):
            size = len(source.lines)
            at = self.rng.randrange(size) if size else 0
            roll = self.rng.random()
            if roll < 0.45 and size and source.lines[at] not in source.keep:
                source.lines[at] = self.words.line(source.language)
            elif roll < 0.85 or size <= 12:
                source.lines[at:at] = [self.words.line(source.language) for _ in range(self.rng.randrange(1, 7))]
            else:
                span = source.lines[at : at + self.rng.randrange(1, 5)]
                if not source.keep.intersection(span):
                    del source.lines[at : at + len(span)]

    def put_line(self, source: SourceFile, text: str) -> str:
        source.lines.insert(self.rng.randrange(len(source.lines) + 1), text)
        source.keep.add(text)
        return text

    def secret_line(self, language: str, value: str) -> str:
        key = self.rng.choice(KEY_NAMES)
        shape = self.rng.choice(SECRET_SHAPES[language])
        return shape.format(K=key, k=key.lower(), S=value)

    # -- the plan -----------------------------------------------------------------------------
    def secret(self, kind: str, category: str) -> Dict[str, object]:
        value = self.values.pit() if kind == "pit" else self.values.v1_location_jwt()
        entry: Dict[str, object] = {"id": f"S{len(self.secrets) + 1:03d}", "kind": kind, "category": category}
        entry["value"] = value
        self.secrets.append(entry)
        return entry

    def schedule(self, at: int, action: str, entry: Dict[str, object]) -> None:
        self.agenda.setdefault(at, []).append((action, entry))

    def plan(self, main_commits: int) -> None:
        low, high = main_commits // 20, main_commits - main_commits // 10
        per_kind = {"head": 8, "history_line": 3, "history_file": 3, "bundle_head": 2, "bundle_history": 1}
        for kind in ("pit", "v1_location_jwt"):
            for category, count in per_kind.items():
                for _ in range(count):
                    entry = self.secret(kind, category)
                    start = self.rng.randrange(low, high)
                    end = self.rng.randrange(start + 1, min(main_commits - 1, start + main_commits // 4) + 1)
                    if category.startswith("bundle"):
                        self.schedule(start, "bundle", entry)
                        if category == "bundle_history":
                            self.schedule(end, "unbundle", entry)
                    else:
                        self.schedule(start, "file" if category == "history_file" else "line", entry)
                        if category.startswith("history"):
                            self.schedule(end, "remove", entry)
        for kind, value in self.values.decoys():
            decoy: Dict[str, object] = {"id": f"D{len(self.decoys) + 1:03d}", "kind": kind, "value": value}
            self.decoys.append(decoy)
            self.schedule(self.rng.randrange(1, main_commits), "decoy", decoy)
        in_bundle: Dict[str, object] = {"id": f"D{len(self.decoys) + 1:03d}", "kind": "bare_uuid"}
        in_bundle["value"] = self.values.uuid4()
        self.decoys.append(in_bundle)
        self.schedule(main_commits // 2, "bundle_decoy", in_bundle)

    def branches(self, main_commits: int) -> List[Dict[str, object]]:
        count = max(4, min(24, self.args.commits // 800))
        unmerged = max(2, count // 4)
        out = []
        for number in range(count):
            fork = self.rng.randrange(main_commits // 10, main_commits - main_commits // 8)
            merge = None if number < unmerged else min(main_commits - 1, fork + self.rng.randrange(20, 400))
            category = "unmerged_branch" if merge is None else "merged_branch"
            planted = [
                self.secret(self.rng.choice(("pit", "v1_location_jwt")), category) for _ in range(2 - number % 2)
            ]
            out.append(
                {
                    "name": f"feature/{self.words.n()}-{self.words.n()}-{number}",
                    "fork": fork,
                    "merge": merge,
                    "length": self.rng.randrange(4, 30),
                    "secrets": planted,
                }
            )
        return out

    # -- writing ------------------------------------------------------------------------------
    def run(self) -> Dict[str, object]:
        args = self.args
        started = time.time()
        subprocess.run(["git", "init", "-q", "--bare", "--initial-branch=main", args.out], check=True)
        first = max(50, args.files // 5)
        self.tree["README.md"] = SourceFile("md", [self.words.md() for _ in range(40)])
        self.tree[".gitignore"] = SourceFile("md", ["node_modules/", "__pycache__/", ".env", "dist/"])
        while len(self.tree) < first:
            path, language = self.new_path(self.tree)
            self.tree[path] = self.new_file(language)
        self.tree[BUNDLE_PATH] = SourceFile("js", self.words.bundle(args.bundle_kb * 1024), joiner="")

        # Reserve commits for feature branches and merges so the total is close to --commits.
        provisional = max(50, args.commits)
        features = self.branches(provisional)
        branch_commits = sum(int(f["length"]) for f in features) + sum(1 for f in features if f["merge"] is not None)
        main_commits = max(50, args.commits - branch_commits)
        for feature in features:  # rescale to the real number of main commits
            feature["fork"] = min(int(feature["fork"]), main_commits - 2)
            if feature["merge"] is not None:
                feature["merge"] = min(int(feature["merge"]), main_commits - 1)
        self.plan(main_commits)
        forks: Dict[int, List[Dict[str, object]]] = {}
        merges: Dict[int, List[Dict[str, object]]] = {}
        for feature in features:
            forks.setdefault(int(feature["fork"]), []).append(feature)
            if feature["merge"] is not None:
                merges.setdefault(int(feature["merge"]), []).append(feature)

        stream = FastImport(args.out, self.rng)
        added: Dict[str, Tuple[int, str, str]] = {}  # id -> (mark, path, branch)
        removed: Dict[str, int] = {}
        tip: Optional[int] = None
        main_marks: List[int] = []
        for index in range(main_commits):
            changed: Dict[str, SourceFile] = dict(self.tree) if index == 0 else {}
            deleted: List[str] = []
            if index:
                self.churn(changed, deleted, first)
            events = self.act(index, changed, deleted)
            tip = stream.commit(
                "refs/heads/main", "Initial commit" if index == 0 else self.words.subject(), changed, deleted, tip
            )
            main_marks.append(tip)
            for entry_id, path, what in events:
                if what == "add":
                    added[entry_id] = (tip, path, "main")
                else:
                    removed[entry_id] = tip
            for feature in merges.get(index, []):
                files: Dict[str, SourceFile] = feature["files"]  # type: ignore[assignment]
                self.tree.update(files)
                tip = stream.commit(
                    "refs/heads/main", f"Merge branch '{feature['name']}'", dict(files), [], tip, int(feature["tip"])
                )
            for feature in forks.get(index, []):
                self.write_branch(stream, feature, tip, added)
        marks = stream.close()
        subprocess.run(
            ["git", "--git-dir", args.out, "tag", "v1.0", marks[main_marks[len(main_marks) // 2]]], check=True
        )
        if not args.no_repack:
            subprocess.run(["git", "--git-dir", args.out, "repack", "-adq"], check=True)
        return self.truth(marks, features, added, removed, started)

    def churn(self, changed: Dict[str, SourceFile], deleted: List[str], first: int) -> None:
        """An ordinary commit: maybe a new file, a few edited files, rarely a deleted one."""
        if len(self.tree) < self.args.files and self.rng.random() < 0.35:
            path, language = self.new_path(self.tree)
            self.tree[path] = changed[path] = self.new_file(language)
        paths = list(self.tree)
        for _ in range(self.rng.choice((1, 1, 1, 2, 2, 3))):
            path = self.rng.choice(paths)
            if path != BUNDLE_PATH:
                self.edit(self.tree[path])
                changed[path] = self.tree[path]
        if self.rng.random() < 0.003 and len(self.tree) > first:
            path = self.rng.choice(paths)
            source = self.tree[path]
            if path != BUNDLE_PATH and not source.keep and path not in changed and path not in self.throwaway:
                del self.tree[path]
                deleted.append(path)

    def act(self, index: int, changed: Dict[str, SourceFile], deleted: List[str]) -> List[Tuple[str, str, str]]:
        events: List[Tuple[str, str, str]] = []
        for action, entry in self.agenda.get(index, []):
            entry_id, value = str(entry["id"]), str(entry["value"])
            if action in ("bundle", "bundle_decoy"):
                bundle = self.tree[BUNDLE_PATH]
                if action == "bundle":
                    chunk = self.rng.choice((f'w.ghlKey="{value}";', f'd.auth={{h:"Bearer {value}"}};'))
                else:
                    chunk = f'w.traceId="{value}";'
                bundle.lines.insert(self.rng.randrange(1, len(bundle.lines) - 1), chunk)
                bundle.keep.add(chunk)
                self.where[entry_id] = (BUNDLE_PATH, chunk)
                changed[BUNDLE_PATH] = bundle
                events.append((entry_id, BUNDLE_PATH, "add"))
            elif action in ("line", "file", "decoy"):
                if action == "file":
                    path, language = self.new_path(self.tree, folder="config/local")
                    self.tree[path] = self.new_file(language)
                    self.throwaway.add(path)
                else:
                    candidates = [p for p in self.tree if p != BUNDLE_PATH and p not in self.throwaway]
                    path = self.rng.choice(candidates)
                source = self.tree[path]
                if action == "decoy":
                    text = self.rng.choice(DECOY_SHAPES).format(S=value)
                else:
                    text = self.secret_line(source.language, value)
                self.where[entry_id] = (path, self.put_line(source, text))
                changed[path] = source
                events.append((entry_id, path, "add"))
        for action, entry in self.agenda.get(index, []):
            entry_id = str(entry["id"])
            if action in ("remove", "unbundle"):
                path, text = self.where[entry_id]
                if path in self.throwaway and path in self.tree:
                    del self.tree[path]
                    changed.pop(path, None)
                    deleted.append(path)
                else:
                    source = self.tree[path]
                    source.lines.remove(text)
                    source.keep.discard(text)
                    changed[path] = source
                events.append((entry_id, path, "remove"))
        return events

    def write_branch(
        self, stream: FastImport, feature: Dict[str, object], fork: int, added: Dict[str, Tuple[int, str, str]]
    ) -> None:
        name = str(feature["name"])
        folder = "services/" + name.split("/", 1)[1]
        files: Dict[str, SourceFile] = {}
        planted: List[Dict[str, object]] = feature["secrets"]  # type: ignore[assignment]
        length = int(feature["length"])
        when = dict(zip(self.rng.sample(range(length), len(planted)), planted))
        saved_clock = stream.clock
        parent: Optional[int] = fork
        mark = fork
        for step in range(length):
            changed: Dict[str, SourceFile] = {}
            if not files or self.rng.random() < 0.4:
                path, language = self.new_path(files, folder=folder)
                files[path] = changed[path] = self.new_file(language)
            else:
                path = self.rng.choice(list(files))
                self.edit(files[path])
                changed[path] = files[path]
            entry = when.get(step)
            if entry is not None:
                path = self.rng.choice(list(files))
                self.put_line(files[path], self.secret_line(files[path].language, str(entry["value"])))
                changed[path] = files[path]
            subject = f"{name.split('/', 1)[1]}: {self.words.subject()}"
            mark = stream.commit("refs/heads/" + name, subject, changed, [], parent, step=(60, 4000))
            parent = None  # fast-import continues the branch from its last commit
            if entry is not None:
                added[str(entry["id"])] = (mark, path, name)
        feature["tip"] = mark
        feature["files"] = files
        stream.clock = max(saved_clock, stream.clock - 2000)

    def truth(
        self,
        marks: Dict[int, str],
        features: List[Dict[str, object]],
        added: Dict[str, Tuple[int, str, str]],
        removed: Dict[str, int],
        started: float,
    ) -> Dict[str, object]:
        head_text = "\n".join(source.data().decode() for source in self.tree.values())
        unmerged = {str(f["name"]) for f in features if f["merge"] is None}
        for entry in self.secrets + self.decoys:
            mark, path, branch = added[str(entry["id"])]
            entry.update(path=path, branch=branch, commit=marks[mark])
            entry["removed_in"] = marks[removed[str(entry["id"])]] if str(entry["id"]) in removed else None
            entry["in_default_head"] = str(entry["value"]) in head_text
            entry["reachable_from_default"] = branch not in unmerged
            entry["minified"] = path == BUNDLE_PATH
        git = ["git", "--git-dir", self.args.out]
        count = subprocess.run([*git, "rev-list", "--all", "--count"], capture_output=True, text=True, check=True)
        return {
            "generator": "bench/gen_synth_repo.py",
            "seed": self.args.seed,
            "commits_requested": self.args.commits,
            "commits_total": int(count.stdout),
            "default_branch": "main",
            "head_files": len(self.tree),
            "bundle_path": BUNDLE_PATH,
            "branches": {str(f["name"]): marks[int(f["tip"])] for f in features},
            "unmerged_branches": sorted(unmerged),
            "secrets": self.secrets,
            "decoys": self.decoys,
            "seconds": round(time.time() - started, 1),
        }


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", help="bare git directory to create (must not exist)")
    parser.add_argument("--ground-truth", required=True, help="JSON file to write the planted values and decoys to")
    parser.add_argument("--commits", type=int, default=20000, help="about this many commits in all (default 20000)")
    parser.add_argument("--files", type=int, default=2000, help="grow the default branch to about this many files")
    parser.add_argument("--seed", type=int, default=1337)
    parser.add_argument("--bundle-kb", type=int, default=1024, help="size of the one-line minified bundle (KiB)")
    parser.add_argument("--no-repack", action="store_true", help="leave fast-import's pack as it is")
    args = parser.parse_args(argv)
    if os.path.exists(args.out):
        parser.error(f"{args.out} exists: remove it first")
    truth = Builder(args).run()
    with open(args.ground_truth, "w", encoding="utf-8") as handle:
        json.dump(truth, handle, indent=1)
    by_category: Dict[str, int] = {}
    for entry in truth["secrets"]:  # type: ignore[attr-defined]
        by_category[entry["category"]] = by_category.get(entry["category"], 0) + 1
    print(
        f"{args.out}: {truth['commits_total']} commits, {truth['head_files']} files at HEAD, "
        f"{len(truth['secrets'])} secrets {by_category}, {len(truth['decoys'])} decoys, "  # type: ignore[arg-type]
        f"{truth['seconds']} s",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
