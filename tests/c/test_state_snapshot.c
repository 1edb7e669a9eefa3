/* test_state_snapshot.c — full snapshots of a backend (state/state_snapshot.c): a snapshot holds exactly the
 * state at sl_snapshot_begin while writes go on, verify rejects every kind of damaged file with a reason,
 * load never touches the existing environment unless the file is good, the keep filter drops a state's
 * entries and registration without letting a later state reuse a kept id, and a 100k-entry snapshot
 * round-trips. Each test gets its own directory under $TMPDIR. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "snapshot_expect.h"
#include "state/state_backend.h"
#include "state/state_delta.h"
#include "state/state_key.h"
#include "state/state_snapshot.h"
#include "state/state_ttl.h"
#include "state_expect.h"
#define TEST_TMPDIR_PREFIX "sl_snapshot"
#include "test_tmpdir.h"

static void path_in(char *out, const void **state, const char *name) {
  snprintf(out, 4096, "%s/%s", (const char *)*state, name);
}

static uint32_t sid(sl_backend *b, const char *op, const char *name) {
  uint32_t id = 0;
  assert_int_equal(sl_backend_state_id(b, op, name, &id), SL_STATE_OK);
  assert_true(id > 0);
  return id;
}

/* The composite key of (state id, user key "k<i>") in key group i % 128. */
static size_t ckey(uint8_t *out, uint32_t state_id, int i) {
  char uk[32];
  int n = snprintf(uk, sizeof uk, "k%d", i);
  size_t len = sl_key_compose(out, SL_KEY_MAX_LEN, (uint16_t)(i % 128), state_id, uk, (size_t)n, NULL, 0);
  assert_true(len > 0);
  return len;
}

static void put_kv(sl_backend *b, uint32_t state_id, int i, const char *val) {
  uint8_t k[SL_KEY_MAX_LEN];
  size_t kl = ckey(k, state_id, i);
  assert_int_equal(sl_backend_put(b, k, kl, val, strlen(val)), SL_STATE_OK);
}

static void del_kv(sl_backend *b, uint32_t state_id, int i) {
  uint8_t k[SL_KEY_MAX_LEN];
  size_t kl = ckey(k, state_id, i);
  assert_int_equal(sl_backend_delete(b, k, kl), SL_STATE_OK);
}

/* want NULL: the entry must be absent. */
static void expect_kv(sl_backend *b, uint32_t state_id, int i, const char *want) {
  uint8_t k[SL_KEY_MAX_LEN];
  size_t kl = ckey(k, state_id, i);
  const void *v = NULL;
  size_t vl = 0;
  int rc = sl_backend_get(b, k, kl, &v, &vl);
  expect_found(rc, v, vl, want);
}

static void put_meta(sl_backend *b, const char *name, const char *val) {
  assert_int_equal(sl_backend_meta_put(b, name, val, strlen(val)), SL_STATE_OK);
}

static uint64_t count_kv(sl_backend *b) {
  sl_backend_iter *it;
  const void *k, *v;
  size_t kl, vl;
  uint64_t n = 0;
  assert_int_equal(sl_backend_iter_open(b, NULL, 0, &it), SL_STATE_OK);
  while (sl_backend_iter_next(it, &k, &kl, &v, &vl) == SL_STATE_OK)
    n++;
  sl_backend_iter_close(it);
  return n;
}

static uint8_t *read_all(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *p = malloc((size_t)n + 1);
  assert_non_null(p);
  assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
  fclose(f);
  *len = (size_t)n;
  return p;
}

static void write_all(const char *path, const void *p, size_t len) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  if (len)
    assert_int_equal(fwrite(p, 1, len, f), len);
  assert_int_equal(fclose(f), 0);
}

