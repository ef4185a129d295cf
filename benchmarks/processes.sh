# Sourced by the benchmark scripts: the processes a script starts, and
# stopping exactly those (by PID) when it exits, however it exits.

PIDS=()

# SIGINT to every process started, then SIGKILL to any still alive after
# five seconds.
stop_all() {
    for pid in "${PIDS[@]}"; do
        kill -INT "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
    done
}
trap stop_all EXIT

# Waits up to ten seconds for something to listen on 127.0.0.1:$1.
wait_for_port() {
    local port=$1
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "nothing listens on 127.0.0.1:$port" >&2
    return 1
}

# Fails unless every port given is free on 127.0.0.1: something already
# listening there (a cluster left running) would be measured instead of the
# processes the script starts, and theirs would fail to bind.
require_free_ports() {
    local port taken=()
    for port in "$@"; do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            taken+=("$port")
        fi
    done
    if ((${#taken[@]})); then
        echo "something already listens on 127.0.0.1 port(s) ${taken[*]}; stop it first" >&2
        return 1
    fi
}
