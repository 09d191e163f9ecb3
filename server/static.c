/* static.c: see static.h. */
#include "static.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Past this a file is not served at all: everything here is read whole into
 * memory, and eio_http_respond copies the body once more. */
#define STATIC_MAX_FILE_BYTES (32u << 20)
/* How long a cached file is trusted before the next stat(). */
#define STATIC_RECHECK_MS 1000
/* "index.html" appended to "dir/" paths, plus the NUL. */
#define STATIC_INDEX "index.html"

typedef struct entry {
  struct entry *next;
  char *rel;      /* normalized path relative to the root: the cache key */
  char *file;     /* resolved absolute path (symlinks followed), for re-checks */
  char *body;
  size_t len;
  struct timespec mtime;
  uint64_t checked_ms; /* monotonic time of the last stat() */
  const char *type;
  char etag[64];
} entry_t;

struct static_site {
  char *dir;      /* as given */
  char *root;     /* realpath(dir), NULL if it did not resolve */
  size_t root_len;
  entry_t *entries;
};

/* ---- content types ---------------------------------------------------------- */

static const struct {
  const char *ext;
  const char *type;
} content_types[] = {
    {".html", "text/html; charset=utf-8"},
    {".htm", "text/html; charset=utf-8"},
    {".js", "application/javascript; charset=utf-8"},
    {".mjs", "application/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".map", "application/json; charset=utf-8"},
    {".json", "application/json; charset=utf-8"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".ico", "image/x-icon"},
    {".txt", "text/plain; charset=utf-8"},
};

static const char *content_type_of(const char *rel) {
  const char *slash = strrchr(rel, '/');
  const char *dot = strrchr(slash ? slash : rel, '.');
  if (dot) {
    for (size_t i = 0; i < sizeof content_types / sizeof content_types[0]; i++)
      if (strcasecmp(dot, content_types[i].ext) == 0) return content_types[i].type;
  }
  return "application/octet-stream";
}

/* ---- paths -------------------------------------------------------------------- */

static int hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Turns a URL path (percent-decoded when `decode`) into a path relative to
 * the root: empty segments collapse, a trailing "/" means index.html.
 * Refuses (-1) rather than repairs anything odd, since a legitimate page
 * never asks for it: segments starting with '.' (covers "." and ".." and
 * dot-files such as .git), backslashes (a second separator to some tools),
 * NUL and other control bytes, encoded '/' and malformed escapes. `out`
 * needs len + sizeof STATIC_INDEX bytes. */
static int normalize(const char *path, size_t len, int decode, char *out) {
  size_t o = 0, seg = 0; /* seg: where the current segment starts in out */
  int trailing_slash = 1;
  for (size_t i = 0; i < len; i++) {
    int c = (unsigned char)path[i];
    if (c == '/') {
      if (o > seg) out[o++] = '/';
      seg = o;
      trailing_slash = 1;
      continue;
    }
    if (decode && c == '%') {
      int hi = i + 2 < len ? hexval((unsigned char)path[i + 1]) : -1;
      int lo = hi >= 0 ? hexval((unsigned char)path[i + 2]) : -1;
      if (lo < 0) return -1;
      c = hi << 4 | lo;
      i += 2;
      if (c == '/') return -1;
    }
    if (c < 0x20 || c == 0x7f || c == '\\') return -1;
    if (o == seg && c == '.') return -1;
    out[o++] = (char)c;
    trailing_slash = 0;
  }
  if (trailing_slash) {
    memcpy(out + o, STATIC_INDEX, sizeof STATIC_INDEX - 1);
    o += sizeof STATIC_INDEX - 1;
  }
  out[o] = '\0';
  return 0;
}

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- the cache ------------------------------------------------------------------ */

static void entry_free(entry_t *e) {
  free(e->rel);
  free(e->file);
  free(e->body);
  free(e);
}

static void cache_drop(static_site_t *site, entry_t *e) {
  for (entry_t **pp = &site->entries; *pp; pp = &(*pp)->next) {
    if (*pp == e) {
      *pp = e->next;
      entry_free(e);
      return;
    }
  }
}

static int read_all(int fd, char *buf, size_t len) {
  size_t got = 0;
  while (got < len) {
    ssize_t n = read(fd, buf + got, len - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1; /* error, or the file shrank under us */
    got += (size_t)n;
  }
  return 0;
}

/* Reads `rel` from disk into a new cache entry. Returns the entry, NULL
 * when there is no such regular file under the root (404), or sets *err
 * when one exists but cannot be served (500). */
static entry_t *load(static_site_t *site, const char *rel, int *err) {
  size_t rlen = strlen(rel);
  char *joined = malloc(site->root_len + 1 + rlen + 1);
  if (!joined) {
    *err = 1;
    return NULL;
  }
  memcpy(joined, site->root, site->root_len);
  joined[site->root_len] = '/';
  memcpy(joined + site->root_len + 1, rel, rlen + 1);
  /* Resolving symlinks and then checking the prefix is what keeps a link
   * inside the root from exposing files outside it. */
  char *file = realpath(joined, NULL);
  free(joined);
  if (!file) return NULL;
  if (strncmp(file, site->root, site->root_len) != 0 || file[site->root_len] != '/') {
    free(file);
    return NULL;
  }
  int fd = open(file, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    if (fd >= 0) close(fd);
    free(file);
    return NULL;
  }
  entry_t *e = calloc(1, sizeof *e);
  size_t size = (size_t)st.st_size;
  if (!e || (uintmax_t)st.st_size > STATIC_MAX_FILE_BYTES ||
      !(e->body = malloc(size ? size : 1)) || read_all(fd, e->body, size) != 0 ||
      !(e->rel = strdup(rel))) {
    fprintf(stderr, "sio-chat: cannot serve %s: %s\n", file,
            (uintmax_t)st.st_size > STATIC_MAX_FILE_BYTES ? "file too large" : strerror(errno));
    close(fd);
    free(file);
    if (e) entry_free(e);
    *err = 1;
    return NULL;
  }
  close(fd);
  e->file = file;
  e->len = size;
  e->mtime = st.st_mtim;
  e->checked_ms = now_ms();
  e->type = content_type_of(rel);
  /* Like Node's etag module: size and mtime, cheap and enough to tell two
   * versions of a file apart without hashing it. */
  snprintf(e->etag, sizeof e->etag, "\"%zx-%jx%08lx\"", size, (uintmax_t)st.st_mtim.tv_sec,
           (unsigned long)st.st_mtim.tv_nsec);
  e->next = site->entries;
  site->entries = e;
  return e;
}

/* The cached entry for `rel`, re-checked against the disk if it has not
 * been for a second; loads it on a miss. */
static entry_t *lookup(static_site_t *site, const char *rel, int *err) {
  *err = 0;
  entry_t *e = site->entries;
  while (e && strcmp(e->rel, rel) != 0) e = e->next;
  if (e) {
    uint64_t now = now_ms();
    if (now - e->checked_ms < STATIC_RECHECK_MS) return e;
    struct stat st;
    if (stat(e->file, &st) == 0 && S_ISREG(st.st_mode) && (size_t)st.st_size == e->len &&
        st.st_mtim.tv_sec == e->mtime.tv_sec && st.st_mtim.tv_nsec == e->mtime.tv_nsec) {
      e->checked_ms = now;
      return e;
    }
    /* Changed or gone: forget it and resolve the path afresh, as the file
     * may also have been replaced by a link pointing elsewhere. */
    cache_drop(site, e);
  }
  return load(site, rel, err);
}

/* ---- HTTP --------------------------------------------------------------------------- */

/* If-None-Match holds "*" or a comma-separated list of entity tags, weak
 * ones prefixed by W/; the comparison is the weak one (RFC 9110 13.1.2). */
static int etag_matches(const char *header, const char *etag) {
  size_t elen = strlen(etag);
  const char *p = header;
  while (*p) {
    while (*p == ' ' || *p == '\t' || *p == ',') p++;
    if (!*p) break;
    if (*p == '*') return 1;
    if (p[0] == 'W' && p[1] == '/') p += 2;
    const char *start = p;
    if (*p == '"') {
      const char *close = strchr(p + 1, '"');
      p = close ? close + 1 : p + strlen(p);
    } else {
      while (*p && *p != ',') p++;
    }
    if ((size_t)(p - start) == elen && memcmp(start, etag, elen) == 0) return 1;
  }
  return 0;
}

static int respond_rel(static_site_t *site, eio_http_request_t *req, const char *rel) {
  if (!site->root) return 0;
  int err;
  entry_t *e = lookup(site, rel, &err);
  if (!e) {
    if (!err) return 0;
    eio_http_respond(req, 500, "Content-Type: text/plain\r\n", "Internal Server Error", 21);
    return 1;
  }
  const char *method = eio_http_request_method(req);
  int head = strcmp(method, "HEAD") == 0;
  if (!head && strcmp(method, "GET") != 0) {
    eio_http_respond(req, 405, "Allow: GET, HEAD\r\nContent-Type: text/plain\r\n",
                     "Method Not Allowed", 18);
    return 1;
  }
  char headers[256];
  const char *inm = eio_http_request_header(req, "If-None-Match");
  if (inm && etag_matches(inm, e->etag)) {
    snprintf(headers, sizeof headers, "ETag: %s\r\nCache-Control: no-cache\r\n", e->etag);
    eio_http_respond(req, 304, headers, NULL, 0);
    return 1;
  }
  /* no-cache: the browser may keep the file but must ask (cheaply, with
   * If-None-Match) before each use, so a changed page is never stale. */
  snprintf(headers, sizeof headers,
           "Content-Type: %s\r\nETag: %s\r\nCache-Control: no-cache\r\n"
           "X-Content-Type-Options: nosniff\r\n",
           e->type, e->etag);
  /* For HEAD, eio_http_respond sends the length of this body but not the body. */
  eio_http_respond(req, 200, headers, e->body, e->len);
  return 1;
}

int static_site_serve(static_site_t *site, eio_http_request_t *req) {
  size_t len;
  const char *path = eio_http_request_path(req, &len);
  /* Only origin-form paths; "*" (OPTIONS) and absolute URLs are not files. */
  if (!path || len == 0 || path[0] != '/') return 0;
  char *rel = malloc(len + sizeof STATIC_INDEX);
  if (!rel) return 0;
  int r = normalize(path, len, 1, rel) == 0 ? respond_rel(site, req, rel) : 0;
  free(rel);
  return r;
}

int static_site_serve_file(static_site_t *site, eio_http_request_t *req, const char *file) {
  size_t len = strlen(file);
  char *rel = malloc(len + sizeof STATIC_INDEX);
  if (!rel) return 0;
  int r = normalize(file, len, 0, rel) == 0 ? respond_rel(site, req, rel) : 0;
  free(rel);
  return r;
}

/* ---- lifetime ------------------------------------------------------------------------- */

static_site_t *static_site_new(const char *dir) {
  static_site_t *site = calloc(1, sizeof *site);
  if (!site || !(site->dir = strdup(dir))) {
    free(site);
    return NULL;
  }
  struct stat st;
  site->root = realpath(dir, NULL);
  if (site->root && (stat(site->root, &st) != 0 || !S_ISDIR(st.st_mode))) {
    free(site->root);
    site->root = NULL;
  }
  if (site->root) {
    site->root_len = strlen(site->root);
    /* A root of "/" would make every resolved path fail the "root + /"
     * prefix test; trimming its slash makes the test work for it too. */
    if (site->root_len == 1) site->root_len = 0;
  }
  return site;
}

void static_site_free(static_site_t *site) {
  if (!site) return;
  while (site->entries) {
    entry_t *e = site->entries;
    site->entries = e->next;
    entry_free(e);
  }
  free(site->root);
  free(site->dir);
  free(site);
}

int static_site_ok(const static_site_t *site) { return site->root != NULL; }

const char *static_site_dir(const static_site_t *site) { return site->dir; }
