# Sources: a TCP server of JSON lines (several clients, partial lines across packets), and a followed file
# that is rotated (renamed and recreated, as logrotate does) and truncated (copytruncate).
source "$(dirname "$0")/lib.bash"

# --- TCP ---
port=$((20000 + RANDOM % 20000))
"$SLUICE" run "$SLUICE_SRC/tests/e2e/tcp_count_job.lua" --state-dir "$WORK/tcp-state" --output "$WORK/tcp.out" -- "$port" 2> "$WORK/tcp.err" &
pid=$!
for _ in $(seq 100); do grep -q "listening on tcp:127.0.0.1:$port" "$WORK/tcp.err" && break; sleep 0.05; done
grep -q "listening" "$WORK/tcp.err" || fail "TCP source did not start: $(cat "$WORK/tcp.err")"
send() { exec 3<>"/dev/tcp/127.0.0.1/$port"; printf '%b' "$1" >&3; exec 3>&-; }
send '{"url": "/t"}\n{"url": "/u"}\n'
send '{"url": "/t"}\n{"url"'             # a partial line, completed by nothing: dropped at close as invalid
send '{"url": "/t"}\nnot json\n'
sleep 0.3
kill -TERM $pid; wait $pid || fail "TCP job exited non-zero"
sort "$WORK/tcp.out" > "$WORK/tcp.sorted"
printf '%s\n' '{"url": "/t", "count": 1}' '{"url": "/t", "count": 2}' '{"url": "/t", "count": 3}' \
  '{"url": "/u", "count": 1}' > "$WORK/tcp.expected"
expect_same "$WORK/tcp.expected" "$WORK/tcp.sorted"
grep -q "tcp:127.0.0.1:$port#[0-9]*:2: invalid JSON" "$WORK/tcp.err" || fail "no per-connection error line: $(cat "$WORK/tcp.err")"

# --- follow across rotation and truncation ---
log="$WORK/app.log"
printf '{"url": "/r"}\n{"url": "/r"}\n' > "$log"
"$SLUICE" run "$SCRIPTS/url_count.lua" --input "$log" --follow --state-dir "$WORK/f-state" \
  --output "$WORK/f.out" --checkpoint-interval 50 2> "$WORK/f.err" &
pid=$!
wait_lines() { for _ in $(seq 200); do [ "$(cat "$1" 2>/dev/null | wc -l)" -ge "$2" ] && return 0; sleep 0.05; done; fail "waited for $2 lines in $1: $(cat "$1")"; }
wait_lines "$WORK/f.out" 2
printf '{"url": "/r"}\n' >> "$log"                       # growth
wait_lines "$WORK/f.out" 3
mv "$log" "$log.1"; printf '{"url": "/r"}\n{"url": "/s"}\n' > "$log"   # rotation: a new file at the path
wait_lines "$WORK/f.out" 5
: > "$log"; sleep 0.3; printf '{"url": "/r"}\n' >> "$log"   # truncation
wait_lines "$WORK/f.out" 6
kill -TERM $pid; wait $pid || fail "follow job exited non-zero"
printf '%s\n' '{"url": "/r", "count": 1}' '{"url": "/r", "count": 2}' '{"url": "/r", "count": 3}' \
  '{"url": "/r", "count": 4}' '{"url": "/s", "count": 1}' '{"url": "/r", "count": 5}' > "$WORK/f.expected"
expect_same "$WORK/f.expected" "$WORK/f.out"
grep -q "rotated" "$WORK/f.err" || fail "no rotation message"
grep -q "truncated" "$WORK/f.err" || fail "no truncation message"
echo "ok: sources"
