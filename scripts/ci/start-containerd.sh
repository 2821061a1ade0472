#!/usr/bin/env bash
# Starts a private containerd whose root, state, config and socket all live under DIR, so it never touches
# /var/lib/containerd or /run/containerd. Prints the socket path once `ctr version` answers (bounded).
# Usage: start-containerd.sh DIR      Stop with: stop-daemon.sh DIR
set -euo pipefail
source "$(dirname "$0")/lib.sh"

[[ $# -eq 1 ]] || die "usage: start-containerd.sh DIR"
dir=$(realpath -m "$1")
mkdir -p "$dir/root" "$dir/state"
sock="$dir/containerd.sock"

# CRI is disabled: it wants CNI and a kubelet, and only fills the log with errors otherwise.
cat >"$dir/config.toml" <<TOML
version = 2
root = "$dir/root"
state = "$dir/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$sock"
[ttrpc]
  address = "$dir/containerd.sock.ttrpc"
[debug]
  address = ""
TOML

spawn_daemon "$dir" containerd --config "$dir/config.toml" --log-level warn
wait_ready "$dir" "${CAIRN_DAEMON_TIMEOUT:-30}" ctr --address "$sock" version
echo "$sock"
