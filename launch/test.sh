#!/usr/bin/env bash
# The test command: on a fresh Debian machine, installs the packages the build needs (when run as
# root; otherwise prints the apt-get line to run), configures, builds with every core, and runs the
# whole ctest suite — unit tests, multi-rank tests under mpirun (np 1, 2, 4) and the CUDA tests,
# which skip where no GPU is visible. The CUDA backend is compiled whenever nvcc is found.
#
#   launch/test.sh                 # everything
#   SY_CUDA=OFF launch/test.sh     # CPU-only build
#   launch/test.sh -L unit         # extra arguments go to ctest
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${SY_BUILD_DIR:-$root/build}

packages=(cmake ninja-build g++ make pkg-config openmpi-bin libopenmpi-dev libprotobuf-dev
          protobuf-compiler libgtest-dev libgmock-dev libopenblas-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "test.sh: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "test.sh: missing packages; run:  sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi

# The CUDA toolkit's usual home, when it is installed but not on PATH.
if ! command -v nvcc >/dev/null 2>&1 && [ -x /usr/local/cuda/bin/nvcc ]; then
  export PATH=/usr/local/cuda/bin:$PATH
fi

jobs=$(nproc)
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSY_CUDA="${SY_CUDA:-AUTO}" \
  -DSY_WERROR=ON
cmake --build "$build" -j "$jobs"
cd "$build"
ctest --output-on-failure -j "$jobs" "$@"
