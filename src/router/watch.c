/* The watcher: long-polls pierd's GET /router/table and publishes each new
 * table to the workers' table file.  See watch.h.
 *
 * The client is deliberately small: one request per connection
 * ("Connection: close"), blocking on poll() with the signalfd in the same
 * set so that SIGTERM and SIGHUP are seen at once, responses parsed by
 * net/http1 (Content-Length, chunked or close-delimited bodies), everything
 * bounded.
 *
 * Versions: the first request, and the first after any error, carries no
 * ?since, so pierd answers at once with its current table — that covers a
 * pierd that restarted meanwhile and counts versions from 1 again.  A table
 * is published when its bytes differ from the last one published (pierd
 * answers a long-poll that ran out of time with the same table).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/sha256.h"
#include "lib/strbuf.h"
#include "lib/timefmt.h"
#include "lib/util.h"
#include "net/http1.h"
#include "router/table.h"
#include "router/watch.h"

#define TOKEN_MAX      1024
#define URL_HOST_MAX   255
#define URL_PREFIX_MAX 1024
#define HEAD_MAX       65536
/* pierd's table runs to ~250 bytes an app with one dyno: TABLE_MAX_APPS
 * apps fit with room for more dynos. */
#define BODY_MAX (64 * 1024 * 1024)
/* pierd answers a watch within 25 s (WATCH_WAIT_MS in src/pierd/api.c):
 * 30 s of silence means the connection is dead. */
#define READ_TIMEOUT (30 * USEC_PER_SEC)
/* A host that answers at all accepts or refuses in milliseconds; this only
 * bounds how long an address that drops packets holds up the next try. */
#define CONNECT_TIMEOUT (10 * USEC_PER_SEC)
#define BACKOFF_MIN     (100 * 1000)
#define BACKOFF_MAX     (5 * USEC_PER_SEC)
/* A refused token will not fix itself soon: retry, re-reading the file,
 * but slowly. */
#define AUTH_RETRY (30 * USEC_PER_SEC)

struct url {
        char host[URL_HOST_MAX + 1]; /* for getaddrinfo: no brackets */
        char port[6];
        char authority[URL_HOST_MAX + 9]; /* for Host: as written */
        char prefix[URL_PREFIX_MAX + 1];  /* "" or "/a/b", no trailing '/' */
};

/* Why pierd's table is not coming, as far as logging goes: a new outage is
 * logged when the kind changes, not at every retry. */
enum outage {
        OUTAGE_NONE,
        OUTAGE_NET,   /* cannot connect, or the connection broke or went quiet */
        OUTAGE_HTTP,  /* an error status or a malformed response */
        OUTAGE_AUTH,  /* 401/403: the token */
        OUTAGE_TABLE, /* a table the workers could not load */
        OUTAGE_LOCAL, /* writing the table file */
};

struct watcher {
        const struct watch_config *cfg;
        struct url url;
        char *token;
        int sigfd;
        bool stop, hup;
        bool fresh;     /* ask without ?since */
        bool published; /* a table from pierd went out */
        uint64_t version;
        char digest[65]; /* of the table published last */
        enum outage outage;
        int64_t backoff;
        enum outage err_kind; /* of the attempt that just failed */
        char err[512];
};

struct response {
        int status;
        char reason[64];
        struct strbuf body;
};

/* ---- configuration ----------------------------------------------------- */

static bool host_char(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '-' || c == '.' || c == '_';
}

