/* stream_input.h — the libuv stream callbacks that every stream source shares (stdin as a pipe or a
 * terminal, TCP connections): libuv reads straight into the input's line reader (no copy), and each read is
 * consumed — run through the pipeline and written out — before libuv reads again, which is the
 * backpressure. The stream handle's data must point to the sl_input (make it the owner's first member). */
#ifndef SLUICE_STREAM_INPUT_H
#define SLUICE_STREAM_INPUT_H

#include <uv.h>

#include "core/runtime.h"

/* uv_alloc_cb: hands libuv the free space of the input's line reader. */
void sl_input_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf);

/* For a uv_read_cb: consumes n > 0 bytes read into the reader and returns 0; when the stream ended (n < 0:
 * UV_EOF or an error) consumes a last line without newline and returns 1. */
int sl_input_on_read(sl_input *in, ssize_t n);

#endif