static uint32_t le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Counts the records of db tag (1 kv, 2 meta, 3 states) in a snapshot file whose key starts with prefix. */
static uint64_t count_records(const char *path, uint8_t tag, const void *prefix, size_t plen) {
  size_t len;
  uint8_t *p = read_all(path, &len);
  uint64_t n = 0;
  assert_true(len >= 8 + 13);
  for (size_t off = 8; off < len - 13;) {
    uint32_t kl = le32(p + off + 1), vl = le32(p + off + 5);
    if (p[off] == tag && kl >= plen && memcmp(p + off + 9, prefix, plen) == 0)
      n++;
    off += 9 + (size_t)kl + vl;
  }
  free(p);
  return n;
}

static void expect_verify_fails(const char *path, const char *reason_part) {
  char err[512] = "";
  assert_int_equal(sl_snapshot_verify(path, err, sizeof err), SL_SNAPSHOT_CORRUPT);
  assert_true(strlen(err) > 0);
  if (reason_part && !strstr(err, reason_part)) {
    fprintf(stderr, "reason '%s' lacks '%s'\n", err, reason_part);
    fail();
  }
}

static void test_crc32_known_value(void **state) {
  (void)state;
  assert_int_equal(sl_crc32(0, "123456789", 9), 0xCBF43926u);
  /* Incremental use gives the same result as one call. */
  assert_int_equal(sl_crc32(sl_crc32(0, "1234", 4), "56789", 5), 0xCBF43926u);
  assert_int_equal(sl_crc32(0, "", 0), 0u);
  assert_int_not_equal(sl_crc32(0, "123456780", 9), 0xCBF43926u);
}

/* The snapshot holds exactly the state committed before sl_snapshot_begin, although the backend goes on
 * writing and committing before and while the file is written. */
static void test_snapshot_is_state_at_begin(void **state) {
  char src[4096], dst[4096], snap[4096], v[64];
  path_in(src, (const void **)state, "src");
  path_in(dst, (const void **)state, "dst");
  path_in(snap, (const void **)state, "state.snap");
  sl_backend *b = open_backend(src, NULL);
  uint32_t counts = sid(b, "op1", "count"), names = sid(b, "op1", "names");
  assert_int_not_equal(counts, names);
  for (int i = 0; i < 50; i++) {
    snprintf(v, sizeof v, "old-%d", i);
    put_kv(b, counts, i, v);
  }
  for (int i = 0; i < 10; i++)
    put_kv(b, names, i, "name");
  put_meta(b, "source.offset", "100");
  put_meta(b, "job", "wordcount");
  assert_int_equal(sl_backend_commit(b, 0), SL_STATE_OK);

  sl_snapshot *s = NULL;
  assert_int_equal(sl_snapshot_begin(b, &s), SL_STATE_OK);
  /* Changes after the barrier, committed twice: none of them belongs in the snapshot. */
  put_kv(b, counts, 0, "new-0");
  del_kv(b, counts, 1);
  put_kv(b, counts, 1000, "after");
  put_meta(b, "source.offset", "200");
  put_meta(b, "late", "x");
  uint32_t late = sid(b, "op2", "late");
  put_kv(b, late, 1, "late-value");
  assert_int_equal(sl_backend_commit(b, 0), SL_STATE_OK);
  for (int i = 2; i < 50; i++)
    put_kv(b, counts, i, "overwritten");
  del_kv(b, names, 0);
  assert_int_equal(sl_backend_commit(b, 1), SL_STATE_OK);

  uint64_t bytes = 0, entries = 0;
  char err[512] = "";
  assert_int_equal(sl_snapshot_write(s, snap, &bytes, &entries, err, sizeof err), 0);
  sl_snapshot_end(s);
  /* 60 kv entries, 2 meta, 2 state ids. */
  assert_int_equal(entries, 64);
  struct stat st;
  assert_int_equal(stat(snap, &st), 0);
  assert_int_equal((uint64_t)st.st_size, bytes);
  assert_int_equal(count_records(snap, 1, "", 0), 60);
  assert_int_equal(count_records(snap, 2, "", 0), 2);
  assert_int_equal(count_records(snap, 3, "", 0), 2);
  assert_int_equal(count_records(snap, 3, "op2", 4), 0);
  assert_int_equal(sl_snapshot_verify(snap, err, sizeof err), 0);

  /* The live backend kept its newer state. */
  expect_kv(b, counts, 0, "new-0");
  expect_kv(b, counts, 1, NULL);
  expect_meta(b, "source.offset", "200");
  sl_backend_close(b);

  load_ok(dst, snap, NULL, NULL);
  b = open_backend(dst, NULL);
  for (int i = 0; i < 50; i++) {
    snprintf(v, sizeof v, "old-%d", i);
    expect_kv(b, counts, i, v);
  }
  for (int i = 0; i < 10; i++)
    expect_kv(b, names, i, "name");
  expect_kv(b, counts, 1000, NULL);
  expect_kv(b, late, 1, NULL);
  expect_meta(b, "source.offset", "100");
  expect_meta(b, "job", "wordcount");
  expect_meta(b, "late", NULL);
  assert_int_equal(count_kv(b), 60);
  assert_int_equal(sid(b, "op1", "count"), counts);
  assert_int_equal(sid(b, "op1", "names"), names);
  /* op2/late was registered after the barrier: it is unknown here, so a new state gets id 3. */
  assert_int_equal(sid(b, "op3", "fresh"), 3);
  sl_backend_close(b);
}

