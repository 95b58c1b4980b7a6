/* Log drains at run time: see drains.h. */
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "lib/drainurl.h"
#include "lib/log.h"
#include "lib/rand.h"
#include "lib/strbuf.h"
#include "lib/timefmt.h"
#include "lib/util.h"
#include "pierd/drains.h"

#define BACKOFF_MIN_MS   500            /* the first retry */
#define BACKOFF_MAX_MS   (30 * 1000)    /* the longest wait between retries */
#define RESOLVE_POLL_MS  10             /* how often an async lookup is checked */
#define RESOLVE_TIMEOUT_MS (10 * 1000)
#define CONNECT_TIMEOUT_MS (10 * 1000)  /* TCP connect and TLS handshake */
#define SYSLOG_OUT_MAX   (64 * 1024)    /* frames buffered per connection */
/* logplex: "a batch is at most ~100 KiB" (SPEC §6); one frame may go over
 * it by at most one line. */
#define BATCH_MAX        (100 * 1024)
#define HTTP_TIMEOUT_MS  (30 * 1000)
#define FLUSH_POLL_MS    10             /* at shutdown: is everything sent? */
/* RFC 5424: <PRI>VERSION; 190 = local7.info, as Heroku's logplex sends. */
#define SYSLOG_HEAD      "<190>1 "

enum sink_state {
        S_WAIT,      /* backing off, or nothing to do yet */
        S_RESOLVING, /* getaddrinfo_a running */
        S_CONNECTING,
        S_HANDSHAKE, /* TLS */
        S_UP,
};

/* An async name lookup: one allocation that may outlive its sink when
 * glibc cannot cancel it (then it waits on the manager's orphan list). */
struct lookup {
        struct gaicb cb;
        struct addrinfo hints;
        char name[DRAINURL_HOST_MAX + 1];
        char service[8];
        struct lookup *next;
};

struct sink {
        struct drains *m;
        struct sink *prev, *next;
        char id[37], app_id[37], token[39];
        char *url;
        char *label; /* "d.TOKEN (scheme://host:port)": no credentials, for logs */
        struct drainurl u;
        struct loghub_consumer *consumer;
        struct loop_timer *kick;  /* pump soon (from the hub's notify) */
        struct loop_timer *timer; /* back-off, lookup polls, connect timeout */
        unsigned backoff_ms;
        bool down_logged; /* a failure was logged: say when it works again */
        struct logline *held; /* pulled, did not fit the current batch */

        /* syslog */
        enum sink_state state;
        struct lookup *lookup;
        uint64_t lookup_deadline;
        struct addrinfo *addrs, *addr; /* the lookup's result, the one tried */
        int fd;
        struct loop_io *io;
        SSL *ssl;
        struct strbuf out; /* frames; the first out_off bytes were sent */
        size_t out_off;

        /* http */
        CURL *easy;
        struct curl_slist *headers;
        struct strbuf body;
        size_t body_count;
        char frame_id[37];
        bool in_flight, retry_due, rejected_logged;
        char errbuf[CURL_ERROR_SIZE];
};

struct drains {
        struct loop *loop;
        struct loghub *hub;
        char *ca_file;
        SSL_CTX *tls;
        CURLM *multi;
        struct loop_timer *curl_timer;
        struct sink *sinks;
        struct lookup *orphans;
};

static void pump(struct sink *s);
static void syslog_start(struct sink *s);
static void syslog_close(struct sink *s);
static void http_send(struct sink *s);

static bool is_syslog(const struct sink *s)
{
        return s->u.scheme == DRAIN_SYSLOG || s->u.scheme == DRAIN_SYSLOG_TLS;
}

static uint64_t after_ms(unsigned ms)
{
        return (uint64_t)mono_usec() + (uint64_t)ms * 1000;
}

/* ---- frames ---- */

/* One octet-counted RFC 5424 frame: "LEN <190>1 TS HOST APP PROC - - MSG".
 * TS is the line's own stamp, HOST the drain token (syslog) or "host"
 * (logplex over HTTPS, as Heroku sends). */
