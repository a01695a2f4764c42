"""Runs the client examples (examples/python, examples/js, both on the
thumbforge client packages in clients/) against a real `thumbforge serve`, as
their users would: generate, wait, download; and each webhook receiver, fed
by a real generation's webhook and by one forged delivery it must refuse.
Exits non-zero on the first thing that is wrong.

Usage: PYTHON scripts/examples_check.py PATH/TO/thumbforge, with a Python
that has the thumbforge package (scripts/examples.sh uses the venv that
`scripts/clients.sh --install` makes).
"""

import json
import os
import re
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BINARY = sys.argv[1]
work = tempfile.mkdtemp(prefix="thumbforge-examples-")
children = []


def fail(message):
    print(f"examples: FAILED: {message}", file=sys.stderr)
    for child in children:
        child.kill()
    sys.exit(1)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(args, **kw):
    child = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
    children.append(child)
    return child


def png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    if head[:8] != b"\x89PNG\r\n\x1a\n":
        fail(f"{path} is not a PNG")
    return struct.unpack(">II", head[16:24])


# A server of its own: embedded, on a free port, webhooks to loopback allowed
# (the receivers run here), the scripted test model on for the failure case.
config = os.path.join(work, "thumbforge.toml")
with open(config, "w") as f:
    f.write(
        '[models]\nenable_test_model = true\n'
        '[references]\nallow_http = true\nallow_cidrs = ["127.0.0.0/8"]\n'
        '[webhooks]\ninterval_ms = 200\n'
        '[limits.free]\nrequests_per_hour = 0\ngenerates_per_minute = 0\n'
        '[limits.pro]\nrequests_per_hour = 0\ngenerates_per_minute = 0\n'
    )
env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
env.update(THUMBFORGE_CONFIG=config, RUST_LOG="warn")
port = free_port()
server = start([BINARY, "--data-dir", os.path.join(work, "data"), "serve", "--bind", f"127.0.0.1:{port}"], env=env)
key = None
deadline = time.time() + 60
while key is None and time.time() < deadline:
    line = server.stdout.readline()
    if not line:
        fail("serve exited: " + server.stderr.read())
    match = re.search(r"(tfk_[A-Za-z0-9]+)", line)
    if match:
        key = match.group(1)
if key is None:
    fail("serve printed no key")
base = f"http://127.0.0.1:{port}"
client_env = dict(os.environ, THUMBFORGE_URL=base, THUMBFORGE_API_KEY=key)
print(f"examples: server at {base}")


def run_example(label, args, cwd, expect_code, expect_files):
    out_dir = os.path.join(work, label)
    done = subprocess.run(args + ["--out", out_dir], cwd=cwd, env=client_env, capture_output=True, text=True, timeout=120)
    if done.returncode != expect_code:
        fail(f"{label}: exit {done.returncode}, expected {expect_code}\n{done.stdout}\n{done.stderr}")
    paths = done.stdout.split()
    if len(paths) != expect_files:
        fail(f"{label}: printed {paths}, expected {expect_files} paths")
    for path in paths:
        if png_size(os.path.join(cwd, path)) != (1280, 720):
            fail(f"{label}: {path} is not 1280x720")
    print(f"examples: {label}: exit {done.returncode}, {len(paths)} PNG(s) of 1280x720")


# One generate with a webhook, through the thumbforge package as a user would.
GENERATE_WITH_WEBHOOK = (
    "import os, sys; from thumbforge import Thumbforge; "
    "tf = Thumbforge(os.environ['THUMBFORGE_URL'], os.environ['THUMBFORGE_API_KEY']); "
    "print(tf.generate('webhook example', webhook_url=sys.argv[1]).generation_id)"
)
py = os.path.join(ROOT, "examples", "python")
js = os.path.join(ROOT, "examples", "js")
run_example("python", [sys.executable, "generate_and_download.py", "Python made this", "--count", "2", "--interval", "1"], py, 0, 2)
run_example("python-partial", [sys.executable, "generate_and_download.py", "[fail:1]", "--model", "test", "--count", "2", "--interval", "1"], py, 1, 1)
run_example("js", ["node", "generate-and-download.mjs", "Node made this", "--count", "2", "--interval", "1000"], js, 0, 2)
run_example("js-failed", ["node", "generate-and-download.mjs", "[fail]", "--model", "test", "--interval", "1000"], js, 1, 0)

# The receivers: the org's secret, a real generation's webhook, one forgery.
request = urllib.request.Request(f"{base}/api/v1/webhooks/secret", headers={"Authorization": f"Bearer {key}"})
secret = json.load(urllib.request.urlopen(request))["secret"]
receiver_env = dict(os.environ, THUMBFORGE_WEBHOOK_SECRET=secret)
for label, args, cwd in [
    ("python receiver", [sys.executable, "webhook_receiver.py"], py),
    ("js receiver", ["node", "webhook-receiver.mjs"], js),
]:
    receiver_port = free_port()
    receiver = start(args + ["--port", str(receiver_port)], cwd=cwd, env=receiver_env)
    if "listening" not in receiver.stderr.readline():
        fail(f"{label} did not start")
    hook = f"http://127.0.0.1:{receiver_port}/hooks/thumbforge"
    forged = urllib.request.Request(
        hook,
        data=b'{"type":"generation.completed","data":{"id":"gen_forged"}}',
        headers={"webhook-id": "msg_forged", "webhook-timestamp": str(int(time.time())), "webhook-signature": "v1,AAAA"},
    )
    try:
        urllib.request.urlopen(forged)
        fail(f"{label} accepted a forged delivery")
    except urllib.error.HTTPError as e:
        if e.code != 400:
            fail(f"{label} answered a forgery {e.code}, expected 400")
    accepted = subprocess.run(
        [sys.executable, "-c", GENERATE_WITH_WEBHOOK, hook],
        cwd=py, env=client_env, capture_output=True, text=True, timeout=60,
    )
    if accepted.returncode != 0:
        fail(f"generate with a webhook: {accepted.stderr}")
    generation_id = accepted.stdout.strip()
    line = receiver.stdout.readline()  # blocks until the first verified event
    event = json.loads(line)
    if event.get("type") != "generation.completed" or event["data"]["id"] != generation_id:
        fail(f"{label} printed {line!r}, expected {generation_id}'s generation.completed")
    if event["data"]["status"] != "succeeded":
        fail(f"{label}: the event says {event['data']['status']}")
    receiver.kill()
    print(f"examples: {label}: refused the forgery, verified {generation_id}'s generation.completed")

server.terminate()
server.wait(timeout=30)
print("examples: all passed")
