"""The multi-host drill's load generator and conductor (scripts/drill-hosts.sh).

scripts/drill-hosts.sh builds the network (one namespace per host on a
bridge), starts the data host (PostgreSQL, Redis, moto's S3) and the
provider host (thumbforge-mock-provider behind forward.py), then runs this
in the load host's namespace. From here it starts and stops thumbforge-api
on two API hosts and thumbforge-worker on the worker hosts (each through
`ip netns exec`), submits and polls through both APIs, and runs:

  (a) throughput with 1, 2 (and 3) worker hosts against the slow provider;
  (b) a rolling restart of every API and worker host under load;
  (c) one worker host's link cut while it holds jobs, then restored: its
      own eth0 set down, and its port taken off the bridge.

It prints the figures, appends them to the results file, and exits 1 when
a check fails. Python's standard library only.
"""

import concurrent.futures
import itertools
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

ENV = os.environ
PREFIX = ENV["DRILL_PREFIX"]
BIN = Path(ENV["DRILL_BIN"])
WORK = Path(ENV["DRILL_WORK"])
LOGS = Path(ENV["DRILL_LOGS"])
RESULTS = Path(ENV["DRILL_RESULTS"])
REDUCED = ENV.get("DRILL_MODE") == "reduced"
DATA_IP = ENV["DRILL_DATA_IP"]
PROVIDER_IP = ENV["DRILL_PROVIDER_IP"]
HOSTS = dict(item.split("=") for item in ENV["DRILL_HOSTS"].split(","))
DB_URL = ENV["DATABASE_URL"]
CLAIM_IDLE = int(ENV["THUMBFORGE_QUEUE__CLAIM_IDLE_SECS"])
JOB_TIMEOUT = int(ENV["THUMBFORGE_WORKER__JOB_TIMEOUT_SECS"])
SLOTS = int(ENV["THUMBFORGE_WORKER__MAX_IN_FLIGHT"])
WORKER_GRACE = int(ENV["THUMBFORGE_WORKER__SHUTDOWN_GRACE_SECS"])
HEALTH_PORT = int(ENV["THUMBFORGE_WORKER__HEALTH_PORT"])
LATENCY_MS = int(ENV["DRILL_LATENCY_MS"])
# thumbforge-api: actix's 10 s shutdown timeout, then up to DRAIN_SECS (5)
# for answered submits' jobs (crates/thumbforge-api/src/startup.rs).
API_GRACE = 15
API_PORT = 8080
LEASE = JOB_TIMEOUT + 30  # JobEnv::lease: a job never outlives it
COUNT = 2  # thumbnails per generation

# Sizes. Full: 3 worker hosts, every host restarted, both cuts; --reduced:
# 1 vs 2 workers, one API and one worker restart, one cut.
WORKERS = 2 if REDUCED else 3
PER_WORKER = int(ENV.get("DRILL_THUMBS_PER_WORKER", 32 if REDUCED else 64))
RESTARTS = ["api1", "w1"] if REDUCED else ["api1", "api2", "w1", "w2", "w3"]
VICTIM = f"w{WORKERS}"
LINK_DOWN = int(ENV.get("DRILL_LINK_DOWN_SECS", LEASE + 7))
# Where the link is cut (Host.link). On the host's own eth0 its sends fail
# at once; with its bridge port gone they vanish, the partition that kept
# a worker from 302d893 (before 8384542's fix) failing jobs after link-up
# while the host cut did not, so --reduced runs that one. DRILL_PHASES
# picks phases (for working on one).
CUTS = ENV.get("DRILL_CUTS", "switch" if REDUCED else "host,switch").split(",")
PHASES = ENV.get("DRILL_PHASES", "abc")
SETTLE = 120

lines: list[str] = []
failures: list[str] = []


def say(text: str = "") -> None:
    print(text, flush=True)
    lines.append(text)


def check(ok: bool, what: str) -> None:
    say(f"  check: {what}: {'ok' if ok else 'FAILED'}")
    if not ok:
        failures.append(what)


# ---------------------------------------------------------------- hosts