static int frame_add(struct strbuf *sb, const struct logline *l, const char *host)
{
        const char *sp = memchr(l->text, ' ', l->text_len);
        size_t ts_len = sp ? (size_t)(sp - l->text) : 0;
        char ts[40];
        if (ts_len == 0 || ts_len >= sizeof(ts)) {
                time_rfc3339_usec(l->usec, ts);
                ts_len = strlen(ts);
        } else
                memcpy(ts, l->text, ts_len);
        const char *src = l->source_len ? l->source : "-";
        size_t src_len = l->source_len ? l->source_len : 1;
        const char *proc = l->proc_len ? l->proc : "-";
        size_t proc_len = l->proc_len ? l->proc_len : 1;
        size_t host_len = strlen(host);
        size_t len = strlen(SYSLOG_HEAD) + ts_len + 1 + host_len + 1 + src_len + 1 + proc_len +
                     strlen(" - - ") + l->msg_len;
        size_t before = sb->len;
        int r = strbuf_addf(sb, "%zu " SYSLOG_HEAD, len);
        if (r >= 0)
                r = strbuf_add(sb, ts, ts_len);
        if (r >= 0)
                r = strbuf_addch(sb, ' ');
        if (r >= 0)
                r = strbuf_add(sb, host, host_len);
        if (r >= 0)
                r = strbuf_addch(sb, ' ');
        if (r >= 0)
                r = strbuf_add(sb, src, src_len);
        if (r >= 0)
                r = strbuf_addch(sb, ' ');
        if (r >= 0)
                r = strbuf_add(sb, proc, proc_len);
        if (r >= 0)
                r = strbuf_addstr(sb, " - - ");
        if (r >= 0)
                r = strbuf_add(sb, l->msg, l->msg_len);
        if (r < 0) {
                /* Leave no half frame behind. */
                sb->len = before;
                if (sb->buf)
                        sb->buf[before] = '\0';
        }
        return r;
}

/* Drops the frames at the start of sb that were sent whole (the first
 * `sent` bytes); a frame sent in part stays, to go again whole on the
 * next connection. */
static void frames_drop_sent(struct strbuf *sb, size_t sent)
{
        size_t pos = 0;
        while (pos < sb->len) {
                size_t n = 0, i = pos;
                while (i < sb->len && sb->buf[i] >= '0' && sb->buf[i] <= '9')
                        n = n * 10 + (size_t)(sb->buf[i++] - '0');
                size_t end = i + 1 + n;
                if (end > sent)
                        break;
                pos = end;
        }
        memmove(sb->buf, sb->buf + pos, sb->len - pos);
        sb->len -= pos;
        sb->buf[sb->len] = '\0';
}

/* ---- a drain's life ---- */

