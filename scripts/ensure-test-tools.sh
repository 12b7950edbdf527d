#!/usr/bin/env bash
# Makes sure the outside programs behind npm test's cross-checks are on this machine:
#   - Debian's Chromium (/usr/bin/chromium), which the browser demo test drives headless;
#   - /usr/bin/python3 with numpy, scipy and scikit-image, the independent readers the safetensors,
#     .npy, .mat and PASCAL-edge checks compare against;
#   - PyTorch and torchvision (Debian's python3-torch, python3-torchvision), which write the .pth files
#     the PyTorch reader is tested on and run the exported models.
# When something is missing and we are root on Debian/Ubuntu, installs it with apt-get; otherwise prints
# the exact commands and exits 1, so npm test stops before it starts instead of skipping checks.
# Idempotent and quick (well under a second) when everything is there.
set -euo pipefail

PY=/usr/bin/python3
need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
if [ -x "$PY" ] && "$PY" -c 'import numpy, scipy.io, skimage.morphology, torch, torchvision' >/dev/null 2>&1; then
  : # everything imports: one interpreter start instead of five
elif [ -x "$PY" ]; then
  # module -> Debian package; each import is tried on its own so the list names only what is missing.
  for pair in numpy:python3-numpy scipy.io:python3-scipy skimage.morphology:python3-skimage \
              torch:python3-torch torchvision:python3-torchvision; do
    mod=${pair%%:*}; pkg=${pair#*:}
    "$PY" -c "import $mod" >/dev/null 2>&1 || need+=("$pkg")
  done
else
  need+=(python3 python3-numpy python3-scipy python3-skimage python3-torch python3-torchvision)
fi

if [ ${#need[@]} -eq 0 ]; then
  echo "ensure-test-tools: chromium, python3 with numpy, scipy, scikit-image, torch and torchvision present"
  exit 0
fi

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  cat >&2 <<EOT
ensure-test-tools: npm test needs these and they are missing: ${need[*]}
Install them (Debian/Ubuntu, as root), then run npm test again:
  apt-get update
  apt-get install -y ${need[*]}
EOT
  exit 1
fi

echo "ensure-test-tools: installing ${need[*]} (first run on this machine; a few minutes)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/tmp/webmtl-apt-tools.log 2>&1 || {
  tail -n 30 /tmp/webmtl-apt-tools.log >&2; echo "ensure-test-tools: apt-get install ${need[*]} failed" >&2; exit 1; }
# Check again: a package that installed but does not import (a broken Python) must stop the run here.
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
for mod in numpy scipy.io skimage.morphology torch torchvision; do
  "$PY" -c "import $mod" >/dev/null 2>&1 || missing+=("python module $mod")
done
if [ ${#missing[@]} -ne 0 ]; then
  echo "ensure-test-tools: still missing after the install: ${missing[*]}" >&2
  exit 1
fi
echo "ensure-test-tools: installed ${need[*]}"
