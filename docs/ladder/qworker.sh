#!/usr/bin/env bash
# One worker of the ladder's job queue (docs/ladder.md, addenda): takes the jobs of jobs.txt in order, each once
# (a job is claimed by creating claims/ID), runs it with the registration commit's code, and after every job copies
# the run records (not the checkpoints or predictions) to the archive folder; start and end of every job, with its
# wall seconds, and the machine each worker runs on go to the archive's queue.log.
# usage: qworker.sh NAME   (environment: LADDER_DIR, the experiment folder; LADDER_ARCHIVE, where records go)
set -u
NAME="$1"
HERE="$(cd "$(dirname "$0")" && pwd)"
EXP="${LADDER_DIR:-/tmp/ladder}"
ARCHIVE="${LADDER_ARCHIVE:-$HERE/runs}"
mkdir -p "$EXP/claims" "$EXP/done" "$EXP/logs" "$ARCHIVE"
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 CMEDL_BENCH_CACHE="$EXP/cache"
# which machine: runs of one seed on different processors can differ (docs/ladder.md, addenda)
echo "$(date -u +%FT%TZ) $NAME worker on $(hostname): $(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | xargs)," \
    "torch CPU kernels $("$EXP/venv/bin/python" -c 'import torch; print(torch.backends.cpu.get_cpu_capability())')" \
    >> "$ARCHIVE/queue.log"
while IFS='|' read -r id options seed; do
    case "$id" in ''|'#'*) continue ;; esac
    [ -e "$EXP/done/$id" ] && continue
    mkdir "$EXP/claims/$id" 2>/dev/null || continue
    echo "$(date -u +%FT%TZ) $NAME start $id" >> "$ARCHIVE/queue.log"
    start=$(date +%s)
    # shellcheck disable=SC2086  # the row's options are words
    "$EXP/venv/bin/cmedl-bench" run $options --segmenter unet --seed "$seed" --preset cpu --epochs 24 --patience 24 \
        --foreground 1.0 --results "$EXP/results" --quiet >> "$EXP/logs/$id.log" 2>&1
    rc=$?
    echo "$(date -u +%FT%TZ) $NAME end $id rc=$rc wall_s=$(( $(date +%s) - start ))" >> "$ARCHIVE/queue.log"
    [ $rc -eq 0 ] && touch "$EXP/done/$id"
    (cd "$EXP/results" && find . -type f ! -name '*.pt' ! -name '.lock' ! -path '*/predictions/*' \
        -exec cp --parents -u {} "$ARCHIVE/" \;)
done < "$HERE/jobs.txt"
echo "$(date -u +%FT%TZ) $NAME queue empty" >> "$ARCHIVE/queue.log"
