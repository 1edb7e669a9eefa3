/* json_scan_bench.c — throughput of sl_json_scan (validate + index) on nginx-style JSON lines.
 *
 * Not built by CMake. From the repository root:
 *   gcc -O2 -I. tests/bench/json_scan_bench.c core/record/json_*.c -lm -o /tmp/json_scan_bench
 *   /tmp/json_scan_bench              # 200000 generated ~180-byte lines
 *   /tmp/json_scan_bench access.json  # or the lines of a file (one JSON object per line)
 * Prints MB/s and lines/s for the scan alone (no I/O), best of several passes, plus the cost of looking up
 * one field in the index. */
#include "core/record/json_scan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct corpus {
  char *text;
  size_t len;
  size_t *starts; /* line i is text[starts[i] .. starts[i+1]-1), without its '\n' */
  size_t nlines;
} corpus;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void generate(corpus *c, size_t nlines) {
  static const char *methods[] = {"GET", "POST", "PUT", "DELETE"};
  static const char *paths[] = {"/api/search/", "/api/items/", "/static/img/", "/user/profile/"};
  static const char *agents[] = {"curl/8.5.0", "Mozilla/5.0 (X11; Linux x86_64)", "python-requests/2.31"};
  c->text = malloc(nlines * 256);
  c->starts = malloc((nlines + 1) * sizeof *c->starts);
  if (!c->text || !c->starts)
    exit(1);
  srand(42);
  for (size_t i = 0; i < nlines; i++) {
    c->starts[i] = c->len;
    int n = sprintf(c->text + c->len,
                    "{\"@timestamp\":\"18/Apr/2019:%02d:%02d:%02d\",\"remote_addr\":\"10.%d.%d.%d\","
                    "\"request\":\"%s\",\"url\":\"%s%d\",\"status\":%d,\"body_bytes_sent\":%d,"
                    "\"http_user_agent\":\"%s\"}\n",
                    rand() % 24, rand() % 60, rand() % 60, rand() % 256, rand() % 256, rand() % 256,
                    methods[rand() % 4], paths[rand() % 4], rand() % 10000, rand() % 5 ? 200 : 404,
                    rand() % 100000, agents[rand() % 3]);
    c->len += (size_t)n;
  }
  c->starts[nlines] = c->len;
  c->nlines = nlines;
}

static void load(corpus *c, const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    perror(path);
    exit(1);
  }
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  fseek(f, 0, SEEK_SET);
  c->text = malloc((size_t)size + 1);
  if (!c->text || fread(c->text, 1, (size_t)size, f) != (size_t)size)
    exit(1);
  fclose(f);
  c->len = (size_t)size;
  if (c->len && c->text[c->len - 1] != '\n')
    c->text[c->len++] = '\n';
  size_t n = 0;
  for (size_t i = 0; i < c->len; i++)
    n += c->text[i] == '\n';
  c->starts = malloc((n + 1) * sizeof *c->starts);
  c->nlines = 0;
  c->starts[0] = 0;
  for (size_t i = 0; i < c->len; i++)
    if (c->text[i] == '\n')
      c->starts[++c->nlines] = i + 1;
}

int main(int argc, char **argv) {
  corpus c = {0};
  if (argc > 1)
    load(&c, argv[1]);
  else
    generate(&c, 200000);

  sl_json_field fields[32];
  sl_json_error err;
  uint32_t n;
  size_t invalid = 0, checksum = 0;
  double best = 1e30;
  for (int pass = 0; pass < 7; pass++) {
    double t0 = now();
    for (size_t i = 0; i < c.nlines; i++) {
      const char *line = c.text + c.starts[i];
      size_t len = c.starts[i + 1] - c.starts[i] - 1;
      if (sl_json_scan(line, len, fields, 32, &n, &err) != 0)
        invalid++;
      else
        checksum += n + fields[0].val_len;
    }
    double t = now() - t0;
    if (t < best)
      best = t;
  }
  double t0 = now();
  for (size_t i = 0; i < c.nlines; i++) {
    const char *line = c.text + c.starts[i];
    size_t len = c.starts[i + 1] - c.starts[i] - 1;
    if (sl_json_scan(line, len, fields, 32, &n, &err) == 0) {
      int k = sl_json_find(line, fields, n, "url", 3);
      checksum += k >= 0 ? fields[k].val_len : 0;
    }
  }
  double with_find = now() - t0;

  printf("%zu lines, %.1f MB, %.1f bytes/line, %zu invalid (checksum %zu)\n", c.nlines, (double)c.len / 1e6,
         (double)c.len / (double)c.nlines, invalid / 7, checksum);
  printf("sl_json_scan:          %8.1f MB/s  %6.2f M lines/s  %5.1f ns/line\n", (double)c.len / best / 1e6,
         (double)c.nlines / best / 1e6, best / (double)c.nlines * 1e9);
  printf("scan + find(\"url\"):    %8.1f MB/s  %6.2f M lines/s\n", (double)c.len / with_find / 1e6,
         (double)c.nlines / with_find / 1e6);
  free(c.text);
  free(c.starts);
  return 0;
}
