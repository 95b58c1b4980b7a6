#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/strbuf.h"

/* Makes room for at least extra more bytes plus the trailing NUL. */
static int strbuf_grow(struct strbuf *sb, size_t extra)
{
        size_t need, new_alloc;
        char *p;

        if (extra > SIZE_MAX - 1 - sb->len)
                return -ENOMEM;
        need = sb->len + extra + 1;
        if (sb->buf && need <= sb->alloc)
                return 0;

        /* Grow geometrically so that n appends cost O(n) copying. */
        new_alloc = sb->alloc < 64 ? 64 : sb->alloc;
        while (new_alloc < need) {
                if (new_alloc > SIZE_MAX / 2) {
                        new_alloc = need;
                        break;
                }
                new_alloc *= 2;
        }

        p = realloc(sb->buf, new_alloc);
        if (!p)
                return -ENOMEM;
        if (!sb->buf)
                p[0] = '\0';
        sb->buf = p;
        sb->alloc = new_alloc;
        return 0;
}

int strbuf_add(struct strbuf *sb, const void *data, size_t len)
{
        size_t offset = 0;
        bool inside = false;
        int r;

        if (len == 0)
                return strbuf_grow(sb, 0);

        /* data may point into our own buffer (appending a copy of a part of
         * it); remember where, since growing may move the buffer. */
        if (sb->buf && (uintptr_t)data >= (uintptr_t)sb->buf &&
            (uintptr_t)data < (uintptr_t)sb->buf + sb->alloc) {
                inside = true;
                offset = (uintptr_t)data - (uintptr_t)sb->buf;
        }

        r = strbuf_grow(sb, len);
        if (r < 0)
                return r;
        if (inside)
                data = sb->buf + offset;

        memmove(sb->buf + sb->len, data, len);
        sb->len += len;
        sb->buf[sb->len] = '\0';
        return 0;
}

int strbuf_addstr(struct strbuf *sb, const char *s)
{
        return strbuf_add(sb, s, strlen(s));
}

int strbuf_addch(struct strbuf *sb, char c)
{
        return strbuf_add(sb, &c, 1);
}

int strbuf_addf(struct strbuf *sb, const char *fmt, ...)
{
        va_list ap;
        size_t avail;
        int n, r;

        /* Make sure buf exists so that the first vsnprintf has somewhere to
         * write; this also keeps the NUL-terminated invariant. */
        r = strbuf_grow(sb, 0);
        if (r < 0)
                return r;

        avail = sb->alloc - sb->len;
        va_start(ap, fmt);
        n = vsnprintf(sb->buf + sb->len, avail, fmt, ap);
        va_end(ap);
        if (n < 0) {
                sb->buf[sb->len] = '\0';
                return -EINVAL;
        }
        if ((size_t)n >= avail) {
                /* Truncated: grow to the exact size and render again. */
                r = strbuf_grow(sb, (size_t)n);
                if (r < 0) {
                        sb->buf[sb->len] = '\0';
                        return r;
                }
                va_start(ap, fmt);
                n = vsnprintf(sb->buf + sb->len, sb->alloc - sb->len, fmt, ap);
                va_end(ap);
                if (n < 0 || (size_t)n >= sb->alloc - sb->len) {
                        sb->buf[sb->len] = '\0';
                        return -EINVAL;
                }
        }
        sb->len += (size_t)n;
        return 0;
}

void strbuf_reset(struct strbuf *sb)
{
        sb->len = 0;
        if (sb->buf)
                sb->buf[0] = '\0';
}

void strbuf_release(struct strbuf *sb)
{
        free(sb->buf);
        *sb = (struct strbuf)STRBUF_INIT;
}

char *strbuf_detach(struct strbuf *sb, size_t *ret_len)
{
        char *s;
        size_t len = sb->len;

        if (sb->buf)
                s = sb->buf;
        else {
                s = strdup("");
                if (!s)
                        return NULL;
        }
        *sb = (struct strbuf)STRBUF_INIT;
        if (ret_len)
                *ret_len = len;
        return s;
}
