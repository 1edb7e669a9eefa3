/* fuzz_snapshot.c — libFuzzer target for the snapshot and delta readers (state/state_snapshot.c,
 * state/state_delta.c): sl_snapshot_verify, sl_snapshot_load into a scratch state dir, and
 * sl_snapshot_apply_delta onto a loaded base. Any file must give a clean accept or reject — never a crash,
 * a hang, a read out of bounds — a reject must say why, a file that fails verification is never loaded or
 * applied, and a load leaves no temporary environment behind. What was loaded is then opened as recovery
 * does (sl_backend_open), walked, its registry read and written, and committed: errors are fine there,
 * crashes are not.
 *
 * Input: one mode byte, then the file.
 *   mode & 1  repair the trailer first (record count and CRC-32, computed as the format in state_snapshot.h
 *             says), so that edits inside the records reach the record walk and the loader instead of all
 *             stopping at the checksum;
 *   mode & 2  apply the file as a delta on a base environment (loaded from a small base snapshot made at
 *             start-up) instead of loading it as a full snapshot;
 *   mode & 4  load with a keep function that refuses every operator whose uid starts with an odd byte, so
 *             that the paths which drop states and leave tombstones run too.
 * Seeds (fuzz_seeds.c) are a full snapshot and a delta written by the real writers, in each mode. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_scratch.h"
#include "state/state_delta.h"
#include "state/state_key.h"
#include "state/state_snapshot.h"

#define TRAILER_LEN 13 /* u8 0xFF | u64 record count | u32 CRC */

static char base_path[4200], in_path[4200], env_dir[4200], env_path[4300], loading_path[4300];

static int keep_even(const char *op_uid, const char *state_name, void *arg) {
  (void)state_name;
  (void)arg;
  return !((unsigned char)op_uid[0] & 1);
}

static void put_le(uint8_t *p, uint64_t v, int n) {
  for (int i = 0; i < n; i++)
    p[i] = (uint8_t)(v >> (8 * i));
}

/* Rewrites the trailer of buf[0..len): the count of the records that a walk finds, then the CRC. */
static void repair_trailer(uint8_t *buf, size_t len) {
  if (len < 8 + TRAILER_LEN)
    return;
  size_t end = len - TRAILER_LEN, off = 8;
  uint64_t n = 0;
  while (off + 9 <= end) {
    uint64_t kl = buf[off + 1] | (uint64_t)buf[off + 2] << 8 | (uint64_t)buf[off + 3] << 16 |
                  (uint64_t)buf[off + 4] << 24;
    uint64_t vl = buf[off + 5] | (uint64_t)buf[off + 6] << 8 | (uint64_t)buf[off + 7] << 16 |
                  (uint64_t)buf[off + 8] << 24;
    if (off + 9 + kl + vl > end)
      break;
    off += 9 + kl + vl;
    n++;
  }
  buf[end] = 0xFF;
  put_le(buf + end + 1, n, 8);
  put_le(buf + len - 4, sl_crc32(0, buf, len - 4), 4);
}

/* The base a delta applies to: two operators ("a" is refused by keep_even, "b" is kept), a few keyed
 * entries of each, one metadata entry. */
static void make_base(void) {
  char err[512];
  uint8_t k[SL_KEY_MAX_LEN];
  uint64_t bytes, entries;
  sl_snapfile *f = sl_snapfile_create(base_path, err, sizeof err);
  if (!f) {
    fprintf(stderr, "%s\n", err);
    exit(2);
  }
  for (uint32_t sid = 1; sid <= 2; sid++)
    for (int i = 0; i < 3; i++) {
      char uk[8];
      int n = snprintf(uk, sizeof uk, "k%d", i);
      size_t kl = sl_key_compose(k, sizeof k, 0, sid, uk, (size_t)n, NULL, 0);
      sl_snapfile_put(f, 1, k, kl, uk, (size_t)n);
    }
  sl_snapfile_put(f, 2, "source", 6, "42", 2);
  const uint8_t id1[4] = {0, 0, 0, 1}, id2[4] = {0, 0, 0, 2};
  sl_snapfile_put(f, 3, "a\0count", 7, id1, 4);
  sl_snapfile_put(f, 3, "b\0count", 7, id2, 4);
  if (sl_snapfile_finish(f, &bytes, &entries, err, sizeof err) != 0) {
    fprintf(stderr, "%s\n", err);
    exit(2);
  }
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  fuzz_scratch_path(base_path, sizeof base_path, "base.snap");
  fuzz_scratch_path(in_path, sizeof in_path, "in.snap");
  fuzz_scratch_path(env_dir, sizeof env_dir, "env");
  snprintf(env_path, sizeof env_path, "%s/state.mdb", env_dir);
  snprintf(loading_path, sizeof loading_path, "%s/state.loading.mdb", env_dir);
  mkdir(env_dir, 0700);
  make_base();
  return 0;
}

