# .ci/common.sh — shared by .ci/demo, .ci/test and .ci/run: installs the Debian 12 packages the
# project needs (only the missing ones) and picks build options for this CPU.
set -eu

DIFFSCOPE_PACKAGES="meson ninja-build pkg-config gcc libc6-dev libgtk-4-dev libcfitsio-dev
 wcslib-dev libfftw3-dev libgsl-dev libsqlite3-dev gettext xvfb xauth xdotool fitsh
 desktop-file-utils appstream libglib2.0-bin python3 sqlite3"

ds_install_packages () {
  missing=""
  for p in $DIFFSCOPE_PACKAGES; do
    dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
  done
  if [ -n "$missing" ]; then
    echo "Installing missing Debian packages:$missing"
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
  fi
}

# -march=x86-64-v3 only when this CPU has AVX2 and FMA (the binaries also check at start-up).
ds_arch_option () {
  if grep -qw avx2 /proc/cpuinfo 2>/dev/null && grep -qw fma /proc/cpuinfo 2>/dev/null; then
    echo "-Dx86_64_v3=true"
  else
    echo "-Dx86_64_v3=false"
  fi
}
