/* bg_worker.c — the checkpoint's background thread (see bg_worker.h). */
#include "core/bg_worker.h"

#include <stdio.h>
#include <string.h>

/* The snapshot writer and LMDB's page walk need far less than glibc's default 8 MiB, and a small stack
 * keeps sluice inside a tight address-space limit. */
#define STACK_BYTES ((size_t)1 << 20)

static void *thread_main(void *p) {
  sl_bg_worker *w = p;
  pthread_mutex_lock(&w->mu);
  for (;;) {
    while (!w->queued && !w->quit)
      pthread_cond_wait(&w->cv, &w->mu);
    if (w->quit)
      break;
    w->queued = 0;
    pthread_mutex_unlock(&w->mu);
    w->work(w->arg);
    pthread_mutex_lock(&w->mu);
    w->finished = 1;
    uv_async_send(&w->done); /* async-signal and thread safe: wakes the loop */
  }
  pthread_mutex_unlock(&w->mu);
  return NULL;
}

static void on_done(uv_async_t *h) {
  sl_bg_worker *w = h->data;
  pthread_mutex_lock(&w->mu);
  int finished = w->finished;
  w->finished = 0;
  pthread_mutex_unlock(&w->mu);
  if (!finished)
    return; /* sends coalesce; a spurious wake-up is possible */
  w->busy = 0;
  w->after(w->arg);
  if (w->closing && !w->busy && w->async_open) {
    w->async_open = 0;
    uv_close((uv_handle_t *)&w->done, NULL);
  }
}

int sl_bg_worker_start(sl_bg_worker *w, uv_loop_t *loop, char *err, size_t errlen) {
  int rc = uv_async_init(loop, &w->done, on_done);
  if (rc) {
    snprintf(err, errlen, "cannot set up the checkpoint worker: %s", uv_strerror(rc));
    return -1;
  }
  w->done.data = w;
  w->async_open = 1;
  pthread_mutex_init(&w->mu, NULL);
  pthread_cond_init(&w->cv, NULL);
  pthread_attr_t attr;
  rc = pthread_attr_init(&attr);
  if (!rc)
    rc = pthread_attr_setstacksize(&attr, STACK_BYTES);
  if (!rc)
    rc = pthread_create(&w->thread, &attr, thread_main, w);
  pthread_attr_destroy(&attr);
  if (rc) {
    snprintf(err, errlen, "cannot start the checkpoint thread: %s", strerror(rc));
    return -1;
  }
  w->running = 1;
  return 0;
}

int sl_bg_worker_submit(sl_bg_worker *w, sl_bg_fn work, sl_bg_fn after, void *arg) {
  if (!w->running || !w->async_open || w->busy)
    return -1;
  pthread_mutex_lock(&w->mu);
  w->work = work;
  w->after = after;
  w->arg = arg;
  w->queued = 1;
  w->busy = 1;
  pthread_cond_signal(&w->cv);
  pthread_mutex_unlock(&w->mu);
  return 0;
}

void sl_bg_worker_stop(sl_bg_worker *w) {
  w->closing = 1;
  if (w->async_open && !w->busy) {
    w->async_open = 0;
    uv_close((uv_handle_t *)&w->done, NULL);
  }
}

void sl_bg_worker_close(sl_bg_worker *w) {
  if (!w->running)
    return;
  pthread_mutex_lock(&w->mu);
  w->quit = 1;
  pthread_cond_signal(&w->cv);
  pthread_mutex_unlock(&w->mu);
  pthread_join(w->thread, NULL);
  w->running = 0;
  pthread_mutex_destroy(&w->mu);
  pthread_cond_destroy(&w->cv);
}
