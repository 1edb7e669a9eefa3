/* source_kind.h — what a kind of source implements (one file per kind: source_file.c, source_stdin.c,
 * source_tcp.c, source_kafka.c), the way luv has one file per handle kind and Redis a dictType per dictionary kind.
 *
 * A kind's struct embeds sl_source as its first member (so a pointer to either is a pointer to both), and its
 * ops table says how big it is and how to open, start, checkpoint, close and release it. core/source.c does
 * everything common — allocation, the line reader, the name, dispatch, the order of the lifecycle — so a new
 * kind (Kafka) is one new file and one line in source.c's table. Only source*.c include this header. */
#ifndef SLUICE_SOURCE_KIND_H
#define SLUICE_SOURCE_KIND_H

#include <stdint.h>
#include <uv.h>

#include "core/source.h"

struct sl_source {
  sl_input in; /* first: libuv handles' data points at the source and at its sl_input at once */
  sl_endpoint ep;
  const struct sl_source_ops *ops;
  int closed;
  int paused;
};

typedef struct sl_source_ops {
  size_t size; /* of the kind's struct (which starts with an sl_source) */
  /* Opens the input (s->in.name set by then, or set here): 0, or -1 with the reason in err. On failure the
   * kind leaves only what close and release undo. */
  int (*open)(sl_source *s, char *err, size_t errlen);
  /* Starts reading on the loop: 0, or -1 with the reason in err. */
  int (*start)(sl_source *s, char *err, size_t errlen);
  /* Puts the resume point into the backend's pending metadata; NULL for a kind that cannot rewind. */
  int (*save_offset)(sl_source *s);
  /* Stops reading and starts closing the kind's handles (their callbacks run on a later loop turn). */
  void (*close)(sl_source *s);
  /* Frees what the kind allocated, once its handles have closed (NULL: nothing). */
  void (*release)(sl_source *s);
  /* Stops reading until resume (a parallel subtask's backpressure and barrier alignment); NULL for a kind
   * that cannot run in a parallel job. */
  void (*pause)(sl_source *s);
  void (*resume)(sl_source *s);
  /* How far reading has got (metrics, progress); NULL: only what the line reader knows (core/source.h). */
  void (*progress)(sl_source *s, sl_source_progress *p);
  /* The checkpoint whose barrier last saved this source's offset completed (NULL: nothing to do). Kafka
   * commits that offset to its consumer group. */
  void (*checkpoint_complete)(sl_source *s);
  /* Its partitions' offsets and ends (sl_source_get_partitions); NULL for a kind without partitions. */
  int (*partitions)(sl_source *s, sl_source_partition *out, int max);
} sl_source_ops;

extern const sl_source_ops sl_source_file_ops;  /* source_file.c: a file, a device, a FIFO by path */
extern const sl_source_ops sl_source_stdin_ops; /* source_stdin.c: fd 0, whatever it is */
extern const sl_source_ops sl_source_tcp_ops;   /* source_tcp.c: a TCP server of JSON lines */
extern const sl_source_ops sl_source_kafka_ops; /* source_kafka.c: a Kafka topic (librdkafka) */
/* sl_source_forget_offset of a file source (source_file.c) and of a Kafka source (source_kafka.c). */
int sl_file_source_forget_offset(sl_backend *b, const sl_endpoint *ep);
int sl_kafka_source_forget_offset(sl_backend *b, const sl_endpoint *ep);

/* The file and stdin kinds read a descriptor the same way (source_file.c); stdin only opens differently. */
typedef struct sl_fd_source {
  sl_source base; /* first (source_kind.h) */
  int fd;
  int regular; /* a regular file or a device: read directly; else a pipe, socket or tty read through libuv */
  int follow;
  uint64_t dev, ino;
  char *meta_key; /* "source/<realpath>" for rewindable files, NULL otherwise */
  char *real;     /* the realpath of a rewindable file */
  struct sl_split *splits; /* a split file (core/source_splits.h): the splits this reader owns, or NULL */
  unsigned nsplits, cur;
  int nothing; /* none of the file is this reader's (a parallel job's other subtasks read it) */
  void *map;      /* a regular file read once to its end is read in place, or NULL */
  size_t map_len, map_released;
  uv_idle_t idle;      /* drives reads of regular files and devices */
  uv_timer_t poll;     /* follow mode: checks for growth and rotation */
  uv_stream_t *stream; /* pipes, ttys */
} sl_fd_source;
/* Takes fd (opened by the kind; s->in.name set) as the source's input: how to read it, and for a regular
 * file its identity and the resume point restored from the backend. 0, or -1 with the reason in err. */
int sl_fd_source_attach(sl_source *s, int fd, char *err, size_t errlen);
/* The ops of both descriptor kinds (see sl_source_ops); save_offset is the file kind's only. */
int sl_fd_source_start(sl_source *s, char *err, size_t errlen);
int sl_fd_source_save_offset(sl_source *s);
void sl_fd_source_close(sl_source *s);
void sl_fd_source_release(sl_source *s);
void sl_fd_source_pause(sl_source *s);
void sl_fd_source_resume(sl_source *s);
void sl_fd_source_progress(sl_source *s, sl_source_progress *p); /* source_fd_progress.c */

#endif
