/* metrics_listen.c — listening sockets for the status endpoints (see metrics_listen.h). */
#include "core/metrics_listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int sl_metrics_parse_addr(const char *spec, char *host, size_t hostlen, int *port, char *err, size_t errlen) {
  const char *colon = strrchr(spec, ':'), *p = colon ? colon + 1 : spec;
  char *end;
  long v = strtol(p, &end, 10);
  if (*p == '\0' || *end != '\0' || v < 0 || v > 65535) {
    snprintf(err, errlen, "--metrics needs [HOST:]PORT with a port 0..65535, got '%s'", spec);
    return -1;
  }
  *port = (int)v;
  if (!colon) {
    snprintf(host, hostlen, "127.0.0.1");
    return 0;
  }
  size_t n = (size_t)(colon - spec);
  if (n >= 2 && spec[0] == '[' && spec[n - 1] == ']') { /* [::1]:9249 */
    spec++;
    n -= 2;
  }
  if (n == 0 || n >= hostlen) {
    snprintf(err, errlen, "--metrics: bad host in '%s'", spec);
    return -1;
  }
  memcpy(host, spec, n);
  host[n] = '\0';
  return 0;
}

int sl_metrics_listen_tcp(const char *spec, char *bound, size_t boundlen, char *err, size_t errlen) {
  char host[256], service[16];
  int port;
  if (sl_metrics_parse_addr(spec, host, sizeof host, &port, err, errlen))
    return -1;
  snprintf(service, sizeof service, "%d", port);
  struct addrinfo hints = {0}, *res = NULL;
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  int rc = getaddrinfo(host, service, &hints, &res);
  if (rc) {
    snprintf(err, errlen, "--metrics %s: cannot resolve '%s': %s", spec, host, gai_strerror(rc));
    return -1;
  }
  int fd = -1, why = 0;
  for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
    fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      why = errno;
      continue;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, a->ai_addr, a->ai_addrlen) || listen(fd, 64)) {
      why = errno;
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(res);
  if (fd < 0) {
    snprintf(err, errlen, "--metrics %s: cannot listen there: %s", spec, strerror(why));
    return -1;
  }
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  char text[INET6_ADDRSTRLEN] = "?";
  if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0) {
    if (ss.ss_family == AF_INET6) {
      struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
      inet_ntop(AF_INET6, &s6->sin6_addr, text, sizeof text);
      snprintf(bound, boundlen, "[%s]:%u", text, ntohs(s6->sin6_port));
    } else {
      struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
      inet_ntop(AF_INET, &s4->sin_addr, text, sizeof text);
      snprintf(bound, boundlen, "%s:%u", text, ntohs(s4->sin_port));
    }
  }
  return fd;
}

/* The socket's address, through an O_PATH descriptor of dir when dir/name is too long for sun_path.
 * *dirfd gets that descriptor (the caller closes it) or -1. 0, or -1 with errno. */
static int unix_addr(const char *dir, const char *name, struct sockaddr_un *sa, int *dirfd) {
  memset(sa, 0, sizeof *sa);
  sa->sun_family = AF_UNIX;
  *dirfd = -1;
  if ((size_t)snprintf(sa->sun_path, sizeof sa->sun_path, "%s/%s", dir, name) < sizeof sa->sun_path)
    return 0;
  *dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (*dirfd < 0)
    return -1;
  snprintf(sa->sun_path, sizeof sa->sun_path, "/proc/self/fd/%d/%s", *dirfd, name);
  return 0;
}

int sl_metrics_listen_unix(const char *dir, const char *name, char *err, size_t errlen) {
  struct sockaddr_un sa;
  int dirfd, fd = -1;
  if (unix_addr(dir, name, &sa, &dirfd) == 0 && (fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) >= 0) {
    unlink(sa.sun_path); /* a socket left by a job that was killed */
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) || listen(fd, 16)) {
      close(fd);
      fd = -1;
    }
  }
  if (fd < 0)
    snprintf(err, errlen, "cannot listen on %s/%s: %s", dir, name, strerror(errno));
  if (dirfd >= 0)
    close(dirfd);
  return fd;
}

int sl_metrics_connect_unix(const char *dir, const char *name) {
  struct sockaddr_un sa;
  int dirfd, fd = -1;
  if (unix_addr(dir, name, &sa, &dirfd) == 0 && (fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) >= 0 &&
      connect(fd, (struct sockaddr *)&sa, sizeof sa)) {
    int e = errno;
    close(fd);
    fd = -1;
    errno = e;
  }
  if (dirfd >= 0) {
    int e = errno;
    close(dirfd);
    errno = e;
  }
  return fd;
}
