/* log.h — the runtime's one-line messages on stderr.
 *
 * Every message is one line, starts with "sluice: " and a level, and names what it is about (a file:line, a
 * source, an operator), so that a user grepping a log of a long run finds the record and the reason. With
 * --log-format json each is one JSON object instead, for log shippers:
 *   {"time": "2026-12-01T13:50:00.123Z", "level": "error", "msg": "in.log:7: invalid JSON at byte 3: ..."} */
#ifndef SLUICE_LOG_H
#define SLUICE_LOG_H

#include <stdarg.h>

typedef enum sl_log_level { SL_LOG_ERROR, SL_LOG_WARN, SL_LOG_INFO, SL_LOG_DEBUG } sl_log_level;

void sl_log_set_level(sl_log_level max_level);
/* 1: every message as one JSON object (see above); 0: "sluice: LEVEL: message" lines (the default). */
void sl_log_set_json(int json);
/* "error", "warn" (or "warning"), "info", "debug" into *level. 0, or -1 for another word. */
int sl_log_parse_level(const char *name, sl_log_level *level);
/* 1 while a status line is drawn on the terminal (core/progress.h): each message then starts by clearing
 * it. Any thread. */
void sl_log_set_status_line(int on);
void sl_log(sl_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sl_logv(sl_log_level level, const char *fmt, va_list ap);

#define sl_error(...) sl_log(SL_LOG_ERROR, __VA_ARGS__)
#define sl_warn(...) sl_log(SL_LOG_WARN, __VA_ARGS__)
#define sl_info(...) sl_log(SL_LOG_INFO, __VA_ARGS__)

#endif
