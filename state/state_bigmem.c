/* state_bigmem.c — big zeroed arrays, mapped with huge pages where the kernel has them (see state_bigmem.h).
 * The size alone tells how an array was allocated, so nothing is stored with it. */
#include <stdlib.h>
#include <sys/mman.h>

#include "state/state_bigmem.h"

/* From here on an array is mapped: the size of a huge page on x86-64 and arm64 (smaller arrays could not
 * use one anyway). */
#define SL_BIGMEM_MAP_BYTES ((size_t)2 << 20)

void *sl_bigmem_alloc(size_t bytes) {
  if (bytes < SL_BIGMEM_MAP_BYTES)
    return calloc(1, bytes ? bytes : 1);
  void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED)
    return NULL;
#ifdef MADV_HUGEPAGE
  (void)madvise(p, bytes, MADV_HUGEPAGE); /* a hint: without huge pages the array works the same */
#endif
  return p;
}

void sl_bigmem_free(void *p, size_t bytes) {
  if (!p)
    return;
  if (bytes < SL_BIGMEM_MAP_BYTES)
    free(p);
  else
    munmap(p, bytes);
}
