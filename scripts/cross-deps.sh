#!/usr/bin/env bash
# Packages for the aarch64 cross build (make cross-aarch64): the cross
# compiler, qemu for running the tests, and arm64 builds of the libraries
# the edge side links (Debian multiarch). Root only; prints the commands otherwise.
set -euo pipefail
need=()
command -v aarch64-linux-gnu-gcc >/dev/null || need+=(gcc-aarch64-linux-gnu)
command -v qemu-aarch64-static >/dev/null || need+=(qemu-user-static)
dpkg-query -W -f='${Status}' libprotobuf-c-dev:arm64 2>/dev/null | grep -q "install ok" || need+=(libprotobuf-c-dev:arm64)
dpkg-query -W -f='${Status}' libjansson-dev:arm64 2>/dev/null | grep -q "install ok" || need+=(libjansson-dev:arm64)
dpkg-query -W -f='${Status}' zlib1g-dev:arm64 2>/dev/null | grep -q "install ok" || need+=(zlib1g-dev:arm64)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "cross-deps: run as root: dpkg --add-architecture arm64 && apt-get update && apt-get install -y ${need[*]}" >&2
  exit 1
fi
dpkg --add-architecture arm64
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
