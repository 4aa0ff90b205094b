#!/usr/bin/env python3
"""SWUpdate (Debian's swupdate 2022.12, its suricatta hawkBit client) as the
device against suitd's DDI (issue 20, docs/ddi.md). Run by `make check`:

    tests/ddi/swupdate.py BUILD

Each swupdate instance runs in its own mount namespace with a private tmpfs
on /tmp (it writes fixed paths there: its sockets, scripts, the files it
installs), which needs root: as another user this fails loudly, it does not
skip. In a temporary folder under /var/tmp (outside the instances' /tmp):

 1. a CMS-signed .swu built here with `openssl cms` and `cpio -H crc`
    (sw-description with hardware-compatibility, a files entry of 2 MiB of
    random bytes and a shell script), uploaded as a payload named
    update.swu; a SUIT manifest for it made and signed with
    `suitd manifest create` and uploaded;
 2. a staged deployment (stages 1 %, 100 %) to three instances: stage one
    first, the rest only after it confirmed. Instance 1 reaches suitd
    through a TCP proxy that cuts its first download after 256 KiB: it
    resumes with a Range request (suitd counts a 206 on the artifact
    route). Each installs (the file and the script's mark appear in its
    /tmp), reports, and after a restart with `-c 2` (success after reboot)
    its assignment ends `confirmed`;
 3. a second manifest deployed in two stages with failure_threshold 0: the
    instance of stage one installs, restarts with `-c 3` (failed after
    reboot): its assignment ends `failed` and the deployment pauses itself
    (paused_auto), the other device stays pending;
 4. a cancel of a delivered action reaches a polling instance: it answers
    the cancelAction with feedback and the cancel is cleared.

Prints "ok - ..." / "not ok - ..." per check and exits 1 on a failure.
DDI_KEEP=1 keeps the folder.
"""
import hashlib
import json
import os
import shlex
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

PASSED = 0
FAILED = 0
DEADLINE = 25  # seconds to wait for one state


def ok(what):
    global PASSED
    PASSED += 1
    print(f"ok - {what}", flush=True)


def not_ok(what, why):
    global FAILED
    FAILED += 1
    print(f"not ok - {what}", flush=True)
    for line in str(why).splitlines():
        print(f"# {line}", flush=True)


def run(args, **kw):
    return subprocess.run(args, check=True, capture_output=True, text=True, **kw)


class Suitd:
    def __init__(self, build, tmp):
        self.bin = os.path.join(build, "suitd")
        self.tmp = tmp
        self.conf = os.path.join(tmp, "suitd.conf")
        self.log = os.path.join(tmp, "suitd.log")
        self.proc = None
        self.url = None

    def write_config(self):
        with open(self.conf, "w") as f:
            f.write(f"""[server]
listen = 127.0.0.1:0
tls = on
tls_self_signed = on
tls_cert = {self.tmp}/tls/cert.pem
tls_key = {self.tmp}/tls/key.pem
[storage]
database = {self.tmp}/suitd.db
synchronous = normal
[devices]
auth = token
poll_interval = 1
poll_interval_active = 1
poll_jitter = 0
[manifests]
trust_anchor = {self.tmp}/author.pub
[ddi]
enabled = on
[log]
level = info
""")

    def cli(self, *args):
        return run([self.bin, "-c", self.conf, *args]).stdout

    def start(self):
        self.logf = open(self.log, "a")
        self.proc = subprocess.Popen([self.bin, "-c", self.conf], stderr=self.logf,
                                     stdout=self.logf)
        for _ in range(300):
            with open(self.log) as f:
                for line in f:
                    if " listening on https://" in line:
                        self.url = line.split(" listening on ")[1].split()[0]
            if self.url:
                break
            time.sleep(0.1)
        if not self.url:
            raise RuntimeError("suitd did not start:\n" + open(self.log).read())
        self.port = int(self.url.rsplit(":", 1)[1])
        self.ctx = ssl.create_default_context(cafile=f"{self.tmp}/tls/cert.pem")

    def stop(self):
        if self.proc:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None

    def request(self, method, path, body=None, ctype=None, auth=None, headers=None):
        req = urllib.request.Request(self.url + path, data=body, method=method)
        req.add_header("Authorization", auth or f"Bearer {self.key}")
        if ctype:
            req.add_header("Content-Type", ctype)
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, context=self.ctx, timeout=30) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def api(self, method, path, obj=None, want=200):
        body = json.dumps(obj).encode() if obj is not None else None
        status, data = self.request(method, path, body, "application/json" if body else None)
        if status != want:
            raise RuntimeError(f"{method} {path}: {status}, want {want}: {data[:300]!r}")
        return json.loads(data) if data else None

    def metric(self, series):
        status, data = self.request("GET", "/metrics")
        for line in data.decode().splitlines():
            if line.startswith(series + " "):
                return float(line.split()[-1])
        return 0.0