class Host:
    """One API or worker host: its namespace, address and process."""

    def __init__(self, name: str):
        self.name = name
        self.ip = HOSTS[name]
        self.ns = f"{PREFIX}-{name}"
        self.api = name.startswith("api")
        self.dir = WORK / "hosts" / name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.log = LOGS / f"{name}.log"
        self.proc: subprocess.Popen | None = None

    def note(self, text: str) -> None:
        with open(self.log, "a") as f:
            f.write(f"=== drill {time.strftime('%H:%M:%S')}: {text}\n")

    def start(self) -> None:
        env = dict(ENV, HOSTNAME=self.name, THUMBFORGE_DATA_DIR=str(self.dir))
        if self.api:
            env["THUMBFORGE_BIND"] = f"{self.ip}:{API_PORT}"
        exe = BIN / ("thumbforge-api" if self.api else "thumbforge-worker")
        self.note(f"start {exe.name}")
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                ["ip", "netns", "exec", self.ns, str(exe)],
                env=env,
                cwd=self.dir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def ready_url(self) -> str:
        port = API_PORT if self.api else HEALTH_PORT
        return f"http://{self.ip}:{port}/readyz"

    def wait_ready(self, limit: float = 60) -> float:
        start = time.time()
        while time.time() - start < limit:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; see {self.log}")
            try:
                status, _, _ = http("GET", self.ready_url(), timeout=2)
                if status == 200:
                    return time.time() - start
            except Exception:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} not ready within {limit} s; see {self.log}")

    def stop(self, grace: float) -> tuple[float, int | None]:
        """SIGTERM; the seconds to exit and the exit code (None: it did
        not exit within grace + 10 s and was killed)."""
        self.note("SIGTERM")
        start = time.time()
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=grace + 10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            code = None
        took = time.time() - start
        self.note(f"exited after {took:.1f} s with {code}")
        return took, code

    def metrics(self) -> dict[str, float]:
        """The worker's counters, read inside its own namespace (so it
        works while its link is down)."""
        out = subprocess.run(
            ["ip", "netns", "exec", self.ns, "curl", "-sf", "-m", "5",
             f"http://127.0.0.1:{HEALTH_PORT}/metrics"],
            capture_output=True, text=True,
        ).stdout
        found = {}
        for name in ("jobs_started_total", "jobs_succeeded_total", "jobs_failed_total",
                     "jobs_retried_total"):
            m = re.search(rf"^thumbforge_{name} (\S+)$", out, re.M)
            if m:
                found[name] = float(m.group(1))
        return found

    def link(self, up: bool, where: str = "host") -> None:
        """host: the host's own eth0 down (its routes go, sends fail at
        once). switch: its port taken off the bridge, eth0 still up
        (packets vanish silently, as in a partition further away)."""
        state = "up" if up else "down"
        self.note(f"link {state} ({where})")
        if where == "host":
            cmd = ["ip", "-n", self.ns, "link", "set", "dev", "eth0", state]
        else:
            cmd = ["ip", "-n", f"{PREFIX}-sw", "link", "set", "dev", self.name]
            cmd += ["master", "br0"] if up else ["nomaster"]
        subprocess.run(cmd, check=True)


# ---------------------------------------------------------------- clients


# No proxy from the environment: the drill's traffic stays on its bridge.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http(method, url, body=None, headers=None, timeout=15):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with OPENER.open(req, timeout=timeout) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def failure_kind(e: Exception) -> str:
    reason = e.reason if isinstance(e, urllib.error.URLError) else e
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, (ConnectionResetError, BrokenPipeError)) or type(reason).__name__ == "RemoteDisconnected":
        return "connection reset"
    if isinstance(reason, (TimeoutError, socket.timeout)):
        return "timeout"
    return f"error {type(reason).__name__}"


