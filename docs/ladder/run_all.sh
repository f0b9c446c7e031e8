#!/usr/bin/env bash
# Start (or, after any interruption, resume) the ladder: two queue workers, the second a minute after the first.
# Finished jobs are skipped (done/ID); an interrupted run resumes from its last finished epoch. On a fresh machine
# (the results folder lost), the archive's finished runs are put back first, so that `run` finds them finished.
set -u
HERE="$(cd "$(dirname "$0")" && pwd)"
EXP="${LADDER_DIR:-/tmp/ladder}"
ARCHIVE="${LADDER_ARCHIVE:-$HERE/runs}"
rm -rf "$EXP/claims"  # claims of workers that are gone
mkdir -p "$EXP/results"
for record in "$ARCHIVE"/*/run.json; do
    [ -e "$record" ] || continue
    run="$(dirname "$record")"
    if [ ! -e "$EXP/results/$(basename "$run")/run.json" ] && grep -q '"status": "finished"' "$record"; then
        cp -r "$run" "$EXP/results/"
    fi
done
bash "$HERE/qworker.sh" A &
sleep 60
bash "$HERE/qworker.sh" B &
wait
