/* dead_letter.c — see dead_letter.h. */
#include "core/dead_letter.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/fd_write.h"
#include "core/record/json_write.h"

int sl_dead_letter_write(int fd, const char *source, unsigned long long line_no, const char *reason,
                         const char *text, size_t len) {
  sl_buf b;
  char num[32];
  int rc = 0;
  if (fd < 0)
    return 0;
  sl_buf_init(&b);
  sl_buf_put(&b, "{\"source\": ", 11);
  sl_buf_put_json_string(&b, source, strlen(source));
  snprintf(num, sizeof num, ", \"line\": %llu", line_no);
  sl_buf_put(&b, num, strlen(num));
  sl_buf_put(&b, ", \"error\": ", 11);
  sl_buf_put_json_string(&b, reason, strlen(reason));
  sl_buf_put(&b, ", \"record\": ", 12);
  sl_buf_put_json_string(&b, text, len);
  sl_buf_put(&b, "}\n", 2);
  if (b.oom) {
    errno = ENOMEM;
    rc = -1;
  } else if (sl_write_all(fd, b.data, b.len)) {
    rc = -1;
  }
  sl_buf_free(&b);
  return rc;
}
