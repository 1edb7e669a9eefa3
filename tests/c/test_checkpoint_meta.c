/* test_checkpoint_meta.c — checkpoint metadata files and the checkpoints directory (core/checkpoint_meta.c):
 * every field round-trips, the write leaves no temp file, any damaged or partial _metadata is rejected with a
 * reason (a truncated file or a single flipped bit must never read as a complete checkpoint; an unknown,
 * missing or repeated key is corruption; a file that cannot be read is not called corrupt), listing returns
 * only chk-<digits> ids in order, and sl_remove_tree removes a checkpoint directory. Each test gets its own
 * directory under $TMPDIR. */
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

#include "core/checkpoint_meta.h"
#include "state/state_snapshot.h"
#define TEST_TMPDIR_PREFIX "sl_chkmeta"
#include "test_tmpdir.h"

static void sample(sl_checkpoint_meta *m) {
  memset(m, 0, sizeof *m);
  m->id = 42;
  m->time_ms = 1764000000123ull;
  m->duration_ms = 17;
  m->alignment_ms = 3;
  m->barrier_ms = 5;
  m->snapshot_bytes = 123456789012ull;
  m->snapshot_entries = 98765;
  m->sink_committed = 4096;
  m->sink_first_part = 40;
  m->sink_part = 777;
  m->savepoint = 1;
  m->base_id = 42;
  m->sink_dev = 2049;
  m->sink_ino = 1234567;
  m->sink_crc = 0xdeadbeef;
  m->max_parallelism = 128;
  snprintf(m->sink_path, sizeof m->sink_path, "/data/out dir/my output file.jsonl");
}

static void expect_same(const sl_checkpoint_meta *a, const sl_checkpoint_meta *b) {
  assert_int_equal(a->id, b->id);
  assert_int_equal(a->time_ms, b->time_ms);
  assert_int_equal(a->duration_ms, b->duration_ms);
  assert_int_equal(a->alignment_ms, b->alignment_ms);
  assert_int_equal(a->barrier_ms, b->barrier_ms);
  assert_int_equal(a->snapshot_bytes, b->snapshot_bytes);
  assert_int_equal(a->snapshot_entries, b->snapshot_entries);
  assert_int_equal(a->sink_committed, b->sink_committed);
  assert_int_equal(a->sink_first_part, b->sink_first_part);
  assert_int_equal(a->sink_part, b->sink_part);
  assert_int_equal(a->savepoint, b->savepoint);
  assert_int_equal(a->sink_dev, b->sink_dev);
  assert_int_equal(a->sink_ino, b->sink_ino);
  assert_int_equal(a->sink_crc, b->sink_crc);
  assert_int_equal(a->max_parallelism, b->max_parallelism);
  assert_string_equal(a->sink_path, b->sink_path);
}

static void write_text(const char *dir, const char *name, const void *p, size_t len) {
  char path[4200];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  if (len)
    assert_int_equal(fwrite(p, 1, len, f), len);
  assert_int_equal(fclose(f), 0);
}

static char *read_text(const char *dir, const char *name, size_t *len) {
  char path[4200];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  char *p = malloc(8192);
  *len = fread(p, 1, 8191, f);
  p[*len] = '\0';
  fclose(f);
  return p;
}

/* The read fails as `want` says, with a reason. */
static void expect_read_status(const char *dir, int want) {
  sl_checkpoint_meta m;
  char err[256] = "";
  int rc = sl_checkpoint_meta_read(dir, &m, err, sizeof err);
  if (rc != want)
    fprintf(stderr, "read gave %d (%s), want %d\n", rc, err, want);
  assert_int_equal(rc, want);
  assert_true(strlen(err) > 0);
}

static void expect_read_fails(const char *dir) {
  expect_read_status(dir, SL_META_CORRUPT);
}

/* Writes sample() as dir's _metadata into *w and returns the file's text (caller frees). */
static char *write_sample(const char *dir, sl_checkpoint_meta *w, size_t *len) {
  char err[256] = "";
  sample(w);
  assert_int_equal(sl_checkpoint_meta_write(dir, w, err, sizeof err), 0);
  return read_text(dir, "_metadata", len);
}

