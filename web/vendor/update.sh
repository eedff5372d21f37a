#!/usr/bin/env bash
# Re-vendors the browser libraries in web/vendor/ from the npm registry, so an update is one
# command: `bash web/vendor/update.sh` (or with other versions: JSQR_VERSION=… NOBLE_VERSION=…).
# `npm pack` fetches the published tarball without installing anything or running package
# scripts, so nothing from the package runs on this machine. Afterwards update the versions and
# sha256s in web/vendor/README.md (printed at the end) and review `git diff web/vendor`.
set -euo pipefail

JSQR_VERSION="${JSQR_VERSION:-1.4.0}"
NOBLE_VERSION="${NOBLE_VERSION:-3.2.0}"

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# Unpack one package's tarball into $tmp/<dir>/package.
unpack() { # <npm spec> <dir>
  local tarball
  tarball="$(cd "$tmp" && npm pack --silent "$1" | tail -n 1)"
  mkdir -p "$tmp/$2"
  tar -xzf "$tmp/$tarball" -C "$tmp/$2"
}

unpack "jsqr@$JSQR_VERSION" jsqr
unpack "@noble/ed25519@$NOBLE_VERSION" noble

# jsQR: the prebuilt UMD bundle, loaded by the QR worker with importScripts.
mkdir -p "$here/jsqr"
cp "$tmp/jsqr/package/dist/jsQR.js" "$here/jsqr/jsQR.js"
cp "$tmp/jsqr/package/LICENSE" "$here/jsqr/LICENSE"

# noble-ed25519: a single ES module with no imports, loaded by badge-check.js with import().
mkdir -p "$here/noble-ed25519"
cp "$tmp/noble/package/index.js" "$here/noble-ed25519/index.js"
cp "$tmp/noble/package/LICENSE" "$here/noble-ed25519/LICENSE"

# A new version must still be self-contained: there is no bundler, so an import of another
# package would fail in the browser. Node loading the copied file proves it imports nothing
# (web/ has no node_modules for a bare import to be found in). And eval/WebAssembly would be
# blocked by the pages' CSP.
if ! node --input-type=module -e "await import(process.argv[1])" "file://$here/noble-ed25519/index.js"; then
  echo "error: noble-ed25519/index.js does not load on its own as an ES module" >&2
  exit 1
fi
if grep -qE "WebAssembly|new Function|[^.a-zA-Z]eval\(" "$here/jsqr/jsQR.js" "$here/noble-ed25519/index.js"; then
  echo "warning: a vendored file uses eval or WebAssembly, which the CSP forbids" >&2
fi

echo "jsqr $JSQR_VERSION, @noble/ed25519 $NOBLE_VERSION:"
(cd "$here" && sha256sum jsqr/jsQR.js jsqr/LICENSE noble-ed25519/index.js noble-ed25519/LICENSE)
