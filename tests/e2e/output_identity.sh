# The file sink cuts back or appends to only a file it can prove is its own (issue 11, items 6 and 7):
# same path, device and inode as the last checkpoint recorded, and at least its committed size. Anything
# else is refused with exit 2, a message naming the file and how to go on, and the file left untouched;
# --overwrite-output is the way to start it afresh. Also item 10: a non-regular --output works like stdout.
source "$(dirname "$0")/lib.bash"
JOB="$SCRIPTS/url_count.lua"
gen_access 2000 5 > "$WORK/a.log"
gen_access 500 6 > "$WORK/b.log"
cat "$WORK/a.log" "$WORK/b.log" > "$WORK/ab.log"
run_sluice run "$JOB" --input "$WORK/ab.log" --state-dir "$WORK/ref" --quiet > "$WORK/ref.out"

# run STATE OUTPUT a|ab [flags]: runs over the state's own input file, which holds a.log ("a") or has grown
# to a.log + b.log ("ab"), so a second run reads only b.log's records. Exit status in $rc, stderr in $WORK/err.
run() {
  local st=$1 out=$2 in="$WORK/in-$1.log"; shift 2
  if [ "$1" = a ] || [ ! -e "$in" ]; then cp "$WORK/a.log" "$in"; fi
  if [ "$1" = ab ] && [ "$(wc -l < "$in")" -eq 2000 ]; then cat "$WORK/b.log" >> "$in"; fi
  shift
  set +e
  run_sluice run "$JOB" --input "$in" --state-dir "$WORK/$st" --output "$out" --quiet "$@" 2> "$WORK/err"
  rc=$?
  set -e
}

# 6. An output file cut shorter than its committed size is refused, never padded with NULs.
run s1 "$WORK/o1" a; [ $rc = 0 ] || fail "first run: $rc"
: > "$WORK/o1"
run s1 "$WORK/o1" ab
[ $rc = 2 ] || fail "an emptied output was accepted (exit $rc)"
grep -q "o1' holds 0 bytes" "$WORK/err" || fail "no clear message: $(cat "$WORK/err")"
grep -q -- "--overwrite-output" "$WORK/err" || fail "the message does not say how to go on"
[ ! -s "$WORK/o1" ] || fail "the refused run wrote into the output"
if tr -d '\n' < "$WORK/o1" | grep -qP '\x00'; then fail "NUL bytes in the output"; fi
# With the flag, the file starts afresh and the state goes on: it holds exactly the second file's records.
run s1 "$WORK/o1" ab --overwrite-output; [ $rc = 0 ] || fail "--overwrite-output run: $rc $(cat "$WORK/err")"
tail -n 500 "$WORK/ref.out" > "$WORK/ref_b.out"
expect_same "$WORK/ref_b.out" "$WORK/o1"

# 7. A restored job pointed at another existing file leaves that file alone.
run s2 "$WORK/o2" a; [ $rc = 0 ] || fail "s2 first run: $rc"
head -c 588895 /dev/urandom | base64 > "$WORK/unrelated"
cp "$WORK/unrelated" "$WORK/unrelated.orig"
run s2 "$WORK/unrelated" ab
[ $rc = 2 ] || fail "a restored job took over an unrelated file (exit $rc)"
grep -q "unrelated' already holds" "$WORK/err" || fail "no clear message: $(cat "$WORK/err")"
expect_same "$WORK/unrelated.orig" "$WORK/unrelated"
# Switching back to its own file works, and it is untouched by the refused run.
head -n 2000 "$WORK/ref.out" > "$WORK/ref_a.out"
expect_same "$WORK/ref_a.out" "$WORK/o2"
run s2 "$WORK/o2" ab; [ $rc = 0 ] || fail "back to its own file: $rc $(cat "$WORK/err")"
expect_same "$WORK/ref.out" "$WORK/o2"

# The output moved away and replaced by another file at the same path: refused (another inode).
run s3 "$WORK/o3" a; [ $rc = 0 ] || fail "s3 first run: $rc"
mv "$WORK/o3" "$WORK/o3.moved"
echo '{"not": "ours"}' > "$WORK/o3"
run s3 "$WORK/o3" ab
[ $rc = 2 ] || fail "a replaced output file was cut back (exit $rc)"
[ "$(cat "$WORK/o3")" = '{"not": "ours"}' ] || fail "the replacing file was changed"
# Moved away and nothing at the path: a new empty file is fine to start (nothing of anyone's is lost).
rm "$WORK/o3"
run s3 "$WORK/o3" ab; [ $rc = 0 ] || fail "output moved away: $rc $(cat "$WORK/err")"
expect_same "$WORK/ref_b.out" "$WORK/o3"

# A fresh job never truncates an existing non-empty file.
cp "$WORK/unrelated.orig" "$WORK/existing"
run fresh "$WORK/existing" a
[ $rc = 2 ] || fail "a fresh job took over an existing file (exit $rc)"
expect_same "$WORK/unrelated.orig" "$WORK/existing"
# ...and neither does a job started from a savepoint (the savepoint's output belongs to another run).
run sp0 "$WORK/sp0.out" a; [ $rc = 0 ] || fail "sp0: $rc"
sp=$(ls -d "$WORK"/sp0/checkpoints/chk-* | tail -n 1)
run sp1 "$WORK/existing" ab --from-savepoint "$sp"
[ $rc = 2 ] || fail "a job started from a savepoint took over an existing file (exit $rc)"
expect_same "$WORK/unrelated.orig" "$WORK/existing"

# 10. Non-regular outputs work like stdout: /dev/null and a FIFO.
run null /dev/null ab; [ $rc = 0 ] || fail "--output /dev/null: $rc $(cat "$WORK/err")"
run null /dev/null ab; [ $rc = 0 ] || fail "--output /dev/null after a restore: $rc $(cat "$WORK/err")"
mkfifo "$WORK/fifo"
timeout 60 cat "$WORK/fifo" > "$WORK/fifo.out" &
reader=$!
run fifost "$WORK/fifo" ab; [ $rc = 0 ] || fail "--output FIFO: $rc $(cat "$WORK/err")"
wait $reader
expect_same "$WORK/ref.out" "$WORK/fifo.out"
echo "ok: output identity"
