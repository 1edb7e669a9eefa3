/* test_command.h — `sluice test [SPEC...] [BUSTED-OPTIONS...]`: runs users' busted specs of their jobs.
 *
 * The specs run in this process, in a LuaJIT VM set up as a job's is (lua/lua_host.h: SLUICE_HOST, the job
 * API's Lua directory found as `sluice run` finds it, so an installed sluice runs its installed modules),
 * with busted (Debian's lua-busted) as the runner and sluice.testing available to them. A harness a spec
 * makes runs the job in a VM of its own on the real state backend (lua/test_harness.h).
 *
 * Arguments are busted's. When none of them names an existing file or directory, the specs are spec/
 * under the current directory if it exists, else every *_spec.lua below it. Returns busted's exit status
 * (0 when every spec passed). */
#ifndef SLUICE_TEST_COMMAND_H
#define SLUICE_TEST_COMMAND_H

int sl_test_command(int argc, char **argv);

#endif