class Client:
    """One organisation's caller, alternating between the API hosts, and
    retrying what a rolling restart may answer: 503s, refused and reset
    connections (submits carry an Idempotency-Key, so a retry never makes
    a second generation)."""

    def __init__(self, key: str, tag: str):
        self.key = key
        self.tag = tag
        self.turn = itertools.count()
        self.lock = threading.Lock()
        self.counts: Counter = Counter()

    def count(self, what: str) -> None:
        with self.lock:
            self.counts[what] += 1

    def call(self, what, method, path, body=None, headers=None, limit=120):
        deadline = time.time() + limit
        while True:
            api = ("api1", "api2")[next(self.turn) % 2]
            url = f"http://{HOSTS[api]}:{API_PORT}{path}"
            try:
                status, head, raw = http(method, url, body,
                                         dict(headers or {}, Authorization=f"Bearer {self.key}"))
            except Exception as e:  # noqa: BLE001 - every transport failure is counted
                self.count(f"{what}: {failure_kind(e)} ({api})")
                if time.time() > deadline:
                    return None, None
                time.sleep(0.1)
                continue
            try:
                doc = json.loads(raw) if raw else None
            except ValueError:
                doc = None
            code = doc.get("code") if isinstance(doc, dict) else None
            if status in (503, 429) or (status == 409 and code == "idempotency_key_in_progress"):
                self.count(f"{what}: {status} {code} ({api})")
                if time.time() > deadline:
                    return status, doc
                wait = min(float(head.get("Retry-After") or 1), 2.0)
                time.sleep(wait if status != 409 else 0.2)
                continue
            self.count(f"{what}: {status} ({api})")
            return status, doc

    def submit(self, gen: "Gen") -> None:
        gen.submitted = time.time()
        status, doc = self.call(
            "submit", "POST", "/api/v1/generate",
            {"prompt": f"drill {self.tag} {gen.index}", "model": "gpt-image-2", "count": COUNT},
            {"Idempotency-Key": f"{self.tag}-{gen.index}"},
        )
        if status == 202:
            gen.id = doc["generationId"]
            gen.accepted = time.time()
            gen.status = "processing"
        else:
            gen.refused = f"{status} {doc}"

    def poll(self, gen: "Gen") -> None:
        status, doc = self.call("poll", "GET", f"/api/v1/generations/{gen.id}", limit=60)
        if status == 200:
            gen.status = doc["status"]
            if gen.status != "processing" and gen.done is None:
                gen.done = time.time()
        elif status == 404:
            gen.status = "missing"
            gen.done = time.time()


class Gen:
    def __init__(self, index: int):
        self.index = index
        self.id: str | None = None
        self.submitted = self.accepted = self.done = None
        self.status = "unsent"
        self.refused: str | None = None


def tally(gens: list[Gen]) -> Counter:
    c = Counter(g.status for g in gens if g.id)
    c["accepted"] = sum(1 for g in gens if g.id)
    c["refused for good"] = sum(1 for g in gens if g.refused)
    return c


def batch(client: Client, n: int) -> tuple[list[Gen], float, float]:
    """Submits n generations at once (8 at a time) and polls them to the
    end: the generations, the first submit's time and the last end's."""
    gens = [Gen(i) for i in range(n)]
    t0 = time.time()
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(client.submit, gens))
    pending = [g for g in gens if g.id]
    deadline = time.time() + 600
    last_full = 0.0
    while pending and time.time() < deadline:
        # Jobs run in about submit order: poll the oldest few often and
        # everyone every 5 s, so the end is seen within ~0.3 s without a
        # poll storm.
        full = time.time() - last_full > 5
        if full:
            last_full = time.time()
        open_seen = 0
        for g in list(pending):
            if not full and open_seen >= 4:
                break
            client.poll(g)
            if g.done is not None:
                pending.remove(g)
            else:
                open_seen += 1
        time.sleep(0.25)
    ends = [g.done for g in gens if g.done]
    return gens, t0, max(ends) if ends else time.time()


class Steady:
    """Closed-loop load: `window` callers, each submitting a generation,
    polling it every second to its end, and submitting the next, until
    stopped; then each waits for its last one (up to SETTLE s)."""

    def __init__(self, client: Client, window: int):
        self.client = client
        self.window = window
        self.gens: list[Gen] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.deadline = float("inf")
        self.threads = [threading.Thread(target=self.caller, daemon=True) for _ in range(window)]
        self.next_index = itertools.count()

    def caller(self) -> None:
        while not self.stopping.is_set():
            gen = Gen(next(self.next_index))
            with self.lock:
                self.gens.append(gen)
            self.client.submit(gen)
            if gen.id is None:
                continue
            while gen.done is None and time.time() < self.deadline:
                time.sleep(1.0)
                self.client.poll(gen)

    def start(self) -> "Steady":
        for t in self.threads:
            t.start()
        return self

    def stop(self) -> list[Gen]:
        self.deadline = time.time() + SETTLE
        self.stopping.set()
        for t in self.threads:
            t.join(SETTLE + 30)
        return self.gens


