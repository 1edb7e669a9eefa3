/* lua_host.c — the job's Lua VM (see lua_host.h). This is the only file that uses the classic Lua C API
 * on a per-batch path; per-record work happens inside Lua and crosses back to C through the FFI. */
#include "lua/lua_host.h"

#include <dlfcn.h>
#include <lauxlib.h>
#include <limits.h>
#include <lua.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef SLUICE_LUA_DIR
#define SLUICE_LUA_DIR "lua"
#endif
/* Where libsluice.so is built (an in-tree run uses SLUICE_LUA_DIR), and where an installed copy keeps the
 * Lua job API relative to its own directory (CMake defines both from the install layout). */
#ifndef SLUICE_BUILD_LIB_DIR
#define SLUICE_BUILD_LIB_DIR ""
#endif
#ifndef SLUICE_LUA_RELDIR
#define SLUICE_LUA_RELDIR "../share/sluice/lua"
#endif

static char *dup_field(lua_State *L, int idx, const char *name) {
  lua_getfield(L, idx, name);
  const char *s = lua_tostring(L, -1);
  char *copy = s ? strdup(s) : NULL;
  lua_pop(L, 1);
  return copy;
}

/* Copies the array of strings in field `name` of the table at the top of the stack; *n gets its length. */
static char **dup_strings(lua_State *L, const char *name, int *n, int *oom) {
  lua_getfield(L, -1, name);
  int len = (int)lua_objlen(L, -1);
  char **v = calloc(len ? (size_t)len : 1, sizeof *v);
  *n = 0;
  for (int i = 0; v && i < len; i++) {
    lua_rawgeti(L, -1, i + 1);
    v[i] = strdup(lua_tostring(L, -1) ? lua_tostring(L, -1) : "");
    lua_pop(L, 1);
    if (!v[i])
      break;
    *n = i + 1;
  }
  lua_pop(L, 1);
  if (!v || *n < len)
    *oom = 1;
  return v;
}