/* A small, valid snapshot at path; returns its content (caller frees). */
static uint8_t *make_small_snapshot(const void **state, const char *path, size_t *len) {
  char src[4096], v[64];
  path_in(src, state, "small");
  sl_backend *b = open_backend(src, NULL);
  uint32_t id = sid(b, "op", "st");
  for (int i = 0; i < 40; i++) {
    snprintf(v, sizeof v, "value-%d", i);
    put_kv(b, id, i, v);
  }
  put_meta(b, "m", "meta-value");
  assert_int_equal(sl_backend_commit(b, 0), SL_STATE_OK);
  assert_int_equal(snapshot_to(b, path), 42);
  sl_backend_close(b);
  return read_all(path, len);
}

static void test_verify_good_and_damaged_files(void **state) {
  char snap[4096], bad[4096], err[512];
  path_in(snap, (const void **)state, "good.snap");
  path_in(bad, (const void **)state, "bad.snap");
  size_t len;
  uint8_t *good = make_small_snapshot((const void **)state, snap, &len);
  /* An explicit return (not only assert_true) tells the compiler that len - 12 below cannot underflow. */
  if (len <= 100) {
    fail_msg("the snapshot has only %zu bytes", len);
    return;
  }
  assert_memory_equal(good, "SLSNAP01", 8);
  err[0] = '\0';
  assert_int_equal(sl_snapshot_verify(snap, err, sizeof err), 0);

  /* Every truncation, from empty to one byte short, is rejected. */
  for (size_t n = 0; n < len; n++) {
    write_all(bad, good, n);
    expect_verify_fails(bad, NULL);
  }
  write_all(bad, good, 0);
  expect_verify_fails(bad, "truncated");

  /* A flipped byte in the middle of the records fails the CRC. */
  uint8_t *copy = malloc(len);
  memcpy(copy, good, len);
  copy[len / 2] ^= 0x40;
  write_all(bad, copy, len);
  expect_verify_fails(bad, "checksum");
  /* So does a flipped bit in the CRC itself, or in the record count. */
  memcpy(copy, good, len);
  copy[len - 1] ^= 0x01;
  write_all(bad, copy, len);
  expect_verify_fails(bad, "checksum");
  memcpy(copy, good, len);
  copy[len - 12] ^= 0x01;
  write_all(bad, copy, len);
  expect_verify_fails(bad, "checksum");

  /* Bad magic. */
  memcpy(copy, good, len);
  copy[0] = 'X';
  write_all(bad, copy, len);
  expect_verify_fails(bad, "not a sluice snapshot");

  /* A wrong record count with a CRC that matches is still caught by the structural walk. */
  memcpy(copy, good, len);
  copy[len - 12] ^= 0x01;
  uint32_t crc = sl_crc32(0, copy, len - 4);
  for (int i = 0; i < 4; i++)
    copy[len - 4 + i] = (uint8_t)(crc >> (8 * i));
  write_all(bad, copy, len);
  expect_verify_fails(bad, "malformed");
  /* As is a record length that runs past the end, with a matching CRC. */
  memcpy(copy, good, len);
  copy[8 + 5 + 3] = 0x7F; /* the first record's value length becomes huge */
  crc = sl_crc32(0, copy, len - 4);
  for (int i = 0; i < 4; i++)
    copy[len - 4 + i] = (uint8_t)(crc >> (8 * i));
  write_all(bad, copy, len);
  expect_verify_fails(bad, "malformed");

  /* A missing file. */
  path_in(bad, (const void **)state, "absent.snap");
  expect_verify_fails(bad, "cannot read");
  free(copy);
  free(good);
}

