/* kafka_offsets.h — a Kafka source's resume point as it is stored in a checkpoint: the next offset to read
 * of every partition that has been read from, under the backend metadata name "source/kafka:TOPIC".
 *
 * The value is text, one "PARTITION OFFSET\n" line per partition in partition order ("0 1234\n3 17\n"), so
 * that `sluice state` and a person with an LMDB dump can read it. Partitions are numbered 0..n-1 in Kafka,
 * so the offsets are an array indexed by partition, with SL_KAFKA_NO_OFFSET where nothing was read. */
#ifndef SLUICE_KAFKA_OFFSETS_H
#define SLUICE_KAFKA_OFFSETS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define SL_KAFKA_NO_OFFSET (-1)
#define SL_KAFKA_META_PREFIX "source/kafka:" /* then the topic */

/* Writes next[0..n) (entries of SL_KAFKA_NO_OFFSET are left out) into a malloc'd string *out of *len bytes
 * (no NUL counted; the caller frees it). 0, or -1 when memory ran out. */
int sl_kafka_offsets_encode(const int64_t *next, int n, char **out, size_t *len);

/* Parses a stored value into next[0..n), which the caller has filled with SL_KAFKA_NO_OFFSET. 0; -1 when
 * the value is malformed; -2 when it names a partition >= n (*bad_partition says which: the topic has
 * fewer partitions than the one the checkpoint read, so it is not that topic). */
int sl_kafka_offsets_decode(const void *val, size_t len, int64_t *next, int n, long *bad_partition);

/* `sluice checkpoints`: prints the Kafka offsets checkpoint (or savepoint) directory dir holds, one line per
 * topic its job read, "    kafka:TOPIC next offsets: 0:1234 1:17 ..." (PARTITION:OFFSET, partitions never
 * read left out), to out. Only the checkpoint's files are read: no broker is asked, so no lag is shown
 * (the running job's metrics and `sluice status` show it). 0, or -1 with err (a file unreadable, a value
 * malformed, out of memory). */
int sl_kafka_offsets_list(const char *dir, FILE *out, char *err, size_t errlen);

#endif
