/* packet.h — what flows between parallel subtasks: records (a batch of input lines, by value), a checkpoint
 * barrier, or the end of a subtask's input.
 *
 * Records cross by value (their line bytes copied into the packet) because the reading subtask's line
 * buffer is reused for its next read; their field index (the JSON scanner's work, offsets into the line)
 * travels with them, so the receiving subtask puts them into its batch without scanning them again. A packet
 * holds the records of one source, in input order, so the receiver can name the input in an error line.
 * A record's metadata (a Kafka record's, core/record/record_batch.h) is copied too, its key's bytes into
 * bytes[] after the line's; metas[] is only allocated once a record that has some is added. */
#ifndef SLUICE_PACKET_H
#define SLUICE_PACKET_H

#include <stddef.h>
#include <stdint.h>

#include "core/record/json_scan.h"
#include "core/record/record_batch.h"

typedef enum sl_packet_kind { SL_PACKET_RECORDS, SL_PACKET_BARRIER, SL_PACKET_END } sl_packet_kind;

typedef struct sl_packet_rec {
  uint32_t off, len; /* in bytes[] */
  uint64_t line_no;
  uint32_t field0, nfields; /* fields[field0 ..] (none stored when nfields > SL_RECORD_INDEXED_FIELDS) */
  int32_t key_index;        /* the routing key's field among them, or -1: the receiver's key_by finds it */
  int32_t meta;             /* its metadata in metas[], or -1: none */
  uint32_t key_off;         /* with meta: where its key's bytes are in bytes[] */
} sl_packet_rec;

typedef struct sl_packet {
  sl_packet_kind kind;
  uint64_t checkpoint_id; /* SL_PACKET_BARRIER */
  int32_t source;         /* SL_PACKET_RECORDS: the index of the source the records came from */
  uint32_t n, cap;        /* records */
  sl_packet_rec *recs;
  char *bytes;
  size_t bytes_len, bytes_cap;
  sl_json_field *fields;
  size_t fields_len, fields_cap;
  sl_rec_meta *metas; /* the key pointers point into bytes[] (moved with it when it grows) */
  uint32_t nmetas, metas_cap;
  struct sl_packet *next; /* a subtask's queue of packets the channel had no room for yet */
} sl_packet;

/* A packet of the given kind with room for cap records (0 for a barrier or end), or NULL (out of memory). */
sl_packet *sl_packet_new(sl_packet_kind kind, uint32_t cap);
/* Appends a record and its field index. 0, or -1 when memory ran out (the packet is unchanged). */
int sl_packet_add(sl_packet *p, const char *line, size_t len, uint64_t line_no, const sl_json_field *fields,
                  uint32_t nfields, int32_t key_index, const sl_rec_meta *meta);
static inline int sl_packet_full(const sl_packet *p) {
  return p->n == p->cap;
}
void sl_packet_free(sl_packet *p);

#endif
