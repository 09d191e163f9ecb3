/* Intrusive chained hash map keyed by byte strings (session ids, socket ids,
 * room names). Entries embed a sio__hmap_node and own their key storage; the
 * map never allocates per entry. The hash is seeded at start-up from the
 * CSPRNG so peers cannot aim keys (room names) at one bucket. */
#ifndef SIO_UTIL_HMAP_H
#define SIO_UTIL_HMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct sio__hmap_node {
  struct sio__hmap_node *next;
  const char *key;
  uint32_t klen;
  uint32_t hash;
} sio__hmap_node;

typedef struct sio__hmap {
  sio__hmap_node **buckets;
  uint32_t nbuckets; /* power of two, or 0 before the first insert */
  uint32_t count;
} sio__hmap;

void sio__hmap_init(sio__hmap *m);
void sio__hmap_free(sio__hmap *m); /* frees the bucket array only */
/* Inserts node (key/klen must be set and stay valid while inserted). Returns 0, or -1 on OOM.
 * Does not check for duplicates. */
int sio__hmap_put(sio__hmap *m, sio__hmap_node *node);
sio__hmap_node *sio__hmap_get(const sio__hmap *m, const char *key, size_t klen);
void sio__hmap_del(sio__hmap *m, sio__hmap_node *node);
/* Iteration: for (n = sio__hmap_first(m, &i); n; n = sio__hmap_next(m, n, &i)). Deleting the
 * current node while iterating is allowed if the next one is fetched first. */
sio__hmap_node *sio__hmap_first(const sio__hmap *m, uint32_t *it);
sio__hmap_node *sio__hmap_next(const sio__hmap *m, sio__hmap_node *n, uint32_t *it);

#define sio__container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

#endif
