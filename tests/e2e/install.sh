# An installed sluice (`cmake --install` into a prefix) runs on its own: from a directory outside the trees,
# moved to another prefix after the install, without $SLUICE_LUA_DIR, it loads the Lua job API it installed
# (never the source tree's lua/), and gives the build tree's output; its RUNPATH names no build-tree path.
source "$(dirname "$0")/lib.bash"
: "${SLUICE_BUILD_DIR:?set SLUICE_BUILD_DIR to the build directory}"

# The prefix and the working directory sit outside the source and build trees (TMPDIR is in the build tree).
OUT=$(TMPDIR=/tmp mktemp -d /tmp/sluice-install.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$OUT"; [ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"' EXIT

cmake --install "$SLUICE_BUILD_DIR" --prefix "$OUT/stage" > "$WORK/install.log" || {
  cat "$WORK/install.log" >&2; fail "cmake --install failed"; }
for f in bin/sluice lib/libsluice.so share/sluice/lua/sluice/init.lua share/sluice/lua/sluice/host.lua \
         share/sluice/scripts/url_count.lua; do
  [ -f "$OUT/stage/$f" ] || fail "the install has no $f"
done
# Moved after the install: nothing may point back at where it was installed, or at the trees.
mkdir "$OUT/moved" && mv "$OUT/stage" "$OUT/moved/prefix"
P=$OUT/moved/prefix
mkdir "$OUT/cwd" && cd "$OUT/cwd"
cp "$DATA/seed_url_count.in" input.log

installed() { timeout 120 env -u SLUICE_LUA_DIR -u SLUICE_LIB -u LD_LIBRARY_PATH "$P/bin/sluice" "$@"; }

# The Lua modules come from the install, not from the source tree.
cat > where.lua <<'EOF'
io.stderr:write("sluice module: ", package.searchpath("sluice", package.path), "\n")
return require("sluice").job "where":map(function(r) return r end)
EOF
echo '{"a": 1}' | installed run where.lua --state-dir st-where --quiet > where.out 2> where.err || {
  cat where.err >&2; fail "the installed sluice cannot run a job"; }
found=$(sed -n 's/^sluice module: //p' where.err)
[ -n "$found" ] || { cat where.err >&2; fail "no module path reported"; }
[ "$(realpath "$found")" = "$(realpath "$P/share/sluice/lua/sluice/init.lua")" ] ||
  fail "the installed sluice loads $found, not its own share/sluice/lua"

# The bundled URL count, installed, gives what the build tree's binary gives.
run_sluice run "$SCRIPTS/url_count.lua" --input input.log --state-dir st-build --quiet > build.out
installed run "$P/share/sluice/scripts/url_count.lua" --input input.log --state-dir st-inst --quiet > inst.out
[ -s build.out ] || fail "the build tree's run wrote nothing"
expect_same build.out inst.out

# `sluice test` runs the installed bundled specs with the installed sluice.testing (and its own library).
installed test "$P/share/sluice/scripts/spec" > spec.out 2>&1 || { cat spec.out >&2; fail "installed sluice test fails"; }
grep -q " successes / 0 failures / 0 errors" spec.out || { cat spec.out >&2; fail "installed specs did not all pass"; }

# $SLUICE_LUA_DIR still overrides; without the installed modules the installed binary fails rather than
# falling back to the source tree.
mv "$P/share/sluice/lua" "$OUT/lua.away"
if installed run where.lua --state-dir st-gone --quiet < /dev/null > /dev/null 2> gone.err; then
  fail "the installed sluice ran without its share/sluice/lua (it found modules elsewhere: $(cat gone.err))"
fi
echo '{"a": 1}' | SLUICE_LUA_DIR="$OUT/lua.away" timeout 120 "$P/bin/sluice" run where.lua --state-dir st-env \
  --quiet > /dev/null 2> env.err || { cat env.err >&2; fail "SLUICE_LUA_DIR does not work for the install"; }
grep -q "^sluice module: $OUT/lua.away/sluice/init.lua$" env.err || fail "SLUICE_LUA_DIR not used: $(cat env.err)"

# No build-tree or source-tree path in the installed RUNPATHs.
if command -v readelf > /dev/null; then
  readelf -d "$P/bin/sluice" | grep -q 'RUNPATH.*\[\$ORIGIN/\.\./lib\]' ||
    fail "bin/sluice's RUNPATH is not \$ORIGIN/../lib: $(readelf -d "$P/bin/sluice" | grep -E 'R(UN)?PATH')"
  for f in bin/sluice lib/libsluice.so; do
    if readelf -d "$P/$f" | grep -E 'R(UN)?PATH' | grep -qF -e "$SLUICE_BUILD_DIR" -e "$SLUICE_SRC"; then
      fail "$f's RUNPATH names a tree path: $(readelf -d "$P/$f" | grep -E 'R(UN)?PATH')"
    fi
  done
else
  echo "skip: readelf is missing, RUNPATH not checked"
fi
echo "ok: install"
