/* state_delta.c — applies an incremental checkpoint's delta to a restored environment (see state_delta.h). */
#include "state/state_delta.h"
#include "state/file_modes.h"

#include <errno.h>
#include <lmdb.h>
#include <stdio.h>
#include <string.h>

typedef struct applier {
  MDB_txn *txn;
  MDB_dbi dbi[4];
  sl_snapshot_keep_fn keep;
  void *arg;
} applier;

/* The marker a refused registration leaves in "states" (see sl_snapshot_load): "\0" + the id. */
static int state_dropped(applier *a, const uint8_t id[4]) {
  uint8_t tomb[5] = {0};
  memcpy(tomb + 1, id, 4);
  MDB_val k = {sizeof tomb, tomb}, v;
  return mdb_get(a->txn, a->dbi[3], &k, &v) == 0;
}

static int apply_one(void *arg, uint8_t tag, const void *k, size_t kl, const void *v, size_t vl) {
  applier *a = arg;
  MDB_val key = {kl, (void *)k}, val = {vl, (void *)v};
  int rc;
  switch (tag) {
  case 1: /* kv put; its state id is bytes 2..5 of the composite key */
    return kl >= 6 && state_dropped(a, (const uint8_t *)k + 2) ? 0
                                                               : mdb_put(a->txn, a->dbi[1], &key, &val, 0);
  case 4: /* kv delete */
    rc = mdb_del(a->txn, a->dbi[1], &key, NULL);
    return rc == MDB_NOTFOUND ? 0 : rc;
  case 2:
    return mdb_put(a->txn, a->dbi[2], &key, &val, 0);
  case 3: {
    char name[1024];
    size_t n = kl < sizeof name - 1 ? kl : sizeof name - 1;
    memcpy(name, k, n);
    name[n] = '\0';
    const char *state = memchr(name, '\0', n) ? name + strlen(name) + 1 : "";
    /* The value is the id (4 bytes), then the kind and flags where the registry records them. */
    if (vl >= 4 && name[0] && a->keep && !a->keep(name, state, a->arg)) {
      uint8_t tomb[5] = {0};
      memcpy(tomb + 1, v, 4);
      MDB_val tk = {sizeof tomb, tomb};
      return mdb_put(a->txn, a->dbi[3], &tk, &val, 0);
    }
    return mdb_put(a->txn, a->dbi[3], &key, &val, 0);
  }
  default:
    return MDB_CORRUPTED;
  }
}

int sl_snapshot_apply_delta(const char *dir, const char *path, sl_snapshot_keep_fn keep, void *arg, char *err,
                            size_t errlen) {
  char env_path[4200];
  MDB_env *env = NULL;
  applier a = {NULL, {0, 0, 0, 0}, keep, arg};
  snprintf(env_path, sizeof env_path, "%s/state.mdb", dir);
  int rc = mdb_env_create(&env);
  if (!rc)
    rc = mdb_env_set_maxdbs(env, 4);
  if (!rc)
    rc = mdb_env_set_mapsize(env, sl_backend_map_reserve());
  if (!rc)
    rc = mdb_env_open(env, env_path, MDB_NOSUBDIR | MDB_NOSYNC | MDB_NOLOCK, SL_STATE_FILE_MODE);
  if (!rc)
    rc = mdb_txn_begin(env, NULL, 0, &a.txn);
  if (!rc && !(rc = mdb_dbi_open(a.txn, "kv", MDB_CREATE, &a.dbi[1])) &&
      !(rc = mdb_dbi_open(a.txn, "meta", MDB_CREATE, &a.dbi[2])))
    rc = mdb_dbi_open(a.txn, "states", MDB_CREATE, &a.dbi[3]);
  if (rc) {
    snprintf(err, errlen, "opening %s to apply %s: %s", env_path, path, mdb_strerror(rc));
  } else if (sl_snapfile_visit(path, apply_one, &a, err, errlen) == 0) {
    rc = mdb_txn_commit(a.txn);
    a.txn = NULL;
    if (!rc)
      rc = mdb_env_sync(env, 1);
    if (rc)
      snprintf(err, errlen, "committing %s: %s", path, mdb_strerror(rc));
  } else {
    rc = -1;
  }
  if (a.txn)
    mdb_txn_abort(a.txn);
  if (env)
    mdb_env_close(env);
  return rc ? -1 : 0;
}
