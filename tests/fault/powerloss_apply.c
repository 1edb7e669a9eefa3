/* powerloss_apply.c — `powerloss-apply [-v] JOURNAL`: the power cut. After a program that ran under the
 * power-loss shim (powerloss.c) was killed, this undoes every change the journal shows was not made durable:
 * each file goes back to its bytes and size at its last fsync/fdatasync, then each directory-entry change
 * made after its directory's last fsync is undone, newest first. It prints one summary line (and with -v
 * one line per undone change), then removes the journal and its links directory, so the next round starts
 * from a clean slate: what is on disk after the apply is, like after a reboot, all durable.
 *
 * Exit status: 0 done, 1 something could not be undone (the tree is then not a valid power-loss state and
 * the test must fail), 2 usage or an unreadable journal. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "powerloss_journal.h"

static int verbose;
static int failures;

static void problem(const char *what, const char *path) {
  fprintf(stderr, "powerloss-apply: %s %s: %s\n", what, path, strerror(errno));
  failures++;
}

/* The directory that holds path's entry, into out. */
static void parent_of(const char *path, char *out, size_t len) {
  snprintf(out, len, "%s", path);
  char *slash = strrchr(out, '/');
  if (slash == out)
    slash[1] = '\0';
  else if (slash)
    *slash = '\0';
}

/* The syncs seen so far in a newest-first walk of the journal: a change is durable exactly when a sync of
 * its inode (data) or of its directory (entries) came after it. */
typedef struct syncs {
  struct {
    uint64_t dev, ino;
  } * inodes;
  char **dirs;
  size_t ninodes, ndirs;
} syncs;

static int inode_synced(const syncs *s, uint64_t dev, uint64_t ino) {
  for (size_t i = 0; i < s->ninodes; i++)
    if (s->inodes[i].dev == dev && s->inodes[i].ino == ino)
      return 1;
  return 0;
}

static int dir_synced(const syncs *s, const char *dir) {
  for (size_t i = 0; i < s->ndirs; i++)
    if (!strcmp(s->dirs[i], dir))
      return 1;
  return 0;
}

static void note_sync(syncs *s, const pl_record *rec) {
  if (rec->h.kind == PL_SYNC && !inode_synced(s, rec->h.dev, rec->h.ino)) {
    s->inodes = realloc(s->inodes, (s->ninodes + 1) * sizeof *s->inodes);
    s->inodes[s->ninodes].dev = rec->h.dev;
    s->inodes[s->ninodes++].ino = rec->h.ino;
  } else if (rec->h.kind == PL_DIRSYNC && !dir_synced(s, rec->path1)) {
    s->dirs = realloc(s->dirs, (s->ndirs + 1) * sizeof *s->dirs);
    s->dirs[s->ndirs++] = rec->path1;
  }
}

static int entry_durable(const syncs *s, const pl_record *rec) {
  char dir[PATH_MAX];
  parent_of(rec->path1, dir, sizeof dir);
  if (!dir_synced(s, dir))
    return 0;
  if (rec->h.kind != PL_RENAME)
    return 1;
  parent_of(rec->path2, dir, sizeof dir);
  return dir_synced(s, dir);
}

/* Puts inode (dev, ino) back to its bytes and size before record rec (through its link). */
static void undo_data(const char *journal, const pl_record *rec, uint64_t *bytes) {
  char link[PATH_MAX + 64];
  pl_link_path(journal, rec->h.dev, rec->h.ino, link, sizeof link);
  int fd = open(link, O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    problem("cannot open the link of", rec->path1);
    return;
  }
  if ((rec->h.data_len && pwrite(fd, rec->data, rec->h.data_len, rec->h.off) != (ssize_t)rec->h.data_len) ||
      ftruncate(fd, rec->h.size) != 0)
    problem("cannot restore", rec->path1);
  close(fd);
  *bytes += rec->h.data_len;
  if (verbose)
    printf("  data %s: back to %" PRId64 " bytes (%" PRIu64 " old bytes at %" PRId64 ")\n", rec->path1,
           rec->h.size, rec->h.data_len, rec->h.off);
}

