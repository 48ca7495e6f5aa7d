#!/usr/bin/env bash
# The README's demo command, on a fresh machine: set-up, a local devnet with
# vtrain deployed, a solver and a watchtower, then two jobs posted from the CLI:
#   1. the digits job, trained honestly: watched, finalized, the model fetched
#      and its test accuracy printed;
#   2. (the MLP only) a fine-tuning job, examples/digits-mlp-finetune.toml,
#      that continues job 1's model: its S_0 is that model, by its root;
#   3. the job of 1 taken by a cheating solver (one flipped bit of one weight
#      after step 250): the watchtower catches it, the dispute narrows down to
#      one fp32 operation that the chain executes, the solver is slashed and
#      the submitter refunded.
# `scripts/demo.sh --cnn` runs jobs 1 and 3 with the convolutional net of
# examples/digits-cnn.toml instead of the MLP.
# The explorer (`vtrain explorer`) follows it all in a browser: its URL is
# printed once the devnet is up. Run from a terminal, the demo waits for
# Enter at the end so that the explorer can be browsed; otherwise (a script,
# CI) it exits. Everything runs in a temporary folder; every process is
# stopped at the end.
set -Eeuo pipefail

spec=examples/digits-mlp.toml
finetune=examples/digits-mlp-finetune.toml
model="the digits MLP (64-128-10"
case "${1:-}" in
  "") ;;
  --cnn)
    spec=examples/digits-cnn.toml
    finetune=
    model="the digits CNN (conv 3×3×16, max-pool, conv 3×3×32, linear"
    ;;
  *) echo "usage: $0 [--cnn]" >&2; exit 2 ;;
esac

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
trap 'echo "demo: FAILED (see the message above; logs in ${work:-?})" >&2' ERR

scripts/setup.sh
echo "==> building vtrain (release)" >&2
# With the `faults` feature: the demo's cheating solver needs its `--fault`
# (an operator's build leaves it out; docs/agents.md).
cargo build --release --locked --quiet -p vtrain-deploy -p vtrain-solver -p vtrain-verifier -p vtrain-submitter-cli \
  --features vtrain-solver/faults,vtrain-verifier/faults
bin="$root/target/release"

work=$(mktemp -d "${TMPDIR:-/tmp}/vtrain-demo.XXXXXX")
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

port=${VTRAIN_DEVNET_PORT:-8545}
solver_port=${VTRAIN_DEMO_SOLVER_PORT:-7070}
verifier_port=${VTRAIN_DEMO_VERIFIER_PORT:-7071}
explorer_port=${VTRAIN_DEMO_EXPLORER_PORT:-8600}
export VTRAIN_RPC_URL="http://127.0.0.1:$port"
export VTRAIN_DEPLOYMENTS_DIR="$work/deployments"
export NO_COLOR=1
# anvil's well-known dev accounts: 1 submits, 2 solves honestly, 3 watches, 4 cheats.
key1=0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d
key2=0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a
key3=0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6
key4=0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a

say() { printf '\n\033[1m%s\033[0m\n' "$*"; }
vtrain() { VTRAIN_PRIVATE_KEY=$key1 VTRAIN_STORE="$work/submitter-store" "$bin/vtrain" "$@"; }

say "==> devnet: anvil on :$port (a block per transaction, and one per second), every contract deployed"
"$bin/vtrain-deploy" devnet --port "$port" --block-time 1 >"$work/devnet.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -f "$work/deployments/31337.json" ] && break; sleep 0.2; done
[ -f "$work/deployments/31337.json" ] || { cat "$work/devnet.log" >&2; exit 1; }
cat "$work/devnet.log"

"$bin/vtrain" explorer --listen "127.0.0.1:$explorer_port" --poll-ms 500 >"$work/explorer.log" 2>&1 &
pids+=($!)
say "==> the explorer: open http://127.0.0.1:$explorer_port/ to follow the jobs and the dispute live"

start_solver() { # name key port [flags…]
  local name=$1 key=$2 listen=$3; shift 3
  VTRAIN_PRIVATE_KEY=$key "$bin/vtrain-solver" run --datadir "$work/$name" --store "$work/$name-store" \
    --listen "127.0.0.1:$listen" --poll-ms 250 "$@" >"$work/$name.log" 2>&1 &
  pids+=($!)
}
say "==> a solver (account 2) and a watchtower (account 3, full replay)"
start_solver solver "$key2" "$solver_port"
solver_pid=${pids[-1]}
VTRAIN_PRIVATE_KEY=$key3 "$bin/vtrain-verifier" run --datadir "$work/verifier" --store "$work/verifier-store" \
  --listen "127.0.0.1:$verifier_port" --poll-ms 250 >"$work/verifier.log" 2>&1 &
