# Rescaling, in the manner of Flink's RescalingITCase: the URL count runs on a file that grows in three
# parts — part 1 at --parallelism 2, part 2 in two branches (one at 1, one at 3, each from its own copy of
# the state dir), part 3 at 2 again in both branches. Every URL's sequence of counts, in order, must equal
# the one of a run at parallelism 1 over the whole input, and every record must be in the output exactly
# once. A key whose state were left in (or restored to) the wrong subtask would restart at 1 there, so a
# correct continuation at 2 after 3 (and after 1) is the check that state moves with its key group.
# Then a job with operator state (even_split counters, a union list) goes through kills and restarts at
# 2 -> 3 -> 1 -> 2: the counters' total must equal the records read, and the union list must not grow.
source "$(dirname "$0")/lib.bash"

job="$SCRIPTS/url_count.lua"
gen_access 30000 21 700 > "$WORK/all.log"

run_sluice run "$job" --input "$WORK/all.log" --state-dir "$WORK/ref" --output "$WORK/ref.out" --quiet
[ "$(wc -l < "$WORK/ref.out")" -eq 30000 ] || fail "reference run incomplete"

# rescale_round MAXP: the three parts through both branches, with --max-parallelism MAXP.
rescale_round() {
  local maxp=$1 d="$WORK/m$1"
  mkdir -p "$d"
  head -n 9000 "$WORK/all.log" > "$d/in.log"
  run_sluice run "$job" --input "$d/in.log" --state-dir "$d/st" --output "$d/a.out" --parallelism 2 \
    --max-parallelism "$maxp" --quiet || fail "run at 2 on part 1 failed"
  [ "$(wc -l < "$d/a.out")" -eq 9000 ] || fail "run at 2 on part 1 emitted $(wc -l < "$d/a.out") records"
  # Branch B: a copy of the state dir (and of the output so far; it writes to stdout from here on).
  cp -a "$d/st" "$d/stb"
  cp "$d/a.out" "$d/b.out"

  sed -n '9001,20000p' "$WORK/all.log" >> "$d/in.log"
  run_sluice run "$job" --input "$d/in.log" --state-dir "$d/st" --output "$d/a.out" --parallelism 1 \
    --max-parallelism "$maxp" --quiet || fail "branch A: run at 1 on part 2 failed"
  run_sluice run "$job" --input "$d/in.log" --state-dir "$d/stb" --parallelism 3 \
    --max-parallelism "$maxp" --quiet >> "$d/b.out" || fail "branch B: run at 3 on part 2 failed"
  head -n 20000 "$WORK/ref.out" > "$d/ref2.out"
  expect_keys "$d/ref2.out" "$d/a.out" "max-parallelism $maxp, 2 -> 1: per-URL counts differ from the parallelism-1 run"
  expect_keys "$d/ref2.out" "$d/b.out" "max-parallelism $maxp, 2 -> 3: per-URL counts differ from the parallelism-1 run"

  tail -n +20001 "$WORK/all.log" >> "$d/in.log"
  run_sluice run "$job" --input "$d/in.log" --state-dir "$d/st" --output "$d/a.out" --parallelism 2 \
    --max-parallelism "$maxp" --quiet || fail "branch A: run at 2 on part 3 failed"
  run_sluice run "$job" --input "$d/in.log" --state-dir "$d/stb" --parallelism 2 \
    --max-parallelism "$maxp" --quiet >> "$d/b.out" || fail "branch B: run at 2 on part 3 failed"
  expect_keys "$WORK/ref.out" "$d/a.out" "max-parallelism $maxp, 2 -> 1 -> 2: per-URL counts differ from the parallelism-1 run"
  expect_keys "$WORK/ref.out" "$d/b.out" "max-parallelism $maxp, 2 -> 3 -> 2: per-URL counts differ from the parallelism-1 run"
  grep -q "parallelism 2" "$(ls -d "$d"/st/checkpoints/chk-* | tail -n 1)/_metadata" ||
    fail "the last checkpoint's _metadata does not say parallelism 2"
  echo "ok: rescaling with --max-parallelism $maxp (2 -> 1 -> 2 and 2 -> 3 -> 2)"
}
rescale_round 128
# Key groups that do not divide evenly among the subtasks (7 over 2 and 3).
rescale_round 7

