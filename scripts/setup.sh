#!/usr/bin/env bash
# Installs every Debian package warpdns builds, runs and tests with.
# Idempotent: does nothing when everything is already installed.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config git ccache
  libldns-dev ldnsutils libjemalloc-dev libssl-dev libasio-dev libre2-dev nlohmann-json3-dev libyaml-cpp-dev
  libcurl4-openssl-dev etcd-server etcd-client
  prometheus-cpp-dev libgtest-dev libgmock-dev libbenchmark-dev libgoogle-perftools-dev google-perftools
  bind9-dnsutils knot-dnsutils dnsperf knot nsd unbound dnsdist
  python3 python3-dnspython python3-pytest python3-yaml iproute2 procps
  dpdk dpdk-dev libdpdk-dev ethtool
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "setup: installing ${missing[*]}"
$SUDO apt-get update -q
# The peers' packages must not start their daemons: tests start their own.
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
