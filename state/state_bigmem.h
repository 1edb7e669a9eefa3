/* state_bigmem.h — zeroed arrays of a few MiB and up that state/ probes at random (the cache's slot table,
 * the key filter's bits): mapped on their own and asked for transparent huge pages, small ones allocated
 * on a cache line.
 *
 * Why: with a million keys and more, each lookup lands on a random line of such an array; with 4 KiB pages
 * that is a TLB miss as well as a cache miss, and a freshly grown array faults its pages in one by one
 * (measured on 1 M distinct keys: the cache table's rehash, mostly page faults, was a tenth of the record
 * thread). Such an array touches all its pages anyway, so huge pages cost no memory. Mapping it apart from
 * malloc's heap also keeps its free from making malloc consolidate the heap's many small free chunks.
 * Ownership: the caller owns the array and frees it with sl_bigmem_free, passing the same size. */
#ifndef SLUICE_STATE_BIGMEM_H
#define SLUICE_STATE_BIGMEM_H

#include <stddef.h>

/* bytes zeroed bytes, aligned to at least a cache line (64 bytes), or NULL when out of memory. */
void *sl_bigmem_alloc(size_t bytes);

/* Frees p (NULL is fine), allocated by sl_bigmem_alloc(bytes). */
void sl_bigmem_free(void *p, size_t bytes);

#endif