static void sink_failed(struct sink *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Something went wrong: log it once per outage, try again after the
 * back-off. */
static void sink_failed(struct sink *s, const char *fmt, ...)
{
        if (!s->down_logged) {
                char msg[512];
                va_list ap;
                va_start(ap, fmt);
                vsnprintf(msg, sizeof(msg), fmt, ap);
                va_end(ap);
                log_warning("drain %s: %s; retrying with back-off", s->label, msg);
                s->down_logged = true;
        }
        loop_timer_set(s->timer, after_ms(s->backoff_ms));
        s->backoff_ms = MIN(s->backoff_ms * 2, (unsigned)BACKOFF_MAX_MS);
}

static void sink_works(struct sink *s)
{
        if (s->down_logged)
                log_info("drain %s: delivering again", s->label);
        s->down_logged = false;
        s->backoff_ms = BACKOFF_MIN_MS;
}

static void lookup_cancel(struct drains *m, struct lookup *lk)
{
        if (!lk)
                return;
        int r = gai_cancel(&lk->cb);
        if (r == EAI_NOTCANCELED) {
                /* Still running in glibc's thread: it writes into lk. */
                lk->next = m->orphans;
                m->orphans = lk;
                return;
        }
        if (lk->cb.ar_result)
                freeaddrinfo(lk->cb.ar_result);
        free(lk);
}

/* Orphaned lookups that finished meanwhile. */
static void orphans_reap(struct drains *m, bool wait)
{
        for (struct lookup **p = &m->orphans; *p;) {
                struct lookup *lk = *p;
                if (wait) {
                        const struct gaicb *list[1] = {&lk->cb};
                        struct timespec ts = {.tv_sec = 5};
                        (void)gai_suspend(list, 1, &ts);
                }
                if (gai_error(&lk->cb) == EAI_INPROGRESS) {
                        p = &lk->next;
                        continue;
                }
                *p = lk->next;
                if (lk->cb.ar_result)
                        freeaddrinfo(lk->cb.ar_result);
                free(lk);
        }
}

static void sink_free(struct sink *s)
{
        if (!s)
                return;
        struct drains *m = s->m;
        if (s->prev)
                s->prev->next = s->next;
        else if (m->sinks == s)
                m->sinks = s->next;
        if (s->next)
                s->next->prev = s->prev;
        syslog_close(s);
        lookup_cancel(m, s->lookup);
        if (s->addrs)
                freeaddrinfo(s->addrs);
        if (s->easy) {
                if (s->in_flight)
                        curl_multi_remove_handle(m->multi, s->easy);
                curl_easy_cleanup(s->easy);
        }
        curl_slist_free_all(s->headers);
        strbuf_release(&s->out);
        strbuf_release(&s->body);
        logline_unref(s->held);
        loghub_consumer_free(s->consumer);
        loop_timer_free(s->kick);
        loop_timer_free(s->timer);
        free(s->url);
        free(s->label);
        free(s);
}

/* The hub has a line for us: read it from the loop, not from inside
 * loghub_append(). */
static void on_notify(void *ud)
{
        struct sink *s = ud;
        loop_timer_set(s->kick, 0);
}

static void on_kick(struct loop_timer *t, void *ud)
{
        pump(ud);
}

static void on_timer(struct loop_timer *t, void *ud)
{
        struct sink *s = ud;
        if (is_syslog(s)) {
                switch (s->state) {
                case S_WAIT:
                        syslog_start(s);
                        break;
                case S_RESOLVING:
                        syslog_start(s); /* polls the lookup */
                        break;
                case S_CONNECTING:
                case S_HANDSHAKE:
                        syslog_close(s);
                        sink_failed(s, "no connection within %d s", CONNECT_TIMEOUT_MS / 1000);
                        break;
                case S_UP:
                        break;
                }
                return;
        }
        /* http: the back-off is over, the same batch goes again */
        s->retry_due = false;
        http_send(s);
}

/* ---- syslog over TCP and TLS ---- */

static void syslog_close(struct sink *s)
{
        if (s->ssl) {
                SSL_free(s->ssl);
                s->ssl = NULL;
        }
        loop_io_free(s->io);
        s->io = NULL;
        if (s->fd >= 0)
                close(s->fd);
        s->fd = -1;
        if (s->out_off > 0) {
                frames_drop_sent(&s->out, s->out_off);
                s->out_off = 0;
        }
        s->state = S_WAIT;
}

static const char *tls_error(struct sink *s, char *buf, size_t size)
{
        long v = s->ssl ? SSL_get_verify_result(s->ssl) : X509_V_OK;
        if (v != X509_V_OK) {
                snprintf(buf, size, "the certificate was refused: %s",
                         X509_verify_cert_error_string(v));
                return buf;
        }
        unsigned long e = ERR_get_error();
        if (e == 0)
                return "the connection was closed";
        ERR_error_string_n(e, buf, size);
        ERR_clear_error();
        return buf;
}

static void syslog_lost(struct sink *s, const char *what)
{
        syslog_close(s);
        sink_failed(s, "%s", what);
}

static void syslog_set_events(struct sink *s, uint32_t ev)
{
        if (s->io)
                (void)loop_io_set_events(s->io, ev);
}

/* Writes what is buffered; false when the connection was lost. */
static bool syslog_flush(struct sink *s)
{
        while (s->out_off < s->out.len) {
                size_t n = s->out.len - s->out_off;
                const char *p = s->out.buf + s->out_off;
                if (s->ssl) {
                        ERR_clear_error();
                        int w = SSL_write(s->ssl, p, (int)MIN(n, (size_t)INT32_MAX));
                        if (w <= 0) {
                                int e = SSL_get_error(s->ssl, w);
                                if (e == SSL_ERROR_WANT_WRITE) {
                                        syslog_set_events(s, EPOLLIN | EPOLLOUT);
                                        return true;
                                }
                                if (e == SSL_ERROR_WANT_READ) {
                                        syslog_set_events(s, EPOLLIN);
                                        return true;
                                }
                                char buf[256];
                                syslog_lost(s, tls_error(s, buf, sizeof(buf)));
                                return false;
                        }
                        s->out_off += (size_t)w;
                } else {
                        ssize_t w = send(s->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
                        if (w < 0) {
                                if (errno == EAGAIN || errno == EINTR) {
                                        syslog_set_events(s, EPOLLIN | EPOLLOUT);
                                        return true;
                                }
                                char buf[128];
                                snprintf(buf, sizeof(buf), "sending: %s", strerror(errno));
                                syslog_lost(s, buf);
                                return false;
                        }
                        s->out_off += (size_t)w;
                }
        }
        strbuf_reset(&s->out);
        s->out_off = 0;
        syslog_set_events(s, EPOLLIN);
        return true;
}

static void syslog_pump(struct sink *s, bool *ended)
{
        /* Lines wait in the hub's queue for us while we are not up. */
        while (s->state == S_UP) {
                while (s->out.len - s->out_off < SYSLOG_OUT_MAX) {
                        struct logline *l = loghub_next(s->consumer, ended);
                        if (!l)
                                break;
                        (void)frame_add(&s->out, l, s->token);
                        logline_unref(l);
                }
                size_t before = s->out.len;
                if (!syslog_flush(s) || *ended)
                        return;
                /* All of it went and the queue may have more: go on;
                 * else wait for EPOLLOUT or the hub's notify. */
                if (s->out.len != 0 || before == 0)
                        return;
        }
}

static void syslog_up(struct sink *s)
{
        s->state = S_UP;
        loop_timer_disable(s->timer);
        sink_works(s);
        syslog_set_events(s, EPOLLIN);
        pump(s);
}

static void syslog_handshake(struct sink *s)
{
        ERR_clear_error();
        int r = SSL_do_handshake(s->ssl);
        if (r == 1) {
                syslog_up(s);
                return;
        }
        int e = SSL_get_error(s->ssl, r);
        if (e == SSL_ERROR_WANT_READ)
                syslog_set_events(s, EPOLLIN);
        else if (e == SSL_ERROR_WANT_WRITE)
                syslog_set_events(s, EPOLLOUT);
        else {
                char buf[256], msg[640];
                snprintf(msg, sizeof(msg), "TLS handshake with %s:%u failed: %s", s->u.host,
                         s->u.port, tls_error(s, buf, sizeof(buf)));
                syslog_lost(s, msg);
        }
}

static void syslog_connected(struct sink *s)
{
        if (s->u.scheme != DRAIN_SYSLOG_TLS) {
                syslog_up(s);
                return;
        }
        s->ssl = SSL_new(s->m->tls);
        if (!s->ssl || SSL_set_fd(s->ssl, s->fd) != 1) {
                syslog_lost(s, "out of memory for TLS");
                return;
        }
        /* Check the certificate names this host (or IP address). */
        bool ok;
        if (s->u.host_is_ip)
                ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(s->ssl), s->u.host) == 1;
        else
                ok = SSL_set_tlsext_host_name(s->ssl, s->u.host) == 1 &&
                     SSL_set1_host(s->ssl, s->u.host) == 1;
        if (!ok) {
                syslog_lost(s, "setting up TLS failed");
                return;
        }
        SSL_set_connect_state(s->ssl);
        s->state = S_HANDSHAKE;
        syslog_handshake(s);
}

static void syslog_try_next(struct sink *s, const char *why);

static void on_syslog_io(struct loop_io *io, int fd, uint32_t ev, void *ud)
{
        struct sink *s = ud;
        switch (s->state) {
        case S_CONNECTING: {
                int err = 0;
                socklen_t len = sizeof(err);
                if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
                        err = errno;
                if (err == 0 && !(ev & (EPOLLERR | EPOLLHUP))) {
                        syslog_connected(s);
                        return;
                }
                char buf[512];
                snprintf(buf, sizeof(buf), "connecting to %s:%u: %s", s->u.host, s->u.port,
                         strerror(err ? err : ECONNREFUSED));
                syslog_try_next(s, buf);
                return;
        }
        case S_HANDSHAKE:
                syslog_handshake(s);
                return;
        case S_UP:
                break;
        default:
                return;
        }
        if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
                /* A syslog receiver says nothing: anything readable is the
                 * end of the connection (or bytes we drop). */
                char buf[512];
                if (s->ssl) {
                        ERR_clear_error();
                        int n = SSL_read(s->ssl, buf, sizeof(buf));
                        if (n <= 0) {
                                int e = SSL_get_error(s->ssl, n);
                                if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
                                        char eb[256];
                                        syslog_lost(s, e == SSL_ERROR_ZERO_RETURN
                                                               ? "the receiver closed the connection"
                                                               : tls_error(s, eb, sizeof(eb)));
                                        return;
                                }
                        }
                } else {
                        ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
                        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
                                syslog_lost(s, n == 0 ? "the receiver closed the connection"
                                                      : strerror(errno));
                                return;
                        }
                }
        }
        pump(s);
}

