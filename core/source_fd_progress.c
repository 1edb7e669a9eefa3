/* source_fd_progress.c — how far a file (or stdin) source has read, for metrics and the progress line:
 * its size now, and the bytes of this reader's share read so far. A split file's share is the splits this
 * reader owns; each split's done part runs from its start to its resume point (the current split's is the
 * reader's offset). Called a few times a second from the loop, never per record: one fstat. */
#include "core/source_kind.h"

#include <sys/stat.h>

#include "core/source_splits.h"

void sl_fd_source_progress(sl_source *s, sl_source_progress *p) {
  sl_fd_source *f = (sl_fd_source *)s;
  struct stat st;
  if (!f->regular || f->fd < 0 || fstat(f->fd, &st) != 0 || !S_ISREG(st.st_mode))
    return;
  p->size = (uint64_t)st.st_size;
  if (f->nothing)
    return;
  if (!f->splits) {
    p->share = p->size;
    p->done = p->offset < p->size ? p->offset : p->size;
    return;
  }
  for (unsigned k = 0; k < f->nsplits; k++) {
    const sl_split *sp = &f->splits[k];
    uint64_t at = k == f->cur ? s->in.reader.offset : sp->offset;
    p->share += sp->end - sp->start;
    if (at > sp->start)
      p->done += (at < sp->end ? at : sp->end) - sp->start;
  }
}
