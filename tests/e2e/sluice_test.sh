# `sluice test`: the bundled jobs' specs pass; a spec that must fail makes the exit status non-zero and the
# output names the spec's file:line; with no SPEC, spec/ (or else every *_spec.lua below the current
# directory) is run; a job script that does not load fails its spec with the script's file:line.
source "$(dirname "$0")/lib.bash"

run_test() { timeout 120 "$SLUICE" test "$@"; }

# The bundled specs, from another directory (they find their jobs relative to themselves).
cd "$WORK"
run_test "$SCRIPTS/spec" > bundled.out 2>&1 || { cat bundled.out >&2; fail "the bundled specs fail"; }
want=$(cat "$SCRIPTS"/spec/*_spec.lua | grep -c '^  it(')
[ "$want" -ge 6 ] || fail "only $want bundled examples counted"
grep -q "^$want successes / 0 failures / 0 errors" bundled.out || { cat bundled.out >&2; fail "expected $want successes"; }

# A user's project: spec/ holds one passing and one failing spec, run with no SPEC argument.
mkdir -p proj/spec proj/other && cd proj
cp "$SCRIPTS/url_count.lua" job.lua
cat > spec/job_spec.lua <<'SPEC'
local testing = require "sluice.testing"
describe("job.lua", function()
  it("counts", function()
    local h = testing.harness("job.lua")
    h:push_lines { { url = "/a" }, { url = "/a" } }
    assert.equal(2, h:state("count", "count", "/a"))
    h:close()
  end)
  it("is wrong on purpose", function()
    local h = testing.harness("job.lua")
    h:push { url = "/a" }
    assert.same({ { url = "/a", count = 7 } }, h:output()) -- WRONG-ON-PURPOSE
  end)
end)
SPEC
line=$(grep -n 'WRONG-ON-PURPOSE' spec/job_spec.lua | cut -d: -f1)
# A *_spec.lua outside spec/ is not run when spec/ exists.
printf 'describe("x", function() it("fails", function() error("must not run") end) end)\n' > other/x_spec.lua
set +e
run_test > fail.out 2>&1
rc=$?
set -e
[ "$rc" -ne 0 ] || { cat fail.out >&2; fail "a failing spec exited 0"; }
grep -q "spec/job_spec.lua:$line:" fail.out || { cat fail.out >&2; fail "the failure does not name spec/job_spec.lua:$line"; }
grep -q "^1 success / 1 failure / 0 errors" fail.out || { cat fail.out >&2; fail "expected 1 success and 1 failure"; }
grep -q "must not run" fail.out && fail "other/x_spec.lua ran although spec/ exists"

# Without spec/, every *_spec.lua below the current directory.
mkdir ../flat && cd ../flat
mkdir -p deep && cp ../proj/job.lua deep/job.lua
cat > deep/flat_spec.lua <<'SPEC'
local testing = require "sluice.testing"
it("finds its job next to it", function()
  local h = testing.harness(testing.relative("job.lua"))
  h:push { url = "/z" }
  assert.same({ '{"url": "/z", "count": 1}' }, h:output_lines())
end)
SPEC
run_test > flat.out 2>&1 || { cat flat.out >&2; fail "the spec found below the current directory fails"; }
grep -q "^1 success / 0 failures" flat.out || { cat flat.out >&2; fail "deep/flat_spec.lua was not run"; }

# A job that does not load: the spec errors, naming the script's line.
printf 'local sluice = require "sluice"\nreturn sluice.job "x" :key_by(\n' > broken.lua
printf 'it("loads", function() require("sluice.testing").harness("broken.lua") end)\n' > broken_spec.lua
set +e
run_test broken_spec.lua > broken.out 2>&1
rc=$?
set -e
[ "$rc" -ne 0 ] || fail "a spec whose job does not load exited 0"
grep -q "broken.lua:" broken.out || { cat broken.out >&2; fail "the error does not name broken.lua"; }
grep -q "^0 successes / 0 failures / 1 error" broken.out || { cat broken.out >&2; fail "expected 1 error"; }


# Any number of failures exits 1 (256 of them must not wrap around to 0).
printf 'for i = 1, 256 do it("fails " .. i, function() assert.is_true(false) end) end\n' > many_spec.lua
set +e
run_test many_spec.lua > many.out 2>&1
rc=$?
set -e
[ "$rc" = 1 ] || { tail -3 many.out >&2; fail "256 failures exited $rc, not 1"; }

# The README's spec for scripts/url_count.lua passes as written (run from the source tree, as it names the job).
awk '/^## Testing your jobs/{on=1} on&&/^```lua/{grab=1; next} grab&&/^```/{exit} grab' "$SLUICE_SRC/README.md" \
  > "$WORK/readme_spec.lua"
grep -q 'testing.harness("scripts/url_count.lua")' "$WORK/readme_spec.lua" || fail "README spec not found"
(cd "$SLUICE_SRC" && run_test "$WORK/readme_spec.lua") > readme.out 2>&1 || { cat readme.out >&2; fail "the README's spec fails"; }
grep -q "^4 successes / 0 failures" readme.out || { cat readme.out >&2; fail "the README's spec did not run its 4 tests"; }
echo "ok: README spec"
