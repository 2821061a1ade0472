# Shared helpers for the start-*/stop-daemon scripts. Sourced, not executed.
# A daemon directory DIR holds everything of one private daemon: its state, its socket, daemon.pid (the pid
# we started) and daemon.log.

die() { echo "$(basename "$0"): $*" >&2; exit 1; }

# Starts "$@" in the background, detached from our stdout so that callers reading our output (the socket
# path) are not held open by the daemon; records its pid.
spawn_daemon() {
  local dir=$1; shift
  setsid "$@" </dev/null >>"$dir/daemon.log" 2>&1 &
  echo $! >"$dir/daemon.pid"
}

# wait_ready DIR TIMEOUT_S CMD...: polls CMD until it succeeds; fails early if the daemon died.
wait_ready() {
  local dir=$1 timeout=$2; shift 2
  local pid deadline=$((SECONDS + timeout))
  pid=$(cat "$dir/daemon.pid")
  until "$@" >/dev/null 2>&1; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 30 "$dir/daemon.log" >&2
      die "daemon exited before it was ready (log: $dir/daemon.log)"
    fi
    if ((SECONDS >= deadline)); then
      tail -n 30 "$dir/daemon.log" >&2
      die "daemon not ready after ${timeout}s (log: $dir/daemon.log)"
    fi
    sleep 0.2
  done
}
