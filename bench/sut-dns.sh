#!/usr/bin/env bash
# sut-dns.sh -- the SUT hook (shared/bench/README.md, "System under test") for ferry's cluster
# DNS: `up dns` starts target/release/dns-serve inside BENCH_AUX_NS on BENCH_SUT_DNS_IP:53 with
# the bench's BENCH_SERVICES_TSV loaded (pinned to BENCH_SUT_CPUS when BENCH_PIN=1) and prints
# TARGET; `down dns` stops it by PID. It serves the dns bench only.
# Build first: cargo build --release -p ferry-bench --bin dns-serve
# Usage: SUT_HOOK=$PWD/bench/sut-dns.sh SUT_NAME=ferry BENCH_ROWS="knot sut" .../bench-dns.sh
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=${FERRY_DNS_SERVE:-$HERE/../target/release/dns-serve}
PIDF="$BENCH_SCRATCH/ferry-dns-serve.pid"
LOG="$BENCH_SCRATCH/ferry-dns-serve.log"

stop() {
  [[ -s $PIDF ]] || return 0
  local pid; pid=$(cat "$PIDF")
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$PIDF"
}

action=${1:?action}; what=${2:-}
case $action in
  up)
    [[ $what == dns ]] || { echo "sut-dns: serves the dns bench only, not $what" >&2; exit 2; }
    [[ -x $BIN ]] || { echo "sut-dns: $BIN missing (cargo build --release -p ferry-bench --bin dns-serve)" >&2; exit 1; }
    stop
    cpus=(); [[ ${BENCH_PIN:-1} == 1 && -n ${BENCH_SUT_CPUS:-} ]] && cpus=(taskset -c "$BENCH_SUT_CPUS")
    ip netns exec "$BENCH_AUX_NS" "${cpus[@]}" "$BIN" --listen "$BENCH_SUT_DNS_IP:53" \
      --services "$BENCH_SERVICES_TSV" >"$LOG" 2>&1 </dev/null &
    echo $! >"$PIDF"
    # ready once the sockets are bound (the bench also polls with dig)
    for _ in $(seq 1 100); do
      grep -q "dns-serve:" "$LOG" 2>/dev/null && break
      kill -0 "$(cat "$PIDF")" 2>/dev/null || { cat "$LOG" >&2; rm -f "$PIDF"; exit 1; }
      sleep 0.05
    done
    echo "TARGET $BENCH_SUT_DNS_IP:53" ;;
  down) [[ $what == dns ]] && stop; exit 0 ;;
  *) echo "sut-dns: unknown action $action" >&2; exit 2 ;;
esac
