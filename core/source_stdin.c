/* source_stdin.c — stdin as a source: fd 0, read as source_file.c reads any descriptor (a pipe or a terminal
 * through libuv, a redirected file or device with read()). It cannot be rewound: at-most-once across a
 * crash, everything on a graceful stop. */
#include <stdio.h>
#include <string.h>

#include "core/source_kind.h"

static int stdin_open(sl_source *s, char *err, size_t errlen) {
  if (!(s->in.name = strdup("stdin"))) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  return sl_fd_source_attach(s, 0, err, errlen);
}

/* No save_offset: its offset (a redirected file's too) means nothing to the next run, which reads another
 * stdin. */
const sl_source_ops sl_source_stdin_ops = {
    sizeof(sl_fd_source), stdin_open,          sl_fd_source_start, NULL, sl_fd_source_close,
    sl_fd_source_release, sl_fd_source_pause, sl_fd_source_resume, sl_fd_source_progress, NULL, NULL,
};
