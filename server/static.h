/* static.h: serves the files of one directory through eio's HTTP handler
 * hook, as a small serve-static: GET and HEAD only, a content type by
 * extension, an ETag from size and mtime answered with 304 on a matching
 * If-None-Match, and "Cache-Control: no-cache" so browsers revalidate
 * instead of running a stale page after a rebuild.
 *
 * Files are kept in memory after their first read and re-checked against
 * the disk (stat, mtime and size) at most once a second per file, so a busy
 * page does not turn every request into a read() while edits to the
 * directory still show up without a restart.
 *
 * Nothing outside the directory is ever served: URL paths with "..", ".",
 * dot-files, backslashes, NUL or encoded slashes are refused, and the
 * resolved file (symlinks followed) must still lie under the root. */
#ifndef SIO_CHAT_STATIC_H
#define SIO_CHAT_STATIC_H

#include <stddef.h>

#include "eio.h"

typedef struct static_site static_site_t;

/* A site rooted at `dir`. Returns NULL only when out of memory; a missing
 * directory gives a site that answers nothing (see static_site_ok). */
static_site_t *static_site_new(const char *dir);
void static_site_free(static_site_t *site);

/* 1 if the root directory existed when the site was made. */
int static_site_ok(const static_site_t *site);
/* The root as given (for messages). */
const char *static_site_dir(const static_site_t *site);

/* Answers `req` from the file its URL path names ("/" and "dir/" mean
 * index.html). Returns 1 when it answered (200, 304, 405, 500), 0 when no
 * such file exists, leaving the 404 to the caller. */
int static_site_serve(static_site_t *site, eio_http_request_t *req);

/* Answers `req` with the file `rel` (a path relative to the root, checked
 * like a URL path but not percent-decoded), whatever the URL. Same return
 * values as static_site_serve. */
int static_site_serve_file(static_site_t *site, eio_http_request_t *req, const char *rel);

#endif
