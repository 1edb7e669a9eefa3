/* channel.c — bounded SPSC queue of packets on ck_ring (see channel.h). */
#include "core/parallel/channel.h"

#include <ck_ring.h>
#include <stdlib.h>

/* ck_ring orders its slots with fences written in assembly, which ThreadSanitizer cannot see; under it the
 * hand-over is declared (the producer's writes to a packet happen before the consumer's reads of it), so
 * that TSan checks the rest of the parallel code instead of reporting every packet. */
#if defined(__SANITIZE_THREAD__)
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
void __tsan_ignore_thread_begin(void);
void __tsan_ignore_thread_end(void);
#define HANDED_OVER(c) __tsan_release(c) /* before the push: the packet is written by then */
#define TAKEN_OVER(c) __tsan_acquire(c)  /* after the pop */
#define RING_BEGIN() __tsan_ignore_thread_begin()
#define RING_END() __tsan_ignore_thread_end()
#else
#define HANDED_OVER(c) ((void)(c))
#define TAKEN_OVER(c) ((void)(c))
#define RING_BEGIN() ((void)0)
#define RING_END() ((void)0)
#endif

struct sl_channel {
  ck_ring_t ring; /* packets, producer to consumer */
  ck_ring_buffer_t *slots;
  ck_ring_t spares; /* read packets, consumer back to producer */
  ck_ring_buffer_t *spare_slots;
};

sl_channel *sl_channel_new(unsigned capacity) {
  unsigned size = 4;
  while (size < capacity)
    size <<= 1;
  sl_channel *c = calloc(1, sizeof *c);
  if (!c)
    return NULL;
  /* ck_ring keeps one slot free to tell full from empty: size slots hold size - 1 packets. */
  if (!(c->slots = calloc(size, sizeof *c->slots)) || !(c->spare_slots = calloc(size, sizeof *c->spare_slots))) {
    free(c->slots);
    free(c);
    return NULL;
  }
  ck_ring_init(&c->ring, size);
  ck_ring_init(&c->spares, size);
  return c;
}

void sl_channel_free(sl_channel *c) {
  if (!c)
    return;
  sl_packet *p;
  while ((p = sl_channel_pop(c)))
    sl_packet_free(p);
  while ((p = sl_channel_take_spare(c)))
    sl_packet_free(p);
  free(c->slots);
  free(c->spare_slots);
  free(c);
}

/* One ring's two ends (the packets' and the spares'), each used by one thread. */
static int ring_push(ck_ring_t *ring, ck_ring_buffer_t *slots, sl_packet *p) {
  HANDED_OVER(ring);
  RING_BEGIN();
  int ok = ck_ring_enqueue_spsc(ring, slots, p);
  RING_END();
  return ok;
}

static sl_packet *ring_pop(ck_ring_t *ring, ck_ring_buffer_t *slots) {
  void *p;
  RING_BEGIN();
  int ok = ck_ring_dequeue_spsc(ring, slots, &p);
  RING_END();
  if (!ok)
    return NULL;
  TAKEN_OVER(ring);
  return p;
}

int sl_channel_push(sl_channel *c, sl_packet *p) {
  return ring_push(&c->ring, c->slots, p) ? 0 : -1;
}

sl_packet *sl_channel_pop(sl_channel *c) {
  return ring_pop(&c->ring, c->slots);
}

void sl_channel_give_back(sl_channel *c, sl_packet *p) {
  if (!ring_push(&c->spares, c->spare_slots, p))
    sl_packet_free(p);
}

sl_packet *sl_channel_take_spare(sl_channel *c) {
  sl_packet *q = ring_pop(&c->spares, c->spare_slots);
  if (!q)
    return NULL;
  q->n = 0;
  q->bytes_len = q->fields_len = 0;
  q->nmetas = 0;
  q->next = NULL;
  return q;
}
