/* fuzz_seeds.c — writes the seed inputs of the fuzz targets with sluice's own writers, at test time, so that
 * the seeds follow the formats whenever they change:
 *   fuzz_seeds DIR  ->  DIR/checkpoint_meta/  _metadata files by sl_checkpoint_meta_write
 *                       DIR/snapshot/         a full snapshot (sl_snapshot_write) and a delta
 *                                             (sl_frozen_write_delta), each behind fuzz_snapshot.c's mode
 * byte DIR/codec/            operator state as sl_op_state_write stores it, a composite key, and a value with
 * its TTL header, in fuzz_codec.c's input form Returns 0, or 1 with the reason on stderr. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/checkpoint_meta.h"
#include "fuzz_scratch.h"
#include "state/byte_order.h"
#include "state/keyed_scope.h"
#include "state/operator_state.h"
#include "state/state_delta.h"
#include "state/state_flush.h"
#include "state/state_key.h"
#include "state/state_snapshot.h"
#include "state/state_ttl.h"

static char out_dir[4096];

static void die(const char *what, const char *detail) {
  fprintf(stderr, "fuzz_seeds: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
  exit(1);
}

static void check(int rc, const char *what) {
  if (rc != 0)
    die(what, NULL);
}

/* Writes out_dir/sub/name = prefix (if any) + the bytes of file src. */
static void seed_from_file(const char *sub, const char *name, int prefix, const char *src) {
  FILE *f = fopen(src, "rb");
  if (!f)
    die("cannot read", src);
  uint8_t *buf = malloc(1 << 20);
  if (!buf)
    die("out of memory", NULL);
  size_t n = 0;
  if (prefix >= 0)
    buf[n++] = (uint8_t)prefix;
  n += fread(buf + n, 1, (1 << 20) - n, f);
  fclose(f);
  char path[8300];
  snprintf(path, sizeof path, "%s/%s/%s", out_dir, sub, name);
  fuzz_write_file(path, buf, n);
  free(buf);
}

static void seed_bytes(const char *sub, const char *name, const void *p, size_t n) {
  char path[8300];
  snprintf(path, sizeof path, "%s/%s/%s", out_dir, sub, name);
  fuzz_write_file(path, p, n);
}

static void meta_seeds(void) {
  char dir[4200], path[4300], err[512];
  fuzz_scratch_path(dir, sizeof dir, "meta");
  mkdir(dir, 0700);
  snprintf(path, sizeof path, "%s/_metadata", dir);
  sl_checkpoint_meta m;
  memset(&m, 0, sizeof m);
  m.id = 7;
  m.time_ms = 1764000000123ull;
  m.duration_ms = 17;
  m.alignment_ms = 3;
  m.barrier_ms = 5;
  m.snapshot_bytes = 123456;
  m.snapshot_entries = 987;
  m.sink_committed = 4096;
  m.sink_first_part = 6;
  m.sink_part = 777;
  snprintf(m.sink_path, sizeof m.sink_path, "/data/out dir/counts.jsonl");
  if (sl_checkpoint_meta_write(dir, &m, err, sizeof err))
    die("sl_checkpoint_meta_write", err);
  seed_from_file("checkpoint_meta", "full", -1, path);
  /* An incremental savepoint to stdout. */
  m.id = 12;
  m.base_id = 10;
  m.savepoint = 1;
  m.sink_path[0] = '\0';
  if (sl_checkpoint_meta_write(dir, &m, err, sizeof err))
    die("sl_checkpoint_meta_write", err);
  seed_from_file("checkpoint_meta", "savepoint_stdout", -1, path);
}

static uint32_t state_id(sl_backend *b, const char *op, const char *name) {
  uint32_t id;
  check(sl_backend_state_id(b, op, name, &id), "sl_backend_state_id");
  return id;
}

static void put_key(sl_backend *b, uint32_t sid, const char *uk, const char *val) {
  uint8_t k[SL_KEY_MAX_LEN];
  size_t kl = sl_key_compose(k, sizeof k, sl_key_group(uk, strlen(uk), 0), sid, uk, strlen(uk), NULL, 0);
  check(sl_backend_put(b, k, kl, val, strlen(val)), "sl_backend_put");
}

/* A full snapshot of a small backend, then a delta of changes made after it (puts, a delete, metadata and a
 * new state), both written by the code the runtime uses at a checkpoint. */
