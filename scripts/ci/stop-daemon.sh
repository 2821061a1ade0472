#!/usr/bin/env bash
# Stops a daemon started by start-dockerd.sh or start-containerd.sh: TERM, bounded wait, then KILL; then
# unmounts whatever it left mounted under DIR (overlay layers, netns, shm) so that DIR can be removed.
# Usage: stop-daemon.sh DIR [--remove]
set -euo pipefail
source "$(dirname "$0")/lib.sh"

[[ $# -ge 1 ]] || die "usage: stop-daemon.sh DIR [--remove]"
dir=$(realpath -m "$1")

# owns PID: the process is still one of ours (its command line names DIR), not a stranger that got the
# pid after a reboot or a crash left the pidfile behind.
owns() {
  [[ -n $1 && -r /proc/$1/cmdline ]] && tr '\0' ' ' <"/proc/$1/cmdline" | grep -qF "$dir/"
}

# stop_pidfile FILE: TERM the pid in FILE, wait (bounded), KILL if still there.
stop_pidfile() {
  local file=$1 pid deadline
  [[ -f $file ]] || return 0
  pid=$(cat "$file")
  if owns "$pid" && kill -TERM "$pid" 2>/dev/null; then
    deadline=$((SECONDS + ${CAIRN_DAEMON_TIMEOUT:-30}))
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$file"
}

stop_pidfile "$dir/daemon.pid"
# dockerd stops the containerd it manages on TERM, but not when it had to be KILLed; that containerd runs in
# its own session, so it is stopped by its own pidfile.
stop_pidfile "$dir/exec/containerd/containerd.pid"

# Deepest mounts first; lazy so that a busy mount does not stop the rest.
awk -v d="$dir/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r | while read -r m; do
  umount -l "$m" 2>/dev/null || true
done

if [[ ${2:-} == --remove ]]; then rm -rf "$dir"; fi
