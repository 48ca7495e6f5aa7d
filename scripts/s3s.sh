#!/usr/bin/env bash
# Installs s3s-fs (an S3-compatible server that keeps a bucket as a folder)
# into .tools/s3s/bin from crates.io, at a pinned version with its own
# Cargo.lock (--locked). The end-to-end tests start it to run the agents
# against a real S3 API (e2e/tests/it/s3.rs). s3s-fs 0.15 and later need
# Rust 1.96; rust-toolchain.toml pins 1.95, so 0.14.1 it is.
# Idempotent and silent when already in place.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dir="$root/.tools/s3s"
version="0.14.1"
stamp="$dir/.installed"
fingerprint=$(cat "${BASH_SOURCE[0]}" | sha256sum | cut -d' ' -f1)

die() {
  echo "setup: error: $*" >&2
  exit 1
}

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$fingerprint" ] && [ -x "$dir/bin/s3s-fs" ]; then
  exit 0
fi

command -v cargo >/dev/null 2>&1 || die "cargo builds s3s-fs from crates.io"
# From the checkout, so that rust-toolchain.toml picks the compiler.
cd "$root"
echo "setup: building s3s-fs $version into .tools/s3s from crates.io (about 2 min on 2 cores, once)" >&2
rm -f "$stamp"
mkdir -p "$dir"
# Its own target folder, so that it neither shares nor invalidates the
# workspace's; removed once the binary is installed. An unoptimised build
# without debug info (--debug, CARGO_PROFILE_DEV_DEBUG=0) takes about 40% of
# the CPU time of a release build, and the tests' objects are kilobytes.
if ! CARGO_TARGET_DIR="$dir/target" CARGO_PROFILE_DEV_DEBUG=0 cargo install --quiet --locked \
  --force --debug --version "=$version" --features binary --root "$dir" s3s-fs \
  >"$dir/install.log" 2>&1; then
  cat "$dir/install.log" >&2
  die "cargo could not install s3s-fs $version (see the log above)"
fi
rm -rf "$dir/target" "$dir/install.log"
"$dir/bin/s3s-fs" --version >/dev/null 2>&1 || die "$dir/bin/s3s-fs does not run"
echo "$fingerprint" >"$stamp"
