#!/usr/bin/env bash
# Static analysis of the production contracts (contracts/src) with slither.
#
#   scripts/slither.sh [extra slither arguments...]
#
# Sets up a pinned slither in .tools/slither-venv on first use (the pip install
# needs PyPI; later runs reuse the venv). slither compiles through
# crytic-compile's Foundry platform, which runs `forge build --build-info`
# with the repo's forge (.tools/bin) and so with the repo's solc-js wrapper. The
# wrapper only speaks --version and --standard-json, so slither's direct
# `--solc` mode cannot use it, because crytic-compile calls solc --combined-json.
# The build writes to a private temporary out/cache under .tools/, never to
# contracts/out or contracts/cache, and `forge clean` is never run.
# Test files are left out of the build and filtered from results, and so are
# forge-std and toolbox-foundry.
#
# Exit status: 0 when every High or Medium finding is triaged in
# contracts/slither.config.json ("triaged_findings": detector + finding text,
# with source locations stripped, so moved lines keep their triage but changed
# code must be triaged again); 1 when any is not; 2 when slither or the build
# fails. Low, Informational and Optimization findings are printed and counted
# but never fail the run. The full JSON report is left in
# .tools/slither-report.json.
#
# Do not pass --exclude-dependencies: crytic-compile counts any path with a
# `lib` component as a dependency, and that includes contracts/src/lib.
set -Eeuo pipefail

SLITHER_VERSION=0.11.6
# slither 0.11.6 needs crytic-compile>=0.4.2,<0.5. Pinning it keeps the Foundry
# build steps fixed: --skip test/script, --deny never, and reading
# `forge config --json`.
CRYTIC_COMPILE_VERSION=0.4.2

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv="$root/.tools/slither-venv"
config="$root/contracts/slither.config.json"
report="$root/.tools/slither-report.json"
python="${PYTHON:-python3}"

die() {
  echo "slither.sh: $*" >&2
  exit 2
}

[[ -x "$root/.tools/bin/forge" && -x "$root/.tools/bin/solc" ]] ||
  die "missing .tools/bin/forge or .tools/bin/solc; run scripts/setup.sh first"
[[ -f "$config" ]] || die "missing $config"

# --- pinned venv (idempotent) ---------------------------------------------------
installed_versions() {
  "$venv/bin/python" - <<'EOF' 2>/dev/null
import importlib.metadata as m
print(m.version("slither-analyzer"), m.version("crytic-compile"))
EOF
}
if [[ "$(installed_versions || true)" != "$SLITHER_VERSION $CRYTIC_COMPILE_VERSION" ]]; then
  "$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' ||
    die "$python is older than 3.10, which slither $SLITHER_VERSION requires (set PYTHON=...)"
  if [[ ! -x "$venv/bin/python" ]]; then
    echo "slither.sh: creating $venv" >&2
    "$python" -m venv "$venv"
  fi
  echo "slither.sh: installing slither-analyzer==$SLITHER_VERSION crytic-compile==$CRYTIC_COMPILE_VERSION" >&2
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    "slither-analyzer==$SLITHER_VERSION" "crytic-compile==$CRYTIC_COMPILE_VERSION"
  [[ "$(installed_versions)" == "$SLITHER_VERSION $CRYTIC_COMPILE_VERSION" ]] ||
    die "pip did not install the pinned versions"
fi

# --- private build directory -----------------------------------------------------
work=$(mktemp -d "$root/.tools/slither-build.XXXXXX")
trap 'rm -rf "$work"' EXIT
# crytic-compile reads out/cache from `forge config --json`, which honours these.
export FOUNDRY_OUT="$work/out" FOUNDRY_CACHE_PATH="$work/cache"
export PATH="$root/.tools/bin:$PATH"

# slither warns about keys it does not know, so it gets a copy of the config
# without the triage list.
"$venv/bin/python" - "$config" "$work/slither.config.json" <<'EOF'
import json, sys
config = json.load(open(sys.argv[1], encoding="utf8"))
config.pop("triaged_findings", None)
json.dump(config, open(sys.argv[2], "w", encoding="utf8"), indent=2)
EOF

# --- run -----------------------------------------------------------------------------
rm -f "$report"
status=0
(
  cd "$root/contracts"
  "$venv/bin/slither" . \
    --compile-force-framework foundry \
    --skip-clean \
    --config-file "$work/slither.config.json" \
    --fail-none \
    --json "$report" \
    "$@"
) || status=$?
[[ -s "$report" ]] || die "slither produced no report (exit status $status); see the output above"

# --- gate: High/Medium findings must be triaged ------------------------------------
"$venv/bin/python" - "$report" "$config" <<'EOF'
import collections, json, re, sys

report = json.load(open(sys.argv[1], encoding="utf8"))
config = json.load(open(sys.argv[2], encoding="utf8"))
if not report.get("success"):
    print(f"slither.sh: slither failed: {report.get('error')}", file=sys.stderr)
    sys.exit(2)

def normalise(text):
    # Drop source locations like " (src/fp32/Fp32.sol#265-299)" and trailing blanks.
    text = re.sub(r" \([^()\n]*#\d+(?:-\d+)?\)", "", text)
    return "\n".join(line.rstrip() for line in text.strip().splitlines())

triaged = {(t["check"], normalise(t["finding"])): t for t in config.get("triaged_findings", [])}
used = set()
results = report.get("results", {}).get("detectors", [])
order = ["High", "Medium", "Low", "Informational", "Optimization"]
counts = collections.Counter((r["impact"], r["check"]) for r in results)
untriaged = []
for r in results:
    if r["impact"] not in ("High", "Medium"):
        continue
    key = (r["check"], normalise(r["description"]))
    if key in triaged:
        used.add(key)
    else:
        untriaged.append(r)

print("\nslither.sh: findings by impact and detector", file=sys.stderr)
for impact, check in sorted(counts, key=lambda k: (order.index(k[0]) if k[0] in order else 99, k[1])):
    print(f"  {impact:<14} {check:<32} {counts[(impact, check)]}", file=sys.stderr)
for key in triaged:
    if key not in used:
        print(f"slither.sh: note: triaged finding no longer reported ({key[0]}): "
              f"{key[1].splitlines()[0]}", file=sys.stderr)
if untriaged:
    print(f"\nslither.sh: FAIL: {len(untriaged)} High/Medium finding(s) not triaged in "
          "contracts/slither.config.json:", file=sys.stderr)
    for r in untriaged:
        print(f"\n[{r['impact']}] {r['check']}\n{r['description'].rstrip()}", file=sys.stderr)
    sys.exit(1)
print(f"slither.sh: OK: no untriaged High/Medium findings ({len(used)} triaged)", file=sys.stderr)
EOF
