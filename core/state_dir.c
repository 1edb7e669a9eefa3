/* state_dir.c — paths inside a state dir (see state_dir.h). */
#include "core/state_dir.h"

#include <inttypes.h>
#include <stdio.h>

void sl_state_dir_path(const char *state_dir, const char *name, char *out, size_t len) {
  snprintf(out, len, "%s/%s", state_dir, name);
}

void sl_checkpoint_dir(const char *checkpoints_dir, uint64_t id, char *out, size_t len) {
  snprintf(out, len, "%s/" SL_CHECKPOINT_PREFIX "%020" PRIu64, checkpoints_dir, id);
}

void sl_checkpoint_file(const char *dir, const char *file, char *out, size_t len) {
  snprintf(out, len, "%s/%s", dir, file);
}

void sl_checkpoint_task_name(unsigned task, char *out, size_t len) {
  snprintf(out, len, "task-%u.snap", task);
}

void sl_checkpoint_task_file(const char *dir, unsigned task, char *out, size_t len) {
  snprintf(out, len, "%s/task-%u.snap", dir, task);
}

void sl_checkpoint_task_delta_name(unsigned task, char *out, size_t len) {
  snprintf(out, len, "task-%u.delta", task);
}

void sl_checkpoint_task_delta_file(const char *dir, unsigned task, char *out, size_t len) {
  snprintf(out, len, "%s/task-%u.delta", dir, task);
}

void sl_task_dir(const char *state_dir, unsigned task, char *out, size_t len) {
  snprintf(out, len, "%s/task-%u", state_dir, task);
}

void sl_pending_part(const char *pending_dir, uint64_t id, char *out, size_t len) {
  snprintf(out, len, "%s/part-%020" PRIu64, pending_dir, id);
}