static void test_round_trip_every_field(void **state) {
  const char *dir = *state;
  char err[256] = "", path[4200];
  sl_checkpoint_meta w, r;
  sample(&w);
  assert_int_equal(sl_checkpoint_meta_write(dir, &w, err, sizeof err), 0);
  memset(&r, 0xAB, sizeof r);
  assert_int_equal(sl_checkpoint_meta_read(dir, &r, err, sizeof err), 0);
  expect_same(&w, &r);

  /* Atomic write: the final file is there, the temporary one is not. */
  snprintf(path, sizeof path, "%s/_metadata", dir);
  assert_int_equal(access(path, F_OK), 0);
  snprintf(path, sizeof path, "%s/_metadata.tmp", dir);
  assert_int_equal(access(path, F_OK), -1);

  /* Rewriting replaces the whole file; zero values and an empty sink path (stdout) round-trip too. */
  sl_checkpoint_meta z;
  memset(&z, 0, sizeof z);
  z.id = 1;
  assert_int_equal(sl_checkpoint_meta_write(dir, &z, err, sizeof err), 0);
  assert_int_equal(sl_checkpoint_meta_read(dir, &r, err, sizeof err), 0);
  expect_same(&z, &r);
  assert_int_equal(access(path, F_OK), -1);

  /* Extreme values. */
  sample(&w);
  w.id = UINT64_MAX;
  w.snapshot_bytes = UINT64_MAX - 1;
  w.savepoint = 0;
  assert_int_equal(sl_checkpoint_meta_write(dir, &w, err, sizeof err), 0);
  assert_int_equal(sl_checkpoint_meta_read(dir, &r, err, sizeof err), 0);
  expect_same(&w, &r);

  /* A directory that does not exist: the write fails with a reason. */
  snprintf(path, sizeof path, "%s/no/such/dir", dir);
  err[0] = '\0';
  assert_int_equal(sl_checkpoint_meta_write(path, &w, err, sizeof err), -1);
  assert_true(strlen(err) > 0);
}

/* No _metadata is an incomplete checkpoint; one that cannot be read (here a directory: EISDIR, as EIO
 * would be) is not known to be damaged, and must not be taken for corrupt. */
static void test_read_missing_or_unreadable(void **state) {
  expect_read_status(*state, SL_META_MISSING);
  char sub[4200];
  snprintf(sub, sizeof sub, "%s/absent", (char *)*state);
  expect_read_status(sub, SL_META_MISSING);
  snprintf(sub, sizeof sub, "%s/_metadata", (char *)*state);
  assert_int_equal(mkdir(sub, 0700), 0);
  expect_read_status(*state, SL_META_UNREADABLE);
}

/* Whatever byte a crash or a short copy cuts the file at, it never reads as a complete checkpoint. */
static void test_read_rejects_every_truncation(void **state) {
  const char *dir = *state;
  char err[256] = "";
  sl_checkpoint_meta w;
  size_t len;
  char *full = write_sample(dir, &w, &len);
  assert_true(len > 100);
  for (size_t n = 0; n < len; n++) {
    write_text(dir, "_metadata", full, n);
    expect_read_fails(dir);
  }
  write_text(dir, "_metadata", full, len);
  sl_checkpoint_meta r;
  assert_int_equal(sl_checkpoint_meta_read(dir, &r, err, sizeof err), 0);
  expect_same(&w, &r);
  free(full);
}

/* Writes text + its crc32 line as dir's _metadata: a well-formed v2 file whose content the test chooses. */
static void write_with_crc(const char *dir, const char *text) {
  char buf[8192];
  int n = snprintf(buf, sizeof buf, "%scrc32 %08x\n", text, (unsigned)sl_crc32(0, text, strlen(text)));
  write_text(dir, "_metadata", buf, (size_t)n);
}

