#!/usr/bin/env bash
# synod against etcd and against the single-Redis ceilings, in one run, on
# this machine: the reproduction of docs/benchmarks.md.
#
#   benchmarks/compare-etcd.sh                 # the full suite (~15 minutes)
#   SECONDS_PER_CELL=2 benchmarks/compare-etcd.sh   # a quicker, noisier pass
#
# It installs what it needs (Debian's etcd-server, redis-server,
# redis-tools, protobuf-compiler) when missing, starts a 3-member etcd, a
# 3-node synod and two single Redis servers on loopback, all durable
# (etcd fsyncs its WAL, synod fsyncs every group commit, Redis runs with
# appendfsync always; the second Redis without fsync is the ceiling of an
# in-memory store), runs one `synod bench` suite against each, and stops
# exactly the processes it started, by PID.
#
# The one-client cells and redis-benchmark, whose figures are compared as
# ratios on their own, are measured in ROUNDS rounds with the systems
# taking turns, and the median round is reported: on this shared machine
# the disk's fsync time drifts by tens of percent within minutes.
#
# Environment: SECONDS_PER_CELL (default 5), WARM_UP (default 1s), KEYS
# (default 100000), CONCURRENCY (default 1,16,64,256,1024), ROUNDS
# (default 3), OUT (default
# docs/, where benchmarks.md and benchmarks.svg go), WORK (scratch
# directory, default a new one under /tmp).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

SECONDS_PER_CELL=${SECONDS_PER_CELL:-5}
WARM_UP=${WARM_UP:-1s}
KEYS=${KEYS:-100000}
CONCURRENCY=${CONCURRENCY:-1,16,64,256,1024}
ROUNDS=${ROUNDS:-3}
OUT=${OUT:-$ROOT/docs}
WORK=${WORK:-$(mktemp -d /tmp/synod-compare.XXXXXX)}
mkdir -p "$WORK" "$OUT"

# Loopback ports, away from `synod up`'s defaults so a running local
# cluster is not measured by mistake.
SYNOD_CLIENT=17001 SYNOD_PEER=17101 SYNOD_ADMIN=18001
ETCD_CLIENT=(12379 22379 32379) ETCD_PEER=(12380 22380 32380)
REDIS_FSYNC=16390 REDIS_MEMORY=16391

log() { printf '\n== %s\n' "$*" >&2; }

