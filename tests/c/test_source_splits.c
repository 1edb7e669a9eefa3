/* test_source_splits.c — a file read in line-aligned splits by parallel subtasks (core/source_splits.c):
 * the first parallel reader cuts the file into N splits that start just after a newline and cover it whole;
 * every subtask computes the same table and owns the splits (i + k) % N; resume points round-trip and are
 * honoured at another parallelism (1 reads every split); a subtask empties copies of resume points that are
 * not its own; a file read before by one reader is not cut; --follow, a replaced file and a split file that
 * cannot be mapped are handled. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/source_splits.h"
#include "state/state_backend.h"
#define TEST_TMPDIR_PREFIX "sl_splits"
#include "test_tmpdir.h"

typedef struct fixture {
  char dir[4096], file[4200];
  sl_backend *b;
  char *map;
  size_t len;
  struct stat st;
} fixture;

static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  if (!f || tmpdir_create(f->dir, sizeof f->dir, TEST_TMPDIR_PREFIX))
    return -1;
  snprintf(f->file, sizeof f->file, "%s/in.log", f->dir);
  FILE *out = fopen(f->file, "w");
  for (int i = 0; i < 1000; i++) /* lines of different lengths */
    fprintf(out, "{\"n\":%d,\"pad\":\"%.*s\"}\n", i, i % 37, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
  fclose(out);
  int fd = open(f->file, O_RDONLY);
  fstat(fd, &f->st);
  f->len = (size_t)f->st.st_size;
  f->map = mmap(NULL, f->len, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  char st[4300], why[256];
  snprintf(st, sizeof st, "%s/state", f->dir);
  sl_backend_options bo = {0, 1u << 26};
  if (sl_backend_open(&f->b, st, &bo, why, sizeof why) != SL_STATE_OK)
    return -1;
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  sl_backend_close(f->b);
  munmap(f->map, f->len);
  tmpdir_remove(f->dir);
  free(f);
  return 0;
}

static int plan(fixture *f, unsigned task, unsigned n, int follow, int may_cut, sl_split **s, unsigned *ns,
                int *owner) {
  char err[512];
  return sl_splits_plan(f->b, f->file, &f->st, f->map, follow, may_cut, 0, 1, task, n, s, ns, owner, err,
                        sizeof err);
}

static uint64_t lines_before(const fixture *f, uint64_t at) {
  uint64_t n = 0;
  for (uint64_t i = 0; i < at; i++)
    n += f->map[i] == '\n';
  return n;
}

static void cut_covers_the_file_in_whole_lines(void **state) {
  fixture *f = *state;
  sl_split *s0, *s1, *s2;
  unsigned n0, n1, n2;
  int o0, o1, o2;
  assert_int_equal(plan(f, 0, 3, 0, 1, &s0, &n0, &o0), 1);
  assert_int_equal(plan(f, 1, 3, 0, 1, &s1, &n1, &o1), 1);
  assert_int_equal(plan(f, 2, 3, 0, 1, &s2, &n2, &o2), 1);
  assert_int_equal(n0, 1);
  assert_int_equal(n1, 1);
  assert_int_equal(n2, 1);
  assert_int_equal(s0[0].index, 0); /* file 0: split k to subtask k */
  assert_int_equal(s1[0].index, 1);
  assert_int_equal(s2[0].index, 2);
  assert_int_equal(s0[0].start, 0);
  assert_int_equal(s0[0].end, s1[0].start);
  assert_int_equal(s1[0].end, s2[0].start);
  assert_int_equal(s2[0].end, f->len);
  assert_int_equal(f->map[s1[0].start - 1], '\n');
  assert_int_equal(f->map[s2[0].start - 1], '\n');
  assert_int_equal(s1[0].line, lines_before(f, s1[0].start));
  assert_int_equal(s2[0].offset, s2[0].start);
  free(s0), free(s1), free(s2);
}

static void resume_points_hold_at_any_parallelism(void **state) {
  fixture *f = *state;
  sl_split *s;
  unsigned n;
  int owner;
  assert_int_equal(plan(f, 1, 2, 0, 1, &s, &n, &owner), 1);
  assert_int_equal(n, 1);
  s[0].offset = s[0].start + 100; /* as if read so far */
  s[0].line = 12345;
  assert_int_equal(sl_splits_save(f->b, f->file, (uint64_t)f->st.st_dev, (uint64_t)f->st.st_ino, s, n),
                   SL_STATE_OK);
  uint64_t start1 = s[0].start;
  free(s);
  /* One reader now: both splits, in order, split 1 from its resume point. */
  assert_int_equal(plan(f, 0, 1, 0, 1, &s, &n, &owner), 1);
  assert_int_equal(n, 2);
  assert_true(owner);
  assert_int_equal(s[0].offset, 0);
  assert_int_equal(s[1].index, 1);
  assert_int_equal(s[1].offset, start1 + 100);
  assert_int_equal(s[1].line, 12345);
  free(s);
  /* Three subtasks: still two splits (the table is fixed); subtask 2 reads nothing. */
  assert_int_equal(plan(f, 2, 3, 0, 1, &s, &n, &owner), 1);
  assert_int_equal(n, 0);
  assert_false(owner);
  free(s);
}

static void a_subtask_empties_copies_it_does_not_own(void **state) {
  fixture *f = *state;
  sl_split *s;
  unsigned n;
  int owner;
  assert_int_equal(plan(f, 1, 2, 0, 1, &s, &n, &owner), 1);
  s[0].offset = s[0].start + 10;
  assert_int_equal(sl_splits_save(f->b, f->file, (uint64_t)f->st.st_dev, (uint64_t)f->st.st_ino, s, n),
                   SL_STATE_OK);
  free(s);
  /* Subtask 0 of 2 on this same state (a restore's copy): it does not own split 1, so it empties it. */
  assert_int_equal(plan(f, 0, 2, 0, 1, &s, &n, &owner), 1);
  free(s);
  char key[4300];
  snprintf(key, sizeof key, "source/%s#1", f->file);
  const void *val;
  size_t len;
  assert_int_equal(sl_backend_meta_get(f->b, key, &val, &len), SL_STATE_OK);
  assert_int_equal(len, 0);
}

static void no_cut_for_one_reader_a_file_read_before_or_follow(void **state) {
  fixture *f = *state;
  sl_split *s;
  unsigned n;
  int owner;
  assert_int_equal(plan(f, 0, 1, 0, 1, &s, &n, &owner), 0); /* alone: read whole */
  assert_true(owner);
  assert_int_equal(plan(f, 1, 2, 1, 1, &s, &n, &owner), 0); /* --follow: whole, by subtask 0 */
  assert_false(owner);
  assert_int_equal(plan(f, 0, 2, 0, 0, &s, &n, &owner), 0); /* --no-split-inputs */
  assert_true(owner);
  char key[4300];
  snprintf(key, sizeof key, "source/%s", f->file);
  uint64_t rec[4] = {(uint64_t)f->st.st_dev, (uint64_t)f->st.st_ino, 50, 2};
  assert_int_equal(sl_backend_meta_put(f->b, key, rec, sizeof rec), SL_STATE_OK);
  assert_int_equal(plan(f, 0, 2, 0, 1, &s, &n, &owner), 0); /* read before by one reader: stays whole */
}

static void as_many_splits_as_every_subtask_needs(void **state) {
  fixture *f = *state;
  sl_split *s;
  unsigned n;
  int owner;
  char err[512];
  /* As many files as subtasks: each is read whole, file 0 by subtask 0. */
  assert_int_equal(sl_splits_plan(f->b, f->file, &f->st, f->map, 0, 1, 0, 2, 1, 2, &s, &n, &owner, err, sizeof err),
                   0);
  assert_false(owner);
  /* Two files, four subtasks: two splits each; file 0's go to subtasks 0 and 1, so subtask 2 reads none of
   * it. */
  assert_int_equal(sl_splits_plan(f->b, f->file, &f->st, f->map, 0, 1, 0, 2, 1, 4, &s, &n, &owner, err, sizeof err),
                   1);
  assert_int_equal(n, 1);
  assert_int_equal(s[0].index, 1);
  free(s);
  assert_int_equal(sl_splits_plan(f->b, f->file, &f->st, f->map, 0, 1, 0, 2, 2, 4, &s, &n, &owner, err, sizeof err),
                   1);
  assert_int_equal(n, 0);
  assert_false(owner);
  free(s);
}

static void follow_of_a_split_file_is_refused_and_another_inode_is_read_whole(void **state) {
  fixture *f = *state;
  sl_split *s;
  unsigned n;
  int owner;
  char err[512];
  assert_int_equal(plan(f, 0, 2, 0, 1, &s, &n, &owner), 1);
  free(s);
  assert_int_equal(sl_splits_plan(f->b, f->file, &f->st, NULL, 1, 1, 0, 1, 0, 2, &s, &n, &owner, err, sizeof err),
                   -1);
  assert_non_null(strstr(err, "--follow"));
  /* A split file that cannot be mapped is refused, never read whole again from its start. */
  assert_int_equal(sl_splits_plan(f->b, f->file, &f->st, NULL, 0, 1, 0, 1, 0, 2, &s, &n, &owner, err, sizeof err),
                   -1);
  assert_non_null(strstr(err, "cannot map"));
  struct stat other = f->st;
  other.st_ino++;
  assert_int_equal(sl_splits_plan(f->b, f->file, &other, f->map, 0, 1, 0, 1, 0, 2, &s, &n, &owner, err, sizeof err),
                   0);
  assert_true(owner);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(cut_covers_the_file_in_whole_lines, setup, teardown),
      cmocka_unit_test_setup_teardown(resume_points_hold_at_any_parallelism, setup, teardown),
      cmocka_unit_test_setup_teardown(a_subtask_empties_copies_it_does_not_own, setup, teardown),
      cmocka_unit_test_setup_teardown(no_cut_for_one_reader_a_file_read_before_or_follow, setup, teardown),
      cmocka_unit_test_setup_teardown(as_many_splits_as_every_subtask_needs, setup, teardown),
      cmocka_unit_test_setup_teardown(follow_of_a_split_file_is_refused_and_another_inode_is_read_whole, setup,
                                      teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
