/* kafka_log.h — librdkafka's own log lines, written as sluice's (for every librdkafka handle sluice makes). */
#ifndef SLUICE_KAFKA_LOG_H
#define SLUICE_KAFKA_LOG_H

#include <librdkafka/rdkafka.h>

/* A log_cb (rd_kafka_conf_set_log_cb): syslog levels 3 error, 4 warning, 5-6 info, 7 debug become sluice's
 * levels; a connection failure (FAIL), which the error callback reports too, is debug. May run on any of
 * librdkafka's threads. */
void sl_kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf);
/* The same, with configuration warnings (CONFWARN) at debug: for a handle made from a configuration meant
 * for another kind of client (the sink's marker reader gets the producer's properties). */
void sl_kafka_log_quiet_conf_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf);

#endif
