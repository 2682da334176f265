#!/usr/bin/env bash
# Installs the Debian packages Tenbin needs (data plane toolchain, FRR, Chromium, PostgreSQL).
# As root: installs what is missing (idempotent). Otherwise: prints the exact packages missing.
set -euo pipefail

PACKAGES=(
  clang llvm libbpf-dev libbpf1 bpftool linux-libc-dev gcc-multilib
  iproute2 ethtool iputils-ping curl fping tcpdump
  frr frr-pythontools
  chromium fonts-dejavu-core
  postgresql
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup-system: all system packages present"
  exit 0
fi

if [ "$(id -u)" != "0" ]; then
  echo "setup-system: not root; these Debian packages are missing:" >&2
  echo "  apt-get install -y ${missing[*]}" >&2
  echo "setup-system: the console and API still run; the data plane, FRR and browser tests need them." >&2
  exit 0
fi

echo "setup-system: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian's frr package would start its own daemons under systemd; Tenbin runs its own
# instances with their own paths, so a system-wide one is never needed.
echo "setup-system: done"
