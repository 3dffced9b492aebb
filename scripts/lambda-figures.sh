#!/usr/bin/env bash
# Lambda figures for BENCHMARKS.md ("## Lambdas"): zip size per function, init time and warm
# per-invocation time of the bootstrap binaries (Cargo.toml's `lambda` profile).
#
# Init and warm times are measured against a tiny local Lambda Runtime API stub (below, in
# Python): it starts the bootstrap as Lambda does (AWS_LAMBDA_RUNTIME_API and the usual env),
# times process start -> first `GET /runtime/invocation/next` (init: the runtime, tracing and
# the SDK clients built, nothing reachable needed), then hands it SQS events one after another
# and times event handed -> `POST /response` (warm invocation). The records are malformed on
# purpose (a body that is not an EventBridge event): each fails alone in the batch response, so
# no AWS call is made and the figure is the Lambda's own cost per invocation (runtime API
# round trip, SQS event decoding, the record's error path with its JSON log line).
#
#   scripts/lambda-figures.sh            # build (cargo lambda, x86_64) and measure
#   SKIP_BUILD=1 scripts/lambda-figures.sh
#   COLD_RUNS=15 WARM_INVOCATIONS=200 scripts/lambda-figures.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
[ -x .venv/bin/cargo-lambda ] && export PATH="$root/.venv/bin:$PATH"

bins=(hotel flight car bridge)
cold_runs=${COLD_RUNS:-11}
warm=${WARM_INVOCATIONS:-101}

if [ -z "${SKIP_BUILD:-}" ]; then
  echo "== cargo lambda build --profile lambda (x86_64), $(cargo lambda --version)"
  cargo lambda build --profile lambda -p trip-hotel -p trip-flight -p trip-car -p trip-bridge \
    --output-format zip
  if rustup target list --installed | grep -q aarch64-unknown-linux-gnu; then
    echo "(aarch64-unknown-linux-gnu is installed: add --arm64 builds here)"
  else
    echo "(no aarch64-unknown-linux-gnu target installed: arm64 not built)"
  fi
fi

echo
echo "== zip sizes (target/lambda/<bin>/bootstrap.zip)"
printf '%-8s %12s %12s\n' function zip bootstrap
for b in "${bins[@]}"; do
  z=target/lambda/$b/bootstrap.zip
  if [ -f "$z" ]; then
    unzipped=$(python3 -c 'import sys,zipfile; print(sum(i.file_size for i in zipfile.ZipFile(sys.argv[1]).infolist()))' "$z")
    printf '%-8s %9.2f MiB %9.2f MiB\n' "$b" "$(echo "$(stat -c %s "$z") / 1048576" | bc -l)" \
      "$(echo "$unzipped / 1048576" | bc -l)"
  else
    printf '%-8s %12s\n' "$b" "(not built)"
  fi
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for b in "${bins[@]}"; do
  [ -f "target/lambda/$b/bootstrap.zip" ] || continue
  mkdir -p "$work/$b"
  python3 -c 'import sys,zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' \
    "target/lambda/$b/bootstrap.zip" "$work/$b"
  chmod +x "$work/$b/bootstrap"
done

cat > "$work/stub.py" <<'PY'
"""A minimal Lambda Runtime API: times init and warm invocations of one bootstrap."""
import json, os, socket, statistics, subprocess, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

binary, function, cold_runs, warm = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])

def record(i):
    return {
        "messageId": f"m-{i}", "receiptHandle": "rh", "body": "{\"version\":\"0\",\"id\":",
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1893456000000",
                       "SenderId": "AIDA", "ApproximateFirstReceiveTimestamp": "1893456000001"},
        "messageAttributes": {}, "md5OfBody": "0", "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:us-east-1:123456789012:trip-saga-{function}",
        "awsRegion": "us-east-1",
    }

class State:
    def __init__(self, n_events, batch):
        self.lock = threading.Lock()
        self.ready = threading.Event()
        self.done = threading.Event()
        self.t_first_next = None
        self.sent = {}
        self.durations = []
        self.left = n_events
        self.batch = batch
        self.answers = []

def make_handler(st):
    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        def setup(self):
            super().setup()
            # Headers and body go out in separate writes: without this, Nagle + delayed ACK
            # add ~40 ms to every invocation.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        def log_message(self, *a):
            pass
        def do_GET(self):
            if not self.path.endswith("/invocation/next"):
                self.send_error(404); return
            with st.lock:
                if st.t_first_next is None:
                    st.t_first_next = time.perf_counter()
                    st.ready.set()
                if st.left == 0:
                    st.done.set()
                    # Park the runtime: nothing more to hand out.
                    wait = True
                else:
                    wait = False
                    st.left -= 1
                    rid = f"req-{st.left}"
            if wait:
                time.sleep(30); return
            body = json.dumps({"Records": [record(i) for i in range(st.batch)]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Lambda-Runtime-Aws-Request-Id", rid)
            self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 60000))
            self.send_header("Lambda-Runtime-Invoked-Function-Arn",
                             f"arn:aws:lambda:us-east-1:123456789012:function:{function}")
            self.send_header("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000")
            self.end_headers()
            with st.lock:
                st.sent[rid] = time.perf_counter()
            self.wfile.write(body)
        def do_POST(self):
            n = int(self.headers.get("Content-Length") or 0)
            data = self.rfile.read(n)
            t = time.perf_counter()
            rid = self.path.split("/")[-2]
            with st.lock:
                if rid in st.sent:
                    st.durations.append((t - st.sent.pop(rid)) * 1000)
                    st.answers.append(data)
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()
    return H

def run(n_events, batch):
    st = State(n_events, batch)
    srv = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(st))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    env = dict(os.environ)
    env.update({
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{srv.server_address[1]}",
        "AWS_LAMBDA_FUNCTION_NAME": function, "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256", "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "local", "AWS_LAMBDA_LOG_FORMAT": "JSON",
        "AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
        # Nothing listens there: init never calls AWS; the records never reach it.
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        "TABLE_NAME": f"trip-saga-{function}", "EVENT_BUS_NAME": "trip-saga",
        "STATE_MACHINE_ARN": "arn:aws:states:us-east-1:123456789012:stateMachine:trip-saga",
    })
    t0 = time.perf_counter()
    p = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ok = st.ready.wait(20)
    init_ms = (st.t_first_next - t0) * 1000 if ok else None
    if n_events:
        st.done.wait(120)
    p.kill(); p.wait()
    srv.shutdown()
    return init_ms, st.durations, st.answers

inits = [run(0, 1)[0] for _ in range(cold_runs)]
inits = [i for i in inits if i is not None]
_, one, answers = run(warm, 1)
_, ten, _ = run(warm, 10)
# Drop the first invocation of each run (first use of lazily built state).
one, ten = one[1:], ten[1:]
ok = all(b"batchItemFailures" in a for a in answers)
print(json.dumps({
    "function": function,
    "initMsMedian": round(statistics.median(inits), 2) if inits else None,
    "initMsMin": round(min(inits), 2) if inits else None,
    "coldRuns": len(inits),
    "warm1RecordMsMedian": round(statistics.median(one), 3) if one else None,
    "warm10RecordsMsMedian": round(statistics.median(ten), 3) if ten else None,
    "warmInvocations": len(one),
    "answeredWithBatchItemFailures": ok,
}))
PY

echo
echo "== init and warm invocation (local Runtime API stub; $(nproc) cores; medians)"
for b in "${bins[@]}"; do
  [ -x "$work/$b/bootstrap" ] || continue
  python3 "$work/stub.py" "$work/$b/bootstrap" "$b" "$cold_runs" "$warm"
done
