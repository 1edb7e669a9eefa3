/* standalone_main.c — runs a libFuzzer target without libFuzzer, so that every fuzz target is also a ctest
 * test built by any C compiler (gcc in CI, under ASan/UBSan in CI's second pass).
 *
 *   fuzz_<target>_run [--mutate N] [--seed S] FILE|DIR...
 *
 * Every FILE, and every regular file in each DIR (sorted by name), is passed once to LLVMFuzzerTestOneInput.
 * With --mutate N, N more inputs follow, each a copy of one of those files with one to four random edits
 * (bit flips, byte sets, interesting values, inserts, deletes, duplicated or swapped chunks, truncation):
 * the edits are drawn from a PRNG seeded with S (default 1), so a run is the same every time and a failure
 * can be repeated. This is no coverage-guided fuzzing — the libFuzzer build (-DSLUICE_FUZZ=ON) does that —
 * but it runs each target's seeds and crash regressions, and thousands of near-valid inputs, every run.
 *
 * A target signals a bug by crashing (abort, a sanitizer report). When that happens the input being run is
 * written to ./fuzz-crash-<pid> and its origin printed, so that it can be added to the corpus. */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Optional in a target, as in libFuzzer. */
__attribute__((weak)) int LLVMFuzzerInitialize(int *argc, char ***argv);

#define MAX_INPUT_LEN (1u << 20)

typedef struct input {
  char *name;
  uint8_t *data;
  size_t len;
} input;

typedef struct corpus {
  input *in;
  size_t n, cap;
} corpus;

/* What is running now, for the crash handler. */
static const uint8_t *cur_data;
static size_t cur_len;
static char cur_what[4200];

static void on_crash(int sig) {
  char path[64];
  snprintf(path, sizeof path, "fuzz-crash-%ld", (long)getpid());
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd >= 0) {
    if (cur_data && write(fd, cur_data, cur_len) < 0)
      path[0] = '?';
    close(fd);
  }
  static const char msg[] = "\nstandalone fuzz driver: crash while running ";
  if (write(2, msg, sizeof msg - 1) < 0 || write(2, cur_what, strlen(cur_what)) < 0 ||
      write(2, "; input saved as ", 17) < 0 || write(2, path, strlen(path)) < 0 || write(2, "\n", 1) < 0)
    sig = SIGABRT;
  signal(sig, SIG_DFL);
  raise(sig);
}

static int read_file(const char *path, corpus *c) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    perror(path);
    return -1;
  }
  uint8_t *buf = malloc(MAX_INPUT_LEN);
  size_t len = buf ? fread(buf, 1, MAX_INPUT_LEN, f) : 0;
  int bad = !buf || ferror(f) || !feof(f);
  fclose(f);
  if (bad) {
    fprintf(stderr, "%s: unreadable or larger than %u bytes\n", path, MAX_INPUT_LEN);
    free(buf);
    return -1;
  }
  if (c->n == c->cap) {
    size_t cap = c->cap ? c->cap * 2 : 16;
    input *p = realloc(c->in, cap * sizeof *p);
    if (!p) {
      free(buf);
      return -1;
    }
    c->in = p;
    c->cap = cap;
  }
  c->in[c->n].name = strdup(path);
  c->in[c->n].data = buf;
  c->in[c->n++].len = len;
  return 0;
}

static int cmp_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Adds every regular file of dir, in name order (readdir's order depends on the filesystem). */
static int read_dir(const char *dir, corpus *c) {
  DIR *d = opendir(dir);
  if (!d) {
    perror(dir);
    return -1;
  }
  char **names = NULL;
  size_t n = 0, cap = 0;
  struct dirent *e;
  int rc = 0;
  while (rc == 0 && (e = readdir(d))) {
    if (e->d_name[0] == '.')
      continue;
    if (n == cap) {
      char **p = realloc(names, (cap = cap ? cap * 2 : 16) * sizeof *p);
      if (!p) {
        rc = -1;
        break;
      }
      names = p;
    }
    names[n++] = strdup(e->d_name);
  }
  closedir(d);
  if (n)
    qsort(names, n, sizeof *names, cmp_names);
  for (size_t i = 0; i < n; i++) {
    char path[4096];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, names[i]);
    if (rc == 0 && stat(path, &st) == 0 && S_ISREG(st.st_mode))
      rc = read_file(path, c);
    free(names[i]);
  }
  free(names);
  return rc;
}