/* Connects to s->addr, or the next address after a failure. */
static void syslog_connect(struct sink *s)
{
        for (; s->addr; s->addr = s->addr->ai_next) {
                const struct addrinfo *a = s->addr;
                int fd = socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
                if (fd < 0)
                        continue;
                if (connect(fd, a->ai_addr, a->ai_addrlen) < 0 && errno != EINPROGRESS) {
                        close(fd);
                        continue;
                }
                s->fd = fd;
                if (loop_add_io(s->m->loop, fd, EPOLLOUT, on_syslog_io, s, &s->io) < 0) {
                        syslog_close(s);
                        continue;
                }
                s->state = S_CONNECTING;
                loop_timer_set(s->timer, after_ms(CONNECT_TIMEOUT_MS));
                return;
        }
        if (s->addrs) {
                freeaddrinfo(s->addrs);
                s->addrs = NULL;
        }
        s->state = S_WAIT;
        sink_failed(s, "cannot connect to %s:%u", s->u.host, s->u.port);
}

static void syslog_try_next(struct sink *s, const char *why)
{
        syslog_close(s);
        if (s->addr)
                s->addr = s->addr->ai_next;
        if (s->addr) {
                syslog_connect(s);
                return;
        }
        if (s->addrs) {
                freeaddrinfo(s->addrs);
                s->addrs = NULL;
        }
        sink_failed(s, "%s", why);
}

