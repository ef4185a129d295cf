#!/usr/bin/env bash
# A new node catching up with a large state: the figures of issue 11's
# acceptance ("a new node catching up from a snapshot of 1,000,000 keys x
# 100-byte values: transfer time and the peak RSS increase on leader and
# learner").
#
#   benchmarks/catch-up.sh                     # 1,000,000 keys
#   KEYS=100000 benchmarks/catch-up.sh         # a quicker pass
#
# It starts a 3-node cluster with `synod up` on loopback, preloads KEYS
# keys of VALUE_SIZE bytes with `synod bench`, then adds node 4 the
# operator's way (`synod cluster add`, `synod server --join`) and samples
# the resident memory of the leader and of the learner every 100 ms until
# node 4 is a voter. It prints the time from the learner's start to its
# promotion and each process's resident memory before and at its peak,
# and stops exactly the processes it started, by PID.
#
# Environment: KEYS (default 1000000), VALUE_SIZE (default 100), WORK
# (scratch directory, default a new one under /tmp), PORT_BASE (default
# 27000: clients on PORT_BASE+i, peers +100, admin +200).
set -euo pipefail
cd "$(dirname "$0")/.."

KEYS=${KEYS:-1000000}
VALUE_SIZE=${VALUE_SIZE:-100}
WORK=${WORK:-$(mktemp -d /tmp/synod-catch-up.XXXXXX)}
mkdir -p "$WORK"
PORT_BASE=${PORT_BASE:-27000}
CLIENT=$((PORT_BASE + 1))
PEER=$((PORT_BASE + 101))
ADMIN=$((PORT_BASE + 201))

cargo build --release --quiet -p synod
SYNOD=$PWD/target/release/synod
PIDS=()
stop() {
  for pid in "${PIDS[@]}"; do kill -INT "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap stop EXIT

"$SYNOD" up --data "$WORK/cluster" --client-port "$CLIENT" --peer-port "$PEER" \
  --admin-port "$ADMIN" > "$WORK/up.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do grep -q "is up" "$WORK/up.log" && break; sleep 0.2; done
grep -q "is up" "$WORK/up.log" || { cat "$WORK/up.log"; exit 1; }

ENDPOINTS=127.0.0.1:$CLIENT,127.0.0.1:$((CLIENT + 1)),127.0.0.1:$((CLIENT + 2))
ADMINS=127.0.0.1:$ADMIN,127.0.0.1:$((ADMIN + 1)),127.0.0.1:$((ADMIN + 2))
echo "preloading $KEYS keys of $VALUE_SIZE bytes"
# A leader change under the preload's load fails the preload with an
# unknown outcome; writing every key again is harmless, so try again.
for attempt in 1 2 3 4 5; do
  if "$SYNOD" bench --target "redis://$ENDPOINTS" --workload write --keys "$KEYS" \
    --value-size "$VALUE_SIZE" --concurrency 64 --duration 1s --warm-up 0s > "$WORK/preload.log" 2>&1; then
    break
  fi
  echo "preload attempt $attempt failed: $(tail -1 "$WORK/preload.log")"
  [[ $attempt == 5 ]] && exit 1
done

leader=$(curl -s "127.0.0.1:$ADMIN/status" | python3 -c 'import json,sys; print(json.load(sys.stdin)["leader"])')
leader_pid=$(pgrep -f -- "--admin 127.0.0.1:$((ADMIN + leader - 1)) " | head -1)
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
leader_before=$(rss "$leader_pid")

"$SYNOD" cluster add --id 4 --peer "127.0.0.1:$((PEER + 3))" --endpoints "$ADMINS" \
  --timeout 600s > "$WORK/add.log" 2>&1 &
add_pid=$!
sleep 0.5
started=$(date +%s.%N)
"$SYNOD" server --id 4 --client "127.0.0.1:$((CLIENT + 3))" --peer "127.0.0.1:$((PEER + 3))" \
  --admin "127.0.0.1:$((ADMIN + 3))" --data "$WORK/node-4" --join "$ADMINS" \
  > "$WORK/node-4.log" 2>&1 &
learner_pid=$!
PIDS+=("$learner_pid")
learner_before=$(rss "$learner_pid")
leader_peak=$leader_before
learner_peak=$learner_before
while kill -0 "$add_pid" 2>/dev/null; do
  value=$(rss "$leader_pid"); ((value > leader_peak)) && leader_peak=$value
  value=$(rss "$learner_pid"); ((value > learner_peak)) && learner_peak=$value
  sleep 0.1
done
wait "$add_pid" || { cat "$WORK/add.log"; exit 1; }
finished=$(date +%s.%N)
learner_after=$(rss "$learner_pid")
snapshots=$(curl -s "127.0.0.1:$((ADMIN + 3))/metrics" | awk '/^synod_snapshots_installed/ {print $2}')

python3 - "$KEYS" "$VALUE_SIZE" "$started" "$finished" "$leader" "$leader_before" "$leader_peak" \
  "$learner_before" "$learner_peak" "$learner_after" "${snapshots:-?}" <<'EOF'
import sys
keys, size, started, finished = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
leader, lb, lp, nb, np_, na, snapshots = sys.argv[5], *map(int, sys.argv[6:11]), sys.argv[11]
mib = lambda kib: kib / 1024
print(f"keys {keys:,} x {size} B; learner started to promoted: {finished - started:.1f} s; snapshots installed by the learner: {snapshots}")
print(f"leader (node {leader}) RSS: {mib(lb):.0f} MiB before, {mib(lp):.0f} MiB peak: +{mib(lp - lb):.0f} MiB")
print(f"learner RSS: {mib(nb):.0f} MiB at start, {mib(np_):.0f} MiB peak, {mib(na):.0f} MiB after: peak {mib(np_ - na):+.0f} MiB beyond its settled state")
EOF
