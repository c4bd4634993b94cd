#!/usr/bin/env bash
# sut-nft.sh -- the benchmark kit's SUT hook for ferry's nftables dataplane
# (/work/shared/bench README, "SUT hook"). Uses target/release/nft-program (built on `up` if
# missing). Everything happens inside $BENCH_NODE_NS; processes are stopped by PID.
#   up nft          start `nft-program serve` in the node netns (dataplane kept in memory)
#   reset nft       remove ferry's table, forget the state (untimed)
#   program ALL [CHANGED]   full sync of ALL, or an incremental sync of just CHANGED
#   down nft        stop the server, remove the table
#   up/down tcp-throughput|http   BENCH_SUT_VIP:BENCH_SUT_PORT -> BENCH_BACKENDS (with ClientIP
#                   affinity for tcp-throughput: iperf3's two connections must meet one backend)
set -euo pipefail
# No command substitution on the way to a request: `program` is timed, and every fork shows.
HERE=${BASH_SOURCE[0]%/*}; [[ $HERE == "${BASH_SOURCE[0]}" ]] && HERE=.
ROOT="$HERE/.."
BIN="$ROOT/target/release/nft-program"
DIR="$BENCH_SCRATCH/sut-nft"
REQ="$DIR/requests" REP="$DIR/replies" PIDF="$DIR/server.pid"
nsx() { ip netns exec "$BENCH_NODE_NS" "$@"; }
pin() { if [[ ${BENCH_PIN:-0} == 1 && -n ${BENCH_SUT_CPUS:-} ]]; then taskset -c "$BENCH_SUT_CPUS" "$@"; else "$@"; fi; }

ensure_bin() {
  [[ -x $BIN ]] || (cd "$ROOT" && cargo build --release -q -p ferry-bench --bin nft-program) >&2
}

# ask REQUEST: one request to the server, its reply on stdout; fails on "error ..."
ask() {
  [[ -s $PIDF ]] || { echo "sut-nft: server not running" >&2; return 1; }
  echo "$*" >"$REQ"
  local reply; read -r reply <"$REP"
  [[ $reply == ok* ]] || { echo "sut-nft: $reply" >&2; return 1; }
  echo "$reply"
}

stop_server() {
  [[ -s $PIDF ]] || return 0
  local pid; pid=$(cat "$PIDF")
  if kill -0 "$pid" 2>/dev/null; then
    timeout 5 bash -c "echo quit >'$REQ'; read -r _ <'$REP'" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$PIDF"
}

action=${1:?action}; what=${2:-}
case $action in
  up)
    ensure_bin
    case $what in
      nft)
        stop_server; mkdir -p "$DIR"; rm -f "$REQ" "$REP"; mkfifo "$REQ" "$REP"
        nsx "$BIN" cleanup
        pin ip netns exec "$BENCH_NODE_NS" "$BIN" serve "$REQ" "$REP" >"$DIR/server.log" 2>&1 </dev/null &
        echo $! >"$PIDF" ;;
      tcp-throughput | http)
        affinity=(); [[ $what == tcp-throughput ]] && affinity=(--affinity)
        # shellcheck disable=SC2086
        nsx "$BIN" service "${affinity[@]}" "$BENCH_SUT_VIP:$BENCH_SUT_PORT" $BENCH_BACKENDS
        echo "TARGET $BENCH_SUT_VIP:$BENCH_SUT_PORT" ;;
      *) echo "sut-nft: unknown bench $what" >&2; exit 2 ;;
    esac ;;
  down)
    case $what in
      nft) stop_server; [[ -x $BIN ]] && nsx "$BIN" cleanup || true ;;
      *) [[ -x $BIN ]] && nsx "$BIN" cleanup || true ;;
    esac ;;
  reset) ask reset >/dev/null ;;
  program) ask program "$2" ${3:+"$3"} >/dev/null ;;
  *) echo "sut-nft: unknown action $action" >&2; exit 2 ;;
esac
