/* test_exchange.c — the exchange between parallel subtasks (core/parallel/packet.c, channel.c): a packet
 * keeps its records' bytes, line numbers and field index; a channel is bounded (a push to a full one is
 * refused and leaves the packet with the caller), keeps order, and hands every packet across threads exactly
 * once (a producer and a consumer thread move 200 000 packets through a 4-slot channel, retrying on full and
 * empty as subtasks do). */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/parallel/channel.h"
#include "core/parallel/packet.h"
#include "core/record/json_scan.h"
#include "core/record/record_batch.h"

static void packet_keeps_records_and_index(void **state) {
  (void)state;
  sl_packet *p = sl_packet_new(SL_PACKET_RECORDS, 3);
  assert_non_null(p);
  const char *lines[] = {"{\"url\":\"/a\",\"n\":1}", "{\"url\":\"/b\"}", "{}"};
  sl_json_field fields[SL_RECORD_INDEXED_FIELDS];
  for (int i = 0; i < 3; i++) {
    uint32_t nf = 0;
    sl_json_error e;
    assert_int_equal(sl_json_scan(lines[i], strlen(lines[i]), fields, SL_RECORD_INDEXED_FIELDS, &nf, &e), 0);
    assert_int_equal(sl_packet_add(p, lines[i], strlen(lines[i]), 10 + (uint64_t)i, fields, nf, -1, NULL), 0);
  }
  assert_true(sl_packet_full(p));
  assert_int_equal(sl_packet_add(p, "{}", 2, 99, fields, 0, -1, NULL), -1); /* full: refused, unchanged */
  assert_int_equal(p->n, 3);
  /* Into a batch as the receiving subtask does: no scan, and field look-ups work on the copied index. */
  sl_batch b;
  assert_int_equal(sl_batch_init(&b, 8), 0);
  for (uint32_t i = 0; i < p->n; i++)
    sl_batch_add_indexed(&b, p->bytes + p->recs[i].off, p->recs[i].len, p->recs[i].line_no, 7,
                         p->fields + p->recs[i].field0, p->recs[i].nfields, NULL);
  assert_int_equal(b.n, 3);
  assert_int_equal(b.recs[0].nfields, 2);
  assert_int_equal(b.recs[1].nfields, 1);
  assert_int_equal(b.recs[2].nfields, 0);
  assert_int_equal(b.recs[1].line_no, 11);
  assert_int_equal(b.recs[1].source, 7);
  assert_memory_equal(b.recs[1].line, lines[1], strlen(lines[1]));
  int at = sl_json_find(b.recs[0].line, b.recs[0].fields, b.recs[0].nfields, "n", 1);
  assert_int_equal(at, 1);
  assert_memory_equal(b.recs[0].line + b.recs[0].fields[at].val_off, "1", 1);
  sl_batch_free(&b);
  sl_packet_free(p);
}

/* A Kafka record's metadata crosses with it, its key copied into the packet: still right after the bytes
 * grew (and moved) many times, and none for a record without. */
static void packet_keeps_metadata(void **state) {
  (void)state;
  enum { N = 2000 };
  sl_packet *p = sl_packet_new(SL_PACKET_RECORDS, N);
  assert_non_null(p);
  char line[200], key[64];
  for (int i = 0; i < N; i++) {
    int n = snprintf(line, sizeof line, "{\"pad\":\"%0120d\"}", i);
    int k = snprintf(key, sizeof key, "key-%d", i);
    sl_rec_meta m = {"access", key, (uint32_t)k, i % 5, 1000 + i, 1555545600000 + i, 1, i % 2};
    assert_int_equal(sl_packet_add(p, line, (size_t)n, (uint64_t)i, NULL, 0, -1, i % 3 ? &m : NULL), 0);
  }
  memset(key, 0, sizeof key); /* the packet holds its own copies */
  for (int i = 0; i < N; i++) {
    if (i % 3 == 0) {
      assert_int_equal(p->recs[i].meta, -1);
      continue;
    }
    const sl_rec_meta *m = &p->metas[p->recs[i].meta];
    int k = snprintf(key, sizeof key, "key-%d", i);
    assert_int_equal(m->key_len, k);
    assert_memory_equal(m->key, key, (size_t)k);
    assert_int_equal(m->partition, i % 5);
    assert_int_equal(m->offset, 1000 + i);
    assert_int_equal(m->timestamp, 1555545600000 + i);
    assert_int_equal(m->key_bound, i % 2); /* the owner of the key checks it again (key_by) */
    assert_string_equal(m->topic, "access");
    assert_memory_equal(p->bytes + p->recs[i].off, "{\"pad\":", 7);
  }
  sl_packet_free(p);
}

static void channel_is_bounded_and_ordered(void **state) {
  (void)state;
  sl_channel *c = sl_channel_new(4); /* 4 slots: 3 packets */
  assert_non_null(c);
  sl_packet *p[4];
  for (int i = 0; i < 4; i++) {
    p[i] = sl_packet_new(SL_PACKET_BARRIER, 0);
    p[i]->checkpoint_id = (uint64_t)i + 1;
  }
  assert_int_equal(sl_channel_push(c, p[0]), 0);
  assert_int_equal(sl_channel_push(c, p[1]), 0);
  assert_int_equal(sl_channel_push(c, p[2]), 0);
  assert_int_equal(sl_channel_push(c, p[3]), -1); /* full: the caller keeps it */
  assert_ptr_equal(sl_channel_pop(c), p[0]);
  assert_int_equal(sl_channel_push(c, p[3]), 0);
  for (int i = 1; i < 4; i++) {
    sl_packet *q = sl_channel_pop(c);
    assert_non_null(q);
    assert_int_equal(q->checkpoint_id, (uint64_t)i + 1);
    sl_packet_free(q);
  }
  assert_null(sl_channel_pop(c));
  sl_packet_free(p[0]);
  sl_channel_free(c);
}

#define MOVED 200000

static void *produce(void *arg) {
  sl_channel *c = arg;
  for (uint64_t i = 0; i < MOVED; i++) {
    sl_packet *p = sl_packet_new(SL_PACKET_BARRIER, 0);
    if (!p)
      return (void *)1;
    p->checkpoint_id = i;
    while (sl_channel_push(c, p) != 0)
      sched_yield();
  }
  return NULL;
}

static void channel_moves_every_packet_once_across_threads(void **state) {
  (void)state;
  sl_channel *c = sl_channel_new(4);
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, produce, c), 0);
  uint64_t next = 0;
  while (next < MOVED) {
    sl_packet *p = sl_channel_pop(c);
    if (!p) {
      sched_yield();
      continue;
    }
    assert_int_equal(p->checkpoint_id, next); /* in order, none lost, none twice */
    next++;
    sl_packet_free(p);
  }
  void *rc;
  assert_int_equal(pthread_join(th, &rc), 0);
  assert_null(rc);
  assert_null(sl_channel_pop(c));
  sl_channel_free(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(packet_keeps_records_and_index),
      cmocka_unit_test(packet_keeps_metadata),
      cmocka_unit_test(channel_is_bounded_and_ordered),
      cmocka_unit_test(channel_moves_every_packet_once_across_threads),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