# ---------------------------------------------------------------- data host


def psql(sql: str) -> str:
    return subprocess.run(["psql", DB_URL, "-qAtc", sql], capture_output=True, text=True,
                          check=True).stdout.strip()


def org_record(slug: str) -> dict:
    """What the database holds for the organisation's generations."""
    row = psql(f"""
        SELECT count(*),
               count(*) FILTER (WHERE t.status = 'succeeded'),
               count(*) FILTER (WHERE t.status = 'failed'),
               count(*) FILTER (WHERE t.status = 'processing'),
               coalesce(sum(t.attempts), 0),
               count(*) FILTER (WHERE t.attempts > 1),
               min(t.created_at), max(t.completed_at),
               coalesce(avg(t.completed_at - t.started_at)::bigint, 0),
               (SELECT count(*) FROM generations g WHERE g.org_id = o.id),
               (SELECT count(*) FROM generations g WHERE g.org_id = o.id AND g.status = 'succeeded')
        FROM organizations o LEFT JOIN thumbnails t ON t.org_id = o.id
        WHERE o.slug = '{slug}' GROUP BY o.id""")
    v = row.split("|")
    keys = ["thumbnails", "succeeded", "failed", "processing", "attempts", "rerun",
            "first_created_ms", "last_completed_ms", "mean_job_ms", "generations",
            "generations_succeeded"]
    return {k: (int(x) if x else 0) for k, x in zip(keys, v)}


def new_key(slug: str) -> str:
    out = subprocess.run([str(BIN / "thumbforge"), "keys", "create", "--org", slug, "--plan", "pro"],
                         capture_output=True, text=True, check=True, cwd=WORK).stdout
    return out.strip().splitlines()[-1]


class Redis:
    """Just enough RESP for XPENDING and XRANGE."""

    def __init__(self):
        host, port = re.match(r"redis://([^:/]+):(\d+)", ENV["REDIS_URL"]).groups()
        self.sock = socket.create_connection((host, int(port)), timeout=5)
        self.f = self.sock.makefile("rb")

    def __call__(self, *args):
        parts = [str(a).encode() for a in args]
        self.sock.sendall(b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts))
        return self.read()

    def read(self):
        line = self.f.readline()[:-2]
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RuntimeError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self.f.read(n + 2)[:-2].decode()
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.read() for _ in range(n)]
        raise RuntimeError(f"unexpected RESP {line!r}")


STREAM = "{thumbforge}:render"


def pending(redis: Redis) -> dict[str, str]:
    """Entry id -> consumer, for every entry a worker holds."""
    return {e[0]: e[1] for e in redis("XPENDING", STREAM, "workers", "-", "+", 10000)}


def thumbnail_of(redis: Redis, entry: str) -> str | None:
    found = redis("XRANGE", STREAM, entry, entry)
    if not found:
        return None
    fields = found[0][1]
    return dict(zip(fields[::2], fields[1::2])).get("t")


def provider_calls() -> dict:
    status, _, raw = http("GET", f"http://{PROVIDER_IP}:8002/", timeout=5)
    return json.loads(raw)


def provider_stats() -> dict:
    status, _, raw = http("GET", f"http://{PROVIDER_IP}:8000/stats", timeout=5)
    return json.loads(raw)


def log_lines(host: Host, pattern: str, since: str | None = None, until: str | None = None) -> list[str]:
    """The host's log lines matching pattern, from the last drill note
    containing `since` up to the next drill note (containing `until`)."""
    text = [re.sub(r"\x1b\[[0-9;]*m", "", l) for l in host.log.read_text(errors="replace").splitlines()]
    if since:
        start = max((i for i, l in enumerate(text) if l.startswith("=== drill") and since in l), default=0)
        end = next((i for i in range(start + 1, len(text))
                    if text[i].startswith("=== drill") and (until is None or until in text[i])), len(text))
        text = text[start:end]
    return [l for l in text if re.search(pattern, l)]


