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
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
# The checkpoint export test reads the file with the real safetensors package (PyPI) and loads it
# into PyTorch: Debian's python3-torch, for Debian's Python (/usr/bin/python3).
sy_pip_install() {  # PYTHON PACKAGE...
  "$1" -m pip install -q --disable-pip-version-check "${@:2}" 2>/dev/null ||
    "$1" -m pip install -q --disable-pip-version-check --break-system-packages "${@:2}" \
      2>/dev/null ||
    echo "switchyard: could not install ${*:2} for $1 (no pip?); the export test will report Skipped"
}
if ! python3 -c "import safetensors, numpy" 2>/dev/null; then
  echo "switchyard: installing the Python packages safetensors and numpy (PyPI) for the tests"
  sy_pip_install python3 safetensors numpy
fi
if [ "$(id -u)" = 0 ] && ! /usr/bin/python3 -c "import torch" 2>/dev/null; then
  echo "switchyard: installing python3-torch (Debian) for the safetensors export test"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    --no-install-recommends python3-torch >/dev/null; } ||
    echo "switchyard: could not install python3-torch; the export test will report Skipped"
fi
if /usr/bin/python3 -c "import torch" 2>/dev/null &&
  ! /usr/bin/python3 -c "import safetensors" 2>/dev/null; then
  echo "switchyard: installing safetensors (PyPI) for Debian's Python"
  sy_pip_install /usr/bin/python3 safetensors
fi
cd "$sy_build"
ctest --output-on-failure -j "$sy_jobs" "$@"
