#!/usr/bin/env bash
# Linear SVM and random forest: rumor against scikit-learn (Debian's
# python3-sklearn) on the same Fashion-MNIST split (60,000 / 10,000, pixels
# scaled to [0, 1]), in one run of this script.
#
#   bench/svm_forest_vs_sklearn.sh [REPEATS]     (default 3)
#
# Each side runs REPEATS times; the table shows medians of test accuracy and
# seconds, and rumor's seconds as a fraction of scikit-learn's:
#   sklearn LinearSVC(C=1, dual=False)           fit time (the primal solver, liblinear -s 2:
#                                                3.4x faster than the default dual one here,
#                                                same accuracy; SKLEARN_SVM_DUAL=1 for that one)
#   rumor svm, one peer                          rumor train --model svm:784-10: train_seconds
#   rumor svm, 8 simulated peers                 rumor sim examples/scenarios/svm-8.ini:
#                                                wall seconds of the whole run (all 8 peers'
#                                                training, one core, plus the evaluations)
#   sklearn RandomForestClassifier(n_estimators=100, max_depth=20, n_jobs=2)   fit time
#   rumor forest, one peer, 2 threads            rumor train --model forest:trees=100,depth=20
#                                                --threads 2: train_seconds (binning + growing)
#   rumor forest, 8 simulated peers              rumor sim examples/scenarios/forest-8.ini
#                                                (bootstrap=0, 100 features per split)
#   sklearn, the same forest on 8 iid shards     each shard grows its 12 or 13 trees
#                                                (bootstrap=False, max_features=100) on its
#                                                own rows, n_jobs=2; the union votes: the
#                                                ceiling of trees grown on 7,500 rows
# A row whose rumor side does not exist yet says "not available".
# Data loading is outside every timed figure, on both sides.
# Needs: scripts/deps.sh --bench, and a Release build (RUMOR=path/to/rumor,
# default build/rumor).
set -euo pipefail
cd "$(dirname "$0")/.."
repeats=${1:-3}
rumor=${RUMOR:-build/rumor}
py=/usr/bin/python3 # Debian's, with python3-sklearn; not a pyenv python3
[[ -x $rumor ]] || { echo "build first: scripts/build.sh release (or set RUMOR=)" >&2; exit 1; }
$py -c "import sklearn" 2>/dev/null || { echo "needs python3-sklearn: scripts/deps.sh --bench" >&2; exit 1; }

jget() { $py -c "import json,sys; print(json.loads(sys.stdin.read().strip().splitlines()[-1])['$1'])"; }
median() { $py -c "import statistics,sys; print(statistics.median(float(v) for v in sys.argv[1:]))" "$@"; }

# run NAME ACC_KEY SECONDS_KEY COMMAND...: runs COMMAND $repeats times and
# sets acc[NAME], sec[NAME] to the medians; "" when the command fails.
declare -A acc sec
run() {
  local name=$1 akey=$2 skey=$3; shift 3
  local as=() ss=() out
  for ((r = 1; r <= repeats; r++)); do
    if ! out=$("$@" 2>/tmp/svm_forest_bench.err); then
      echo "  $name: failed: $(tail -1 /tmp/svm_forest_bench.err)" >&2
      acc[$name]=""; sec[$name]=""; return
    fi
    as+=("$(jget "$akey" <<<"$out")"); ss+=("$(jget "$skey" <<<"$out")")
    echo "  $name run $r: accuracy ${as[-1]}, ${ss[-1]} s" >&2
  done
  acc[$name]=$(median "${as[@]}"); sec[$name]=$(median "${ss[@]}")
}

echo "taking $repeats runs of each (medians below); machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
run sk_svm test_accuracy fit_seconds $py bench/sklearn_svm_forest.py linearsvc \
    ${SKLEARN_SVM_DUAL:+--dual}
run rm_svm test_accuracy train_seconds $rumor train --model svm:784-10 --threads 1 --json --quiet
run rm_svm8 mean_test_accuracy wall_seconds $rumor sim examples/scenarios/svm-8.ini --json --quiet
run sk_rf test_accuracy fit_seconds $py bench/sklearn_svm_forest.py forest
if [[ -f models/forest.h ]] && $rumor train --help | grep -q 'forest:'; then
  run rm_rf test_accuracy train_seconds $rumor train --model forest:trees=100,depth=20 \
      --threads 2 --json --quiet
else
  acc[rm_rf]=""; sec[rm_rf]=""
fi
if [[ -f examples/scenarios/forest-8.ini ]]; then
  run rm_rf8 mean_test_accuracy wall_seconds $rumor sim examples/scenarios/forest-8.ini --json --quiet
else
  acc[rm_rf8]=""; sec[rm_rf8]=""
fi

run sk_rf8 test_accuracy fit_seconds $py bench/sklearn_svm_forest.py forest --shards 8 \
    --no-bootstrap --features 100

row() { # row LABEL NAME BASELINE
  local label=$1 name=$2 base=$3
  if [[ -z ${acc[$name]} ]]; then
    printf '%-52s %10s\n' "$label" "not available"
  elif [[ $name == "$base" ]]; then
    printf '%-52s %9.2f%% %9.2f s\n' "$label" "$($py -c "print(100*${acc[$name]})")" "${sec[$name]}"
  else
    printf '%-52s %9.2f%% %9.2f s %8.3f (1/%.1f)\n' "$label" "$($py -c "print(100*${acc[$name]})")" \
      "${sec[$name]}" "$($py -c "print(${sec[$name]}/${sec[$base]})")" \
      "$($py -c "print(${sec[$base]}/${sec[$name]})")"
  fi
}
printf '\n%-52s %10s %11s %8s\n' "" accuracy seconds "x sklearn"
row "sklearn LinearSVC(C=1, dual=${SKLEARN_SVM_DUAL:+True}${SKLEARN_SVM_DUAL:-False}), fit" sk_svm sk_svm
row "rumor svm:784-10, one peer (train_seconds)" rm_svm sk_svm
row "rumor svm-8.ini, 8 simulated peers (wall)" rm_svm8 sk_svm
row "sklearn RandomForest(100, depth 20, n_jobs=2), fit" sk_rf sk_rf
row "rumor forest:trees=100,depth=20, 1 peer, 2 threads" rm_rf sk_rf
row "rumor forest-8.ini, 8 simulated peers (wall)" rm_rf8 sk_rf
row "sklearn, same forest-8 trees on 8 iid shards, fit" sk_rf8 sk_rf