install_missing() {
    local missing=()
    command -v etcd >/dev/null || missing+=(etcd-server)
    command -v etcdctl >/dev/null || missing+=(etcd-client)
    command -v redis-server >/dev/null || missing+=(redis-server)
    command -v redis-benchmark >/dev/null || missing+=(redis-tools)
    command -v protoc >/dev/null || missing+=(protobuf-compiler)
    if ((${#missing[@]})); then
        log "installing ${missing[*]}"
        local sudo=()
        ((EUID == 0)) || sudo=(sudo)
        "${sudo[@]}" apt-get update -qq
        DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
}

# shellcheck source=benchmarks/processes.sh
source "$ROOT/benchmarks/processes.sh"

install_missing
log "building synod (release, with the etcd client)"
cargo build --release --features etcd -q
SYNOD=$ROOT/target/release/synod

require_free_ports "${ETCD_CLIENT[@]}" "${ETCD_PEER[@]}" $REDIS_FSYNC $REDIS_MEMORY \
    $(for i in 0 1 2; do echo $((SYNOD_CLIENT + i)) $((SYNOD_PEER + i)) $((SYNOD_ADMIN + i)); done)
log "starting etcd (3 members), synod (3 nodes), Redis with and without fsync; work in $WORK"
cluster=""
for i in 0 1 2; do
    cluster+="${cluster:+,}e$i=http://127.0.0.1:${ETCD_PEER[$i]}"
done
for i in 0 1 2; do
    etcd --name "e$i" --data-dir "$WORK/etcd-$i" \
        --listen-client-urls "http://127.0.0.1:${ETCD_CLIENT[$i]}" \
        --advertise-client-urls "http://127.0.0.1:${ETCD_CLIENT[$i]}" \
        --listen-peer-urls "http://127.0.0.1:${ETCD_PEER[$i]}" \
        --initial-advertise-peer-urls "http://127.0.0.1:${ETCD_PEER[$i]}" \
        --initial-cluster "$cluster" --initial-cluster-state new \
        --initial-cluster-token synod-compare --log-level error \
        >"$WORK/etcd-$i.log" 2>&1 &
    PIDS+=($!)
done
"$SYNOD" up --data "$WORK/synod" --client-port $SYNOD_CLIENT --peer-port $SYNOD_PEER \
    --admin-port $SYNOD_ADMIN >"$WORK/synod-up.log" 2>&1 &
UP_PID=$!
PIDS+=($UP_PID)
redis-server --port $REDIS_FSYNC --bind 127.0.0.1 --save '' --appendonly yes \
    --appendfsync always --dir "$WORK" --appendfilename fsync.aof --daemonize no \
    >"$WORK/redis-fsync.log" 2>&1 &
PIDS+=($!)
redis-server --port $REDIS_MEMORY --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$WORK" --daemonize no >"$WORK/redis-memory.log" 2>&1 &
PIDS+=($!)
for port in "${ETCD_CLIENT[@]}" $SYNOD_CLIENT $((SYNOD_CLIENT + 1)) $((SYNOD_CLIENT + 2)) \
    $REDIS_FSYNC $REDIS_MEMORY; do
    wait_for_port "$port"
done
sleep 2 # elections

synod_endpoints="127.0.0.1:$SYNOD_CLIENT,127.0.0.1:$((SYNOD_CLIENT + 1)),127.0.0.1:$((SYNOD_CLIENT + 2))"
synod_admin="127.0.0.1:$SYNOD_ADMIN,127.0.0.1:$((SYNOD_ADMIN + 1)),127.0.0.1:$((SYNOD_ADMIN + 2))"
etcd_endpoints="127.0.0.1:${ETCD_CLIENT[0]},127.0.0.1:${ETCD_CLIENT[1]},127.0.0.1:${ETCD_CLIENT[2]}"

# The leader and one follower of each cluster, for the sequential writer.
synod_leader=$("$SYNOD" status --endpoints "$synod_admin" | awk '$3 == "leader" {print $2}')
synod_leader_client="127.0.0.1:$((SYNOD_CLIENT + ${synod_leader##*:} - SYNOD_ADMIN))"
synod_follower_client=$(tr ',' '\n' <<<"$synod_endpoints" | grep -v -x "$synod_leader_client" | head -1)
etcd_leader_client=""
for i in 0 1 2; do
    if ETCDCTL_API=3 etcdctl --endpoints "127.0.0.1:${ETCD_CLIENT[$i]}" endpoint status -w simple 2>/dev/null |
        awk -F', ' '{exit !($5 == "true")}'; then
        etcd_leader_client="127.0.0.1:${ETCD_CLIENT[$i]}"
    fi
done
etcd_follower_client=$(tr ',' '\n' <<<"$etcd_endpoints" | grep -v -x "$etcd_leader_client" | head -1)
echo "synod leader $synod_leader_client, etcd leader $etcd_leader_client" >&2

common=(--duration "${SECONDS_PER_CELL}s" --warm-up "$WARM_UP" --keys "$KEYS"
    --key-size 16 --value-size 100)

log "the suite: write, read, 90-10 at $CONCURRENCY in flight"
"$SYNOD" bench "${common[@]}" --workload write,read,90-10 --concurrency "$CONCURRENCY" \
    --target "synod=redis://$synod_endpoints" --metrics "synod=$synod_admin" \
    --target "etcd=etcd://$etcd_endpoints" \
    --target "redis-fsync=redis://127.0.0.1:$REDIS_FSYNC" \
    --target "redis-memory=redis://127.0.0.1:$REDIS_MEMORY" \
    --json "$WORK/suite.json" | tee "$WORK/suite.txt"

log "one client writing sequentially, through the leader and through a follower"
"$SYNOD" bench "${common[@]}" --no-preload --workload write --concurrency 1 --rounds "$ROUNDS" \
    --target "synod-leader=redis://$synod_leader_client" \
    --target "synod-follower=redis://$synod_follower_client" \
    --target "etcd-leader=etcd://$etcd_leader_client" \
    --target "etcd-follower=etcd://$etcd_follower_client" \
    --json "$WORK/sequential.json" | tee "$WORK/sequential.txt"

log "redis-benchmark, 50 connections, no pipelining"
redis_benchmark() { # port -> "SET GET" requests per second
    redis-benchmark -p "$1" -c 50 -n "${REDIS_BENCHMARK_REQUESTS:-200000}" -r "$KEYS" -d 100 \
        -t set,get -q 2>/dev/null | tr '\r' '\n' |
        awk '/^SET:/ {set=$2} /^GET:/ {get=$2} END {print set, get}'
}
median() { sort -g | awk '{ value[NR] = $1 } END { print value[int((NR + 1) / 2)] }'; }
rounds_set=() rounds_get=()
for round in $(seq "$ROUNDS"); do
    # The three targets take turns, so that they see the same drift.
    for port in "${synod_leader_client##*:}" $REDIS_FSYNC $REDIS_MEMORY; do
        read -r set get < <(redis_benchmark "$port")
        rounds_set+=("$port $set") rounds_get+=("$port $get")
        echo "round $round, port $port: SET $set, GET $get" >&2
    done
done
median_of() { # port, SET|GET -> the median of its rounds
    local -n rows="rounds_${2,,}"
    printf '%s\n' "${rows[@]}" | awk -v port="$1" '$1 == port {print $2}' | median
}
synod_set=$(median_of "${synod_leader_client##*:}" SET) synod_get=$(median_of "${synod_leader_client##*:}" GET)
fsync_set=$(median_of $REDIS_FSYNC SET) fsync_get=$(median_of $REDIS_FSYNC GET)
memory_set=$(median_of $REDIS_MEMORY SET) memory_get=$(median_of $REDIS_MEMORY GET)

log "resident memory per synod node ($KEYS keys loaded)"
# synod bench and redis-benchmark name keys alike (key:NNNNNNNNNNNN), so
# the suite leaves $KEYS keys, not twice as many: count them to show it.
keys_held=$(redis-cli -p "${synod_leader_client##*:}" --scan | wc -l)
memory_rows=""
for pid in $(pgrep -P "$UP_PID"); do
    rss=$(awk '/^VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$pid/status")
    id=$(tr '\0' ' ' <"/proc/$pid/cmdline" | sed -n 's/.*--id \([0-9]*\).*/\1/p')
    memory_rows+="| node ${id:-?} | $rss |"$'\n'
done

log "linearizability under load: 90-10 at 64 in flight, history checked"
"$SYNOD" bench --duration "${SECONDS_PER_CELL}s" --warm-up 0s --keys 1000 --workload 90-10 \
    --concurrency 64 --target "synod=redis://$synod_endpoints" \
    --history "$WORK/history.jsonl" >"$WORK/history-run.txt"
if "$SYNOD" check-history "$WORK/history.jsonl" >"$WORK/check.txt" 2>&1; then
    verdict="linearizable"
else
    verdict="NOT linearizable (see $WORK/check.txt)"
fi
operations=$(wc -l <"$WORK/history.jsonl")

log "writing $OUT/benchmarks.md and $OUT/benchmarks.svg"
"$SYNOD" bench-report "$WORK/suite.json" --output "$WORK/suite.md" --plot "$OUT/benchmarks.svg"
"$SYNOD" bench-report "$WORK/sequential.json" --output "$WORK/sequential.md" --plot "$OUT/sequential.svg"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
{
    cat <<EOF
# Benchmarks: synod, etcd and a single Redis, side by side

Measured by \`benchmarks/compare-etcd.sh\` on $(date -u +%Y-%m-%d), on $(nproc) cores
($(uname -r)), everything on loopback and on one disk: a 3-member etcd
$(etcd --version | awk '/etcd Version/ {print $3}'), a 3-node synod ($(git rev-parse --short HEAD)), and two single
Redis $(redis-server --version | awk '{print $3}' | tr -d 'v=') servers, one with \`appendfsync always\` and one
without persistence. Every figure comes from this one run; rerun the
script to reproduce it. The load generator is \`synod bench\`, the same
for every system: $KEYS keys preloaded, 16-byte keys, 100-byte values,
uniform keys, one connection per endpoint shared by all workers
(pipelined), closed loop, ${SECONDS_PER_CELL} s measured after $WARM_UP of warm-up.
synod's reads are linearizable (no lease), as are etcd's (its default).

## The suite

EOF
    cat "$WORK/suite.md"
    cat <<EOF

## One client writing sequentially

Through the leader, and through a follower (which forwards to the leader):
$ROUNDS rounds of ${SECONDS_PER_CELL} s with the four targets taking turns; the
throughput is over all rounds, each percentile the median round's.

EOF
    cat "$WORK/sequential.md"
    cat <<EOF

## redis-benchmark

\`redis-benchmark -c 50 -n ${REDIS_BENCHMARK_REQUESTS:-200000} -r $KEYS -d 100 -t set,get\` against the
synod leader and the two single Redis servers, $ROUNDS rounds with the three taking
turns; each cell is the median round (requests per second):

| target | SET | GET |
|---|---:|---:|
| synod (3 nodes, fsync) | $synod_set | $synod_get |
| Redis, appendfsync always | $fsync_set | $fsync_get |
| Redis, no persistence | $memory_set | $memory_get |
| synod / Redis fsync | $(ratio "$synod_set" "$fsync_set") | $(ratio "$synod_get" "$fsync_get") |
| synod / Redis no persistence | $(ratio "$synod_set" "$memory_set") | $(ratio "$synod_get" "$memory_get") |

## Memory

Resident memory of each synod node after the suite, with $KEYS keys loaded
($keys_held keys held, counted by SCAN) (MiB):

| node | RSS |
|---|---:|
$memory_rows
## Linearizability under benchmark load

One run of 90-10 at 64 in flight over 1,000 keys with every operation
recorded: $operations operations, checked by \`synod check-history\`: **$verdict**.
EOF
} >"$OUT/benchmarks.md"
echo "wrote $OUT/benchmarks.md" >&2
