/* state_backend.c — the backend's entry points: open/close, keyed get/put/delete through the write-back
 * cache, runtime metadata, state ids and counters (see state_backend.h for the contract).
 *
 * The hot path is sl_backend_get/sl_backend_put on a cached key: one hash, one probe, a memcpy into the
 * entry's own storage, no allocation and no LMDB call. A miss reads through the open write transaction and
 * caches the result, a miss included (a clean "deleted" entry), so the usual get-then-put of a new key
 * touches LMDB once. Gets never evict, which is what keeps earlier get pointers valid until the next
 * mutating call. The write transaction, spills and commit live in state_txn.c; cursors in
 * state_backend_iter.c.
 *
 * A miss first asks the key filter (key_filter.h) and skips LMDB for a key it rules out. Its invariant:
 * every key kv may hold — committed, in the write transaction, or in a frozen batch a worker is writing —
 * is in the filter. It holds because kv is built at open from what kv then holds (the working environment
 * is only replaced, by a snapshot load at recovery, while no backend has it open), and keys reach kv
 * afterwards only as cache entries written by sl_backend_put: a put adds its key whenever the cache did not
 * already hold it present (a present entry was put, or read from kv, so its key is in already). Deletes,
 * eviction and TTL expiry remove nothing from the filter; that only costs a false positive. Like the cache,
 * the filter assumes this backend is the only writer of its environment while open. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "state/file_modes.h"
#include "state/state_backend_internal.h"
#include "state/state_key.h"

#define SL_DEFAULT_CACHE_MAX ((size_t)64 << 20)
/* The key filter may take half as much memory again as the cache (8 bits per key: 32 MiB, enough for about
 * 16 M keys with the default cache; past that it turns off and misses read LMDB as before). */
#define SL_KEY_FILTER_SHARE 2
#define SL_DEFAULT_MAP_SIZE ((size_t)1 << 30)

int sl_bk_fail(sl_backend *b, int rc, const char *what) {
  snprintf(b->err, sizeof(b->err), "%s: %s", what, mdb_strerror(rc));
  switch (rc) {
  case ENOSPC:
    return SL_STATE_EFULL;
  case ENOMEM:
    return SL_STATE_ENOMEM;
  case MDB_PANIC:
  case MDB_CORRUPTED:
  case MDB_PAGE_NOTFOUND:
  case MDB_INVALID:
  case MDB_VERSION_MISMATCH:
    b->broken = 1;
    return SL_STATE_ECORRUPT;
  default:
    return SL_STATE_EIO;
  }
}

int sl_make_dirs(const char *dir) {
  char path[4096];
  size_t n = strlen(dir);
  if (n == 0 || n >= sizeof(path))
    return ENAMETOOLONG;
  memcpy(path, dir, n + 1);
  for (char *p = path + 1; *p; p++) {
    if (*p != '/')
      continue;
    *p = '\0';
    if (mkdir(path, SL_STATE_DIR_MODE) != 0 && errno != EEXIST)
      return errno;
    *p = '/';
  }
  if (mkdir(path, SL_STATE_DIR_MODE) != 0 && errno != EEXIST)
    return errno;
  return 0;
}

static int open_env(sl_backend *b, const char *dir, size_t map_size, const char **what) {
  char path[4096];
  int rc;
  if (snprintf(path, sizeof(path), "%s/state.mdb", dir) >= (int)sizeof(path))
    return ENAMETOOLONG;
  *what = "creating the environment";
  if ((rc = mdb_env_create(&b->env)) != 0)
    return rc;
  if ((rc = mdb_env_set_maxdbs(b->env, 4)) != 0 || (rc = mdb_env_set_mapsize(b->env, map_size)) != 0)
    return rc;
  *what = "opening state.mdb";
  if ((rc = mdb_env_open(b->env, path, MDB_NOSUBDIR | MDB_NOSYNC | MDB_NOTLS, SL_STATE_FILE_MODE)) != 0)
    return rc;
  int dead = 0;
  *what = "clearing stale readers";
  if ((rc = mdb_reader_check(b->env, &dead)) != 0)
    return rc;
  MDB_txn *txn;
  *what = "opening the named databases";
  if ((rc = mdb_txn_begin(b->env, NULL, 0, &txn)) != 0)
    return rc;
  if ((rc = mdb_dbi_open(txn, "kv", MDB_CREATE, &b->kv)) != 0 ||
      (rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &b->meta)) != 0 ||
      (rc = mdb_dbi_open(txn, "states", MDB_CREATE, &b->states)) != 0) {
    mdb_txn_abort(txn);
    return rc;
  }
  if ((rc = mdb_txn_commit(txn)) != 0)
    return rc;
  MDB_envinfo info;
  MDB_stat st;
  if ((rc = mdb_env_info(b->env, &info)) != 0 || (rc = mdb_env_stat(b->env, &st)) != 0)
    return rc;
  b->mapsize = info.me_mapsize;
  b->psize = st.ms_psize;
  return 0;
}