# Operator state across kills and restarts at 2 -> 3 -> 1 -> 2 -> ...
op="$WORK/op_state_rescale.lua"
cat > "$op" <<'EOF'
-- Each instance counts the records it processed in an even_split list (restored: the sum of what it got),
-- and keeps a union list of tags: on a start with nothing restored, each instance adds one tag of its own
-- (the address of a table, unique in the process), and afterwards it only writes back what it restored.
local sluice = require "sluice"
local count, tags = 0, {}
return sluice.job "op-rescale"
  :key_by "url"
  :process("ops", {
    operator_state = {
      seen = sluice.state.operator_list { mode = "even_split" },
      tags = sluice.state.operator_list { mode = "union" },
    },
    initialize = function(ctx, restored)
      count = 0
      for _, n in ipairs(restored.seen) do count = count + n end
      tags = { unpack(restored.tags) }
      if #tags == 0 then tags[1] = tostring({}):gsub("table: ", "t") end
    end,
    snapshot = function(ctx)
      ctx.operator_state.seen:update({ count })
      ctx.operator_state.tags:update(tags)
    end,
    process = function(ctx, rec)
      count = count + 1
      local sorted = { unpack(tags) }
      table.sort(sorted)
      ctx:emit({ url = rec.url, u = #tags, tags = table.concat(sorted, ",") }, { "url", "u", "tags" })
    end,
  })
EOF
# Each cycle appends 6000 records to the input, which a run at the cycle's parallelism follows; once it
# committed all of them (output and state go together), it is stopped: SIGKILL, or SIGTERM every third.
gen_access 42000 22 300 > "$WORK/op.all"
: > "$WORK/op.log"
pars=(2 3 1 2 3 1 2)
kills=0 stops=0 start=$SECONDS
for i in "${!pars[@]}"; do
  [ $((SECONDS - start)) -lt 150 ] || fail "operator-state cycles took too long"
  p=${pars[$i]}
  sed -n "$((i * 6000 + 1)),$((i * 6000 + 6000))p" "$WORK/op.all" >> "$WORK/op.log"
  "$SLUICE" run "$op" --input "$WORK/op.log" --follow --state-dir "$WORK/opst" --output "$WORK/op.out" \
    --parallelism "$p" --checkpoint-interval 20 --quiet 2>> "$WORK/op.err" &
  pid=$!
  for _ in $(seq 1200); do
    lines_ge "$WORK/op.out" $((i * 6000 + 6000)) && break
    kill -0 "$pid" 2>/dev/null || fail "operator-state run at $p ended: $(tail -3 "$WORK/op.err")"
    sleep 0.025
  done
  lines_ge "$WORK/op.out" $((i * 6000 + 6000)) || fail "run at $p did not commit its 6000 records in 30 s"
  sleep "0.0$((RANDOM % 5))"
  if [ $((i % 3)) = 2 ]; then
    kill -TERM "$pid"; wait "$pid" || fail "SIGTERM stop at $p exited non-zero"
    stops=$((stops + 1))
  else
    kill -9 "$pid"; wait "$pid" 2>/dev/null || true
    kills=$((kills + 1))
  fi
  [ "$p" = 1 ] || grep -q "^parallelism $p$" "$(ls "$WORK"/opst/checkpoints/chk-*/_metadata | tail -n 1)" ||
    fail "the run at $p left no checkpoint of its own"
done
echo "operator state: parallelism ${pars[*]}, $kills kills, $stops stops"
[ "$(wc -l < "$WORK/op.out")" -eq 42000 ] || fail "operator-state job emitted $(wc -l < "$WORK/op.out") records, not 42000"
# Two more restarts, at 3 and at 1, with one new record each (on stdout).
head -n 1 "$WORK/op.log" > "$WORK/probe1.log"
run_sluice run "$op" --input "$WORK/probe1.log" --state-dir "$WORK/opst" --parallelism 3 --quiet > "$WORK/probe1.out"
# The total: at parallelism 1 the one instance gets every counter; one record more shows the sum.
cnt="$WORK/op_count.lua"
sed -e 's/u = #tags, tags = table.concat(sorted, ",")/u = #tags, n = count/' \
  -e 's/{ "url", "u", "tags" }/{ "u", "n" }/' "$op" > "$cnt"
grep -q 'n = count' "$cnt" || fail "could not derive the counting job"
head -n 2 "$WORK/op.log" | tail -n 1 > "$WORK/probe2.log"
run_sluice run "$cnt" --input "$WORK/probe2.log" --state-dir "$WORK/opst" --parallelism 1 --quiet > "$WORK/probe2.out"
[ "$(cat "$WORK/probe2.out")" = "$(printf '{"u": %s, "n": 42002}' "$(grep -o '"u": [0-9]*' "$WORK/probe1.out" | cut -d' ' -f2)")" ] ||
  fail "even_split counters do not add up to the 42002 records read: $(cat "$WORK/probe2.out")"

# The union list: the first run's two instances added a tag each; the records of that run saw their own
# instance's one, and every record after it both, once each — the list neither grows nor repeats.
all=$(grep -o '"tags": "[^"]*"' "$WORK/probe1.out" | sed 's/.*"tags": "\(.*\)"/\1/')
[ "$(echo "$all" | tr ',' '\n' | sort -u | wc -l)" -eq 2 ] && grep -q '"u": 2,' "$WORK/probe1.out" ||
  fail "after the restores the union list is not the first run's 2 tags: $(cat "$WORK/probe1.out")"
head -n 6000 "$WORK/op.out" | grep -vq '"u": 1,' && fail "a record of the first run saw more than its own tag"
bad=$(tail -n +6001 "$WORK/op.out" | grep -vF "\"u\": 2, \"tags\": \"$all\"}" | head -n 3 || true)
[ -z "$bad" ] || fail "after a restore the union list is not {$all} once each (it grew across restores?):"$'\n'"$bad"
echo "ok: operator state (even_split total and union list) across rescaling"

# A checkpoint taken before any state was registered (an empty input at parallelism 2) rescales to 3 with
# nothing to move: the restore merges an empty registry (UBSan caught a qsort of NULL there).
: > "$WORK/none.log"
run_sluice run "$job" --input "$WORK/none.log" --state-dir "$WORK/st0" --output "$WORK/none.out" --parallelism 2 \
  --quiet || fail "the run on an empty input failed"
head -n 500 "$WORK/all.log" > "$WORK/few.log"
run_sluice run "$job" --input "$WORK/few.log" --state-dir "$WORK/st0" --output "$WORK/none.out" --parallelism 3 \
  --quiet || fail "rescaling a checkpoint that holds no state failed"
head -n 500 "$WORK/ref.out" > "$WORK/few.ref"
expect_keys "$WORK/few.ref" "$WORK/none.out" "after rescaling a checkpoint without state: per-URL counts differ"
echo "ok: a checkpoint without state rescales"
