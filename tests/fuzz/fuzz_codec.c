/* fuzz_codec.c — libFuzzer target for what sluice's C decodes of stored state values and keys.
 *
 * The value codec proper (lua/sluice/codec.lua) is LuaJIT's string.buffer serialization, decoded by LuaJIT's
 * own C code, plus a 9-byte number form read in Lua through the FFI: none of it is sluice's C. What sluice's
 * C does decode of stored bytes, and what this target fuzzes, is
 *   - the TTL header of a value (state/state_ttl.c: sl_ttl_check, sl_ttl_unwrap): the returned value must lie
 *     inside the stored bytes, header or not;
 *   - the composite key layout (state/state_key.c: sl_key_parse, sl_key_compose, sl_key_group): a parsed key
 *     must cover exactly its bytes, compose it back byte for byte, and land in a key group below the max;
 *   - operator state records (state/operator_state.c: sl_op_state_restore): a header entry and list entries
 *     taken from the input are stored in a backend, then restored for every instance of a new parallelism;
 *     every item must be readable, even-split shares must add up to the union, and no stored header may
 *     make the restore hang or allocate without bound.
 *
 * Input, for the operator state part: [u8 mode (bit 0: even split or union)][u8 new parallelism - 1 (mod 8)]
 * then records [u8 klen][u8 vlen][klen bytes][vlen bytes], each stored at key [0xFFFF][state id 1][klen
 * bytes], so the header, the instance lists and stray keys are all the fuzzer's to write. The TTL and key
 * parts read the whole input as one stored value, and as one stored key. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_scratch.h"
#include "state/byte_order.h"
#include "state/keyed_scope.h"
#include "state/operator_state.h"
#include "state/state_key.h"
#include "state/state_ttl.h"

static sl_backend *backend;

static void close_backend(void) {
  sl_backend_close(backend);
}

static void fail(const char *what) {
  fprintf(stderr, "%s\n", what);
  abort();
}

static int inside(const void *p, size_t n, const uint8_t *data, size_t size) {
  const uint8_t *q = p;
  return n <= size && q >= data && q + n <= data + size;
}

static void check_ttl(const uint8_t *data, size_t size) {
  static const int64_t nows[] = {INT64_MIN, -1, 0, 1764000000000, INT64_MAX};
  for (size_t i = 0; i < sizeof nows / sizeof *nows; i++) {
    const void *val;
    size_t len;
    int v = sl_ttl_check(nows[i], data, size, &val, &len);
    if (v != SL_TTL_LIVE && v != SL_TTL_EXPIRED && v != SL_TTL_UNWRAPPED)
      fail("sl_ttl_check: unknown verdict");
    if (!inside(val, len, data, size) || (v == SL_TTL_UNWRAPPED && (val != data || len != size)) ||
        (v != SL_TTL_UNWRAPPED && len + SL_TTL_HEADER_LEN != size))
      fail("sl_ttl_check: value outside the stored bytes");
    int64_t now = nows[i];
    sl_keyed_scope s;
    sl_scope_init(&s, NULL, 0);
    sl_scope_set_clock(&s, sl_clock_manual, &now);
    for (int vis = 0; vis <= 1; vis++) {
      sl_ttl t = {1000, SL_TTL_ON_CREATE_AND_WRITE, vis};
      int rc = sl_ttl_unwrap(&s, &t, data, size, &val, &len);
      if ((rc != SL_STATE_OK && rc != SL_STATE_NOTFOUND) ||
          (rc == SL_STATE_OK && !inside(val, len, data, size)))
        fail("sl_ttl_unwrap: bad result");
      if (rc == SL_STATE_NOTFOUND && (v != SL_TTL_EXPIRED || vis))
        fail("sl_ttl_unwrap: hides an entry sl_ttl_check does not call expired");
    }
    sl_scope_close(&s);
  }
}

static void check_key(const uint8_t *data, size_t size) {
  uint16_t group;
  uint32_t sid;
  const void *uk, *sub;
  size_t ukl, subl;
  if (sl_key_parse(data, size, &group, &sid, &uk, &ukl, &sub, &subl) == 0) {
    if (!inside(uk, ukl, data, size) || !inside(sub, subl, data, size) ||
        SL_KEY_HEADER_LEN + ukl + subl != size || (const uint8_t *)uk + ukl != sub)
      fail("sl_key_parse: parts do not cover the key");
    uint8_t again[SL_KEY_MAX_LEN];
    size_t n = sl_key_compose(again, sizeof again, group, sid, uk, ukl, sub, subl);
    if (size <= SL_KEY_MAX_LEN && (n != size || memcmp(again, data, size) != 0))
      fail("sl_key_compose does not rebuild a parsed key");
    if (size > SL_KEY_MAX_LEN && n != 0)
      fail("sl_key_compose accepted a key longer than SL_KEY_MAX_LEN");
  } else if (size >= SL_KEY_HEADER_LEN && sl_get_be32(data + 6) <= size - SL_KEY_HEADER_LEN) {
    fail("sl_key_parse refused a well-formed key");
  }
  uint16_t maxp = size >= 2 ? (uint16_t)(data[0] << 8 | data[1]) : 0;
  uint16_t g = sl_key_group(data, size, maxp);
  if (g >= (maxp ? maxp : SL_DEFAULT_MAX_PARALLELISM))
    fail("sl_key_group: group not below the max parallelism");
}

/* Reads every byte of every item (so ASan sees a bad pointer) and returns the item count. */
static size_t touch(const sl_op_list *l) {
  volatile uint8_t sum = 0;
  for (size_t i = 0; i < l->n; i++)
    for (size_t j = 0; j < l->items[i].len; j++)
      sum ^= ((const uint8_t *)l->items[i].data)[j];
  (void)sum;
  return l->n;
}

