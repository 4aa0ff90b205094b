#!/usr/bin/env python3
"""Load driver and checker for tests/crash/run.sh (python3, standard library only).

  client.py ready   --url URL --ca CA                    wait for GET /readyz 200
  client.py drive   --url URL --ca CA --key KEYFILE ... --pid PID
                    concurrent writes for a random time, then SIGKILL of PID,
                    a crash of the PostgreSQL server, or both (--action)
  client.py verify  --phase crashed|restarted|recovered --db DB ...
                    every acknowledged write present, nothing partial visible
  client.py summary --stats FILE                         totals of a run

TLS only, to 127.0.0.1 only, with the server certificate verified against
the CA file run.sh generated (hostname check on the IP address).

The journal (one JSON object a line, appended, kept across iterations) holds
every request that got a 2xx, and the attempts whose outcome a kill can make
uncertain (uploads and deletions), under "k":
  up_try  {sha, size, seed, owner}   an upload about to be sent
  up_ok   {sha, size, status}        its 200/201
  del_try {sha} / del_ok {sha}       DELETE /api/v1/payloads/{sha} sent / 204
  man_ok  {digest, seq, file, payload}  POST /api/v1/manifests 201
  dev_ok  {id, token, group, tags}   POST /api/v1/devices 201
  dep_ok  {id, manifest, devices}    POST /api/v1/deployments 201
  chk_ok  {device, manifest}         GET /device/v1/manifest 200 (the
                                     assignment is no longer pending)
  rep_ok  {device, manifest, state, code}  POST /device/v1/reports 204;
                                     code is unique, so each row is found
  chk_none {device}, dl_ok {device, sha, size}  2xx reads that create
                                     nothing: a 204 check-in, a device's
                                     payload download (its SHA-256 checked)
  kill    {inflight, uploads}        what was in flight at the kill
"""

import argparse
import base64
import hashlib
import http.client
import json
import os
import random
import re
import signal
import socket
import sqlite3
import ssl
import subprocess
import sys
import threading
import time
from urllib.parse import quote, urlsplit

MiB = 1 << 20
# The server commits an upload's chunks 4 MiB at a time (storage/payloads.c,
# 64 chunks of 64 KiB): an upload killed past that has chunk rows on disk.
SERVER_BATCH = 4 * MiB
REPORT_STATES = ["downloading", "downloaded", "installing", "installed"]
GROUPS = ["g0", "g1", "g2", "g3"]
TAGS = ["t0", "t1", "t2", "t3", "t4"]
# Live bytes of big payloads each uploader keeps; older ones are deleted
# (acknowledged deletions are checked too) so that the database stays small.
UPLOADER_BUDGET = 40 * MiB


# ---------------------------------------------------------------- TLS, HTTP


class Tls:
    """HTTPS to 127.0.0.1 with the certificate checked against CA."""

    def __init__(self, url, cafile, timeout=30.0):
        u = urlsplit(url)
        if u.scheme != "https" or u.hostname != "127.0.0.1" or not u.port:
            raise SystemExit(f"client.py: only https://127.0.0.1:PORT is allowed, not {url!r}")
        self.host, self.port, self.timeout = u.hostname, u.port, timeout
        self.ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=cafile)
        self.ctx.check_hostname = True
        self.ctx.verify_mode = ssl.CERT_REQUIRED
        self.on_5xx = None  # called with (response, body) of every 5xx answer

    def seen(self, r, data):
        if r.status >= 500 and self.on_5xx:
            self.on_5xx(r, data)

    def connect(self):
        return http.client.HTTPSConnection(self.host, self.port, context=self.ctx,
                                           timeout=self.timeout)


class Session:
    """One keep-alive connection; reopened after an error or a close."""

    def __init__(self, tls, bearer):
        self.tls, self.bearer, self.conn = tls, bearer, None

    def close(self):
        if self.conn is not None:
            try:
                self.conn.close()
            except OSError:
                pass
            self.conn = None

    def request(self, method, path, body=None, headers=None, bearer=None):
        h = {"Authorization": "Bearer " + (bearer or self.bearer)}
        h.update(headers or {})
        if self.conn is None:
            self.conn = self.tls.connect()
        try:
            self.conn.request(method, path, body=body, headers=h)
            r = self.conn.getresponse()
            data = r.read()
        except BaseException:
            self.close()
            raise
        if r.will_close:
            self.close()
        self.tls.seen(r, data)
        return r.status, r, data

    def download(self, path):
        """GET PATH streamed: (status, sha256 hex, byte count)."""
        if self.conn is None:
            self.conn = self.tls.connect()
        try:
            self.conn.request("GET", path, headers={"Authorization": "Bearer " + self.bearer})
            r = self.conn.getresponse()
            h, n = hashlib.sha256(), 0
            while True:
                b = r.read(1 << 20)
                if not b:
                    break
                h.update(b)
                n += len(b)
        except BaseException:
            self.close()
            raise
        if r.will_close:
            self.close()
        return r.status, h.hexdigest(), n


def content(seed, size):
    """The bytes of a payload, reproducible from its seed string."""
    return random.Random(seed).randbytes(size)


# ---------------------------------------------------------------- journal


class Journal:
    def __init__(self, path):
        self.lock = threading.Lock()
        self.f = open(path, "a", encoding="utf-8")  # pylint: disable=consider-using-with

    def add(self, rec):
        line = json.dumps(rec, separators=(",", ":")) + "\n"
        with self.lock:
            self.f.write(line)
            self.f.flush()

    def close(self):
        self.f.close()


def read_journal(path):
    recs = []
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                if line:
                    recs.append(json.loads(line))
    return recs


class Known:
    """What the journal says was acknowledged (and attempted)."""

    def __init__(self, recs):
        self.tried = {}  # sha -> up_try record
        self.acked = {}  # sha -> up_ok record (first)
        self.del_try = {}  # sha -> iteration
        self.del_ok = {}  # sha -> iteration
        self.manifests = {}  # digest -> man_ok
        self.devices = {}  # id -> dev_ok
        self.deployments = {}  # id -> dep_ok
        self.checkins = {}  # (device, manifest) -> iteration
        self.reports = []  # rep_ok records
        self.kills = {}  # iteration -> kill record
        for r in recs:
            k = r["k"]
            if k == "up_try":
                self.tried.setdefault(r["sha"], r)
            elif k == "up_ok":
                self.acked.setdefault(r["sha"], r)
            elif k == "del_try":
                self.del_try.setdefault(r["sha"], r["it"])
            elif k == "del_ok":
                self.del_ok.setdefault(r["sha"], r["it"])
            elif k == "man_ok":
                self.manifests.setdefault(r["digest"], r)
            elif k == "dev_ok":
                self.devices.setdefault(r["id"], r)
            elif k == "dep_ok":
                self.deployments.setdefault(r["id"], r)
            elif k == "chk_ok":
                self.checkins.setdefault((r["device"], r["manifest"]), r["it"])
            elif k == "rep_ok":
                self.reports.append(r)
            elif k == "kill":
                self.kills[r["it"]] = r

    def acked_count(self):
        return (len(self.acked) + len(self.del_ok) + len(self.manifests) + len(self.devices)
                + len(self.deployments) + len(self.checkins) + len(self.reports))


# ---------------------------------------------------------------- drive


