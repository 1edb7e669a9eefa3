# Parallel jobs in their other shapes: at-least-once checkpoints at parallelism 2 lose nothing across
# kills; a job without key_by (lag.lua) at 2 over two files gives the records of a run at 1; output on
# stdout at 2 is whole lines; a key function or filters before key_by work at 2; a
# job shape the exchange cannot split is refused with exit 2 and the reason.
source "$(dirname "$0")/lib.bash"

slow="$SLUICE_SRC/tests/e2e/slow_url_count.lua"
by_key() { LC_ALL=C sort -s -t'"' -k4,4 "$1"; }

# 1. At-least-once after kills: every record at least once, and every URL's final count at least right.
gen_access 60000 7 2000 > "$WORK/in.log"
run_sluice run "$slow" --input "$WORK/in.log" --state-dir "$WORK/ref" --output "$WORK/ref.out" --quiet -- 0
kills=0
for i in 1 2 3 4 5; do
  "$SLUICE" run "$slow" --input "$WORK/in.log" --state-dir "$WORK/alo" --output "$WORK/alo.out" \
    --parallelism 2 --checkpoint-mode at-least-once --checkpoint-interval 30 --quiet -- 0.00003 2>> "$WORK/log" &
  pid=$!
  sleep "0.$((2 + RANDOM % 4))"
  if kill -9 "$pid" 2>/dev/null; then kills=$((kills + 1)); fi
  wait "$pid" 2>/dev/null || true
done
run_sluice run "$slow" --input "$WORK/in.log" --state-dir "$WORK/alo" --output "$WORK/alo.out" \
  --parallelism 2 --checkpoint-mode at-least-once --quiet -- 0 2>> "$WORK/log" || fail "at-least-once final run failed"
# Every (url, count) of the reference is in the output (a duplicate repeats one, a loss leaves a gap).
LC_ALL=C sort -u "$WORK/ref.out" > "$WORK/ref.set"
LC_ALL=C sort -u "$WORK/alo.out" > "$WORK/alo.set"
missing=$(LC_ALL=C comm -23 "$WORK/ref.set" "$WORK/alo.set" | head -n 3)
[ -z "$missing" ] || fail "at-least-once lost records after $kills kills:"$'\n'"$missing"
echo "ok: at-least-once at parallelism 2 ($kills kills, $(wc -l < "$WORK/alo.out") records for 60000)"

# 2. No key_by: each subtask processes what it read; the same records as at 1, in some order.
/work/shared/data/gen-records offsets 20000 --seed 3 > "$WORK/off.log" 2>/dev/null ||
  luajit -e 'for i = 1, 20000 do print(("{\"timestamp\":%d,\"offset\":{\"producer\":%d,\"consumer0\":%d}}"):format(i, i * 3, i)) end' > "$WORK/off.log"
head -n 10000 "$WORK/off.log" > "$WORK/off1.log"
tail -n +10001 "$WORK/off.log" > "$WORK/off2.log"
run_sluice run "$SCRIPTS/lag.lua" --input "$WORK/off1.log" --input "$WORK/off2.log" --state-dir "$WORK/l1" \
  --output "$WORK/l1.out" --quiet
run_sluice run "$SCRIPTS/lag.lua" --input "$WORK/off1.log" --input "$WORK/off2.log" --state-dir "$WORK/l2" \
  --output "$WORK/l2.out" --parallelism 2 --quiet
[ "$(wc -l < "$WORK/l1.out")" -eq 20000 ] || fail "lag at 1 emitted $(wc -l < "$WORK/l1.out") records"
LC_ALL=C sort "$WORK/l1.out" > "$WORK/l1.sorted"
LC_ALL=C sort "$WORK/l2.out" > "$WORK/l2.sorted"
expect_same "$WORK/l1.sorted" "$WORK/l2.sorted"
echo "ok: a job without key_by at parallelism 2 over two files"

# 3. stdout at 2: whole lines, every record once (per URL in order).
run_sluice run "$SCRIPTS/url_count.lua" --input "$WORK/in.log" --state-dir "$WORK/so" --parallelism 2 --quiet \
  > "$WORK/so.out"
bad=$(grep -cvE '^\{"url": "[^"]*", "count": [0-9]+\}$' "$WORK/so.out" || true)
[ "$bad" -eq 0 ] || fail "$bad lines on stdout at parallelism 2 are not whole records"
by_key "$WORK/ref.out" > "$WORK/a.sorted"
by_key "$WORK/so.out" > "$WORK/b.sorted"
expect_same "$WORK/a.sorted" "$WORK/b.sorted"
echo "ok: stdout at parallelism 2"

# 4. Keyed shapes the exchange splits: a key function, filters before the key_by — the same per-key
# counts as at 1. Refused shapes (a map before the key_by, two key_bys): exit 2, and the message says why.
shape() { # NAME BODY: a URL count with BODY before its counting process
  printf 'local sluice = require "sluice"\nreturn sluice.job "r"\n%b\n  :process("p", function(ctx, rec)\n    local n = ctx:value("n", 0)\n    n:update(n:value() + 1)\n    ctx:emit({ url = rec.url, count = n:value() }, { "url", "count" })\n  end)\n' "$2" > "$WORK/$1.lua"
}
for body in '  :key_by(function(rec) return rec.url end)' '  :filter(function(rec) return rec.url ~= "/nope" end)\n  :key_by "url"'; do
  shape ok "$body"
  rm -rf "$WORK/st-ok1" "$WORK/st-ok2"
  run_sluice run "$WORK/ok.lua" --input "$WORK/in.log" --state-dir "$WORK/st-ok1" --quiet > "$WORK/ok1.out" ||
    fail "shape at 1 failed: $body"
  run_sluice run "$WORK/ok.lua" --input "$WORK/in.log" --state-dir "$WORK/st-ok2" --parallelism 2 --quiet \
    > "$WORK/ok2.out" || fail "shape at 2 failed: $body"
  by_key "$WORK/ok1.out" > "$WORK/a.sorted"
  by_key "$WORK/ok2.out" > "$WORK/b.sorted"
  expect_same "$WORK/a.sorted" "$WORK/b.sorted"
done
refused() { # NAME BODY WHY
  shape "$1" "$2"
  set +e
  "$SLUICE" run "$WORK/$1.lua" --input "$WORK/in.log" --state-dir "$WORK/st-$1" --parallelism 2 --quiet \
    > /dev/null 2> "$WORK/$1.err"
  rc=$?
  set -e
  [ "$rc" -eq 2 ] || fail "$1 at parallelism 2 exited $rc, not 2: $(cat "$WORK/$1.err")"
  grep -q "$3" "$WORK/$1.err" || fail "$1: the message does not say '$3': $(cat "$WORK/$1.err")"
}
refused map_first '  :map(function(rec) return { url = rec.url } end)\n  :key_by "url"' "comes before its key_by"
refused two_keys '  :key_by "url"\n  :process("q", function(ctx, rec) ctx:emit(rec) end)\n  :key_by "request"' "more than one key_by"
echo "ok: keyed shapes at parallelism 2, and refused ones"
