/* channel.h — one direction of the exchange between two parallel subtasks: a bounded single-producer,
 * single-consumer queue of packets (core/parallel/packet.h).
 *
 * Bounded, so a slow subtask stalls the ones that feed it instead of letting memory grow: a producer that
 * finds the channel full keeps the packet (and stops reading its input) until the consumer makes room. The
 * queue is Concurrency Kit's ck_ring in its SPSC form (Debian's libck-dev): lock-free, one cache line of
 * shared state per side, and well tested; a mutex-and-condition queue would work too, but a packet carries
 * up to 4096 records, so neither is where the time goes. Who to wake is the caller's business (each
 * subtask's libuv loop has one uv_async_t for it). */
#ifndef SLUICE_CHANNEL_H
#define SLUICE_CHANNEL_H

#include "core/parallel/packet.h"

typedef struct sl_channel sl_channel;

/* A channel holding at most capacity packets (rounded up to a power of two, at least 4), or NULL. */
sl_channel *sl_channel_new(unsigned capacity);
/* Frees the channel and any packets still in it. */
void sl_channel_free(sl_channel *c);
/* Producer side: 0 when the packet was queued (the channel owns it now), -1 when the channel is full. */
int sl_channel_push(sl_channel *c, sl_packet *p);
/* Consumer side: the oldest packet (the caller owns it), or NULL when the channel is empty. */
sl_packet *sl_channel_pop(sl_channel *c);
/* Packets go back the other way once read, for the producer to fill again: their buffers keep their size,
 * so a steady stream allocates (and faults in) nothing. Consumer side: gives p back (freed when as many
 * are waiting as the channel holds). Producer side: one given back, emptied, or NULL. */
void sl_channel_give_back(sl_channel *c, sl_packet *p);
sl_packet *sl_channel_take_spare(sl_channel *c);

#endif