/* From S_WAIT: look the host up (or poll the lookup), then connect. */
static void syslog_start(struct sink *s)
{
        if (s->addrs) {
                freeaddrinfo(s->addrs);
                s->addrs = NULL;
        }
        if (s->u.host_is_ip) {
                struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
                                         .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV};
                char port[8];
                snprintf(port, sizeof(port), "%u", s->u.port);
                int r = getaddrinfo(s->u.host, port, &hints, &s->addrs);
                if (r != 0) {
                        s->addrs = NULL;
                        sink_failed(s, "%s: %s", s->u.host, gai_strerror(r));
                        return;
                }
                s->addr = s->addrs;
                syslog_connect(s);
                return;
        }
        if (!s->lookup) {
                struct lookup *lk = calloc(1, sizeof(*lk));
                if (!lk) {
                        sink_failed(s, "out of memory");
                        return;
                }
                snprintf(lk->name, sizeof(lk->name), "%s", s->u.host);
                snprintf(lk->service, sizeof(lk->service), "%u", s->u.port);
                lk->hints = (struct addrinfo){.ai_socktype = SOCK_STREAM,
                                              .ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG};
                lk->cb.ar_name = lk->name;
                lk->cb.ar_service = lk->service;
                lk->cb.ar_request = &lk->hints;
                struct gaicb *list[1] = {&lk->cb};
                struct sigevent sev = {.sigev_notify = SIGEV_NONE};
                int r = getaddrinfo_a(GAI_NOWAIT, list, 1, &sev);
                if (r != 0) {
                        free(lk);
                        sink_failed(s, "looking up %s: %s", s->u.host, gai_strerror(r));
                        return;
                }
                s->lookup = lk;
                s->lookup_deadline = after_ms(RESOLVE_TIMEOUT_MS);
                s->state = S_RESOLVING;
                loop_timer_set(s->timer, after_ms(RESOLVE_POLL_MS));
                return;
        }
        int r = gai_error(&s->lookup->cb);
        if (r == EAI_INPROGRESS) {
                if ((uint64_t)mono_usec() >= s->lookup_deadline) {
                        lookup_cancel(s->m, TAKE_PTR(s->lookup));
                        s->state = S_WAIT;
                        sink_failed(s, "looking up %s: no answer within %d s", s->u.host,
                                    RESOLVE_TIMEOUT_MS / 1000);
                        return;
                }
                loop_timer_set(s->timer, after_ms(RESOLVE_POLL_MS));
                orphans_reap(s->m, false);
                return;
        }
        struct lookup *lk = TAKE_PTR(s->lookup);
        s->state = S_WAIT;
        if (r != 0) {
                if (lk->cb.ar_result)
                        freeaddrinfo(lk->cb.ar_result);
                free(lk);
                sink_failed(s, "looking up %s: %s", s->u.host, gai_strerror(r));
                return;
        }
        s->addrs = lk->cb.ar_result;
        s->addr = s->addrs;
        free(lk);
        syslog_connect(s);
}

/* ---- logplex-1 over HTTP(S) ---- */

static size_t discard_body(char *p, size_t size, size_t n, void *ud)
{
        return size * n; /* the answer's body says nothing we use */
}

static int http_setup(struct sink *s)
{
        s->easy = curl_easy_init();
        if (!s->easy)
                return -ENOMEM;
        CURL *e = s->easy;
        int bad = 0;
        bad |= curl_easy_setopt(e, CURLOPT_URL, s->url);
        bad |= curl_easy_setopt(e, CURLOPT_PRIVATE, s);
        /* Only the scheme the user gave: no redirects, no other protocol. */
        bad |= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR,
                                s->u.scheme == DRAIN_HTTPS ? "https" : "http");
        bad |= curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
        bad |= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
        bad |= curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)HTTP_TIMEOUT_MS);
        bad |= curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)CONNECT_TIMEOUT_MS);
        bad |= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard_body);
        bad |= curl_easy_setopt(e, CURLOPT_ERRORBUFFER, s->errbuf);
        bad |= curl_easy_setopt(e, CURLOPT_USERAGENT, "pier-logplex/" PIER_VERSION);
        bad |= curl_easy_setopt(e, CURLOPT_POST, 1L);
        if (s->m->ca_file)
                bad |= curl_easy_setopt(e, CURLOPT_CAINFO, s->m->ca_file);
        return bad ? -EINVAL : 0;
}

