#!/usr/bin/env bash
# Run pacsflow's Prefect installation on this machine (the Makefile's
# server / pool / deploy / workers / stop targets call this):
#   prefect-ops.sh server       start a Prefect server on 127.0.0.1 (port $PACSFLOW_PREFECT_PORT, 4200)
#   prefect-ops.sh pool         create the process work pool "pacsflow" (once)
#   prefect-ops.sh deploy       create/update the deployments of deployments/prefect.yaml
#   prefect-ops.sh workers [N]  start N workers on the pool (default 1)
#   prefect-ops.sh receiver     start the C-MOVE receiver the runs share (PACSFLOW_LOCAL_*,
#                               PACSFLOW_STORAGE, PACSFLOW_PACS_AET; else runs start one on demand)
#   prefect-ops.sh stop         stop the workers and the receiver, then the server
#   prefect-ops.sh status       what runs, and where the UI is
# Workers take the PACS, storage and database settings from the environment
# they are started with (PACSFLOW_PACS_AET, ..., PACSFLOW_DB_URL, PACSFLOW_DB_PASSWORD).
# PIDs and logs go to $PACSFLOW_RUN_DIR (default .pacsflow-run/).
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
run_dir="${PACSFLOW_RUN_DIR:-$repo/.pacsflow-run}"
bin="${PACSFLOW_BIN:-$repo/.venv/bin}"
port="${PACSFLOW_PREFECT_PORT:-4200}"
mkdir -p "$run_dir"

export PREFECT_HOME="${PREFECT_HOME:-$run_dir/prefect-home}"
export PREFECT_API_URL="${PREFECT_API_URL:-http://127.0.0.1:$port/api}"
# Privacy defaults (see the README): no telemetry, no analytics from the UI,
# no results written to disk.
export DO_NOT_TRACK="${DO_NOT_TRACK:-1}"
export PREFECT_SERVER_ANALYTICS_ENABLED="${PREFECT_SERVER_ANALYTICS_ENABLED:-false}"
export PREFECT_SERVER_UI_V2_ENABLED="${PREFECT_SERVER_UI_V2_ENABLED:-false}"
export PREFECT_RESULTS_PERSIST_BY_DEFAULT="${PREFECT_RESULTS_PERSIST_BY_DEFAULT:-false}"

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

stop_pid() {
    local pid_file="$1"
    if alive "$pid_file"; then
        local pid
        pid="$(cat "$pid_file")"
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$pid_file"
}

case "${1:-}" in
server)
    if alive "$run_dir/server.pid"; then
        echo "Prefect server already running: ${PREFECT_API_URL%/api}"
        exit 0
    fi
    # New session (setsid): the server outlives this shell and stops on SIGTERM.
    setsid "$bin/prefect" server start --host 127.0.0.1 --port "$port" \
        >"$run_dir/server.log" 2>&1 < /dev/null &
    echo $! >"$run_dir/server.pid"
    for _ in $(seq 1 240); do
        if "$bin/python" -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)" \
            "$PREFECT_API_URL/health" 2>/dev/null; then
            echo "Prefect server on ${PREFECT_API_URL%/api} (log: $run_dir/server.log)"
            echo "export PREFECT_API_URL=$PREFECT_API_URL"
            exit 0
        fi
        alive "$run_dir/server.pid" || break
        sleep 0.5
    done
    echo "The Prefect server did not start; see $run_dir/server.log" >&2
    exit 1
    ;;
pool)
    if "$bin/prefect" work-pool inspect pacsflow >/dev/null 2>&1; then
        echo "Work pool pacsflow exists"
    else
        "$bin/prefect" work-pool create pacsflow --type process
    fi
    ;;
deploy)
    "$bin/prefect" --no-prompt deploy --all --prefect-file deployments/prefect.yaml
    ;;
workers)
    count="${2:-1}"
    for i in $(seq 1 "$count"); do
        pid_file="$run_dir/worker-$i.pid"
        if alive "$pid_file"; then
            echo "worker $i already running"
            continue
        fi
        # setsid: a worker started from a script would otherwise ignore SIGINT.
        # PACSFLOW_WORKER_LIMIT: flow runs a worker runs at once (default: no limit).
        setsid "$bin/prefect" worker start --pool pacsflow \
            --name "${PACSFLOW_WORKER_PREFIX:-pacsflow-$(hostname)}-$i" \
            ${PACSFLOW_WORKER_LIMIT:+--limit "$PACSFLOW_WORKER_LIMIT"} \
            >"$run_dir/worker-$i.log" 2>&1 < /dev/null &
        echo $! >"$pid_file"
        echo "worker $i started (log: $run_dir/worker-$i.log)"
    done
    ;;
receiver)
    if alive "$run_dir/receiver.pid"; then
        echo "receiver already running"
        exit 0
    fi
    setsid "$bin/pacsflow" receiver >"$run_dir/receiver.log" 2>&1 < /dev/null &
    echo $! >"$run_dir/receiver.pid"
    for _ in $(seq 1 100); do
        if "$bin/pacsflow" receiver status | grep -q '^receiver '; then
            "$bin/pacsflow" receiver status
            exit 0
        fi
        alive "$run_dir/receiver.pid" || break
        sleep 0.2
    done
    echo "The receiver did not start; see $run_dir/receiver.log" >&2
    exit 1
    ;;
stop)
    for pid_file in "$run_dir"/worker-*.pid; do
        [ -e "$pid_file" ] && stop_pid "$pid_file"
    done
    stop_pid "$run_dir/receiver.pid"
    stop_pid "$run_dir/server.pid"
    echo "stopped"
    ;;
status)
    alive "$run_dir/server.pid" && echo "server: ${PREFECT_API_URL%/api}" || echo "server: not running"
    for pid_file in "$run_dir"/worker-*.pid; do
        [ -e "$pid_file" ] && alive "$pid_file" && echo "$(basename "$pid_file" .pid): running"
    done
    if alive "$run_dir/receiver.pid"; then "$bin/pacsflow" receiver status; fi
    ;;
*)
    sed -n '2,14p' "$0" >&2
    exit 2
    ;;
esac
