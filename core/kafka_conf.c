/* kafka_conf.c — the configuration Kafka handles start from (see kafka_conf.h). */
#include "core/kafka_conf.h"

rd_kafka_conf_t *sl_kafka_conf_new(const char *brokers, char *const *props, int nprops,
                                   const sl_kafka_prop *model, size_t nmodel, const char **bad, char *why,
                                   size_t whylen) {
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  const char *name = "bootstrap.servers";
  rd_kafka_conf_res_t rc = rd_kafka_conf_set(conf, name, brokers, why, whylen);
  for (int i = 0; rc == RD_KAFKA_CONF_OK && i + 1 < nprops; i += 2)
    rc = rd_kafka_conf_set(conf, name = props[i], props[i + 1], why, whylen);
  for (size_t i = 0; rc == RD_KAFKA_CONF_OK && i < nmodel; i++)
    rc = rd_kafka_conf_set(conf, name = model[i].name, model[i].value, why, whylen);
  if (rc == RD_KAFKA_CONF_OK)
    return conf;
  *bad = name;
  rd_kafka_conf_destroy(conf);
  return NULL;
}