/* Builds the key filter from every key kv holds now (a pass over kv's keys, in key order). Anything that
 * goes wrong turns the filter off: the backend still works, reading LMDB on every miss. */
static void build_key_filter(sl_backend *b) {
  MDB_txn *txn;
  MDB_cursor *cur = NULL;
  MDB_stat st;
  MDB_val k, v;
  size_t max = b->cache_max / SL_KEY_FILTER_SHARE;
  if (mdb_txn_begin(b->env, NULL, MDB_RDONLY, &txn) != 0) {
    sl_key_filter_init(&b->keys, 0, 0);
    return;
  }
  int rc = mdb_stat(txn, b->kv, &st);
  sl_key_filter_init(&b->keys, rc ? 0 : st.ms_entries, max);
  if (!rc)
    rc = mdb_cursor_open(txn, b->kv, &cur);
  uint64_t batch[32]; /* hashed, then added together (sl_key_filter_add_many) */
  size_t n = 0;
  while (!rc && !b->keys.off && (rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0) {
    batch[n++] = sl_cache_hash(k.mv_data, k.mv_size);
    if (n == sizeof batch / sizeof *batch) {
      sl_key_filter_add_many(&b->keys, batch, n);
      n = 0;
    }
  }
  sl_key_filter_add_many(&b->keys, batch, n);
  if (rc != MDB_NOTFOUND)
    sl_key_filter_disable(&b->keys);
  if (cur)
    mdb_cursor_close(cur);
  mdb_txn_abort(txn);
}

int sl_backend_open(sl_backend **out, const char *dir, const sl_backend_options *opts, char *errbuf,
                    size_t errlen) {
  const char *what = "creating the directory";
  int rc, st = SL_STATE_EIO;
  if (errbuf && errlen)
    errbuf[0] = '\0';
  if (!out || !dir || !dir[0])
    return SL_STATE_EINVAL;
  *out = NULL;
  sl_backend *b = calloc(1, sizeof(*b));
  if (b) {
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->cv, NULL);
  }
  if (!b)
    return SL_STATE_ENOMEM;
  b->cache_max = opts && opts->cache_max_bytes ? opts->cache_max_bytes : SL_DEFAULT_CACHE_MAX;
  size_t map_size = opts && opts->map_size ? opts->map_size : SL_DEFAULT_MAP_SIZE;
  if (sl_cache_init(&b->cache) || sl_cache_init(&b->meta_pend) || sl_cache_init(&b->ids_pend) ||
      sl_spill_init(&b->spill, dir)) {
    st = SL_STATE_ENOMEM;
    rc = ENOMEM;
    what = "allocating the cache";
    goto fail;
  }
  if ((rc = sl_make_dirs(dir)) != 0 || (rc = open_env(b, dir, map_size, &what)) != 0) {
    st = sl_bk_fail(b, rc, what);
    goto fail;
  }
  /* A write transaction may dirty half a cache's worth of pages before it is committed (at least 1 MiB). */
  b->txn_max_pages = b->cache_max / 2 / b->psize;
  if (b->txn_max_pages < 256)
    b->txn_max_pages = 256;
  build_key_filter(b);
  *out = b;
  return SL_STATE_OK;

fail:
  if (errbuf && errlen)
    snprintf(errbuf, errlen, "%s: %s: %s", dir, what, mdb_strerror(rc));
  sl_backend_close(b);
  return st == SL_STATE_OK ? SL_STATE_EIO : st;
}

