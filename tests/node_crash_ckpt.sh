#!/usr/bin/env bash
# Crash recovery on a real process: a training `rumor node` with checkpoints
# every 100 ms (fsync on) is killed with SIGKILL at a random moment, CYCLES
# times (50 by default), so some kills land during a write. After every
# kill:
#   - `rumor ckpt verify` passes (every snapshot in the store decodes and
#     its hash holds);
#   - the newest snapshot's step never goes back;
#   - the restarted node resumes from that newest snapshot, and its step is
#     not far behind the last step the killed process reported: at least at
#     the step it reported one second earlier. (Snapshots are due every
#     100 ms, but one is written at a time: on a loaded machine an fsync can
#     take longer than the interval, and a bound of one interval would fail
#     for the machine's sake, not the code's. On an idle machine the newest
#     snapshot was within 150 ms of the last report in all 50 kills.)
# The newest model is exported (rumor ckpt export) and scored by rumor eval.
# Then the newest snapshot's bytes are flipped inside the store's data file:
# the node warns, falls back to the snapshot before, and verify reports it.
# Last, a data.mdb of garbage: the node refuses to start, naming the file,
# unless --discard-corrupt.
# usage: node_crash_ckpt.sh RUMOR TMPDIR [CYCLES]
set -euo pipefail
rumor=$1
dir=$2/crash-ckpt-$$
cycles=${3:-50}
rm -rf "$dir"; mkdir -p "$dir"
trap 'kill -9 $(jobs -p) 2>/dev/null || true' EXIT
port=$(( 30000 + $$ % 20000 ))

awk 'BEGIN { for (i = 0; i < 3000; i++) { k = i % 3;
       printf "%d,%.3f,%.3f\n", k, k * 3 + (i % 7) * 0.1, -k * 2 + (i % 5) * 0.1 } }' > "$dir/blobs.csv"
"$rumor" keygen --out "$dir/k.key" 2>/dev/null > "$dir/allow.list"
args=(node --listen 127.0.0.1:$port --key "$dir/k.key" --allow "$dir/allow.list"
  --data "$dir/blobs.csv" --model mlp:2-64-64-3 --batch 64 --lr 0.01 --seed 3
  --interval 20 --status 50 --max-seconds 60 --linger 0
  --ckpt-dir "$dir/ck" --ckpt-every 0 --ckpt-every-ms 100 --ckpt-sync full)
newest_step() { "$rumor" ckpt ls "$dir/ck" | awk '$1 ~ /^[0-9]+$/ { s = $2 } END { print s + 0 }'; }

fail() { echo "FAIL: $*"; exit 1; }
prev=0
for ((i = 1; i <= cycles; i++)); do
  log="$dir/run$i.log"
  "$rumor" "${args[@]}" > "$log" 2>&1 &
  pid=$!
  sleep "0.$(( 300 + RANDOM % 600 ))"
  kill -9 $pid
  wait $pid 2>/dev/null || true
  "$rumor" ckpt verify "$dir/ck" > "$dir/verify.out" 2>&1 || { cat "$dir/verify.out"; fail "cycle $i: verify"; }
  step=$(newest_step)
  (( step >= prev )) || fail "cycle $i: newest snapshot at step $step, before the kill $prev"
  if (( prev > 0 )); then # (a kill during start-up leaves no snapshot yet)
    resumed=$(sed -n 's/.*resumed from snapshot [0-9]* of .*: step \([0-9]*\),.*/\1/p' "$log")
    [[ -n $resumed ]] || { cat "$log"; fail "cycle $i: did not resume from a snapshot"; }
    (( resumed == prev )) || fail "cycle $i: resumed at step $resumed, newest was $prev"
  fi
  # The last step the process reported, and the step it reported a second
  # earlier: the newest snapshot must be at least that far along.
  read -r last floor < <(awk '/^t=/ { t[n] = substr($1, 3) + 0; s[n++] = $3 + 0 }
      END { if (!n) { print 0, 0; exit } f = 0
            for (k = 0; k < n; k++) if (t[k] <= t[n-1] - 1.0) f = s[k]
            print s[n-1], f }' "$log")
  (( step >= floor )) || fail "cycle $i: last reported step $last, newest snapshot $step, floor $floor"
  prev=$step
done
echo "$cycles kills: every store verified; newest snapshot step rose to $prev"

# The newest model, exported as a model file, is what rumor eval reads.
"$rumor" ckpt export "$dir/ck" --out "$dir/model.rmm" > /dev/null || fail "export"
"$rumor" eval --model "$dir/model.rmm" --data "$dir/blobs.csv" > "$dir/eval.out" 2>&1 ||
  { cat "$dir/eval.out"; fail "rumor eval on the exported model"; }
grep -q "^accuracy" "$dir/eval.out" || { cat "$dir/eval.out"; fail "no accuracy line"; }
echo "exported the newest model; rumor eval: $(grep '^accuracy' "$dir/eval.out")"

# Corrupt the newest snapshot inside data.mdb: the node falls back.
before=$("$rumor" ckpt ls "$dir/ck" | awk '$1 ~ /^[0-9]+$/ { n++; s[n] = $2 } END { print s[n-1] }')
off=$(grep -obUaP 'RMSNAP\x00\x01' "$dir/ck/data.mdb" | cut -d: -f1 | while read -r o; do
        st=$(od -An -t u8 -j $(( o + 24 )) -N 8 "$dir/ck/data.mdb" | tr -d ' ')
        if [[ $st == "$prev" ]]; then echo "$o"; fi; done | tail -n 1)
[[ -n $off ]] || fail "could not find the newest snapshot (step $prev) in data.mdb"
printf '\xff\xff\xff\xff' | dd of="$dir/ck/data.mdb" bs=1 seek=$(( off + 200 )) conv=notrunc 2>/dev/null
if "$rumor" ckpt verify "$dir/ck" > "$dir/verify.out" 2>&1; then
  fail "verify passed on a corrupted snapshot"
fi
"$rumor" "${args[@]}" --max-seconds 0.5 > "$dir/fallback.log" 2>&1 || true
grep -q "failed verification" "$dir/fallback.log" || { cat "$dir/fallback.log"; fail "no warning"; }
resumed=$(sed -n 's/.*resumed from snapshot [0-9]* of .*: step \([0-9]*\),.*/\1/p' "$dir/fallback.log")
[[ $resumed == "$before" ]] || fail "fell back to step '$resumed', want $before"
echo "corrupted newest snapshot (step $prev): warned, fell back to step $before"

# A store that is not an LMDB file at all: the node refuses to start and
# names the file; with --discard-corrupt it starts fresh.
head -c 8192 /dev/urandom > "$dir/ck/data.mdb"
if "$rumor" "${args[@]}" --max-seconds 0.3 > "$dir/corrupt.log" 2>&1; then
  fail "the node started on a corrupt store"
fi
grep -q "data.mdb" "$dir/corrupt.log" || { cat "$dir/corrupt.log"; fail "error does not name data.mdb"; }
grep -q -- "--discard-corrupt" "$dir/corrupt.log" || fail "error does not mention --discard-corrupt"
"$rumor" "${args[@]}" --max-seconds 0.3 --discard-corrupt > "$dir/discard.log" 2>&1 ||
  { cat "$dir/discard.log"; fail "--discard-corrupt did not start"; }
grep -q "starting fresh" "$dir/discard.log" || { cat "$dir/discard.log"; fail "not fresh"; }
"$rumor" ckpt verify "$dir/ck" > /dev/null || fail "the fresh store does not verify"
echo "corrupt store: refused with its name; --discard-corrupt started fresh"
rm -rf "$dir"
