#!/usr/bin/env bash
# Install what cleave needs on Debian 12: the system packages (as root; else
# print the exact apt-get line and stop) and ONNX Runtime for Node (the
# reference runtime) into .deps/npm. Idempotent and quiet when all is there.
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(cmake make gcc pkg-config
      libprotobuf-c-dev protobuf-c-compiler libonnx-dev libonnx-testdata
      libdnnl-dev libjansson-dev libmicrohttpd-dev libcurl4-openssl-dev libzstd-dev liblz4-dev zlib1g-dev iproute2 curl
      python3-torch python3-torchvision python3-onnx dataset-fashion-mnist)
command -v node >/dev/null 2>&1 || PKGS+=(nodejs)
command -v npm >/dev/null 2>&1 || PKGS+=(npm)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    echo "deps: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "deps: missing Debian packages. Run as root:" >&2
    echo "  apt-get update && apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi

ORT_VERSION=1.30.0
if [ ! -f .deps/npm/node_modules/onnxruntime-node/package.json ] ||
   ! grep -q "\"version\": \"$ORT_VERSION\"" .deps/npm/node_modules/onnxruntime-node/package.json; then
  echo "deps: installing onnxruntime-node@$ORT_VERSION into .deps/npm"
  mkdir -p .deps/npm
  # --ignore-scripts: its install script downloads GPU files and fails offline.
  (cd .deps/npm && [ -f package.json ] || echo '{"private":true}' > package.json;
   npm install --ignore-scripts --no-audit --no-fund "onnxruntime-node@$ORT_VERSION" >/dev/null)
fi
