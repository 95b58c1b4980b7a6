/* Base64 (RFC 4648 section 4: standard alphabet, '=' padding).
 *
 * Both functions allocate their result with malloc(); the caller free()s it.
 * On failure they return a negative errno and leave the output parameters
 * untouched.
 */
#pragma once

#include <stddef.h>

/* Encodes len bytes into a NUL-terminated string in *ret.  Returns 0 or
 * -ENOMEM. */
int base64_encode(const void *data, size_t len, char **ret);

/* Decodes exactly len characters of s (no NUL needed).  Strict: only the
 * standard alphabet, no whitespace, len a multiple of 4, padding only at the
 * end, and unused bits in the last group must be zero, so that every input
 * has one encoding.  Returns 0, -EINVAL on malformed input, or -ENOMEM.  The
 * result in *ret is NUL-terminated for convenience (the NUL is not counted in
 * *ret_len); ret_len may be NULL. */
int base64_decode(const char *s, size_t len, void **ret, size_t *ret_len);
