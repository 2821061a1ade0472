#!/usr/bin/env bash
# Removes what an interrupted client-test run left behind: daemons still running from
# /tmp/cairn-clients-*/{dockerd,containerd}, their mounts, and the temp dirs. Run it before or after a test
# run, never during one (it would stop that run's daemons).
# Usage: cleanup-clients.sh
set -euo pipefail
here=$(dirname "$0")

shopt -s nullglob
for dir in /tmp/cairn-clients-*/; do
  dir=${dir%/}
  for daemon in "$dir"/*/daemon.pid; do
    bash "$here/stop-daemon.sh" "$(dirname "$daemon")"
  done
  # stop-daemon.sh with no pidfile only unmounts, which is what podman/buildah storage needs.
  bash "$here/stop-daemon.sh" "$dir" --remove
done
