#!/usr/bin/env bash
# Runs every exercise checker N times (default 100) against its correct solution
# (tests/solutions/) and reports false failures: a checker that fails a correct program, even once
# in a hundred runs, teaches a student to distrust it. Not part of `cargo test` (100 runs of 13
# checkers take long); run it before a release, on the machine the class uses:
#
#   bash tests/flakiness.sh            # 100 runs each, every checker
#   bash tests/flakiness.sh 10         # 10 runs each
#   bash tests/flakiness.sh 20 09 12   # 20 runs each, only lessons 09 and 12
#
# Each run takes a new random seed; a failure prints the seed and the FAIL lines, so
# `NN check --seed S ...` replays it. The exit status is the number of false failures (0: none).
# Needs python3 and the debug binaries (`cargo build`); 14 is not here: its checker needs an
# account on a running 14-ftp server (tests/check_14_ftp.rs runs it).
set -u
cd "$(dirname "$0")/.."
ROOT=$(pwd)
RUNS=${1:-100}
shift || true
ONLY=" ${*:-} "
BIN=${SOCKLAB_BIN:-$ROOT/target/debug}
SOL=$ROOT/tests/solutions
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$WORK"' EXIT
cd "$WORK"

false_failures=0
total=0

wanted() { [ "$ONLY" = "  " ] || [[ "$ONLY" == *" $1 "* ]]; }

# check NAME RUNS COMMAND...: runs COMMAND (a check, with --seed added) RUNS times.
check() {
    local name=$1 runs=$2
    shift 2
    local failed=0
    for _ in $(seq "$runs"); do
        local seed=$RANDOM$RANDOM
        local out
        if ! out=$("$@" --seed "$seed" 2>&1); then
            failed=$((failed + 1))
            echo "FALSE FAILURE: $name, seed $seed:"
            echo "$out" | grep -E '^(FAIL|error)' | head -5 | sed 's/^/    /'
        fi
    done
    total=$((total + runs))
    false_failures=$((false_failures + failed))
    printf '%-46s %4d runs, %d false failures\n' "$name" "$runs" "$failed"
}

# A solution server on a free port: starts it, reads the port from its "listening on" line.
start_server() {
    local log=$WORK/server-$RANDOM.log
    python3 "$@" >"$log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 100); do
        PORT=$(sed -n 's/.*listening on [0-9.]*:\([0-9]*\).*/\1/p' "$log" | head -1)
        [ -n "$PORT" ] && return 0
        sleep 0.1
    done
    echo "could not start: $*" >&2
    return 1
}

stop_server() { kill "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null; }

client() { # lesson binary script [extra args]
    local lesson=$1 bin=$2 script=$3
    shift 3
    wanted "$lesson" || return 0
    check "$bin ${FLAGS[*]:+${FLAGS[*]} }client" "$RUNS" "$BIN/$bin" check "${FLAGS[@]}" client -- python3 "$SOL/$script" '{port}' "$@"
}

server() { # lesson binary script [extra args]
    local lesson=$1 bin=$2 script=$3
    shift 3
    wanted "$lesson" || return 0
    start_server "$SOL/$script" 0 "$@" || { false_failures=$((false_failures + 1)); return 0; }
    check "$bin server" "$RUNS" "$BIN/$bin" check server "127.0.0.1:$PORT"
    stop_server
}

FLAGS=()
client 01 01-echo-once 01_echo_once_client.py
client 02 02-echo-loop 02_echo_loop_client.py
server 03 03-echo-reconnect 03_echo_reconnect_server.py
client 04 04-udp-echo 04_udp_echo_client.py
server 06 06-udp-time 06_udp_time_server.py
server 09 09-sticky 09_sticky_server.py
client 09 09-sticky 09_sticky_client.py
client 10 10-remote-cmd-framed 10_remote_cmd_framed_client.py
FLAGS=(--framing length)
client 10 10-remote-cmd-framed 10_remote_cmd_framed_client.py length
FLAGS=()
server 11 11-threaded-echo 11_threaded_echo_server.py
client 12 12-auth 12_auth_client.py
FLAGS=(--welcome)
client 12 12-auth 12_auth_client.py welcome
FLAGS=()
mkdir -p uploads
server 13 13-file-upload 13_file_upload_server.py uploads

echo "$total runs, $false_failures false failures"
exit $((false_failures > 255 ? 255 : false_failures))
