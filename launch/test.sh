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
# The checkpoint export test reads the file with the real safetensors package (PyPI).
if ! python3 -c "import safetensors, numpy" 2>/dev/null; then
  echo "switchyard: installing the Python packages safetensors and numpy (PyPI) for the tests"
  python3 -m pip install -q --disable-pip-version-check safetensors numpy 2>/dev/null ||
    python3 -m pip install -q --disable-pip-version-check --break-system-packages safetensors \
      numpy 2>/dev/null ||
    echo "switchyard: could not install them (no pip?); the export test will report Skipped"
fi
cd "$sy_build"
ctest --output-on-failure -j "$sy_jobs" "$@"
