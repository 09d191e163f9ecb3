/* Stand-in driver for fuzz targets when libFuzzer is not linked (gcc builds).
 * Replays every file of the seed corpus directory given as argv[1], then runs
 * deterministic mutations of the seeds (byte flips, inserts, truncations,
 * splices) for FUZZ_SECONDS (default 3) seconds. Prints a TAP line so meson
 * shows it; a crash or sanitizer report fails the test. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct { uint8_t *p; size_t n; } seed_t;

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void) {
  rng_state ^= rng_state << 13; rng_state ^= rng_state >> 7; rng_state ^= rng_state << 17;
  return rng_state;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  seed_t seeds[512];
  size_t nseeds = 0;
  if (argc > 1) {
    DIR *d = opendir(argv[1]);
    struct dirent *e;
    while (d && (e = readdir(d)) && nseeds < 512) {
      if (e->d_name[0] == '.') continue;
      char path[4096];
      snprintf(path, sizeof path, "%s/%s", argv[1], e->d_name);
      FILE *f = fopen(path, "rb");
      if (!f) continue;
      uint8_t *buf = malloc(1 << 20);
      size_t n = fread(buf, 1, 1 << 20, f);
      fclose(f);
      seeds[nseeds].p = buf;
      seeds[nseeds].n = n;
      nseeds++;
    }
    if (d) closedir(d);
  }
  for (size_t i = 0; i < nseeds; i++) LLVMFuzzerTestOneInput(seeds[i].p, seeds[i].n);
  if (nseeds == 0) {
    seeds[0].p = calloc(1, 16);
    seeds[0].n = 16;
    nseeds = 1;
  }

  const char *s = getenv("FUZZ_SECONDS");
  double limit = s ? atof(s) : 3.0, start = now_s();
  size_t runs = 0;
  uint8_t *buf = malloc(1 << 16);
  while (now_s() - start < limit) {
    for (int k = 0; k < 256; k++, runs++) {
      seed_t *a = &seeds[rnd() % nseeds], *b = &seeds[rnd() % nseeds];
      size_t n = a->n > 60000 ? 60000 : a->n;
      memcpy(buf, a->p, n);
      int muts = 1 + (int)(rnd() % 6);
      for (int m = 0; m < muts; m++) {
        switch (rnd() % 5) {
        case 0: if (n) buf[rnd() % n] ^= (uint8_t)(1u << (rnd() % 8)); break;
        case 1: if (n) buf[rnd() % n] = (uint8_t)rnd(); break;
        case 2: if (n < 65000) { size_t at = n ? rnd() % n : 0; memmove(buf + at + 1, buf + at, n - at); buf[at] = (uint8_t)rnd(); n++; } break;
        case 3: if (n) n = rnd() % n; break;
        case 4: { size_t take = b->n < 200 ? b->n : 200; if (take && n + take < 65000) { size_t from = rnd() % (b->n - take + 1); memcpy(buf + n, b->p + from, take); n += take; } } break;
        }
      }
      LLVMFuzzerTestOneInput(buf, n);
    }
  }
  free(buf);
  for (size_t i = 0; i < nseeds; i++) free(seeds[i].p);
  printf("ok 1 - %zu seeds, %zu mutated runs\n1..1\n", nseeds, runs);
  return 0;
}
