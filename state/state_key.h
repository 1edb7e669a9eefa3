/* state_key.h — the one key layout every state kind uses.
 *
 *   [key group: u16 BE][state id: u32 BE][user key length: u32 BE][user key bytes][sub key bytes]
 *
 * The key group comes first so that a key-group range (what one parallel subtask owns) is one cursor
 * range when rescaling; the state id next so that all entries of one state of one key are contiguous;
 * the length makes "user key" + "sub key" unambiguous (MapState puts the map key in the sub key).
 * key_group = hash(user key) % max_parallelism, with a fixed hash (below) that never changes across
 * versions, because it decides where state lives on disk. */
#ifndef SLUICE_STATE_KEY_H
#define SLUICE_STATE_KEY_H

#include <stddef.h>
#include <stdint.h>

#define SL_KEY_HEADER_LEN 10u /* key group + state id + user key length */
#define SL_KEY_MAX_LEN 480u   /* LMDB's default max key size is 511 */
#define SL_DEFAULT_MAX_PARALLELISM 128u

/* 64-bit FNV-1a-free, stable hash of the user key: XXH64 (xxHash 64-bit, seed 0), implemented in state_key.c.
 * XXH64("") = 0xef46db3751d8e999, XXH64("abc") = 0x44bc2cf5ad770999. Never change it: it places state on
 * disk. */
uint64_t sl_key_hash(const void *key, size_t len);
uint16_t sl_key_group(const void *key, size_t len, uint16_t max_parallelism);

/* Writes the composite key into out (capacity cap). Returns its length, or 0 if it does not fit or
 * exceeds SL_KEY_MAX_LEN. */
size_t sl_key_compose(uint8_t *out, size_t cap, uint16_t key_group, uint32_t state_id, const void *user_key,
                      size_t ukey_len, const void *sub_key, size_t sub_len);

/* The prefix shared by every entry of (key group, state, user key): the composite key without sub key. */
size_t sl_key_prefix(uint8_t *out, size_t cap, uint16_t key_group, uint32_t state_id, const void *user_key,
                     size_t ukey_len);

/* Splits a composite key; returns 0 on success, -1 if malformed. Pointers point into key. */
int sl_key_parse(const void *key, size_t klen, uint16_t *key_group, uint32_t *state_id, const void **user_key,
                 size_t *ukey_len, const void **sub_key, size_t *sub_len);

#endif
