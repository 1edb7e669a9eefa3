/* powerloss_journal.h — the undo journal of the simulated power loss: its record format, written by the
 * LD_PRELOAD shim (powerloss.c) before each change to a file or a directory, read back by powerloss-apply
 * after the program was killed.
 *
 * The journal is a file of records appended in the order the changes were made. Each record is a fixed
 * header, then path1, path2 and data (lengths in the header). An inode the journal refers to is kept alive
 * by a hard link JOURNAL.links/i-DEV-INO, made the first time the shim sees it changed (so it can be read
 * back, and put back after an unlink or a rename over it); every such link is on the traced filesystem, so
 * the journal must sit on the same filesystem as the traced directory, outside it.
 *
 * Records, and what undoing one does:
 *   PL_DATA     before a write/truncate of inode (dev, ino): the file had size `size`, and `data` were its
 *               bytes at `off`. Undo: put the bytes back, truncate to `size`.
 *   PL_SYNC     fsync/fdatasync of inode (dev, ino) returned 0: its PL_DATA records before are durable.
 *   PL_CREATE   path1 is being created (did not exist). Undo: unlink path1.
 *   PL_MKDIR    path1 is being created as a directory. Undo: remove path1 and everything under it.
 *   PL_RENAME   path1 (inode dev, ino) is being renamed to path2; if path2 existed, its inode is (dev2,
 *               ino2), linked. Undo: if path2 is still that inode, rename it back, relink the old path2.
 *   PL_UNLINK   path1 (inode dev, ino, linked) is being unlinked. Undo: link it back.
 *   PL_RMDIR    path1 (an empty directory) is being removed. Undo: mkdir path1.
 *   PL_DIRSYNC  fsync of directory path1 returned 0: the entry changes in path1 before are durable.
 *
 * A record is written before its change is made: a kill between the two leaves a record for a change that
 * never happened, so each undo checks what is there and does nothing when the change is absent. */
#ifndef SLUICE_POWERLOSS_JOURNAL_H
#define SLUICE_POWERLOSS_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

enum pl_kind { PL_DATA = 1, PL_SYNC, PL_CREATE, PL_MKDIR, PL_RENAME, PL_UNLINK, PL_RMDIR, PL_DIRSYNC };

#define PL_MAGIC 0x504c4a31u /* "PLJ1" */

typedef struct pl_head {
  uint32_t magic;
  uint32_t kind;
  uint64_t dev, ino;   /* the inode a record is about (PL_DATA, PL_SYNC, PL_RENAME source, PL_UNLINK) */
  uint64_t dev2, ino2; /* PL_RENAME: the inode path2 had, or 0 */
  int64_t off, size;   /* PL_DATA */
  uint32_t len1, len2; /* path1, path2 (no NUL) */
  uint64_t data_len;
} pl_head;

/* A record read back: paths NUL-terminated, data owned by the record (free with pl_record_free). */
typedef struct pl_record {
  pl_head h;
  char *path1, *path2;
  unsigned char *data;
} pl_record;

/* The name of the link that keeps inode (dev, ino) alive: "JOURNAL.links/i-DEV-INO". Returns out. */
char *pl_link_path(const char *journal, uint64_t dev, uint64_t ino, char *out, size_t len);

/* Reads the whole journal into *recs (malloc'd array of *n records). A torn last record (the writer was
 * killed inside a write) ends the journal. 0, or -1 with errno (cannot open or read). */
int pl_journal_read(const char *path, pl_record **recs, size_t *n);

void pl_records_free(pl_record *recs, size_t n);

#endif
