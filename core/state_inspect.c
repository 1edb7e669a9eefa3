/* state_inspect.c — the `sluice state ls|dump PATH` command: parses its arguments and prints what
 * state_inspect_read.c resolved (a table or JSON lines per state; JSON lines per keyed entry). */
#include "core/state_inspect.h"
#include "core/state_bootstrap.h"

#include "state/list_state.h"
#include "state/operator_state.h"
#include "state/state_backend.h"
#include "state/state_key.h"
#include "state/state_ttl.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *kind_name(uint8_t kind) {
  static const char *names[] = {"unknown",  "value",       "map",           "list",
                                "reducing", "aggregating", "operator_list", "timers"};
  return kind <= SL_STATE_KIND_MAX ? names[kind] : "unknown";
}

static int is_keyed(uint8_t kind) {
  return kind != SL_STATE_KIND_OPERATOR_LIST && kind != SL_STATE_KIND_TIMERS;
}

static void put_b64(sl_buf *b, const uint8_t *p, size_t n) {
  static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  sl_buf_putc(b, '"');
  for (size_t i = 0; i < n; i += 3) {
    uint32_t v =
        (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
    char q[4] = {tab[v >> 18], tab[(v >> 12) & 63], i + 1 < n ? tab[(v >> 6) & 63] : '=',
                 i + 2 < n ? tab[v & 63] : '='};
    sl_buf_put(b, q, 4);
  }
  sl_buf_putc(b, '"');
}

/* `"name": ` then the decoded value, or `"name_b64": "..."` when it cannot be decoded. */
static void put_decoded(sl_buf *b, const char *name, const uint8_t *p, size_t n) {
  sl_buf_put(b, ", \"", 3);
  sl_buf_put(b, name, strlen(name));
  size_t at = b->len;
  sl_buf_put(b, "\": ", 3);
  if (sl_insp_decode_json(p, n, b) == 0)
    return;
  b->len = at;
  sl_buf_put(b, "_b64\": ", 7);
  put_b64(b, p, n);
}

/* One keyed-layout entry of a resolved subtask: its record, its parsed composite key (state_key.h), its
 * state (an index into sl_insp.states), and whether it starts a new (key group, state, user key): entries
 * of one key are contiguous in key order. */
typedef struct entry {
  const sl_insp_rec *r;
  uint16_t kg;
  uint32_t id;
  const void *uk, *sub;
  size_t ul, sl;
  long idx;
  int new_key;
} entry;

/* Calls fn for every kv entry of every subtask whose state is registered, in key order per subtask. */
static void each_entry(const sl_insp *s, void (*fn)(const sl_insp *s, const entry *e, void *arg), void *arg) {
  for (unsigned t = 0; t < s->ntasks; t++) {
    const sl_insp_rec *prev = NULL;
    size_t prev_len = 0;
    for (size_t i = 0; i < s->tasks[t].n; i++) {
      entry e = {.r = &s->tasks[t].recs[i]};
      if (e.r->db != 1 || sl_key_parse(e.r->k, e.r->kl, &e.kg, &e.id, &e.uk, &e.ul, &e.sub, &e.sl) ||
          (e.idx = sl_insp_state_of(s, t, e.id)) < 0)
        continue;
      size_t plen = SL_KEY_HEADER_LEN + e.ul;
      e.new_key = !prev || prev_len != plen || memcmp(prev->k, e.r->k, plen);
      prev = e.r;
      prev_len = plen;
      fn(s, &e, arg);
    }
  }
}

/* Per-state figures for `ls`. */
typedef struct stats {
  uint64_t entries, bytes, keys, groups;
  uint8_t *group_seen; /* 65536 bits */
} stats;

static void count_entry(const sl_insp *s, const entry *e, void *arg) {
  stats *x = (stats *)arg + e->idx;
  (void)s;
  x->entries++;
  x->bytes += e->r->kl + e->r->vl;
  x->keys += e->new_key;
  if (!(x->group_seen[e->kg >> 3] & (1u << (e->kg & 7)))) {
    x->group_seen[e->kg >> 3] |= (uint8_t)(1u << (e->kg & 7));
    x->groups++;
  }
}

static int count(const sl_insp *s, stats *st) {
  for (size_t i = 0; i < s->nstates; i++)
    if (!(st[i].group_seen = calloc(8192, 1)))
      return -1;
  each_entry(s, count_entry, st);
  return 0;
}

static int cmd_ls(const sl_insp *s, int json) {
  stats *st = calloc(s->nstates ? s->nstates : 1, sizeof *st);
  int rc = st && count(s, st) == 0 ? 0 : 2;
  sl_buf b;
  sl_buf_init(&b);
  if (rc)
    fprintf(stderr, "sluice state: out of memory\n");
  else if (!json)
    printf("checkpoint %" PRIu64 "%s in %s: %u subtask(s), max parallelism %" PRIu64 "\n"
           "%-20s %-20s %-13s %10s %12s %-4s %10s %10s\n",
           s->meta.id, s->meta.savepoint ? " (savepoint)" : "", s->dir, s->ntasks,
           s->meta.max_parallelism ? s->meta.max_parallelism : SL_DEFAULT_MAX_PARALLELISM, "OPERATOR",
           "STATE", "KIND", "ENTRIES", "BYTES", "TTL", "KEYS", "KEY-GROUPS");
  for (size_t i = 0; rc == 0 && i < s->nstates; i++) {
    const sl_insp_state *x = &s->states[i];
    int keyed = is_keyed(x->kind);
    if (!json) {
      char keys[24] = "-", groups[24] = "-";
      if (keyed) {
        snprintf(keys, sizeof keys, "%" PRIu64, st[i].keys);
        snprintf(groups, sizeof groups, "%" PRIu64, st[i].groups);
      }
      printf("%-20s %-20s %-13s %10" PRIu64 " %12" PRIu64 " %-4s %10s %10s\n", x->op, x->name,
             kind_name(x->kind), st[i].entries, st[i].bytes, x->ttl ? "yes" : "no", keys, groups);
      continue;
    }
    sl_buf_reset(&b);
    sl_buf_put(&b, "{\"op\": ", 7);
    sl_buf_put_json_string(&b, x->op, strlen(x->op));
    sl_buf_put(&b, ", \"state\": ", 11);
    sl_buf_put_json_string(&b, x->name, strlen(x->name));
    char tail[256];
    int n = snprintf(tail, sizeof tail,
                     ", \"kind\": \"%s\", \"entries\": %" PRIu64 ", \"bytes\": %" PRIu64 ", \"ttl\": %s",
                     kind_name(x->kind), st[i].entries, st[i].bytes, x->ttl ? "true" : "false");
    sl_buf_put(&b, tail, (size_t)n);
    if (keyed)
      n = snprintf(tail, sizeof tail, ", \"keys\": %" PRIu64 ", \"key_groups\": %" PRIu64 "}\n", st[i].keys,
                   st[i].groups);
    else
      n = snprintf(tail, sizeof tail, ", \"keys\": null, \"key_groups\": null}\n");
    sl_buf_put(&b, tail, (size_t)n);
    fwrite(b.data, 1, b.len, stdout);
  }
  for (size_t i = 0; st && i < s->nstates; i++)
    free(st[i].group_seen);
  free(st);
  sl_buf_free(&b);
  return rc;
}

typedef struct dump_filter {
  const char *op, *state, *key;
  sl_buf *out;
  uint64_t index; /* a list element's position in its key's list */
} dump_filter;

/* Prints one keyed entry of state x; *index counts a list's elements (reset at each new key). */
static void dump_entry(sl_buf *b, const sl_insp_state *x, const sl_insp_rec *r, const void *uk, size_t ul,
                       const uint8_t *sub, size_t sl, uint64_t *index) {
  const uint8_t *v = r->k + r->kl;
  size_t vl = r->vl;
  if (x->kind == SL_STATE_KIND_LIST && sl != SL_LIST_SEQ_LEN)
    return; /* the list's header (its next sequence number), not an element */
  sl_buf_reset(b);
  sl_buf_put(b, "{\"op\": ", 7);
  sl_buf_put_json_string(b, x->op, strlen(x->op));
  sl_buf_put(b, ", \"state\": ", 11);
  sl_buf_put_json_string(b, x->name, strlen(x->name));
  sl_buf_put(b, ", \"kind\": \"", 11);
  sl_buf_put(b, kind_name(x->kind), strlen(kind_name(x->kind)));
  sl_buf_put(b, "\", \"key\": ", 10);
  sl_buf_put_json_string(b, uk, ul);
  int64_t expires = 0;
  int has_ttl = x->ttl && vl >= SL_TTL_HEADER_LEN && v[0] == SL_TTL_TAG;
  if (has_ttl) {
    uint64_t e = 0;
    for (int i = 1; i <= 8; i++)
      e = e << 8 | v[i];
    expires = (int64_t)e;
    v += SL_TTL_HEADER_LEN;
    vl -= SL_TTL_HEADER_LEN;
  }
  put_decoded(b, "value", v, vl);
  if (x->kind == SL_STATE_KIND_MAP) {
    put_decoded(b, "map_key", sub, sl);
  } else if (x->kind == SL_STATE_KIND_LIST) {
    sl_buf_put(b, ", \"index\": ", 11);
    sl_buf_put_int64(b, (int64_t)(*index)++);
  } else if (sl) {
    sl_buf_put(b, ", \"sub_key_b64\": ", 17);
    put_b64(b, sub, sl);
  }
  if (has_ttl) {
    sl_buf_put(b, ", \"expires_at\": ", 16);
    sl_buf_put_int64(b, expires);
  }
  sl_buf_put(b, "}\n", 2);
  fwrite(b->data, 1, b->len, stdout);
}

static void dump_one(const sl_insp *s, const entry *e, void *arg) {
  dump_filter *f = arg;
  const sl_insp_state *x = &s->states[e->idx];
  if (e->kg == SL_OP_STATE_GROUP || !is_keyed(x->kind) || strcmp(x->op, f->op) ||
      (f->state && strcmp(x->name, f->state)) ||
      (f->key && (strlen(f->key) != e->ul || memcmp(f->key, e->uk, e->ul))))
    return;
  if (e->new_key)
    f->index = 0;
  dump_entry(f->out, x, e->r, e->uk, e->ul, e->sub, e->sl, &f->index);
}

static int cmd_dump(const sl_insp *s, const dump_filter *f) {
  int op_found = 0, state_found = 0;
  for (size_t i = 0; i < s->nstates; i++)
    if (!strcmp(s->states[i].op, f->op)) {
      op_found = 1;
      state_found |= !f->state || !strcmp(s->states[i].name, f->state);
    }
  if (!op_found || !state_found) {
    fprintf(stderr, "sluice state: %s has no %s '%s'%s%s; operators and states there:\n", s->dir,
            op_found ? "state" : "operator", op_found ? f->state : f->op, op_found ? " of operator " : "",
            op_found ? f->op : "");
    for (size_t i = 0; i < s->nstates; i++)
      fprintf(stderr, "  %s %s\n", s->states[i].op, s->states[i].name);
    return 2;
  }
  sl_buf b;
  sl_buf_init(&b);
  dump_filter g = *f;
  g.out = &b;
  each_entry(s, dump_one, &g);
  int oom = b.oom;
  sl_buf_free(&b);
  if (oom)
    fprintf(stderr, "sluice state: out of memory\n");
  return oom ? 2 : 0;
}

static void usage(void) {
  fputs("usage: sluice state ls PATH [--json]\n"
        "       sluice state dump PATH --op UID [--state NAME] [--key KEY]\n"
        "       sluice state bootstrap JOB.lua --from FILE.jsonl --to SAVEPOINT [--max-parallelism M] "
        "[-- SCRIPT-ARGS...]\n"
        "PATH: a checkpoint (STATE-DIR/checkpoints/chk-N), a savepoint, or a state dir (its newest complete "
        "checkpoint)\n",
        stderr);
}

int sl_state_command(int argc, char **argv) {
  dump_filter f = {NULL, NULL, NULL, NULL, 0};
  const char *path = NULL;
  if (argc >= 1 && !strcmp(argv[0], "bootstrap")) /* the one that writes: core/state_bootstrap.c */
    return sl_state_bootstrap_command(argc - 1, argv + 1);
  int json = 0, ls = argc >= 1 && !strcmp(argv[0], "ls"), dump = argc >= 1 && !strcmp(argv[0], "dump");
  if (!ls && !dump) {
    usage();
    return 2;
  }
  for (int i = 1; i < argc; i++) {
    const char **opt = !strcmp(argv[i], "--op")      ? &f.op
                       : !strcmp(argv[i], "--state") ? &f.state
                       : !strcmp(argv[i], "--key")   ? &f.key
                                                     : NULL;
    if (ls && !strcmp(argv[i], "--json")) {
      json = 1;
    } else if (dump && opt && i + 1 < argc) {
      *opt = argv[++i];
    } else if (argv[i][0] != '-' && !path) {
      path = argv[i];
    } else {
      fprintf(stderr, "sluice state: unexpected argument '%s'\n", argv[i]);
      usage();
      return 2;
    }
  }
  if (!path || (dump && !f.op)) {
    fprintf(stderr, "sluice state: %s\n", path ? "dump needs --op UID" : "a PATH is needed");
    usage();
    return 2;
  }
  sl_insp s;
  char err[1024];
  if (sl_insp_open(path, &s, err, sizeof err)) {
    fprintf(stderr, "sluice state: %s\n", err);
    return 2;
  }
  int rc = ls ? cmd_ls(&s, json) : cmd_dump(&s, &f);
  sl_insp_free(&s);
  if (fflush(stdout) != 0 && rc == 0)
    rc = 1;
  return rc;
}
