#include <ctype.h>
#include <stdint.h>

#include "lib/strbuf.h"
#include "lib/utf8.h"

/* Follows the table of well-formed byte sequences in the Unicode Standard,
 * section 3.9, table 3-7: the second byte's range depends on the first byte,
 * which is how overlongs, surrogates and values above U+10FFFF are excluded. */
bool utf8_valid(const char *s, size_t len)
{
        const uint8_t *p = (const uint8_t *)s;
        size_t i = 0;

        if (!s)
                return len == 0;

        while (i < len) {
                uint8_t c = p[i];
                uint8_t lo = 0x80, hi = 0xbf;
                size_t n;

                if (c < 0x80) {
                        i++;
                        continue;
                }
                if (c >= 0xc2 && c <= 0xdf) {
                        n = 1;
                } else if (c >= 0xe0 && c <= 0xef) {
                        n = 2;
                        if (c == 0xe0)
                                lo = 0xa0; /* overlong below U+0800 */
                        else if (c == 0xed)
                                hi = 0x9f; /* surrogates */
                } else if (c >= 0xf0 && c <= 0xf4) {
                        n = 3;
                        if (c == 0xf0)
                                lo = 0x90; /* overlong below U+10000 */
                        else if (c == 0xf4)
                                hi = 0x8f; /* above U+10FFFF */
                } else {
                        /* 0x80..0xc1 (continuation, overlong 2-byte) and
                         * 0xf5..0xff never start a sequence. */
                        return false;
                }

                if (len - i - 1 < n)
                        return false;
                if (p[i + 1] < lo || p[i + 1] > hi)
                        return false;
                for (size_t k = 2; k <= n; k++) {
                        if (p[i + k] < 0x80 || p[i + k] > 0xbf)
                                return false;
                }
                i += n + 1;
        }
        return true;
}

int term_sanitize(const char *s, size_t len, struct strbuf *out)
{
        for (size_t i = 0; i < len;) {
                unsigned char c = (unsigned char)s[i];
                size_t n = 1;
                int r;
                if (c == 0x1b && i + 1 < len && s[i + 1] == '[') {
                        while (i + 1 + n < len &&
                               (isdigit((unsigned char)s[i + 1 + n]) || s[i + 1 + n] == ';'))
                                n++;
                        if (i + 1 + n < len && s[i + 1 + n] == 'm') {
                                r = strbuf_add(out, s + i, n + 2); /* colour */
                                i += n + 2;
                                if (r < 0)
                                        return r;
                                continue;
                        }
                        n = 1;
                }
                if ((c < 0x20 && c != '\t') || c == 0x7f)
                        r = strbuf_addch(out, '?');
                else if (c == 0xc2 && i + 1 < len && (unsigned char)s[i + 1] >= 0x80 &&
                         (unsigned char)s[i + 1] <= 0x9f) {
                        r = strbuf_addch(out, '?');
                        n = 2;
                } else
                        r = strbuf_add(out, s + i, 1);
                if (r < 0)
                        return r;
                i += n;
        }
        return 0;
}

int utf8_sanitize(const char *s, size_t len, struct strbuf *out)
{
        for (size_t i = 0; i < len;) {
                size_t n = 1;
                while (n <= 4 && i + n <= len && !utf8_valid(s + i, n))
                        n++;
                int r;
                if (n <= 4 && i + n <= len) {
                        r = strbuf_add(out, s + i, n);
                        i += n;
                } else {
                        r = strbuf_addstr(out, "\xef\xbf\xbd");
                        i++;
                }
                if (r < 0)
                        return r;
        }
        return 0;
}