/* splitmix64: small, fast, and the same sequence on every platform. */
static uint64_t rng_state;
static uint64_t rnd(void) {
  uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
static size_t below(size_t n) {
  return n ? (size_t)(rnd() % n) : 0;
}

/* One random edit of buf[0..*len) (capacity cap). */
static void mutate_once(uint8_t *buf, size_t *len, size_t cap) {
  static const uint32_t interesting[] = {0,     1,      0x7F,   0x80,       0xFF,
                                         0x100, 0x7FFF, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF};
  size_t n = *len;
  switch (below(8)) {
  case 0: /* flip one bit */
    if (n)
      buf[below(n)] ^= (uint8_t)(1u << below(8));
    break;
  case 1: /* set one byte */
    if (n)
      buf[below(n)] = (uint8_t)rnd();
    break;
  case 2: { /* write an interesting 1-, 2- or 4-byte value, either byte order */
    size_t w = (size_t)1 << below(3);
    if (n < w)
      break;
    uint32_t v = interesting[below(sizeof interesting / sizeof *interesting)];
    size_t at = below(n - w + 1);
    int big = (int)below(2);
    for (size_t i = 0; i < w; i++)
      buf[at + i] = (uint8_t)(v >> (8 * (big ? w - 1 - i : i)));
    break;
  }
  case 3: { /* insert up to 8 random bytes */
    size_t k = 1 + below(8), at = below(n + 1);
    if (n + k > cap)
      break;
    memmove(buf + at + k, buf + at, n - at);
    for (size_t i = 0; i < k; i++)
      buf[at + i] = (uint8_t)rnd();
    *len = n + k;
    break;
  }
  case 4: { /* delete a chunk */
    if (!n)
      break;
    size_t at = below(n), k = 1 + below(n - at < 16 ? n - at : 16);
    memmove(buf + at, buf + at + k, n - at - k);
    *len = n - k;
    break;
  }
  case 5: { /* duplicate a chunk in place */
    if (!n)
      break;
    size_t from = below(n), k = 1 + below(n - from < 32 ? n - from : 32), at = below(n + 1);
    if (n + k > cap)
      break;
    uint8_t tmp[32];
    memcpy(tmp, buf + from, k);
    memmove(buf + at + k, buf + at, n - at);
    memcpy(buf + at, tmp, k);
    *len = n + k;
    break;
  }
  case 6: { /* copy a chunk over another place */
    if (n < 2)
      break;
    size_t from = below(n), to = below(n), k = 1 + below(16);
    if (k > n - from)
      k = n - from;
    if (k > n - to)
      k = n - to;
    memmove(buf + to, buf + from, k);
    break;
  }
  default: /* truncate */
    *len = below(n + 1);
    break;
  }
}

static void run_one(const uint8_t *data, size_t len) {
  /* An exact-size copy, so that a read past the end is past the allocation (ASan sees it). */
  uint8_t *copy = malloc(len ? len : 1);
  if (!copy) {
    fprintf(stderr, "out of memory\n");
    exit(2);
  }
  memcpy(copy, data, len);
  cur_data = copy;
  cur_len = len;
  LLVMFuzzerTestOneInput(copy, len);
  cur_data = NULL;
  free(copy);
}

int main(int argc, char **argv) {
  unsigned long mutations = 0, seed = 1;
  corpus c = {NULL, 0, 0};
  if (LLVMFuzzerInitialize)
    LLVMFuzzerInitialize(&argc, &argv);
  for (int i = 1; i < argc; i++) {
    struct stat st;
    if (!strcmp(argv[i], "--mutate") && i + 1 < argc) {
      mutations = strtoul(argv[++i], NULL, 10);
    } else if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
      seed = strtoul(argv[++i], NULL, 10);
    } else if (stat(argv[i], &st) != 0) {
      perror(argv[i]);
      return 2;
    } else if (S_ISDIR(st.st_mode) ? read_dir(argv[i], &c) : read_file(argv[i], &c)) {
      return 2;
    }
  }
  if (!c.n) {
    fprintf(stderr, "usage: %s [--mutate N] [--seed S] FILE|DIR...  (no input file found)\n", argv[0]);
    return 2;
  }
  signal(SIGSEGV, on_crash);
  signal(SIGABRT, on_crash);
  signal(SIGBUS, on_crash);
  signal(SIGFPE, on_crash);
  signal(SIGILL, on_crash);
  for (size_t i = 0; i < c.n; i++) {
    snprintf(cur_what, sizeof cur_what, "%s", c.in[i].name);
    run_one(c.in[i].data, c.in[i].len);
  }
  rng_state = seed;
  size_t cap = 0;
  for (size_t i = 0; i < c.n; i++)
    if (c.in[i].len > cap)
      cap = c.in[i].len;
  cap += 256;
  uint8_t *buf = malloc(cap);
  if (!buf)
    return 2;
  for (unsigned long m = 0; m < mutations; m++) {
    const input *from = &c.in[below(c.n)];
    size_t len = from->len;
    memcpy(buf, from->data, len);
    for (size_t k = 1 + below(4); k > 0; k--)
      mutate_once(buf, &len, cap);
    snprintf(cur_what, sizeof cur_what, "mutation %lu (--seed %lu) of %s", m, seed, from->name);
    run_one(buf, len);
  }
  printf("%zu inputs and %lu mutations (seed %lu) run without a failure\n", c.n, mutations, seed);
  free(buf);
  for (size_t i = 0; i < c.n; i++) {
    free(c.in[i].name);
    free(c.in[i].data);
  }
  free(c.in);
  return 0;
}
