/* status_command.c — `sluice status` (see status_command.h). The job serves its report over HTTP on a
 * unix socket; this side sends one HTTP/1.0 GET and prints the body. Only the status line and the end of
 * the headers are looked at: the job's own server (libmicrohttpd) writes them, and nothing else is read. */
#include "core/status_command.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "core/fd_write.h"
#include "core/metrics_listen.h"
#include "core/record/json_write.h"
#include "core/state_dir.h"

#define REPLY_TIMEOUT_S 10

/* The whole reply into b. 0, or -1 with errno. */
static int ask(int fd, const char *path, sl_buf *b) {
  char req[256];
  int n = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: sluice\r\n\r\n", path);
  struct timeval tv = {REPLY_TIMEOUT_S, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (sl_write_all(fd, req, (size_t)n))
    return -1;
  for (;;) {
    if (sl_buf_reserve(b, 65536)) {
      errno = ENOMEM;
      return -1;
    }
    ssize_t got = read(fd, b->data + b->len, 65536);
    if (got < 0 && errno == EINTR)
      continue;
    if (got < 0)
      return -1;
    if (got == 0)
      return 0;
    b->len += (size_t)got;
  }
}

int sl_status_command(int argc, char **argv) {
  const char *dir = NULL;
  int json = 0;
  for (int i = 0; i < argc; i++) {
    if (!strcmp(argv[i], "--json"))
      json = 1;
    else if (!dir && argv[i][0] != '-')
      dir = argv[i];
    else {
      fprintf(stderr, "sluice: status: unexpected argument '%s' (usage: sluice status STATE-DIR [--json])\n",
              argv[i]);
      return 2;
    }
  }
  if (!dir) {
    fputs("sluice: usage: sluice status STATE-DIR [--json]\n", stderr);
    return 2;
  }
  struct stat st;
  if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
    fprintf(stderr, "sluice: status: no state dir '%s'\n", dir);
    return 2;
  }
  int fd = sl_metrics_connect_unix(dir, SL_STATE_DIR_STATUS_SOCKET);
  if (fd < 0) { /* no socket, or one a killed job left behind (nobody listens on it) */
    fprintf(stderr, "sluice: no job runs in %s\n", dir);
    return 1;
  }
  sl_buf b;
  sl_buf_init(&b);
  int rc = ask(fd, json ? "/metrics.json" : "/status", &b);
  close(fd);
  const char *body = NULL;
  if (rc == 0) {
    sl_buf_putc(&b, '\0');
    body = strstr(b.data, "\r\n\r\n");
  }
  if (rc != 0 || b.oom || !body || strncmp(b.data, "HTTP/1.", 7) || strncmp(b.data + 8, " 200", 4)) {
    fprintf(stderr, "sluice: status: the job in %s did not answer: %s\n", dir,
            rc ? strerror(errno) : "a reply that is not its status");
    sl_buf_free(&b);
    return 1;
  }
  fputs(body + 4, stdout);
  sl_buf_free(&b);
  return 0;
}
