#!/usr/bin/env bash
# Recipe ablation (issue 27 item 5): SSTrack (interval sampler + success-aware scheduler + gradient
# scaling) vs the random (OSTrack) sampler on the shipped configuration, equal budget
# (training/configs/vittrack_finetune.yaml: 20 x 8,192 pairs), seeds 0-2, one CPU thread per run.
# Runs one after the other under RUNS (outside git); an interrupted run resumes from its last.pt
# when the script is started again, a finished one is skipped. Then compare, per seed, the final
# epochs on the validation clips through the runtime (benchmarks/RESULTS.md "Recipe ablation"):
#   python -m training.validate training/configs/vittrack_finetune.yaml \
#       RUNS/sstrack_sN/checkpoints/epoch_0020.pt RUNS/random_sN/checkpoints/epoch_0020.pt --starts 5
#   bash benchmarks/recipe_ablation.sh [RUNS]     (inside .venv, torch installed)
set -u
cd "$(dirname "$0")/.."
RUNS=${1:-runs/recipe_ablation}
mkdir -p "$RUNS"
run() {  # name, extra --set arguments
  local name=$1; shift
  local out=$RUNS/$name
  [ -f "$out/done" ] && return
  local resume=()
  [ -f "$out/last.pt" ] && resume=(--resume "$out")
  sstrack-train training/configs/vittrack_finetune.yaml --out "$out" --threads 1 "${resume[@]}" "$@" \
      >> "$out.log" 2>&1 && touch "$out/done"
}
for seed in 0 1 2; do
  run "sstrack_s$seed" --set seed=$seed
  run "random_s$seed" --set schedule.sampler=random --set seed=$seed
done
