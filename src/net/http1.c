/* Strict incremental HTTP/1.1 parser; see http1.h for the contract. */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "net/http1.h"

enum {
        ST_START,   /* before the request/status line */
        ST_HEADERS, /* after it */
        ST_DONE,
        ST_ERROR,
};

/* Character classes, one bit each. */
enum {
        C_TCHAR = 1 << 0,  /* token: methods, field names */
        C_TARGET = 1 << 1, /* request-target: visible ASCII */
        C_VALUE = 1 << 2,  /* field value / reason: VCHAR, SP, HTAB, obs-text */
        C_HEX = 1 << 3,
};

static uint8_t cclass[256];

__attribute__((constructor)) static void cclass_init(void)
{
        for (int c = 0; c < 256; c++) {
                uint8_t f = 0;
                if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (c && strchr("!#$%&'*+-.^_`|~", c)))
                        f |= C_TCHAR;
                if (c >= 0x21 && c <= 0x7e)
                        f |= C_TARGET;
                if (c == '\t' || (c >= 0x20 && c <= 0x7e) || c >= 0x80)
                        f |= C_VALUE;
                if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))
                        f |= C_HEX;
                cclass[c] = f;
        }
}

void http1_msg_init(struct http1_msg *m, enum http1_kind kind, struct http1_header *headers,
                    uint32_t max_headers)
{
        *m = (struct http1_msg){
            .kind = kind,
            .headers = headers,
            .max_headers = max_headers,
            .host_idx = -1,
            .upgrade_idx = -1,
            .content_length = -1,
        };
}

static int fail(struct http1_msg *m, int r, const char *why)
{
        m->state = ST_ERROR;
        m->error = why;
        return r;
}

bool http1_name_is(const char *buf, const struct http1_header *h, const char *lower)
{
        size_t n = strlen(lower);
        return h->name_len == n && strncasecmp(buf + h->name_off, lower, n) == 0;
}

bool http1_list_has(const char *p, size_t len, const char *lower)
{
        size_t n = strlen(lower);
        size_t i = 0;
        while (i < len) {
                while (i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == ','))
                        i++;
                size_t s = i;
                while (i < len && p[i] != ',')
                        i++;
                size_t e = i;
                while (e > s && (p[e - 1] == ' ' || p[e - 1] == '\t'))
                        e--;
                if (e - s == n && strncasecmp(p + s, lower, n) == 0)
                        return true;
        }
        return false;
}

static int parse_version(const char *p, int *ret)
{
        if (memcmp(p, "HTTP/1.", 7) != 0)
                return -EBADMSG;
        if (p[7] == '1')
                *ret = 11;
        else if (p[7] == '0')
                *ret = 10;
        else
                return -EBADMSG;
        return 0;
}

static int request_line(struct http1_msg *m, const char *buf, uint32_t start, uint32_t n)
{
        const char *p = buf + start;
        uint32_t i = 0;

        while (i < n && (cclass[(uint8_t)p[i]] & C_TCHAR))
                i++;
        if (i == 0 || i >= n || p[i] != ' ')
                return fail(m, -EBADMSG, "invalid method");
        m->method_off = start;
        m->method_len = i;
        uint32_t t = ++i;
        while (i < n && (cclass[(uint8_t)p[i]] & C_TARGET))
                i++;
        if (i == t || i >= n || p[i] != ' ')
                return fail(m, -EBADMSG, "invalid request target");
        m->target_off = start + t;
        m->target_len = i - t;
        i++;
        if (n - i != 8 || parse_version(p + i, &m->version) < 0)
                return fail(m, -EBADMSG, "invalid HTTP version");
        return 0;
}

static int status_line(struct http1_msg *m, const char *buf, uint32_t start, uint32_t n)
{
        const char *p = buf + start;
        if (n < 12 || parse_version(p, &m->version) < 0 || p[8] != ' ')
                return fail(m, -EBADMSG, "invalid status line");
        int s = 0;
        for (int i = 9; i < 12; i++) {
                if (p[i] < '0' || p[i] > '9')
                        return fail(m, -EBADMSG, "invalid status code");
                s = s * 10 + (p[i] - '0');
        }
        if (s < 100)
                return fail(m, -EBADMSG, "invalid status code");
        m->status = s;
        m->reason_off = start + n;
        m->reason_len = 0;
        if (n > 12) {
                if (p[12] != ' ')
                        return fail(m, -EBADMSG, "invalid status line");
                for (uint32_t i = 13; i < n; i++)
                        if (!(cclass[(uint8_t)p[i]] & C_VALUE))
                                return fail(m, -EBADMSG, "invalid character in reason phrase");
                m->reason_off = start + 13;
                m->reason_len = n - 13;
        }
        return 0;
}

