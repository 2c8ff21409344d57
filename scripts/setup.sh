#!/usr/bin/env bash
# One-time, idempotent set-up of a fresh Debian 12 machine (as root) for tsbgp's demo and tests:
# the real BGP implementations used for interop, packet tools, and the npm dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(iputils-ping netcat-openbsd socat bird2 frr gobgpd exabgp openbgpd tshark tcpdump bgpdump iperf3 ipset iptables iproute2 arptables ebtables
  user-mode-linux kmod procps psmisc jq conntrack ethtool nftables python3)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  echo 'wireshark-common wireshark-common/install-setuid boolean false' | debconf-set-selections
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# BIRD 1.6 (the version Calico ran) conflicts with bird2 as a package, so it is unpacked beside it.
BIRD1_DIR=/opt/bird1
if [ ! -x "$BIRD1_DIR/usr/sbin/bird" ]; then
  echo "setup: unpacking bird 1.6 into $BIRD1_DIR"
  tmp=$(mktemp -d)
  (cd "$tmp" && apt-get download bird >/dev/null 2>&1) || { apt-get update -qq; (cd "$tmp" && apt-get download bird >/dev/null); }
  mkdir -p "$BIRD1_DIR"
  dpkg -x "$tmp"/bird_*.deb "$BIRD1_DIR"
  rm -rf "$tmp"
fi

# The packaged daemons may start system services in the root namespace; the tests start their own
# instances inside their own namespaces, so the system ones are stopped to keep port 179 free.
for svc in bird frr gobgpd openbgpd exabgp; do
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$svc" 2>/dev/null; then
    systemctl stop "$svc" || true
  fi
done
pkill -x bird 2>/dev/null || true

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund >/dev/null
fi