class Drive:
    def __init__(self, args):
        self.a = args
        self.it = args.iteration
        self.rng = random.Random(args.seed)
        self.tls = Tls(args.url, args.ca)
        with open(args.key, encoding="utf-8") as f:
            self.key = f.read().strip()
        self.journal = Journal(args.journal)
        self.stop = threading.Event()
        self.lock = threading.Lock()
        known = Known(read_journal(args.journal))
        self.devices = [(r["id"], r["token"]) for r in known.devices.values()]
        self.manifests = list(known.manifests.values())
        # Per uploader: payloads it tried and never deleted (oldest first),
        # and the acknowledged ones it may upload again (expect 200).
        self.owned = {}
        for sha, r in known.tried.items():
            if sha not in known.del_ok and sha not in known.del_try:
                self.owned.setdefault(r["owner"], []).append(r)
        self.reupload = {}
        for sha, r in known.tried.items():
            if sha in known.acked and sha not in known.del_try:
                self.reupload.setdefault(r["owner"], []).append(r)
        self.inflight = {}  # token -> [kind, sent, total]
        self.token = 0
        self.acks = {}
        self.status = {}
        self.errors = []
        self.counter = 0
        self.report_next = {}  # (device, manifest) -> index in REPORT_STATES
        self.report_closed = set()  # (device, manifest) whose failed report was acknowledged
        # 5xx answers: during a database outage each must be 503
        # urn:suitd:storage-unavailable with Retry-After (not acknowledged,
        # so not journaled); anything else is a failure of the run.
        self.unavailable = 0
        self.bad_5xx = []
        self.tls.on_5xx = self.check_5xx
        self.pg = open_db(args) if args.backend == "postgresql" else None
        self.fatal = None
        self.outage = {}

    # -- bookkeeping
    def begin(self, kind, total=0):
        with self.lock:
            self.token += 1
            t = self.token
            self.inflight[t] = [kind, 0, total]
        return t

    def end(self, t):
        with self.lock:
            self.inflight.pop(t, None)

    def unique(self):
        with self.lock:
            self.counter += 1
            return self.counter

    def note(self, kind, status):
        with self.lock:
            d = self.status.setdefault(kind, {})
            d[str(status)] = d.get(str(status), 0) + 1

    def ack(self, kind, rec):
        rec = dict(rec, k=kind, it=self.it)
        self.journal.add(rec)
        with self.lock:
            self.acks[kind] = self.acks.get(kind, 0) + 1

    def error(self, kind, exc):
        # A 503 storage-unavailable is counted by check_5xx, not an error.
        if re.search(r"\bstatus 503: b'\{\"type\":\"urn:suitd:storage-unavailable", str(exc)):
            return
        if not self.stop.is_set():
            with self.lock:
                self.errors.append(f"{kind}: {type(exc).__name__}: {exc}")

    def run_worker(self, name, fn, rng):
        sess = Session(self.tls, self.key)
        while not self.stop.is_set():
            try:
                fn(sess, rng)
            except (OSError, http.client.HTTPException, ssl.SSLError) as e:
                sess.close()
                self.error(name, e)
                if not self.stop.is_set():
                    time.sleep(0.05)
        sess.close()

    def check_5xx(self, r, data):
        retry = r.getheader("Retry-After") or ""
        try:
            typ = json.loads(data).get("type")
        except (ValueError, AttributeError):
            typ = None
        ctype = (r.getheader("Content-Type") or "").split(";")[0]
        with self.lock:
            ok = (r.status == 503 and typ == "urn:suitd:storage-unavailable" and retry.isdigit()
                  and ctype == "application/problem+json")
            if ok:
                self.unavailable += 1
            else:
                self.bad_5xx.append(f"{r.status} {ctype} type {typ} Retry-After {retry!r}: "
                                    f"{data[:120]!r}")
        if ok:
            # Back off a little as a client should (not the whole Retry-After:
            # the second after the recovery must see writes again).
            time.sleep(0.1)

    def writes_acked(self):
        with self.lock:
            return sum(v for k, v in self.acks.items() if k not in ("chk_none", "dl_ok"))

    # -- payloads
    def upload(self, rng, owner, seed, size, expect_new, twin=False, data=None):
        """Stream one upload; True on 200/201. expect_new: new bytes (201 unless a
        twin won), journaled as an attempt first."""
        if data is None:
            data = content(seed, size)
        sha = hashlib.sha256(data).hexdigest()
        if expect_new:
            self.journal.add({"k": "up_try", "it": self.it, "sha": sha, "size": size,
                              "seed": seed, "owner": owner})
        chunked = rng.random() < 0.15
        rate = 0.0
        if size >= MiB and rng.random() < 0.5:
            rate = rng.uniform(8, 48) * MiB  # a slow client: seconds mid-body
        conn = self.tls.connect()
        t = self.begin("upload", size)
        try:
            conn.putrequest("POST", f"/api/v1/payloads?name={quote('crash-' + seed)}",
                            skip_accept_encoding=True)
            conn.putheader("Authorization", "Bearer " + self.key)
            conn.putheader("Content-Type", "application/octet-stream")
            if rng.random() < 0.5:
                b64 = base64.b64encode(bytes.fromhex(sha)).decode()
                conn.putheader("Content-Digest", f"sha-256=:{b64}:")
            if chunked:
                conn.putheader("Transfer-Encoding", "chunked")
            else:
                conn.putheader("Content-Length", str(size))
            conn.endheaders()
            mv = memoryview(data)
            sent, t0 = 0, time.monotonic()
            while sent < size:
                n = min(rng.choice((64, 128, 256)) * 1024, size - sent)
                if chunked:
                    conn.send(b"%x\r\n" % n + bytes(mv[sent:sent + n]) + b"\r\n")
                else:
                    conn.send(mv[sent:sent + n])
                sent += n
                with self.lock:
                    if t in self.inflight:
                        self.inflight[t][1] = sent
                if rate:
                    ahead = sent / rate - (time.monotonic() - t0)
                    if ahead > 0:
                        time.sleep(ahead)
            if chunked:
                conn.send(b"0\r\n\r\n")
            r = conn.getresponse()
            body = r.read()
        finally:
            self.end(t)
            conn.close()
        self.tls.seen(r, body)
        self.note("upload", r.status)
        if r.status in (200, 201):
            got = json.loads(body)
            if got.get("sha256") != sha or got.get("size") != size:
                self.error("upload", ValueError(f"answer {got} for {sha} ({size} bytes)"))
            if expect_new and not twin and r.status != 201:
                self.error("upload", ValueError(f"new bytes {sha} answered {r.status}"))
            self.ack("up_ok", {"sha": sha, "size": size, "status": r.status})
            return True
        self.error("upload", ValueError(f"status {r.status}: {body[:200]!r}"))
        return False

    def delete_payload(self, sess, sha):
        self.journal.add({"k": "del_try", "it": self.it, "sha": sha})
        t = self.begin("delete")
        try:
            st, _, body = sess.request("DELETE", f"/api/v1/payloads/{sha}")
        finally:
            self.end(t)
        self.note("delete", st)
        if st == 204:
            self.ack("del_ok", {"sha": sha})
        elif st != 404:  # 404: an upload the kill cut short, never committed
            self.error("delete", ValueError(f"{sha}: status {st}: {body[:200]!r}"))

    def uploader(self, owner):
        def step(sess, rng):
            owned = self.owned.setdefault(owner, [])
            again = self.reupload.setdefault(owner, [])
            live = sum(r["size"] for r in owned)
            if live > UPLOADER_BUDGET and owned:
                old = owned.pop(0)
                again[:] = [r for r in again if r["sha"] != old["sha"]]
                self.delete_payload(sess, old["sha"])
                return
            if again and rng.random() < 0.08:
                r = rng.choice(again)
                self.upload(rng, owner, r["seed"], r["size"], False)
                return
            c = rng.random()
            if c < 0.15:
                size = rng.randint(1, 4096)
            elif c < 0.40:
                size = rng.randint(4096, 512 * 1024)
            elif c < 0.60:
                size = rng.randint(512 * 1024, 4 * MiB)
            else:
                size = rng.randint(4 * MiB + 1, 12 * MiB)  # past one server batch
            seed = f"{self.a.seed}-{owner}-{self.unique()}"
            data = content(seed, size)
            rec = {"sha": hashlib.sha256(data).hexdigest(), "size": size, "seed": seed,
                   "owner": owner}
            owned.append(rec)
            if c < 0.60 and rng.random() < 0.07:
                # Twins: the same new bytes twice at once; one 201, one 200.
                twin = threading.Thread(target=self.twin, args=(seed, size))
                twin.start()
                try:
                    ok = self.upload(rng, owner, seed, size, True, twin=True, data=data)
                finally:
                    twin.join()
            else:
                ok = self.upload(rng, owner, seed, size, True, data=data)
            if ok:
                again.append(rec)
        return step

    def twin(self, seed, size):
        try:
            data = content(seed, size)
            sha = hashlib.sha256(data).hexdigest()
            sess = Session(self.tls, self.key)
            t = self.begin("upload", size)
            try:
                st, _, body = sess.request("POST", "/api/v1/payloads", body=data,
                                           headers={"Content-Type": "application/octet-stream"})
            finally:
                self.end(t)
                sess.close()
            self.note("upload", st)
            if st in (200, 201):
                self.ack("up_ok", {"sha": sha, "size": size, "status": st})
            else:
                self.error("upload", ValueError(f"twin status {st}: {body[:200]!r}"))
        except (OSError, http.client.HTTPException, ssl.SSLError) as e:
            self.error("upload", e)

    # -- manifests
    def manifest_step(self, sess, rng):
        n = self.unique()
        seq = self.it * 100000 + n
        size = rng.randint(1, 64 * 1024)
        seed = f"{self.a.seed}-m-{n}"
        data = content(seed, size)
        sha = hashlib.sha256(data).hexdigest()
        pfile = os.path.join(self.a.work, f"m{seq}.bin")
        with open(pfile, "wb") as f:
            f.write(data)
        integrated = rng.random() < 0.3
        if not integrated:
            self.journal.add({"k": "up_try", "it": self.it, "sha": sha, "size": size,
                              "seed": seed, "owner": "m"})
            t = self.begin("upload", size)
            try:
                st, _, body = sess.request("POST", "/api/v1/payloads", body=data,
                                           headers={"Content-Type": "application/octet-stream"})
            finally:
                self.end(t)
            self.note("upload", st)
            if st not in (200, 201):
                self.error("upload", ValueError(f"status {st}: {body[:200]!r}"))
                return
            self.ack("up_ok", {"sha": sha, "size": size, "status": st})
        out = os.path.join(self.a.work, f"m{seq}.suit")
        cmd = [self.a.suitd, "-c", self.a.conf, "manifest", "create", "--key", self.a.author,
               "--payload", pfile, "--vendor-domain", "crash.example", "--class-info",
               "crash-v1", "--sequence", str(seq), "-o", out]
        if integrated:
            cmd.append("--integrated")
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
        os.unlink(pfile)
        if p.returncode != 0:
            self.error("manifest", ValueError(f"manifest create: {p.stderr.strip()}"))
            time.sleep(0.2)
            return
        with open(out, "rb") as f:
            env = f.read()
        t = self.begin("manifest")
        try:
            st, _, body = sess.request("POST", "/api/v1/manifests", body=env,
                                       headers={"Content-Type": "application/suit-envelope+cose"})
        finally:
            self.end(t)
        self.note("manifest", st)
        if st != 201:
            self.error("manifest", ValueError(f"status {st}: {body[:300]!r}"))
            return
        digest = json.loads(body)["digest"]["value"]
        rec = {"digest": digest, "seq": seq, "file": out, "payload": None if integrated else sha}
        self.ack("man_ok", rec)
        with self.lock:
            self.manifests.append(rec)
        time.sleep(rng.uniform(0, 0.05))

    # -- devices and deployments
    def admin_step(self, sess, rng):
        time.sleep(rng.uniform(0.01, 0.06))
        with self.lock:
            manifests = list(self.manifests)
            devices = list(self.devices)
        if not manifests or not devices or rng.random() < 0.5:
            dev_id = f"dev-{self.it}-{self.unique()}"
            grp = rng.choice(GROUPS)
            tags = rng.sample(TAGS, rng.randint(0, 2))
            body = json.dumps({"id": dev_id, "group": grp, "tags": tags,
                               "attributes": {"crash": self.it}})
            t = self.begin("device")
            try:
                st, _, data = sess.request("POST", "/api/v1/devices", body=body,
                                           headers={"Content-Type": "application/json"})
            finally:
                self.end(t)
            self.note("device", st)
            if st != 201:
                self.error("device", ValueError(f"status {st}: {data[:200]!r}"))
                return
            token = json.loads(data)["token"]
            self.ack("dev_ok", {"id": dev_id, "token": token, "group": grp, "tags": tags})
            with self.lock:
                self.devices.append((dev_id, token))
            return
        m = rng.choice(manifests[-20:] if rng.random() < 0.7 else manifests)
        c = rng.random()
        if c < 0.5:
            target = {"devices": sorted({d for d, _ in rng.sample(devices, min(len(devices),
                                                                              rng.randint(1, 8)))})}
        elif c < 0.8:
            target = {"group": rng.choice(GROUPS)}
        else:
            target = {"tag": rng.choice(TAGS)}
        rollout = {"failure_threshold": 100}
        if rng.random() < 0.2:
            rollout["stages"] = [50, 100]
        body = json.dumps({"manifest": m["digest"], "target": target,
                           "name": f"crash {self.it}", "rollout": rollout})
        t = self.begin("deployment")
        try:
            st, _, data = sess.request("POST", "/api/v1/deployments", body=body,
                                       headers={"Content-Type": "application/json"})
        finally:
            self.end(t)
        self.note("deployment", st)
        if st != 201:
            self.error("deployment", ValueError(f"status {st}: {data[:200]!r}"))
            return
        d = json.loads(data)
        self.ack("dep_ok", {"id": d["id"], "manifest": m["digest"], "devices": d["devices"]})

    # -- the devices themselves
    def device_step(self, sess, rng):
        with self.lock:
            devices = list(self.devices)
            manifests = {m["digest"]: m for m in self.manifests}
        if not devices:
            time.sleep(0.05)
            return
        dev, token = rng.choice(devices[-60:] if rng.random() < 0.7 else devices)
        t = self.begin("checkin")
        try:
            st, r, data = sess.request("GET", "/device/v1/manifest", bearer=token)
        finally:
            self.end(t)
        self.note("checkin", st)
        if st == 204:  # nothing to do: no write to check
            self.ack("chk_none", {"device": dev})
            time.sleep(rng.uniform(0, 0.01))
            return
        if st != 200:
            self.error("checkin", ValueError(f"{dev}: status {st}: {data[:200]!r}"))
            return
        digest = (r.getheader("ETag") or "").strip('"')
        self.ack("chk_ok", {"device": dev, "manifest": digest})
        m = manifests.get(digest)
        if m and m.get("payload") and rng.random() < 0.3:
            t = self.begin("download")
            try:
                st, _, data = sess.request("GET", f"/device/v1/payloads/{m['payload']}",
                                           bearer=token)
            finally:
                self.end(t)
            self.note("download", st)
            if st == 200 and hashlib.sha256(data).hexdigest() == m["payload"]:
                self.ack("dl_ok", {"device": dev, "sha": m["payload"], "size": len(data)})
            elif st != 503:  # a 503 is counted (and checked) by check_5xx
                self.error("download", ValueError(f"{m['payload']}: status {st}, {len(data)} "
                                                  f"bytes of another SHA-256"))
        for _ in range(rng.randint(1, 3)):
            if (dev, digest) in self.report_closed:
                break
            i = self.report_next.get((dev, digest), 0)
            state = "failed" if rng.random() < 0.04 else REPORT_STATES[min(i, 3)]
            self.report_next[(dev, digest)] = i + 1
            code = self.it * 10_000_000 + self.unique()
            body = {"manifest": digest, "state": state, "code": code}
            if rng.random() < 0.7:
                body["progress"] = rng.randint(0, 100)
            if state == "failed":
                body["reason"] = f"crash test {code}"
            t = self.begin("report")
            try:
                st, _, data = sess.request("POST", "/device/v1/reports", bearer=token,
                                           body=json.dumps(body),
                                           headers={"Content-Type": "application/json"})
            finally:
                self.end(t)
            self.note("report", st)
            if st == 204:
                self.ack("rep_ok", {"device": dev, "manifest": digest, "state": state,
                                    "code": code})
                if state == "failed":
                    # Closed: another failed report would be accepted as a
                    # repeat of the final state and not stored.
                    self.report_closed.add((dev, digest))
                    break
            elif st == 409:  # superseded meanwhile, closed, or not delivered: nothing stored
                break
            else:
                self.error("report", ValueError(f"{dev}: status {st}: {data[:200]!r}"))
                break

    # -- the kill
    def receiving_chunks(self):
        """Chunk rows of uploads still receiving: committed parts of uploads
        in progress, read from the database (read-only) while suitd runs."""
        if self.pg:
            try:
                return int(self.pg.q("SELECT count(*) FROM chunks c JOIN uploads u ON "
                                     "u.id = c.upload_id WHERE u.state = 'receiving'",
                                     timeout=5)[0][0])
            except (RuntimeError, subprocess.TimeoutExpired, ValueError, IndexError):
                return 0
        try:
            db = sqlite3.connect(f"file:{self.a.db}?mode=ro", uri=True, timeout=1)
            try:
                return db.execute("SELECT count(*) FROM chunks c JOIN uploads u ON "
                                  "u.id = c.upload_id WHERE u.state = 'receiving'").fetchone()[0]
            finally:
                db.close()
        except sqlite3.Error:
            return 0

    def pick_moment(self):
        """Sleep the drawn time, then maybe wait (at most 2 s) for an upload
        mid-body, or for one with chunk rows committed, before the kill."""
        dur = self.rng.uniform(self.a.min_ms, self.a.max_ms) / 1000.0
        time.sleep(dur)
        mode = self.rng.choices(["any", "mid-upload", "past-batch"], [0.3, 0.3, 0.4])[0]
        deadline = time.monotonic() + 2.0
        while mode != "any" and time.monotonic() < deadline:
            with self.lock:
                mid = any(k == "upload" and 0 < s < tot for k, s, tot in self.inflight.values())
            if mid and (mode == "mid-upload" or self.receiving_chunks() > 0):
                break
            time.sleep(0.005)
        return mode

    def kill(self):
        try:
            os.kill(self.a.pid, signal.SIGKILL)
            return True
        except ProcessLookupError:
            return False

    def pg_ctl(self, verb):
        p = subprocess.run([self.a.pg_tmp, verb, self.a.pg_dir], capture_output=True, text=True,
                           timeout=120, check=False)
        if p.returncode != 0:
            raise RuntimeError(f"pg_tmp.sh {verb}: {p.stderr.strip()}")

    def readyz(self):
        try:
            conn = self.tls.connect()
            try:
                conn.request("GET", "/readyz")
                r = conn.getresponse()
                r.read()
                return r.status
            finally:
                conn.close()
        except (OSError, http.client.HTTPException):
            return None

    def db_crash(self, kill_too):
        """A crash of the database server (pg_ctl stop -m immediate) under
        the load, a random outage of 0.2-1 s, then its start (crash
        recovery). With kill_too suitd is killed -9 during the outage;
        otherwise it must find the server again by itself: GET /readyz 503
        during the outage, 200 after it (within 60 s), and writes
        acknowledged again in the second after that."""
        t0 = time.monotonic()
        self.pg_ctl("crash")
        time.sleep(0.1)
        during = self.readyz()
        time.sleep(self.rng.uniform(0.1, 0.9))
        killed = None
        if kill_too:
            killed = self.kill()
            self.stop.set()  # what the workers meet now is the kill, not an error
        self.pg_ctl("recover")
        self.outage = {"down": round(time.monotonic() - t0, 3), "readyz_down": during}
        if kill_too:
            return killed
        if during != 503:
            self.fatal = f"GET /readyz answered {during} while the database server was down"
        t1 = time.monotonic()
        while self.readyz() != 200:
            if time.monotonic() - t1 > 60:
                self.fatal = "GET /readyz not 200 within 60 s of the database server's start"
                return False
            time.sleep(0.02)
        self.outage["ready_after"] = round(time.monotonic() - t1, 3)
        # Writes go through again: the first one acknowledged after readyz
        # (a bound of 10 s for a loaded machine; the 5 s writer-turn leak
        # fixed in storage/batch.c made it seconds), then one more second
        # of load on the recovered server.
        before, t2 = self.writes_acked(), time.monotonic()
        while self.writes_acked() == before and time.monotonic() - t2 < 10:
            time.sleep(0.005)
        self.outage["first_write"] = round(time.monotonic() - t2, 3)
        if self.writes_acked() == before:
            self.fatal = "no write acknowledged in the 10 s after /readyz turned 200"
        time.sleep(1.0)
        self.outage["acked_after"] = self.writes_acked() - before
        try:
            os.kill(self.a.pid, 0)
        except ProcessLookupError:
            self.fatal = "suitd exited during the database outage"
            return False
        return True

    def run(self):
        t0 = time.monotonic()
        workers = [("upload", self.uploader("u0")), ("upload", self.uploader("u1")),
                   ("manifest", self.manifest_step), ("admin", self.admin_step),
                   ("device", self.device_step), ("device", self.device_step),
                   ("device", self.device_step)]
        threads = []
        for name, fn in workers:
            rng = random.Random(self.rng.getrandbits(64))
            th = threading.Thread(target=self.run_worker, args=(name, fn, rng), daemon=True)
            th.start()
            threads.append(th)
        mode = self.pick_moment()
        with self.lock:
            snap = [list(v) for v in self.inflight.values()]
        action = self.a.action
        if action == "kill":
            killed = self.kill()
        else:
            try:
                killed = self.db_crash(action == "both")
            except (RuntimeError, subprocess.TimeoutExpired) as e:
                killed, self.fatal = False, str(e)
        self.stop.set()
        ran = time.monotonic() - t0
        for th in threads:
            th.join(60)
        ups = [(s, tot) for k, s, tot in snap if k == "upload"]
        kinds = {}
        for k, _, _ in snap:
            kinds[k] = kinds.get(k, 0) + 1
        # Uploads in flight at the kill, by sha (from the up_try records of
        # this iteration that never got an answer).
        known = Known(read_journal(self.a.journal))
        unanswered = [s for s, r in known.tried.items()
                      if r["it"] == self.it and s not in known.acked]
        self.journal.add({"k": "kill", "it": self.it, "action": action, "inflight": kinds,
                          "uploads": unanswered})
        stats = {"type": "drive", "it": self.it, "ran": round(ran, 3), "mode": mode,
                 "killed": killed, "acks": self.acks, "status": self.status,
                 "inflight": kinds, "up_inflight": len(ups),
                 "up_midbody": sum(1 for s, tot in ups if 0 < s < tot),
                 "up_past_4mib": sum(1 for s, tot in ups if SERVER_BATCH < s < tot),
                 "errors": self.errors[:20], "error_count": len(self.errors),
                 "action": action, "outage": self.outage, "unavailable": self.unavailable,
                 "bad_5xx": self.bad_5xx[:20]}
        with open(self.a.stats, "a", encoding="utf-8") as f:
            f.write(json.dumps(stats) + "\n")
        self.journal.close()
        a = self.acks
        reads = a.get("chk_none", 0) + a.get("dl_ok", 0)
        frag = (f"ran {ran:.2f}s, {reads} reads, acked {sum(a.values()) - reads} writes ("
                f"{a.get('up_ok', 0)} up, {a.get('del_ok', 0)} del, {a.get('man_ok', 0)} man, "
                f"{a.get('dev_ok', 0)} dev, {a.get('dep_ok', 0)} dep, {a.get('chk_ok', 0)} chk, "
                f"{a.get('rep_ok', 0)} rep); kill ({mode}): {len(snap)} requests in flight, "
                f"{len(ups)} uploads ({stats['up_midbody']} mid-body, {stats['up_past_4mib']} "
                f"past 4 MiB sent)")
        if action != "kill":
            o = self.outage
            frag += (f"; database server crashed ({'and suitd killed, ' if action == 'both' else ''}"
                     f"down {o.get('down', 0):.2f}s): {self.unavailable} answers 503 "
                     f"storage-unavailable with Retry-After")
            if action == "pg" and "ready_after" in o:
                frag += (f", readyz 503 then 200 {o['ready_after']:.2f}s after the server's start"
                         f" without a restart of suitd, the first write acked "
                         f"{o.get('first_write', 0):.2f}s later, {o['acked_after']} in the next"
                         f" second")
        elif self.unavailable:
            frag += f"; {self.unavailable} answers 503 storage-unavailable"
        if self.errors:
            frag += (f"; {len(self.errors)} errors (not acknowledged) before the kill (first: "
                     f"{self.errors[0]})")
        print(frag)
        if self.bad_5xx:
            print(f"client.py: {len(self.bad_5xx)} answers 5xx other than 503 storage-unavailable "
                  f"with Retry-After, first: {self.bad_5xx[0]}", file=sys.stderr)
            return 4
        if self.fatal:
            print(f"client.py: {self.fatal}", file=sys.stderr)
            return 5
        if not killed:
            print("client.py: suitd was not running at the moment of the kill", file=sys.stderr)
            return 3
        return 0


