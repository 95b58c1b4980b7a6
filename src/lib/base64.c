#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "lib/base64.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int base64_encode(const void *data, size_t len, char **ret)
{
        const uint8_t *in = data;
        size_t groups, out_len, i, o = 0;
        char *out;

        groups = len / 3 + (len % 3 != 0);
        if (groups > (SIZE_MAX - 1) / 4)
                return -ENOMEM;
        out_len = groups * 4;
        out = malloc(out_len + 1);
        if (!out)
                return -ENOMEM;

        for (i = 0; i + 3 <= len; i += 3) {
                uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
                out[o++] = alphabet[(v >> 18) & 0x3f];
                out[o++] = alphabet[(v >> 12) & 0x3f];
                out[o++] = alphabet[(v >> 6) & 0x3f];
                out[o++] = alphabet[v & 0x3f];
        }
        if (len - i == 1) {
                uint32_t v = (uint32_t)in[i] << 16;
                out[o++] = alphabet[(v >> 18) & 0x3f];
                out[o++] = alphabet[(v >> 12) & 0x3f];
                out[o++] = '=';
                out[o++] = '=';
        } else if (len - i == 2) {
                uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
                out[o++] = alphabet[(v >> 18) & 0x3f];
                out[o++] = alphabet[(v >> 12) & 0x3f];
                out[o++] = alphabet[(v >> 6) & 0x3f];
                out[o++] = '=';
        }
        out[o] = '\0';
        *ret = out;
        return 0;
}

/* Returns the 6-bit value of an alphabet character, or -1. */
static int decode_char(char c)
{
        if (c >= 'A' && c <= 'Z')
                return c - 'A';
        if (c >= 'a' && c <= 'z')
                return c - 'a' + 26;
        if (c >= '0' && c <= '9')
                return c - '0' + 52;
        if (c == '+')
                return 62;
        if (c == '/')
                return 63;
        return -1;
}

int base64_decode(const char *s, size_t len, void **ret, size_t *ret_len)
{
        size_t pad = 0, out_len, o = 0;
        uint8_t *out;

        if (!s && len > 0)
                return -EINVAL;
        if (len % 4 != 0)
                return -EINVAL;
        /* Padding is one or two '=' ending the input; any other '=' is
         * rejected below as a character outside the alphabet. */
        if (len >= 4 && s[len - 1] == '=') {
                pad = 1;
                if (s[len - 2] == '=')
                        pad = 2;
        }

        out_len = len / 4 * 3 - pad;
        out = malloc(out_len + 1);
        if (!out)
                return -ENOMEM;

        for (size_t i = 0; i < len; i += 4) {
                bool last = i + 4 == len;
                size_t group_pad = last ? pad : 0;
                uint32_t v = 0;

                for (size_t j = 0; j < 4; j++) {
                        int d;

                        if (j >= 4 - group_pad) {
                                /* Already known to be '=' from the scan above. */
                                v <<= 6;
                                continue;
                        }
                        d = decode_char(s[i + j]);
                        if (d < 0)
                                goto invalid;
                        v = v << 6 | (uint32_t)d;
                }

                out[o++] = (uint8_t)(v >> 16);
                if (group_pad == 2) {
                        if (v & 0xffff)
                                goto invalid; /* non-zero unused bits */
                        break;
                }
                out[o++] = (uint8_t)(v >> 8);
                if (group_pad == 1) {
                        if (v & 0xff)
                                goto invalid;
                        break;
                }
                out[o++] = (uint8_t)v;
        }

        out[o] = '\0';
        *ret = out;
        if (ret_len)
                *ret_len = o;
        return 0;

invalid:
        free(out);
        return -EINVAL;
}
