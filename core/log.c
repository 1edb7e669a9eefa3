/* log.c — one-line messages on stderr (see log.h). Newlines inside a message are replaced by spaces so a
 * Lua traceback or a hostile record can never break the one-line rule. */
#include "core/log.h"

#include <stdio.h>
#include <string.h>

static sl_log_level max_level = SL_LOG_INFO;

void sl_log_set_level(sl_log_level level) {
  max_level = level;
}

void sl_logv(sl_log_level level, const char *fmt, va_list ap) {
  static const char *names[] = {"error", "warning", "info", "debug"};
  char msg[2048];
  if (level > max_level)
    return;
  vsnprintf(msg, sizeof msg, fmt, ap);
  for (char *p = msg; *p; p++)
    if (*p == '\n' || *p == '\r')
      *p = ' ';
  fprintf(stderr, "sluice: %s: %s\n", names[level], msg);
}

void sl_log(sl_log_level level, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  sl_logv(level, fmt, ap);
  va_end(ap);
}
