/* ffi_layout.c — the layout table of ffi_layout.h: one entry per struct that Lua declares with fields
 * (lua/sluice/cdefs.lua), then one per field, taken with sizeof/offsetof from the headers the runtime is
 * built with. Grouped by header, in the order of cdefs.lua. */
#include "lua/ffi_layout.h"

#include "core/record/json_scan.h"
#include "core/record/json_write.h"
#include "core/record/record_batch.h"
#include "state/operator_state.h"
#include "state/state_backend.h"
#include "state/state_ttl.h"

typedef struct sl_ffi_layout {
  const char *type;
  const char *field; /* NULL for the struct's own entry */
  size_t size;
  size_t offset;
} sl_ffi_layout;

#define SL_LAYOUT_STRUCT(T)                                                                                  \
  { #T, NULL, sizeof(T), 0 }
#define SL_LAYOUT_FIELD(T, f)                                                                                \
  { #T, #f, sizeof(((T *)0)->f), offsetof(T, f) }

static const sl_ffi_layout layouts[] = {
    /* core/record/json_scan.h */
    SL_LAYOUT_STRUCT(sl_json_field),
    SL_LAYOUT_FIELD(sl_json_field, key_off),
    SL_LAYOUT_FIELD(sl_json_field, key_len),
    SL_LAYOUT_FIELD(sl_json_field, val_off),
    SL_LAYOUT_FIELD(sl_json_field, val_len),
    SL_LAYOUT_FIELD(sl_json_field, type),
    SL_LAYOUT_FIELD(sl_json_field, key_escaped),
    SL_LAYOUT_FIELD(sl_json_field, val_escaped),
    SL_LAYOUT_STRUCT(sl_json_error),
    SL_LAYOUT_FIELD(sl_json_error, offset),
    SL_LAYOUT_FIELD(sl_json_error, reason),

    /* core/record/record_batch.h */
    SL_LAYOUT_STRUCT(sl_rec_meta),
    SL_LAYOUT_FIELD(sl_rec_meta, topic),
    SL_LAYOUT_FIELD(sl_rec_meta, key),
    SL_LAYOUT_FIELD(sl_rec_meta, key_len),
    SL_LAYOUT_FIELD(sl_rec_meta, partition),
    SL_LAYOUT_FIELD(sl_rec_meta, offset),
    SL_LAYOUT_FIELD(sl_rec_meta, timestamp),
    SL_LAYOUT_FIELD(sl_rec_meta, timestamp_type),
    SL_LAYOUT_FIELD(sl_rec_meta, key_bound),
    SL_LAYOUT_STRUCT(sl_batch),
    SL_LAYOUT_FIELD(sl_batch, recs),
    SL_LAYOUT_FIELD(sl_batch, n),
    SL_LAYOUT_FIELD(sl_batch, cap),
    SL_LAYOUT_FIELD(sl_batch, cursor),
    SL_LAYOUT_FIELD(sl_batch, fields),
    SL_LAYOUT_FIELD(sl_batch, out_mark),

    /* core/record/json_write.h */
    SL_LAYOUT_STRUCT(sl_buf),
    SL_LAYOUT_FIELD(sl_buf, data),
    SL_LAYOUT_FIELD(sl_buf, len),
    SL_LAYOUT_FIELD(sl_buf, cap),
    SL_LAYOUT_FIELD(sl_buf, oom),

    /* state/state_backend.h */
    SL_LAYOUT_STRUCT(sl_backend_options),
    SL_LAYOUT_FIELD(sl_backend_options, cache_max_bytes),
    SL_LAYOUT_FIELD(sl_backend_options, map_size),
    SL_LAYOUT_STRUCT(sl_state_info),
    SL_LAYOUT_FIELD(sl_state_info, kind),
    SL_LAYOUT_FIELD(sl_state_info, ttl),

    /* state/state_ttl.h */
    SL_LAYOUT_STRUCT(sl_ttl),
    SL_LAYOUT_FIELD(sl_ttl, ttl_ms),
    SL_LAYOUT_FIELD(sl_ttl, update),
    SL_LAYOUT_FIELD(sl_ttl, visibility),

    /* state/operator_state.h */
    SL_LAYOUT_STRUCT(sl_op_item),
    SL_LAYOUT_FIELD(sl_op_item, data),
    SL_LAYOUT_FIELD(sl_op_item, len),
    SL_LAYOUT_STRUCT(sl_op_list),
    SL_LAYOUT_FIELD(sl_op_list, items),
    SL_LAYOUT_FIELD(sl_op_list, n),
    SL_LAYOUT_FIELD(sl_op_list, owned),
};

int sl_ffi_layout_entry(size_t i, const char **type, const char **field, size_t *size, size_t *offset) {
  if (i >= sizeof layouts / sizeof layouts[0])
    return -1;
  *type = layouts[i].type;
  *field = layouts[i].field;
  *size = layouts[i].size;
  *offset = layouts[i].offset;
  return 0;
}
