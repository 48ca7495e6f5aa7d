#!/usr/bin/env bash
# Installs vtrain's pinned toolchain into .tools/ (git-ignored), from package
# registries only:
#   - Foundry 1.7.1 (anvil, forge, cast) from @foundry-rs/*-linux-amd64 on npm;
#   - solc 0.8.30 from the npm package `solc` (solc-js), behind .tools/bin/solc,
#     a wrapper that forge and foundry-compilers accept;
#   - forge-std 1.9.7 as shipped inside @layerzerolabs/toolbox-foundry on npm
#     (the npm package named `forge-std` is an unofficial 2022 copy without
#     StdInvariant or ds-test, so it cannot be used);
#   - OpenZeppelin Contracts 5.4.0 from npm (SafeERC20, for ERC-20 jobs);
#   - NVRTC 12.9 from PyPI (scripts/nvrtc.sh) and s3s-fs 0.14.1 from crates.io
#     (scripts/s3s.sh), each with its own stamp.
# Versions and integrity hashes are pinned by toolchain/package-lock.json.
#
# Idempotent and silent when everything is already in place; prints one line per
# failure, naming what could not be installed, and exits non-zero.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tools="$root/.tools"
bin="$tools/bin"
foundry_version="1.7.1"
solc_version="0.8.30"
forge_std_dir="$tools/node_modules/@layerzerolabs/toolbox-foundry/lib/forge-std"

die() {
  echo "setup: error: $*" >&2
  exit 1
}

require() {
  command -v "$1" >/dev/null 2>&1 || die "'$1' is not installed ($2)"
}

[ "$(uname -s)-$(uname -m)" = "Linux-x86_64" ] ||
  die "vtrain's toolchain is pinned to linux x86_64 (Foundry's npm binaries); this is $(uname -s)-$(uname -m)"
require node "Node.js >= 20 installs the Foundry and solc npm packages"
require npm "npm installs the Foundry and solc npm packages"
require cargo "the Rust toolchain (rustup) builds vtrain; rust-toolchain.toml pins the version"

# Debian packages the tests need, installed when missing (as root) or named:
# `apt_need COMMAND PACKAGES WHY`.
apt_updated=0
apt_need() {
  local command=$1 packages=$2 why=$3
  command -v "$command" >/dev/null 2>&1 && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing $packages (Debian) for $why" >&2
    {
      if [ "$apt_updated" = 0 ]; then apt-get update -qq; fi &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $packages
    } >"${TMPDIR:-/tmp}/vtrain-apt.log" 2>&1 ||
      { cat "${TMPDIR:-/tmp}/vtrain-apt.log" >&2; die "apt-get could not install $packages"; }
    apt_updated=1
  else
    die "$command is missing: install Debian's $packages (apt-get install $packages) for $why"
  fi
}

# qemu-user runs the determinism tests as CPUs without FMA/AVX and with AVX2.
apt_need qemu-x86_64 qemu-user "the cross-CPU determinism tests"
# A real headless browser for the explorer's page tests (about 35 s, once).
apt_need chromedriver "chromium chromium-driver" "the explorer's browser tests"

node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 20 ] || die "Node.js >= 20 is required (found $(node --version))"

# NVRTC (the CUDA backend's compiler) from its pinned PyPI wheel: its own
# script and stamp.
"$root/scripts/nvrtc.sh"

# s3s-fs (the S3 server of the end-to-end tests) from crates.io, built by
# cargo install at a pinned version: its own script and stamp.
"$root/scripts/s3s.sh"

# The stamp covers every input of the install, so any change re-runs it.
fingerprint=$(cat "$root/toolchain/package.json" "$root/toolchain/package-lock.json" \
  "$root/toolchain/solc-wrapper.js" "${BASH_SOURCE[0]}" | sha256sum | cut -d' ' -f1)
stamp="$tools/.installed"

check_versions() {
  local out
  for tool in anvil forge cast; do
    [ -x "$bin/$tool" ] || { echo "setup: $tool is missing from $bin" >&2; return 1; }
    out=$("$bin/$tool" --version 2>&1 | head -n1) ||
      { echo "setup: $bin/$tool does not run: $out" >&2; return 1; }
    case "$out" in
      *"$foundry_version"*) ;;
      *) echo "setup: $tool reports '$out', expected Foundry $foundry_version" >&2; return 1 ;;
    esac
  done
  out=$("$bin/solc" --version 2>&1 | tail -n1) ||
    { echo "setup: $bin/solc does not run: $out" >&2; return 1; }
  case "$out" in
    "Version: $solc_version+commit."*) ;;
    *) echo "setup: solc reports '$out', expected Version: $solc_version+commit..." >&2; return 1 ;;
  esac
  [ -f "$forge_std_dir/Test.sol" ] && [ -f "$forge_std_dir/StdInvariant.sol" ] ||
    { echo "setup: forge-std is missing from $forge_std_dir" >&2; return 1; }
  [ -f "$tools/node_modules/@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol" ] ||
    { echo "setup: OpenZeppelin Contracts are missing from $tools/node_modules" >&2; return 1; }
}

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$fingerprint" ] && check_versions 2>/dev/null; then
  exit 0
fi

echo "setup: installing the pinned toolchain into .tools/ (Foundry $foundry_version, solc $solc_version, forge-std, OpenZeppelin Contracts)" >&2
mkdir -p "$bin"
rm -f "$stamp"
cp "$root/toolchain/package.json" "$root/toolchain/package-lock.json" "$tools/"
if ! (cd "$tools" && npm ci --no-audit --no-fund --loglevel=error >"$tools/npm.log" 2>&1); then
  cat "$tools/npm.log" >&2
  die "npm could not install the pinned packages of toolchain/package-lock.json (see the npm log above)"
fi

for tool in anvil forge cast; do
  target="$tools/node_modules/@foundry-rs/$tool-linux-amd64/bin/$tool"
  [ -f "$target" ] || die "the npm package @foundry-rs/$tool-linux-amd64 has no bin/$tool"
  chmod +x "$target"
  ln -sfn "../node_modules/@foundry-rs/$tool-linux-amd64/bin/$tool" "$bin/$tool"
done
install -m 0755 "$root/toolchain/solc-wrapper.js" "$bin/solc"

check_versions || die "the installed toolchain failed its version check (see above)"
echo "$fingerprint" >"$stamp"
echo "setup: toolchain ready in .tools/bin: anvil, forge, cast (Foundry $foundry_version), solc $solc_version" >&2
