/* test_harness.h — one job script run by hand, for users' unit tests (lua/sluice/testing.lua, `sluice test`):
 * in the spirit of Flink's operator test harnesses, but over the whole job and the real parts.
 *
 * A harness is what core/runtime.c assembles for a run, minus the sources, the sink's file and the event
 * loop: the job's own Lua VM (lua_host.h, the same sluice.host entry points a run calls), a real state
 * backend (LMDB) in a directory of the caller's, and the sl_buf the job's sink writes into. The test pushes
 * JSON lines in as batches, moves a manual processing-time clock and the watermark, takes checkpoints
 * (snapshot hooks, commit, a full snapshot file) and restarts from the last one as recovery would (the
 * working environment replaced by the snapshot, a fresh VM). Nothing is simulated: a record runs exactly the
 * code it runs under `sluice run`.
 *
 * Output and rejects accumulate in two buffers of JSON lines the caller reads and resets. A reject is
 * {"line": N, "error": "...", "record": "..."} (an invalid line or an operator error, as a run's dead-letter
 * file has them) or {"error": "..."} (an on_timer error). A failure that would fail a run (the state backend,
 * out of memory) makes every later call fail with that message.
 *
 * Ownership: the harness owns its VM, backend, buffers and copies of its arguments; sl_harness_close frees
 * all of it but leaves the directory's files to the caller. Single-threaded, like a run's loop. */
#ifndef SLUICE_TEST_HARNESS_H
#define SLUICE_TEST_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#include "core/record/json_write.h"
#include "core/record/record_batch.h"
#include "state/state_backend.h"

typedef struct sl_harness sl_harness;

/* Loads `script` (with its SCRIPT-ARGS) into a fresh VM, opens a backend in DIR/state (DIR must exist) and
 * starts the pipeline with keys in max_parallelism key groups and processing time start_ms. Returns the
 * harness, or NULL with the reason (the script's file:line for script errors) in err. */
sl_harness *sl_harness_open(const char *script, const char *const *args, int nargs, const char *dir,
                            unsigned max_parallelism, int64_t start_ms, char *err, size_t errlen);

/* Runs n JSON lines (lines[i] of lens[i] bytes, no newline) as one batch, numbered on from the lines pushed
 * before, then fires the timers the batch made due, as a run does after each batch. A line that is not a
 * valid JSON object, or whose operator throws, is a reject. Returns 0, or -1 with err when the job failed. */
int sl_harness_push(sl_harness *h, const char *const *lines, const size_t *lens, int n, char *err,
                    size_t errlen);
/* sl_harness_push with record i carrying metas[i] (a Kafka message's topic, partition, offset, key and
 * timestamp: what sluice.meta(rec) reads), kept by the caller until it returns; metas NULL: none. */
int sl_harness_push_meta(sl_harness *h, const char *const *lines, const size_t *lens,
                         const sl_rec_meta *metas, int n, char *err, size_t errlen);

/* Sets processing time to now_ms (epoch ms; it never goes back) and fires the timers due by then. 0 or -1. */
int sl_harness_set_time(sl_harness *h, int64_t now_ms, char *err, size_t errlen);

/* Raises the watermark to ts and fires the event timers due by then. 0 or -1. */
int sl_harness_advance_watermark(sl_harness *h, int64_t ts, char *err, size_t errlen);

/* End of the input: fires every pending event timer (as a run's final MAX_WATERMARK). 0 or -1. */
int sl_harness_end_input(sl_harness *h, char *err, size_t errlen);

/* A checkpoint: snapshot hooks, a commit, and a full snapshot of the state (expired TTL entries left out)
 * in DIR/chk-N.snap. *id gets N (1, 2, ...). 0 or -1. */
int sl_harness_checkpoint(sl_harness *h, uint64_t *id, char *err, size_t errlen);

/* The snapshot file of the last checkpoint (DIR/chk-N.snap) into path, with the bytes and entries it holds.
 * 0, or -1 when no checkpoint was taken. */
int sl_harness_last_snapshot(const sl_harness *h, char *path, size_t len, uint64_t *bytes, uint64_t *entries);

/* Restarts from checkpoint `id` as recovery would: the VM is closed, the working environment replaced by
 * that snapshot, the script loaded into a fresh VM and started. Output and rejects are emptied and the
 * watermark is the one stored in the checkpoint. 0, or -1 (the harness is then failed). */
int sl_harness_restart(sl_harness *h, uint64_t id, char *err, size_t errlen);

/* What the job wrote (JSON lines) and rejected (JSON lines as above) since the last reset. Borrowed. */
sl_buf *sl_harness_output(sl_harness *h);
sl_buf *sl_harness_rejects(sl_harness *h);

/* The state backend the job runs on now (it changes on a restart) and the processing-time clock's
 * variable (epoch ms), for reading and writing keyed state from the test. Borrowed. */
sl_backend *sl_harness_backend(sl_harness *h);
int64_t *sl_harness_clock(sl_harness *h);

void sl_harness_close(sl_harness *h);

#endif
