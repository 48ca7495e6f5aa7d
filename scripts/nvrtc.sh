#!/usr/bin/env bash
# Installs NVRTC 12.9 (libnvrtc.so.12 and libnvrtc-builtins.so.12.9) into
# .tools/nvrtc/lib from the pinned PyPI wheel of toolchain/nvrtc-requirements.txt,
# so the CUDA backend's kernels compile to PTX (and are linted) on machines
# without a GPU or a CUDA toolkit. vtrain-cuda finds it there, or in
# $VTRAIN_NVRTC_DIR. Idempotent and silent when already in place.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dir="$root/.tools/nvrtc"
requirements="$root/toolchain/nvrtc-requirements.txt"
stamp="$dir/.installed"
fingerprint=$(cat "$requirements" "${BASH_SOURCE[0]}" | sha256sum | cut -d' ' -f1)

die() {
  echo "setup: error: $*" >&2
  exit 1
}

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$fingerprint" ] &&
  [ -f "$dir/lib/libnvrtc.so.12" ] && [ -f "$dir/lib/libnvrtc-builtins.so.12.9" ]; then
  exit 0
fi

command -v python3 >/dev/null 2>&1 || die "python3 (with pip) downloads NVRTC's wheel from PyPI"
echo "setup: installing NVRTC 12.9 into .tools/nvrtc from PyPI (about 90 MB)" >&2
rm -rf "$dir"
mkdir -p "$dir/wheel" "$dir/lib"
if ! python3 -m pip download --quiet --no-deps --only-binary=:all: --require-hashes \
  -r "$requirements" -d "$dir/wheel" >"$dir/pip.log" 2>&1; then
  cat "$dir/pip.log" >&2
  die "pip could not download the pinned NVRTC wheel (see the log above)"
fi
python3 - "$dir" <<'PY' || die "could not extract NVRTC's libraries from its wheel"
import pathlib, sys, zipfile
dir = pathlib.Path(sys.argv[1])
(wheel,) = (dir / "wheel").glob("*.whl")
wanted = {"libnvrtc.so.12", "libnvrtc-builtins.so.12.9"}
with zipfile.ZipFile(wheel) as archive:
    for member in archive.namelist():
        name = member.rsplit("/", 1)[-1]
        if member.startswith("nvidia/cuda_nvrtc/lib/") and name in wanted:
            (dir / "lib" / name).write_bytes(archive.read(member))
            wanted.discard(name)
if wanted:
    sys.exit(f"the wheel lacks {sorted(wanted)}")
PY
rm -rf "$dir/wheel"
echo "$fingerprint" >"$stamp"
