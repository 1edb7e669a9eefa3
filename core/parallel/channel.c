/* channel.c — bounded SPSC queue of packets on ck_ring (see channel.h). */
#include "core/parallel/channel.h"

#include <ck_ring.h>
#include <stdlib.h>

struct sl_channel {
  ck_ring_t ring;
  ck_ring_buffer_t *slots;
};

sl_channel *sl_channel_new(unsigned capacity) {
  unsigned size = 4;
  while (size < capacity)
    size <<= 1;
  sl_channel *c = calloc(1, sizeof *c);
  if (!c)
    return NULL;
  /* ck_ring keeps one slot free to tell full from empty: size slots hold size - 1 packets. */
  if (!(c->slots = calloc(size, sizeof *c->slots))) {
    free(c);
    return NULL;
  }
  ck_ring_init(&c->ring, size);
  return c;
}

void sl_channel_free(sl_channel *c) {
  if (!c)
    return;
  sl_packet *p;
  while ((p = sl_channel_pop(c)))
    sl_packet_free(p);
  free(c->slots);
  free(c);
}

int sl_channel_push(sl_channel *c, sl_packet *p) {
  return ck_ring_enqueue_spsc(&c->ring, c->slots, p) ? 0 : -1;
}

sl_packet *sl_channel_pop(sl_channel *c) {
  void *p;
  return ck_ring_dequeue_spsc(&c->ring, c->slots, &p) ? p : NULL;
}
