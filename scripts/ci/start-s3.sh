#!/usr/bin/env bash
# A throw-away S3 server for tests: single-node Ceph (1 mon + 1 memstore OSD) + radosgw, on loopback.
# radosgw enforces SigV4, multipart and conditional requests as AWS does. Installs Debian's packages when
# missing (root). Prints the endpoint (for CAIRN_TEST_S3_ENDPOINT) once radosgw answers and the test user
# exists. Everything lives under DIR (state, logs, *.pid); nothing in /etc/ceph or /var/lib/ceph is used.
#
# Usage: start-s3.sh [DIR] [RGW_PORT]           defaults: /tmp/cairn-s3-ceph 9100
#        stop-s3.sh [DIR]                        stops it and removes DIR
# Ports: RGW_PORT, mon on RGW_PORT+1, OSD messenger on RGW_PORT+2..RGW_PORT+10 (the project keeps
# 9100-9199 for S3 test infrastructure; tests' fault proxies use 9120-9199).
# Env: S3_ACCESS_KEY (testaccesskey), S3_SECRET_KEY (testsecretkey1234), MEMSTORE_BYTES (4 GiB of RAM at most).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

D=$(realpath -m "${1:-/tmp/cairn-s3-ceph}")
RGW_PORT=${2:-9100}
MON_PORT=$((RGW_PORT + 1)); PMIN=$((RGW_PORT + 2)); PMAX=$((RGW_PORT + 10))
AK=${S3_ACCESS_KEY:-testaccesskey}; SK=${S3_SECRET_KEY:-testsecretkey1234}
log() { echo "[start-s3 $(date +%T)] $*" >&2; }

if ! command -v radosgw >/dev/null || ! command -v ceph-mon >/dev/null || ! command -v ceph-osd >/dev/null; then
  log "installing ceph-mon ceph-osd radosgw"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y --no-install-recommends ceph-mon ceph-osd radosgw curl >/dev/null 2>&1 ||
    { apt-get update >/dev/null && apt-get install -y --no-install-recommends ceph-mon ceph-osd radosgw curl >/dev/null; }
fi

# A previous run on this machine (same DIR) is stopped first: its ports would be taken.
bash "$(dirname "$0")/stop-s3.sh" "$D" >/dev/null 2>&1 || true
mkdir -p "$D"/{run,log,mon.a,osd.0,rgw.a}
FSID=$(cat /proc/sys/kernel/random/uuid)
# No cephx (loopback only, throw-away); crc messenger mode; one replica; memstore keeps data in RAM.
cat >"$D/ceph.conf" <<CONF
[global]
fsid = $FSID
mon_host = [v2:127.0.0.1:$MON_PORT]
public_addr = 127.0.0.1
cluster_addr = 127.0.0.1
paxos_propose_interval = 0.05
mon_client_hunt_interval = 0.5
auth_cluster_required = none
auth_service_required = none
auth_client_required = none
ms_mon_client_mode = crc
ms_client_mode = crc
ms_mon_service_mode = crc
ms_service_mode = crc
ms_mon_cluster_mode = crc
ms_cluster_mode = crc
keyring = $D/keyring
run_dir = $D/run
admin_socket = $D/run/\$name.asok
log_file = $D/log/\$name.log
ms_bind_msgr1 = false
ms_bind_msgr2 = true
ms_bind_port_min = $PMIN
ms_bind_port_max = $PMAX
osd_pool_default_size = 1
osd_pool_default_min_size = 1
mon_allow_pool_size_one = true
mon_warn_on_pool_no_redundancy = false
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
osd_pool_default_pg_autoscale_mode = off
osd_crush_chooseleaf_type = 0
mon_max_pg_per_osd = 1000
mon_data_avail_warn = 1
[mon]
mon_data = $D/mon.\$id
[osd]
osd_data = $D/osd.\$id
osd_objectstore = memstore
memstore_device_bytes = ${MEMSTORE_BYTES:-4294967296}
[client.rgw.a]
rgw_frontends = beast endpoint=127.0.0.1:$RGW_PORT
rgw_data = $D/rgw.a
CONF
export CEPH_CONF="$D/ceph.conf"

ceph-authtool --create-keyring "$D/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
monmaptool --create --fsid "$FSID" --addv a "[v2:127.0.0.1:$MON_PORT]" "$D/monmap" >/dev/null
ceph-mon --mkfs -i a --monmap "$D/monmap" --keyring "$D/keyring"
setsid ceph-mon -f -i a </dev/null >"$D/log/mon.stdout" 2>&1 & echo $! >"$D/mon.pid"
OSD_UUID=$(cat /proc/sys/kernel/random/uuid)
timeout 60 ceph osd new "$OSD_UUID" >/dev/null || die "mon did not answer (log: $D/log)"
log "mon up"
ceph-osd -i 0 --mkfs --osd-uuid "$OSD_UUID" >"$D/log/osd-mkfs.log" 2>&1
setsid ceph-osd -f -i 0 </dev/null >"$D/log/osd.stdout" 2>&1 & echo $! >"$D/osd.pid"
for _ in $(seq 1 240); do timeout 5 ceph osd stat 2>/dev/null | grep -q "1 up" && break; sleep 0.25; done
timeout 5 ceph osd stat 2>/dev/null | grep -q "1 up" || die "osd did not come up (log: $D/log)"
log "osd up"
setsid radosgw -f -n client.rgw.a </dev/null >"$D/log/rgw.stdout" 2>&1 & echo $! >"$D/rgw.pid"
for _ in $(seq 1 480); do curl -s -o /dev/null "http://127.0.0.1:$RGW_PORT/" && break; sleep 0.25; done
curl -s -o /dev/null "http://127.0.0.1:$RGW_PORT/" || die "radosgw did not come up (log: $D/log)"
radosgw-admin user create --uid=test --display-name=test --access-key="$AK" --secret-key="$SK" >/dev/null
log "rgw up"
echo "http://127.0.0.1:$RGW_PORT"
