/* log.c — one-line messages on stderr (see log.h). Newlines inside a message are replaced by spaces so a
 * Lua traceback or a hostile record can never break the one-line rule. */
#include "core/log.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Set once, in main, before any thread starts. */
static sl_log_level max_level = SL_LOG_INFO;
static int as_json;
static atomic_int status_line; /* core/progress.c draws a line that a message must clear first */

void sl_log_set_status_line(int on) {
  atomic_store(&status_line, on);
}

void sl_log_set_level(sl_log_level level) {
  max_level = level;
}

void sl_log_set_json(int json) {
  as_json = json;
}

int sl_log_parse_level(const char *name, sl_log_level *level) {
  static const char *words[] = {"error", "warn", "info", "debug"};
  for (int i = 0; i < 4; i++)
    if (!strcmp(name, words[i])) {
      *level = (sl_log_level)i;
      return 0;
    }
  if (!strcmp(name, "warning")) {
    *level = SL_LOG_WARN;
    return 0;
  }
  return -1;
}

/* msg as a JSON string's content into out (cap bytes): quotes, backslashes and control bytes escaped. */
static void json_escape(const char *msg, char *out, size_t cap) {
  size_t n = 0;
  for (const unsigned char *p = (const unsigned char *)msg; *p && n + 7 < cap; p++) {
    if (*p == '"' || *p == '\\') {
      out[n++] = '\\';
      out[n++] = (char)*p;
    } else if (*p < 0x20) {
      n += (size_t)snprintf(out + n, cap - n, "\\u%04x", *p);
    } else {
      out[n++] = (char)*p;
    }
  }
  out[n] = '\0';
}

void sl_logv(sl_log_level level, const char *fmt, va_list ap) {
  static const char *names[] = {"error", "warning", "info", "debug"};
  char msg[2048];
  if (level > max_level)
    return;
  vsnprintf(msg, sizeof msg, fmt, ap);
  if (atomic_load(&status_line))
    fputs("\r\033[K", stderr);
  if (as_json) {
    char esc[6 * sizeof msg + 1], when[40];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t w = strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(when + w, sizeof when - w, ".%03ldZ", ts.tv_nsec / 1000000);
    json_escape(msg, esc, sizeof esc);
    fprintf(stderr, "{\"time\": \"%s\", \"level\": \"%s\", \"msg\": \"%s\"}\n", when,
            level == SL_LOG_WARN ? "warn" : names[level], esc);
    return;
  }
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
