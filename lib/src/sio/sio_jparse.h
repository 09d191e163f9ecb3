/* Fast JSON parser producing jansson values, for Socket.IO packet payloads.
 *
 * Why not json_loadb: jansson's lexer reads through a byte-at-a-time stream
 * abstraction and grows strings one character at a time; on large string
 * payloads that is ~6 ns per byte, most of the server's CPU. This parser
 * works on the contiguous buffer instead: string bodies are scanned 8 bytes
 * at a time for '"', '\\' and control bytes, each run between escapes is
 * UTF-8-validated and copied at once, and a string without escapes goes to
 * json_stringn_nocheck straight from the input (one copy in all).
 *
 * The values built are the ones json_loadb would build (same types, same
 * object key order, duplicate keys resolved the same way), with the two
 * differences documented below; tests/unit/test_jparse.c and the
 * differential fuzz target tests/fuzz/fuzz_jparse.c hold it to that. */
#ifndef SIO_SIO_JPARSE_H
#define SIO_SIO_JPARSE_H

#include <jansson.h>
#include <stddef.h>

/* Parses exactly one JSON value (any type at top level) from s[0..len),
 * surrounded by optional JSON whitespace (space, tab, LF, CR) and nothing
 * else. Returns a new reference, or NULL on any error (and then *err, if
 * err is non-NULL, is set to a short static reason). s may be NULL only when
 * len is 0 (an error: there is no value).
 *
 * Semantics are those of json_loadb(s, len, JSON_DECODE_ANY | JSON_ALLOW_NUL,
 * NULL), except where marked DIFFERENCE:
 *  - numbers: an integer (no '.', 'e' or 'E') that fits int64 is a
 *    json_integer ("-0" is the integer 0, as with jansson); anything with a
 *    fraction or exponent is a json_real holding the correctly rounded
 *    double (strtod in the C locale, whatever the process locale); a real
 *    that overflows to +-inf is an error, one that underflows is 0 or
 *    subnormal (as jansson). Leading zeros ("01"), "1.", ".5", "1e", "+1"
 *    and "-" are errors.
 *    DIFFERENCE: an integer beyond int64 is a json_real (the correctly
 *    rounded double of its digits, what JSON.parse gives) where jansson
 *    fails with json_error_numeric_overflow; only that integer becomes a
 *    real, whereas retrying jansson with JSON_DECODE_INT_AS_REAL (what the
 *    packet decoder did before) made every integer of the document a real.
 *    Both print back the same through sio__json_write. If its digits
 *    overflow a double (over ~309 digits) it is an error, as with jansson.
 *  - strings: escapes \" \\ \/ \b \f \n \r \t and \uXXXX (hex digits in
 *    either case), a high surrogate escape only when directly followed by a
 *    low surrogate escape (the pair becomes one 4-byte UTF-8 sequence); a
 *    lone surrogate escape is an error; \u0000 gives a NUL byte
 *    (JSON_ALLOW_NUL). Raw bytes below 0x20 are errors; raw bytes must form
 *    valid UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing above
 *    U+10FFFF). String lengths are exact (json_string_length counts NULs).
 *  - objects: a duplicate key replaces the earlier value (keeping the
 *    earlier key's position), as jansson's default; a key holding a NUL byte
 *    (from \u0000) is an error, as in jansson, and sio_binary.c relies on
 *    that to make its binary marker key unforgeable.
 *  - nesting: every value counts one level (the top-level value is level
 *    1), and a value deeper than JSON_PARSER_MAX_DEPTH (2048) is an error,
 *    as in jansson: 2048 nested arrays parse, a scalar inside them does not.
 *    The parser is iterative, so deep input costs no C stack.
 *  - DIFFERENCE: a raw NUL byte anywhere is an error. (jansson drops a raw
 *    NUL that directly follows a number or a literal, so it accepts "1\0"
 *    and "[true\0]"; JSON allows no raw NUL, and JSON.parse refuses them.)
 *  - on memory exhaustion the result is NULL with *err = "out of memory".
 *
 * Thread-safe; no global state besides a C locale object created once (for
 * the rare number that needs strtod). */
json_t *sio__json_parse(const char *s, size_t len, const char **err);

#endif
