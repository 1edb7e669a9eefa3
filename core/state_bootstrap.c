/* state_bootstrap.c — `sluice state bootstrap JOB.lua --from FILE.jsonl --to SAVEPOINT`: a savepoint written
 * from JSON lines (the format `sluice state dump` prints), which `sluice run JOB.lua --from-savepoint
 * SAVEPOINT` starts from — to migrate state in from another system, or to repair it.
 *
 * Built from the real parts, so the savepoint is the one the job would have written: JOB.lua is started in a
 * test harness (lua/test_harness.h: its VM, its declared states registered, a real backend), each line is
 * stored through the job's own state handles (lua/sluice/bootstrap.lua), and a checkpoint of it (snapshot
 * hooks, commit, snapshot) is written out as a savepoint by the code `sluice savepoint` uses
 * (sl_savepoint_write). Everything happens in a temporary directory next to SAVEPOINT, renamed into place at
 * the end without replacing anything (renameat2 RENAME_NOREPLACE): a bad line, a failure or a crash leaves no
 * SAVEPOINT, and an existing path is never touched. */
#include "core/state_bootstrap.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <lauxlib.h>
#include <lua.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/checkpoint_meta.h"
#include "core/cli.h"
#include "core/savepoint.h"
#include "lua/lua_host.h"
#include "lua/test_harness.h"
#include "state/state_clock.h"
#include "state/state_key.h"

typedef struct bootstrap_args {
  const char *job, *from, *to;
  unsigned max_parallelism;
  const char *const *script_args;
  int nscript_args;
} bootstrap_args;

static void usage(void) {
  fputs("usage: sluice state bootstrap JOB.lua --from FILE.jsonl --to SAVEPOINT [--max-parallelism M] "
        "[-- SCRIPT-ARGS...]\n",
        stderr);
}

