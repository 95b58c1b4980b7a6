/* Randomness from the kernel's CSPRNG (getrandom(2)), for identifiers and
 * secrets.
 *
 * All functions fill caller-provided buffers; nothing is allocated.  They
 * return 0 or a negative errno; the formatted outputs (uuid_v4, token_new)
 * are written only on success.  random_bytes() may leave buf partly written
 * when it fails.
 */
#pragma once

#include <stddef.h>

/* Fills buf with n random bytes, retrying short reads and EINTR.  Blocks
 * only until the kernel's pool is initialised (early boot). */
int random_bytes(void *buf, size_t n);

/* Writes a random (version 4) UUID, lowercase, 36 characters plus NUL. */
int uuid_v4(char buf[static 37]);

/* Writes 32 random bytes as 64 lowercase hex characters plus NUL: an API
 * token or other secret. */
int token_new(char buf[static 65]);