static int content_length(struct http1_msg *m, const char *v, uint32_t n)
{
        /* "5" or a list of identical values ("5, 5"), which RFC 9110 allows a
         * recipient to collapse; anything else is a smuggling attempt. */
        uint32_t i = 0;
        do {
                while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
                        i++;
                if (i >= n || v[i] < '0' || v[i] > '9')
                        return fail(m, -EBADMSG, "invalid Content-Length");
                int64_t x = 0;
                while (i < n && v[i] >= '0' && v[i] <= '9') {
                        if (x > (INT64_MAX - 9) / 10)
                                return fail(m, -EBADMSG, "Content-Length too large");
                        x = x * 10 + (v[i++] - '0');
                }
                while (i < n && (v[i] == ' ' || v[i] == '\t'))
                        i++;
                if (i < n && v[i] != ',')
                        return fail(m, -EBADMSG, "invalid Content-Length");
                if (m->content_length >= 0 && m->content_length != x)
                        return fail(m, -EBADMSG, "conflicting Content-Length");
                m->content_length = x;
        } while (i < n);
        return 0;
}

static int header_semantics(struct http1_msg *m, const char *buf, const struct http1_header *h,
                            uint32_t idx)
{
        const char *n = buf + h->name_off;
        const char *v = buf + h->value_off;
        switch (h->name_len) {
        case 4:
                if (strncasecmp(n, "host", 4) == 0) {
                        if (m->host_idx >= 0)
                                return fail(m, -EBADMSG, "more than one Host");
                        m->host_idx = (int)idx;
                }
                break;
        case 6:
                if (strncasecmp(n, "expect", 6) == 0 && h->value_len == 12 &&
                    strncasecmp(v, "100-continue", 12) == 0)
                        m->flags |= HTTP1_F_EXPECT_CONTINUE;
                break;
        case 7:
                if (strncasecmp(n, "upgrade", 7) == 0)
                        m->upgrade_idx = (int)idx;
                break;
        case 10:
                if (strncasecmp(n, "connection", 10) == 0) {
                        if (http1_list_has(v, h->value_len, "close"))
                                m->flags |= HTTP1_F_CONN_CLOSE;
                        if (http1_list_has(v, h->value_len, "keep-alive"))
                                m->flags |= HTTP1_F_CONN_KEEP_ALIVE;
                        if (http1_list_has(v, h->value_len, "upgrade"))
                                m->flags |= HTTP1_F_CONN_UPGRADE;
                }
                break;
        case 14:
                if (strncasecmp(n, "content-length", 14) == 0)
                        return content_length(m, v, h->value_len);
                break;
        case 17:
                if (strncasecmp(n, "transfer-encoding", 17) == 0) {
                        if (m->kind == HTTP1_REQUEST) {
                                /* Only "chunked", once: anything else is how
                                 * smuggling starts. */
                                if ((m->flags & HTTP1_F_HAS_TE) || h->value_len != 7 ||
                                    strncasecmp(v, "chunked", 7) != 0)
                                        return fail(m, -EBADMSG, "unsupported Transfer-Encoding");
                                m->flags |= HTTP1_F_CHUNKED;
                        } else {
                                /* The last coding decides (RFC 9112 6.3). */
                                uint32_t e = h->value_len, s;
                                while (e > 0 && (v[e - 1] == ' ' || v[e - 1] == '\t'))
                                        e--;
                                s = e;
                                while (s > 0 && v[s - 1] != ',' && v[s - 1] != ' ' &&
                                       v[s - 1] != '\t')
                                        s--;
                                if (e - s == 7 && strncasecmp(v + s, "chunked", 7) == 0)
                                        m->flags |= HTTP1_F_CHUNKED;
                                else
                                        m->flags &= ~(uint32_t)HTTP1_F_CHUNKED;
                        }
                        m->flags |= HTTP1_F_HAS_TE;
                }
                break;
        }
        return 0;
}

