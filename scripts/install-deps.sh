#!/usr/bin/env bash
# Installs every build and test dependency from Debian 12's apt.
# Idempotent: skips apt entirely when everything is already present.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build lld ccache git pkg-config
  llvm-19-dev libmlir-19-dev mlir-19-tools llvm-19-tools
  libvulkan-dev mesa-vulkan-drivers vulkan-tools glslc libshaderc-dev spirv-tools vulkan-validationlayers glslang-dev
  libbenchmark-dev libgtest-dev libgmock-dev libopenblas-dev
  nlohmann-json3-dev libcpp-httplib-dev libcli11-dev libboost1.81-dev
  openmpi-bin libopenmpi-dev
  python3 clang-format
  clang libclang-rt-14-dev
  chromium
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

# Node.js + npm (for the openai client e2e tests): Debian's npm conflicts with
# the NodeSource nodejs some machines carry, so only install when node is absent.
if ! command -v npm >/dev/null 2>&1; then missing+=(nodejs npm); fi

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
