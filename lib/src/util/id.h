/* Cryptographically random bytes and Engine.IO / Socket.IO ids.
 *
 * One process-wide mbedTLS CTR-DRBG, seeded from mbedtls_entropy (the OS
 * source: getrandom() or /dev/urandom). mbedTLS reseeds it from the OS after
 * its reseed interval; after fork() the child reseeds before its first draw,
 * so a parent and its children never hand out the same bytes or ids.
 *
 * Threading: NOT thread-safe. The whole server runs on one libuv loop thread,
 * so the DRBG state, the id batch and the sequence counter are plain statics
 * without locks. Running several loops on several threads would need a lock or
 * per-thread state here.
 *
 * Ownership: callers own every output buffer; nothing is retained. The DRBG
 * state lives for the whole process and holds no heap memory. */
#ifndef SIO_UTIL_ID_H
#define SIO_UTIL_ID_H

#include <stddef.h>

/* Length of an id without its NUL: 15 bytes in base64 without padding. */
#define SIO__ID_LEN 20

/* Seeds the DRBG from the OS entropy source. Idempotent: later calls return 0
 * at once. Returns 0, or -1 if the OS gave no entropy (the server should then
 * refuse to start). The other functions call it themselves when needed; call
 * it at startup to fail early instead of on the first connection. */
int sio__id_init(void);

/* Fills out[0..n) with CSPRNG bytes (any n; large requests are split into
 * DRBG-sized chunks). Returns 0, or -1 if the DRBG could not be (re)seeded;
 * `out` is then unspecified. */
int sio__random_bytes(void *out, size_t n);

/* Writes a fresh id, in the format of the Node reference (engine.io
 * lib/contrib/base64id): 15 bytes = 12 random bytes followed by a 3-byte
 * big-endian sequence number (1 for the first id of the process, +1 per id,
 * wrapping at 2^24), base64-encoded with '+' -> '-' and '/' -> '_': exactly
 * SIO__ID_LEN chars of [A-Za-z0-9_-] plus a NUL. Used for Engine.IO session
 * ids, Socket.IO socket ids and recovery pids.
 *
 * Random bytes are drawn from the DRBG in batches of 64 ids, so generating an
 * id is normally a copy and 20 table lookups. Never returns a predictable id:
 * if the DRBG cannot be (re)seeded it aborts the process, since handing out
 * guessable session ids would be a security hole and there is no error
 * channel here. */
void sio__id_generate(char out[SIO__ID_LEN + 1]);

/* n random characters of [0-9a-zA-Z] and a NUL in out[0..n] (as the npm
 * uid2 makes the Redis adapter's uids and request ids). Returns 0, or -1 as
 * sio__random_bytes. */
int sio__random_alnum(char *out, size_t n);

#endif
