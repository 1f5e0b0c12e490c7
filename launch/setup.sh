# Sourced by launch/test.sh and launch/train.sh: installs the Debian packages the build and the
# default corpus need (as root; otherwise prints the apt-get line and fails), puts nvcc on PATH
# when the CUDA toolkit sits in its usual place, and configures and builds into $SY_BUILD_DIR.
sy_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
sy_build=${SY_BUILD_DIR:-$sy_root/build}

sy_packages=(cmake ninja-build g++ make pkg-config openmpi-bin libopenmpi-dev libprotobuf-dev
             protobuf-compiler libgtest-dev libgmock-dev libopenblas-dev fortunes)
sy_missing=()
for p in "${sy_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || sy_missing+=("$p")
done
if [ ${#sy_missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "switchyard: installing ${sy_missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${sy_missing[@]}" >/dev/null
  else
    echo "switchyard: missing packages; run:  sudo apt-get install -y ${sy_missing[*]}" >&2
    exit 1
  fi
fi

if ! command -v nvcc >/dev/null 2>&1 && [ -x /usr/local/cuda/bin/nvcc ]; then
  export PATH=/usr/local/cuda/bin:$PATH
fi

sy_jobs=$(nproc)
cmake -S "$sy_root" -B "$sy_build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DSY_CUDA="${SY_CUDA:-AUTO}" -DSY_WERROR=ON
# SY_BUILD_TARGET: one target (launch/train.sh builds only the command), else everything.
cmake --build "$sy_build" -j "$sy_jobs" ${SY_BUILD_TARGET:+--target "$SY_BUILD_TARGET"}

source "$sy_root/launch/mpi.sh"  # sy_mpirun: the mpirun line that works here

# The default corpus: the text of Debian's `fortunes` package, byte-level, in data/fortunes/
# (prepared once; run from the repository root).
sy_prepare_fortunes() {
  [ -f data/fortunes/train.bin ] && return 0
  mkdir -p data/fortunes/text
  for f in /usr/share/games/fortunes/*; do
    case "$f" in *.dat|*.u8) ;; *) [ -f "$f" ] && cp "$f" data/fortunes/text/ ;; esac
  done
  "$sy_build/launch/switchyard" prepare --out data/fortunes data/fortunes/text
}
