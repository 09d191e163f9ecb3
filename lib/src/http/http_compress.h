/* Compression of HTTP response bodies, as engine.io's `httpCompression`
 * does it for long-polling responses: a body of at least `threshold` bytes
 * goes gzip- or deflate-encoded when the request's Accept-Encoding accepts
 * one of them (chosen the way the npm `negotiator` picks from
 * ["gzip", "deflate"], so q-values, "*" and order decide as in Node), with
 * Content-Encoding set. Smaller bodies, HEAD requests and requests that
 * accept neither get the body as is.
 *
 * Cost: one zlib stream per encoding for the whole server (created by the
 * first compressed response, reset after each), and one copy of the body
 * into the compressed buffer, which replaces the zero-copy segments of an
 * uncompressed answer. Nothing per session. */
#ifndef SIO_HTTP_HTTP_COMPRESS_H
#define SIO_HTTP_HTTP_COMPRESS_H

#include <stddef.h>

#include "net/conn.h"

enum { SIO__HTTP_ENC_IDENTITY = 0, SIO__HTTP_ENC_GZIP = 1, SIO__HTTP_ENC_DEFLATE = 2 };

/* The encoding an Accept-Encoding value (len bytes, may be NULL: absent)
 * prefers among gzip and deflate, or SIO__HTTP_ENC_IDENTITY if it accepts
 * neither (absent header, "identity", "gzip;q=0", ...). */
int sio__http_pick_encoding(const char *accept, size_t len);
/* "gzip", "deflate" or NULL. */
const char *sio__http_encoding_name(int enc);

typedef struct sio__http_compress sio__http_compress;

/* level: zlib's, -1 (its default, 6) or 0..9. NULL on OOM or a bad level. */
sio__http_compress *sio__http_compress_new(size_t threshold, int level);
void sio__http_compress_free(sio__http_compress *z);
size_t sio__http_compress_threshold(const sio__http_compress *z);

/* The concatenation of segs, encoded (gzip: RFC 1952; deflate: the zlib
 * format of RFC 1950, which is what HTTP's "deflate" means and what Node's
 * createDeflate writes). Returns a new rbuf holding it at [0, len), or
 * NULL on failure. */
sio__rbuf *sio__http_compress_body(sio__http_compress *z, int enc, const sio__wseg *segs,
                                   size_t nsegs);

/* sio__http_respond_segs_compressed() is declared in http_server.h, next to
 * sio__http_respond_segs, and implemented here. */

#endif
