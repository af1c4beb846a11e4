#!/usr/bin/env bash
# LocalStack's runtime as a plain process on loopback, without Docker, for the tests marked
# `localstack` (docs/localstack.md "Without Docker").
#
#   scripts/localstack.sh setup    build .localstack-venv (Python 3.13); skipped when up to date
#   scripts/localstack.sh start    start LocalStack in the background and wait for its health
#   scripts/localstack.sh stop     stop the LocalStack that `start` started, by its PID
#   scripts/localstack.sh status   exit 0 when that LocalStack is running and healthy
#
# Settings (environment): LOCALSTACK_PYTHON (default: python3.13, through pyenv's 3.13.0 when
# pyenv is installed), LOCALSTACK_VENV (.localstack-venv), LOCALSTACK_STATE (.localstack: PID
# file, log, LocalStack's scratch filesystem), LOCALSTACK_LISTEN (127.0.0.1:4566),
# LOCALSTACK_WAIT_S (120). Every part stays on loopback and in the work tree; nothing persists
# from one start to the next.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CONSTRAINTS="$ROOT/ci/localstack-constraints.txt"
VENV="${LOCALSTACK_VENV:-$ROOT/.localstack-venv}"
STATE="${LOCALSTACK_STATE:-$ROOT/.localstack}"
LISTEN="${LOCALSTACK_LISTEN:-127.0.0.1:4566}"
WAIT_S="${LOCALSTACK_WAIT_S:-120}"
PID_FILE="$STATE/localstack.pid"
LOG_FILE="$STATE/localstack.log"
HEALTH_URL="http://$LISTEN/_localstack/health"
# What setup installs; versions come from the constraints file. service_identity is named
# too: Twisted (LocalStack's HTTP server) imports it at start, and nothing in
# localstack-core[runtime] requires it.
PACKAGES=("localstack-core[runtime]" "service_identity")
# The stamp holds a hash of the packages and the pins: setup reruns when either changes.
STAMP="$VENV/.gameday-installed"

say() { printf 'localstack: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

python313() {
    # localstack-core 2026.3.0 needs Python 3.13; on this machine kind pyenv provides it, and
    # pyenv's shim for python3.13 answers only when that version is selected.
    if [[ -n "${LOCALSTACK_PYTHON:-}" ]]; then
        "$LOCALSTACK_PYTHON" "$@"
    elif command -v pyenv >/dev/null 2>&1; then
        PYENV_VERSION="${PYENV_VERSION:-3.13.0}" python3.13 "$@"
    else
        python3.13 "$@"
    fi
}

constraints_hash() { { echo "${PACKAGES[*]}"; cat "$CONSTRAINTS"; } | sha256sum | cut -d' ' -f1; }

cmd_setup() {
    if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$(constraints_hash)" ]]; then
        say "setup: $VENV is up to date"
        return 0
    fi
    local version
    version="$(python313 -c 'import sys; print("%d.%d" % sys.version_info[:2])')" ||
        die "no Python 3.13 found; install it (pyenv install 3.13.0) or set LOCALSTACK_PYTHON"
    [[ "$version" == "3.13" ]] || die "LocalStack needs Python 3.13, found $version"
    say "setup: building $VENV (a minute or two)"
    rm -rf "$VENV"
    python313 -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        -c "$CONSTRAINTS" "${PACKAGES[@]}"
    "$VENV/bin/python" -c 'import localstack.runtime.main' ||
        die "localstack-core installed but does not import"
    constraints_hash >"$STAMP"
    say "setup: done"
}

running_pid() {
    # The PID from our PID file, only while that process is alive and is LocalStack's runtime:
    # a stale file whose PID was reused by another process must never be signalled.
    [[ -f "$PID_FILE" ]] || return 1
    local pid
    pid="$(cat "$PID_FILE")"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'localstack.runtime.main' || return 1
    echo "$pid"
}

healthy() {
    curl --silent --fail --max-time 2 "$HEALTH_URL" >/dev/null 2>&1
}

cmd_start() {
    [[ -f "$STAMP" ]] || die "run '$0 setup' first"
    if pid="$(running_pid)"; then
        say "already running (pid $pid) at http://$LISTEN"
        return 0
    fi
    if healthy; then
        die "something else already answers at $HEALTH_URL; stop it or set LOCALSTACK_LISTEN"
    fi
    mkdir -p "$STATE"
    # A fresh scratch filesystem on every start: no state survives from an earlier run.
    rm -rf "$STATE/filesystem"
    local started=$SECONDS
    # Environment, each for a reason:
    #  GATEWAY_LISTEN  loopback only.
    #  GATEWAY_SERVER=hypercorn  the default server (twisted) listens on every interface
    #                  whatever GATEWAY_LISTEN's host says (localstack/runtime/server/twisted.py
    #                  in 2026.3.0: "TODO: interface = host?"); hypercorn binds the host given.
    #  DNS_ADDRESS=0   no DNS server: it would bind port 53 on every interface.
    #  PERSISTENCE=0, DATA_DIR unset  nothing is saved between starts.
    #  FILESYSTEM_ROOT LocalStack's files in the state folder, not in its site-packages.
    #  SKIP_SSL_CERT_DOWNLOAD, DISABLE_EVENTS  no calls out of the machine (there is no route).
    (
        cd "$STATE"
        exec env -u DATA_DIR -u LOCALSTACK_AUTH_TOKEN -u LOCALSTACK_API_KEY \
            GATEWAY_LISTEN="$LISTEN" \
            GATEWAY_SERVER=hypercorn \
            DNS_ADDRESS=0 \
            PERSISTENCE=0 \
            FILESYSTEM_ROOT="$STATE/filesystem" \
            SKIP_SSL_CERT_DOWNLOAD=1 \
            DISABLE_EVENTS=1 \
            LOCALSTACK_CLI=0 \
            "$VENV/bin/python" -m localstack.runtime.main
    ) </dev/null >"$LOG_FILE" 2>&1 &
    echo $! >"$PID_FILE"
    local pid
    pid="$(cat "$PID_FILE")"
    while ((SECONDS - started < WAIT_S)); do
        if ! kill -0 "$pid" 2>/dev/null; then
            say "error: LocalStack exited during start-up; the end of $LOG_FILE:"
            tail -n 40 "$LOG_FILE" >&2
            rm -f "$PID_FILE"
            exit 1
        fi
        if healthy; then
            say "ready at http://$LISTEN (pid $pid) after $((SECONDS - started)) s"
            return 0
        fi
        sleep 1
    done
    say "error: no answer from $HEALTH_URL within $WAIT_S s; the end of $LOG_FILE:"
    tail -n 40 "$LOG_FILE" >&2
    cmd_stop
    exit 1
}

cmd_stop() {
    local pid
    if ! pid="$(running_pid)"; then
        say "not running"
        rm -f "$PID_FILE"
        return 0
    fi
    kill -TERM "$pid"
    # LocalStack's shutdown hooks take a few seconds; after 20 s it is killed.
    for _ in $(seq 1 40); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.5
    done
    if kill -0 "$pid" 2>/dev/null; then
        say "still running after 20 s: killing pid $pid"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$PID_FILE"
    say "stopped (pid $pid)"
}

cmd_status() {
    local pid
    pid="$(running_pid)" || { say "not running"; return 1; }
    healthy || { say "pid $pid is running but $HEALTH_URL does not answer"; return 1; }
    say "running (pid $pid) at http://$LISTEN"
}

case "${1:-}" in
    setup) cmd_setup ;;
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    *)
        echo "usage: $0 setup|start|stop|status" >&2
        exit 2
        ;;
esac