class CuttingProxy:
    """TCP forwarder on loopback that cuts the first connection whose
    server-to-client bytes pass `cut` (a download under way), once."""

    def __init__(self, port, cut):
        self.target = port
        self.cut = cut
        self.done = False
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            s = socket.create_connection(("127.0.0.1", self.target))
            threading.Thread(target=self.pump, args=(c, s, False), daemon=True).start()
            threading.Thread(target=self.pump, args=(s, c, True), daemon=True).start()

    def pump(self, src, dst, downstream):
        n = 0
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                n += len(data)
                if downstream and not self.done and n > self.cut:
                    self.done = True
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()


class Instance:
    """One swupdate (suricatta) in a private mount namespace."""

    def __init__(self, tmp, name, token, port):
        self.name = name
        self.dir = os.path.join(tmp, name)
        os.makedirs(self.dir, exist_ok=True)
        self.tmp = tmp
        self.token = token
        self.port = port
        self.proc = None
        self.log = os.path.join(self.dir, "swupdate.log")
        self.root = os.path.join(self.dir, "root")  # its /tmp, kept after it stops
        os.makedirs(self.root, exist_ok=True)

    def start(self, confirm=None):
        cfg = os.path.join(self.dir, "swupdate.cfg")
        with open(cfg, "w") as f:
            f.write(f"""globals: {{ loglevel = 5; }};
suricatta: {{
	tenant = "DEFAULT";
	id = "{self.name}";
	url = "https://127.0.0.1:{self.port}";
	polldelay = 1;
	retry = 5;
	retrywait = 1;
	cafile = "{self.tmp}/tls/cert.pem";
	targettoken = "{self.token}";
	connection-timeout = 10;
}};
""")
        args = ["swupdate", "-v", "-f", cfg, "-H", "suitd-board:1.0", "-k",
                f"{self.tmp}/signer.crt", "-u", f"-c {confirm}" if confirm else "-e"]
        # A private /tmp (bound from the instance's folder, so the test can
        # look at what it installed) and /run.
        script = (f"mount --bind {self.root} /tmp && mount -t tmpfs tmpfs /run && "
                  f"mkdir -p /tmp/out && exec {' '.join(shlex.quote(a) for a in args)}")
        self.logf = open(self.log, "a")
        self.proc = subprocess.Popen(["unshare", "-m", "--propagation", "private", "sh", "-c",
                                      script], stdout=self.logf, stderr=self.logf,
                                     start_new_session=True)

    def stop(self):
        if self.proc:
            try:
                os.killpg(self.proc.pid, 15)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
                self.proc.wait()
            self.proc = None

    def tail(self):
        try:
            with open(self.log) as f:
                return "".join(f.readlines()[-25:])
        except OSError:
            return "(no log)"


