#!/usr/bin/env bash
# Stops the Ceph daemons started by start-s3.sh under DIR (TERM, bounded wait, KILL) and removes DIR.
# Only pids recorded in DIR whose command line still names DIR's ceph.conf or cluster are touched.
# Usage: stop-s3.sh [DIR]          default /tmp/cairn-s3-ceph
set -euo pipefail
D=$(realpath -m "${1:-/tmp/cairn-s3-ceph}")
[[ -d $D ]] || exit 0

stop_pidfile() {
  local file=$1 pid deadline
  [[ -f $file ]] || return 0
  pid=$(cat "$file")
  # The daemons find DIR through CEPH_CONF, so their command line does not name it: check the binary.
  if [[ -n $pid && -r /proc/$pid/cmdline ]] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qE '^(ceph-mon|ceph-osd|radosgw) ' &&
    grep -qF "CEPH_CONF=$D/ceph.conf" <(tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null); then
    kill -TERM "$pid" 2>/dev/null || true
    deadline=$((SECONDS + 15))
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$file"
}

for daemon in rgw osd mon; do stop_pidfile "$D/$daemon.pid"; done
rm -rf "$D"
