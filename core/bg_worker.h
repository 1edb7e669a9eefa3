/* bg_worker.h — one background thread for the checkpoint's disk work, and the way back to the loop.
 *
 * Why not libuv's thread pool (uv_queue_work): libuv creates its pool lazily at the first request and
 * calls abort() when it cannot create a thread (measured: under `ulimit -v 100M` the first checkpoint
 * killed sluice with SIGABRT). Here the thread is created once at start, with a small stack, and a failure
 * is an error the runtime reports (exit 2) before any record is read.
 *
 * One job at a time: submit hands a job to the thread; when it is done, the thread wakes the loop
 * (uv_async_t) and the job's `after` runs on the loop thread. The async handle keeps the loop alive while a
 * job is in flight, so a stopping loop still runs `after` before it ends.
 * Ownership: the caller owns the struct (zeroed before start) and the job's argument. */
#ifndef SLUICE_BG_WORKER_H
#define SLUICE_BG_WORKER_H

#include <pthread.h>
#include <stddef.h>
#include <uv.h>

typedef void (*sl_bg_fn)(void *arg);

typedef struct sl_bg_worker {
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  uv_async_t done;
  sl_bg_fn work, after;
  void *arg;
  int queued;   /* a job waits for the thread (under mu) */
  int finished; /* the thread finished the job; after has not run yet (under mu) */
  int busy;     /* loop thread: a job was submitted and its after has not run */
  int quit;     /* under mu: the thread ends */
  int running;  /* the thread exists */
  int async_open, closing;
} sl_bg_worker;

/* Starts the thread and the async handle on loop. 0, or -1 with the reason in err (nothing to stop then,
 * but sl_bg_worker_close is harmless). */
int sl_bg_worker_start(sl_bg_worker *w, uv_loop_t *loop, char *err, size_t errlen);

/* Runs work(arg) on the thread, then after(arg) on the loop thread. Only when not busy. 0, or -1 when the
 * worker is not running (the caller then runs both inline). */
int sl_bg_worker_submit(sl_bg_worker *w, sl_bg_fn work, sl_bg_fn after, void *arg);

/* The loop is stopping: closes the async handle once no job is in flight (at once, or after the job's
 * after has run). Idempotent. */
void sl_bg_worker_stop(sl_bg_worker *w);

/* Ends and joins the thread (after the loop has run). Idempotent. */
void sl_bg_worker_close(sl_bg_worker *w);

#endif