static void check_op_state(const uint8_t *data, size_t size) {
  if (size < 2)
    return;
  if (!backend) {
    char err[512];
    sl_backend_options o = {0, (size_t)64 << 20};
    if (sl_backend_open(&backend, fuzz_scratch(), &o, err, sizeof err) != SL_STATE_OK) {
      fprintf(stderr, "cannot open a backend: %s\n", err);
      exit(2);
    }
    atexit(close_backend); /* runs before the scratch directory's removal, registered earlier */
  }
  int mode = data[0] & 1;
  uint32_t m = 1 + data[1] % 8;
  uint8_t key[SL_KEY_MAX_LEN];
  size_t pl = 6;
  sl_put_be16(key, SL_OP_STATE_GROUP);
  sl_put_be32(key + 2, 1);
  if (sl_backend_delete_prefix(backend, key, pl) != SL_STATE_OK)
    fail("delete_prefix failed");
  for (size_t off = 2; off + 2 <= size;) {
    size_t kl = data[off], vl = data[off + 1];
    if (off + 2 + kl + vl > size || pl + kl > sizeof key)
      break;
    memcpy(key + pl, data + off + 2, kl);
    if (sl_backend_put(backend, key, pl + kl, data + off + 2 + kl, vl) != SL_STATE_OK)
      fail("put failed");
    off += 2 + kl + vl;
  }
  if (sl_backend_commit(backend, 0) != SL_STATE_OK)
    fail("commit failed");
  sl_op_list all, part;
  /* The whole stored list (an even split into one), and a union's: its distinct items. */
  if (sl_op_state_restore(backend, 1, SL_REDIST_EVEN_SPLIT, 1, 0, &all) != SL_STATE_OK)
    return; /* a refused header (an error code) is a clean reject */
  size_t total = touch(&all), sum = 0;
  if (sl_op_state_restore(backend, 1, SL_REDIST_UNION, 1, 0, &part) != SL_STATE_OK)
    fail("a restore that succeeded once failed for another mode");
  size_t distinct = touch(&part);
  sl_op_list_free(&part);
  if (distinct > total || (total > 0 && distinct == 0))
    fail("union: not the set of the stored items");
  for (uint32_t j = 0; j < m; j++) {
    if (sl_op_state_restore(backend, 1, mode, m, j, &part) != SL_STATE_OK)
      fail("a restore that succeeded once failed for another instance");
    sum += touch(&part);
    if (mode == SL_REDIST_UNION && part.n != distinct)
      fail("union: an instance did not get the whole set");
    sl_op_list_free(&part);
  }
  if (mode == SL_REDIST_EVEN_SPLIT && sum != total)
    fail("even split: the shares do not add up to the whole list");
  sl_op_list_free(&all);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  check_ttl(data, size);
  check_key(data, size);
  check_op_state(data, size);
  return 0;
}