# ---------------------------------------------------------------- verify


class Db:
    """The database the checks read: SQLite through the sqlite3 CLI, or
    PostgreSQL through psql (DB is then a libpq URL, the password in
    PASSWORD_FILE). One query list serves both: the few spellings that
    differ are methods here (hex, fk_broken)."""

    def __init__(self, backend, db, password_file=None, readonly=False):
        self.backend, self.db, self.readonly = backend, db, readonly
        self.env = None
        if backend == "postgresql":
            with open(password_file, encoding="utf-8") as f:
                self.env = dict(os.environ, PGPASSWORD=f.read().strip(), PGCONNECT_TIMEOUT="10")

    def hex(self, col):
        """Lower-case hex of a blob column."""
        return f"encode({col}, 'hex')" if self.backend == "postgresql" else f"lower(hex({col}))"

    def q(self, query, timeout=300):
        if self.backend == "postgresql":
            cmd = ["psql", "-X", "-q", "-A", "-t", "-F", "|", "-v", "ON_ERROR_STOP=1",
                   "-d", self.db, "-c", query]
        else:
            cmd = ["sqlite3", "-batch", "-noheader", "-separator", "|"]
            if self.readonly:
                cmd.append("-readonly")
            cmd += [self.db, query]
        p = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=timeout,
                           env=self.env)
        if p.returncode != 0:
            raise RuntimeError(f"{cmd[0]} {self.backend}: {query[:80]}...: {p.stderr.strip()}")
        return [line.split("|") for line in p.stdout.splitlines()]

    def fk_broken(self):
        """Rows whose foreign key points at nothing: SQLite's
        foreign_key_check; on PostgreSQL (which enforces them unless a
        trigger was disabled) an anti-join per single-column foreign key of
        the schema, and any constraint left NOT VALID."""
        if self.backend != "postgresql":
            return self.q("PRAGMA foreign_key_check")
        fks = self.q(
            "SELECT c.conrelid::regclass, a.attname, c.confrelid::regclass, b.attname "
            "FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid "
            "AND a.attnum = c.conkey[1] JOIN pg_attribute b ON b.attrelid = c.confrelid "
            "AND b.attnum = c.confkey[1] WHERE c.contype = 'f' "
            "AND c.connamespace = 'public'::regnamespace AND cardinality(c.conkey) = 1")
        if not fks:
            return [["no foreign keys found in the schema"]]
        parts = [f"SELECT '{t}', '{col}', count(*) FROM {t} x WHERE x.{col} IS NOT NULL AND "
                 f"NOT EXISTS (SELECT 1 FROM {rt} y WHERE y.{rcol} = x.{col}) HAVING count(*) > 0"
                 for t, col, rt, rcol in fks]
        parts.append("SELECT conname, 'NOT VALID', 0 FROM pg_constraint WHERE contype = 'f' "
                     "AND NOT convalidated")
        return self.q(" UNION ALL ".join(parts))


