#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/sha256.h"
#include "test.h"

static void test_nist_vectors(void)
{
        char hex[65];
        char *million;

        sha256_hex("", 0, hex);
        CHECK_STREQ(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        sha256_hex(NULL, 0, hex);
        CHECK_STREQ(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");

        sha256_hex("abc", 3, hex);
        CHECK_STREQ(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");

        /* 448 bits: the padding no longer fits in the same block */
        sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, hex);
        CHECK_STREQ(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");

        /* 896 bits */
        sha256_hex("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnop"
                   "qklmnopqrlmnopqrsmnopqrstnopqrstu",
                   112, hex);
        CHECK_STREQ(hex, "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");

        million = malloc(1000000);
        CHECK(million);
        if (!million)
                return;
        memset(million, 'a', 1000000);
        sha256_hex(million, 1000000, hex);
        CHECK_STREQ(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
        free(million);
}

static void test_raw_digest(void)
{
        uint8_t d[32];

        sha256("abc", 3, d);
        CHECK(d[0] == 0xba && d[1] == 0x78 && d[30] == 0x15 && d[31] == 0xad);
}

static void test_incremental(void)
{
        const char *msg = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
        size_t len = strlen(msg);
        uint8_t one[32], inc[32];
        struct sha256_ctx ctx;

        sha256(msg, len, one);

        /* every split point, and byte-at-a-time */
        for (size_t split = 0; split <= len; split++) {
                sha256_init(&ctx);
                sha256_update(&ctx, msg, split);
                sha256_update(&ctx, NULL, 0);
                sha256_update(&ctx, msg + split, len - split);
                sha256_final(&ctx, inc);
                CHECK(memcmp(one, inc, 32) == 0);
        }
        sha256_init(&ctx);
        for (size_t i = 0; i < len; i++)
                sha256_update(&ctx, msg + i, 1);
        sha256_final(&ctx, inc);
        CHECK(memcmp(one, inc, 32) == 0);

        /* a million 'a' in uneven chunks */
        {
                char chunk[997];
                size_t left = 1000000;
                char hex[65];
                static const char digits[] = "0123456789abcdef";

                memset(chunk, 'a', sizeof(chunk));
                sha256_init(&ctx);
                while (left > 0) {
                        size_t n = left < sizeof(chunk) ? left : sizeof(chunk);
                        sha256_update(&ctx, chunk, n);
                        left -= n;
                }
                sha256_final(&ctx, inc);
                for (int i = 0; i < 32; i++) {
                        hex[2 * i] = digits[inc[i] >> 4];
                        hex[2 * i + 1] = digits[inc[i] & 0xf];
                }
                hex[64] = '\0';
                CHECK_STREQ(hex,
                            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
        }
}

static void test_padding_boundaries(void)
{
        /* lengths around the 55/56/63/64-byte padding edges must all agree
         * between one-shot and incremental hashing, and differ from each
         * other */
        char buf[130];
        uint8_t prev[32] = {0}, one[32], inc[32];

        memset(buf, 'x', sizeof(buf));
        for (size_t len = 50; len <= 130; len++) {
                struct sha256_ctx ctx;

                sha256(buf, len, one);
                sha256_init(&ctx);
                sha256_update(&ctx, buf, len / 3);
                sha256_update(&ctx, buf + len / 3, len - len / 3);
                sha256_final(&ctx, inc);
                CHECK(memcmp(one, inc, 32) == 0);
                CHECK(memcmp(one, prev, 32) != 0);
                memcpy(prev, one, 32);
        }

        /* 64 'a': one exact block, padding in a second block
         * (echo -n aaaa...(64) | sha256sum) */
        {
                char hex[65];
                memset(buf, 'a', 64);
                sha256_hex(buf, 64, hex);
                CHECK_STREQ(hex,
                            "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
        }
}

int main(void)
{
        RUN(test_nist_vectors);
        RUN(test_raw_digest);
        RUN(test_incremental);
        RUN(test_padding_boundaries);
        return test_done();
}