def log_summary(host: Host, since: str, until: str | None = None) -> str:
    """Warnings and errors by message, e.g. `WARN reading the queue
    failed; reconnecting x23 (redis: Network is unreachable ...)`."""
    kinds: Counter = Counter()
    example: dict[str, str] = {}
    for line in log_lines(host, r" (WARN|ERROR) ", since, until):
        m = re.search(r" (WARN|ERROR) (?:[\w:]+(?:\{[^}]*\})?: )?(.*?)(?= [\w.]+=|$)(.*)", line)
        key = f"{m.group(1)} {m.group(2)}"
        kinds[key] += 1
        err = re.search(r'error=("[^"]*"|\S+(?: \S+)*?)(?= \w+=|$)', m.group(3))
        example.setdefault(key, err.group(1).strip('"')[:160] if err else "")
    if not kinds:
        return "no warnings"
    return "; ".join(f"{k} x{v}" + (f" (first: {example[k]})" if example[k] else "")
                     for k, v in kinds.most_common())


def s3_objects() -> int:
    """PNG objects under the drill's prefix in the bucket (moto answers
    unsigned ListObjectsV2)."""
    bucket, prefix = re.match(r"s3://([^/]+)/?(.*)", ENV["THUMBFORGE_STORAGE__URL"]).groups()
    endpoint = ENV["THUMBFORGE_STORAGE__ENDPOINT"]
    total, token = 0, None
    while True:
        url = f"{endpoint}/{bucket}?list-type=2&prefix={prefix}/&max-keys=1000"
        if token:
            url += "&continuation-token=" + urllib.request.quote(token, safe="")
        _, _, raw = http("GET", url, timeout=30)
        body = raw.decode()
        total += len(re.findall(r"<Key>[^<]*\.png</Key>", body))
        m = re.search(r"<NextContinuationToken>([^<]+)</NextContinuationToken>", body)
        if not m:
            return total
        token = m.group(1)


# ---------------------------------------------------------------- phases


def report_counts(client: Client) -> None:
    refused = {k: v for k, v in sorted(client.counts.items())
               if not re.match(r"^\w+: (200|202) ", k)}
    ok = sum(v for k, v in client.counts.items() if re.match(r"^\w+: (200|202) ", k))
    by_api = Counter()
    for k, v in client.counts.items():
        by_api[k.rsplit("(", 1)[-1].rstrip(")")] += v
    say(f"  requests answered 200/202: {ok}; by API host: {dict(sorted(by_api.items()))}")
    if refused:
        say("  retried (each counted once per try):")
        for k, v in refused.items():
            say(f"    {k}: {v}")
    else:
        say("  retried: none")


def settle_checks(label: str, slug: str, gens: list[Gen]) -> dict:
    t = tally(gens)
    rec = org_record(slug)
    stuck = t["processing"]
    lost = t["missing"] + (t["accepted"] - rec["generations"] if rec["generations"] < t["accepted"] else 0)
    failed_gens = t["accepted"] - t["succeeded"] - stuck - t["missing"]
    say(f"  generations accepted (202) {t['accepted']}, succeeded {t['succeeded']}, "
        f"other terminal {failed_gens}, still processing {stuck}, missing {t['missing']}; "
        f"refused for good {t['refused for good']}")
    say(f"  database: {rec['generations']} generations ({rec['generations_succeeded']} succeeded), "
        f"{rec['thumbnails']} thumbnails: {rec['succeeded']} succeeded, {rec['failed']} failed, "
        f"{rec['processing']} processing; {rec['rerun']} run more than once "
        f"({rec['attempts'] - rec['thumbnails']} extra claims)")
    check(lost == 0 and rec["generations"] == t["accepted"],
          f"{label}: 0 lost (every 202 is in the database and none extra)")
    check(stuck == 0 and rec["processing"] == 0, f"{label}: 0 stuck")
    check(failed_gens == 0 and rec["failed"] == 0 and t["refused for good"] == 0,
          f"{label}: 0 failed")
    return rec