def open_db(a, readonly=False):
    return Db(a.backend, a.db, a.db_password_file, readonly)


class Verify:
    def __init__(self, args):
        self.a = args
        self.fails = []
        self.checked = 0
        self.rng = random.Random(f"{args.seed}-verify-{args.phase}")
        self.k = Known(read_journal(args.journal))
        # The daemon has the live file open after a restart (SQLite: read-only).
        self.db = open_db(args, readonly=args.phase != "crashed")

    def fail(self, text):
        self.fails.append(text)

    def q(self, query):
        return self.db.q(query)

    def check_sql(self):
        k, it, h = self.k, self.a.iteration, self.db.hex
        # Payload rows: complete upload, every chunk there and full-size but the last.
        rows = self.q(
            f"SELECT {h('p.sha256')}, p.size, coalesce(u.state, 'MISSING'), "
            "coalesce(u.chunk_size, 0), "
            "(SELECT count(*) FROM chunks c WHERE c.upload_id = p.upload_id), "
            "(SELECT coalesce(sum(length(c.data)), 0) FROM chunks c WHERE c.upload_id = p.upload_id), "
            "(SELECT coalesce(min(c.seq), 0) FROM chunks c WHERE c.upload_id = p.upload_id), "
            "(SELECT coalesce(max(c.seq), -1) FROM chunks c WHERE c.upload_id = p.upload_id), "
            "(SELECT count(*) FROM chunks c WHERE c.upload_id = p.upload_id "
            "   AND c.seq < (p.size - 1) / u.chunk_size AND length(c.data) != u.chunk_size) "
            "FROM payloads p LEFT JOIN uploads u ON u.id = p.upload_id")
        payloads = {}
        for sha, size, state, cs, n, total, lo, hi, short in rows:
            size, cs, n, total, lo, hi, short = map(int, (size, cs, n, total, lo, hi, short))
            payloads[sha] = size
            want = (size + cs - 1) // cs if cs else -1
            if state != "complete" or n != want or total != size or lo != 0 or hi != n - 1 \
                    or short:
                self.fail(f"PARTIAL payload {sha}: size {size}, upload {state}, chunk size {cs},"
                          f" {n} chunks (want {want}) of {total} bytes, seq {lo}..{hi},"
                          f" {short} short chunks")
            if sha not in k.tried:
                self.fail(f"UNKNOWN payload {sha} ({size} bytes) visible: never uploaded")
        for sha, r in k.acked.items():
            if sha in k.del_ok:
                self.checked += 1
                if sha in payloads:
                    self.fail(f"RESURRECTED payload {sha}: deleted (204) in iteration "
                              f"{k.del_ok[sha]}, present again")
                continue
            if sha in k.del_try:
                continue  # deletion in flight at a kill: either outcome is right
            self.checked += 1
            if sha not in payloads:
                self.fail(f"LOST payload {sha} ({r['size']} bytes, {r['status']} in iteration "
                          f"{r['it']})")
            elif payloads[sha] != r["size"]:
                self.fail(f"WRONG SIZE payload {sha}: {payloads[sha]}, acknowledged {r['size']}")
        self.payloads = payloads

        have = {r[0] for r in self.q(f"SELECT {h('digest')} FROM manifests")}
        for d, r in k.manifests.items():
            self.checked += 1
            if d not in have:
                self.fail(f"LOST manifest {d} (sequence {r['seq']}, 201 in iteration {r['it']})")

        devs = dict(self.q(f"SELECT id, {h('token_hash')} FROM devices"))
        for d, r in k.devices.items():
            self.checked += 1
            if d not in devs:
                self.fail(f"LOST device {d} (201 in iteration {r['it']})")
            elif devs[d] != hashlib.sha256(r["token"].encode()).hexdigest():
                self.fail(f"WRONG TOKEN of device {d}: stored hash differs from the token of its 201")

        deps = {int(i): (m, int(n)) for i, m, n in self.q(
            f"SELECT d.id, {h('m.digest')}, "
            "(SELECT count(*) FROM assignments a WHERE a.deployment_id = d.id) "
            "FROM deployments d LEFT JOIN manifests m ON m.id = d.manifest_id")}
        for i, r in k.deployments.items():
            self.checked += 1
            if i not in deps:
                self.fail(f"LOST deployment {i} (manifest {r['manifest']}, 201 in iteration {r['it']})")
            elif deps[i][0] != r["manifest"] or deps[i][1] < r["devices"]:
                self.fail(f"CHANGED deployment {i}: manifest {deps[i][0]} with {deps[i][1]} "
                          f"assignments, acknowledged {r['manifest']} with {r['devices']}")

        moved = {(dv, m) for dv, m in self.q(
            f"SELECT DISTINCT dv.id, {h('m.digest')} FROM assignments a "
            "JOIN devices dv ON dv.num = a.device_num JOIN deployments d ON d.id = a.deployment_id "
            "JOIN manifests m ON m.id = d.manifest_id WHERE a.state != 'pending'")}
        for key, i in k.checkins.items():
            self.checked += 1
            if key not in moved:
                self.fail(f"LOST delivery: device {key[0]} got manifest {key[1]} (200 in iteration "
                          f"{i}) but its assignment is still pending")

        stored = {}
        for dv, code in self.q("SELECT dv.id, coalesce(CAST(r.code AS text), '') FROM reports r "
                               "JOIN devices dv ON dv.num = r.device_num"):
            stored.setdefault(dv, set()).add(code)
        # A failed report on an assignment that is failed already is accepted
        # and not stored (the closing state again): the first one, maybe
        # acknowledged to nobody because of a kill, is the one kept.
        failed_kept = {(dv, digest.lower()) for dv, digest in self.q(
            f"SELECT dv.id, {h('r.manifest_digest')} FROM reports r JOIN devices dv "
            "ON dv.num = r.device_num WHERE r.state = 'failed'")}
        per_dev = {}
        for r in k.reports:
            self.checked += 1
            if str(r["code"]) in stored.get(r["device"], ()):
                per_dev[r["device"]] = per_dev.get(r["device"], 0) + 1
            elif not (r["state"] == "failed" and (r["device"], r["manifest"].lower()) in failed_kept):
                per_dev[r["device"]] = per_dev.get(r["device"], 0) + 1
                self.fail(f"LOST report of {r['device']}: {r['state']} code {r['code']} "
                          f"(204 in iteration {r['it']})")
        for dv, n in per_dev.items():
            if len(stored.get(dv, ())) < n:
                self.fail(f"LOST reports of {dv}: {len(stored.get(dv, ()))} stored, {n} acknowledged")

        bad = self.q(
            "SELECT 'counts', * FROM (SELECT deployment_id, stage, state, count(*) FROM assignments "
            "GROUP BY 1, 2, 3 EXCEPT SELECT deployment_id, stage, state, n FROM assignment_counts "
            "WHERE n > 0) AS x UNION ALL SELECT 'rows', * FROM (SELECT deployment_id, stage, state, "
            "n FROM assignment_counts WHERE n > 0 EXCEPT SELECT deployment_id, stage, state, "
            "count(*) FROM assignments GROUP BY 1, 2, 3) AS y")
        for b in bad[:5]:
            self.fail(f"assignment_counts differ from the assignments: {'|'.join(b)}")
        fk = self.db.fk_broken()
        for b in fk[:5]:
            self.fail(f"foreign key violation: {'|'.join(b)}")

        self.receiving = int(self.q("SELECT count(*) FROM uploads WHERE state = 'receiving'")[0][0])
        self.receiving_chunks = int(self.q(
            "SELECT count(*) FROM chunks c JOIN uploads u ON u.id = c.upload_id "
            "WHERE u.state = 'receiving'")[0][0])
        kill = k.kills.get(it, {})
        self.inflight_visible = sum(1 for s in kill.get("uploads", []) if s in payloads)
        self.inflight_gone = len(kill.get("uploads", [])) - self.inflight_visible

    def check_orphans(self):
        (n_recv,), = self.q("SELECT count(*) FROM uploads WHERE state = 'receiving'")
        (n_up,), = self.q("SELECT count(*) FROM uploads u WHERE NOT EXISTS "
                          "(SELECT 1 FROM payloads p WHERE p.upload_id = u.id)")
        (n_chunks,), = self.q("SELECT count(*) FROM chunks c WHERE NOT EXISTS "
                              "(SELECT 1 FROM payloads p WHERE p.upload_id = c.upload_id)")
        if int(n_recv) or int(n_up) or int(n_chunks):
            self.fail(f"ORPHANS after restart: {n_recv} uploads still receiving, {n_up} uploads "
                      f"without a payload, {n_chunks} chunks of no payload")

    def check_api(self):
        k, it = self.k, self.a.iteration
        tls = Tls(self.a.url, self.a.ca)
        with open(self.a.key, encoding="utf-8") as f:
            sess = Session(tls, f.read().strip())
        st, _, _ = sess.request("GET", "/readyz")
        if st != 200:
            self.fail(f"GET /readyz answered {st} after the restart")
        # Every listed payload: the same set as the table, and downloadable.
        listed, after = {}, None
        while True:
            path = "/api/v1/payloads?limit=1000" + (f"&after={after}" if after else "")
            st, _, data = sess.request("GET", path)
            if st != 200:
                self.fail(f"GET {path} answered {st}")
                break
            page = json.loads(data)
            for p in page["items"]:
                listed[p["sha256"]] = p["size"]
            after = page["next"]
            if not after:
                break
        if listed != self.payloads:
            only_api = sorted(set(listed) - set(self.payloads))[:3]
            only_db = sorted(set(self.payloads) - set(listed))[:3]
            self.fail(f"payload list differs from the table: listed only {only_api}, "
                      f"in the table only {only_db}")
        verified = set()
        if os.path.exists(self.a.verified):
            with open(self.a.verified, encoding="utf-8") as f:
                verified = set(json.load(f))
        todo = [s for s in listed if s not in verified]
        old = sorted(s for s in listed if s in verified)
        todo += self.rng.sample(old, min(3, len(old)))
        self.downloaded = self.bytes = 0
        for sha in todo:
            st, got, n = sess.download(f"/api/v1/payloads/{sha}/content")
            self.downloaded += 1
            self.bytes += n
            if st != 200 or got != sha or n != listed[sha]:
                self.fail(f"PARTIAL download of payload {sha}: status {st}, {n} of "
                          f"{listed[sha]} bytes, sha256 {got}")
            else:
                verified.add(sha)
        for sha in k.del_ok:
            st, _, _ = sess.request("GET", f"/api/v1/payloads/{sha}")
            if st != 404:
                self.fail(f"deleted payload {sha}: GET answered {st}, not 404")
        # This iteration's acknowledged writes (and a sample of older ones) through the API.
        def pick(d, key=lambda r: r):
            now = [x for x, r in d.items() if key(r) == it]
            rest = sorted((x for x, r in d.items() if key(r) != it), key=str)
            return now + self.rng.sample(rest, min(5, len(rest)))
        for d in pick(k.manifests, lambda r: r["it"]):
            r = k.manifests[d]
            st, _, env = sess.request("GET", f"/api/v1/manifests/{d}/envelope")
            with open(r["file"], "rb") as f:
                want = f.read()
            if st != 200 or env != want:
                self.fail(f"manifest {d}: GET envelope answered {st}, {len(env)} bytes "
                          f"({'same' if env == want else 'other'} bytes than uploaded)")
        for dev in pick(k.devices, lambda r: r["it"]):
            r = k.devices[dev]
            st, _, data = sess.request("GET", "/device/v1/whoami", bearer=r["token"])
            if st != 200 or json.loads(data).get("id") != dev:
                self.fail(f"device {dev}: whoami with its token answered {st} {data[:100]!r}")
        for i in pick(k.deployments, lambda r: r["it"]):
            r = k.deployments[i]
            st, _, data = sess.request("GET", f"/api/v1/deployments/{i}")
            d = json.loads(data) if st == 200 else {}
            if st != 200 or d.get("manifest") != r["manifest"] or d.get("devices", -1) < r["devices"]:
                self.fail(f"deployment {i}: GET answered {st} {data[:200]!r}")
        want = {}
        for r in k.reports:
            if r["it"] == it:
                want.setdefault(r["device"], set())
        repeat_failed = set()  # codes of failed reports that may be a repeat (not stored)
        for r in k.reports:
            if r["device"] in want:
                want[r["device"]].add(r["code"])
                if r["state"] == "failed":
                    repeat_failed.add((r["code"], r["manifest"].lower()))
        for dev, codes in want.items():
            got, got_failed, after = set(), set(), None
            while True:
                path = f"/api/v1/devices/{dev}/reports?limit=1000" + (f"&after={after}" if after else "")
                st, _, data = sess.request("GET", path)
                if st != 200:
                    self.fail(f"GET {path} answered {st}")
                    break
                page = json.loads(data)
                got.update(x["code"] for x in page["items"])
                got_failed.update(x["manifest"] for x in page["items"] if x["state"] == "failed")
                after = page["next"]
                if not after:
                    break
            missing = {c for c in codes - got
                       if not any(c == rc and m in got_failed for rc, m in repeat_failed)}
            if missing:
                self.fail(f"LOST reports of {dev} in the API: codes {sorted(missing)[:5]}")
        sess.close()
        with open(self.a.verified + ".tmp", "w", encoding="utf-8") as f:
            json.dump(sorted(verified), f)
        os.replace(self.a.verified + ".tmp", self.a.verified)

    def run(self):
        self.check_sql()
        if self.a.phase == "restarted":
            self.check_orphans()
        if self.a.phase != "crashed":
            self.check_api()
        st = {"type": "verify", "it": self.a.iteration, "phase": self.a.phase,
              "checked": self.checked, "acked_total": self.k.acked_count(),
              "payloads": len(self.payloads), "receiving": self.receiving,
              "receiving_chunks": self.receiving_chunks,
              "inflight_visible": self.inflight_visible, "inflight_gone": self.inflight_gone,
              "downloaded": getattr(self, "downloaded", 0), "bytes": getattr(self, "bytes", 0),
              "fails": len(self.fails)}
        with open(self.a.stats, "a", encoding="utf-8") as f:
            f.write(json.dumps(st) + "\n")
        for line in self.fails[:50]:
            print("  " + line, file=sys.stderr)
        if len(self.fails) > 50:
            print(f"  ... and {len(self.fails) - 50} more", file=sys.stderr)
        if self.fails:
            print(f"{len(self.fails)} problems")
        elif self.a.phase == "crashed":
            print(f"{self.checked} acked writes present, {self.receiving} unfinished uploads "
                  f"({self.receiving_chunks} chunks)")
        elif self.a.phase == "recovered":
            # suitd removes uploads left receiving at its start only: those an
            # outage cut short wait for the next start (docs/design.md).
            print(f"{self.checked} present, {self.downloaded} payloads downloaded "
                  f"({self.bytes / MiB:.1f} MiB); {self.receiving} unfinished uploads "
                  f"({self.receiving_chunks} chunks) left until suitd's next start")
        else:
            print(f"{self.checked} present, {self.downloaded} payloads downloaded "
                  f"({self.bytes / MiB:.1f} MiB), no orphans; unanswered uploads: "
                  f"{self.inflight_visible} visible, {self.inflight_gone} gone")
        return 1 if self.fails else 0


