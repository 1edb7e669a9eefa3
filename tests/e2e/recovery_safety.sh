# Recovery never deletes what it cannot prove is corrupt (issue 11, items 4 and 5). A checkpoint that
# cannot be read now (here: its _metadata or state.snap is a directory, so reading fails with EISDIR or
# ENODEV, as an EIO or ENOMEM would) fails the start with exit 2 and leaves everything in place; one that is
# proven corrupt (checksum) is set aside (renamed), never deleted, and the one before it is restored; when
# only corrupt ones are left the start is refused. Every single-bit flip of _metadata either is refused or
# falls back to the older checkpoint: never exit 0 with a wrong output.
source "$(dirname "$0")/lib.bash"
JOB="$SCRIPTS/url_count.lua"
gen_access 1500 21 > "$WORK/a.log"
gen_access 700 22 > "$WORK/b.log"
cat "$WORK/a.log" "$WORK/b.log" > "$WORK/ab.log"
run_sluice run "$JOB" --input "$WORK/ab.log" --state-dir "$WORK/ref" --quiet > "$WORK/ref.out"

# A state dir with two complete checkpoints: after a.log, and after a.log + b.log (the same file, grown).
make_state() {
  rm -rf "$WORK/st" "$WORK/out"
  cp "$WORK/a.log" "$WORK/in.log"
  run_sluice run "$JOB" --input "$WORK/in.log" --state-dir "$WORK/st" --output "$WORK/out" --quiet \
    --retain-checkpoints 5 || fail "setup run 1"
  cat "$WORK/b.log" >> "$WORK/in.log"
  run_sluice run "$JOB" --input "$WORK/in.log" --state-dir "$WORK/st" --output "$WORK/out" --quiet \
    --retain-checkpoints 5 || fail "setup run 2"
  newest=$(ls -d "$WORK"/st/checkpoints/chk-* | tail -n 1)
}
restart() {
  set +e
  run_sluice run "$JOB" --input "$WORK/in.log" --state-dir "$WORK/st" --output "$WORK/out" --quiet \
    --retain-checkpoints 5 2> "$WORK/err"
  rc=$?
  set -e
}
tree() { (cd "$WORK/st" && find . -printf '%p %s\n' | sort); }

# 4a. _metadata unreadable now: exit 2, nothing deleted or renamed, the output untouched.
make_state
cp "$newest/_metadata" "$WORK/meta.saved" && rm "$newest/_metadata" && mkdir "$newest/_metadata"
before=$(tree); cp "$WORK/out" "$WORK/out.before"
restart
[ $rc = 2 ] || fail "unreadable _metadata: exit $rc (want 2): $(cat "$WORK/err")"
grep -q "cannot be read now" "$WORK/err" || fail "unclear message: $(cat "$WORK/err")"
[ "$(tree)" = "$before" ] || fail "the state dir changed after a refused start"
expect_same "$WORK/out.before" "$WORK/out"
# Once the cause is gone, the job resumes from that very checkpoint.
rmdir "$newest/_metadata" && cp "$WORK/meta.saved" "$newest/_metadata"
restart; [ $rc = 0 ] || fail "after the fix: exit $rc $(cat "$WORK/err")"
expect_same "$WORK/ref.out" "$WORK/out"

# 4b. state.snap unreadable now (mmap of a directory fails): same.
make_state
mv "$newest/state.snap" "$WORK/snap.saved" && mkdir "$newest/state.snap"
before=$(tree)
restart
[ $rc = 2 ] || fail "unreadable state.snap: exit $rc: $(cat "$WORK/err")"
[ "$(tree)" = "$before" ] || fail "the state dir changed after a refused start"

# 4c. A corrupt newest checkpoint is set aside, the older one restored, and the output exact.
make_state
printf 'X' | dd of="$newest/state.snap" bs=1 seek=20 conv=notrunc status=none
restart
[ $rc = 0 ] || fail "corrupt newest: exit $rc $(cat "$WORK/err")"
grep -q "set aside as" "$WORK/err" || fail "no word of the set-aside checkpoint: $(cat "$WORK/err")"
[ -d "$newest.corrupt" ] || fail "the corrupt checkpoint was not kept"
[ -f "$newest.corrupt/state.snap" ] || fail "the corrupt checkpoint's files are gone"
expect_same "$WORK/ref.out" "$WORK/out"

# 4d. Only corrupt checkpoints: refused (starting empty would silently drop what they committed), on this
# start and on every later one, until the user moves them away.
make_state
for c in "$WORK"/st/checkpoints/chk-*; do printf 'X' | dd of="$c/state.snap" bs=1 seek=20 conv=notrunc status=none; done
restart
[ $rc = 2 ] || fail "only corrupt checkpoints: exit $rc"
restart
[ $rc = 2 ] || fail "only corrupt checkpoints (second start): exit $rc"
grep -q "no usable checkpoint" "$WORK/err" || fail "unclear message: $(cat "$WORK/err")"

# 5. Single-bit flips of the newest _metadata: exit non-zero, or (after falling back to the older
# checkpoint) the exact output. Never exit 0 with anything else. 40 flips spread over the file.
make_state
cp -r "$WORK/st" "$WORK/st.pristine"; cp "$WORK/out" "$WORK/out.pristine"
size=$(stat -c %s "$newest/_metadata")
for i in $(seq 0 39); do
  rm -rf "$WORK/st" && cp -r "$WORK/st.pristine" "$WORK/st" && cp "$WORK/out.pristine" "$WORK/out"
  byte=$(( (i * 7919) % size )); bit=$(( i % 8 ))
  # perl-base is in every Debian: flip one bit in place.
  perl -e 'open(F, "+<", $ARGV[0]) or die; seek(F, $ARGV[1], 0); read(F, $c, 1); seek(F, $ARGV[1], 0);
           print F chr(ord($c) ^ (1 << $ARGV[2])); close F' "$newest/_metadata" $byte $bit
  restart
  if [ $rc = 0 ]; then
    cmp -s "$WORK/ref.out" "$WORK/out" || fail "flip of bit $bit of byte $byte: exit 0 with a wrong output"
  fi
  [ $rc -lt 128 ] || fail "flip of bit $bit of byte $byte: sluice crashed ($rc)"
done
echo "ok: recovery safety"
