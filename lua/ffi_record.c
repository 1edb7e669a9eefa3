/* ffi_record.c — FFI entry points for lazy records and key scopes (see ffi_record.h). */
#include "lua/ffi_record.h"

#include <stdlib.h>
#include <string.h>

int sl_rec_field(const sl_rec *r, const char *key, size_t klen, sl_json_field *out) {
  if (r->nfields <= SL_RECORD_INDEXED_FIELDS) {
    int i;
    if (r->memo_key == key) {
      i = r->memo_index;
    } else {
      i = sl_json_find(r->line, r->fields, r->nfields, key, klen);
      /* The memo is a cache inside an otherwise read-only record. */
      ((sl_rec *)r)->memo_key = key;
      ((sl_rec *)r)->memo_index = i;
    }
    if (i < 0)
      return -1;
    *out = r->fields[i];
  } else if (sl_json_find_scan(r->line, r->len, key, klen, out)) {
    return -1;
  }
  return out->type;
}

double sl_rec_number(const sl_rec *r, const sl_json_field *f) {
  /* The scanner validated the number, and the byte after it is a delimiter, so strtod stops there. */
  return strtod(r->line + f->val_off, NULL);
}

/* Scratch for decoded escaped strings: grows to the longest seen; one per thread (parallel subtasks each
 * run on their own). */
static __thread char *scratch;
static __thread size_t scratch_cap;

const char *sl_rec_string(const sl_rec *r, const sl_json_field *f, size_t *len) {
  const char *text = r->line + f->val_off;
  if (!f->val_escaped) {
    *len = f->val_len;
    return text;
  }
  if (scratch_cap < f->val_len + 1) {
    char *n = realloc(scratch, f->val_len + 1);
    if (!n) {
      *len = 0;
      return NULL; /* never a wrong (empty) value: the caller fails the job */
    }
    scratch = n;
    scratch_cap = f->val_len + 1;
  }
  *len = sl_json_unescape(text, f->val_len, scratch);
  return scratch;
}

const char *sl_rec_value_text(const sl_rec *r, const sl_json_field *f) {
  return r->line + f->val_off;
}

const char *sl_rec_line(const sl_rec *r, size_t *len) {
  *len = r->len;
  return r->line;
}

const sl_rec_meta *sl_rec_get_meta(const sl_rec *r) {
  return r->meta;
}

double sl_rec_timestamp(const sl_rec *r) {
  return r->meta && r->meta->timestamp >= 0 ? (double)r->meta->timestamp : -1;
}

int sl_batch_set_meta(sl_batch *b, uint32_t i, const sl_rec_meta *meta) {
  if (i >= b->n)
    return -1;
  b->recs[i].meta = meta;
  return 0;
}

/* sl_rec_field_key, also telling whether the key is a string's bytes (else a value's JSON text). */
static int field_key(const sl_rec *r, const char *field, size_t flen, const char **key, size_t *len,
                     int *is_string) {
  sl_json_field f;
  int type = sl_rec_field(r, field, flen, &f);
  if (type < 0 || type == SL_JSON_NULL)
    return 1;
  *len = f.val_len;
  *is_string = type == SL_JSON_STRING;
  *key = *is_string ? sl_rec_string(r, &f, len) : r->line + f.val_off;
  return *key ? 0 : -1;
}

int sl_rec_field_key(const sl_rec *r, const char *field, size_t flen, const char **key, size_t *len) {
  int is_string;
  return field_key(r, field, flen, key, len, &is_string);
}

int sl_rec_field_key_group(const sl_rec *r, const char *field, size_t flen, unsigned max_parallelism) {
  const char *key;
  size_t len;
  if (sl_rec_field_key(r, field, flen, &key, &len) != 0 || len > SL_SCOPE_MAX_KEY)
    return -1;
  return sl_key_group(key, len, (uint16_t)max_parallelism);
}

int sl_key_group_of(const char *key, size_t len, unsigned max_parallelism) {
  if (len > SL_SCOPE_MAX_KEY)
    return -1;
  return sl_key_group(key, len, (uint16_t)max_parallelism);
}

int sl_rec_key_fits_partition(const sl_rec *r, const char *key, size_t len) {
  const sl_rec_meta *m = r->meta;
  return !m || !m->key_bound || (m->key && m->key_len == len && (len == 0 || memcmp(m->key, key, len) == 0));
}

int sl_scope_key_from_field(sl_keyed_scope *s, const sl_rec *r, const char *field, size_t flen) {
  const char *key;
  size_t len;
  int is_string;
  int rc = field_key(r, field, flen, &key, &len, &is_string);
  if (rc)
    return rc;
  if (!sl_rec_key_fits_partition(r, key, len))
    return 2;
  if (sl_scope_set_key(s, key, len) != 0)
    return -1;
  s->key_is_token = !is_string;
  return 0;
}

int sl_scope_key_is_token(const sl_keyed_scope *s) {
  return s->has_key && s->key_is_token;
}

const char *sl_scope_current_key(const sl_keyed_scope *s, size_t *len) {
  if (!s->has_key) {
    *len = 0;
    return NULL;
  }
  *len = s->key_len;
  return (const char *)s->key;
}

sl_keyed_scope *sl_scope_new(sl_backend *b, unsigned max_parallelism) {
  sl_keyed_scope *s = malloc(sizeof *s);
  if (s)
    sl_scope_init(s, b, (uint16_t)(max_parallelism ? max_parallelism : SL_DEFAULT_MAX_PARALLELISM));
  return s;
}

void sl_scope_free(sl_keyed_scope *s) {
  sl_scope_close(s);
  free(s);
}
