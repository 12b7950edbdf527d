#!/usr/bin/env bash
# Makes sure this machine offers a WebGPU adapter to Node (Dawn, the `webgpu` package).
# On a machine without a GPU, Dawn needs a Vulkan driver; Mesa's lavapipe >= 24 works (older Mesa is
# rejected by Dawn). When nothing works and we are root on Debian/Ubuntu, install libvulkan1 and a recent
# mesa-vulkan-drivers (on Debian 12 from the backports suite, using the mirror already configured);
# otherwise print the commands to run. Idempotent and quick when an adapter is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp/webmtl-xdg}"
mkdir -p "$XDG_RUNTIME_DIR"

probe() {
  # Asks Dawn for an adapter; prints its description. Needs node_modules/webgpu.
  [ -d node_modules/webgpu ] || return 2
  timeout 60 node scripts/probe-adapter.mjs
}

mesa_version() {
  dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null | sed -E 's/^[0-9]+://; s/[^0-9.].*$//' || true
}

mesa_ok() {
  local v; v=$(mesa_version)
  [ -n "$v" ] && [ "${v%%.*}" -ge 24 ] 2>/dev/null && dpkg-query -W libvulkan1 >/dev/null 2>&1
}

if probe >/tmp/webmtl-adapter.txt 2>&1; then
  echo "ensure-gpu: WebGPU adapter found: $(tail -n 1 /tmp/webmtl-adapter.txt)"
  exit 0
fi
if [ ! -d node_modules/webgpu ] && mesa_ok; then
  echo "ensure-gpu: libvulkan1 and mesa-vulkan-drivers $(mesa_version) present (run npm ci to probe the adapter)"
  exit 0
fi

if [ -f /etc/os-release ]; then . /etc/os-release; fi
codename="${VERSION_CODENAME:-}"

print_help() {
  cat >&2 <<EOT
ensure-gpu: no WebGPU adapter. Install a Vulkan driver that Dawn accepts (Mesa lavapipe >= 24), as root:
  apt-get update
  apt-get install -y libvulkan1 mesa-vulkan-drivers          # Debian >= 13, Ubuntu >= 24.04
  # Debian 12: add the backports suite of your mirror, then
  apt-get install -y -t bookworm-backports libvulkan1 mesa-vulkan-drivers
EOT
}

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  print_help
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
target=()
if [ "${ID:-}" = debian ] && [ "$codename" = bookworm ]; then
  # Derive the mirror from the sources already configured (deb822 or one-line format).
  mirror=$(grep -hsE '^(URIs:|deb )' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
    | grep -v -- '-security' | grep -iE 'debian' | head -n 1 \
    | sed -E 's/^URIs:[[:space:]]*//; s/^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?//; s/[[:space:]].*$//' || true)
  if [ -z "$mirror" ]; then
    echo "ensure-gpu: could not find a Debian mirror in the apt sources" >&2
    print_help; exit 1
  fi
  if ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
    echo "deb $mirror bookworm-backports main" > /etc/apt/sources.list.d/webmtl-backports.list
    echo "ensure-gpu: added bookworm-backports from $mirror"
  fi
  target=(-t bookworm-backports)
fi
echo "ensure-gpu: installing libvulkan1 and mesa-vulkan-drivers ${target[*]}"
apt-get update -qq
apt-get install -y -qq "${target[@]}" libvulkan1 mesa-vulkan-drivers >/tmp/webmtl-apt.log 2>&1 || {
  tail -n 30 /tmp/webmtl-apt.log >&2; echo "ensure-gpu: install failed" >&2; exit 1; }
echo "ensure-gpu: mesa-vulkan-drivers $(mesa_version) installed"

if [ -d node_modules/webgpu ]; then
  if probe >/tmp/webmtl-adapter.txt 2>&1; then
    echo "ensure-gpu: WebGPU adapter found: $(tail -n 1 /tmp/webmtl-adapter.txt)"
  else
    cat /tmp/webmtl-adapter.txt >&2; echo "ensure-gpu: still no WebGPU adapter after the install" >&2; exit 1
  fi
fi
