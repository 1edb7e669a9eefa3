/* kafka_conf.h — the librdkafka configuration every Kafka handle of sluice starts from (the source's
 * consumer, the sink's producer, `sluice group`'s member): the brokers, then the user's properties, then
 * the properties sluice's model needs for that handle, which override the user's. */
#ifndef SLUICE_KAFKA_CONF_H
#define SLUICE_KAFKA_CONF_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>

typedef struct sl_kafka_prop {
  const char *name, *value;
} sl_kafka_prop;

/* bootstrap.servers = brokers, the nprops/2 (name, value) pairs of props, then the nmodel model properties.
 * NULL when librdkafka refuses one: *bad names it and why says why. */
rd_kafka_conf_t *sl_kafka_conf_new(const char *brokers, char *const *props, int nprops,
                                   const sl_kafka_prop *model, size_t nmodel, const char **bad, char *why,
                                   size_t whylen);

#endif