def phase_throughput(apis, workers) -> None:
    sizes = [1, 2] if REDUCED else [1, 2, 3]
    say(f"(a) throughput: provider latency {LATENCY_MS} ms, worker.max_in_flight {SLOTS}, "
        f"{PER_WORKER} thumbnails per worker host ({COUNT} per generation), queued at once "
        f"through both API hosts")
    rates = {}
    for k in sizes:
        for w in workers[:k]:
            if w.proc is None:
                w.start()
                w.wait_ready()
        slug = f"drill-a{k}"
        client = Client(new_key(slug), slug)
        n = PER_WORKER * k // COUNT
        calls0 = provider_calls()
        gens, t0, t1 = batch(client, n)
        calls1 = provider_calls()
        rec = org_record(slug)
        thumbs = rec["succeeded"]
        client_rate = thumbs / (t1 - t0)
        server_s = (rec["last_completed_ms"] - rec["first_created_ms"]) / 1000
        server_rate = thumbs / server_s
        rates[k] = server_rate
        ceiling = k * SLOTS / (LATENCY_MS / 1000)
        say(f"  {k} worker host{'s' if k > 1 else ''}: {thumbs} thumbnails in {server_s:.1f} s "
            f"(first accepted to last stored) = {server_rate:.2f} thumbnails/s; "
            f"client view {t1 - t0:.1f} s = {client_rate:.2f}/s; "
            f"ratio to 1 host {server_rate / rates[1]:.2f}; ceiling {ceiling:.2f}/s "
            f"({server_rate / ceiling:.0%} of it)")
        split = ", ".join(
            f"{w.name} {calls1.get(w.ip, {}).get('calls', 0) - calls0.get(w.ip, {}).get('calls', 0)}"
            for w in workers[:k])
        say(f"    provider calls by worker host: {split}; a thumbnail took {rec['mean_job_ms'] / 1000:.2f} s "
            f"on average from claim to stored (the provider's {LATENCY_MS / 1000:.1f} s, then "
            f"decode, fit, encode and the S3 write, on CPU the hosts share)")
        t = tally(gens)
        hosts = f"{k} host{'s' if k > 1 else ''}"
        check(t["succeeded"] == n and rec["failed"] == 0, f"(a) {hosts}: all {n} generations succeeded")
        if k > 1:
            check(server_rate / rates[1] >= 0.8 * k,
                  f"(a) {hosts} scale near-linearly (ratio >= {0.8 * k:.1f})")
        time.sleep(1)


def phase_restart(apis, workers) -> None:
    say(f"(b) rolling restart under load: {', '.join(RESTARTS)} one at a time (SIGTERM, wait "
        f"for exit, start, wait for /readyz, 5 s of load); grace {API_GRACE} s for an API "
        f"(10 s actix + 5 s drain), worker.shutdown_grace_secs {WORKER_GRACE} s")
    hosts = {h.name: h for h in apis + workers}
    slug = "drill-b"
    client = Client(new_key(slug), slug)
    window = WORKERS * SLOTS  # two rounds of thumbnails outstanding
    for h in hosts.values():
        h.note("phase (b) begins")
    load = Steady(client, window).start()
    time.sleep(5)
    for name in RESTARTS:
        host = hosts[name]
        grace = API_GRACE if host.api else WORKER_GRACE
        held = 0
        if not host.api:
            redis = Redis()
            held = sum(1 for c in pending(redis).values() if f"-{host.pid}-" in c)
        took, code = host.stop(grace)
        host.start()
        ready = host.wait_ready()
        handed = len(log_lines(host, "handed back held jobs", since="SIGTERM")) if not host.api else 0
        say(f"  {name}: held {held} queue entries at SIGTERM; exited in {took:.1f} s "
            f"(code {code}){'; handed back held jobs' if handed else ''}; ready again "
            f"{ready:.1f} s after start")
        check(code == 0 and took <= grace + 5, f"(b) {name} exited cleanly within its grace")
        time.sleep(5)
    gens = load.stop()
    for h in hosts.values():
        h.note("phase (b) ends")
    say(f"  load: {window} callers, {len(gens)} generations submitted")
    report_counts(client)
    settle_checks("(b)", slug, gens)
    for h in hosts.values():
        say(f"  {h.name} logged during (b): {log_summary(h, 'phase (b) begins', 'phase (b) ends')}")


