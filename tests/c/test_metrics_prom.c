/* test_metrics_prom.c — the Prometheus text format of the metrics registry (core/metrics_prom.c): label
 * values and help text escaped as the exposition format says, sample lines, and a registry's families. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/metrics_prom.h"

/* b's content as a C string (the buffer gets a NUL after its length). */
static const char *text(sl_buf *b) {
  sl_buf_putc(b, '\0');
  b->len--;
  return b->data;
}

static void label_values_are_escaped(void **state) {
  (void)state;
  sl_buf b;
  sl_buf_init(&b);
  sl_prom_put_label_value(&b, "a\\b\"c\nd/é");
  assert_string_equal(text(&b), "a\\\\b\\\"c\\nd/é");
  sl_buf_free(&b);
}

static void help_escapes_backslash_and_newline_only(void **state) {
  (void)state;
  sl_buf b;
  sl_buf_init(&b);
  sl_prom_put_help(&b, "say \"x\"\\\nnext");
  assert_string_equal(text(&b), "say \"x\"\\\\\\nnext");
  sl_buf_free(&b);
}

static void sample_lines(void **state) {
  (void)state;
  sl_buf b;
  sl_buf_init(&b);
  const char *labels[] = {"source", "/tmp/we\"ird\nname.log", "subtask", "3"};
  sl_prom_put_sample(&b, "sluice_numRecordsIn", labels, 2, 1234567);
  sl_prom_put_sample(&b, "sluice_uptime", NULL, 0, 0);
  sl_prom_put_sample(&b, "sluice_state_cache_hit_ratio", NULL, 0, 0.95);
  sl_prom_put_sample(&b, "big", NULL, 0, 18446744073709551615.0);
  assert_string_equal(text(&b),
                      "sluice_numRecordsIn{source=\"/tmp/we\\\"ird\\nname.log\",subtask=\"3\"} 1234567\n"
                      "sluice_uptime 0\n"
                      "sluice_state_cache_hit_ratio 0.95\n"
                      "big 1.8446744073709552e+19\n");
  sl_buf_free(&b);
}

/* A registry renders every family once, with HELP and TYPE before its samples, the subtask label only at
 * parallelism > 1, and source names escaped. */
static void registry_families(void **state) {
  (void)state;
  const char *names[] = {"in\"1.log"};
  sl_metrics *m = sl_metrics_new("job", "stdout", 0, 2, names, 1);
  assert_non_null(m);
  sl_mset(&m->tasks[1].sources[0].present, 1);
  sl_mset(&m->tasks[1].sources[0].records_in, 42);
  sl_mset(&m->tasks[0].records_out, 7);
  sl_mset(&m->job.completed, 3);
  sl_checkpoint_meta c = {0};
  c.id = 9;
  c.duration_ms = 12;
  c.snapshot_bytes = 3456;
  c.barrier_ms = 2;
  sl_metrics_checkpoint_done(m, &c, 1000);
  sl_buf b;
  sl_buf_init(&b);
  sl_metrics_render_prom(m, &b, 4096, 2000);
  const char *t = text(&b);
  assert_non_null(strstr(t, "# TYPE sluice_numRecordsIn counter\nsluice_numRecordsIn{source=\"in\\\"1.log\","
                            "subtask=\"1\"} 42\n"));
  assert_null(strstr(t, "sluice_numRecordsIn{source=\"in\\\"1.log\",subtask=\"0\"}")); /* not its reader */
  assert_non_null(strstr(t, "sluice_numRecordsOut{sink=\"stdout\",subtask=\"0\"} 7\n"));
  assert_non_null(strstr(t, "\nsluice_numberOfCompletedCheckpoints 3\n"));
  assert_non_null(strstr(t, "\nsluice_lastCompletedCheckpointId 9\n"));
  assert_non_null(strstr(t, "\nsluice_lastCheckpointSize 3456\n"));
  assert_non_null(strstr(t, "\nsluice_lastCheckpointBarrierStall 2\n"));
  assert_non_null(strstr(t, "\nsluice_process_resident_memory_bytes 4096\n"));
  assert_null(strstr(t, "sluice_currentWatermark")); /* not an event-time job */
  /* every line is a comment or "name[{...}] value" */
  for (const char *line = t; *line; line = strchr(line, '\n') + 1) {
    assert_non_null(strchr(line, '\n'));
    if (*line != '#')
      assert_true(strncmp(line, "sluice_", 7) == 0);
  }
  sl_buf_free(&b);
  sl_metrics_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(label_values_are_escaped),
      cmocka_unit_test(help_escapes_backslash_and_newline_only),
      cmocka_unit_test(sample_lines),
      cmocka_unit_test(registry_families),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
