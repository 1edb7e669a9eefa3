/* fuzz_json_scan.c — libFuzzer target for the JSON scanner: any bytes must give a clean accept or reject,
 * never a crash, a hang or an out-of-bounds read (run under ASan/UBSan), and an accepted line's index must
 * point inside the line. ctest runs it as fuzz/json_scan on corpus/json_scan/ plus mutations
 * (standalone_main.c); the libFuzzer binary comes from -DSLUICE_FUZZ=ON (README.md, "Tests"). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/record/json_scan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  sl_json_field fields[8];
  uint32_t n = 0;
  sl_json_error err;
  char *line = malloc(size ? size : 1); /* exact size, so ASan sees any read past the end */
  memcpy(line, data, size);
  if (sl_json_scan(line, size, fields, 8, &n, &err) == 0) {
    for (uint32_t i = 0; i < n && i < 8; i++) {
      if ((size_t)fields[i].key_off + fields[i].key_len > size ||
          (size_t)fields[i].val_off + fields[i].val_len > size)
        abort();
      char out[4096];
      if (fields[i].type == SL_JSON_STRING && fields[i].val_len <= sizeof out)
        sl_json_unescape(line + fields[i].val_off, fields[i].val_len, out);
    }
    sl_json_field f;
    sl_json_find_scan(line, size, "url", 3, &f);
  } else if (err.offset > size || !err.reason) {
    abort();
  }
  free(line);
  return 0;
}