def phase_link_cut(apis, workers, where: str) -> None:
    victim = workers[WORKERS - 1]
    label = "(c)" if where == "host" else f"(c, {where})"
    how = ("has its veth set down inside its namespace" if where == "host" else
           "has its port taken off the bridge (its eth0 stays up; packets vanish)")
    say(f"{label} link cut: {victim.name} ({victim.ip}) {how} "
        f"while it holds jobs, for {LINK_DOWN} s, then restored; queue.claim_idle_secs {CLAIM_IDLE}, "
        f"worker.job_timeout_secs {JOB_TIMEOUT} (a job's claim, its lease, lasts {LEASE} s), "
        f"queue.heartbeat_secs 5")
    slug = f"drill-c-{where}"
    client = Client(new_key(slug), slug)
    window = WORKERS * SLOTS
    load = Steady(client, window).start()
    redis = Redis()
    tag = f"-{victim.pid}-"
    held: dict[str, str] = {}
    deadline = time.time() + 30
    while time.time() < deadline:
        mine = [e for e, c in pending(redis).items() if tag in c]
        if len(mine) >= 2:
            held = {e: thumbnail_of(redis, e) for e in mine}
            break
        time.sleep(0.2)
    check(len(held) > 0, f"{label} {victim.name} held jobs when its link was cut")
    before = victim.metrics()
    calls_before = provider_calls().get(victim.ip, {}).get("calls", 0)
    victim.link(False, where)
    cut = time.time()
    say(f"  cut at +0.0 s: {victim.name} held {len(held)} entries "
        f"({', '.join(t for t in held.values() if t)}); started {before.get('jobs_started_total', 0):.0f} "
        f"jobs so far, {calls_before} provider calls")
    taken: dict[str, float] = {}
    while time.time() - cut < LINK_DOWN:
        now_pending = pending(redis)
        for e in held:
            if e not in taken and (e not in now_pending or tag not in now_pending[e]):
                taken[e] = time.time() - cut
        time.sleep(0.25)
    times = sorted(taken.values())
    say(f"  taken over by other workers after {', '.join(f'{t:.1f}' for t in times)} s "
        f"({len(taken)} of {len(held)}; {STREAM} entries leave {victim.name} by XAUTOCLAIM)")
    # Another worker reclaims an entry only into a free slot, and its slots
    # free as its provider calls end: within one provider latency.
    limit = CLAIM_IDLE + LATENCY_MS / 1000 + 2
    check(len(taken) == len(held) and all(t <= limit for t in times),
          f"{label} every held job taken over within the claim window, once a slot is free "
          f"({CLAIM_IDLE} s + the provider's {LATENCY_MS / 1000:.1f} s + 2 s)")
    done = psql("SELECT string_agg(status || ':' || attempts, ' ') FROM thumbnails WHERE id IN ("
                + ",".join(f"'{t}'" for t in held.values() if t) + ")") if held else ""
    say(f"  those thumbnails now (status:attempts): {done}")
    say(f"  {victim.name} logged while cut off: {log_summary(victim, 'link down')}")

    # The link comes back: the worker must take NEW work within the window.
    at_up = victim.metrics() or before  # /metrics answers within ~1 s while cut off
    calls_at_up = provider_calls().get(victim.ip, {}).get("calls", 0)
    victim.link(True, where)
    up = time.time()
    first_start = first_call = first_success = None
    while time.time() - up < max(3 * CLAIM_IDLE, 30):
        m = victim.metrics()
        now = time.time() - up
        if not m:
            time.sleep(0.25)
            continue
        if first_start is None and m.get("jobs_started_total", 0) > at_up.get("jobs_started_total", 0):
            first_start = now
        if first_success is None and m.get("jobs_succeeded_total", 0) > at_up.get("jobs_succeeded_total", 0):
            first_success = now
        if first_call is None and provider_calls().get(victim.ip, {}).get("calls", 0) > calls_at_up:
            first_call = now
        if first_start is not None and first_success is not None and first_call is not None:
            break
        time.sleep(0.25)
    fmt = lambda t: "never" if t is None else f"{t:.1f} s"  # noqa: E731
    say(f"  link up: {victim.name} started its first new job after {fmt(first_start)}, "
        f"made its first provider call after {fmt(first_call)} and stored its first new "
        f"thumbnail after {fmt(first_success)} (metrics on its health port, calls counted "
        f"by source address at the provider)")
    check(first_start is not None and first_call is not None and max(first_start, first_call) <= CLAIM_IDLE,
          f"{label} {victim.name} starts new jobs (claim and provider call) within the claim window "
          f"({CLAIM_IDLE} s) of link-up")
    check(first_success is not None and first_success <= CLAIM_IDLE + LATENCY_MS / 1000 + 2,
          f"{label} {victim.name} stores a new thumbnail within the claim window + the provider's "
          f"latency + 2 s of link-up")
    time.sleep(8)
    say(f"  {victim.name} logged after link-up: {log_summary(victim, 'link up')}")
    after = victim.metrics()
    calls_after = provider_calls().get(victim.ip, {}).get("calls", 0)
    say(f"  {victim.name} since link-up: {after.get('jobs_started_total', 0) - at_up.get('jobs_started_total', 0):.0f} "
        f"jobs started, {after.get('jobs_succeeded_total', 0) - at_up.get('jobs_succeeded_total', 0):.0f} "
        f"succeeded, {calls_after - calls_at_up} provider calls")
    gens = load.stop()
    say(f"  load: {window} callers, {len(gens)} generations submitted")
    report_counts(client)
    settle_checks(label, slug, gens)
    down = log_lines(victim, r"WARN|ERROR", since="link down")
    if down:
        say(f"  {victim.name}'s warnings from the cut on (first 6 and last 2 of {len(down)}):")
        for line in (down[:6] + ["..."] + down[-2:]) if len(down) > 8 else down:
            say("    " + line[:400])


