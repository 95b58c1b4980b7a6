/* libFuzzer target for src/net/http1.c.  The first byte picks what the rest
 * is: a request head, a response head, or a chunked body.  Besides "no
 * crash", it checks that parsing in two pieces agrees with parsing whole,
 * and that every offset the parser reports lies inside the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/http1.h"

static struct http1_header h1[HTTP1_MAX_HEADERS], h2[HTTP1_MAX_HEADERS];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void head(enum http1_kind kind, const char *s, size_t n, size_t split)
{
        struct http1_msg a, b;
        http1_msg_init(&a, kind, h1, HTTP1_MAX_HEADERS);
        int ra = http1_parse(&a, s, n);
        http1_msg_init(&b, kind, h2, HTTP1_MAX_HEADERS);
        int rb = http1_parse(&b, s, split);
        if (rb == 0)
                rb = http1_parse(&b, s, n);
        if ((ra > 0) != (rb > 0))
                abort();
        if (ra > 0) {
                if (a.head_len != b.head_len || a.n_headers != b.n_headers || a.head_len > n ||
                    a.flags != b.flags || a.content_length != b.content_length)
                        abort();
                for (uint32_t i = 0; i < a.n_headers; i++) {
                        const struct http1_header *h = &a.headers[i];
                        if (h->name_off + h->name_len > a.head_len ||
                            h->value_off + h->value_len > a.head_len)
                                abort();
                        if (memcmp(h, &b.headers[i], sizeof(*h)) != 0)
                                abort();
                }
                if ((a.flags & HTTP1_F_HAS_TE) && a.content_length >= 0)
                        abort(); /* smuggling guard */
        }
}

static void chunked(const char *s, size_t n, size_t step)
{
        struct http1_chunked d;
        http1_chunked_init(&d);
        size_t pos = 0, avail = 0;
        if (step == 0)
                step = 1;
        while (!d.done) {
                if (pos == avail) {
                        if (avail == n)
                                return;
                        avail = avail + step > n ? n : avail + step;
                }
                size_t off, len;
                ssize_t k = http1_chunked_feed(&d, s + pos, avail - pos, &off, &len);
                if (k < 0)
                        return;
                if ((size_t)k > avail - pos || off + len > (size_t)k)
                        abort();
                pos += (size_t)k;
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size < 2)
                return 0;
        uint8_t mode = data[0], split = data[1];
        const char *s = (const char *)data + 2;
        size_t n = size - 2;
        size_t cut = n ? split % (n + 1) : 0;
        switch (mode % 3) {
        case 0:
                head(HTTP1_REQUEST, s, n, cut);
                break;
        case 1:
                head(HTTP1_RESPONSE, s, n, cut);
                break;
        default:
                chunked(s, n, split % 16);
                break;
        }
        return 0;
}