static void snapshot_seeds(void) {
  char dir[4200], snap[4300], delta[4300], err[512];
  uint64_t bytes, entries;
  fuzz_scratch_path(dir, sizeof dir, "snapshot");
  snprintf(snap, sizeof snap, "%s/state.snap", dir);
  snprintf(delta, sizeof delta, "%s/delta.snap", dir);
  sl_backend *b;
  if (sl_backend_open(&b, dir, NULL, err, sizeof err))
    die("sl_backend_open", err);
  uint32_t a = state_id(b, "a", "count"), c = state_id(b, "b", "seen");
  put_key(b, a, "/api/users", "3");
  put_key(b, a, "/index.html", "12");
  put_key(b, c, "10.0.0.1", "1");
  check(sl_backend_meta_put(b, "source.offset", "1234", 4), "sl_backend_meta_put");
  check(sl_backend_commit(b, 0), "sl_backend_commit");
  sl_snapshot *s;
  check(sl_snapshot_begin(b, &s), "sl_snapshot_begin");
  if (sl_snapshot_write(s, snap, &bytes, &entries, err, sizeof err))
    die("sl_snapshot_write", err);
  sl_snapshot_end(s);

  put_key(b, a, "/api/users", "4");
  put_key(b, state_id(b, "b", "new"), "k", "v");
  uint8_t k[SL_KEY_MAX_LEN];
  size_t kl = sl_key_compose(k, sizeof k, sl_key_group("10.0.0.1", 8, 0), c, "10.0.0.1", 8, NULL, 0);
  check(sl_backend_delete(b, k, kl), "sl_backend_delete");
  check(sl_backend_meta_put(b, "source.offset", "2048", 4), "sl_backend_meta_put");
  sl_frozen *f;
  check(sl_backend_freeze(b, &f), "sl_backend_freeze (the write transaction should be empty)");
  if (sl_frozen_flush(f, &s, err, sizeof err))
    die("sl_frozen_flush", err);
  if (sl_frozen_write_delta(f, delta, &bytes, &entries, err, sizeof err))
    die("sl_frozen_write_delta", err);
  sl_snapshot_end(s);
  sl_frozen_complete(f);
  sl_backend_close(b);

  /* The mode byte of fuzz_snapshot.c: 1 repair the trailer, 2 apply as a delta, 4 refuse odd op uids. */
  seed_from_file("snapshot", "full", 0, snap);
  seed_from_file("snapshot", "full_keep_even", 5, snap);
  seed_from_file("snapshot", "delta", 2, delta);
  seed_from_file("snapshot", "delta_keep_even", 7, delta);
}

/* Operator state of three instances as sl_op_state_write stores it, re-encoded as fuzz_codec.c's records
 * (the key after [group][state id], the value). */
static void codec_seeds(void) {
  char dir[4200], err[512];
  fuzz_scratch_path(dir, sizeof dir, "codec");
  sl_backend *b;
  if (sl_backend_open(&b, dir, NULL, err, sizeof err))
    die("sl_backend_open", err);
  const sl_op_item items[] = {{"offset=17", 9}, {"", 0}, {"buffered record", 15}};
  for (uint32_t i = 0; i < 3; i++)
    check(sl_op_state_write(b, 1, i, 3, items, 3 - i), "sl_op_state_write");
  check(sl_backend_commit(b, 0), "sl_backend_commit");
  uint8_t prefix[6], buf[4096];
  sl_put_be16(prefix, SL_OP_STATE_GROUP);
  sl_put_be32(prefix + 2, 1);
  size_t n = 0;
  buf[n++] = 0; /* even split */
  buf[n++] = 1; /* onto two instances */
  sl_backend_iter *it;
  const void *k, *v;
  size_t kl, vl;
  check(sl_backend_iter_open(b, prefix, sizeof prefix, &it), "sl_backend_iter_open");
  while (sl_backend_iter_next(it, &k, &kl, &v, &vl) == SL_STATE_OK) {
    if (kl - 6 > 255 || vl > 255 || n + 2 + kl - 6 + vl > sizeof buf)
      die("operator state entry too large for a seed", NULL);
    buf[n++] = (uint8_t)(kl - 6);
    buf[n++] = (uint8_t)vl;
    memcpy(buf + n, (const uint8_t *)k + 6, kl - 6);
    n += kl - 6;
    memcpy(buf + n, v, vl);
    n += vl;
  }
  sl_backend_iter_close(it);
  seed_bytes("codec", "operator_state", buf, n);
  buf[0] = 1; /* the same, as union onto three instances */
  buf[1] = 2;
  seed_bytes("codec", "operator_state_union", buf, n);

  kl = sl_key_compose(buf, sizeof buf, 17, 3, "user-42", 7, "map key", 7);
  seed_bytes("codec", "map_key", buf, kl);

  /* A TTL-wrapped value, as a TTL state stores it. */
  int64_t now = 1764000000000;
  sl_keyed_scope sc;
  sl_scope_init(&sc, b, 0);
  sl_scope_set_clock(&sc, sl_clock_manual, &now);
  sl_ttl t = {60000, SL_TTL_ON_CREATE_AND_WRITE, SL_TTL_NEVER_RETURN_EXPIRED};
  kl = sl_key_compose(buf, sizeof buf, 5, 2, "k", 1, NULL, 0);
  check(sl_ttl_put(&sc, &t, buf, kl, "hello", 5), "sl_ttl_put");
  check(sl_backend_get(b, buf, kl, &v, &vl), "sl_backend_get");
  seed_bytes("codec", "ttl_value", v, vl);
  sl_scope_close(&sc);
  sl_backend_close(b);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 1;
  }
  snprintf(out_dir, sizeof out_dir, "%s", argv[1]);
  const char *subs[] = {"", "/checkpoint_meta", "/snapshot", "/codec"};
  for (size_t i = 0; i < sizeof subs / sizeof *subs; i++) {
    char path[4200];
    snprintf(path, sizeof path, "%s%s", out_dir, subs[i]);
    mkdir(path, 0755);
  }
  meta_seeds();
  snapshot_seeds();
  codec_seeds();
  return 0;
}