pids+=($!)
sleep 1

# ---------------------------------------------------------------- job 1
say "==> job 1: $model, 800 steps, checkpoints every 100), 1 ETH reward"
t0=$(date +%s.%N)
vtrain job post --spec "$spec" --data bundled:digits --challenge-window 15s
vtrain job watch 1 --poll-ms 500
vtrain job fetch 1 --out "$work/model-1.safetensors" --loss-png "$work/loss-1.png"
t1=$(date +%s.%N)
say "Story of job 1"
echo "  The solver claimed the job with a 0.5 ETH bond, trained it and committed 9 checkpoint roots."
"$bin/vtrain-verifier" status --datadir "$work/verifier" | sed -n 's/^job *1 /  The watchtower: job 1 /p'
echo "  The challenge window closed with no dispute: the solver was paid 1 ETH and got its bond back."
echo "  The model above matches the modelRoot on chain, byte for byte."
awk -v a="$t0" -v b="$t1" 'BEGIN { printf "  Wall time, post to fetched model: %.1f s\n", b - a }'

# ---------------------------------------------------------------- fine-tuning
cheat=2
if [ -n "$finetune" ]; then
  cheat=3
  say "==> job 2: fine-tuning job 1's model ($finetune: 200 more steps at lr 0.01; init.root is job 1's modelRoot)"
  t4=$(date +%s.%N)
  vtrain job post --spec "$finetune" --data bundled:digits --challenge-window 15s
  vtrain job watch 2 --poll-ms 500
  vtrain job fetch 2 --out "$work/model-2.safetensors"
  t5=$(date +%s.%N)
  say "Story of job 2"
  echo "  The CLI found job 1's model where its solver announced it, checked it against init.root and"
  echo "  announced it again. The solver and the watchtower fetched and checked it the same way; S_0 is"
  echo "  that model with zero momentum, and the chain binds S_0's weights to init.root in any dispute."
  awk -v a="$t4" -v b="$t5" 'BEGIN { printf "  Wall time, post to fetched model: %.1f s\n", b - a }'
fi

# ---------------------------------------------------------------- the cheater
say "==> job $cheat: the job of 1 again, now only a cheating solver is online (account 4: flips one bit of one weight after step 250)"
kill "$solver_pid"
start_solver cheater "$key4" "$((solver_port + 2))" --fault flip-ulp@250
sleep 1
t2=$(date +%s.%N)
vtrain job post --spec "$spec" --data bundled:digits --challenge-window 30s
status=0
vtrain job watch "$cheat" --poll-ms 300 || status=$?
t3=$(date +%s.%N)
[ "$status" -eq 8 ] || { echo "demo: expected job $cheat to be slashed (exit 8), got $status" >&2; exit 1; }
vtrain job withdraw
say "Story of job $cheat"
grep -o 'MISMATCH.*checkpoint=[0-9]*' "$work/verifier.log" | head -1 | sed 's/^/  The watchtower replayed the trace: /'
vtrain job status "$cheat" | sed 's/^/  /'
echo "  The game, move by move (each a transaction, with its gas):"
grep -h 'moved game' "$work/cheater.log" "$work/verifier.log" | sort \
  | sed -E 's/.*Z +INFO ([a-z:]+): moved game=[0-9]+ phase=([0-9]+) move="([A-Za-z]+)" gas=([0-9]+)/\1 \3 \4/' \
  | awk '{ n++; g += $3; printf "    %2d. %-16s %-18s %7d gas\n", n, ($1 ~ /solver/ ? "cheating solver" : "watchtower"), $2, $3 }
         END { printf "    %d moves, %d gas in all\n", n, g }'
echo "  The chain executed the one disputed fp32 operation itself: the solver's claim was refuted,"
echo "  and the watchtower got its 0.1 ETH bond back at once. When the 30 s window closed, the job"
echo "  was slashed: the solver lost its 0.5 ETH bond, half burned, half shared by the games that"
echo "  refuted it (here the watchtower's alone: 0.25 ETH); the submitter withdrew the whole 1 ETH"
echo "  escrow (above)."
awk -v a="$t2" -v b="$t3" 'BEGIN { printf "  Wall time, post to slashed: %.1f s\n", b - a }'

say "demo: done. Logs and artifacts: $work"
if [ -t 0 ]; then
  read -r -p "The explorer is still up at http://127.0.0.1:$explorer_port/ (job $cheat's game: #/games/1). Press Enter to stop everything. " _ || true
fi