void sl_backend_close(sl_backend *b) {
  if (!b)
    return;
  sl_bk_wait_flush(b);
  sl_bk_orphan_iters(b);
  sl_bk_detach_unsettled(b);
  if (b->txn)
    mdb_txn_abort(b->txn);
  if (b->env)
    mdb_env_close(b->env);
  pthread_mutex_destroy(&b->mu);
  pthread_cond_destroy(&b->cv);
  sl_key_filter_free(&b->keys);
  sl_cache_free(&b->cache);
  sl_cache_free(&b->meta_pend);
  sl_cache_free(&b->ids_pend);
  sl_spill_close(&b->spill);
  free(b->spare_recs);
  free(b->spare_arena);
  free(b->flush_sort);
  free(b->ttl_ids);
  free(b);
}

const char *sl_backend_last_error(const sl_backend *b) {
  return b ? b->err : "no backend";
}

int sl_backend_mark_ttl_state(sl_backend *b, uint32_t state_id) {
  if (!b)
    return SL_STATE_EINVAL;
  for (size_t i = 0; i < b->nttl_ids; i++)
    if (b->ttl_ids[i] == state_id)
      return SL_STATE_OK;
  uint32_t *g = realloc(b->ttl_ids, (b->nttl_ids + 1) * sizeof *g);
  if (!g)
    return SL_STATE_ENOMEM;
  b->ttl_ids = g;
  b->ttl_ids[b->nttl_ids++] = state_id;
  return SL_STATE_OK;
}

int sl_backend_wants_barrier(const sl_backend *b) {
  return b && !b->flushing && sl_bk_cache_footprint(b) > b->cache_max / 2 &&
         b->cache.q[SL_CQ_WRITTEN].n > b->cache.count / 2;
}

void sl_backend_get_stats(const sl_backend *b, sl_backend_stats *out) {
  if (!b || !out)
    return;
  *out = b->stats;
  out->cache_bytes = sl_bk_cache_footprint(b);
}

static int key_ok(const void *key, size_t klen) {
  return key && klen > 0 && klen <= SL_KEY_MAX_LEN;
}

struct get_arg {
  MDB_dbi dbi;
  MDB_val k, v;
};

static int op_get(sl_backend *b, void *arg) {
  struct get_arg *g = arg;
  return mdb_get(b->txn, g->dbi, &g->k, &g->v);
}

int sl_backend_get(sl_backend *b, const void *key, size_t klen, const void **val, size_t *vlen) {
  if (!b || !key_ok(key, klen) || !val || !vlen)
    return SL_STATE_EINVAL;
  if (b->broken)
    return SL_STATE_ECORRUPT;
  uint64_t h = 0;
  sl_cache_entry *e = sl_cache_last(&b->cache, key, klen);
  if (!e) {
    h = sl_cache_hash(key, klen);
    /* While misses outnumber hits (a stream of new keys), the key filter's block a miss reads next is
     * fetched alongside the cache's probe: two memory latencies overlap instead of adding up. */
    if (b->stats.cache_misses > b->stats.cache_hits)
      sl_key_filter_prefetch(&b->keys, h);
    e = sl_cache_find(&b->cache, h, key, klen);
  }
  if (e) {
    b->stats.cache_hits++;
    e->flags |= SL_CE_REF;
  } else {
    b->stats.cache_misses++;
    struct get_arg g = {b->kv, {klen, (void *)key}, {0, NULL}};
    int rc = sl_key_filter_may_exist(&b->keys, h) ? sl_bk_read(b, op_get, &g, "reading a state entry")
                                                  : SL_STATE_NOTFOUND;
    if (rc == SL_STATE_NOTFOUND)
      e = sl_cache_set_absent(&b->cache, h, key, klen);
    else if (rc != SL_STATE_OK)
      return rc;
    else if (!(e = sl_cache_set(&b->cache, h, key, klen, g.v.mv_data, g.v.mv_size, 0))) {
      /* No memory to cache it: LMDB's own pointer is valid until the next write. */
      *val = g.v.mv_data;
      *vlen = g.v.mv_size;
      return SL_STATE_OK;
    }
    if (!e)
      return SL_STATE_NOTFOUND;
  }
  if (e->flags & SL_CE_DELETED)
    return SL_STATE_NOTFOUND;
  *val = sl_cache_value(e);
  *vlen = e->vlen;
  return SL_STATE_OK;
}

/* Whether e already holds exactly this value (or, with val NULL, is a deletion): then a put or delete changes
 * nothing, and leaving the entry as it is keeps a clean entry clean (an idle job's snapshot hook rewriting
 * the same operator state, for one, leaves nothing to checkpoint). */
