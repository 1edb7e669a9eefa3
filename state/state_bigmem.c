/* state_bigmem.c — big zeroed arrays, mapped with huge pages where the kernel has them (see state_bigmem.h).
 * The size alone tells how an array was allocated, so nothing is stored with it. */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "state/state_bigmem.h"

/* From here on an array is mapped: the size of a huge page on x86-64 and arm64 (smaller arrays could not
 * use one anyway). */
#define SL_BIGMEM_MAP_BYTES ((size_t)2 << 20)
#define SL_BIGMEM_ALIGN 64u /* a cache line */

void *sl_bigmem_alloc(size_t bytes) {
  if (bytes < SL_BIGMEM_MAP_BYTES) {
    /* On a cache line, not calloc's 16 bytes past one: the key filter's 64-byte blocks then each fill one
     * line (calloc split every block over two, and an add after a look-up missed on the second). */
    void *p;
    if (posix_memalign(&p, SL_BIGMEM_ALIGN, bytes ? bytes : 1) != 0)
      return NULL;
    return memset(p, 0, bytes);
  }
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