static void http_send(struct sink *s)
{
        char count[64], frame[64], token[64];
        snprintf(count, sizeof(count), "Logplex-Msg-Count: %zu", s->body_count);
        snprintf(frame, sizeof(frame), "Logplex-Frame-Id: %s", s->frame_id);
        snprintf(token, sizeof(token), "Logplex-Drain-Token: %s", s->token);
        curl_slist_free_all(TAKE_PTR(s->headers));
        const char *h[] = {"Content-Type: application/logplex-1", count, frame, token,
                           "Expect:"};
        for (size_t i = 0; i < ELEMENTSOF(h); i++) {
                struct curl_slist *n = curl_slist_append(s->headers, h[i]);
                if (!n) {
                        sink_failed(s, "out of memory");
                        s->retry_due = true;
                        return;
                }
                s->headers = n;
        }
        s->errbuf[0] = '\0';
        if (curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, s->headers) != CURLE_OK ||
            curl_easy_setopt(s->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)s->body.len) !=
                    CURLE_OK ||
            curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, s->body.buf) != CURLE_OK ||
            curl_multi_add_handle(s->m->multi, s->easy) != CURLM_OK) {
                sink_failed(s, "libcurl refused the request");
                s->retry_due = true;
                return;
        }
        s->in_flight = true;
}

static void batch_done(struct sink *s)
{
        strbuf_reset(&s->body);
        s->body_count = 0;
}

/* A POST ended: 2xx delivered; 4xx but 429 the drain will never take
 * (dropped); anything else goes again after the back-off. */
static void http_done(struct sink *s, CURLcode res)
{
        long status = 0;
        curl_multi_remove_handle(s->m->multi, s->easy);
        s->in_flight = false;
        if (res == CURLE_OK)
                curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
        if (res == CURLE_OK && status >= 200 && status < 300) {
                sink_works(s);
                s->rejected_logged = false;
                batch_done(s);
                loop_timer_set(s->kick, 0);
                return;
        }
        if (res == CURLE_OK && status >= 400 && status < 500 && status != 429) {
                if (!s->rejected_logged)
                        log_warning("drain %s: answered %ld; dropping the %zu lines of each "
                                    "batch it refuses",
                                    s->label, status, s->body_count);
                s->rejected_logged = true;
                batch_done(s);
                loop_timer_set(s->kick, 0);
                return;
        }
        s->retry_due = true;
        if (res != CURLE_OK)
                sink_failed(s, "%s", s->errbuf[0] ? s->errbuf : curl_easy_strerror(res));
        else
                sink_failed(s, "answered %ld", status);
}

static void http_pump(struct sink *s, bool *ended)
{
        if (s->in_flight || s->retry_due || s->body_count > 0)
                return;
        while (s->body.len < BATCH_MAX) {
                struct logline *l = TAKE_PTR(s->held);
                if (!l)
                        l = loghub_next(s->consumer, ended);
                if (!l)
                        break;
                size_t before = s->body.len;
                if (frame_add(&s->body, l, "host") < 0) {
                        logline_unref(l);
                        break;
                }
                if (s->body.len > BATCH_MAX && s->body_count > 0) {
                        /* It goes first in the next batch. */
                        s->body.len = before;
                        s->body.buf[before] = '\0';
                        s->held = l;
                        break;
                }
                logline_unref(l);
                s->body_count++;
        }
        if (s->body_count == 0)
                return;
        /* The same id on every retry of this batch: receivers drop
         * duplicates by it. */
        if (uuid_v4(s->frame_id) < 0)
                snprintf(s->frame_id, sizeof(s->frame_id), "%" PRId64, now_usec());
        http_send(s);
}

/* libcurl's multi interface on the pierd loop. */
static void curl_check(struct drains *m)
{
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(m->multi, &left))) {
                if (msg->msg != CURLMSG_DONE)
                        continue;
                struct sink *s = NULL;
                curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&s);
                if (s)
                        http_done(s, msg->data.result);
        }
}

static void on_curl_io(struct loop_io *io, int fd, uint32_t ev, void *ud)
{
        struct drains *m = ud;
        int flags = 0, running;
        if (ev & EPOLLIN)
                flags |= CURL_CSELECT_IN;
        if (ev & EPOLLOUT)
                flags |= CURL_CSELECT_OUT;
        if (ev & (EPOLLERR | EPOLLHUP))
                flags |= CURL_CSELECT_ERR;
        curl_multi_socket_action(m->multi, fd, flags, &running);
        curl_check(m);
}

