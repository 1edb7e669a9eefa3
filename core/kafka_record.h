/* kafka_record.h — what the Kafka sink (core/sink_kafka.c) derives from an output record and from the job:
 * a message's key (the value of one field of the record's JSON line) and the producer's transactional id.
 * Pure functions over bytes, so the unit tests (tests/c/test_kafka_record.c) need no broker. */
#ifndef SLUICE_KAFKA_RECORD_H
#define SLUICE_KAFKA_RECORD_H

#include <stddef.h>

/* The key of the output record line[0..len) (one JSON object, no newline): the value of its top-level field
 * field[0..flen): a string's decoded text (decoded into *scratch, grown as needed: the caller frees it),
 * any other value's JSON text (12, true, {"a":1}). 1 with *key, *klen set (pointing into line or
 * *scratch); 0 when the record has no such field, or its value is null (the message then has no key: Kafka
 * spreads such messages over the partitions); -1 when memory ran out. */
int sl_kafka_record_key(const char *line, size_t len, const char *field, size_t flen, char **scratch,
                        size_t *scratch_cap, const char **key, size_t *klen);

/* The transactional id a sink uses when the user names none: "sluice-" and 16 hex digits of a 64-bit FNV-1a
 * hash of the state dir's resolved path and the topic, so that a restart on the same state dir fences the
 * previous process's producer (and aborts its open transaction), while jobs on other state dirs or topics
 * never fence each other. out needs 24 bytes. */
void sl_kafka_txn_id(const char *state_path, const char *topic, char *out, size_t outlen);

#endif
