#!/usr/bin/env bash
# Installs, with apt, whatever rumor needs that this Debian machine lacks.
#   scripts/deps.sh          build tools, libraries, cmocka, Fashion-MNIST
#   scripts/deps.sh --bench  also what bench/ compares against (PyTorch,
#                            scikit-learn from Debian) and gnuplot
# Runs apt-get only when something is missing; uses sudo when not root.
set -euo pipefail

packages=(
  build-essential cmake pkg-config  # compiler, build system, library lookup
  libsodium-dev    # all cryptography and secure randomness
  liblmdb-dev      # checkpoints
  libuv1-dev       # event loop, TCP, timers, thread pool
  libopenblas-dev  # dense math through cblas
  zlib1g-dev       # gzip data files
  libinih-dev      # INI configs and scenarios
  libcmocka-dev    # unit tests
  dataset-fashion-mnist  # the real data (/usr/share/datasets/fashion-mnist)
)
if [[ "${1:-}" == "--bench" ]]; then
  packages+=(python3-torch python3-sklearn python3-numpy gnuplot-nox time)
fi

missing=()
for p in "${packages[@]}"; do
  [[ "$p" == \#* ]] && continue
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]} == 0)); then
  echo "deps: everything rumor needs is installed"
  exit 0
fi

sudo=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
echo "deps: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