static int curl_socket_cb(CURL *e, curl_socket_t fd, int what, void *ud, void *socketp)
{
        struct drains *m = ud;
        struct loop_io *io = socketp;
        if (what == CURL_POLL_REMOVE) {
                loop_io_free(io);
                curl_multi_assign(m->multi, fd, NULL);
                return 0;
        }
        uint32_t ev = (what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0);
        if (io)
                return loop_io_set_events(io, ev) < 0 ? -1 : 0;
        if (loop_add_io(m->loop, fd, ev, on_curl_io, m, &io) < 0)
                return -1;
        curl_multi_assign(m->multi, fd, io);
        return 0;
}

static int curl_timer_cb(CURLM *multi, long timeout_ms, void *ud)
{
        struct drains *m = ud;
        if (timeout_ms < 0)
                loop_timer_disable(m->curl_timer);
        else
                loop_timer_set(m->curl_timer, after_ms((unsigned)MIN(timeout_ms, 86400000L)));
        return 0;
}

static void on_curl_timer(struct loop_timer *t, void *ud)
{
        struct drains *m = ud;
        int running;
        curl_multi_socket_action(m->multi, CURL_SOCKET_TIMEOUT, 0, &running);
        curl_check(m);
}

/* ---- the pump ---- */

/* Moves the lines waiting in the hub towards the drain. */
static void pump(struct sink *s)
{
        bool ended = false;
        if (is_syslog(s))
                syslog_pump(s, &ended);
        else
                http_pump(s, &ended);
        /* Not reading now (down, or a batch is out)?  The hub keeps the
         * lines, and notifies again only once we read it empty. */
        if (!ended)
                return;
        log_info("drain %s: the app is gone, drain stopped", s->label);
        sink_free(s);
}

/* ---- the manager ---- */

static int make_label(struct sink *s)
{
        static const char *const names[] = {
                [DRAIN_SYSLOG] = "syslog",
                [DRAIN_SYSLOG_TLS] = "syslog+tls",
                [DRAIN_HTTP] = "http",
                [DRAIN_HTTPS] = "https",
        };
        bool v6 = strchr(s->u.host, ':') != NULL;
        return asprintf(&s->label, "%s (%s://%s%s%s:%u)", s->token, names[s->u.scheme],
                        v6 ? "[" : "", s->u.host, v6 ? "]" : "", s->u.port) < 0
                       ? -ENOMEM
                       : 0;
}

int drains_add(struct drains *m, const struct drain *d)
{
        const char *why = NULL;
        struct drainurl u;
        if (drainurl_parse(d->url, strlen(d->url), &u, &why) < 0) {
                log_error("drain %s of app %s: %s (%s); not started", d->token, d->app_id,
                          why, DRAINURL_RULE);
                return -EINVAL;
        }
        struct sink *s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->m = m;
        s->fd = -1;
        s->u = u;
        s->backoff_ms = BACKOFF_MIN_MS;
        snprintf(s->id, sizeof(s->id), "%s", d->id);
        snprintf(s->app_id, sizeof(s->app_id), "%s", d->app_id);
        snprintf(s->token, sizeof(s->token), "%s", d->token);
        s->next = m->sinks;
        if (m->sinks)
                m->sinks->prev = s;
        m->sinks = s;
        int r = -ENOMEM;
        if (!(s->url = strdup(d->url)) || make_label(s) < 0)
                goto fail;
        if ((r = loop_add_timer(m->loop, 0, on_kick, s, &s->kick)) < 0 ||
            (r = loop_add_timer(m->loop, 0, on_timer, s, &s->timer)) < 0)
                goto fail;
        loop_timer_disable(s->kick);
        loop_timer_disable(s->timer);
        if (!is_syslog(s) && (r = http_setup(s)) < 0)
                goto fail;
        r = loghub_consumer_new(m->hub, s->app_id, DRAINS_QUEUE_LINES, on_notify, s,
                                &s->consumer);
        if (r < 0)
                goto fail;
        if (is_syslog(s))
                syslog_start(s);
        return 0;
fail:
        log_error_errno(r, "starting drain %s: %m", s->label ? s->label : d->token);
        sink_free(s);
        return r;
}

void drains_remove(struct drains *m, const char *drain_id)
{
        for (struct sink *s = m->sinks; s; s = s->next)
                if (streq(s->id, drain_id)) {
                        sink_free(s);
                        return;
                }
}

void drains_app_removed(struct drains *m, const char *app_id)
{
        for (struct sink *s = m->sinks, *next; s; s = next) {
                next = s->next;
                if (streq(s->app_id, app_id))
                        sink_free(s);
        }
}

