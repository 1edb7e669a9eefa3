/* state_spill_log.c — the spill log's file (see state_spill_log.h for why it exists).
 *
 * Records are [op: u8][key length: u32][value length: u32][key][value] in host byte order: the file never
 * outlives the process that wrote it. The file is created unlinked (O_TMPFILE, or mkstemp + unlink), so a
 * crash leaves nothing behind. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "state/state_spill_log.h"

int sl_spill_init(sl_spill_log *l, const char *dir) {
  memset(l, 0, sizeof(*l));
  l->dir = strdup(dir);
  return l->dir ? 0 : -1;
}

void sl_spill_close(sl_spill_log *l) {
  if (l->f)
    fclose(l->f);
  free(l->dir);
  memset(l, 0, sizeof(*l));
}

static int create(sl_spill_log *l) {
  int fd = -1;
#ifdef O_TMPFILE
  fd = open(l->dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
#endif
  if (fd < 0) {
    size_t n = strlen(l->dir) + 32;
    char *path = malloc(n);
    if (!path)
      return ENOMEM;
    snprintf(path, n, "%s/spill.XXXXXX", l->dir);
    fd = mkstemp(path);
    if (fd >= 0)
      unlink(path);
    free(path);
    if (fd < 0)
      return errno;
  }
  if (!(l->f = fdopen(fd, "w+b"))) {
    int e = errno;
    close(fd);
    return e;
  }
  return 0;
}

int sl_spill_append(sl_spill_log *l, int op, const void *k, size_t klen, const void *v, size_t vlen) {
  int rc;
  if (!l->f && (rc = create(l)) != 0)
    return rc;
  uint8_t head[9];
  uint32_t kl = (uint32_t)klen, vl = (uint32_t)vlen;
  errno = 0;
  head[0] = (uint8_t)op;
  memcpy(head + 1, &kl, 4);
  memcpy(head + 5, &vl, 4);
  if (fwrite(head, 1, 9, l->f) != 9 || (klen && fwrite(k, 1, klen, l->f) != klen) ||
      (vlen && fwrite(v, 1, vlen, l->f) != vlen))
    return errno ? errno : EIO;
  l->records++;
  return 0;
}

int sl_spill_replay(sl_spill_log *l, sl_spill_fn fn, void *arg) {
  if (!l->f || !l->records)
    return 0;
  if (fflush(l->f) != 0 || fseek(l->f, 0, SEEK_SET) != 0)
    return -(errno ? errno : EIO);
  uint8_t *buf = NULL;
  size_t cap = 0;
  int rc = 0;
  for (uint64_t i = 0; i < l->records && rc == 0; i++) {
    uint8_t head[9];
    uint32_t kl, vl;
    if (fread(head, 1, 9, l->f) != 9) {
      rc = -EIO;
      break;
    }
    memcpy(&kl, head + 1, 4);
    memcpy(&vl, head + 5, 4);
    size_t need = (size_t)kl + vl + 1;
    if (need > cap) {
      uint8_t *nb = realloc(buf, need);
      if (!nb) {
        rc = -ENOMEM;
        break;
      }
      buf = nb;
      cap = need;
    }
    if (fread(buf, 1, (size_t)kl + vl, l->f) != (size_t)kl + vl) {
      rc = -EIO;
      break;
    }
    rc = fn(arg, head[0], buf, kl, buf + kl, vl);
  }
  free(buf);
  /* Further appends go to the end whatever happened. */
  if (fseek(l->f, 0, SEEK_END) != 0 && rc == 0)
    rc = -(errno ? errno : EIO);
  return rc;
}

void sl_spill_reset(sl_spill_log *l) {
  l->records = 0;
  if (!l->f)
    return;
  /* If the truncate fails the old bytes stay, but records = 0 means they are never read. */
  fflush(l->f);
  if (ftruncate(fileno(l->f), 0) != 0) {
    /* nothing else to do */
  }
  rewind(l->f);
}