static void test_read_rejects_malformed(void **state) {
  const char *dir = *state;
  sl_checkpoint_meta w;
  size_t len;
  char *full = write_sample(dir, &w, &len);
  assert_int_equal(strncmp(full + len - 15, "crc32 ", 6), 0);

  /* Without its crc32 line. */
  write_text(dir, "_metadata", full, len - 15);
  expect_read_fails(dir);
  /* A wrong checksum. */
  char *alt = malloc(len + 64);
  memcpy(alt, full, len);
  alt[len - 2] = alt[len - 2] == '0' ? '1' : '0';
  write_text(dir, "_metadata", alt, len);
  expect_read_fails(dir);

  /* Every single-bit flip anywhere in the file is caught (by the CRC, the syntax or the version line). */
  for (size_t i = 0; i < len; i++)
    for (int bit = 0; bit < 8; bit++) {
      memcpy(alt, full, len);
      alt[i] ^= (char)(1 << bit);
      write_text(dir, "_metadata", alt, len);
      expect_read_fails(dir);
    }

  /* With a valid checksum: an unknown key, a missing key, a repeated key, a bad number are corrupt too. */
  char body[4096];
  memcpy(body, full, len - 15);
  body[len - 15] = '\0';
  char *line_end = strstr(body, "\nsink_ino ");
  assert_non_null(line_end);
  char text[8192];
  snprintf(text, sizeof text, "%sunknown_key 5\n", body);
  write_with_crc(dir, text);
  expect_read_fails(dir);
  /* base_id removed. */
  char *b = strstr(body, "base_id ");
  char *e = strchr(b, '\n') + 1;
  snprintf(text, sizeof text, "%.*s%s", (int)(b - body), body, e);
  write_with_crc(dir, text);
  expect_read_fails(dir);
  /* id twice. */
  snprintf(text, sizeof text, "%sid 7\n", body);
  write_with_crc(dir, text);
  expect_read_fails(dir);
  /* A number with a sign, or past 2^64. */
  const char *bad[] = {"id -1\n", "id +1\n", "id 18446744073709551616\n", "id 1x\n", "id \n"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char *p = strstr(body, "\nid ") + 1;
    char *q = strchr(p, '\n') + 1;
    snprintf(text, sizeof text, "%.*s%s%s", (int)(p - body), body, bad[i], q);
    write_with_crc(dir, text);
    expect_read_fails(dir);
  }
  /* The well-formed body with its checksum reads back. */
  write_with_crc(dir, body);
  sl_checkpoint_meta r;
  char err[256];
  assert_int_equal(sl_checkpoint_meta_read(dir, &r, err, sizeof err), 0);
  expect_same(&w, &r);

  /* Garbage. */
  const char garbage[] = "\x7f"
                         "ELF\x02\x01\x01\0\0\0garbage that is not metadata\n\xff\xfe\n";
  write_text(dir, "_metadata", garbage, sizeof garbage - 1);
  expect_read_fails(dir);
  write_text(dir, "_metadata", "end\n", 4);
  expect_read_fails(dir);
  free(alt);
  free(full);
}

/* Version 1 files (before the checksum) still read, strictly: all keys known, all present, "end" last. */
static void test_read_version_1(void **state) {
  const char *dir = *state;
  const char v1[] = "sluice-checkpoint 1\nid 9\ntime_ms 1\nduration_ms 2\nalignment_ms 0\nbarrier_ms 3\n"
                    "snapshot_bytes 100\nsnapshot_entries 4\nsink_committed 50\nsink_first_part 9\n"
                    "sink_part 10\nsavepoint 0\nsink_path /x/out\nend\n";
  write_text(dir, "_metadata", v1, sizeof v1 - 1);
  sl_checkpoint_meta r;
  char err[256] = "";
  assert_int_equal(sl_checkpoint_meta_read(dir, &r, err, sizeof err), 0);
  assert_int_equal(r.id, 9);
  assert_int_equal(r.base_id, 9);
  assert_int_equal(r.sink_committed, 50);
  assert_int_equal(r.sink_dev, 0);
  assert_string_equal(r.sink_path, "/x/out");
  /* A version 2 key in a version 1 file, or a key missing from it, is corrupt. */
  char text[1024];
  snprintf(text, sizeof text, "%.*ssink_ino 5\nend\n", (int)(sizeof v1 - 1 - 4), v1);
  write_text(dir, "_metadata", text, strlen(text));
  expect_read_fails(dir);
  const char *p = strstr(v1, "sink_part");
  snprintf(text, sizeof text, "%.*s%s", (int)(p - v1), v1, strstr(p, "\n") + 1);
  write_text(dir, "_metadata", text, strlen(text));
  expect_read_fails(dir);
  /* Without its "end" line. */
  write_text(dir, "_metadata", v1, sizeof v1 - 5);
  expect_read_fails(dir);
}