static void fail(const char *what, const char *err) {
  fprintf(stderr, "%s%s%s\n", what, err ? ": " : "", err ? err : "");
  abort();
}

/* A reader's -1 must come with a NUL-terminated, non-empty reason. */
static void expect_reason(const char *err, size_t cap, const char *who) {
  if (!memchr(err, '\0', cap) || !err[0])
    fail(who, "failed without a reason");
}

/* Uses a restored environment as a restarted job would: every entry, the registry, metadata, a commit. */
static void use_restored(void) {
  sl_backend *b;
  char err[512];
  if (sl_backend_open(&b, env_dir, NULL, err, sizeof err) != SL_STATE_OK)
    return;
  sl_backend_iter *it;
  if (sl_backend_iter_open(b, "", 0, &it) == SL_STATE_OK) {
    const void *k, *v;
    size_t kl, vl;
    while (sl_backend_iter_next(it, &k, &kl, &v, &vl) == SL_STATE_OK)
      ;
    sl_backend_iter_close(it);
  }
  const void *v;
  size_t vl;
  sl_backend_meta_get(b, "source", &v, &vl);
  uint32_t id;
  sl_state_info info, want = {SL_STATE_KIND_VALUE, 0};
  sl_backend_state_lookup(b, "a", "count", &id, &info);
  sl_backend_state_register(b, "b", "count", &want, &id, &info);
  if (sl_backend_state_register(b, "c", "new", &want, &id, &info) == SL_STATE_OK) {
    uint8_t k[SL_KEY_MAX_LEN];
    size_t kl = sl_key_compose(k, sizeof k, 0, id, "k", 1, NULL, 0);
    sl_backend_put(b, k, kl, "v", 1);
  }
  sl_backend_commit(b, 0);
  sl_backend_close(b);
}

static int exists(const char *path) {
  return access(path, F_OK) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char err[512];
  if (!base_path[0])
    LLVMFuzzerInitialize(NULL, NULL);
  if (size < 1)
    return 0;
  int mode = data[0];
  uint8_t *file = malloc(size);
  if (!file)
    return 0;
  size_t len = size - 1;
  memcpy(file, data + 1, len);
  if (mode & 1)
    repair_trailer(file, len);
  fuzz_write_file(in_path, file, len);
  free(file);
  sl_snapshot_keep_fn keep = mode & 4 ? keep_even : NULL;

  memset(err, 0x55, sizeof err);
  int verified = sl_snapshot_verify(in_path, err, sizeof err) == 0;
  if (!verified)
    expect_reason(err, sizeof err, "sl_snapshot_verify");

  sl_snapshot_remove_env(env_dir);
  memset(err, 0x55, sizeof err);
  if (mode & 2) {
    if (sl_snapshot_load(env_dir, base_path, keep, NULL, err, sizeof err) != 0)
      fail("cannot load the base snapshot", err);
    memset(err, 0x55, sizeof err);
    int rc = sl_snapshot_apply_delta(env_dir, in_path, keep, NULL, err, sizeof err);
    if (rc != 0)
      expect_reason(err, sizeof err, "sl_snapshot_apply_delta");
    if (rc == 0 && !verified)
      fail("a delta that fails verification was applied", NULL);
    if (rc == 0)
      use_restored();
  } else {
    int rc = sl_snapshot_load(env_dir, in_path, keep, NULL, err, sizeof err);
    if (rc != 0)
      expect_reason(err, sizeof err, "sl_snapshot_load");
    if (rc == 0 && !verified)
      fail("a snapshot that fails verification was loaded", NULL);
    if (rc != 0 && exists(env_path))
      fail("a failed load left an environment", NULL);
    if (exists(loading_path))
      fail("a load left its temporary environment", NULL);
    if (rc == 0)
      use_restored();
  }
  return 0;
}