static int parse_args(int argc, char **argv, bootstrap_args *a) {
  memset(a, 0, sizeof *a);
  a->max_parallelism = SL_DEFAULT_MAX_PARALLELISM;
  for (int i = 0; i < argc; i++) {
    if (!strcmp(argv[i], "--")) {
      a->script_args = (const char *const *)argv + i + 1;
      a->nscript_args = argc - i - 1;
      break;
    }
    int from = !strcmp(argv[i], "--from"), to = !strcmp(argv[i], "--to");
    if ((from || to) && i + 1 < argc) {
      *(from ? &a->from : &a->to) = argv[++i];
    } else if (!strcmp(argv[i], "--max-parallelism") && i + 1 < argc) {
      const char *v = argv[++i];
      char *end;
      errno = 0;
      unsigned long m = strtoul(v, &end, 10);
      if (errno || *end || !*v || m < 1 || m > SL_MAX_MAX_PARALLELISM) {
        fprintf(stderr, "sluice state bootstrap: --max-parallelism must be 1..%d (got '%s')\n",
                SL_MAX_MAX_PARALLELISM, v);
        return -1;
      }
      a->max_parallelism = (unsigned)m;
    } else if (argv[i][0] != '-' && !a->job) {
      a->job = argv[i];
    } else {
      fprintf(stderr, "sluice state bootstrap: unexpected argument '%s'\n", argv[i]);
      usage();
      return -1;
    }
  }
  if (!a->job || !a->from || !a->to) {
    fprintf(stderr, "sluice state bootstrap: %s\n",
            !a->job    ? "a JOB.lua is needed"
            : !a->from ? "--from FILE.jsonl is needed"
                       : "--to SAVEPOINT is needed");
    usage();
    return -1;
  }
  return 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  return remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

static void remove_all(const char *dir) {
  nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* A new directory next to `to`, for everything until the final rename. 0, or -1 with the reason. */
static int make_work_dir(const char *to, char *out, size_t len, char *err, size_t errlen) {
  char parent[4096];
  snprintf(parent, sizeof parent, "%s", to);
  char *slash = strrchr(parent, '/');
  const char *name = slash ? slash + 1 : to;
  if (slash == parent)
    strcpy(parent, "/");
  else if (slash)
    *slash = '\0';
  else
    strcpy(parent, ".");
  struct stat st;
  if (stat(parent, &st) != 0 || !S_ISDIR(st.st_mode)) {
    snprintf(err, errlen, "the directory of '%s' (%s) does not exist", to, parent);
    return -1;
  }
  snprintf(out, len, "%s/.%s.bootstrap-XXXXXX", parent, name);
  if (!mkdtemp(out)) {
    snprintf(err, errlen, "cannot create a directory in %s: %s", parent, strerror(errno));
    return -1;
  }
  return 0;
}

/* Stores every line of a->from in the harness's state (lua/sluice/bootstrap.lua). Returns the number of
 * entries, or -1 with "FILE:N: reason" in err. */
static long load_lines(sl_harness *h, const bootstrap_args *a, char *err, size_t errlen) {
  lua_State *L = sl_lua_host_new_vm(a->job);
  if (!L) {
    snprintf(err, errlen, "cannot create the Lua VM (out of memory)");
    return -1;
  }
  long n = -1;
  lua_getglobal(L, "require");
  lua_pushliteral(L, "sluice.bootstrap");
  if (lua_pcall(L, 1, 1, 0) == 0) {
    lua_getfield(L, -1, "load");
    lua_pushlightuserdata(L, h);
    lua_pushstring(L, a->job);
    lua_createtable(L, a->nscript_args, 0);
    for (int i = 0; i < a->nscript_args; i++) {
      lua_pushstring(L, a->script_args[i]);
      lua_rawseti(L, -2, i + 1);
    }
    lua_pushinteger(L, (lua_Integer)a->max_parallelism);
    lua_pushstring(L, a->from);
    if (lua_pcall(L, 5, 1, 0) == 0)
      n = (long)lua_tointeger(L, -1);
  }
  if (n < 0)
    snprintf(err, errlen, "%s", lua_tostring(L, -1) ? lua_tostring(L, -1) : "(error object is not a string)");
  lua_close(L); /* its key scope and handles on the harness's backend go with it */
  return n;
}

/* The savepoint of the harness's state at work/sp, then renamed to a->to. 0, or -1 with err (the command
 * then exits 1: the input was good, writing failed). */
static int write_savepoint(sl_harness *h, const bootstrap_args *a, const char *work, char *err,
                           size_t errlen) {
  uint64_t id, bytes, entries;
  char snap[4200], sp[4200];
  *sl_harness_clock(h) =
      sl_clock_now(NULL); /* TTL: what has expired by now is left out, as in a checkpoint */
  if (sl_harness_checkpoint(h, &id, err, errlen) ||
      sl_harness_last_snapshot(h, snap, sizeof snap, &bytes, &entries))
    return -1;
  sl_checkpoint_meta m;
  memset(&m, 0, sizeof m);
  m.id = m.base_id = id;
  m.time_ms = sl_now_ms();
  m.snapshot_bytes = bytes;
  m.snapshot_entries = entries;
  m.max_parallelism = a->max_parallelism;
  m.savepoint = 1;
  snprintf(sp, sizeof sp, "%s/sp", work);
  if (sl_savepoint_write(sp, snap, &m, err, errlen))
    return -1;
  if (renameat2(AT_FDCWD, sp, AT_FDCWD, a->to, RENAME_NOREPLACE) != 0) {
    snprintf(err, errlen, "cannot move the savepoint to '%s': %s", a->to, strerror(errno));
    return -1;
  }
  if (sl_fsync_parent(a->to) != 0) {
    snprintf(err, errlen, "cannot sync the directory of '%s': %s", a->to, strerror(errno));
    return -1;
  }
  return 0;
}

int sl_state_bootstrap_command(int argc, char **argv) {
  bootstrap_args a;
  char err[4096], work[4200], dir[4300];
  if (parse_args(argc, argv, &a))
    return 2;
  struct stat st;
  if (lstat(a.to, &st) == 0 || errno != ENOENT) {
    fprintf(stderr, "sluice state bootstrap: '%s' exists: a savepoint is never written over anything\n",
            a.to);
    return 2;
  }
  if (access(a.from, R_OK) != 0) {
    fprintf(stderr, "sluice state bootstrap: cannot read '%s': %s\n", a.from, strerror(errno));
    return 2;
  }
  if (make_work_dir(a.to, work, sizeof work, err, sizeof err)) {
    fprintf(stderr, "sluice state bootstrap: %s\n", err);
    return 2;
  }
  snprintf(dir, sizeof dir, "%s/harness", work);
  int rc = 2;
  sl_harness *h = NULL;
  if (mkdir(dir, 0700) != 0)
    snprintf(err, sizeof err, "cannot create '%s': %s", dir, strerror(errno));
  else if ((h = sl_harness_open(a.job, a.script_args, a.nscript_args, dir, a.max_parallelism,
                                sl_clock_now(NULL), err, sizeof err))) {
    long n = load_lines(h, &a, err, sizeof err);
    if (n >= 0)
      rc = write_savepoint(h, &a, work, err, sizeof err) ? 1 : 0;
    if (rc == 0)
      printf("%s: %ld entries from %s\n", a.to, n, a.from);
  }
  if (rc)
    fprintf(stderr, "sluice state bootstrap: %s\n", err);
  sl_harness_close(h);
  remove_all(work);
  return rc;
}
