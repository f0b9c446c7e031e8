#!/usr/bin/env bash
# Start (or, after any interruption, resume) the ladder: two queue workers, the second a minute after the first.
# Finished jobs are skipped (done/ID); an interrupted run resumes from its last finished epoch.
set -u
HERE="$(cd "$(dirname "$0")" && pwd)"
EXP="${LADDER_DIR:-/tmp/ladder}"
rm -rf "$EXP/claims"  # claims of workers that are gone
bash "$HERE/qworker.sh" A &
sleep 60
bash "$HERE/qworker.sh" B &
wait
