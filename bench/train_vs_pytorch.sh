#!/usr/bin/env bash
# Single-peer training speed: rumor against PyTorch (Debian's python3-torch)
# on the same recipe, data, batch and threads, in one run of this script.
#
#   bench/train_vs_pytorch.sh [EPOCHS]      (default 2; the recipe is Keras':
#                                            mlp:784-128-10, dropout 0.2,
#                                            Adam 1e-3, batch 32)
# Prints, for 1 and 2 threads, both sides' samples/s and the ratio; PyTorch's
# figure at t threads is its best over every setting that uses at most t. Then
# rumor's achieved GFLOP/s against cblas_sgemm alone on the same shapes
# (bench_sgemm), and the peak RSS of the rumor run.
# Needs: scripts/deps.sh --bench, and a Release build in build/.
set -euo pipefail
cd "$(dirname "$0")/.."
epochs=${1:-2}
rumor=build/rumor
[[ -x $rumor && -x build/bench/bench_sgemm ]] || { echo "build first: scripts/build.sh release" >&2; exit 1; }
py=/usr/bin/python3
recipe=(--model mlp:784-128-10 --dropout 0.2 --opt adam --lr 0.001 --batch 32 --schedule none)
jget() { $py -c "import json,sys; print(json.loads(sys.stdin.read().strip().splitlines()[-1])['$1'])"; }

declare -A rumor_sps torch_sps
for t in 1 2; do
  out=$($rumor train "${recipe[@]}" --epochs "$epochs" --threads $t --seed 1 --json --quiet)
  rumor_sps[$t]=$(jget samples_per_second <<<"$out")
  echo "  rumor threads=$t: ${rumor_sps[$t]} samples/s" >&2
  [[ $t == 1 ]] && { rss=$(jget peak_rss_mb <<<"$out"); acc=$(jget test_accuracy <<<"$out"); }
  core=$(jget blas_core <<<"$out")
  best=0
  # PyTorch's best setting within t threads: intra-op threads 1..t, its
  # OpenBLAS pool 1..t threads, and OpenBLAS' default kernels or the set
  # rumor chose (PyTorch's Linear layers call the same OpenBLAS).
  for intra in $(seq 1 $t); do
    for blas in $(seq 1 $t); do
      for ct in "" "$core"; do
        tout=$(env OMP_NUM_THREADS=$intra OPENBLAS_NUM_THREADS=$blas ${ct:+OPENBLAS_CORETYPE=$ct} \
               $py bench/torch_mlp.py --epochs "$epochs" --threads $intra --interop 1)
        s=$(jget samples_per_second <<<"$tout")
        echo "  torch intra=$intra openblas_threads=$blas kernels=${ct:-default}: ${s%.*} samples/s" >&2
        best=$($py -c "print(max($best, $s))")
      done
    done
  done
  torch_sps[$t]=$best
done

printf '\n%-8s %14s %14s %8s\n' threads "rumor samp/s" "torch samp/s" ratio
for t in 1 2; do
  printf '%-8s %14.0f %14.0f %7.2fx\n' $t "${rumor_sps[$t]}" "${torch_sps[$t]}" \
    "$($py -c "print(${rumor_sps[$t]} / ${torch_sps[$t]})")"
done

# FLOPs per sample of one training step: forward 2*IN*OUT per layer, backward
# 2*IN*OUT for dw and (not for the first layer) 2*IN*OUT for din.
fps=$($py -c "d=[784,128,10]; print(sum(2*d[i]*d[i+1]*(3 if i else 2) for i in range(len(d)-1)))")
peak=$(env ${core:+OPENBLAS_CORETYPE=$core} build/bench/bench_sgemm mlp:784-128-10 32 1 2 | jget gflops)
achieved=$($py -c "print(${rumor_sps[1]} * $fps / 1e9)")
printf '\n1 thread: rumor %.1f GFLOP/s, cblas_sgemm alone on the same shapes %.1f GFLOP/s: %.0f%% of the BLAS ceiling\n' \
  "$achieved" "$peak" "$($py -c "print(100 * $achieved / $peak)")"
printf 'peak RSS of rumor train (1 thread): %.1f MB; test accuracy after %s epochs: %.4f\n' "$rss" "$epochs" "$acc"