int drains_new(struct loop *loop, struct loghub *hub, struct store *store,
               const struct drains_config *cfg, struct drains **ret)
{
        struct drains *m = calloc(1, sizeof(*m));
        if (!m)
                return -ENOMEM;
        m->loop = loop;
        m->hub = hub;
        _cleanup_(drain_list_freep) struct drain_list *l = NULL;
        int r = -ENOMEM;
        if (cfg->ca_file && !(m->ca_file = strdup(cfg->ca_file)))
                goto fail;

        m->tls = SSL_CTX_new(TLS_client_method());
        if (!m->tls)
                goto fail;
        SSL_CTX_set_min_proto_version(m->tls, TLS1_2_VERSION);
        SSL_CTX_set_verify(m->tls, SSL_VERIFY_PEER, NULL);
        SSL_CTX_set_mode(m->tls, SSL_MODE_ENABLE_PARTIAL_WRITE |
                                         SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
        if (m->ca_file ? SSL_CTX_load_verify_locations(m->tls, m->ca_file, NULL) != 1
                       : SSL_CTX_set_default_verify_paths(m->tls) != 1) {
                char buf[256];
                ERR_error_string_n(ERR_get_error(), buf, sizeof(buf));
                log_error("loading the drains' CA certificates from %s: %s",
                          m->ca_file ? m->ca_file : "the system's store", buf);
                r = -EINVAL;
                goto fail;
        }

        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
                goto fail;
        m->multi = curl_multi_init();
        if (!m->multi)
                goto fail;
        r = loop_add_timer(loop, 0, on_curl_timer, m, &m->curl_timer);
        if (r < 0)
                goto fail;
        loop_timer_disable(m->curl_timer);
        curl_multi_setopt(m->multi, CURLMOPT_SOCKETFUNCTION, curl_socket_cb);
        curl_multi_setopt(m->multi, CURLMOPT_SOCKETDATA, m);
        curl_multi_setopt(m->multi, CURLMOPT_TIMERFUNCTION, curl_timer_cb);
        curl_multi_setopt(m->multi, CURLMOPT_TIMERDATA, m);

        r = store_drain_list_all(store, &l);
        if (r < 0) {
                log_error_errno(r, "loading the log drains: %m (%s)", store_errmsg(store));
                goto fail;
        }
        for (size_t i = 0; i < l->n; i++)
                (void)drains_add(m, &l->drains[i]); /* logged */
        if (l->n)
                log_info("%zu log drain%s started", l->n, l->n == 1 ? "" : "s");
        *ret = m;
        return 0;
fail:
        drains_free(m);
        return r;
}

/* Lines wait for a sink that is delivering (not backing off or down). */
static bool sink_busy(const struct sink *s)
{
        if (is_syslog(s))
                return s->state == S_UP &&
                       (s->out_off < s->out.len || loghub_pending(s->consumer) > 0);
        return s->in_flight ||
               (!s->retry_due && (s->body_count > 0 || s->held ||
                                  loghub_pending(s->consumer) > 0));
}

static bool drains_busy(const struct drains *m)
{
        for (const struct sink *s = m->sinks; s; s = s->next)
                if (sink_busy(s))
                        return true;
        return false;
}

struct flush {
        struct drains *m;
        uint64_t deadline;
};

static void on_flush_poll(struct loop_timer *t, void *userdata)
{
        struct flush *f = userdata;
        if (!drains_busy(f->m) || (uint64_t)mono_usec() >= f->deadline)
                loop_exit(f->m->loop, 0);
        else
                loop_timer_set(t, after_ms(FLUSH_POLL_MS));
}

void drains_flush(struct drains *m, unsigned ms)
{
        if (!m || !drains_busy(m))
                return;
        struct flush f = {m, after_ms(ms)};
        struct loop_timer *t = NULL;
        if (loop_add_timer(m->loop, after_ms(FLUSH_POLL_MS), on_flush_poll, &f, &t) < 0)
                return;
        for (struct sink *s = m->sinks; s; s = s->next)
                loop_timer_set(s->kick, 0);
        (void)loop_run(m->loop);
        loop_timer_free(t);
        if (drains_busy(m))
                log_warning("drains: lines still waiting after %u ms at shutdown; dropped", ms);
}

struct drains *drains_free(struct drains *m)
{
        if (!m)
                return NULL;
        while (m->sinks)
                sink_free(m->sinks);
        orphans_reap(m, true);
        if (m->multi) {
                curl_multi_cleanup(m->multi);
                curl_global_cleanup();
        }
        loop_timer_free(m->curl_timer);
        SSL_CTX_free(m->tls);
        free(m->ca_file);
        free(m);
        return NULL;
}
