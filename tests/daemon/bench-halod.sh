#!/bin/sh
# Benchmark, not a test: generation through halod (a D-Bus call, the request
# queue and the JSON-lines stream) against halo-run in-process, on the same
# model file, alternating runs so both see the same machine load.
#
#   tests/daemon/bench-halod.sh BUILD_DIR MODEL.gguf [TOKENS=128] [RUNS=3]
#
# Prints per run: the daemon's own prompt/generation speeds, what the client
# saw (time to first token, tokens/s as received), and halo-run's speeds.
# Starts its own session bus (dbus-run-session) and halod; needs nothing running.
set -eu
if [ -z "${HALOD_BENCH_ON_BUS:-}" ]; then
  HALOD_BENCH_ON_BUS=1 exec dbus-run-session -- "$0" "$@"
fi
build=$(realpath "$1")
model=$(realpath "$2")
tokens=${3:-128}
runs=${4:-3}
prompt="Once upon a time, in a land far away, there lived a"

tmp=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
cat > "$tmp/halod.toml" <<CONF
model_dirs = ["$(dirname "$model")"]
keep_alive = -1
CONF
"$build/daemon/halod" --session --config "$tmp/halod.toml" 2>"$tmp/halod.log" &
pid=$!
i=0
until busctl --user status org.halod.Halod1 >/dev/null 2>&1; do
  i=$((i + 1)); [ $i -lt 100 ] || { cat "$tmp/halod.log"; exit 1; }; sleep 0.1
done
haloctl="$build/tools/haloctl/haloctl --session"
$haloctl load "$model"
echo "model: $model, $tokens tokens, greedy, $(nproc) cores"
for r in $(seq "$runs"); do
  echo "run $r"
  $haloctl generate 1 "$prompt" -n "$tokens" --temp 0 --stats 2>&1 >/dev/null | sed 's/^/  halod:      /'
  "$build/tools/halo-run/halo-run" -m "$model" -p "$prompt" -n "$tokens" --temp 0 2>&1 >/dev/null |
    tail -1 | sed 's/^halo-run: /  in-process: /'
done
kill -TERM "$pid"
wait "$pid"
pid=""