static int holds(const sl_cache_entry *e, const void *val, size_t vlen, int deleted) {
  if (deleted)
    return (e->flags & SL_CE_DELETED) != 0;
  return !(e->flags & SL_CE_DELETED) && e->vlen == vlen &&
         (vlen == 0 || memcmp(e->data + e->klen, val, vlen) == 0);
}

int sl_backend_put(sl_backend *b, const void *key, size_t klen, const void *val, size_t vlen) {
  if (!b || !key_ok(key, klen) || (vlen && !val) || vlen > UINT32_MAX / 2)
    return SL_STATE_EINVAL;
  if (b->broken)
    return SL_STATE_ECORRUPT;
  sl_cache_entry *e = sl_cache_last(&b->cache, key, klen);
  if (e && vlen <= e->vcap) {
    if (holds(e, val, vlen, 0))
      return SL_STATE_OK;
    /* The get-then-put of one key: rewrite the value in place, no hash, no probe. A deleted entry with room
     * for a value once held one, so its key is in the key filter already; it is added again all the same
     * (rare, and the filter's invariant then does not rest on that argument). */
    if (e->flags & SL_CE_DELETED)
      sl_key_filter_add(&b->keys, sl_cache_hash(key, klen));
    if (vlen)
      memmove(sl_cache_value(e), val, vlen);
    e->vlen = (uint32_t)vlen;
    /* The get-then-put of one record is one use: the reference bit is earned by a later record's (see
     * SL_CE_REF), so that a key seen once goes at the hand's first pass. */
    e->flags = SL_CE_DIRTY | (e->flags & SL_CE_REF);
  } else {
    uint64_t h = sl_cache_hash(key, klen);
    if (!e && (e = sl_cache_find(&b->cache, h, key, klen)) != NULL && holds(e, val, vlen, 0)) {
      e->flags |= SL_CE_REF;
      return SL_STATE_OK;
    }
    /* Added before the entry is set: were the set to fail, an extra key costs only a false positive. */
    if (!e || (e->flags & SL_CE_DELETED))
      sl_key_filter_add(&b->keys, h);
    if (!(e = sl_cache_set(&b->cache, h, key, klen, val, vlen, SL_CE_DIRTY)))
      return SL_STATE_ENOMEM;
  }
  sl_bk_note_written(b, e);
  return sl_bk_cache_footprint(b) > b->cache_max ? sl_bk_maybe_spill(b) : SL_STATE_OK;
}

int sl_backend_delete(sl_backend *b, const void *key, size_t klen) {
  if (!b || !key_ok(key, klen))
    return SL_STATE_EINVAL;
  if (b->broken)
    return SL_STATE_ECORRUPT;
  uint64_t h = sl_cache_hash(key, klen);
  sl_cache_entry *e = sl_cache_find(&b->cache, h, key, klen);
  if (e && holds(e, NULL, 0, 1))
    return SL_STATE_OK;
  if (!(e = sl_cache_set(&b->cache, h, key, klen, NULL, 0, SL_CE_DIRTY | SL_CE_DELETED)))
    return SL_STATE_ENOMEM;
  sl_bk_note_written(b, e);
  return sl_bk_cache_footprint(b) > b->cache_max ? sl_bk_maybe_spill(b) : SL_STATE_OK;
}

int sl_backend_changed(const sl_backend *b) {
  return b && sl_bk_change_count(b) != b->synced_changes;
}

/* Metadata: pending puts are kept in memory (so an aborted transaction loses none) and written at commit. */
static int name_ok(const char *name) {
  return name && name[0] && strlen(name) <= SL_KEY_MAX_LEN;
}

int sl_backend_meta_put(sl_backend *b, const char *name, const void *val, size_t len) {
  if (!b || !name_ok(name) || (len && !val) || len > UINT32_MAX / 2)
    return SL_STATE_EINVAL;
  if (b->broken)
    return SL_STATE_ECORRUPT;
  /* The same bytes as the pending or committed value change nothing (a source's offset saved again at a
   * barrier of an idle job): nothing to write, and sl_backend_changed stays 0. */
  const void *old;
  size_t olen;
  if (sl_backend_meta_get(b, name, &old, &olen) == SL_STATE_OK && olen == len &&
      (len == 0 || memcmp(old, val, len) == 0))
    return SL_STATE_OK;
  size_t n = strlen(name);
  if (!sl_cache_set(&b->meta_pend, sl_cache_hash(name, n), name, n, val, len, SL_CE_DIRTY))
    return SL_STATE_ENOMEM;
  b->changes++;
  return SL_STATE_OK;
}