/* A corrupt snapshot is never loaded, and the environment already in the target dir stays byte for byte. */
static void test_load_refuses_corrupt_file(void **state) {
  char snap[4096], bad[4096], dst[4096], mdb[4096], loading[4096], err[512];
  path_in(snap, (const void **)state, "good.snap");
  path_in(bad, (const void **)state, "bad.snap");
  path_in(dst, (const void **)state, "dst");
  size_t len;
  uint8_t *good = make_small_snapshot((const void **)state, snap, &len);

  sl_backend *b = open_backend(dst, NULL);
  uint32_t id = sid(b, "other", "st");
  put_kv(b, id, 7, "existing");
  put_meta(b, "m", "existing-meta");
  assert_int_equal(sl_backend_commit(b, 1), SL_STATE_OK);
  sl_backend_close(b);
  snprintf(mdb, sizeof mdb, "%s/state.mdb", dst);
  snprintf(loading, sizeof loading, "%s/state.loading.mdb", dst);
  size_t before_len;
  uint8_t *before = read_all(mdb, &before_len);

  uint8_t *copy = malloc(len);
  memcpy(copy, good, len);
  copy[len / 2] ^= 0xFF;
  write_all(bad, copy, len);
  err[0] = '\0';
  assert_int_equal(sl_snapshot_load(dst, bad, NULL, NULL, err, sizeof err), -1);
  assert_non_null(strstr(err, "checksum"));
  write_all(bad, good, len - 5);
  err[0] = '\0';
  assert_int_equal(sl_snapshot_load(dst, bad, NULL, NULL, err, sizeof err), -1);
  assert_true(strlen(err) > 0);
  path_in(bad, (const void **)state, "absent.snap");
  err[0] = '\0';
  assert_int_equal(sl_snapshot_load(dst, bad, NULL, NULL, err, sizeof err), -1);
  assert_true(strlen(err) > 0);

  size_t after_len;
  uint8_t *after = read_all(mdb, &after_len);
  assert_int_equal(after_len, before_len);
  assert_memory_equal(after, before, before_len);
  assert_int_equal(access(loading, F_OK), -1);
  b = open_backend(dst, NULL);
  expect_kv(b, id, 7, "existing");
  expect_meta(b, "m", "existing-meta");
  sl_backend_close(b);

  /* The good file does replace it. */
  load_ok(dst, snap, NULL, NULL);
  assert_int_equal(access(loading, F_OK), -1);
  b = open_backend(dst, NULL);
  /* Both environments gave id 1 to their only state: key 7 now holds the snapshot's value. */
  assert_int_equal(id, 1);
  expect_kv(b, id, 7, "value-7");
  expect_meta(b, "m", "meta-value");
  assert_int_equal(count_kv(b), 40);
  sl_backend_close(b);
  free(after);
  free(before);
  free(copy);
  free(good);
}

typedef struct keep_log {
  int calls, b_s1, b_s2, empty_uid;
} keep_log;

