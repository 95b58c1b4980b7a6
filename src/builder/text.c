#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "builder/text.h"
#include "lib/util.h"

int text_quote(struct strbuf *sb, const char *s, size_t n)
{
        static const char hex[] = "0123456789abcdef";
        size_t shown = MIN(n, (size_t)TEXT_QUOTE_SHOWN);
        int r;

        r = strbuf_addch(sb, '"');
        for (size_t i = 0; r >= 0 && i < shown; i++) {
                unsigned char c = (unsigned char)s[i];

                if (c == '"' || c == '\\') {
                        char esc[2] = {'\\', (char)c};
                        r = strbuf_add(sb, esc, sizeof(esc));
                } else if (c < 0x20 || c >= 0x7f) {
                        char esc[4] = {'\\', 'x', hex[c >> 4], hex[c & 15]};
                        r = strbuf_add(sb, esc, sizeof(esc));
                } else
                        r = strbuf_addch(sb, (char)c);
        }
        if (r >= 0 && shown < n)
                r = strbuf_addstr(sb, "...");
        if (r >= 0)
                r = strbuf_addch(sb, '"');
        return r;
}

char *text_line_error(size_t line, const char *fmt, ...)
{
        struct strbuf sb = STRBUF_INIT;
        char *msg = NULL;
        va_list ap;
        int n;

        if (strbuf_addf(&sb, "line %zu: ", line) < 0)
                return NULL;
        va_start(ap, fmt);
        n = vasprintf(&msg, fmt, ap);
        va_end(ap);
        if (n < 0) {
                strbuf_release(&sb);
                return NULL;
        }
        if (strbuf_add(&sb, msg, (size_t)n) < 0) {
                free(msg);
                strbuf_release(&sb);
                return NULL;
        }
        free(msg);
        return strbuf_detach(&sb, NULL);
}
