#include "util/hmap.h"

#include <stdlib.h>
#include <string.h>

#include "util/id.h"

static uint64_t hmap_seed;

/* FNV-1a over the key mixed with a random seed, finished with a murmur-style
 * avalanche so the low bits used for the bucket index depend on every byte. */
static uint32_t hmap_hash(const char *key, size_t len) {
  if (!hmap_seed) {
    if (sio__random_bytes(&hmap_seed, sizeof hmap_seed) != 0 || !hmap_seed) hmap_seed = 0x9e3779b97f4a7c15ull;
  }
  uint64_t h = 0xcbf29ce484222325ull ^ hmap_seed;
  for (size_t i = 0; i < len; i++) {
    h ^= (unsigned char)key[i];
    h *= 0x100000001b3ull;
  }
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  return (uint32_t)h;
}

void sio__hmap_init(sio__hmap *m) { memset(m, 0, sizeof *m); }

void sio__hmap_free(sio__hmap *m) {
  free(m->buckets);
  memset(m, 0, sizeof *m);
}

static int hmap_grow(sio__hmap *m) {
  uint32_t nb = m->nbuckets ? m->nbuckets * 2 : 16;
  sio__hmap_node **b = calloc(nb, sizeof *b);
  if (!b) return -1;
  for (uint32_t i = 0; i < m->nbuckets; i++) {
    sio__hmap_node *n = m->buckets[i];
    while (n) {
      sio__hmap_node *next = n->next;
      n->next = b[n->hash & (nb - 1)];
      b[n->hash & (nb - 1)] = n;
      n = next;
    }
  }
  free(m->buckets);
  m->buckets = b;
  m->nbuckets = nb;
  return 0;
}

int sio__hmap_put(sio__hmap *m, sio__hmap_node *node) {
  if (m->count >= m->nbuckets && hmap_grow(m) != 0) return -1;
  node->hash = hmap_hash(node->key, node->klen);
  sio__hmap_node **slot = &m->buckets[node->hash & (m->nbuckets - 1)];
  node->next = *slot;
  *slot = node;
  m->count++;
  return 0;
}

sio__hmap_node *sio__hmap_get(const sio__hmap *m, const char *key, size_t klen) {
  if (!m->count) return NULL;
  uint32_t h = hmap_hash(key, klen);
  for (sio__hmap_node *n = m->buckets[h & (m->nbuckets - 1)]; n; n = n->next)
    if (n->hash == h && n->klen == klen && memcmp(n->key, key, klen) == 0) return n;
  return NULL;
}

void sio__hmap_del(sio__hmap *m, sio__hmap_node *node) {
  sio__hmap_node **p = &m->buckets[node->hash & (m->nbuckets - 1)];
  while (*p && *p != node) p = &(*p)->next;
  if (*p) {
    *p = node->next;
    m->count--;
  }
  node->next = NULL;
}

sio__hmap_node *sio__hmap_first(const sio__hmap *m, uint32_t *it) {
  for (uint32_t i = 0; i < m->nbuckets; i++)
    if (m->buckets[i]) {
      *it = i;
      return m->buckets[i];
    }
  return NULL;
}

sio__hmap_node *sio__hmap_next(const sio__hmap *m, sio__hmap_node *n, uint32_t *it) {
  if (n->next) return n->next;
  for (uint32_t i = *it + 1; i < m->nbuckets; i++)
    if (m->buckets[i]) {
      *it = i;
      return m->buckets[i];
    }
  return NULL;
}