static int keep_not_b(const char *op_uid, const char *state_name, void *arg) {
  keep_log *l = arg;
  l->calls++;
  if (!op_uid[0])
    l->empty_uid++;
  if (strcmp(op_uid, "b") != 0)
    return 1;
  if (!strcmp(state_name, "s1"))
    l->b_s1++;
  if (!strcmp(state_name, "s2"))
    l->b_s2++;
  return 0;
}

static void test_keep_filter_drops_state(void **state) {
  char src[4096], dst[4096], dst2[4096], snap[4096], snap2[4096];
  path_in(src, (const void **)state, "src");
  path_in(dst, (const void **)state, "dst");
  path_in(dst2, (const void **)state, "dst2");
  path_in(snap, (const void **)state, "state.snap");
  path_in(snap2, (const void **)state, "again.snap");
  sl_backend *b = open_backend(src, NULL);
  uint32_t a = sid(b, "a", "s1"), b1 = sid(b, "b", "s1"), c = sid(b, "c", "s1"), b2 = sid(b, "b", "s2");
  assert_int_equal(a, 1);
  assert_int_equal(b1, 2);
  assert_int_equal(c, 3);
  assert_int_equal(b2, 4);
  for (int i = 0; i < 20; i++) {
    put_kv(b, a, i, "A");
    put_kv(b, b1, i, "B1");
    put_kv(b, b2, i, "B2");
    put_kv(b, c, i, "C");
  }
  put_meta(b, "m", "kept");
  assert_int_equal(sl_backend_commit(b, 0), SL_STATE_OK);
  assert_int_equal(snapshot_to(b, snap), 80 + 1 + 4);
  sl_backend_close(b);

  keep_log log = {0};
  load_ok(dst, snap, keep_not_b, &log);
  assert_int_equal(log.calls, 4);
  assert_int_equal(log.b_s1, 1);
  assert_int_equal(log.b_s2, 1);

  b = open_backend(dst, NULL);
  for (int i = 0; i < 20; i++) {
    expect_kv(b, a, i, "A");
    expect_kv(b, c, i, "C");
    expect_kv(b, b1, i, NULL);
    expect_kv(b, b2, i, NULL);
  }
  assert_int_equal(count_kv(b), 40);
  expect_meta(b, "m", "kept");
  assert_int_equal(sid(b, "a", "s1"), a);
  assert_int_equal(sid(b, "c", "s1"), c);
  /* b's registrations are gone: a re-snapshot holds no "b\0..." state record ... */
  assert_int_equal(sl_backend_commit(b, 0), SL_STATE_OK);
  snapshot_to(b, snap2);
  assert_int_equal(count_records(snap2, 3, "b", 2), 0);
  assert_int_equal(count_records(snap2, 3, "a", 2), 1);
  assert_int_equal(count_records(snap2, 3, "c", 2), 1);
  /* ... and a state registered now (b again, or a new one) never gets the id of a kept state, nor one that
   * was ever assigned (ids are kept forever). */
  uint32_t nb = sid(b, "b", "s1"), nd = sid(b, "d", "s1");
  assert_int_not_equal(nb, a);
  assert_int_not_equal(nb, c);
  assert_int_not_equal(nd, a);
  assert_int_not_equal(nd, c);
  assert_true(nb > b2);
  assert_true(nd > b2);
  assert_int_not_equal(nb, nd);
  expect_kv(b, nb, 0, NULL);
  expect_kv(b, nd, 0, NULL);
  assert_int_equal(sl_backend_commit(b, 0), SL_STATE_OK);
  sl_backend_close(b);

  /* Loading a snapshot taken after a drop: the keep function sees only real registrations, and ids stay
   * unique. */
  keep_log log2 = {0};
  load_ok(dst2, snap2, keep_not_b, &log2);
  assert_int_equal(log2.empty_uid, 0);
  assert_int_equal(log2.calls, 2);
  b = open_backend(dst2, NULL);
  assert_int_equal(sid(b, "a", "s1"), a);
  assert_int_equal(sid(b, "c", "s1"), c);
  uint32_t ne = sid(b, "e", "s1");
  assert_true(ne > b2);
  expect_kv(b, c, 3, "C");
  assert_int_equal(count_kv(b), 40);
  sl_backend_close(b);
}