static int url_parse(const char *s, struct url *u, const char **ret_error)
{
        struct url v = {0};
        if (strncasecmp(s, "https://", 8) == 0) {
                *ret_error = "https is not supported: give pierd's plain HTTP address "
                             "(e.g. http://127.0.0.1:5000)";
                return -EINVAL;
        }
        if (strncasecmp(s, "http://", 7) != 0) {
                *ret_error = "the URL must start with http:// (e.g. http://127.0.0.1:5000)";
                return -EINVAL;
        }
        const char *a = s + 7;
        size_t alen = strcspn(a, "/?#");
        if (a[alen] == '?' || a[alen] == '#' || strpbrk(a + alen, "?#")) {
                *ret_error = "the URL must not have a query or a fragment";
                return -EINVAL;
        }
        if (memchr(a, '@', alen)) {
                *ret_error = "no credentials in the URL: the token goes in --token-file";
                return -EINVAL;
        }
        if (alen == 0 || alen >= sizeof(v.authority)) {
                *ret_error = "the URL has no host, or one too long";
                return -EINVAL;
        }
        memcpy(v.authority, a, alen);

        const char *h = v.authority, *port = NULL;
        size_t hlen;
        if (h[0] == '[') {
                const char *close = strchr(h, ']');
                if (!close || close == h + 1 || (close[1] && close[1] != ':')) {
                        *ret_error = "a bad [IPv6] address in the URL";
                        return -EINVAL;
                }
                h++;
                hlen = (size_t)(close - h);
                port = close[1] ? close + 2 : NULL;
                for (size_t i = 0; i < hlen; i++)
                        if (!host_char(h[i]) && h[i] != ':' && h[i] != '%') {
                                *ret_error = "a bad [IPv6] address in the URL";
                                return -EINVAL;
                        }
        } else {
                const char *colon = strchr(h, ':');
                hlen = colon ? (size_t)(colon - h) : alen;
                port = colon ? colon + 1 : NULL;
                for (size_t i = 0; i < hlen; i++)
                        if (!host_char(h[i])) {
                                *ret_error = "a bad host in the URL (an IPv6 address goes in [])";
                                return -EINVAL;
                        }
        }
        uint16_t p = 80;
        if (hlen == 0 || (port && (safe_atou16(port, &p) < 0 || p == 0))) {
                *ret_error = hlen == 0 ? "the URL has no host" : "a bad port in the URL";
                return -EINVAL;
        }
        memcpy(v.host, h, hlen);
        snprintf(v.port, sizeof(v.port), "%u", p);

        const char *path = a + alen;
        size_t plen = strlen(path);
        while (plen && path[plen - 1] == '/')
                plen--;
        if (plen > URL_PREFIX_MAX) {
                *ret_error = "the URL's path is too long";
                return -EINVAL;
        }
        for (size_t i = 0; i < plen; i++)
                if ((unsigned char)path[i] <= 0x20 || (unsigned char)path[i] >= 0x7f) {
                        *ret_error = "the URL's path has spaces or other bytes not allowed there";
                        return -EINVAL;
                }
        memcpy(v.prefix, path, plen);
        *u = v;
        return 0;
}

int watch_check_url(const char *url, const char **ret_error)
{
        struct url u;
        return url_parse(url, &u, ret_error);
}

int watch_read_token(const char *path, char **ret)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        char buf[TOKEN_MAX + 2];
        size_t n = 0;
        int r = 0;
        while (n < sizeof(buf)) {
                ssize_t k = read(fd, buf + n, sizeof(buf) - n);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0) {
                        r = -errno;
                        break;
                }
                if (k == 0)
                        break;
                n += (size_t)k;
        }
        size_t a = 0;
        while (r == 0 && a < n && strchr(" \t\r\n", buf[a]))
                a++;
        while (r == 0 && n > a && strchr(" \t\r\n", buf[n - 1]))
                n--;
        if (r == 0 && (n == a || n - a > TOKEN_MAX))
                r = -EINVAL;
        /* it goes into a header line: visible ASCII only */
        for (size_t i = a; r == 0 && i < n; i++)
                if ((unsigned char)buf[i] <= 0x20 || (unsigned char)buf[i] >= 0x7f)
                        r = -EINVAL;
        char *t = NULL;
        if (r == 0 && !(t = strndup(buf + a, n - a)))
                r = -ENOMEM;
        explicit_bzero(buf, sizeof(buf));
        if (r < 0)
                return r;
        *ret = t;
        return 0;
}

static void token_free(char *t)
{
        if (t) {
                explicit_bzero(t, strlen(t));
                free(t);
        }
}

int watch_publish(const char *path, const char *text, size_t len)
{
        char tmp[PATH_MAX];
        if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
                return -ENAMETOOLONG;
        _cleanup_close_ int fd =
            open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0)
                return -errno;
        int r = 0;
        for (size_t off = 0; off < len;) {
                ssize_t k = write(fd, text + off, len - off);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0) {
                        r = -errno;
                        break;
                }
                off += (size_t)k;
        }
        /* No fsync: the file is rebuilt from pierd at every start; a reader
         * needs it whole, which rename() gives, not durable. */
        if (r == 0 && close(TAKE_FD(fd)) < 0)
                r = -errno;
        if (r == 0 && rename(tmp, path) < 0)
                r = -errno;
        if (r < 0)
                (void)unlink(tmp);
        return r;
}

