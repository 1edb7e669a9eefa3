# The TCP source's limits (issue 11, item 20), with real clients on 127.0.0.1: with --tcp-max-connections 3
# the 4th connection is closed at once with one warning naming its peer while the 3 open ones stay served,
# and a freed slot is taken again; with --tcp-max-buffer-bytes 4096 a connection holding a longer partial
# line is closed (the line counted as rejected) while a 3000-byte line on another is processed; the source
# listens on 127.0.0.1 only unless the script says otherwise.
source "$(dirname "$0")/lib.bash"
port=$((20000 + RANDOM % 20000))
"$SLUICE" run "$SLUICE_SRC/tests/e2e/tcp_count_job.lua" --state-dir "$WORK/st" --tcp-max-connections 3 \
  --tcp-max-buffer-bytes 4096 --max-line-bytes 65536 -- "$port" > "$WORK/out" 2> "$WORK/err" &
pid=$!
for _ in $(seq 200); do grep -q "listening on" "$WORK/err" && break; sleep 0.05; done
grep -q "listening on tcp:127.0.0.1:$port (at most 3 connections, 4096 unprocessed bytes each)" "$WORK/err" ||
  fail "TCP source did not start: $(cat "$WORK/err")"

# Bound to the loopback address only: the kernel's table of listening sockets says so.
python3 - "$port" << 'PY' || fail "not listening on 127.0.0.1 only"
import sys
port = int(sys.argv[1])
found = []
for table in ("/proc/net/tcp", "/proc/net/tcp6"):
    try:
        rows = open(table).read().splitlines()[1:]
    except OSError:
        continue
    for row in rows:
        local, state = row.split()[1], row.split()[3]
        addr, p = local.split(":")
        if int(p, 16) == port and state == "0A":
            found.append(addr)
sys.exit(0 if found == ["0100007F"] else 1)
PY

cat > "$WORK/client.py" << 'PY'
import socket, sys, time

port, out = int(sys.argv[1]), sys.argv[2]

def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)

def lines():
    with open(out) as f:
        return f.read().count("\n")

def wait_lines(n):
    deadline = time.time() + 20
    while time.time() < deadline:
        if lines() >= n:
            return
        time.sleep(0.05)
    fail("waited for %d output lines, have %d" % (n, lines()))

def connect():
    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    return s

def closed_by_server(s):
    """True when the server closes s within 20 s (EOF or reset)."""
    s.settimeout(20)
    try:
        return s.recv(1) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False

# Three connections, each sends a record and stays open.
conns = [connect() for _ in range(3)]
for i, c in enumerate(conns):
    c.sendall(b'{"url": "/c%d"}\n' % i)
wait_lines(3)

# The fourth is closed at once; the warning names its peer.
extra = connect()
print("refused-port %d" % extra.getsockname()[1], flush=True)
if not closed_by_server(extra):
    fail("the 4th connection was not closed")
extra.close()

# The three are still served.
for i, c in enumerate(conns):
    c.sendall(b'{"url": "/c%d"}\n' % i)
wait_lines(6)

# A freed slot is taken again.
conns.pop().close()
time.sleep(0.3)
again = connect()
again.sendall(b'{"url": "/again"}\n')
wait_lines(7)
conns.append(again)

# Over the per-connection buffer: 5000 bytes without a newline close that connection...
big = conns.pop(0)
print("big-port %d" % big.getsockname()[1], flush=True)
big.sendall(b'{"url": "/big", "pad": "' + b"x" * 5000)
if not closed_by_server(big):
    fail("a connection holding 5000 bytes without a newline was not closed")
big.close()
# ... while a 3000-byte line (under the cap) on another connection is processed as usual.
conns[0].sendall(b'{"url": "/long", "pad": "' + b"y" * 3000 + b'"}\n')
wait_lines(8)
conns[1].sendall(b'{"url": "/c2"}\n')
wait_lines(9)
for c in conns:
    c.close()
PY
python3 "$WORK/client.py" "$port" "$WORK/out" > "$WORK/client.out" || fail "client: $(cat "$WORK/err")"
sleep 0.3
kill -TERM $pid
wait $pid || fail "TCP job exited non-zero ($?): $(cat "$WORK/err")"

refused=$(awk '/^refused-port/ { print $2 }' "$WORK/client.out")
big=$(awk '/^big-port/ { print $2 }' "$WORK/client.out")
[ "$(grep -c "refused" "$WORK/err")" -eq 1 ] || fail "expected one refusal line: $(cat "$WORK/err")"
grep -q "connection from 127.0.0.1:$refused refused: 3 connections are open (--tcp-max-connections)" "$WORK/err" ||
  fail "no refusal naming the peer 127.0.0.1:$refused: $(cat "$WORK/err")"
[ "$(grep -c "tcp-max-buffer-bytes" "$WORK/err")" -eq 1 ] || fail "expected one buffer line: $(cat "$WORK/err")"
grep -q "(from 127.0.0.1:$big): a line over 4096 bytes without a newline (--tcp-max-buffer-bytes)" "$WORK/err" ||
  fail "no buffer-cap line naming the peer 127.0.0.1:$big: $(cat "$WORK/err")"
grep -q "done: 10 records in, 9 out, 1 rejected" "$WORK/err" || fail "summary: $(cat "$WORK/err")"
grep -q '"url": "/long", "count": 1' "$WORK/out" || fail "the 3000-byte line was not processed"
! grep -q '/big' "$WORK/out" || fail "the over-cap partial line reached the output"
[ "$(grep -c '"url": "/c[0-2]"' "$WORK/out")" -eq 7 ] || fail "records of the open connections: $(cat "$WORK/out")"

# The options are checked.
set +e
"$SLUICE" run "$SLUICE_SRC/tests/e2e/tcp_count_job.lua" --state-dir "$WORK/st2" --tcp-max-connections 0 -- "$port" 2> "$WORK/err2"
status=$?
set -e
[ "$status" -eq 2 ] && grep -q -- "--tcp-max-connections needs an integer >= 1" "$WORK/err2" ||
  fail "--tcp-max-connections 0: exit $status: $(cat "$WORK/err2")"
echo "ok: tcp limits"
