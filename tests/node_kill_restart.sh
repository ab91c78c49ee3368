#!/usr/bin/env bash
# Faults on real processes, loopback only: four `rumor node` processes train
# and gossip; one is killed with SIGKILL mid-training and started again 5 s
# later (more than the others need to give up on it). Checks that
#   - the others never stall: their status lines (every 100 ms, one gossip
#     interval) keep coming, at most two intervals apart, with the step
#     count rising, through the kill and the restart;
#   (and it reports when each of the others dropped node 3 from its view
#   while it was down: informational, failure detection takes 2-5 s here);
#   - the restarted peer is back in every other peer's view within ten
#     gossip intervals (1 s) of its restart.
# usage: node_kill_restart.sh RUMOR TMPDIR
set -euo pipefail
rumor=$1
dir=$2/kill-restart-$$
rm -rf "$dir"; mkdir -p "$dir"
trap 'kill -9 $(jobs -p) 2>/dev/null || true' EXIT
base=$(( 30000 + $$ % 20000 ))

# Three well-separated blobs; each node trains on a quarter.
awk 'BEGIN { for (i = 0; i < 2000; i++) { k = i % 3;
       printf "%d,%.3f,%.3f\n", k, k * 3 + (i % 7) * 0.1, -k * 2 + (i % 5) * 0.1 } }' > "$dir/blobs.csv"
for i in 0 1 2 3; do
  "$rumor" keygen --out "$dir/k$i.key" 2>/dev/null > "$dir/k$i.pub"
done
cat "$dir"/k?.pub > "$dir/allow.list"

start() { # start I SECONDS: node I in the background, logging to n$I.log
  local i=$1 secs=$2 s=$(( ($1 + 1) % 4 ))
  "$rumor" node --listen 127.0.0.1:$(( base + i )) --key "$dir/k$i.key" \
    --allow "$dir/allow.list" --seed-peer "$(cat "$dir/k$s.pub")@127.0.0.1:$(( base + s ))" \
    --data "$dir/blobs.csv" --model mlp:2-16-3 --shard "$i/4" --batch 16 --lr 0.01 \
    --interval 100 --status 100 --max-seconds "$secs" --linger 0 --seed 3 \
    >> "$dir/n$i.log" 2>&1 &
}
now() { date +%s.%N; }

t0=$(now)
for i in 0 1 2 3; do start $i 11; done
sleep 2.5
kill -9 $(jobs -p | sed -n 4p)          # node 3, mid-training
t_kill=$(now)
sleep 5
t_restart=$(now)
start 3 3
wait || true

awk -v t0="$t0" -v tk="$t_kill" -v tr="$t_restart" '
  function fail(msg) { print "FAIL: " msg; bad = 1 }
  FNR == 1 { if (NR > 1) check(); file = FILENAME; prev_t = -1; prev_step = -1; back = 0;
             gap = 0; lines = 0; dropped = 0 }
  /^t=/ { t = substr($1, 3) + 0; step = $3 + 0; view = $9 + 0; lines++
          if (prev_t >= 0 && t - prev_t > gap) gap = t - prev_t
          if (prev_step >= 0 && step < prev_step) fail(file ": step went back")
          if (t0 + t > tk && t0 + t < tr && view < 3 && !dropped) dropped = t0 + t - tk
          if (file !~ /n3.log$/ && !back && t0 + t >= tr && view == 3) back = t0 + t - tr
          prev_t = t; prev_step = step }
  function check() {
    if (file ~ /n3.log$/) return
    if (lines < 50) fail(file ": only " lines " status lines")
    if (gap > 0.3) fail(file ": status lines " gap " s apart: the loop stalled for more than two intervals")
    if (dropped) noticed++
    if (!back) fail(file ": the restarted peer never came back into the view")
    else if (back > 1.0) fail(file ": the restarted peer took " back " s to come back")
    else printf "%s: no stall (largest gap %.2f s); peer 3 %s, back in view %.2f s after its restart\n", file, gap, dropped ? sprintf("out of the view %.2f s after the kill", dropped) : "suspected, kept", back
  }
  END { check(); printf "node 3 left %d of 3 views while it was down\n", noticed; exit bad }' "$dir"/n0.log "$dir"/n1.log "$dir"/n2.log
grep -h "closed\|refused" "$dir"/n0.log | head -3 || true
rm -rf "$dir"
