/* The attach protocol's frames; see attachproto.h. */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>

#include "lib/attachproto.h"

static uint32_t get_be32(const uint8_t *p)
{
        return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static unsigned get_be16(const uint8_t *p)
{
        return (unsigned)p[0] << 8 | p[1];
}

static void put_be32(uint8_t *p, uint32_t v)
{
        p[0] = (uint8_t)(v >> 24);
        p[1] = (uint8_t)(v >> 16);
        p[2] = (uint8_t)(v >> 8);
        p[3] = (uint8_t)v;
}

/* The signals a client may send: what a terminal user can (^C, ^\), a
 * hangup, and a polite stop.  Nothing that could stop (SIGSTOP) or
 * confuse the sandbox. */
static bool signal_allowed(int sig)
{
        return sig == SIGHUP || sig == SIGINT || sig == SIGQUIT || sig == SIGTERM;
}

static bool type_allowed(unsigned type, enum attach_sender from)
{
        switch (type) {
        case ATTACH_STDIN:
        case ATTACH_RESIZE:
        case ATTACH_SIGNAL:
                return from == ATTACH_FROM_CLIENT;
        case ATTACH_STDOUT:
        case ATTACH_STDERR:
        case ATTACH_EXIT:
                return from == ATTACH_FROM_PIERD;
        default:
                return false;
        }
}

int attach_frame_parse(const void *buf, size_t len, enum attach_sender from,
                       struct attach_frame *ret)
{
        const uint8_t *p = buf;
        if (len < 1)
                return 0;
        /* The type is checked as soon as it is there: garbage is refused
         * before waiting for a length that may never come. */
        if (!type_allowed(p[0], from))
                return -EBADMSG;
        if (len < ATTACH_HEADER_SIZE)
                return 0;
        uint32_t n = get_be32(p + 1);
        if (n > ATTACH_FRAME_MAX)
                return -EBADMSG;
        struct attach_frame f = {.type = (enum attach_type)p[0], .len = n};
        switch (f.type) {
        case ATTACH_RESIZE:
        case ATTACH_EXIT:
                if (n != 4)
                        return -EBADMSG;
                break;
        case ATTACH_SIGNAL:
                if (n != 1)
                        return -EBADMSG;
                break;
        default:
                break;
        }
        if (len - ATTACH_HEADER_SIZE < n)
                return 0;
        f.data = p + ATTACH_HEADER_SIZE;
        switch (f.type) {
        case ATTACH_RESIZE:
                f.rows = get_be16(f.data);
                f.cols = get_be16(f.data + 2);
                if (f.rows < 1 || f.rows > ATTACH_WINSIZE_MAX || f.cols < 1 ||
                    f.cols > ATTACH_WINSIZE_MAX)
                        return -EBADMSG;
                break;
        case ATTACH_SIGNAL:
                f.signo = f.data[0];
                if (!signal_allowed(f.signo))
                        return -EBADMSG;
                break;
        case ATTACH_EXIT:
                f.status = (int)(int32_t)get_be32(f.data);
                if (f.status < -1 || f.status > 255)
                        return -EBADMSG;
                break;
        default:
                break;
        }
        *ret = f;
        return (int)(ATTACH_HEADER_SIZE + n);
}

int attach_frame_add(struct strbuf *sb, enum attach_type type, const void *data, size_t len)
{
        if (len > ATTACH_FRAME_MAX || (unsigned)type > ATTACH_EXIT)
                return -EINVAL;
        uint8_t h[ATTACH_HEADER_SIZE];
        h[0] = (uint8_t)type;
        put_be32(h + 1, (uint32_t)len);
        size_t old = sb->len;
        int r = strbuf_add(sb, h, sizeof(h));
        if (r >= 0 && len)
                r = strbuf_add(sb, data, len);
        if (r < 0 && sb->buf) {
                sb->len = old; /* as it was */
                sb->buf[old] = '\0';
        }
        return r;
}

int attach_frame_add_resize(struct strbuf *sb, unsigned rows, unsigned cols)
{
        if (rows < 1 || rows > ATTACH_WINSIZE_MAX || cols < 1 || cols > ATTACH_WINSIZE_MAX)
                return -EINVAL;
        uint8_t d[4] = {(uint8_t)(rows >> 8), (uint8_t)rows, (uint8_t)(cols >> 8), (uint8_t)cols};
        return attach_frame_add(sb, ATTACH_RESIZE, d, sizeof(d));
}

int attach_frame_add_signal(struct strbuf *sb, int signo)
{
        if (!signal_allowed(signo))
                return -EINVAL;
        uint8_t d = (uint8_t)signo;
        return attach_frame_add(sb, ATTACH_SIGNAL, &d, 1);
}

int attach_frame_add_exit(struct strbuf *sb, int status)
{
        if (status < -1 || status > 255)
                return -EINVAL;
        uint8_t d[4];
        put_be32(d, (uint32_t)(int32_t)status);
        return attach_frame_add(sb, ATTACH_EXIT, d, sizeof(d));
}