static int header_line(struct http1_msg *m, const char *buf, uint32_t start, uint32_t n)
{
        const char *p = buf + start;
        if (p[0] == ' ' || p[0] == '\t')
                return fail(m, -EBADMSG, "obsolete line folding");
        uint32_t i = 0;
        while (i < n && (cclass[(uint8_t)p[i]] & C_TCHAR))
                i++;
        if (i >= n || p[i] != ':') {
                if (i < n && (p[i] == ' ' || p[i] == '\t'))
                        return fail(m, -EBADMSG, "whitespace before colon");
                return fail(m, -EBADMSG, "invalid header name");
        }
        if (i == 0)
                return fail(m, -EBADMSG, "empty header name");
        if (i > HTTP1_MAX_HEADER_NAME)
                return fail(m, -E2BIG, "header name too long");
        if (m->n_headers >= m->max_headers)
                return fail(m, -E2BIG, "too many headers");
        uint32_t name_len = i++;
        while (i < n && (p[i] == ' ' || p[i] == '\t'))
                i++;
        uint32_t vs = i;
        for (; i < n; i++)
                if (!(cclass[(uint8_t)p[i]] & C_VALUE))
                        return fail(m, -EBADMSG, "invalid character in header value");
        uint32_t ve = n;
        while (ve > vs && (p[ve - 1] == ' ' || p[ve - 1] == '\t'))
                ve--;
        struct http1_header *h = &m->headers[m->n_headers];
        h->name_off = start;
        h->name_len = (uint16_t)name_len;
        h->value_off = start + vs;
        h->value_len = ve - vs;
        int r = header_semantics(m, buf, h, m->n_headers);
        if (r < 0)
                return r;
        m->n_headers++;
        return 0;
}

static int head_done(struct http1_msg *m)
{
        if ((m->flags & HTTP1_F_HAS_TE) && m->content_length >= 0)
                return fail(m, -EBADMSG, "both Content-Length and Transfer-Encoding");
        if (m->kind == HTTP1_REQUEST) {
                if (m->version == 11 && m->host_idx < 0)
                        return fail(m, -EBADMSG, "missing Host");
                if (m->version == 10 && (m->flags & HTTP1_F_HAS_TE))
                        return fail(m, -EBADMSG, "Transfer-Encoding in an HTTP/1.0 request");
        } else if (!(m->flags & HTTP1_F_CHUNKED) && m->content_length < 0) {
                m->flags |= HTTP1_F_CLOSE_DELIMITED;
        }
        m->state = ST_DONE;
        m->head_len = m->pos;
        return 1;
}

int http1_parse(struct http1_msg *m, const char *buf, size_t len)
{
        if (m->state == ST_DONE)
                return 1;
        if (m->state == ST_ERROR)
                return -EBADMSG;

        for (;;) {
                uint32_t start = m->pos;
                size_t from = (size_t)start + m->scan;
                const char *lf = from < len ? memchr(buf + from, '\n', len - from) : NULL;
                if (!lf) {
                        /* A trailing CR is looked at again with the byte
                         * after it. */
                        m->scan = (uint32_t)(len - start);
                        if (len > start && buf[len - 1] == '\r')
                                m->scan--;
                        /* A line may not grow past its limit while we wait
                         * for its end: slowloris heads stay small. */
                        if (m->scan > HTTP1_MAX_LINE + 1)
                                return fail(m, -E2BIG, m->state == ST_START ? "request line too long"
                                                                            : "header line too long");
                        if (from < len && (memchr(buf + from, '\0', len - from) ||
                                           memchr(buf + from, '\r', len - from - 1)))
                                return fail(m, -EBADMSG, "NUL or bare CR");
                        return 0;
                }
                uint32_t end = (uint32_t)(lf - buf);
                if (end == start || buf[end - 1] != '\r')
                        return fail(m, -EBADMSG, "bare LF");
                uint32_t n = end - 1 - start;
                if (n > HTTP1_MAX_LINE)
                        return fail(m, -E2BIG, m->state == ST_START ? "request line too long"
                                                                    : "header line too long");
                /* A CR is only allowed right before the LF. */
                if (n && memchr(buf + start, '\r', n))
                        return fail(m, -EBADMSG, "bare CR");
                m->pos = end + 1;
                m->scan = 0;

                int r;
                if (m->state == ST_START) {
                        if (n == 0) {
                                /* RFC 9112 2.2: ignore empty lines before the
                                 * request line (left over after a body). */
                                if (m->kind == HTTP1_REQUEST && m->pos <= 64)
                                        continue;
                                return fail(m, -EBADMSG, "empty start line");
                        }
                        r = m->kind == HTTP1_REQUEST ? request_line(m, buf, start, n)
                                                     : status_line(m, buf, start, n);
                        m->state = ST_HEADERS;
                } else if (n == 0) {
                        return head_done(m);
                } else {
                        r = header_line(m, buf, start, n);
                }
                if (r < 0)
                        return r;
        }
}

/* ---- chunked bodies ---------------------------------------------------- */

