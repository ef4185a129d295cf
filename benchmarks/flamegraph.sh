#!/usr/bin/env bash
# A flame graph of the synod leader under load: the profile behind the
# changes docs/performance.md describes.
#
#   benchmarks/flamegraph.sh                       # writes at 256 in flight
#   WORKLOAD=read CONCURRENCY=64 benchmarks/flamegraph.sh
#
# Installs Debian's linux-perf and the inferno crate's tools when missing,
# starts a 3-node synod on loopback (fsync on), drives it with `synod bench`,
# samples the leader's threads with perf (DWARF call graphs, so no frame
# pointers are needed), and writes docs/flamegraph-$WORKLOAD.svg. Stops
# exactly the processes it started.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

WORKLOAD=${WORKLOAD:-write}
CONCURRENCY=${CONCURRENCY:-256}
SAMPLE_SECONDS=${SAMPLE_SECONDS:-4}
OUT=${OUT:-$ROOT/docs/flamegraph-$WORKLOAD.svg}
WORK=${WORK:-$(mktemp -d /tmp/synod-flamegraph.XXXXXX)}
CLIENT=19001 PEER=19101 ADMIN=19501

if ! command -v perf >/dev/null; then
    sudo=()
    ((EUID == 0)) || sudo=(sudo)
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq linux-perf >/dev/null
fi
command -v inferno-flamegraph >/dev/null || cargo install inferno --locked -q

cargo build --release -q
SYNOD=$ROOT/target/release/synod

# shellcheck source=benchmarks/processes.sh
source "$ROOT/benchmarks/processes.sh"

"$SYNOD" up --data "$WORK/synod" --client-port $CLIENT --peer-port $PEER --admin-port $ADMIN \
    >"$WORK/up.log" 2>&1 &
UP_PID=$!
PIDS+=($UP_PID)
sleep 3
admins="127.0.0.1:$ADMIN,127.0.0.1:$((ADMIN + 1)),127.0.0.1:$((ADMIN + 2))"
leader=$("$SYNOD" status --endpoints "$admins" | awk '$3 == "leader" {print $1}')
leader_pid=$(pgrep -P "$UP_PID" -f -- "--id $leader " | head -1)
echo "leader: node $leader, pid $leader_pid" >&2

endpoints="127.0.0.1:$CLIENT,127.0.0.1:$((CLIENT + 1)),127.0.0.1:$((CLIENT + 2))"
"$SYNOD" bench --target "synod=redis://$endpoints" --workload "$WORKLOAD" \
    --concurrency "$CONCURRENCY" --duration "$((SAMPLE_SECONDS + 4))s" --warm-up 1s \
    >"$WORK/bench.txt" &
BENCH_PID=$!
PIDS+=($BENCH_PID)
sleep 3
perf record -F 499 --call-graph dwarf,32768 -p "$leader_pid" -o "$WORK/perf.data" \
    -- sleep "$SAMPLE_SECONDS" 2>"$WORK/perf.log"
wait "$BENCH_PID" || true
cat "$WORK/bench.txt" >&2
perf script -i "$WORK/perf.data" 2>/dev/null | inferno-collapse-perf >"$WORK/folded.txt"
inferno-flamegraph --title "synod leader, $WORKLOAD at $CONCURRENCY in flight" \
    <"$WORK/folded.txt" >"$OUT"
echo "wrote $OUT" >&2
