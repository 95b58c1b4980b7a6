#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/random.h>

#include "lib/rand.h"

static const char hex_digits[] = "0123456789abcdef";

int random_bytes(void *buf, size_t n)
{
        uint8_t *p = buf;

        while (n > 0) {
                ssize_t k = getrandom(p, n, 0);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        return -EIO;
                p += k;
                n -= (size_t)k;
        }
        return 0;
}

static void hex_encode(const uint8_t *data, size_t n, char *out)
{
        for (size_t i = 0; i < n; i++) {
                out[2 * i] = hex_digits[data[i] >> 4];
                out[2 * i + 1] = hex_digits[data[i] & 0xf];
        }
}

int uuid_v4(char buf[static 37])
{
        uint8_t b[16];
        char out[37];
        size_t o = 0;
        int r;

        r = random_bytes(b, sizeof(b));
        if (r < 0)
                return r;

        /* RFC 9562 section 5.4: version 4 in the high nibble of byte 6,
         * variant 10xx in the high bits of byte 8. */
        b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
        b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);

        for (size_t i = 0; i < sizeof(b); i++) {
                if (i == 4 || i == 6 || i == 8 || i == 10)
                        out[o++] = '-';
                hex_encode(&b[i], 1, &out[o]);
                o += 2;
        }
        out[o] = '\0';
        memcpy(buf, out, sizeof(out));
        return 0;
}

int token_new(char buf[static 65])
{
        uint8_t b[32];
        int r;

        r = random_bytes(b, sizeof(b));
        if (r < 0)
                return r;
        hex_encode(b, sizeof(b), buf);
        buf[64] = '\0';
        /* The raw bytes are the secret; do not leave them on the stack. */
        explicit_bzero(b, sizeof(b));
        return 0;
}