int sl_backend_meta_get(sl_backend *b, const char *name, const void **val, size_t *len) {
  if (!b || !name_ok(name) || !val || !len)
    return SL_STATE_EINVAL;
  if (b->broken)
    return SL_STATE_ECORRUPT;
  size_t n = strlen(name);
  sl_cache_entry *e = sl_cache_find(&b->meta_pend, sl_cache_hash(name, n), name, n);
  if (e) {
    *val = sl_cache_value(e);
    *len = e->vlen;
    return SL_STATE_OK;
  }
  struct get_arg g = {b->meta, {n, (void *)name}, {0, NULL}};
  int rc = sl_bk_read(b, op_get, &g, "reading metadata");
  if (rc == SL_STATE_OK) {
    *val = g.v.mv_data;
    *len = g.v.mv_size;
  }
  return rc;
}

static int op_count_states(sl_backend *b, void *arg) {
  MDB_stat st;
  int rc = mdb_stat(b->txn, b->states, &st);
  if (!rc)
    *(size_t *)arg = st.ms_entries;
  return rc;
}

/* Ids are dense (1, 2, ...) and never deleted, so the next one is the number of ids known plus one. New ids
 * stay in memory until the commit writes them, like metadata. Pending ids may also be committed already (a
 * checkpoint worker commits them before sl_frozen_finish drops them from ids_pend), so they are not simply
 * added to the committed count: the next id follows the highest of both. A pending row may also be a kind
 * recorded for an id already committed; its id is among the known ones, so it changes nothing here. */
static uint32_t be32(const uint8_t *v) {
  return (uint32_t)v[0] << 24 | (uint32_t)v[1] << 16 | (uint32_t)v[2] << 8 | (uint32_t)v[3];
}

static uint32_t max_pending_id(const sl_cache *p) {
  uint32_t max = 0;
  for (size_t i = 0; i <= p->mask; i++) {
    const sl_cache_entry *e = p->slots[i].e;
    if (!e || e->vlen < 4)
      continue;
    uint32_t id = be32(e->data + e->klen);
    if (id > max)
      max = id;
  }
  return max;
}

/* A registry row: "op_uid\0state_name" (key) -> id (u32 BE) [kind, flags] (see state_backend.h). */
#define REG_ROW_OLD 4
#define REG_ROW 6
#define REG_FLAG_TTL 1u

typedef struct reg_key {
  uint8_t k[SL_KEY_MAX_LEN];
  size_t len;
  uint64_t hash;
} reg_key;

static int reg_key_make(reg_key *rk, const char *op_uid, const char *state_name) {
  if (!op_uid || !op_uid[0] || !state_name || !state_name[0])
    return SL_STATE_EINVAL;
  size_t ol = strlen(op_uid), sl = strlen(state_name);
  if (ol + 1 + sl > sizeof(rk->k))
    return SL_STATE_EINVAL;
  memcpy(rk->k, op_uid, ol + 1);
  memcpy(rk->k + ol + 1, state_name, sl);
  rk->len = ol + 1 + sl;
  rk->hash = sl_cache_hash(rk->k, rk->len);
  return SL_STATE_OK;
}

/* Finds the row of rk: pending first, then LMDB. Returns OK with *id and *info, NOTFOUND, or an error. */
static int reg_find(sl_backend *b, const reg_key *rk, uint32_t *id, sl_state_info *info) {
  const uint8_t *p;
  size_t n;
  sl_cache_entry *e = sl_cache_find(&b->ids_pend, rk->hash, rk->k, rk->len);
  if (e) {
    p = sl_cache_value(e);
    n = e->vlen;
  } else {
    struct get_arg g = {b->states, {rk->len, (void *)rk->k}, {0, NULL}};
    int rc = sl_bk_read(b, op_get, &g, "reading a state id");
    if (rc != SL_STATE_OK)
      return rc;
    p = g.v.mv_data;
    n = g.v.mv_size;
  }
  /* A kind this build does not know (a newer sluice's) is returned as it is: it differs from every kind
   * asked for, so a registration refuses it rather than reading its bytes. */
  if (n != REG_ROW_OLD && n != REG_ROW)
    return sl_bk_fail(b, MDB_CORRUPTED, "reading a state id");
  *id = be32(p);
  info->kind = n == REG_ROW ? p[4] : SL_STATE_KIND_UNKNOWN;
  info->ttl = n == REG_ROW ? (p[5] & REG_FLAG_TTL) != 0 : 0;
  return SL_STATE_OK;
}

