#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/base64.h"
#include "lib/util.h"
#include "test.h"

/* RFC 4648 section 10 */
static const struct {
        const char *plain, *encoded;
} vectors[] = {
    {"", ""},
    {"f", "Zg=="},
    {"fo", "Zm8="},
    {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="},
    {"fooba", "Zm9vYmE="},
    {"foobar", "Zm9vYmFy"},
};

static void test_rfc4648_vectors(void)
{
        for (size_t i = 0; i < ELEMENTSOF(vectors); i++) {
                char *enc = NULL;
                void *dec = NULL;
                size_t dec_len = 99;

                CHECK(base64_encode(vectors[i].plain, strlen(vectors[i].plain), &enc) == 0);
                CHECK_STREQ(enc, vectors[i].encoded);
                free(enc);

                CHECK(base64_decode(vectors[i].encoded, strlen(vectors[i].encoded), &dec,
                                    &dec_len) == 0);
                CHECK(dec != NULL);
                CHECK(dec_len == strlen(vectors[i].plain));
                if (dec) {
                        CHECK(memcmp(dec, vectors[i].plain, dec_len) == 0);
                        CHECK(((char *)dec)[dec_len] == '\0');
                }
                free(dec);
        }
}

static void test_encode_binary_and_alphabet(void)
{
        uint8_t all[256];
        char *enc = NULL;
        void *dec = NULL;
        size_t dec_len = 0;

        for (int i = 0; i < 256; i++)
                all[i] = (uint8_t)i;
        CHECK(base64_encode(all, sizeof(all), &enc) == 0);
        CHECK(enc && strlen(enc) == 344);
        /* + and / appear, nothing outside the alphabet does */
        CHECK(enc && strchr(enc, '+') && strchr(enc, '/'));
        CHECK(enc &&
              strspn(enc, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") ==
                  344);
        CHECK(base64_decode(enc, strlen(enc), &dec, &dec_len) == 0);
        CHECK(dec_len == 256 && memcmp(dec, all, 256) == 0);
        free(enc);
        free(dec);

        CHECK(base64_encode("\xfb\xff", 2, &enc) == 0);
        CHECK_STREQ(enc, "+/8=");
        free(enc);

        /* NULL data with length 0 */
        CHECK(base64_encode(NULL, 0, &enc) == 0);
        CHECK_STREQ(enc, "");
        free(enc);
}

static void test_decode_rejects(void)
{
        static const char *const bad[] = {
            "Z",                    /* length not a multiple of 4 */
            "Zg",                   /* padding required */
            "Zg=",                  /* incomplete padding */
            "Zm9vY",                /* length */
            "Zm9v\n",               /* whitespace */
            " Zm9v",                /* whitespace */
            "Zm 9",                 /* whitespace */
            "Zm9-",                 /* URL-safe alphabet */
            "Zm9_",                 /* URL-safe alphabet */
            "Zg=a",                 /* data after padding */
            "Z===",                 /* three '=' */
            "====",                 /* only padding */
            "=Zg=",                 /* padding first */
            "Zg==Zg==",             /* padding in the middle */
            "Zm=v",                 /* '=' inside a group */
            "Zh==",                 /* non-zero unused bits (canonical is Zg==) */
            "Zm9=",                 /* non-zero unused bits (canonical is Zm8=) */
            "Zm9v\xc3\xa9\xc3\xa9", /* non-ASCII */
            "Zm9v!!!!",
        };
        void *dec = (void *)0x1;
        size_t dec_len = 77;

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                int r = base64_decode(bad[i], strlen(bad[i]), &dec, &dec_len);
                if (r != -EINVAL)
                        printf("# \"%s\" gave %d\n", bad[i], r);
                CHECK(r == -EINVAL);
        }
        /* outputs untouched on failure */
        CHECK(dec == (void *)0x1 && dec_len == 77);

        /* an embedded NUL inside the given length */
        CHECK(base64_decode("Zm\0v", 4, &dec, &dec_len) == -EINVAL);
        CHECK(base64_decode(NULL, 4, &dec, &dec_len) == -EINVAL);
}

static void test_decode_uses_len_not_nul(void)
{
        void *dec = NULL;
        size_t dec_len = 0;

        /* only the first 4 characters count */
        CHECK(base64_decode("Zm9vYmFy", 4, &dec, &dec_len) == 0);
        CHECK(dec_len == 3 && memcmp(dec, "foo", 3) == 0);
        free(dec);

        CHECK(base64_decode("", 0, &dec, NULL) == 0);
        CHECK(dec && ((char *)dec)[0] == '\0');
        free(dec);
}

static void test_roundtrip_lengths(void)
{
        uint8_t data[300];

        for (size_t i = 0; i < sizeof(data); i++)
                data[i] = (uint8_t)(i * 37 + 11);
        for (size_t len = 0; len <= sizeof(data); len++) {
                char *enc = NULL;
                void *dec = NULL;
                size_t dec_len = 0;

                CHECK(base64_encode(data, len, &enc) == 0);
                CHECK(enc && strlen(enc) == (len + 2) / 3 * 4);
                CHECK(base64_decode(enc, strlen(enc), &dec, &dec_len) == 0);
                CHECK(dec_len == len && memcmp(dec, data, len) == 0);
                free(enc);
                free(dec);
        }
}

int main(void)
{
        RUN(test_rfc4648_vectors);
        RUN(test_encode_binary_and_alphabet);
        RUN(test_decode_rejects);
        RUN(test_decode_uses_len_not_nul);
        RUN(test_roundtrip_lengths);
        return test_done();
}