def make_swu(tmp, version, payload_size, script_exit=0):
    """A CMS-signed .swu: sw-description (hardware-compatibility, a files
    entry, a shell script) signed with `openssl cms`, in a `cpio -H crc`."""
    d = os.path.join(tmp, f"swu-{version}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "image.bin"), "wb") as f:
        f.write(os.urandom(payload_size))
    with open(os.path.join(d, "mark.sh"), "w") as f:
        f.write(f"#!/bin/sh\n# SWUpdate calls it with preinst, then postinst.\n"
                f"echo \"{version} $1\" >>/tmp/out/mark.log\nexit {script_exit}\n")

    def sha(name):
        with open(os.path.join(d, name), "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()

    with open(os.path.join(d, "sw-description"), "w") as f:
        f.write(f"""software =
{{
	version = "{version}";
	hardware-compatibility: [ "1.0" ];
	files: (
		{{
			filename = "image.bin";
			path = "/tmp/out/image-{version}.bin";
			sha256 = "{sha('image.bin')}";
		}}
	);
	scripts: (
		{{
			filename = "mark.sh";
			type = "shellscript";
			sha256 = "{sha('mark.sh')}";
		}}
	);
}}
""")
    run(["openssl", "cms", "-sign", "-in", "sw-description", "-out", "sw-description.sig",
         "-signer", f"{tmp}/signer.crt", "-inkey", f"{tmp}/signer.key", "-outform", "DER",
         "-nosmimecap", "-binary"], cwd=d)
    swu = os.path.join(tmp, f"update-{version}.swu")
    with open(swu, "wb") as out:
        subprocess.run(["cpio", "-o", "-H", "crc", "--quiet"], cwd=d, check=True, stdout=out,
                       input=b"sw-description\nsw-description.sig\nimage.bin\nmark.sh\n")
    with open(os.path.join(d, "image.bin"), "rb") as f:
        image_sha = hashlib.sha256(f.read()).hexdigest()
    return swu, image_sha


def upload(sd, swu, name, seq, class_info):
    with open(swu, "rb") as f:
        data = f.read()
    status, body = sd.request("POST", f"/api/v1/payloads?name={name}", data,
                              "application/octet-stream")
    if status not in (200, 201):
        raise RuntimeError(f"payload upload: {status} {body[:200]!r}")
    sha = json.loads(body)["sha256"]
    env = os.path.join(sd.tmp, f"{name}.suit")
    sd.cli("manifest", "create", "--key", f"{sd.tmp}/author.pem", "--payload", swu,
           "--vendor-domain", "example.com", "--class-info", class_info, "--sequence",
           str(seq), "--uri", f"https://127.0.0.1:{sd.port}/device/v1/payloads/{sha}", "-o", env)
    with open(env, "rb") as f:
        status, body = sd.request("POST", "/api/v1/manifests", f.read(),
                                  "application/suit-envelope+cose")
    if status != 201:
        raise RuntimeError(f"manifest upload: {status} {body[:300]!r}")
    return json.loads(body)["digest"]["value"]


def state_of(sd, dep, device):
    items = sd.api("GET", f"/api/v1/deployments/{dep}/devices?limit=100")["items"]
    for it in items:
        if it["device"] == device:
            return it["state"], it.get("reason")
    return None, None


def wait_state(sd, dep, device, want, instances=(), seconds=DEADLINE):
    end = time.time() + seconds
    got = None
    while time.time() < end:
        got, _ = state_of(sd, dep, device)
        if got in want:
            return got
        time.sleep(0.2)
    logs = "\n".join(f"--- {i.name}\n{i.tail()}" for i in instances)
    raise RuntimeError(f"deployment {dep}, {device}: {got} after {seconds} s, want {want}\n{logs}")


def check(what, fn):
    try:
        fn()
        ok(what)
    except Exception as e:  # the check failed: say why, go on
        not_ok(what, e)


def main():
    if len(sys.argv) != 2:
        print("usage: tests/ddi/swupdate.py BUILD", file=sys.stderr)
        return 2
    build = os.path.abspath(sys.argv[1])
    if os.geteuid() != 0:
        not_ok("swupdate runs as the device", "needs root: each swupdate instance gets a "
               "private mount namespace with its own /tmp (unshare -m); run make check as root "
               "(CI does)")
        return 1
    for tool in ("swupdate", "cpio", "openssl", "unshare"):
        if not shutil.which(tool):
            not_ok("swupdate runs as the device", f"{tool} not found (tools/deps.sh check)")
            return 1
    tmp = tempfile.mkdtemp(prefix="suitd-ddi.", dir="/var/tmp")
    sd = Suitd(build, tmp)
    instances = []
    try:
        return scenario(sd, tmp, instances)
    finally:
        for i in instances:
            i.stop()
        sd.stop()
        if os.environ.get("DDI_KEEP") == "1" or FAILED:
            print(f"# kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def scenario(sd, tmp, instances):
    run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", f"{tmp}/signer.key", "-out", f"{tmp}/signer.crt", "-days", "2",
         "-subj", "/CN=suitd-test-signer", "-addext", "keyUsage=critical,digitalSignature",
         "-addext", "extendedKeyUsage=emailProtection"])
    run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-out", f"{tmp}/author.pem"])
    run(["openssl", "pkey", "-in", f"{tmp}/author.pem", "-pubout", "-out", f"{tmp}/author.pub"])
    sd.write_config()
    out = sd.cli("key", "create", "--name", "ddi-admin", "--role", "admin")
    sd.key = next(t for t in out.split() if t.startswith("suitd_ak_"))
    sd.start()

    swu1, image1 = make_swu(tmp, "1.0.1", 2 << 20)
    m1 = upload(sd, swu1, "update.swu", 1, "swu-board")
    tokens = {}
    for n in range(1, 4):
        name = f"swu-{n}"
        tokens[name] = sd.api("POST", "/api/v1/devices", {"id": name, "group": "swu"},
                              want=201)["token"]
    proxy = CuttingProxy(sd.port, 256 * 1024)
    for n in range(1, 4):
        name = f"swu-{n}"
        instances.append(Instance(tmp, name, tokens[name], proxy.port if n == 1 else sd.port))
    dep = sd.api("POST", "/api/v1/deployments",
                 {"manifest": m1, "target": {"group": "swu"},
                  "rollout": {"stages": [1, 100], "success_threshold": 100}}, want=201)
    dep_id = dep["id"]
    stage = {}
    for it in sd.api("GET", f"/api/v1/deployments/{dep_id}/devices?limit=100")["items"]:
        stage[it["device"]] = it["stage"]
    low = min(stage.values())
    first = [d for d, s in stage.items() if s == low]
    rest = [d for d, s in stage.items() if s != low]
    by_name = {i.name: i for i in instances}

    def stage_one_only():
        if len(first) != 1 or len(rest) != 2:
            raise RuntimeError(f"stages {stage}")
    check("a staged deployment to three swupdate devices: one in stage one", stage_one_only)

    # All three poll from the start; their stage decides when they get work.
    for i in instances:
        i.start()

    def installed(device):
        def f():
            wait_state(sd, dep_id, device, ("installing", "installed", "downloaded"),
                       instances, 40)
            inst = by_name[device]
            end = time.time() + DEADLINE
            img = os.path.join(inst.root, "out", "image-1.0.1.bin")
            while time.time() < end and not os.path.exists(os.path.join(inst.root, "out",
                                                                        "mark.log")):
                time.sleep(0.2)
            time.sleep(0.5)
            with open(img, "rb") as fh:
                if hashlib.sha256(fh.read()).hexdigest() != image1:
                    raise RuntimeError("the installed file differs from the image")
            marks = _read(os.path.join(inst.root, "out", "mark.log"))
            if "1.0.1 postinst" not in marks:
                raise RuntimeError(f"the script's marks: {marks!r}")
        return f

    check(f"stage one ({first[0]}) polls, downloads, installs the file and runs the script",
          installed(first[0]))

    def held():
        for other in rest:
            st, _ = state_of(sd, dep_id, other)
            if st != "pending":
                raise RuntimeError(f"{other} is {st} while stage one is not confirmed")
    check("stage two waits while stage one is not confirmed", held)

    def confirm(device):
        def f():
            inst = by_name[device]
            inst.stop()
            inst.start(confirm=2)
            wait_state(sd, dep_id, device, ("confirmed",), instances)
        return f

    check(f"{first[0]} restarted with -c 2: its assignment is confirmed", confirm(first[0]))
    for device in rest:
        check(f"stage two opens: {device} installs", installed(device))
        check(f"{device} restarted with -c 2: confirmed", confirm(device))

    def resumed():
        series = ('suitd_http_requests_total{method="GET",route="/{tenant}/controller/v1/'
                  '{controllerId}/softwaremodules/{smId}/artifacts/{fileName}",status="206"}')
        if not proxy.done:
            raise RuntimeError("the proxy never cut swu-1's download")
        if sd.metric(series) < 1:
            raise RuntimeError("no 206 on the artifact route: the download was not resumed "
                               "with a Range request\n" + by_name["swu-1"].tail())
    check("swu-1's download, cut after 256 KiB, resumed with a Range request (206)", resumed)

    def completed():
        end = time.time() + DEADLINE
        while time.time() < end:
            if sd.api("GET", f"/api/v1/deployments/{dep_id}")["status"] == "completed":
                return
            time.sleep(0.3)
        raise RuntimeError("the deployment did not complete")
    check("the deployment completes", completed)

    # --- a failure after reboot pauses the rollout ---------------------------
    for i in instances:
        i.stop()
    swu2, _ = make_swu(tmp, "1.0.2", 64 << 10)
    m2 = upload(sd, swu2, "update2.swu", 2, "swu-board")
    dep2 = sd.api("POST", "/api/v1/deployments",
                  {"manifest": m2, "target": {"devices": ["swu-2", "swu-3"]},
                   "rollout": {"stages": [1, 100], "failure_threshold": 0}}, want=201)["id"]
    st2 = {it["device"]: it["stage"]
           for it in sd.api("GET", f"/api/v1/deployments/{dep2}/devices")["items"]}
    a = next(d for d, s in st2.items() if s == min(st2.values()))
    b = next(d for d, s in st2.items() if s != min(st2.values()))

    def failed_pauses():
        inst = by_name[a]
        inst.start()
        wait_state(sd, dep2, a, ("installing", "installed", "downloaded"), instances, 40)
        end = time.time() + DEADLINE
        while time.time() < end and "1.0.2 postinst" not in _read(
                os.path.join(inst.root, "out", "mark.log")):
            time.sleep(0.2)
        inst.stop()
        inst.start(confirm=3)
        wait_state(sd, dep2, a, ("failed",), instances)
        end = time.time() + DEADLINE
        d = None
        while time.time() < end:
            d = sd.api("GET", f"/api/v1/deployments/{dep2}")
            if d["status"] == "paused":
                break
            time.sleep(0.3)
        if d["status"] != "paused" or not (d.get("paused") or {}).get("automatic"):
            raise RuntimeError(f"deployment: {json.dumps(d)[:600]}")
        st, _ = state_of(sd, dep2, b)
        if st != "pending":
            raise RuntimeError(f"{b} is {st}, want pending")
        inst.stop()
    check("an install that fails after reboot (-c 3) ends failed and auto-pauses the rollout",
          failed_pauses)

    # --- a cancel reaches a polling instance --------------------------------
    swu3, _ = make_swu(tmp, "1.0.3", 64 << 10)
    m3 = upload(sd, swu3, "update3.swu", 3, "swu-other")
    dep3 = sd.api("POST", "/api/v1/deployments",
                  {"manifest": m3, "target": {"devices": ["swu-1"]}}, want=201)["id"]

    def cancel_reaches():
        tok = tokens["swu-1"]
        base = "/DEFAULT/controller/v1/swu-1"
        st, body = sd.request("GET", base, auth=f"TargetToken {tok}")
        href = json.loads(body)["_links"]["deploymentBase"]["href"]
        action = href.split("/deploymentBase/")[1].split("?")[0]
        st, body = sd.request("GET", f"{base}/deploymentBase/{action}",
                              auth=f"TargetToken {tok}")
        if st != 200:
            raise RuntimeError(f"deploymentBase: {st}")
        sd.api("POST", f"/api/v1/deployments/{dep3}/cancel")
        inst = by_name["swu-1"]
        inst.start()
        end = time.time() + DEADLINE
        while time.time() < end:
            st, _ = sd.request("GET", f"{base}/cancelAction/{action}",
                               auth=f"TargetToken {tok}")
            if st == 404:
                break
            time.sleep(0.3)
        if st != 404:
            raise RuntimeError("the cancel is still waiting\n" + inst.tail())
        s, _ = state_of(sd, dep3, "swu-1")
        if s != "canceled":
            raise RuntimeError(f"swu-1 is {s}")
        if os.path.exists(os.path.join(inst.root, "out", "image-1.0.3.bin")):
            raise RuntimeError("the canceled image was installed")
        inst.stop()
    check("a cancel reaches a polling swupdate, which acknowledges it", cancel_reaches)
    print(f"{PASSED} passed, {FAILED} failed")
    return 1 if FAILED else 0


def _read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


if __name__ == "__main__":
    sys.exit(main())
