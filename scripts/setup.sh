#!/usr/bin/env bash
# Installs what shaderflow needs on this machine when it is missing, then gets out of the way:
# npm dependencies; on Debian without a WebGPU-capable driver, Mesa's CPU Vulkan driver
# (lavapipe); with --browser, Debian's Chromium for the e2e tests. As root it installs; otherwise
# it prints the exact commands to run and stops.
set -euo pipefail
cd "$(dirname "$0")/.."

# --browser: Chromium is required (the e2e tests). --browser-optional: wanted, but a machine that
# cannot install it (no root, no network: a lent GPU box) still runs what needs no browser.
want_browser=0
optional=0
[ "${1:-}" = "--browser" ] && want_browser=1
[ "${1:-}" = "--browser-optional" ] && want_browser=1 && optional=1

if [ ! -d node_modules/webgpu ] || [ ! -d node_modules/vitest ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "shaderflow: installing npm dependencies (npm ci)…"
  npm ci --no-audit --no-fund
fi

# Dawn's own answer is the test that counts: is there any WebGPU adapter on this machine?
has_adapter() {
  node --input-type=module -e "
    import { create } from 'webgpu';
    globalThis.gpu = create([]);
    const adapter = await globalThis.gpu.requestAdapter();
    process.exit(adapter ? 0 : 1);
  " >/dev/null 2>&1
}

commands=()
if ! has_adapter; then
  if [ -r /etc/os-release ] && . /etc/os-release && [ "${ID:-}" = "debian" ]; then
    if [ "${VERSION_CODENAME:-}" = "bookworm" ]; then
      # Debian 12's Mesa 22 is too old for Dawn; bookworm-backports has Mesa 25.
      commands+=("echo 'deb http://deb.debian.org/debian bookworm-backports main' > /etc/apt/sources.list.d/bookworm-backports.list")
      commands+=("apt-get update")
      commands+=("DEBIAN_FRONTEND=noninteractive apt-get install -y -t bookworm-backports mesa-vulkan-drivers")
    else
      commands+=("apt-get update")
      commands+=("DEBIAN_FRONTEND=noninteractive apt-get install -y mesa-vulkan-drivers")
    fi
  else
    echo "shaderflow: no WebGPU adapter found. Install a Vulkan, Metal or D3D12 driver for your GPU," >&2
    echo "or Mesa's lavapipe (package mesa-vulkan-drivers, Mesa 23 or newer) to run on the CPU." >&2
    exit 1
  fi
fi
if [ "$want_browser" = 1 ] && [ ! -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ]; then
  [ ${#commands[@]} -eq 0 ] && commands+=("apt-get update")
  commands+=("DEBIAN_FRONTEND=noninteractive apt-get install -y chromium")
fi

# Debian's Fashion-MNIST IDX files: sf.datasets.fashionMnist() reads them by default, and the data tests use them.
if [ ! -d /usr/share/datasets/fashion-mnist ] && command -v apt-get >/dev/null 2>&1; then
  [ ${#commands[@]} -eq 0 ] && commands+=("apt-get update")
  commands+=("DEBIAN_FRONTEND=noninteractive apt-get install -y dataset-fashion-mnist")
fi

if [ ${#commands[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "shaderflow: installing system packages…"
    for c in "${commands[@]}"; do
      echo "+ $c"
      if ! bash -c "$c"; then
        [ "$optional" = 1 ] && has_adapter || exit 1
        echo "shaderflow: '$c' failed; going on without it" >&2
      fi
    done
    if ! has_adapter; then echo "shaderflow: still no WebGPU adapter after installing Mesa's lavapipe." >&2; exit 1; fi
  elif [ "$optional" = 1 ] && has_adapter; then
    echo "shaderflow: without root, not installing: ${commands[*]}; what needs them (Chromium, Fashion-MNIST) will say so" >&2
  else
    echo "shaderflow needs system packages. Run these as root, then try again:" >&2
    for c in "${commands[@]}"; do echo "  $c" >&2; done
    exit 1
  fi
fi
