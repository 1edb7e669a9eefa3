/* stream_input.c — shared stream reading for sources (see stream_input.h). */
#include "core/stream_input.h"

void sl_input_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  sl_input *in = h->data;
  char *p = NULL;
  size_t room = 0;
  (void)suggested;
  if (sl_line_reader_space(&in->reader, &p, &room) == 0 && room > in->reader.read_size)
    room = in->reader.read_size;
  *buf = uv_buf_init(p, (unsigned)room); /* 0 bytes on out of memory: libuv reports UV_ENOBUFS */
}

int sl_input_on_read(sl_input *in, ssize_t n) {
  if (n > 0) {
    sl_line_reader_commit(&in->reader, (size_t)n);
    sl_runtime_consume(in->rt, in, 0);
    return 0;
  }
  if (n == 0)
    return 0; /* EAGAIN: nothing read */
  sl_runtime_consume(in->rt, in, 1);
  return 1;
}
