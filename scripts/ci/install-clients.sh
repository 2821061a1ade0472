#!/usr/bin/env bash
# Installs the OCI clients that test/clients/ drives (skopeo, podman, buildah, containerd's ctr, dockerd)
# plus the reference registry and busybox for the test base image, and configures them to run as root
# against plain-HTTP registries on 127.0.0.1. Idempotent: packages already present are not fetched again
# and the config files are rewritten to the same content.
#
# Usage: sudo-less, as root:  bash scripts/ci/install-clients.sh
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
  echo "install-clients.sh: must run as root" >&2
  exit 1
fi

# runc is listed explicitly so that podman's "crun | runc" dependency is met by runc: crun fails on this
# machine (cgroup v1/hybrid). conmon, uidmap and containers-common are hard dependencies and come along.
# docker-registry is the CNCF distribution reference registry (CAIRN_CLIENT_TARGET=reference).
# runc and slirp4netns also run the build worker's RUN steps (src/build/executor): slirp4netns gives
# steps with outbound networking their own network namespace, away from the host's loopback.
# bzip2 and xz-utils decompress ADD's .tar.bz2/.tar.xz archives in the build worker (and its tests).
PACKAGES=(skopeo podman buildah containerd docker.io runc slirp4netns busybox-static docker-registry bzip2 xz-utils)

missing_packages() {
  local pkg
  for pkg in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || echo "$pkg"
  done
}

install_packages() {
  local missing
  missing=$(missing_packages)
  if [[ -z $missing ]]; then
    echo "install-clients: all packages already installed"
    return
  fi
  echo "install-clients: installing" $missing
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # --no-install-recommends keeps out apparmor, fuse-overlayfs, dbus...: nothing here needs them (root,
  # kernel overlayfs, --network none; slirp4netns is listed above for the build worker). Postinst scripts may try to start dockerd/containerd
  # services: there is no init system, so that fails harmlessly or is blocked by policy-rc.d.
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

# containers/image (skopeo, podman, buildah): accept any image, no signature checks.
write_policy() {
  mkdir -p /etc/containers
  cat >/etc/containers/policy.json <<'EOF'
{
  "default": [{ "type": "insecureAcceptAnything" }],
  "transports": { "docker-daemon": { "": [{ "type": "insecureAcceptAnything" }] } }
}
EOF
}

# Plain HTTP to every registry on loopback. containers/image matches [[registry]] prefixes per host:port,
# so each port the tests may use (5700-5749) gets an entry; tests also pass --tls-verify=false, this makes
# the plain `podman pull 127.0.0.1:PORT/...` work by hand too. No unqualified-search registries: nothing may
# ever be looked up on the internet.
write_registries_conf() {
  local port
  {
    echo '# Written by scripts/ci/install-clients.sh'
    echo 'unqualified-search-registries = []'
    echo 'short-name-mode = "disabled"'
    for port in $(seq 5700 5749); do
      printf '\n[[registry]]\nlocation = "127.0.0.1:%s"\ninsecure = true\n' "$port"
    done
  } >/etc/containers/registries.conf
}

# Kernel overlayfs works for root here; fall back to vfs (slow but works anywhere) when it does not.
write_storage_conf() {
  local driver=overlay
  grep -qw overlay /proc/filesystems || driver=vfs
  cat >/etc/containers/storage.conf <<EOF
# Written by scripts/ci/install-clients.sh
[storage]
driver = "$driver"
runroot = "/run/containers/storage"
graphroot = "/var/lib/containers/storage"
EOF
}

# runc, cgroupfs (no systemd on this machine), no network by default (no CNI/netavark installed; tests pass
# --network none), events to a file (no journald). cgroups stay enabled: runc refuses cgroups="disabled".
# Root here lacks CAP_SYS_RESOURCE, so podman/buildah's default rlimits for root (nofile 1048576, nproc
# 4194304) make runc fail ("error setting rlimit type 7"); explicit low ones replace them.
write_containers_conf() {
  cat >/etc/containers/containers.conf <<'EOF'
# Written by scripts/ci/install-clients.sh
[containers]
netns = "none"
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
}

start=$(date +%s)
install_packages
write_policy
write_registries_conf
write_storage_conf
write_containers_conf
echo "install-clients: done in $(($(date +%s) - start))s"
for bin in skopeo podman buildah ctr containerd dockerd runc slirp4netns busybox docker-registry; do
  command -v "$bin" >/dev/null || { echo "install-clients: $bin missing after install" >&2; exit 1; }
done