enum {
        CS_SIZE,
        CS_EXT,
        CS_SIZE_LF,
        CS_DATA,
        CS_DATA_CR,
        CS_DATA_LF,
        CS_TRAILER_START,
        CS_TRAILER,
        CS_TRAILER_LF,
        CS_END_LF,
};

#define CHUNK_LINE_MAX    4096
#define CHUNK_TRAILER_MAX 8192

void http1_chunked_init(struct http1_chunked *d)
{
        *d = (struct http1_chunked){.state = CS_SIZE};
}

static ssize_t cfail(struct http1_chunked *d, int r, const char *why)
{
        d->error = why;
        return r;
}

ssize_t http1_chunked_feed(struct http1_chunked *d, const char *buf, size_t len,
                           size_t *ret_data_off, size_t *ret_data_len)
{
        size_t i = 0;
        *ret_data_off = 0;
        *ret_data_len = 0;
        if (d->error)
                return -EBADMSG;

        while (i < len && !d->done) {
                uint8_t c = (uint8_t)buf[i];
                switch (d->state) {
                case CS_SIZE:
                        if (cclass[c] & C_HEX) {
                                /* 2^60 bytes is more than anyone sends; beyond
                                 * it the arithmetic would wrap. */
                                if (d->remaining >> 56)
                                        return cfail(d, -EBADMSG, "chunk size overflow");
                                unsigned v = c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
                                d->remaining = d->remaining << 4 | v;
                                d->digits++;
                        } else if (d->digits && c == ';') {
                                d->state = CS_EXT;
                        } else if (d->digits && c == '\r') {
                                d->state = CS_SIZE_LF;
                        } else {
                                return cfail(d, -EBADMSG, "invalid chunk size");
                        }
                        if (++d->line_len > CHUNK_LINE_MAX)
                                return cfail(d, -E2BIG, "chunk size line too long");
                        i++;
                        break;
                case CS_EXT:
                        if (c == '\r')
                                d->state = CS_SIZE_LF;
                        else if (!(cclass[c] & C_VALUE) || c >= 0x80)
                                return cfail(d, -EBADMSG, "invalid chunk extension");
                        if (++d->line_len > CHUNK_LINE_MAX)
                                return cfail(d, -E2BIG, "chunk size line too long");
                        i++;
                        break;
                case CS_SIZE_LF:
                        if (c != '\n')
                                return cfail(d, -EBADMSG, "bare CR in chunk size line");
                        i++;
                        d->line_len = 0;
                        d->digits = 0;
                        d->state = d->remaining ? CS_DATA : CS_TRAILER_START;
                        break;
                case CS_DATA: {
                        size_t n = len - i;
                        if (n > d->remaining)
                                n = (size_t)d->remaining;
                        d->remaining -= n;
                        if (!d->remaining)
                                d->state = CS_DATA_CR;
                        *ret_data_off = i;
                        *ret_data_len = n;
                        return (ssize_t)(i + n);
                }
                case CS_DATA_CR:
                        if (c != '\r')
                                return cfail(d, -EBADMSG, "chunk data not followed by CRLF");
                        d->state = CS_DATA_LF;
                        i++;
                        break;
                case CS_DATA_LF:
                        if (c != '\n')
                                return cfail(d, -EBADMSG, "chunk data not followed by CRLF");
                        d->state = CS_SIZE;
                        i++;
                        break;
                case CS_TRAILER_START:
                        if (c == '\r') {
                                d->state = CS_END_LF;
                        } else if (cclass[c] & C_TCHAR) {
                                d->state = CS_TRAILER;
                        } else {
                                return cfail(d, -EBADMSG, "invalid trailer");
                        }
                        i++;
                        if (++d->trailer_bytes > CHUNK_TRAILER_MAX)
                                return cfail(d, -E2BIG, "trailers too long");
                        break;
                case CS_TRAILER:
                        if (c == '\r')
                                d->state = CS_TRAILER_LF;
                        else if (!(cclass[c] & C_VALUE))
                                return cfail(d, -EBADMSG, "invalid trailer");
                        i++;
                        if (++d->trailer_bytes > CHUNK_TRAILER_MAX)
                                return cfail(d, -E2BIG, "trailers too long");
                        break;
                case CS_TRAILER_LF:
                        if (c != '\n')
                                return cfail(d, -EBADMSG, "bare CR in trailer");
                        d->state = CS_TRAILER_START;
                        i++;
                        break;
                case CS_END_LF:
                        if (c != '\n')
                                return cfail(d, -EBADMSG, "bare CR after last chunk");
                        d->done = true;
                        i++;
                        break;
                }
        }
        return (ssize_t)i;
}