static void remove_tree(const char *path) {
  struct stat st;
  if (lstat(path, &st) != 0)
    return;
  if (S_ISDIR(st.st_mode)) {
    DIR *d = opendir(path);
    struct dirent *e;
    char sub[PATH_MAX];
    while (d && (e = readdir(d)))
      if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
        snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
        remove_tree(sub);
      }
    if (d)
      closedir(d);
    if (rmdir(path) != 0)
      problem("cannot remove", path);
  } else if (unlink(path) != 0) {
    problem("cannot remove", path);
  }
}

/* Undoes one entry change; a change that never happened (the kill came between its record and the call)
 * is recognised and left alone. */
static void undo_entry(const char *journal, const pl_record *rec) {
  char saved[PATH_MAX + 64];
  struct stat st;
  const char *what = "";
  switch (rec->h.kind) {
  case PL_CREATE:
    what = "create";
    if (lstat(rec->path1, &st) == 0 && unlink(rec->path1) != 0)
      problem("cannot unlink", rec->path1);
    break;
  case PL_MKDIR:
    what = "mkdir";
    remove_tree(rec->path1);
    break;
  case PL_RMDIR:
    what = "rmdir";
    if (mkdir(rec->path1, 0755) != 0 && errno != EEXIST && errno != ENOENT)
      problem("cannot recreate", rec->path1);
    break;
  case PL_UNLINK:
    what = "unlink";
    pl_link_path(journal, rec->h.dev, rec->h.ino, saved, sizeof saved);
    if (link(saved, rec->path1) != 0 && errno != EEXIST && errno != ENOENT)
      problem("cannot relink", rec->path1);
    break;
  case PL_RENAME:
    what = "rename";
    if (lstat(rec->path2, &st) != 0 || st.st_dev != rec->h.dev || st.st_ino != rec->h.ino)
      break; /* the rename did not happen */
    if (rename(rec->path2, rec->path1) != 0) {
      problem("cannot rename back", rec->path2);
      break;
    }
    pl_link_path(journal, rec->h.dev2, rec->h.ino2, saved, sizeof saved);
    if (rec->h.ino2 && link(saved, rec->path2) != 0)
      problem("cannot relink", rec->path2);
    break;
  default:
    return;
  }
  if (verbose)
    printf("  %s %s%s%s: undone\n", what, rec->path1, rec->path2[0] ? " -> " : "", rec->path2);
}

int main(int argc, char **argv) {
  int a = 1;
  if (a < argc && !strcmp(argv[a], "-v"))
    verbose = 1, a++;
  if (a + 1 != argc) {
    fprintf(stderr, "usage: powerloss-apply [-v] JOURNAL\n");
    return 2;
  }
  const char *journal = argv[a];
  pl_record *r;
  size_t n;
  if (pl_journal_read(journal, &r, &n) != 0) {
    fprintf(stderr, "powerloss-apply: cannot read %s: %s\n", journal, strerror(errno));
    return 2;
  }
  uint64_t writes = 0, bytes = 0, entries = 0, durable = 0;
  syncs s = {0};
  /* Newest first: each undo puts back what the change before it left. File data is undone through the
   * inode's link, so names and data can be undone in one walk. */
  for (size_t i = n; i-- > 0;) {
    const pl_record *rec = &r[i];
    if (rec->h.kind == PL_SYNC || rec->h.kind == PL_DIRSYNC) {
      note_sync(&s, rec);
    } else if (rec->h.kind == PL_DATA ? inode_synced(&s, rec->h.dev, rec->h.ino) : entry_durable(&s, rec)) {
      durable++;
    } else if (rec->h.kind == PL_DATA) {
      undo_data(journal, rec, &bytes);
      writes++;
    } else {
      undo_entry(journal, rec);
      entries++;
    }
  }
  free(s.inodes);
  free(s.dirs);
  printf("powerloss-apply: %zu records; undid %" PRIu64 " writes (%" PRIu64
         " old bytes put back) and %" PRIu64 " entry changes; %" PRIu64 " changes were durable\n",
         n, writes, bytes, entries, durable);
  pl_records_free(r, n);
  free(r);
  char links[PATH_MAX + 8];
  snprintf(links, sizeof links, "%s.links", journal);
  remove_tree(links);
  unlink(journal);
  return failures ? 1 : 0;
}