def main() -> int:
    start = time.time()
    apis = [Host("api1"), Host("api2")]
    workers = [Host(f"w{i}") for i in range(1, WORKERS + 1)]
    try:
        for a in apis:
            a.start()
        for a in apis:
            a.wait_ready()
        if "a" in PHASES:
            phase = time.time()
            phase_throughput(apis, workers)
            say(f"  (a) took {time.time() - phase:.0f} s")
        for w in workers:
            if w.proc is None:
                w.start()
                w.wait_ready()
        if "b" in PHASES:
            phase = time.time()
            phase_restart(apis, workers)
            say(f"  (b) took {time.time() - phase:.0f} s")
        for where in CUTS if "c" in PHASES else []:
            phase = time.time()
            phase_link_cut(apis, workers, where)
            say(f"  (c) took {time.time() - phase:.0f} s")
        stats = provider_stats()
        say(f"provider: {stats['requests']} calls, {stats['ok']} answered, "
            f"{stats['limited_rpm'] + stats['limited_concurrency']} answered 429, at most "
            f"{stats['max_in_flight']} in flight; calls by source address: "
            + ", ".join(f"{ip} {v['calls']}" for ip, v in sorted(provider_calls().items())))
        total = int(psql("SELECT count(*) FROM thumbnails WHERE status = 'succeeded'"))
        objects = s3_objects()
        say(f"storage: {objects} PNG objects in the bucket for {total} succeeded thumbnails")
        check(objects == total, "every succeeded thumbnail's PNG is in the bucket")
    except Exception as e:  # noqa: BLE001 - reported as a failed check
        say(f"drill stopped: {type(e).__name__}: {e}")
        failures.append(str(e))
    finally:
        for h in apis + workers:
            if h.proc is not None and h.proc.poll() is None:
                h.proc.send_signal(signal.SIGTERM)
        for h in apis + workers:
            if h.proc is not None:
                try:
                    h.proc.wait(timeout=WORKER_GRACE + 10)
                except subprocess.TimeoutExpired:
                    h.proc.kill()
    say(f"drill: {len(failures)} failed check(s); {time.time() - start:.0f} s after the hosts started")
    with open(RESULTS, "a") as f:
        f.write("\n".join(lines) + "\n")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
