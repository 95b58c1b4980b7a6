/* utf8_valid() against a reference decoder that works the other way round:
 * decode any 1..4-byte shape into a code point, then apply the rules
 * (shortest form, not a surrogate, at most U+10FFFF). */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/strbuf.h"
#include "lib/utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool reference_valid(const uint8_t *s, size_t n)
{
        size_t i = 0;

        while (i < n) {
                uint8_t c = s[i];
                size_t len;
                uint32_t cp, min;

                if (c < 0x80) {
                        len = 1;
                        cp = c;
                        min = 0;
                } else if ((c & 0xe0) == 0xc0) {
                        len = 2;
                        cp = c & 0x1f;
                        min = 0x80;
                } else if ((c & 0xf0) == 0xe0) {
                        len = 3;
                        cp = c & 0x0f;
                        min = 0x800;
                } else if ((c & 0xf8) == 0xf0) {
                        len = 4;
                        cp = c & 0x07;
                        min = 0x10000;
                } else {
                        return false;
                }
                if (i + len > n)
                        return false;
                for (size_t k = 1; k < len; k++) {
                        if ((s[i + k] & 0xc0) != 0x80)
                                return false;
                        cp = cp << 6 | (s[i + k] & 0x3f);
                }
                if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                        return false;
                i += len;
        }
        return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        bool valid = utf8_valid((const char *)data, size);
        if (valid != reference_valid(data, size))
                abort();
        /* utf8_sanitize(): always valid; valid input comes out unchanged. */
        struct strbuf sb = STRBUF_INIT;
        if (utf8_sanitize((const char *)data, size, &sb) == 0) {
                if (!reference_valid((const uint8_t *)sb.buf, sb.len))
                        abort();
                if (valid && (sb.len != size || (size && memcmp(sb.buf, data, size) != 0)))
                        abort();
        }
        strbuf_release(&sb);
        /* term_sanitize(): no control byte comes out but tab and ESC of
         * a colour sequence. */
        struct strbuf tb = STRBUF_INIT;
        if (term_sanitize((const char *)data, size, &tb) == 0)
                for (size_t i = 0; i < tb.len; i++) {
                        unsigned char c = (unsigned char)tb.buf[i];
                        if (((c < 0x20 && c != '\t' && c != 0x1b) || c == 0x7f) ||
                            (c == 0x1b && (i + 1 >= tb.len || tb.buf[i + 1] != '[')))
                                abort();
                }
        strbuf_release(&tb);
        return 0;
}
