/* A strict, incremental, zero-copy HTTP/1.1 message-head parser and an
 * incremental chunked-body decoder.
 *
 * Ownership: nothing is allocated.  The caller owns the buffer holding the
 * bytes received so far and the array of struct http1_header the parser
 * fills; both must stay in place (the buffer may grow at its end, never move
 * what is already there) between calls for one message.  Everything the
 * parser reports is an offset/length into that buffer.
 *
 * Use:
 *
 *     struct http1_header hdrs[HTTP1_MAX_HEADERS];
 *     struct http1_msg m;
 *     http1_msg_init(&m, HTTP1_REQUEST, hdrs, ELEMENTSOF(hdrs));
 *     for (;;) {
 *             append received bytes to buf;
 *             r = http1_parse(&m, buf, len);
 *             if (r > 0) break;        head complete: m.head_len bytes
 *             if (r < 0) reject (400); m.error says why
 *     }
 *
 * http1_parse() resumes where the previous call stopped: bytes are scanned
 * once (a line is examined when its LF has arrived).  It returns 1 when the
 * head is complete, 0 when it needs more bytes, -EBADMSG for a malformed or
 * forbidden message and -E2BIG for one over a limit.  After 1, body framing
 * is in m.flags / m.content_length (HTTP1_F_CHUNKED, or content_length >= 0,
 * else for responses HTTP1_F_CLOSE_DELIMITED).
 *
 * Limits (Heroku's router): request line and each header line at most 8192
 * bytes, header names at most 1000 bytes, at most 1000 headers.  The caller
 * bounds the whole head by the size of its buffer.
 *
 * Strictness: CRLF everywhere (a bare LF or bare CR is an error), no obs-fold,
 * no whitespace between a field name and its colon, no NUL or other control
 * bytes, token characters in methods and field names, visible ASCII in
 * request targets, version exactly HTTP/1.0 or HTTP/1.1.  Request smuggling
 * guards: Content-Length together with Transfer-Encoding, Content-Lengths that
 * differ, a Transfer-Encoding other than "chunked" in a request, and more than
 * one Host are all rejected.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define HTTP1_MAX_LINE        8192
#define HTTP1_MAX_HEADER_NAME 1000
#define HTTP1_MAX_HEADERS     1000

enum http1_kind {
        HTTP1_REQUEST,
        HTTP1_RESPONSE,
};

enum {
        HTTP1_F_CHUNKED = 1 << 0,         /* Transfer-Encoding: chunked */
        HTTP1_F_CONN_CLOSE = 1 << 1,      /* Connection: close */
        HTTP1_F_CONN_KEEP_ALIVE = 1 << 2, /* Connection: keep-alive */
        HTTP1_F_CONN_UPGRADE = 1 << 3,    /* Connection: upgrade */
        HTTP1_F_EXPECT_CONTINUE = 1 << 4, /* Expect: 100-continue */
        HTTP1_F_CLOSE_DELIMITED = 1 << 5, /* response body runs until EOF */
        HTTP1_F_HAS_TE = 1 << 6,          /* some Transfer-Encoding header */
};

struct http1_header {
        uint32_t name_off;
        uint32_t value_off;
        uint32_t value_len; /* without surrounding whitespace */
        uint16_t name_len;
};

struct http1_msg {
        enum http1_kind kind;

        /* request line */
        uint32_t method_off, method_len;
        uint32_t target_off, target_len;
        /* status line */
        int status;
        uint32_t reason_off, reason_len;
        int version; /* 10 or 11 */

        struct http1_header *headers;
        uint32_t n_headers, max_headers;
        int host_idx;    /* index of Host, -1 if none */
        int upgrade_idx; /* index of Upgrade, -1 if none */

        int64_t content_length; /* -1: none */
        uint32_t flags;
        uint32_t head_len; /* when complete: bytes of the head, CRLFCRLF included */

        /* parse state */
        uint32_t pos;  /* start of the next unparsed line */
        uint32_t scan; /* bytes from pos already known to hold no LF */
        uint8_t state;
        const char *error; /* static text: why the message was refused */
};

void http1_msg_init(struct http1_msg *m, enum http1_kind kind, struct http1_header *headers,
                    uint32_t max_headers);
int http1_parse(struct http1_msg *m, const char *buf, size_t len);

/* Case-insensitive comparison of a header's name with a lowercase literal. */
bool http1_name_is(const char *buf, const struct http1_header *h, const char *lower);

/* Whether the comma-separated list in buf[off..off+len) contains the token
 * (case-insensitive, lowercase argument). */
bool http1_list_has(const char *p, size_t len, const char *lower);

/* Incremental chunked-body decoder.  Feed it the bytes that follow the head;
 * it says how many belong to the body and where the chunk data are.
 *
 * http1_chunked_feed() consumes from buf[0..len) and returns the number of
 * bytes consumed (>= 0), or -EBADMSG (bad chunk size, chunk-size overflow,
 * bare LF, bad trailer) / -E2BIG (chunk-size line or trailers too long).
 * When it stops at chunk data it reports the data span in *ret_data_off /
 * *ret_data_len (relative to buf) and consumes exactly up to the span's end;
 * at most one span is reported per call (len 0 when none).  d->done is set
 * when the last chunk and the trailers have been consumed; bytes after that
 * are not consumed. */
struct http1_chunked {
        uint64_t remaining; /* data bytes left in the current chunk */
        uint32_t line_len;  /* bytes in the current size/trailer line */
        uint32_t trailer_bytes;
        uint8_t state;
        uint8_t digits;
        bool done;
        const char *error;
};

void http1_chunked_init(struct http1_chunked *d);
ssize_t http1_chunked_feed(struct http1_chunked *d, const char *buf, size_t len,
                           size_t *ret_data_off, size_t *ret_data_len);
