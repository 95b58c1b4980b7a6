/* SHA-256 (FIPS 180-4), one-shot and incremental.
 *
 * No allocation: struct sha256_ctx lives wherever the caller puts it (usually
 * the stack).  Use sha256_init(), any number of sha256_update() calls, then
 * sha256_final(), which writes the digest and wipes the context; to hash
 * again, call sha256_init() again.  Outputs are caller-provided buffers.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define SHA256_DIGEST_SIZE 32
#define SHA256_BLOCK_SIZE  64

struct sha256_ctx {
        uint32_t state[8];
        uint64_t total; /* bytes hashed so far */
        uint8_t block[SHA256_BLOCK_SIZE];
        size_t block_len; /* bytes buffered in block, < SHA256_BLOCK_SIZE */
};

void sha256_init(struct sha256_ctx *ctx);
void sha256_update(struct sha256_ctx *ctx, const void *data, size_t len);
void sha256_final(struct sha256_ctx *ctx, uint8_t out[static 32]);

void sha256(const void *data, size_t len, uint8_t out[static 32]);

/* The digest as 64 lowercase hex characters plus NUL. */
void sha256_hex(const void *data, size_t len, char out[static 65]);
