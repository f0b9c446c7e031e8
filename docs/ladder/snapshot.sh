#!/usr/bin/env bash
# Commit the ladder's run records (docs/ladder/runs) to the repository as soon as a worker has copied them there, so
# that a replaced machine loses at most the minute before it went (docs/ladder.md, addenda). Polls once a minute;
# commits only that folder and leaves the rest of the working tree as it is.
# usage: snapshot.sh REPO
set -u
REPO="$1"
while true; do
    sleep 60
    cd "$REPO" || continue
    [ -e .git/index.lock ] && continue  # someone else is committing: try again next minute
    if [ -n "$(git status --porcelain -- docs/ladder/runs)" ]; then
        git add docs/ladder/runs &&
            git commit -q -m "docs/ladder/runs: the ladder's run records as of $(date -u +%FT%H:%MZ)" -- docs/ladder/runs
    fi
done
