/* The attach protocol of `pier run`: the frames that carry an attached
 * one-off dyno's stdin, stdout, stderr, window size, signals and exit
 * status over the upgraded connection (GET /apps/APP/dynos/NAME/attach,
 * `Upgrade: pier-attach`; docs/api.md "Attached runs").
 *
 * A frame is a 5-byte header, then its payload:
 *
 *     type (1 byte) | length (4 bytes, big-endian) | payload (length bytes)
 *
 *   type            from    payload
 *   0 STDIN         client  bytes for the dyno's stdin; empty: end of input
 *   1 STDOUT        pierd   bytes the dyno wrote to stdout (the TTY's output)
 *   2 STDERR        pierd   bytes the dyno wrote to stderr (not with a TTY)
 *   3 RESIZE        client  rows, cols: 2 bytes each, big-endian, 1..ATTACH_WINSIZE_MAX
 *   4 SIGNAL        client  1 byte: SIGHUP, SIGINT, SIGQUIT or SIGTERM (Linux numbers)
 *   5 EXIT          pierd   4 bytes, big-endian signed: the exit status
 *                           (0..255; 128+N killed by signal N; -1 never ran);
 *                           the last frame
 *
 * Payloads are at most ATTACH_FRAME_MAX bytes.  Anything else — an unknown
 * type, a type sent the wrong way, a longer payload, a RESIZE or SIGNAL of
 * the wrong size or value — is a protocol error: the reader drops the
 * connection.  Pure functions on caller buffers: no allocation, no I/O.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "lib/strbuf.h"

#define ATTACH_HEADER_SIZE  5
#define ATTACH_FRAME_MAX    65536
#define ATTACH_WINSIZE_MAX  10000
/* The value of the Upgrade header. */
#define ATTACH_PROTOCOL     "pier-attach"

enum attach_type {
        ATTACH_STDIN = 0,
        ATTACH_STDOUT = 1,
        ATTACH_STDERR = 2,
        ATTACH_RESIZE = 3,
        ATTACH_SIGNAL = 4,
        ATTACH_EXIT = 5,
};

/* Who sent the bytes being parsed: which types are allowed. */
enum attach_sender { ATTACH_FROM_CLIENT, ATTACH_FROM_PIERD };

struct attach_frame {
        enum attach_type type;
        const uint8_t *data; /* points into the parsed buffer */
        size_t len;
        /* decoded, for the types that have them */
        unsigned rows, cols; /* RESIZE */
        int signo;           /* SIGNAL */
        int status;          /* EXIT */
};

/* Looks for one whole frame at the start of buf[0..len).  Returns the
 * number of bytes it takes (> 0) with *ret filled; 0 when more bytes are
 * needed; -EBADMSG for a protocol error (*ret untouched). */
int attach_frame_parse(const void *buf, size_t len, enum attach_sender from,
                       struct attach_frame *ret);

/* Appends a frame to sb (len <= ATTACH_FRAME_MAX); 0 or -ENOMEM/-EINVAL. */
int attach_frame_add(struct strbuf *sb, enum attach_type type, const void *data, size_t len);
int attach_frame_add_resize(struct strbuf *sb, unsigned rows, unsigned cols);
int attach_frame_add_signal(struct strbuf *sb, int signo);
int attach_frame_add_exit(struct strbuf *sb, int status);
