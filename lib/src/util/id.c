/* CSPRNG and session ids; see id.h for the contract and the threading rule. */
#include "util/id.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>

#define SIO__ID_RAND 12               /* random bytes per id */
#define SIO__ID_BATCH 64              /* ids per DRBG call */
#define SIO__ID_POOL (SIO__ID_RAND * SIO__ID_BATCH)

/* A pool of 768 bytes stays under MBEDTLS_CTR_DRBG_MAX_REQUEST (1024), so a
 * refill is a single DRBG call. */
#if SIO__ID_POOL > MBEDTLS_CTR_DRBG_MAX_REQUEST
#error "id pool larger than one CTR-DRBG request"
#endif

static struct {
  int ready;              /* DRBG seeded */
  int atfork_done;        /* pthread_atfork handler registered */
  volatile int forked;    /* set in a fork child: reseed before the next draw */
  mbedtls_entropy_context entropy;
  mbedtls_ctr_drbg_context drbg;
  uint8_t pool[SIO__ID_POOL];
  size_t pool_pos;        /* next unused pool byte; SIO__ID_POOL = empty */
  uint32_t seq;           /* last sequence number handed out (24 bits used) */
} sio__rng;

/* URL-safe alphabet: the standard one with '+' -> '-' and '/' -> '_', which is
 * what the reference gets by running replace() over standard base64. Encoding
 * with it directly saves the second pass. */
static const char sio__id_alpha[64] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Runs in the child right after fork(). A forked child has a byte-for-byte
 * copy of the DRBG state and of the unused pool, so without this it would
 * repeat the parent's next ids. Only flags are touched (the child may be
 * restricted to async-signal-safe work); the reseed happens on the next draw. */
static void sio__id_atfork_child(void) {
  sio__rng.forked = 1;
  sio__rng.pool_pos = SIO__ID_POOL;
}

int sio__id_init(void) {
  if (sio__rng.ready) return 0;
  mbedtls_entropy_init(&sio__rng.entropy);
  mbedtls_ctr_drbg_init(&sio__rng.drbg);
  /* The personalization string only separates this DRBG instance from others
   * seeded from the same source; it adds no entropy. */
  static const char pers[] = "sio ids and random bytes";
  if (mbedtls_ctr_drbg_seed(&sio__rng.drbg, mbedtls_entropy_func, &sio__rng.entropy,
                            (const unsigned char *)pers, sizeof pers - 1) != 0) {
    mbedtls_ctr_drbg_free(&sio__rng.drbg);
    mbedtls_entropy_free(&sio__rng.entropy);
    return -1;
  }
  if (!sio__rng.atfork_done) {
    /* Failure to register is not fatal: it only matters if the process forks
     * and both sides then keep generating ids. */
    if (pthread_atfork(NULL, NULL, sio__id_atfork_child) == 0) sio__rng.atfork_done = 1;
  }
  sio__rng.forked = 0;
  sio__rng.pool_pos = SIO__ID_POOL;
  sio__rng.ready = 1;
  return 0;
}

/* Makes the DRBG usable: seeds it on first use, reseeds it after a fork. */
static int sio__rng_ready(void) {
  if (!sio__rng.ready && sio__id_init() != 0) return -1;
  if (sio__rng.forked) {
    /* Fresh OS entropy makes the child's stream independent of the parent's;
     * the pid as additional input is only a cheap extra separator. */
    pid_t pid = getpid();
    if (mbedtls_ctr_drbg_reseed(&sio__rng.drbg, (const unsigned char *)&pid, sizeof pid) != 0)
      return -1;
    sio__rng.forked = 0;
  }
  return 0;
}

int sio__random_bytes(void *out, size_t n) {
  if (sio__rng_ready() != 0) return -1;
  unsigned char *p = out;
  while (n > 0) {
    size_t k = n < MBEDTLS_CTR_DRBG_MAX_REQUEST ? n : MBEDTLS_CTR_DRBG_MAX_REQUEST;
    if (mbedtls_ctr_drbg_random(&sio__rng.drbg, p, k) != 0) return -1;
    p += k;
    n -= k;
  }
  return 0;
}

void sio__id_generate(char out[SIO__ID_LEN + 1]) {
  uint8_t raw[15];

  if (sio__rng.forked || sio__rng.pool_pos + SIO__ID_RAND > SIO__ID_POOL) {
    if (sio__random_bytes(sio__rng.pool, SIO__ID_POOL) != 0) {
      fprintf(stderr, "sio: CSPRNG unavailable, refusing to generate guessable ids\n");
      abort();
    }
    sio__rng.pool_pos = 0;
  }
  memcpy(raw, sio__rng.pool + sio__rng.pool_pos, SIO__ID_RAND);
  sio__rng.pool_pos += SIO__ID_RAND;

  /* The counter makes ids of one process distinct even if two random parts
   * ever collided; the reference increments before use, so the first id
   * carries 1. */
  sio__rng.seq = (sio__rng.seq + 1) & 0xFFFFFFu;
  raw[12] = (uint8_t)(sio__rng.seq >> 16);
  raw[13] = (uint8_t)(sio__rng.seq >> 8);
  raw[14] = (uint8_t)sio__rng.seq;

  /* 15 bytes = 5 whole groups of 3, hence exactly 20 chars and no padding. */
  for (int g = 0; g < 5; g++) {
    uint32_t v = (uint32_t)raw[3 * g] << 16 | (uint32_t)raw[3 * g + 1] << 8 | raw[3 * g + 2];
    out[4 * g] = sio__id_alpha[v >> 18];
    out[4 * g + 1] = sio__id_alpha[(v >> 12) & 63];
    out[4 * g + 2] = sio__id_alpha[(v >> 6) & 63];
    out[4 * g + 3] = sio__id_alpha[v & 63];
  }
  out[SIO__ID_LEN] = '\0';
}

int sio__random_alnum(char *out, size_t n) {
  static const char alnum[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
  uint8_t rnd[64];
  for (size_t done = 0; done < n;) {
    size_t k = n - done < sizeof rnd ? n - done : sizeof rnd;
    if (sio__random_bytes(rnd, k) != 0) return -1;
    for (size_t i = 0; i < k; i++) out[done + i] = alnum[rnd[i] % 62];
    done += k;
  }
  out[n] = '\0';
  return 0;
}
