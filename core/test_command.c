/* test_command.c — `sluice test`: busted in this process, with the job API on the path (see
 * test_command.h).
 *
 * Why in this process rather than by running `busted` under `luajit`: the harness must run the C code of
 * this sluice (its libsluice.so, already loaded here, found by the FFI as ffi.C), and the Lua modules this
 * binary runs jobs with; a separate interpreter would need both found again by hand. */
#include "core/test_command.h"

#include <lauxlib.h>
#include <lua.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "lua/lua_host.h"

static int exists(const char *path, int *is_dir) {
  struct stat st;
  if (stat(path, &st) != 0)
    return 0;
  if (is_dir)
    *is_dir = S_ISDIR(st.st_mode);
  return 1;
}

/* The global `arg` busted's runner parses: argv, plus the default spec root when no argument names a file
 * or directory. */
static void set_args(lua_State *L, int argc, char **argv) {
  int named = 0, n = 0, dir = 0;
  lua_createtable(L, argc + 1, 1);
  lua_pushliteral(L, "sluice test");
  lua_rawseti(L, -2, 0);
  for (int i = 0; i < argc; i++) {
    named |= argv[i][0] != '-' && exists(argv[i], NULL);
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, ++n);
  }
  if (!named) {
    lua_pushstring(L, exists("spec", &dir) && dir ? "spec" : ".");
    lua_rawseti(L, -2, ++n);
  }
  lua_setglobal(L, "arg");
}

static const char RUN[] = "local ok, runner = pcall(require, 'busted.runner')\n"
                          "if not ok then\n"
                          "  error('busted is not installed (Debian: apt-get install lua-busted): ' .. "
                          "tostring(runner), 0)\n"
                          "end\n"
                          "runner({ standalone = false })\n";

int sl_test_command(int argc, char **argv) {
  lua_State *L = sl_lua_host_new_vm(NULL);
  if (!L) {
    fprintf(stderr, "sluice test: cannot create the Lua VM (out of memory)\n");
    return 1;
  }
  set_args(L, argc, argv);
  /* busted's runner ends the process itself (os.exit with its status, closing this VM first); coming back
   * here means it failed to start. */
  int rc = 0;
  if (luaL_loadbuffer(L, RUN, sizeof RUN - 1, "=sluice test") || lua_pcall(L, 0, 0, 0)) {
    fprintf(stderr, "sluice test: %s\n", lua_tostring(L, -1) ? lua_tostring(L, -1) : "(error)");
    rc = 1;
  }
  lua_close(L);
  return rc;
}