static void test_100k_entries_round_trip(void **state) {
  char src[4096], dst[4096], snap[4096], v[32];
  path_in(src, (const void **)state, "src");
  path_in(dst, (const void **)state, "dst");
  path_in(snap, (const void **)state, "big.snap");
  sl_backend *b = open_backend(src, NULL);
  uint32_t id = sid(b, "big", "values");
  for (int i = 0; i < 100000; i++) {
    snprintf(v, sizeof v, "v%d", i * 7);
    put_kv(b, id, i, v);
  }
  put_meta(b, "offset", "100000");
  assert_int_equal(sl_backend_commit(b, 0), SL_STATE_OK);
  assert_int_equal(snapshot_to(b, snap), 100000 + 1 + 1);
  sl_backend_close(b);
  char err[512] = "";
  assert_int_equal(sl_snapshot_verify(snap, err, sizeof err), 0);
  load_ok(dst, snap, NULL, NULL);
  b = open_backend(dst, NULL);
  assert_int_equal(count_kv(b), 100000);
  for (int i = 0; i < 100000; i += 997) {
    snprintf(v, sizeof v, "v%d", i * 7);
    expect_kv(b, id, i, v);
  }
  expect_kv(b, id, 99999, "v699993");
  expect_meta(b, "offset", "100000");
  assert_int_equal(sid(b, "big", "values"), id);
  sl_backend_close(b);
}

/* A TTL-wrapped value (state_ttl.h): tag, expiry big-endian, bytes. */
static void put_ttl_kv(sl_backend *b, uint32_t state_id, int i, int64_t expiry, const char *val) {
  uint8_t raw[64], k[SL_KEY_MAX_LEN];
  size_t kl = ckey(k, state_id, i), n = strlen(val);
  raw[0] = SL_TTL_TAG;
  for (int j = 0; j < 8; j++)
    raw[1 + j] = (uint8_t)((uint64_t)expiry >> (56 - 8 * j));
  memcpy(raw + 9, val, n);
  assert_int_equal(sl_backend_put(b, k, kl, raw, 9 + n), SL_STATE_OK);
}

/* Cleanup while snapshotting: expired entries of TTL states stay out of the snapshot; live ones, and values
 * of states without TTL that merely start with the TTL tag byte, stay in. */
static void test_snapshot_drops_expired_ttl_entries(void **state) {
  char src[4096], dst[4096], snap[4096];
  path_in(src, (const void **)state, "src");
  path_in(dst, (const void **)state, "dst");
  path_in(snap, (const void **)state, "state.snap");
  sl_backend *b = open_backend(src, NULL);
  uint32_t ttl = sid(b, "op", "with_ttl"), plain = sid(b, "op", "plain");
  assert_int_equal(sl_backend_mark_ttl_state(b, ttl), SL_STATE_OK);
  assert_int_equal(sl_backend_mark_ttl_state(b, ttl), SL_STATE_OK); /* idempotent */
  put_ttl_kv(b, ttl, 1, 500, "old");                                /* expired at 1000 */
  put_ttl_kv(b, ttl, 2, 5000, "young");                             /* live at 1000 */
  put_ttl_kv(b, plain, 3, 500, "looks-like-ttl");
  assert_int_equal(sl_backend_commit(b, 0), SL_STATE_OK);
  sl_snapshot *s = NULL;
  uint64_t bytes = 0, entries = 0;
  char err[256];
  assert_int_equal(sl_snapshot_begin(b, &s), SL_STATE_OK);
  assert_int_equal(sl_snapshot_drop_expired(s, 1000), 0);
  assert_int_equal(sl_snapshot_write(s, snap, &bytes, &entries, err, sizeof err), 0);
  assert_int_equal(sl_snapshot_expired_dropped(s), 1);
  sl_snapshot_end(s);
  sl_backend_close(b);
  load_ok(dst, snap, NULL, NULL);
  b = open_backend(dst, NULL);
  uint8_t k[SL_KEY_MAX_LEN];
  const void *v;
  size_t vl;
  size_t kl = ckey(k, ttl, 1);
  assert_int_equal(sl_backend_get(b, k, kl, &v, &vl), SL_STATE_NOTFOUND);
  kl = ckey(k, ttl, 2);
  assert_int_equal(sl_backend_get(b, k, kl, &v, &vl), SL_STATE_OK);
  assert_int_equal(vl, 9 + 5);
  kl = ckey(k, plain, 3);
  assert_int_equal(sl_backend_get(b, k, kl, &v, &vl), SL_STATE_OK);
  assert_int_equal(vl, 9 + 14);
  sl_backend_close(b);
}

