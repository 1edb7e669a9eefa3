/* fd_write.h — writing a whole buffer to a descriptor, across short writes and EINTR: what every sink and
 * the dead-letter file need, in one place. */
#ifndef SLUICE_FD_WRITE_H
#define SLUICE_FD_WRITE_H

#include <stddef.h>

/* Writes all n bytes of p to fd. 0, or -1 with errno (nothing says how much was written then). */
int sl_write_all(int fd, const char *p, size_t n);

#endif
