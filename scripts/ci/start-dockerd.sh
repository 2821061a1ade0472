#!/usr/bin/env bash
# Starts a private dockerd (and the containerd it manages) with data-root, exec-root, pidfile, config and
# socket under DIR: it never touches /var/lib/docker or /var/run/docker.sock. No iptables, no bridge: builds
# and runs must use --network none. Prints the socket path once `docker version` answers (bounded).
# Usage: start-dockerd.sh DIR [PORT...]   each PORT is marked insecure as 127.0.0.1:PORT (plain HTTP); without
#                                         ports all of 127.0.0.0/8 is insecure (dockerd's default anyway).
# Stop with: stop-daemon.sh DIR
set -euo pipefail
source "$(dirname "$0")/lib.sh"

[[ $# -ge 1 ]] || die "usage: start-dockerd.sh DIR [PORT...]"
dir=$(realpath -m "$1"); shift
mkdir -p "$dir/data" "$dir/exec"
sock="$dir/docker.sock"

insecure=()
for port in "$@"; do insecure+=(--insecure-registry "127.0.0.1:$port"); done
((${#insecure[@]})) || insecure=(--insecure-registry 127.0.0.0/8)

# An empty config file keeps a host /etc/docker/daemon.json out of the tests.
echo '{}' >"$dir/daemon.json"
spawn_daemon "$dir" dockerd \
  --config-file "$dir/daemon.json" \
  --data-root "$dir/data" --exec-root "$dir/exec" --pidfile "$dir/docker.pid" \
  --host "unix://$sock" \
  --iptables=false --ip6tables=false --ip-masq=false --ip-forward=false --bridge=none --userland-proxy=false \
  --log-level warn "${insecure[@]}"
# dockerd uses the Debian client matching its API version; /usr/local/bin may hold a newer one.
docker_cli=/usr/bin/docker; [[ -x $docker_cli ]] || docker_cli=docker
wait_ready "$dir" "${CAIRN_DAEMON_TIMEOUT:-60}" "$docker_cli" -H "unix://$sock" version
echo "$sock"
