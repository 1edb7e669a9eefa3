/* ffi_layout.h — the layout of every C struct that lua/sluice/cdefs.lua declares with its fields, as the
 * compiler lays it out: the struct's size, and each field's offset and size. Nothing in the runtime calls
 * this; tests/lua/ffi_layout_spec.lua reads the table through the FFI and compares it with ffi.sizeof and
 * ffi.offsetof of the Lua declarations, so that a field added to a C struct and not to its Lua mirror fails
 * a test instead of silently shifting every field after it.
 *
 * The table is built in lua/ffi_layout.c with sizeof/offsetof on the real headers. A struct declared in
 * cdefs.lua with fields must be listed there, with every field (the spec fails otherwise). */
#ifndef SLUICE_FFI_LAYOUT_H
#define SLUICE_FFI_LAYOUT_H

#include <stddef.h>

/* Entry i (0-based) of the layout table. A struct's own entry has *field = NULL, *size = sizeof the struct
 * and *offset = 0; it is followed by one entry per field in declaration order, with *field its name,
 * *size = sizeof the field and *offset = offsetof the field. Every string is static. Returns 0, or -1 when
 * i is past the end of the table (the outputs are then left alone). No pointer may be NULL. */
int sl_ffi_layout_entry(size_t i, const char **type, const char **field, size_t *size, size_t *offset);

#endif