/* Incremental checkpoints: a delta (puts, a delete, metadata, a new state) applied on a loaded base. */
static void test_delta_applies_on_base(void **state) {
  char src[4096], dst[4096], snap[4096], delta[4096], err[256];
  path_in(src, (const void **)state, "src");
  path_in(dst, (const void **)state, "dst");
  path_in(snap, (const void **)state, "state.snap");
  path_in(delta, (const void **)state, "delta.snap");
  sl_backend *b = open_backend(src, NULL);
  uint32_t a = sid(b, "op", "a");
  put_kv(b, a, 1, "one");
  put_kv(b, a, 2, "two");
  put_meta(b, "m", "base");
  assert_int_equal(sl_backend_commit(b, 0), SL_STATE_OK);
  snapshot_to(b, snap);
  sl_backend_close(b);

  uint8_t k[SL_KEY_MAX_LEN];
  sl_snapfile *w = sl_snapfile_create(delta, err, sizeof err);
  assert_non_null(w);
  size_t kl = ckey(k, a, 1);
  sl_snapfile_put(w, 1, k, kl, "ONE", 3);
  kl = ckey(k, a, 2);
  sl_snapfile_put(w, 4, k, kl, NULL, 0);
  kl = ckey(k, a, 3);
  sl_snapfile_put(w, 1, k, kl, "three", 5);
  sl_snapfile_put(w, 2, "m", 1, "delta", 5);
  const uint8_t id2[4] = {0, 0, 0, 2};
  sl_snapfile_put(w, 3, "op\0b", 4, id2, 4);
  uint64_t bytes, entries;
  assert_int_equal(sl_snapfile_finish(w, &bytes, &entries, err, sizeof err), 0);
  assert_int_equal(entries, 5);

  load_ok(dst, snap, NULL, NULL);
  assert_int_equal(sl_snapshot_apply_delta(dst, delta, NULL, NULL, err, sizeof err), 0);
  b = open_backend(dst, NULL);
  expect_kv(b, a, 1, "ONE");
  expect_kv(b, a, 2, NULL);
  expect_kv(b, a, 3, "three");
  expect_meta(b, "m", "delta");
  assert_int_equal(sid(b, "op", "b"), 2);
  sl_backend_close(b);
  /* A damaged delta is refused before anything is applied. */
  int fd = open(delta, O_WRONLY);
  assert_true(fd >= 0);
  assert_int_equal(pwrite(fd, "X", 1, 12), 1);
  close(fd);
  assert_int_equal(sl_snapshot_apply_delta(dst, delta, NULL, NULL, err, sizeof err), -1);
  assert_non_null(strstr(err, "checksum"));
}

#define T(f) cmocka_unit_test_setup_teardown(f, tmpdir_setup, tmpdir_teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_crc32_known_value),
      T(test_snapshot_is_state_at_begin),
      T(test_snapshot_drops_expired_ttl_entries),
      T(test_delta_applies_on_base),
      T(test_verify_good_and_damaged_files),
      T(test_load_refuses_corrupt_file),
      T(test_keep_filter_drops_state),
      T(test_100k_entries_round_trip),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
