/* kafka_log.c — librdkafka's log lines as sluice's (see kafka_log.h). */
#include "core/kafka_log.h"

#include <string.h>

#include "core/log.h"

static sl_log_level level_of(int level, const char *fac) {
  if (!strcmp(fac, "FAIL"))
    return SL_LOG_DEBUG;
  return level <= 3 ? SL_LOG_ERROR : level == 4 ? SL_LOG_WARN : level <= 6 ? SL_LOG_INFO : SL_LOG_DEBUG;
}

void sl_kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf) {
  (void)rk;
  sl_log(level_of(level, fac), "kafka: %s: %s", fac, buf);
}

void sl_kafka_log_quiet_conf_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf) {
  (void)rk;
  sl_log(strcmp(fac, "CONFWARN") ? level_of(level, fac) : SL_LOG_DEBUG, "kafka: %s: %s", fac, buf);
}