/* Writes the row of rk (pending until the next commit). id 0 assigns the next free id. */
static int reg_put(sl_backend *b, const reg_key *rk, uint32_t id, const sl_state_info *info, uint32_t *out) {
  if (id == 0) {
    size_t known = 0;
    int rc = sl_bk_read(b, op_count_states, &known, "counting state ids");
    if (rc != SL_STATE_OK)
      return rc;
    uint32_t pend = max_pending_id(&b->ids_pend);
    id = (known > pend ? (uint32_t)known : pend) + 1;
  }
  uint8_t row[REG_ROW] = {(uint8_t)(id >> 24), (uint8_t)(id >> 16), (uint8_t)(id >> 8),
                          (uint8_t)id,         info->kind,          info->ttl ? REG_FLAG_TTL : 0};
  if (!sl_cache_set(&b->ids_pend, rk->hash, rk->k, rk->len, row, sizeof row, SL_CE_DIRTY))
    return SL_STATE_ENOMEM;
  *out = id;
  return SL_STATE_OK;
}

int sl_backend_state_id(sl_backend *b, const char *op_uid, const char *state_name, uint32_t *id) {
  reg_key rk;
  sl_state_info info;
  if (!b || !id || reg_key_make(&rk, op_uid, state_name) != SL_STATE_OK)
    return SL_STATE_EINVAL;
  if (b->broken)
    return SL_STATE_ECORRUPT;
  int rc = reg_find(b, &rk, id, &info);
  if (rc != SL_STATE_NOTFOUND)
    return rc;
  info.kind = SL_STATE_KIND_UNKNOWN;
  info.ttl = 0;
  return reg_put(b, &rk, 0, &info, id);
}

int sl_backend_state_lookup(sl_backend *b, const char *op_uid, const char *state_name, uint32_t *id,
                            sl_state_info *info) {
  reg_key rk;
  if (!b || !id || !info || reg_key_make(&rk, op_uid, state_name) != SL_STATE_OK)
    return SL_STATE_EINVAL;
  if (b->broken)
    return SL_STATE_ECORRUPT;
  return reg_find(b, &rk, id, info);
}

int sl_backend_state_register(sl_backend *b, const char *op_uid, const char *state_name,
                              const sl_state_info *want, uint32_t *id, sl_state_info *stored) {
  reg_key rk;
  if (stored) {
    stored->kind = SL_STATE_KIND_UNKNOWN;
    stored->ttl = 0;
  }
  if (!b || !id || !want || !stored || want->kind == SL_STATE_KIND_UNKNOWN ||
      want->kind > SL_STATE_KIND_MAX || want->ttl > 1 || reg_key_make(&rk, op_uid, state_name) != SL_STATE_OK)
    return SL_STATE_EINVAL;
  if (b->broken)
    return SL_STATE_ECORRUPT;
  sl_state_info have;
  uint32_t found = 0;
  int rc = reg_find(b, &rk, &found, &have);
  if (rc == SL_STATE_NOTFOUND)
    return reg_put(b, &rk, 0, want, id);
  if (rc != SL_STATE_OK)
    return rc;
  *stored = have;
  if (have.kind == SL_STATE_KIND_UNKNOWN)
    return reg_put(b, &rk, found, want, id);
  if (have.kind != want->kind || have.ttl != want->ttl)
    return SL_STATE_EINVAL;
  *id = found;
  return SL_STATE_OK;
}

size_t sl_backend_map_reserve(void) {
  size_t want = (size_t)16 << 30;
  struct rlimit rl;
  if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
    size_t eighth = (size_t)(rl.rlim_cur / 8);
    size_t floor = (size_t)64 << 20;
    if (eighth < want)
      want = eighth > floor ? eighth : floor;
  }
  return want;
}