# ---------------------------------------------------------------- ready, summary


def ready(args):
    tls = Tls(args.url, args.ca, timeout=2.0)
    deadline = time.monotonic() + args.timeout
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            conn = tls.connect()
            conn.request("GET", "/readyz")
            r = conn.getresponse()
            r.read()
            conn.close()
            if r.status == 200:
                return 0
            last = f"status {r.status}"
        except (OSError, http.client.HTTPException) as e:
            last = f"{type(e).__name__}: {e}"
        time.sleep(0.05)
    print(f"client.py: GET {args.url}/readyz: {last} after {args.timeout} s", file=sys.stderr)
    return 1


def summary(args):
    drives, verifies = [], []
    with open(args.stats, encoding="utf-8") as f:
        for line in f:
            s = json.loads(line)
            (drives if s["type"] == "drive" else verifies).append(s)
    acks = {}
    status = {}
    for d in drives:
        for k, v in d["acks"].items():
            acks[k] = acks.get(k, 0) + v
        for kind, codes in d["status"].items():
            for c, n in codes.items():
                status.setdefault(kind, {})
                status[kind][c] = status[kind].get(c, 0) + n
    k = Known(read_journal(args.journal))
    n = len(drives)
    up_hit = sum(1 for d in drives if d["up_inflight"])
    mid = sum(1 for d in drives if d["up_midbody"])
    inflight = sum(1 for d in drives if sum(d["inflight"].values()))
    restarted = [v for v in verifies if v["phase"] in ("restarted", "recovered")]
    crashed = [v for v in verifies if v["phase"] == "crashed"]
    print(f"  iterations: {n}; kills with requests in flight: {inflight} (on average "
          f"{sum(sum(d['inflight'].values()) for d in drives) / max(n, 1):.1f} requests)")
    acts = {}
    for d in drives:
        acts[d.get("action", "kill")] = acts.get(d.get("action", "kill"), 0) + 1
    if acts.get("pg") or acts.get("both"):
        pg = [d for d in drives if d.get("action") == "pg"]
        ready = [d["outage"]["ready_after"] for d in pg if "ready_after" in d["outage"]]
        down = [d["outage"]["down"] for d in drives if d.get("action", "kill") != "kill"]
        print(f"  suitd killed -9: {acts.get('kill', 0) + acts.get('both', 0)} times; database "
              f"server crashed (pg_ctl stop -m immediate, then started): "
              f"{acts.get('pg', 0) + acts.get('both', 0)} times, {acts.get('both', 0)} of them "
              f"with suitd killed during the outage; outages {min(down):.2f}-{max(down):.2f} s")
        if ready:
            print(f"  suitd without a restart: readyz 503 during each outage, 200 again "
                  f"{min(ready):.2f}-{max(ready):.2f} s after the server's start (median "
                  f"{sorted(ready)[len(ready) // 2]:.2f}); the first write acknowledged "
                  f"{max(d['outage'].get('first_write', 0) for d in pg):.2f} s after that at "
                  f"most, {min(d['outage']['acked_after'] for d in pg)} or more in the next "
                  f"second")
        print(f"  answers 503 storage-unavailable with Retry-After (not acknowledged): "
              f"{sum(d.get('unavailable', 0) for d in drives)}; other 5xx: "
              f"{sum(len(d.get('bad_5xx', ())) for d in drives)}")
    print(f"  acknowledged writes in the journal: {k.acked_count()} — payload uploads "
          f"{len(k.acked)} ({acks.get('up_ok', 0)} 2xx answers), payload deletions "
          f"{len(k.del_ok)}, manifests {len(k.manifests)}, devices {len(k.devices)}, deployments "
          f"{len(k.deployments)}, check-in deliveries {len(k.checkins)}, reports {len(k.reports)}")
    print(f"  presence checks of acknowledged writes: {sum(v['checked'] for v in verifies)} "
          f"({sum(v['checked'] for v in crashed)} on the database the kills left, "
          f"{sum(v['checked'] for v in restarted)} after the restarts)")
    left = sum(1 for v in crashed if v["receiving_chunks"])
    print(f"  kills that hit an in-flight upload: {up_hit} of {n} ({mid} mid-body; {left} left an "
          f"unfinished upload with committed chunk rows)")
    print(f"  unfinished uploads in the files the kills left: {sum(v['receiving'] for v in crashed)}"
          f" ({sum(v['receiving_chunks'] for v in crashed)} chunk rows), none after the restarts")
    print(f"  uploads sent but never answered: {sum(v['inflight_visible'] for v in restarted)} "
          f"committed before the kill (answer lost; checked complete), "
          f"{sum(v['inflight_gone'] for v in restarted)} not visible")
    print(f"  payload downloads verified by SHA-256: {sum(v['downloaded'] for v in restarted)} "
          f"({sum(v['bytes'] for v in restarted) / MiB:.1f} MiB)")
    print(f"  2xx reads journaled too: {acks.get('chk_none', 0)} check-ins with nothing to do, "
          f"{acks.get('dl_ok', 0)} device payload downloads (SHA-256 checked)")
    for kind in sorted(status):
        codes = ", ".join(f"{c}: {v}" for c, v in sorted(status[kind].items()))
        print(f"  answers {kind}: {codes}")
    errs = sum(d["error_count"] for d in drives)
    if errs:
        print(f"  client errors before a kill: {errs}")
        for d in drives:
            for e in d["errors"][:3]:
                print(f"    iteration {d['it']}: {e}")
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("ready")
    p.add_argument("--url", required=True)
    p.add_argument("--ca", required=True)
    p.add_argument("--timeout", type=float, default=15.0)
    for name in ("drive", "verify"):
        p = sub.add_parser(name)
        p.add_argument("--url", required=True)
        p.add_argument("--ca", required=True)
        p.add_argument("--key", required=True, help="file with the admin API key")
        p.add_argument("--journal", required=True)
        p.add_argument("--stats", required=True)
        p.add_argument("--seed", required=True)
        p.add_argument("--iteration", type=int, required=True)
        p.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
        p.add_argument("--db-password-file", help="PostgreSQL: the password of --db's role")
    d = sub.choices["drive"]
    d.add_argument("--pid", type=int, required=True, help="suitd to kill -9")
    d.add_argument("--suitd", required=True)
    d.add_argument("--conf", required=True)
    d.add_argument("--author", required=True, help="manifest signing key (PEM)")
    d.add_argument("--work", required=True, help="folder for envelopes")
    d.add_argument("--db", required=True, help="suitd's database (read-only polls)")
    d.add_argument("--action", choices=("kill", "pg", "both"), default="kill",
                   help="kill -9 of suitd, a crash of the database server (suitd keeps "
                        "running), or both")
    d.add_argument("--pg-tmp", help="tests/pg/pg_tmp.sh (crash, recover)")
    d.add_argument("--pg-dir", help="the throwaway server's folder")
    d.add_argument("--min-ms", type=float, default=300)
    d.add_argument("--max-ms", type=float, default=2000)
    v = sub.choices["verify"]
    v.add_argument("--phase", choices=("crashed", "restarted", "recovered"), required=True,
                   help="crashed: database only; restarted: suitd started again, also no "
                        "orphans and the API; recovered: the database server restarted under a "
                        "running suitd, database and API")
    v.add_argument("--db", required=True, help="SQLite file or PostgreSQL URL")
    v.add_argument("--verified", required=True, help="state file: payloads downloaded already")
    p = sub.add_parser("summary")
    p.add_argument("--stats", required=True)
    p.add_argument("--journal", required=True)
    args = ap.parse_args()
    socket.setdefaulttimeout(60)
    if args.cmd == "ready":
        return ready(args)
    if args.cmd == "drive":
        return Drive(args).run()
    if args.cmd == "verify":
        return Verify(args).run()
    return summary(args)


if __name__ == "__main__":
    sys.exit(main())