/* Reads an endpoint table at the top of the stack. 0, or -1 when a file endpoint got no path (memory). */
static int read_endpoint(lua_State *L, sl_endpoint *ep) {
  lua_getfield(L, -1, "kind");
  const char *kind = lua_tostring(L, -1);
  lua_pop(L, 1);
  memset(ep, 0, sizeof *ep);
  if (!kind || !strcmp(kind, "stdin"))
    ep->kind = SL_EP_STDIN;
  else if (!strcmp(kind, "stdout"))
    ep->kind = SL_EP_STDOUT;
  else if (!strcmp(kind, "tcp"))
    ep->kind = SL_EP_TCP;
  else if (!strcmp(kind, "kafka"))
    ep->kind = SL_EP_KAFKA;
  else
    ep->kind = SL_EP_FILE;
  ep->path = dup_field(L, -1, "path");
  ep->host = dup_field(L, -1, ep->kind == SL_EP_KAFKA ? "brokers" : "host");
  lua_getfield(L, -1, "port");
  ep->port = (int)lua_tointeger(L, -1);
  lua_pop(L, 1);
  if (ep->kind == SL_EP_KAFKA) { /* checked by lua/sluice/kafka.lua: a missing field is out of memory */
    int oom = 0;
    ep->topic = dup_field(L, -1, "topic");
    ep->group = dup_field(L, -1, "group");
    ep->partitions = dup_field(L, -1, "partitions");
    char *start = dup_field(L, -1, "start");
    ep->start_latest = start && !strcmp(start, "latest");
    ep->options = dup_strings(L, "options", &ep->noptions, &oom);
    ep->key = dup_field(L, -1, "key");
    lua_getfield(L, -1, "key");
    oom |= lua_isstring(L, -1) && !ep->key;
    lua_pop(L, 1);
    char *delivery = dup_field(L, -1, "delivery"); /* a sink's: a source has none */
    ep->at_least_once = delivery && !strcmp(delivery, "at-least-once");
    lua_getfield(L, -1, "timeout_ms");
    ep->timeout_ms = (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
    oom |= !ep->host || !ep->topic || (!start && !delivery);
    free(start);
    free(delivery);
    return oom ? -1 : 0;
  }
  return ep->kind == SL_EP_FILE && !ep->path ? -1 : 0;
}

static void free_strings(char **v, int n);

static void free_endpoint(sl_endpoint *ep) {
  free(ep->path);
  free(ep->host);
  free(ep->topic);
  free(ep->group);
  free(ep->partitions);
  free(ep->key);
  free_strings(ep->options, ep->noptions);
}

/* 0, or -1 when memory ran out (the description is then incomplete, but safe to free). */
static int read_job_desc(lua_State *L, sl_job_desc *job) {
  int oom = 0;
  job->name = dup_field(L, -1, "name");
  lua_getfield(L, -1, "sources");
  job->nsources = (int)lua_objlen(L, -1);
  job->sources = calloc(job->nsources ? (size_t)job->nsources : 1, sizeof *job->sources);
  if (!job->sources)
    job->nsources = 0;
  for (int i = 0; i < job->nsources; i++) {
    lua_rawgeti(L, -1, i + 1);
    oom |= read_endpoint(L, &job->sources[i]) != 0;
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  lua_getfield(L, -1, "sink");
  oom |= read_endpoint(L, &job->sink) != 0;
  lua_pop(L, 1);
  job->uids = dup_strings(L, "uids", &job->nuids, &oom);
  job->kinds = dup_strings(L, "kinds", &job->nkinds, &oom);
  job->files = dup_strings(L, "files", &job->nfiles, &oom);
  lua_getfield(L, -1, "event_time");
  job->event_time = lua_toboolean(L, -1);
  lua_pop(L, 1);
  lua_getfield(L, -1, "exchange");
  const char *ex = lua_tostring(L, -1);
  job->exchange = !ex || !strcmp(ex, "local") ? SL_EXCHANGE_LOCAL
                  : !strcmp(ex, "field")      ? SL_EXCHANGE_FIELD
                  : !strcmp(ex, "lua")        ? SL_EXCHANGE_LUA
                                              : SL_EXCHANGE_UNSUPPORTED;
  lua_pop(L, 1);
  if (job->exchange == SL_EXCHANGE_FIELD) {
    oom |= !(job->key_field = dup_field(L, -1, "key_field"));
    job->key_field_len = job->key_field ? strlen(job->key_field) : 0;
    lua_getfield(L, -1, "key_field");
    job->key_field_interned = lua_tostring(L, -1);
    lua_pop(L, 1);
  } else if (job->exchange == SL_EXCHANGE_UNSUPPORTED)
    oom |= !(job->exchange_why = dup_field(L, -1, "exchange_why"));
  return oom || !job->sources || !job->name ? -1 : 0;
}

static void free_strings(char **v, int n) {
  for (int i = 0; v && i < n; i++)
    free(v[i]);
  free(v);
}

/* The directory of the job API's Lua modules. $SLUICE_LUA_DIR wins. A libsluice.so loaded from the build
 * directory it was built in uses the source tree's lua/ (compiled in), so tests and developers run the
 * checkout's modules. Any other copy is an installed one: its modules are at SLUICE_LUA_RELDIR from the
 * directory this library was loaded from (found with dladdr), so an install works wherever it is moved
 * and without the checkout. `buf` holds the result when it is built here. */
const char *sl_lua_host_lua_dir(char *buf, size_t len) {
  const char *env = getenv("SLUICE_LUA_DIR");
  if (env && *env)
    return env;
  Dl_info info;
  char lib[PATH_MAX], build[PATH_MAX];
  if (!dladdr((void *)sl_lua_host_lua_dir, &info) || !info.dli_fname || !realpath(info.dli_fname, lib))
    return SLUICE_LUA_DIR;
  *strrchr(lib, '/') = '\0';
  if (realpath(SLUICE_BUILD_LIB_DIR, build) && strcmp(lib, build) == 0)
    return SLUICE_LUA_DIR;
  snprintf(buf, len, "%s/%s", lib, SLUICE_LUA_RELDIR);
  return buf;
}

static void set_package_path(lua_State *L, const char *script) {
  char buf[PATH_MAX + 64];
  const char *dir = sl_lua_host_lua_dir(buf, sizeof buf);
  char sdir[4096];
  snprintf(sdir, sizeof sdir, "%s", script ? script : "");
  char *slash = strrchr(sdir, '/');
  if (slash)
    *slash = '\0';
  else
    strcpy(sdir, ".");
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "path");
  if (script)
    lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;%s/?.lua;%s", dir, dir, sdir, lua_tostring(L, -1));
  else
    lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;%s", dir, dir, lua_tostring(L, -1));
  lua_setfield(L, -3, "path");
  lua_pop(L, 2);
}

lua_State *sl_lua_host_new_vm(const char *script) {
  lua_State *L = luaL_newstate();
  if (!L)
    return NULL;
  luaL_openlibs(L);
  lua_pushboolean(L, 1);
  lua_setglobal(L, "SLUICE_HOST");
  set_package_path(L, script);
  return L;
}

/* Pushes a Lua array of the given strings. */
static void push_strings(lua_State *L, const char *const *v, int n) {
  lua_createtable(L, n, 0);
  for (int i = 0; i < n; i++) {
    lua_pushstring(L, v[i]);
    lua_rawseti(L, -2, i + 1);
  }
}

static void copy_error(lua_State *L, char *err, size_t errlen) {
  const char *msg = lua_tostring(L, -1);
  snprintf(err, errlen, "%s", msg ? msg : "(error object is not a string)");
  lua_pop(L, 1);
}

int sl_lua_host_open(sl_lua_host *h, const sl_host_config *cfg, char *err, size_t errlen) {
  memset(h, 0, sizeof *h);
  h->host_ref = LUA_NOREF;
  h->L = sl_lua_host_new_vm(cfg->script);
  if (!h->L) {
    snprintf(err, errlen, "cannot create the Lua VM (out of memory)");
    return -1;
  }
  lua_State *L = h->L;

  lua_getglobal(L, "require");
  lua_pushliteral(L, "sluice.host");
  if (lua_pcall(L, 1, 1, 0)) {
    copy_error(L, err, errlen);
    return -1;
  }
  lua_pushvalue(L, -1);
  h->host_ref = luaL_ref(L, LUA_REGISTRYINDEX);

  lua_getfield(L, -1, "load");
  lua_pushstring(L, cfg->script);
  lua_createtable(L, 0, 4);
  push_strings(L, cfg->inputs, cfg->ninputs);
  lua_setfield(L, -2, "inputs");
  push_strings(L, (const char *const *)cfg->args, cfg->nargs);
  lua_setfield(L, -2, "args");
  if (cfg->output) {
    lua_pushstring(L, cfg->output);
    lua_setfield(L, -2, "output");
  }
  if (cfg->state_dir) {
    lua_pushstring(L, cfg->state_dir);
    lua_setfield(L, -2, "state_dir");
  }
  if (lua_pcall(L, 2, 1, 0)) {
    copy_error(L, err, errlen);
    lua_pop(L, 1);
    return -1;
  }
  int rc = read_job_desc(L, &h->job);
  lua_pop(L, 2);
  if (rc)
    snprintf(err, errlen, "out of memory reading the job description");
  return rc;
}

static int push_host_fn(sl_lua_host *h, const char *name) {
  lua_rawgeti(h->L, LUA_REGISTRYINDEX, h->host_ref);
  lua_getfield(h->L, -1, name);
  lua_remove(h->L, -2);
  return 0;
}

/* Whether the failed call (lua_pcall status, error object at the top of the stack) is the job's failure
 * rather than the record's: the VM ran out of memory, or sluice.fatal raised it (the state backend failed
 * under the operator). Replaces a fatal error object by its message. */
static int is_fatal(lua_State *L, int status) {
  if (status == LUA_ERRMEM)
    return 1;
  if (!lua_istable(L, -1))
    return 0;
  lua_getfield(L, -1, "sluice_fatal");
  int fatal = lua_toboolean(L, -1);
  lua_pop(L, 1);
  if (fatal) {
    lua_getfield(L, -1, "message");
    lua_remove(L, -2);
  }
  return fatal;
}

int sl_lua_host_start(sl_lua_host *h, sl_backend *backend, sl_buf *buf, unsigned max_parallelism, char *err,
                      size_t errlen) {
  push_host_fn(h, "start");
  lua_pushlightuserdata(h->L, backend);
  lua_pushlightuserdata(h->L, buf);
  lua_pushinteger(h->L, (lua_Integer)max_parallelism);
  lua_pushinteger(h->L, (lua_Integer)h->subtask);
  lua_pushinteger(h->L, (lua_Integer)(h->parallelism ? h->parallelism : 1));
  if (h->clock.fn) {
    lua_pushlightuserdata(h->L, (void *)h->clock.fn);
    lua_pushlightuserdata(h->L, h->clock.arg);
  } else {
    lua_pushnil(h->L);
    lua_pushnil(h->L);
  }
  int status = lua_pcall(h->L, 7, 0, 0);
  if (status) {
    is_fatal(h->L, status); /* a failing start fails either way: this unwraps a fatal error's message */
    copy_error(h->L, err, errlen);
    return -1;
  }
  return 0;
}

/* Turns the error at the top of the stack into "operator 'uid': <what>message" in err, and pops it. */
static void operator_error(sl_lua_host *h, const char *what, char *err, size_t errlen) {
  lua_State *L = h->L;
  const char *msg = lua_tostring(L, -1);
  char op[256] = "?";
  push_host_fn(h, "current_operator");
  if (lua_pcall(L, 0, 1, 0) == 0 && lua_tostring(L, -1))
    snprintf(op, sizeof op, "%s", lua_tostring(L, -1));
  lua_pop(L, 1);
  snprintf(err, errlen, "operator '%s': %s%s", op, what, msg ? msg : "(error object is not a string)");
  lua_pop(L, 1);
}

/* Calls host function fn(batch, arg). 0, or 1 with err (the record at batch->cursor failed), or -1 (the
 * failure is the job's). */
static int call_batch_fn(sl_lua_host *h, const char *fn, sl_batch *batch, void *arg, char *err,
                         size_t errlen) {
  lua_State *L = h->L;
  push_host_fn(h, fn);
  lua_pushlightuserdata(L, batch);
  lua_pushlightuserdata(L, arg);
  int status = lua_pcall(L, 2, 0, 0);
  if (status == 0)
    return 0;
  int fatal = is_fatal(L, status);
  operator_error(h, status == LUA_ERRMEM ? "out of memory: " : "", err, errlen);
  return fatal ? -1 : 1;
}

static int run_batch_with(sl_lua_host *h, const char *fn, sl_batch *batch, sl_buf *buf, char *err,
                          size_t errlen) {
  int rc = call_batch_fn(h, fn, batch, buf, err, errlen);
  if (rc && buf->len > batch->out_mark)
    buf->len = batch->out_mark; /* the failed record's output is cut */
  return rc;
}

int sl_lua_host_run_batch(sl_lua_host *h, sl_batch *batch, sl_buf *buf, char *err, size_t errlen) {
  return run_batch_with(h, "run_batch", batch, buf, err, errlen);
}

int sl_lua_host_run_keyed_batch(sl_lua_host *h, sl_batch *batch, sl_buf *buf, char *err, size_t errlen) {
  return run_batch_with(h, "run_keyed_batch", batch, buf, err, errlen);
}

int sl_lua_host_route_batch(sl_lua_host *h, sl_batch *batch, uint16_t *owners, char *err, size_t errlen) {
  return call_batch_fn(h, "route_batch", batch, owners, err, errlen);
}

int sl_lua_host_snapshot_hooks(sl_lua_host *h, char *err, size_t errlen) {
  lua_State *L = h->L;
  push_host_fn(h, "snapshot_hooks");
  int status = lua_pcall(L, 0, 0, 0);
  if (status == 0)
    return 0;
  int fatal = is_fatal(L, status);
  operator_error(h, "snapshot hook: ", err, errlen);
  return fatal ? -2 : -1;
}

int sl_lua_host_fire_timers(sl_lua_host *h, int64_t now_ms, int end_of_input, int64_t *next_ms,
                            uint64_t *late, void (*on_error)(void *arg, const char *msg), void *arg,
                            char *err, size_t errlen) {
  lua_State *L = h->L;
  *next_ms = -1;
  push_host_fn(h, "fire_timers");
  lua_pushnumber(L, (lua_Number)now_ms);
  lua_pushboolean(L, end_of_input);
  int status = lua_pcall(L, 2, 3, 0);
  if (status) {
    is_fatal(L, status); /* every failure here fails the job; this only unwraps the message */
    operator_error(h, "timers: ", err, errlen);
    return -1;
  }
  if (lua_isnumber(L, -3))
    *next_ms = (int64_t)lua_tonumber(L, -3);
  if (lua_istable(L, -2))
    for (int i = 1; i <= (int)lua_objlen(L, -2); i++) {
      lua_rawgeti(L, -2, i);
      on_error(arg, lua_tostring(L, -1) ? lua_tostring(L, -1) : "(error object is not a string)");
      lua_pop(L, 1);
    }
  *late = (uint64_t)lua_tonumber(L, -1);
  lua_pop(L, 3);
  return 0;
}

/* Calls the host function pushed with its one argument: 0, or -1 with the error in err. */
static int call_host_1(sl_lua_host *h, char *err, size_t errlen) {
  int status = lua_pcall(h->L, 1, 0, 0);
  if (status == 0)
    return 0;
  is_fatal(h->L, status);
  copy_error(h->L, err, errlen);
  return -1;
}

int sl_lua_host_set_watermark(sl_lua_host *h, int64_t ts, char *err, size_t errlen) {
  push_host_fn(h, "set_watermark");
  lua_pushnumber(h->L, (lua_Number)ts);
  return call_host_1(h, err, errlen);
}

int sl_lua_host_check_states(sl_lua_host *h, sl_backend *backend, char *err, size_t errlen) {
  push_host_fn(h, "check_states");
  lua_pushlightuserdata(h->L, backend);
  return call_host_1(h, err, errlen);
}

int sl_lua_host_pending_timers(sl_lua_host *h, uint64_t *n, char *err, size_t errlen) {
  lua_State *L = h->L;
  *n = 0;
  push_host_fn(h, "pending_timers");
  int status = lua_pcall(L, 0, 1, 0);
  if (status) {
    is_fatal(L, status);
    operator_error(h, "timers: ", err, errlen);
    return -1;
  }
  *n = (uint64_t)lua_tonumber(L, -1);
  lua_pop(L, 1);
  return 0;
}

uint64_t sl_lua_host_memory(const sl_lua_host *h) {
  if (!h->L)
    return 0;
  return (uint64_t)lua_gc(h->L, LUA_GCCOUNT, 0) * 1024u + (uint64_t)lua_gc(h->L, LUA_GCCOUNTB, 0);
}

int sl_lua_host_watermark(sl_lua_host *h, int64_t *wm) {
  lua_State *L = h->L;
  if (!L || !h->job.event_time)
    return 0;
  push_host_fn(h, "watermark");
  if (lua_pcall(L, 0, 1, 0)) {
    lua_pop(L, 1);
    return -1;
  }
  int known = lua_isnumber(L, -1);
  if (known)
    *wm = (int64_t)lua_tonumber(L, -1);
  lua_pop(L, 1);
  return known;
}

int sl_lua_host_operator_counts(sl_lua_host *h, char *const *uids, uint64_t *counts, int n) {
  lua_State *L = h->L;
  for (int i = 0; i < n; i++)
    counts[i] = 0;
  if (!L)
    return 0;
  push_host_fn(h, "operator_counts");
  if (lua_pcall(L, 0, 1, 0)) {
    lua_pop(L, 1);
    return -1;
  }
  for (int i = 0; lua_istable(L, -1) && i < n; i++) {
    lua_getfield(L, -1, uids[i]);
    counts[i] = lua_isnumber(L, -1) ? (uint64_t)lua_tonumber(L, -1) : 0;
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  return 0;
}

void sl_lua_host_close(sl_lua_host *h) {
  if (h->L)
    lua_close(h->L);
  h->L = NULL;
  free(h->job.name);
  for (int i = 0; i < h->job.nsources; i++)
    free_endpoint(&h->job.sources[i]);
  free(h->job.sources);
  free_strings(h->job.kinds, h->job.nkinds);
  free(h->job.key_field);
  free(h->job.exchange_why);
  free_strings(h->job.uids, h->job.nuids);
  free_strings(h->job.files, h->job.nfiles);
  free_endpoint(&h->job.sink);
  memset(&h->job, 0, sizeof h->job);
}
