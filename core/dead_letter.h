/* dead_letter.h — the dead-letter file (--dead-letter PATH): every rejected record, appended as one JSON line
 * {"source", "line", "error", "record"} as it is rejected (at-least-once across a crash). */
#ifndef SLUICE_DEAD_LETTER_H
#define SLUICE_DEAD_LETTER_H

#include <stddef.h>

/* Appends one rejected record to the dead-letter file fd. fd < 0 (no dead-letter file) does nothing. 0, or
 * -1 with errno (the job must fail: a reject that cannot be recorded is a lost record). */
int sl_dead_letter_write(int fd, const char *source, unsigned long long line_no, const char *reason,
                         const char *text, size_t len);

#endif