/* ---- the client -------------------------------------------------------- */

static int fail(struct watcher *w, enum outage kind, int r, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Records why this attempt failed (for the log, if it starts an outage). */
static int fail(struct watcher *w, enum outage kind, int r, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(w->err, sizeof(w->err), fmt, ap);
        va_end(ap);
        w->err_kind = kind;
        return r < 0 ? r : -EIO;
}

static void signals_read(struct watcher *w)
{
        struct signalfd_siginfo si;
        while (read(w->sigfd, &si, sizeof(si)) == sizeof(si)) {
                if (si.ssi_signo == SIGHUP)
                        w->hup = true;
                else
                        w->stop = true;
        }
}

/* Waits for events on fd (none: just the time) until deadline.  0, or
 * -ETIMEDOUT, or -ECANCELED when a signal wants us elsewhere. */
static int wait_fd(struct watcher *w, int fd, short events, int64_t deadline)
{
        for (;;) {
                struct pollfd p[2] = {
                    {.fd = w->sigfd, .events = POLLIN},
                    {.fd = fd, .events = events},
                };
                int64_t left = deadline - mono_usec();
                if (left <= 0)
                        return -ETIMEDOUT;
                int n = poll(p, fd >= 0 ? 2 : 1, (int)MIN((left + 999) / 1000, (int64_t)INT_MAX));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (p[0].revents) {
                        signals_read(w);
                        if (w->stop || w->hup)
                                return -ECANCELED;
                }
                if (fd >= 0 && p[1].revents)
                        return 0;
        }
}

static int api_connect(struct watcher *w, int *ret_fd)
{
        struct addrinfo hints = {
            .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
        struct addrinfo *ai = NULL;
        int g = getaddrinfo(w->url.host, w->url.port, &hints, &ai);
        if (g != 0)
                return fail(w, OUTAGE_NET, -EHOSTUNREACH, "resolving %s: %s", w->url.host,
                            g == EAI_SYSTEM ? strerror(errno) : gai_strerror(g));
        int r = -EHOSTUNREACH;
        for (struct addrinfo *p = ai; p; p = p->ai_next) {
                _cleanup_close_ int fd =
                    socket(p->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
                if (fd < 0) {
                        r = -errno;
                        continue;
                }
                if (connect(fd, p->ai_addr, p->ai_addrlen) < 0) {
                        if (errno != EINPROGRESS) {
                                r = -errno;
                                continue;
                        }
                        r = wait_fd(w, fd, POLLOUT, mono_usec() + CONNECT_TIMEOUT);
                        if (r == -ECANCELED)
                                break;
                        if (r == 0) {
                                int e = 0;
                                socklen_t l = sizeof(e);
                                if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &l) < 0)
                                        e = errno;
                                r = -e;
                        }
                        if (r < 0)
                                continue;
                }
                *ret_fd = TAKE_FD(fd);
                freeaddrinfo(ai);
                return 0;
        }
        freeaddrinfo(ai);
        if (r == -ECANCELED)
                return r;
        return fail(w, OUTAGE_NET, r, "connecting: %s", strerror(-r));
}

static int send_all(struct watcher *w, int fd, const char *p, size_t n)
{
        int64_t deadline = mono_usec() + READ_TIMEOUT;
        while (n > 0) {
                ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0 && errno == EAGAIN) {
                        int r = wait_fd(w, fd, POLLOUT, deadline);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (k < 0)
                        return -errno;
                p += k;
                n -= (size_t)k;
        }
        return 0;
}

/* Some bytes, 0 at EOF; waits at most READ_TIMEOUT for them. */
static int recv_some(struct watcher *w, int fd, char *buf, size_t cap, size_t *ret_n)
{
        for (;;) {
                ssize_t k = recv(fd, buf, cap, 0);
                if (k >= 0) {
                        *ret_n = (size_t)k;
                        return 0;
                }
                if (errno == EINTR)
                        continue;
                if (errno != EAGAIN)
                        return -errno;
                int r = wait_fd(w, fd, POLLIN, mono_usec() + READ_TIMEOUT);
                if (r < 0)
                        return r;
        }
}

static int body_add(struct watcher *w, struct response *resp, const char *p, size_t n)
{
        if (n > BODY_MAX - resp->body.len)
                return fail(w, OUTAGE_HTTP, -E2BIG, "the table is over %d MiB",
                            BODY_MAX / (1024 * 1024));
        if (strbuf_add(&resp->body, p, n) < 0)
                return fail(w, OUTAGE_LOCAL, -ENOMEM, "out of memory for the table");
        return 0;
}

static int read_response(struct watcher *w, int fd, struct response *resp)
{
        enum { B_LENGTH, B_CHUNKED, B_CLOSE } mode;
        _cleanup_free_ char *buf = malloc(HEAD_MAX);
        struct http1_header hdrs[64];
        struct http1_msg m;
        size_t n = 0, k;
        int r;

        if (!buf)
                return fail(w, OUTAGE_LOCAL, -ENOMEM, "out of memory");
        http1_msg_init(&m, HTTP1_RESPONSE, hdrs, ELEMENTSOF(hdrs));
        for (;;) {
                if (n == HEAD_MAX)
                        return fail(w, OUTAGE_HTTP, -E2BIG, "a response head over %d bytes",
                                    HEAD_MAX);
                r = recv_some(w, fd, buf + n, HEAD_MAX - n, &k);
                if (r == -ECANCELED)
                        return r;
                if (r < 0)
                        return fail(w, OUTAGE_NET, r, "waiting for the answer: %s", strerror(-r));
                if (k == 0)
                        return fail(w, OUTAGE_NET, -ECONNRESET,
                                    "the connection closed before an answer");
                n += k;
                r = http1_parse(&m, buf, n);
                if (r < 0)
                        return fail(w, OUTAGE_HTTP, r, "a malformed HTTP response (%s)",
                                    m.error ? m.error : "bad head");
                if (r > 0)
                        break;
        }
        if (m.status < 200)
                return fail(w, OUTAGE_HTTP, -EBADMSG, "an unexpected HTTP %d", m.status);
        resp->status = m.status;
        size_t rl = MIN((size_t)m.reason_len, sizeof(resp->reason) - 1);
        memcpy(resp->reason, buf + m.reason_off, rl);
        resp->reason[rl] = '\0';

        struct http1_chunked dec;
        int64_t remaining = 0;
        if (m.flags & HTTP1_F_CHUNKED) {
                mode = B_CHUNKED;
                http1_chunked_init(&dec);
        } else if (m.content_length >= 0) {
                if (m.content_length > BODY_MAX)
                        return fail(w, OUTAGE_HTTP, -E2BIG, "the table is over %d MiB",
                                    BODY_MAX / (1024 * 1024));
                mode = B_LENGTH;
                remaining = m.content_length;
        } else if (m.status == 204 || m.status == 304) {
                mode = B_LENGTH;
        } else {
                mode = B_CLOSE;
        }
        /* The head is done with: buf now holds body bytes. */
        const char *p = buf + m.head_len;
        size_t len = n - m.head_len;
        for (;;) {
                if (mode == B_LENGTH) {
                        size_t take = (size_t)MIN((int64_t)len, remaining);
                        r = body_add(w, resp, p, take);
                        if (r < 0)
                                return r;
                        remaining -= (int64_t)take;
                        if (remaining == 0)
                                return 0;
                } else if (mode == B_CLOSE) {
                        r = body_add(w, resp, p, len);
                        if (r < 0)
                                return r;
                } else {
                        while (len > 0 && !dec.done) {
                                size_t off = 0, dlen = 0;
                                ssize_t c = http1_chunked_feed(&dec, p, len, &off, &dlen);
                                if (c < 0)
                                        return fail(w, OUTAGE_HTTP, (int)c,
                                                    "a malformed chunked body (%s)",
                                                    dec.error ? dec.error : "bad chunk");
                                r = body_add(w, resp, p + off, dlen);
                                if (r < 0)
                                        return r;
                                p += c;
                                len -= (size_t)c;
                                if (c == 0 && dlen == 0)
                                        break;
                        }
                        if (dec.done)
                                return 0;
                }
                r = recv_some(w, fd, buf, HEAD_MAX, &len);
                if (r == -ECANCELED)
                        return r;
                if (r < 0)
                        return fail(w, OUTAGE_NET, r, "reading the table: %s", strerror(-r));
                if (len == 0) {
                        if (mode == B_CLOSE)
                                return 0;
                        return fail(w, OUTAGE_NET, -ECONNRESET,
                                    "the connection closed in the middle of the table");
                }
                p = buf;
        }
}

static int fetch(struct watcher *w, struct response *resp)
{
        _cleanup_close_ int fd = -EBADF;
        int r = api_connect(w, &fd);
        if (r < 0)
                return r;
        struct strbuf req = STRBUF_INIT;
        r = strbuf_addf(&req, "GET %s/router/table", w->url.prefix);
        if (r == 0 && !w->fresh)
                r = strbuf_addf(&req, "?since=%" PRIu64, w->version);
        if (r == 0)
                r = strbuf_addf(&req,
                                " HTTP/1.1\r\n"
                                "Host: %s\r\n"
                                "Authorization: Bearer %s\r\n"
                                "User-Agent: pier-router/" PIER_VERSION "\r\n"
                                "Accept: application/json\r\n"
                                "Connection: close\r\n"
                                "\r\n",
                                w->url.authority, w->token);
        if (r == 0)
                r = send_all(w, fd, req.buf, req.len);
        if (req.buf)
                explicit_bzero(req.buf, req.len);
        strbuf_release(&req);
        if (r == -ECANCELED)
                return r;
        if (r == -ENOMEM)
                return fail(w, OUTAGE_LOCAL, r, "out of memory");
        if (r < 0)
                return fail(w, OUTAGE_NET, r, "sending the request: %s", strerror(-r));
        return read_response(w, fd, resp);
}

/* ---- the watch --------------------------------------------------------- */

/* One request and what follows from its answer: 1 when a new table went
 * out, 0 when pierd sent the same one again, else < 0 with w->err /
 * w->err_kind set, or -ECANCELED. */
static int step(struct watcher *w)
{
        struct response resp = {.body = STRBUF_INIT};
        struct table *t = NULL;
        const char *why = NULL;
        int r;
        if (!w->token) {
                r = watch_read_token(w->cfg->token_path, &w->token);
                if (r < 0)
                        return fail(w, OUTAGE_AUTH, r,
                                    "reading the token file %s: %s; retrying every %d s",
                                    w->cfg->token_path,
                                    r == -EINVAL ? "it holds no single token" : strerror(-r),
                                    (int)(AUTH_RETRY / USEC_PER_SEC));
        }
        r = fetch(w, &resp);
        if (r < 0)
                goto out;
        if (resp.status == 401 || resp.status == 403) {
                r = fail(w, OUTAGE_AUTH, -EACCES,
                         "pierd at %s refused the token in %s (HTTP %d %s): put a valid API "
                         "token there (pier authorizations:create -s read makes one); the file "
                         "is read again at each try, every %d s",
                         w->cfg->url, w->cfg->token_path, resp.status, resp.reason,
                         (int)(AUTH_RETRY / USEC_PER_SEC));
                goto out;
        }
        if (resp.status != 200) {
                r = fail(w, OUTAGE_HTTP, -EIO, "HTTP %d %s%s", resp.status, resp.reason,
                         resp.status == 404 ? " (is --api the address of pierd's API?)" : "");
                goto out;
        }
        r = table_parse(resp.body.buf ? resp.body.buf : "", resp.body.len, w->cfg->domain, &t,
                        &why);
        if (r < 0) {
                r = fail(w, r == -ENOMEM ? OUTAGE_LOCAL : OUTAGE_TABLE, r,
                         "a table the router cannot load (%s)", why ? why : "invalid");
                goto out;
        }
        char digest[65];
        bool changed;
        sha256_hex(resp.body.buf, resp.body.len, digest);
        changed = !w->published || !streq(digest, w->digest);
        if (changed) {
                r = watch_publish(w->cfg->table_path, resp.body.buf, resp.body.len);
                if (r < 0) {
                        r = fail(w, OUTAGE_LOCAL, r, "writing the table to %s: %s",
                                 w->cfg->table_path, strerror(-r));
                        goto out;
                }
                memcpy(w->digest, digest, sizeof(digest));
        }
        w->version = table_version(t);
        w->fresh = false;
        if (w->outage != OUTAGE_NONE)
                log_info("reconnected to pierd at %s: table version %" PRIu64 ", %zu apps",
                         w->cfg->url, w->version, table_n_apps(t));
        else if (!w->published)
                log_info("following pierd at %s: table version %" PRIu64 ", %zu apps", w->cfg->url,
                         w->version, table_n_apps(t));
        w->published = true;
        w->outage = OUTAGE_NONE;
        w->backoff = BACKOFF_MIN;
        r = changed;
out:
        table_unref(t);
        strbuf_release(&resp.body);
        return r;
}

/* An attempt failed: log it if it starts an outage (or changes its kind),
 * and say how long to wait. */
static int64_t outage(struct watcher *w)
{
        if (w->err_kind != w->outage) {
                if (w->err_kind == OUTAGE_AUTH)
                        log_error("%s", w->err);
                else
                        log_full_errno(w->err_kind == OUTAGE_NET ? LOG_WARNING : LOG_ERR, 0,
                                       "pierd at %s: %s; keeping the %s table, retrying until "
                                       "it is back",
                                       w->cfg->url, w->err, w->published ? "last" : "empty");
        }
        if (w->outage == OUTAGE_NONE)
                w->backoff = BACKOFF_MIN;
        w->outage = w->err_kind;
        w->fresh = true;
        if (w->outage == OUTAGE_AUTH)
                return AUTH_RETRY;
        int64_t d = w->backoff;
        w->backoff = MIN(w->backoff * 2, BACKOFF_MAX);
        return d;
}

static void token_reread(struct watcher *w, bool quiet)
{
        char *t = NULL;
        int r = watch_read_token(w->cfg->token_path, &t);
        if (r < 0) {
                if (quiet || !w->token)
                        return; /* step() says why when it needs the token */
                if (r == -EINVAL)
                        log_error("token file %s holds no single token; keeping the one read "
                                  "before",
                                  w->cfg->token_path);
                else
                        log_error_errno(r,
                                        "reading the token file %s: %m; keeping the token "
                                        "read before",
                                        w->cfg->token_path);
                return;
        }
        token_free(w->token);
        w->token = t;
}

/* SIGHUP: the operator fixed the token, or wants a fresh start. */
static void hup(struct watcher *w)
{
        w->hup = false;
        token_reread(w, false);
        w->fresh = true;
        w->backoff = BACKOFF_MIN;
}

int watch_run(const struct watch_config *cfg)
{
        struct watcher w = {.cfg = cfg, .sigfd = -1, .fresh = true, .backoff = BACKOFF_MIN};
        const char *why = NULL;
        int r;

        if (url_parse(cfg->url, &w.url, &why) < 0) {
                log_error("--api %s: %s", cfg->url, why);
                return 2;
        }
        sigset_t mask;
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        w.sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
        if (w.sigfd < 0) {
                log_error_errno(errno, "signalfd: %m");
                return 1;
        }

        while (!w.stop) {
                int64_t asked = mono_usec();
                bool was_fresh = w.fresh;
                r = step(&w);
                if (w.stop)
                        break;
                if (w.hup) {
                        hup(&w);
                        continue;
                }
                int64_t delay = 0;
                if (r < 0)
                        delay = outage(&w);
                else if (r == 0 && !was_fresh && mono_usec() - asked < BACKOFF_MIN)
                        /* the same table again at once: a proxy that does
                         * not hold long-polls must not make us spin */
                        delay = BACKOFF_MIN;
                if (delay > 0 && wait_fd(&w, -1, 0, mono_usec() + delay) == -ECANCELED) {
                        if (w.stop)
                                break;
                        hup(&w);
                        continue;
                }
                if (w.outage == OUTAGE_AUTH)
                        token_reread(&w, true);
        }
        token_free(w.token);
        close(w.sigfd);
        return 0;
}
