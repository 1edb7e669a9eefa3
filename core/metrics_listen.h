/* metrics_listen.h — the listening sockets the status endpoints are served on: a TCP address given as
 * --metrics [HOST:]PORT (loopback when no host is given: metrics say what a job reads, so they are not
 * offered to the network unless asked), and the state dir's unix socket (STATE-DIR/status.sock, which
 * `sluice status` reads). We bind them ourselves, before the job starts, so that an address in use stops
 * the start with a clear message (exit status 2) and port 0 tells us the port the kernel chose. */
#ifndef SLUICE_METRICS_LISTEN_H
#define SLUICE_METRICS_LISTEN_H

#include <stddef.h>

/* Splits "[HOST:]PORT" ("9249", "0.0.0.0:9249", "[::1]:9249", "localhost:0"): host gets "127.0.0.1" when
 * none is given; *port 0..65535. 0, or -1 with the reason in err. */
int sl_metrics_parse_addr(const char *spec, char *host, size_t hostlen, int *port, char *err, size_t errlen);
/* A listening TCP socket on spec: its descriptor, or -1 with the reason in err. bound gets the address it
 * listens on ("127.0.0.1:40321"; IPv6 in brackets). */
int sl_metrics_listen_tcp(const char *spec, char *bound, size_t boundlen, char *err, size_t errlen);
/* A listening unix socket at dir/name (a stale socket file there is replaced: the caller holds the state
 * dir's lock). Works for a dir whose path is longer than a socket address holds (it binds through
 * /proc/self/fd). Its descriptor, or -1 with the reason in err. */
int sl_metrics_listen_unix(const char *dir, const char *name, char *err, size_t errlen);
/* Connects to the unix socket dir/name (as listen_unix names it): a descriptor, or -1 with errno set. */
int sl_metrics_connect_unix(const char *dir, const char *name);

#endif