static void make_dir(const char *parent, const char *name) {
  char path[4200];
  snprintf(path, sizeof path, "%s/%s", parent, name);
  assert_int_equal(mkdir(path, 0755), 0);
}

static void test_list_ids(void **state) {
  const char *dir = *state;
  char chk[4200];
  uint64_t *ids = (uint64_t *)1;
  snprintf(chk, sizeof chk, "%s/checkpoints", dir);

  /* A missing directory holds no checkpoints. */
  assert_int_equal(sl_checkpoint_list(chk, &ids), 0);
  assert_null(ids);

  assert_int_equal(mkdir(chk, 0755), 0);
  assert_int_equal(sl_checkpoint_list(chk, &ids), 0);
  free(ids);

  make_dir(chk, "chk-00000000000000000010");
  make_dir(chk, "chk-3");
  make_dir(chk, "chk-00000000000000000007");
  make_dir(chk, "chk-1000");
  make_dir(chk, "chk-00000000000000000001");
  /* Names that are not chk-<digits>. */
  make_dir(chk, "chk-");
  make_dir(chk, "chk-12x");
  make_dir(chk, "foo");
  make_dir(chk, "chk-5.tmp");
  make_dir(chk, "chk-+8");
  make_dir(chk, "chk--9");
  make_dir(chk, "chk- 11");
  make_dir(chk, "xchk-4");
  make_dir(chk, "CHK-6");
  make_dir(chk, "chk-99999999999999999999999"); /* past 2^64 */

  int n = sl_checkpoint_list(chk, &ids);
  assert_int_equal(n, 5);
  assert_non_null(ids);
  const uint64_t want[] = {1, 3, 7, 10, 1000};
  for (int i = 0; i < n; i++)
    assert_int_equal(ids[i], want[i]);
  free(ids);

  /* Many ids come back sorted. */
  for (int i = 100; i > 0; i--) {
    char name[64];
    snprintf(name, sizeof name, "chk-%020d", 5000 + i * 13 % 101);
    make_dir(chk, name);
  }
  n = sl_checkpoint_list(chk, &ids);
  assert_int_equal(n, 105);
  for (int i = 1; i < n; i++)
    assert_true(ids[i - 1] < ids[i]);
  assert_int_equal(ids[n - 1], 5100);
  free(ids);
}

static void test_remove_tree(void **state) {
  const char *dir = *state;
  char chk[4200], err[256] = "";
  snprintf(chk, sizeof chk, "%s/chk-00000000000000000004", dir);
  assert_int_equal(mkdir(chk, 0755), 0);
  write_text(chk, "state.snap", "snapshot bytes", 14);
  write_text(chk, "part-4", "", 0);
  sl_checkpoint_meta m;
  sample(&m);
  assert_int_equal(sl_checkpoint_meta_write(chk, &m, err, sizeof err), 0);
  sl_remove_tree(chk);
  struct stat st;
  assert_int_equal(stat(chk, &st), -1);
  /* The parent stays, and removing something absent is harmless. */
  assert_int_equal(stat(dir, &st), 0);
  sl_remove_tree(chk);
  assert_int_equal(sl_fsync_dir(dir), 0);
  assert_int_equal(sl_fsync_dir(chk), -1);
}

#define T(f) cmocka_unit_test_setup_teardown(f, tmpdir_setup, tmpdir_teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      T(test_round_trip_every_field),
      T(test_read_missing_or_unreadable),
      T(test_read_rejects_every_truncation),
      T(test_read_rejects_malformed),
      T(test_read_version_1),
      T(test_list_ids),
      T(test_remove_tree),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
