#!/usr/bin/env bash
# How long `snakemake -n` of config.yaml takes, this tree against an older revision, alternating in one run.
#   benchmarks/snakemake_dry_run.sh [REV] [ROUNDS]      (default: 8de87b2, before the catalog; 5 rounds)
# Each tree runs with its own src/ first on PYTHONPATH and a fresh working directory; prints seconds per run.
set -euo pipefail
cd "$(dirname "$0")/.."
rev=${1:-8de87b2}
rounds=${2:-5}
old=$(mktemp -d)
git worktree add -q --detach "$old" "$rev"
trap 'git worktree remove --force "$old"' EXIT
for i in $(seq "$rounds"); do
  for tree in "$old" "$PWD"; do
    work=$(mktemp -d)
    start=$(date +%s.%N)
    (cd "$tree" && PYTHONPATH="$tree/src" "$OLDPWD/.venv/bin/snakemake" -n -d "$work" -s Snakefile --configfile config.yaml >/dev/null)
    end=$(date +%s.%N)
    rm -rf "$work"
    label=$([ "$tree" = "$PWD" ] && echo "this tree" || echo "$rev")
    printf '%-10s %.2f s\n' "$label" "$(echo "$end - $start" | bc)"
  done
done
