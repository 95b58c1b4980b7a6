/* A router worker: one process, one edge-triggered epoll loop, no locks.
 *
 * Objects
 *   client   one accepted connection and the transaction on it (one at a
 *            time: pipelined requests wait in the client's buffer and are
 *            answered in order).
 *   upconn   a connection to a dyno (127.0.0.1:port); owned by a client
 *            while a request uses it, else idle in the per-port pool.
 *
 * Memory: every connection object and every buffer comes from a free list,
 * so the request path does not call malloc once the worker has warmed up.
 * An idle keep-alive client holds no buffer at all.  Bodies stream through
 * one fixed buffer per direction, with backpressure (we stop reading one
 * side while the other cannot take more), so memory does not grow with
 * body size.
 *
 * Readiness: each socket is registered once with EPOLLIN|EPOLLOUT|EPOLLET;
 * events set the rd/wr flags and the client's state machine runs until it
 * can make no more progress, clearing a flag when a call says EAGAIN (or a
 * read/write comes back short: with edge triggering new data makes a new
 * edge, so the extra EAGAIN call can be skipped).
 *
 * Timeouts: each kind of timeout has a fixed duration, so a FIFO list per
 * kind is already sorted by deadline; arming is an O(1) move to the tail
 * and expiry pops from the head.
 *
 * Queues: a request that must wait for a dyno (the app's web dynos are
 * booting, or all at --dyno-conn-limit) is put on the T_BOOT or T_QUEUE
 * timer list, which is also its app's queue in order of arrival; a freed
 * slot or a new table sets w.kick, and waiters_run() looks at the queue
 * after the batch.  With nobody waiting that costs one test per request.
 *
 * Objects closed while a batch of events is being dispatched are parked on
 * a dead list and recycled after the batch, so later events of the same
 * batch never touch freed memory.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/rand.h"
#include "lib/util.h"
#include "net/http1.h"
#include "router/errors.h"
#include "router/router.h"
#include "router/table.h"

#define BUF_SIZE     16384
#define BODY_BUF_SIZE (64 * 1024) /* a dyno's buffer for a big response body */
#define HEAD_MAX     65536 /* a whole request head; lines are bounded by http1.h */
#define LOGPART_MAX  2560  /* method, path, host, request id, fwd for the access log */
#define OUT_HEAD_MAX (BUF_SIZE - LOGPART_MAX)
#define POOL_MAX     256 /* idle upstream connections per dyno and worker */
#define AVOID_USEC   (2 * 1000000) /* a dyno that refused is skipped this long */
#define LINGER_USEC  (2 * 1000000)
#define LOG_BUF_SIZE (256 * 1024)
/* Free buffers and header arrays are kept for reuse: up to CACHE_MAX of
 * each (a burst's worth), but those not needed during a CACHE_TRIM_USEC
 * stretch go back to the kernel, down to CACHE_MIN.  (A fixed small cache
 * made a 50-connection load mmap() and munmap() a buffer every third
 * request, each with its page faults.) */
#define CACHE_MIN       64 /* 1 MiB of buffers always warm */
#define CACHE_MAX       2048
#define CACHE_TRIM_USEC 250000
#define MAX_EVENTS   256
#define ROUTER_NAME  "pier-router"

enum kind { K_LISTEN, K_CLIENT, K_UP, K_SIGNAL, K_INOTIFY };

struct sock {
        int fd;
        uint8_t kind;
        bool rd, wr, hup;
};

/* T_BOOT and T_QUEUE are also the app queues: a waiting request sits on
 * one of them, in order of arrival (see waiters_run()). */
enum tclass {
        T_HEADER,
        T_KEEPALIVE,
        T_CONNECT,
        T_RESPONSE,
        T_IDLE,
        T_LINGER,
        T_POOL,
        T_BOOT,  /* waiting for a booting web dyno: H20 */
        T_QUEUE, /* waiting for a dyno below its connection limit: H22 */
        _T_MAX,
        T_NONE
};

struct tnode {
        struct tnode *prev, *next;
        int64_t deadline;
        uint8_t cls;
};

struct buf {
        char *p;
        uint32_t cap, r, w;
};

enum pmode { P_NONE, P_LENGTH, P_CHUNKED, P_CLOSE };

/* One direction of a body: which bytes at buf.r may be written on. */
struct pump {
        uint8_t mode;
        bool decode; /* chunked in, plain out (HTTP/1.0 clients) */
        bool done;   /* the whole body has been classified */
        int64_t remaining;
        uint32_t ready;
        struct http1_chunked dec;
};

enum cstate { CS_HEAD, CS_WAIT, CS_CONNECT, CS_PROXY, CS_TUNNEL, CS_RESPOND, CS_LINGER };

struct upconn;

struct client {
        struct sock s; /* first: epoll data points here */
        struct tnode t;
        struct client *prev, *next;
        uint8_t state;
        bool keep;        /* keep the connection after this response */
        bool is_head;     /* HEAD request */
        bool upgrade;     /* asks for an Upgrade */
        bool version10;
        bool req_sent;    /* whole request written to the dyno */
        bool resp_started;
        bool resp_parsed; /* response head parsed and rewritten */
        bool resp_out;    /* some response bytes went to the client */
        bool up_eof;
        bool retried;
        bool counted; /* dyno's in-flight count includes us */
        bool logged;
        bool head_started;
        bool expect; /* 100 Continue is due once the request goes to a dyno */
        uint8_t tried_n;
        struct buf in;  /* bytes from the client */
        struct buf out; /* [log part][head being sent]; r, w delimit the head */
        uint32_t logpart_len;
        struct http1_header *hdrs;
        struct http1_msg msg; /* the request head, then the response head */
        struct pump reqp, resp;
        struct upconn *up;
        struct table *table;
        struct table_app *app;
        const struct table_dyno *dyno;
        uint64_t tried;
        int64_t t_start, t_connect, t_connected;
        uint64_t bytes;
        int status;
        char ip[INET6_ADDRSTRLEN];
};

struct upconn {
        struct sock s;
        struct tnode t;
        struct upconn *pprev, *pnext; /* pool of its port */
        struct upconn *dead_next;
        struct client *c;
        struct buf in;
        uint16_t port;
        bool reused;
        bool pooled;
};

struct dstat {
        uint32_t inflight;
        uint32_t n_idle;
        int64_t avoid_until;
        struct upconn *idle; /* most recently used first */
};

struct freeobj {
        struct freeobj *next;
};

/* Free objects of one size; low: the fewest there were since the last trim
 * (what was not needed meanwhile). */
struct cache {
        struct freeobj *head;
        size_t n, low;
};

static struct worker {
        const struct router_config *cfg;
        int index;
        int epfd;
        struct sock listen, sig, ino;
        int ino_wd;
        const char *table_base;
        struct table *table;
        int64_t now;     /* CLOCK_MONOTONIC, µs, once per batch */
        int64_t now_ms;  /* CLOCK_REALTIME, ms */
        int64_t now_real_us;
        struct tnode timers[_T_MAX];
        int64_t tdur[_T_MAX];
        struct dstat *stats; /* [65536], by port */
        struct cache bufs, hdrs;
        int64_t trimmed; /* when the caches were last trimmed */
        struct freeobj *free_clients, *free_ups;
        struct freeobj *dead_clients; /* closed during this batch */
        struct upconn *dead_ups;
        struct client clients; /* list head */
        size_t n_clients;
        bool draining, accept_paused;
        uint32_t conn_limit; /* per dyno; UINT32_MAX: none */
        size_t n_waiting;    /* requests on the T_BOOT and T_QUEUE lists */
        bool kick;           /* a slot or the table changed: look at the waiters */
        int64_t drain_deadline;
        /* randomness: request ids and dyno choice */
        uint8_t rnd[4096];
        size_t rnd_pos;
        uint64_t xs;
        /* access log */
        int log_fd;
        char *logbuf;
        size_t log_len;
        uint64_t log_dropped;
        int64_t log_flushed; /* when the buffer was last written out */
        char ts_cache[32];
        int64_t ts_sec;
        char port_str[8];
        char scratch[BUF_SIZE];
} w;

/* ---- small helpers ----------------------------------------------------- */

static void now_update(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        w.now = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
        clock_gettime(CLOCK_REALTIME, &ts);
        w.now_real_us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
        w.now_ms = w.now_real_us / 1000;
}

static uint64_t xrand(void)
{
        /* xorshift64*: only to spread load, not a secret */
        w.xs ^= w.xs >> 12;
        w.xs ^= w.xs << 25;
        w.xs ^= w.xs >> 27;
        return w.xs * 0x2545F4914F6CDD1DULL;
}

/* A UUID v4 from the kernel's CSPRNG, fetched 4 KiB at a time (256 ids a
 * getrandom() call instead of one). */
static void request_id_new(char out[static 37])
{
        static const char hex[] = "0123456789abcdef";
        if (w.rnd_pos + 16 > sizeof(w.rnd)) {
                if (random_bytes(w.rnd, sizeof(w.rnd)) < 0)
                        for (size_t i = 0; i < sizeof(w.rnd); i++)
                                w.rnd[i] = (uint8_t)xrand();
                w.rnd_pos = 0;
        }
        uint8_t *b = w.rnd + w.rnd_pos;
        w.rnd_pos += 16;
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        char *o = out;
        for (int i = 0; i < 16; i++) {
                if (i == 4 || i == 6 || i == 8 || i == 10)
                        *o++ = '-';
                *o++ = hex[b[i] >> 4];
                *o++ = hex[b[i] & 15];
        }
        *o = '\0';
}

/* A bounded writer: appends past the end are dropped and remembered. */
struct wb {
        char *p;
        size_t n, cap;
        bool over;
};

static inline void wb_add(struct wb *b, const void *s, size_t n)
{
        if (b->n + n > b->cap) {
                b->over = true;
                return;
        }
        memcpy(b->p + b->n, s, n);
        b->n += n;
}

#define wb_lit(b, s) wb_add((b), (s), sizeof(s) - 1)

static inline void wb_str(struct wb *b, const char *s)
{
        wb_add(b, s, strlen(s));
}

static void wb_u64(struct wb *b, uint64_t v)
{
        char t[24];
        int i = sizeof(t);
        do {
                t[--i] = (char)('0' + v % 10);
                v /= 10;
        } while (v);
        wb_add(b, t + i, sizeof(t) - (size_t)i);
}

/* For the access log: printable, quotes and backslashes escaped, cut at max. */
static void wb_quoted(struct wb *b, const char *s, size_t n, size_t max)
{
        if (n > max)
                n = max;
        for (size_t i = 0; i < n; i++) {
                char c = s[i];
                if (c == '"' || c == '\\') {
                        char e[2] = {'\\', c};
                        wb_add(b, e, 2);
                } else if ((unsigned char)c < 0x20 || (unsigned char)c >= 0x7f) {
                        wb_lit(b, "?");
                } else {
                        wb_add(b, &c, 1);
                }
        }
}

/* ---- free lists -------------------------------------------------------- */

static void *cache_get(struct cache *k, size_t size)
{
        struct freeobj *f = k->head;
        if (!f)
                return malloc(size);
        k->head = f->next;
        if (--k->n < k->low)
                k->low = k->n;
        return f;
}

static void cache_put(struct cache *k, void *p)
{
        if (k->n >= CACHE_MAX) {
                free(p);
                return;
        }
        struct freeobj *f = p;
        f->next = k->head;
        k->head = f;
        k->n++;
}

static void cache_trim(struct cache *k)
{
        size_t excess = k->low > CACHE_MIN ? k->low - CACHE_MIN : 0;
        while (excess-- && k->head) {
                struct freeobj *f = k->head;
                k->head = f->next;
                k->n--;
                free(f);
        }
        k->low = k->n;
}

static int buf_get(struct buf *b)
{
        if (b->p)
                return 0;
        b->p = cache_get(&w.bufs, BUF_SIZE);
        if (!b->p)
                return -ENOMEM;
        b->cap = BUF_SIZE;
        b->r = b->w = 0;
        return 0;
}

static void buf_put(struct buf *b)
{
        if (!b->p)
                return;
        if (b->cap != BUF_SIZE)
                free(b->p);
        else
                cache_put(&w.bufs, b->p);
        *b = (struct buf){0};
}

/* Moves a buffer's contents into a malloc'd one of cap bytes (rare: heads
 * over 16 KiB). */
static int buf_grow(struct buf *b, uint32_t cap)
{
        char *p = malloc(cap);
        if (!p)
                return -ENOMEM;
        memcpy(p, b->p + b->r, b->w - b->r);
        uint32_t n = b->w - b->r;
        buf_put(b);
        *b = (struct buf){p, cap, 0, n};
        return 0;
}

static struct http1_header *hdrs_get(void)
{
        return cache_get(&w.hdrs, HTTP1_MAX_HEADERS * sizeof(struct http1_header));
}

static void hdrs_put(struct http1_header **h)
{
        if (!*h)
                return;
        cache_put(&w.hdrs, *h);
        *h = NULL;
}

/* ---- timers ------------------------------------------------------------ */

static void timer_stop(struct tnode *t)
{
        if (t->cls == T_NONE)
                return;
        t->prev->next = t->next;
        t->next->prev = t->prev;
        t->cls = T_NONE;
}

static void timer_arm(struct tnode *t, enum tclass cls)
{
        int64_t deadline = w.now + w.tdur[cls];
        if (t->cls == cls && t->deadline == deadline)
                return;
        timer_stop(t);
        struct tnode *head = &w.timers[cls];
        t->cls = (uint8_t)cls;
        t->deadline = deadline;
        t->prev = head->prev;
        t->next = head;
        head->prev->next = t;
        head->prev = t;
}

/* ---- access log -------------------------------------------------------- */

static void log_flush(void)
{
        size_t off = 0;
        while (off < w.log_len) {
                /* Whole lines, at most PIPE_BUF bytes a write: atomic, so
                 * lines of several workers never interleave. */
                size_t n = w.log_len - off;
                if (n > PIPE_BUF) {
                        n = PIPE_BUF;
                        while (n > 0 && w.logbuf[off + n - 1] != '\n')
                                n--;
                        if (n == 0)
                                n = PIPE_BUF;
                }
                ssize_t k = write(w.log_fd, w.logbuf + off, n);
                if (k <= 0)
                        break;
                off += (size_t)k;
        }
        if (off) {
                memmove(w.logbuf, w.logbuf + off, w.log_len - off);
                w.log_len -= off;
        }
        if (w.log_dropped && w.log_len == 0) {
                log_warning("access log could not keep up: %" PRIu64 " lines dropped",
                            w.log_dropped);
                w.log_dropped = 0;
        }
}

static void access_log(struct client *c, enum router_error e, int status)
{
        if (c->logged || w.log_fd < 0)
                return;
        c->logged = true;
        const struct router_error_info *ei = router_error_info(e);
        char line[LOGPART_MAX + 600];
        struct wb b = {line, 0, sizeof(line) - 1, false};

        if (w.cfg->log_app_id) {
                /* for pierd: which app's log, without matching hosts */
                if (c->app)
                        wb_str(&b, c->app->id ? c->app->id : c->app->name);
                else
                        wb_lit(&b, "-");
                wb_lit(&b, "\t");
        }

        int64_t sec = w.now_real_us / 1000000;
        if (sec != w.ts_sec) {
                time_t t = (time_t)sec;
                struct tm tm;
                gmtime_r(&t, &tm);
                strftime(w.ts_cache, sizeof(w.ts_cache), "%Y-%m-%dT%H:%M:%S", &tm);
                w.ts_sec = sec;
        }
        char frac[8];
        uint64_t us = (uint64_t)(w.now_real_us % 1000000);
        for (int i = 6; i >= 1; i--) {
                frac[i] = (char)('0' + us % 10);
                us /= 10;
        }
        frac[0] = '.';
        wb_str(&b, w.ts_cache);
        wb_add(&b, frac, 7);
        wb_lit(&b, "+00:00 heroku[router]: at=");
        wb_str(&b, ei->at);
        if (ei->code) {
                wb_lit(&b, " code=");
                wb_str(&b, ei->code);
                wb_lit(&b, " desc=\"");
                wb_str(&b, ei->desc);
                wb_lit(&b, "\"");
        }
        wb_lit(&b, " ");
        wb_add(&b, c->out.p, c->logpart_len);
        wb_lit(&b, " dyno=");
        if (c->dyno)
                wb_str(&b, c->dyno->name);
        int64_t connect = c->t_connected && c->t_connect ? c->t_connected - c->t_connect : 0;
        int64_t service = c->t_connected ? w.now - c->t_connected : 0;
        if (!c->t_connected && c->t_start)
                service = w.now - c->t_start;
        wb_lit(&b, " connect=");
        wb_u64(&b, (uint64_t)(connect / 1000));
        wb_lit(&b, "ms service=");
        wb_u64(&b, (uint64_t)(service > 0 ? service / 1000 : 0));
        wb_lit(&b, "ms status=");
        wb_u64(&b, (uint64_t)status);
        wb_lit(&b, " bytes=");
        wb_u64(&b, c->bytes);
        wb_lit(&b, " protocol=http\n");
        if (b.over) {
                line[b.n++] = '\n';
        }
        if (w.log_len + b.n > LOG_BUF_SIZE) {
                log_flush();
                if (w.log_len + b.n > LOG_BUF_SIZE) {
                        w.log_dropped++;
                        return;
                }
        }
        memcpy(w.logbuf + w.log_len, line, b.n);
        w.log_len += b.n;
}

/* The log part of a line: method, path, host, request id, fwd. */
static void logpart_set(struct client *c, const char *method, size_t mlen, const char *path,
                        size_t plen, const char *host, size_t hlen, const char *rid,
                        const char *fwd, size_t flen)
{
        struct wb b = {c->out.p, 0, LOGPART_MAX, false};
        wb_lit(&b, "method=");
        wb_quoted(&b, method, mlen, 32);
        wb_lit(&b, " path=\"");
        wb_quoted(&b, path, plen, 2000);
        wb_lit(&b, "\" host=");
        wb_quoted(&b, host, hlen, 255);
        wb_lit(&b, " request_id=");
        wb_str(&b, rid);
        wb_lit(&b, " fwd=\"");
        wb_quoted(&b, fwd, flen, 200);
        wb_lit(&b, "\"");
        c->logpart_len = (uint32_t)b.n;
}

/* ---- epoll ------------------------------------------------------------- */

static int watch(struct sock *s)
{
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = s};
        return epoll_ctl(w.epfd, EPOLL_CTL_ADD, s->fd, &ev) < 0 ? -errno : 0;
}

/* ---- upstream connections --------------------------------------------- */

static struct upconn *up_alloc(void)
{
        struct freeobj *f = w.free_ups;
        struct upconn *u;
        if (f) {
                w.free_ups = f->next;
                u = (struct upconn *)(void *)f;
        } else {
                u = malloc(sizeof(*u));
                if (!u)
                        return NULL;
        }
        *u = (struct upconn){.s = {.fd = -1, .kind = K_UP}, .t = {.cls = T_NONE}};
        return u;
}

static void pool_unlink(struct upconn *u)
{
        struct dstat *d = &w.stats[u->port];
        if (u->pprev)
                u->pprev->pnext = u->pnext;
        else
                d->idle = u->pnext;
        if (u->pnext)
                u->pnext->pprev = u->pprev;
        u->pprev = u->pnext = NULL;
        u->pooled = false;
        d->n_idle--;
}

static void up_close(struct upconn *u)
{
        if (!u || u->s.fd < 0)
                return;
        timer_stop(&u->t);
        if (u->pooled)
                pool_unlink(u);
        close(u->s.fd);
        u->s.fd = -1;
        buf_put(&u->in);
        u->c = NULL;
        /* the struct stays valid until the end of the batch */
        u->dead_next = w.dead_ups;
        w.dead_ups = u;
}

static void pool_put(struct upconn *u)
{
        struct dstat *d = &w.stats[u->port];
        u->c = NULL;
        buf_put(&u->in);
        if (d->n_idle >= POOL_MAX || w.draining) {
                up_close(u);
                return;
        }
        u->pprev = NULL;
        u->pnext = d->idle;
        if (d->idle)
                d->idle->pprev = u;
        d->idle = u;
        d->n_idle++;
        u->pooled = true;
        u->reused = true;
        timer_arm(&u->t, T_POOL);
}

static struct upconn *pool_get(uint16_t port)
{
        struct upconn *u = w.stats[port].idle;
        if (!u)
                return NULL;
        pool_unlink(u);
        timer_stop(&u->t);
        return u;
}

static int up_connect(uint16_t port, struct upconn **ret)
{
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        int one = 1;
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS) {
                int r = -errno;
                close(fd);
                return r;
        }
        struct upconn *u = up_alloc();
        if (!u) {
                close(fd);
                return -ENOMEM;
        }
        u->s.fd = fd;
        u->s.wr = false;
        u->port = port;
        int r = watch(&u->s);
        if (r < 0) {
                close(fd);
                u->s.fd = -1;
                u->dead_next = w.dead_ups;
                w.dead_ups = u;
                return r;
        }
        *ret = u;
        return 0;
}

/* ---- clients ----------------------------------------------------------- */

enum { NOP = 0, PROGRESS = 1, CHANGED = 2, FREED = 3 };

/* The request leaves its app's queue (it goes on, or it is answered). */
static void unwait(struct client *c)
{
        if (c->app)
                c->app->n_waiting--;
        w.n_waiting--;
        c->state = CS_CONNECT; /* whoever called us sets the next state */
}

static void dyno_uncount(struct client *c)
{
        if (!c->counted)
                return;
        w.stats[c->dyno->port].inflight--;
        c->counted = false;
        if (w.n_waiting)
                w.kick = true; /* a slot may have opened */
}

static void tx_release(struct client *c)
{
        if (c->state == CS_WAIT)
                unwait(c);
        dyno_uncount(c);
        hdrs_put(&c->hdrs);
        table_unref(c->table);
        c->table = NULL;
        c->app = NULL;
}

static void client_close(struct client *c)
{
        if (c->s.fd < 0)
                return;
        tx_release(c);
        up_close(c->up);
        c->up = NULL;
        timer_stop(&c->t);
        buf_put(&c->in);
        buf_put(&c->out);
        close(c->s.fd);
        c->s.fd = -1;
        c->prev->next = c->next;
        c->next->prev = c->prev;
        w.n_clients--;
        struct freeobj *f = (struct freeobj *)(void *)&c->prev;
        f->next = w.dead_clients;
        w.dead_clients = f;
}

/* Gets ready for the next request on the connection. */
static void tx_reset(struct client *c)
{
        tx_release(c);
        buf_put(&c->out);
        c->state = CS_HEAD;
        c->keep = c->is_head = c->upgrade = c->version10 = false;
        c->req_sent = c->resp_started = c->resp_parsed = c->resp_out = false;
        c->up_eof = c->retried = c->logged = c->head_started = c->expect = false;
        c->tried = 0;
        c->tried_n = 0;
        c->logpart_len = 0;
        c->dyno = NULL;
        c->t_start = c->t_connect = c->t_connected = 0;
        c->bytes = 0;
        c->status = 0;
        c->reqp = (struct pump){0};
        c->resp = (struct pump){0};
        http1_msg_init(&c->msg, HTTP1_REQUEST, NULL, 0);
        if (c->in.r == c->in.w) {
                buf_put(&c->in);
                timer_arm(&c->t, T_KEEPALIVE);
        } else {
                if (c->in.r) {
                        memmove(c->in.p, c->in.p + c->in.r, c->in.w - c->in.r);
                        c->in.w -= c->in.r;
                        c->in.r = 0;
                }
                c->head_started = true;
                c->t_start = w.now;
                timer_arm(&c->t, T_HEADER);
        }
}

static int linger_close(struct client *c)
{
        tx_release(c);
        up_close(c->up);
        c->up = NULL;
        buf_put(&c->out);
        buf_put(&c->in);
        (void)shutdown(c->s.fd, SHUT_WR);
        c->state = CS_LINGER;
        timer_arm(&c->t, T_LINGER);
        return CHANGED;
}

/* Sends one of the router's own pages (after logging the request). */
static int respond_page(struct client *c, enum router_error e, bool keep)
{
        const struct router_error_info *ei = router_error_info(e);
        access_log(c, e, ei->status);
        if (e == RE_H27 || e == RE_H28) {
                client_close(c);
                return FREED;
        }
        up_close(c->up);
        c->up = NULL;
        tx_release(c);
        c->keep = keep && !w.draining;
        struct wb b = {c->out.p + LOGPART_MAX, 0, OUT_HEAD_MAX, false};
        wb_lit(&b, "HTTP/1.1 ");
        wb_u64(&b, (uint64_t)ei->status);
        wb_lit(&b, " ");
        wb_str(&b, ei->reason);
        wb_lit(&b, "\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: ");
        wb_u64(&b, ei->page_len);
        wb_lit(&b, "\r\nCache-Control: no-cache, no-store\r\n");
        if (!c->keep)
                wb_lit(&b, "Connection: close\r\n");
        else if (c->version10)
                wb_lit(&b, "Connection: keep-alive\r\n");
        wb_lit(&b, "\r\n");
        if (!c->is_head)
                wb_add(&b, ei->page, ei->page_len);
        c->out.r = LOGPART_MAX;
        c->out.w = (uint32_t)(LOGPART_MAX + b.n);
        c->state = CS_RESPOND;
        timer_arm(&c->t, T_IDLE);
        return CHANGED;
}

/* Fails the transaction: a page if the client has seen nothing yet, else
 * the connection is cut. */
static int tx_fail(struct client *c, enum router_error e)
{
        if (c->resp_out || c->state == CS_TUNNEL) {
                access_log(c, e, router_error_info(e)->status);
                client_close(c);
                return FREED;
        }
        bool keep = c->keep && c->reqp.done && c->reqp.ready == 0 && !c->upgrade;
        return respond_page(c, e, keep);
}

/* A request head that cannot be parsed: 400, and the connection closes. */
static int bad_request(struct client *c)
{
        if (buf_get(&c->out) < 0) {
                client_close(c);
                return FREED;
        }
        if (!c->logpart_len) {
                char rid[37];
                request_id_new(rid);
                logpart_set(c, "", 0, "", 0, "", 0, rid, c->ip, strlen(c->ip));
        }
        c->reqp.done = true;
        return respond_page(c, RE_H26, false);
}

/* Header names the router treats specially, by length then name. */
enum hid {
        H_OTHER,
        H_CONNECTION,
        H_KEEP_ALIVE,
        H_PROXY_CONNECTION,
        H_TE,
        H_TRAILER,
        H_TRANSFER_ENCODING,
        H_UPGRADE,
        H_CONTENT_LENGTH,
        H_EXPECT,
        H_XFF,
        H_XFPROTO,
        H_XFPORT,
        H_XREQSTART,
        H_XREQID,
        H_VIA,
        H_HOST,
};

static enum hid header_id(const char *n, size_t len)
{
#define IS(s) (strncasecmp(n, s, len) == 0)
        switch (len) {
        case 2:
                return IS("te") ? H_TE : H_OTHER;
        case 3:
                return IS("via") ? H_VIA : H_OTHER;
        case 4:
                return IS("host") ? H_HOST : H_OTHER;
        case 6:
                return IS("expect") ? H_EXPECT : H_OTHER;
        case 7:
                return IS("trailer") ? H_TRAILER : IS("upgrade") ? H_UPGRADE : H_OTHER;
        case 10:
                return IS("connection") ? H_CONNECTION : IS("keep-alive") ? H_KEEP_ALIVE : H_OTHER;
        case 12:
                return IS("x-request-id") ? H_XREQID : H_OTHER;
        case 14:
                return IS("content-length") ? H_CONTENT_LENGTH : H_OTHER;
        case 15:
                return IS("x-forwarded-for") ? H_XFF : IS("x-request-start") ? H_XREQSTART : H_OTHER;
        case 16:
                return IS("proxy-connection") ? H_PROXY_CONNECTION
                       : IS("x-forwarded-port") ? H_XFPORT
                                                 : H_OTHER;
        case 17:
                return IS("transfer-encoding") ? H_TRANSFER_ENCODING
                       : IS("x-forwarded-proto") ? H_XFPROTO
                                                  : H_OTHER;
        default:
                return H_OTHER;
        }
#undef IS
}

/* Tokens of the Connection header that name other headers to drop. */
struct conn_tokens {
        const char *p[16];
        uint16_t n[16];
        unsigned count;
};

static void conn_tokens_add(struct conn_tokens *t, const char *v, size_t len)
{
        size_t i = 0;
        while (i < len && t->count < ELEMENTSOF(t->p)) {
                while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
                        i++;
                size_t s = i;
                while (i < len && v[i] != ',' && v[i] != ' ' && v[i] != '\t')
                        i++;
                if (i > s && i - s < 256) {
                        t->p[t->count] = v + s;
                        t->n[t->count] = (uint16_t)(i - s);
                        t->count++;
                }
        }
}

static bool conn_tokens_has(const struct conn_tokens *t, const char *n, size_t len)
{
        for (unsigned i = 0; i < t->count; i++)
                if (t->n[i] == len && strncasecmp(t->p[i], n, len) == 0)
                        return true;
        return false;
}

static bool request_id_valid(const char *s, size_t n)
{
        if (n < 20 || n > 200)
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = s[i];
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '+' || c == '/' || c == '=' || c == '-'))
                        return false;
        }
        return true;
}

static int route(struct client *c, bool from_queue);

/* The request head is in c->in.p[0..head_len): rewrite it for the dyno into
 * c->out, write the log part, route. */
static int begin_request(struct client *c)
{
        struct http1_msg *m = &c->msg;
        const char *base = c->in.p;

        if (m->head_len > OUT_HEAD_MAX - 1024) {
                /* a big head: a big (malloc'd, rare) out buffer */
                c->out.p = malloc(LOGPART_MAX + m->head_len + 4096);
                if (!c->out.p)
                        return bad_request(c);
                c->out.cap = LOGPART_MAX + m->head_len + 4096;
        } else if (buf_get(&c->out) < 0) {
                client_close(c);
                return FREED;
        }

        c->version10 = m->version == 10;
        c->keep = c->version10 ? (m->flags & HTTP1_F_CONN_KEEP_ALIVE) && !(m->flags & HTTP1_F_CONN_CLOSE)
                               : !(m->flags & HTTP1_F_CONN_CLOSE);
        if (w.draining)
                c->keep = false;
        c->is_head = m->method_len == 4 && memcmp(base + m->method_off, "HEAD", 4) == 0;
        c->upgrade = (m->flags & HTTP1_F_CONN_UPGRADE) && m->upgrade_idx >= 0;
        if (c->upgrade)
                c->keep = false;

        /* Host: strip the port, lowercase. */
        char host[TABLE_HOST_MAX + 1];
        size_t hlen = 0;
        const char *hraw = "";
        size_t hraw_len = 0;
        if (m->host_idx >= 0) {
                const struct http1_header *h = &m->headers[m->host_idx];
                hraw = base + h->value_off;
                hraw_len = h->value_len;
                size_t n = hraw_len;
                if (n && hraw[0] != '[') {
                        const char *colon = memchr(hraw, ':', n);
                        if (colon)
                                n = (size_t)(colon - hraw);
                }
                if (n && hraw[n - 1] == '.')
                        n--; /* "myapp.localhost." is the same name */
                if (n <= TABLE_HOST_MAX) {
                        for (size_t i = 0; i < n; i++) {
                                char ch = hraw[i];
                                host[i] = (ch >= 'A' && ch <= 'Z') ? (char)(ch + 32) : ch;
                        }
                        hlen = n;
                }
        }

        /* The rewritten head. */
        struct conn_tokens ct = {.count = 0};
        const char *rid = NULL;
        size_t rid_len = 0;
        bool have_xff = false, have_via = false;
        for (uint32_t i = 0; i < m->n_headers; i++) {
                const struct http1_header *h = &m->headers[i];
                if (h->name_len == 10 && strncasecmp(base + h->name_off, "connection", 10) == 0)
                        conn_tokens_add(&ct, base + h->value_off, h->value_len);
        }

        struct wb b = {c->out.p + LOGPART_MAX, 0, c->out.cap - LOGPART_MAX, false};
        wb_add(&b, base + m->method_off, m->method_len);
        wb_lit(&b, " ");
        wb_add(&b, base + m->target_off, m->target_len);
        wb_lit(&b, " HTTP/1.1\r\n");
        for (uint32_t i = 0; i < m->n_headers; i++) {
                const struct http1_header *h = &m->headers[i];
                const char *n = base + h->name_off;
                switch (header_id(n, h->name_len)) {
                case H_CONNECTION:
                case H_KEEP_ALIVE:
                case H_PROXY_CONNECTION:
                case H_TE:
                case H_TRAILER:
                case H_TRANSFER_ENCODING:
                case H_CONTENT_LENGTH:
                case H_XFPROTO:
                case H_XFPORT:
                case H_XREQSTART:
                        continue;
                case H_UPGRADE:
                        if (!c->upgrade)
                                continue;
                        break;
                case H_EXPECT:
                        if (m->flags & HTTP1_F_EXPECT_CONTINUE)
                                continue; /* answered by the router */
                        break;
                case H_XREQID:
                        if (!rid && request_id_valid(base + h->value_off, h->value_len)) {
                                rid = base + h->value_off;
                                rid_len = h->value_len;
                        }
                        continue;
                case H_XFF:
                        have_xff = true;
                        continue;
                case H_VIA:
                        have_via = true;
                        continue;
                case H_HOST:
                        break; /* even when Connection names it: never without */
                case H_OTHER:
                        if (ct.count && conn_tokens_has(&ct, n, h->name_len))
                                continue;
                        break;
                }
                /* the original line, name to end of value */
                wb_add(&b, n, h->value_off + h->value_len - h->name_off);
                wb_lit(&b, "\r\n");
        }
        if (m->flags & HTTP1_F_CHUNKED)
                wb_lit(&b, "Transfer-Encoding: chunked\r\n");
        else if (m->content_length >= 0) {
                wb_lit(&b, "Content-Length: ");
                wb_u64(&b, (uint64_t)m->content_length);
                wb_lit(&b, "\r\n");
        }
        if (c->upgrade)
                wb_lit(&b, "Connection: upgrade\r\n");
        /* X-Forwarded-For: whatever the client said, then what we saw. */
        size_t xff_start = b.n + 17;
        wb_lit(&b, "X-Forwarded-For: ");
        if (have_xff)
                for (uint32_t i = 0; i < m->n_headers; i++) {
                        const struct http1_header *h = &m->headers[i];
                        if (h->name_len == 15 && header_id(base + h->name_off, 15) == H_XFF &&
                            h->value_len) {
                                wb_add(&b, base + h->value_off, h->value_len);
                                wb_lit(&b, ", ");
                        }
                }
        wb_str(&b, c->ip);
        size_t xff_end = b.n;
        wb_lit(&b, "\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Port: ");
        wb_str(&b, w.port_str);
        wb_lit(&b, "\r\nX-Request-Start: ");
        wb_u64(&b, (uint64_t)w.now_ms);
        char rid_new[37];
        if (!rid) {
                request_id_new(rid_new);
                rid = rid_new;
                rid_len = 36;
        }
        size_t rid_at = b.n + 16;
        wb_lit(&b, "\r\nX-Request-Id: ");
        wb_add(&b, rid, rid_len);
        wb_lit(&b, "\r\nVia: ");
        if (have_via)
                for (uint32_t i = 0; i < m->n_headers; i++) {
                        const struct http1_header *h = &m->headers[i];
                        if (h->name_len == 3 && header_id(base + h->name_off, 3) == H_VIA &&
                            h->value_len) {
                                wb_add(&b, base + h->value_off, h->value_len);
                                wb_lit(&b, ", ");
                        }
                }
        wb_lit(&b, "1.1 " ROUTER_NAME "\r\n\r\n");
        if (b.over)
                return bad_request(c);

        /* the log part, copied out of the head (the input buffer will be
         * overwritten by the body) */
        char ridz[201];
        memcpy(ridz, b.p + rid_at, rid_len);
        ridz[rid_len] = '\0';
        logpart_set(c, base + m->method_off, m->method_len, base + m->target_off, m->target_len,
                    hraw, hraw_len, ridz, b.p + xff_start, xff_end - xff_start);
        c->out.r = LOGPART_MAX;
        c->out.w = (uint32_t)(LOGPART_MAX + b.n);

        /* the request body */
        c->reqp = (struct pump){0};
        if (m->flags & HTTP1_F_CHUNKED) {
                c->reqp.mode = P_CHUNKED;
                http1_chunked_init(&c->reqp.dec);
        } else if (m->content_length > 0) {
                c->reqp.mode = P_LENGTH;
                c->reqp.remaining = m->content_length;
        } else {
                c->reqp.done = true;
        }
        bool expect = (m->flags & HTTP1_F_EXPECT_CONTINUE) && !c->version10 && !c->reqp.done;
        c->in.r = m->head_len;
        hdrs_put(&c->hdrs);
        http1_msg_init(&c->msg, HTTP1_RESPONSE, NULL, 0);

        c->expect = expect;
        c->table = table_ref(w.table);
        c->app = hlen ? table_lookup(c->table, host, hlen) : NULL;
        return route(c, false);
}

static int start_upstream(struct client *c);

/* Puts the request in its app's queue (T_BOOT: for a booting dyno, T_QUEUE:
 * for a dyno below its connection limit), or answers H11 when the queue
 * is full.  A request already waiting keeps its place and its deadline. */
static int wait_for_dyno(struct client *c, enum tclass cls)
{
        struct table_app *a = c->app;
        if (c->state != CS_WAIT) {
                uint64_t cap = (uint64_t)w.cfg->backlog * (a->n_dynos ? a->n_dynos : 1);
                if (a->n_waiting >= cap)
                        return tx_fail(c, RE_H11);
                a->n_waiting++;
                w.n_waiting++;
                c->state = CS_WAIT;
        }
        if (c->t.cls != cls)
                timer_arm(&c->t, cls);
        return CHANGED;
}

/* Where a request goes: one of our pages, its app's queue, or a dyno.
 * from_queue: it waited already (others that wait do not hold it back). */
static int route(struct client *c, bool from_queue)
{
        struct table_app *a = c->app;
        bool keep = c->keep && c->reqp.done;
        if (!a)
                return respond_page(c, RE_NO_APP, keep);
        if (a->maintenance)
                return respond_page(c, RE_H80, keep);
        if (a->n_dynos == 0) {
                if (!a->deployed)
                        return respond_page(c, RE_H81, keep);
                if (a->starting) /* as Heroku: wait for it (or H20) */
                        return wait_for_dyno(c, T_BOOT);
        }
        if (a->crashed)
                return respond_page(c, RE_H10, keep);
        if (a->n_dynos == 0)
                return respond_page(c, RE_H14, keep);
        if (a->n_waiting && !from_queue)
                return wait_for_dyno(c, T_QUEUE); /* first come, first served */
        return start_upstream(c);
}

/* Power of two choices among the dynos not yet tried, preferring those
 * that have not refused a connection lately. */
static const struct table_dyno *choose_dyno(struct client *c)
{
        const struct table_app *a = c->app;
        uint32_t n = a->n_dynos;
        const struct table_dyno *best = NULL;
        for (int pass = 0; pass < 2 && !best; pass++) {
                unsigned cand = 0;
                uint32_t start = (uint32_t)(xrand() % n);
                const struct table_dyno *pick[2] = {NULL, NULL};
                /* walk from a random start: the first two eligible ones are
                 * a uniform-ish random pair */
                uint32_t step = n > 1 ? 1 + (uint32_t)(xrand() % (n - 1)) : 1;
                for (uint32_t k = 0; k < n && cand < 2; k++) {
                        uint32_t i = (uint32_t)((start + (uint64_t)k * step) % n);
                        if (k > 0 && i == start)
                                break;
                        if (c->tried & (UINT64_C(1) << (i & 63)))
                                continue;
                        const struct table_dyno *d = &a->dynos[i];
                        if (pass == 0 && w.stats[d->port].avoid_until > w.now)
                                continue;
                        if (w.stats[d->port].inflight >= w.conn_limit)
                                continue;
                        pick[cand++] = d;
                }
                if (cand == 0) {
                        /* the stride may not cover every index: scan */
                        for (uint32_t i = 0; i < n && cand < 1; i++) {
                                if (c->tried & (UINT64_C(1) << (i & 63)))
                                        continue;
                                if (pass == 0 && w.stats[a->dynos[i].port].avoid_until > w.now)
                                        continue;
                                if (w.stats[a->dynos[i].port].inflight >= w.conn_limit)
                                        continue;
                                pick[cand++] = &a->dynos[i];
                        }
                }
                if (cand == 1)
                        best = pick[0];
                else if (cand == 2)
                        best = w.stats[pick[1]->port].inflight < w.stats[pick[0]->port].inflight
                                   ? pick[1]
                                   : pick[0];
        }
        if (best)
                c->tried |= UINT64_C(1) << ((uint64_t)(best - a->dynos) & 63);
        return best;
}

/* Whether a dyno not tried yet is at its connection limit. */
static bool untried_full(const struct client *c)
{
        const struct table_app *a = c->app;
        for (uint32_t i = 0; i < a->n_dynos; i++)
                if (!(c->tried & (UINT64_C(1) << (i & 63))) &&
                    w.stats[a->dynos[i].port].inflight >= w.conn_limit)
                        return true;
        return false;
}

static int start_upstream(struct client *c)
{
        for (;;) {
                if (c->tried_n >= 64 || c->tried_n >= c->app->n_dynos)
                        return tx_fail(c, c->tried_n ? RE_H21 : RE_H14);
                const struct table_dyno *d = choose_dyno(c);
                if (!d) {
                        if (untried_full(c))
                                return wait_for_dyno(c, T_QUEUE);
                        return tx_fail(c, c->tried_n ? RE_H21 : RE_H14);
                }
                if (c->expect) {
                        /* only now: a request that waits does not get its
                         * body sent meanwhile */
                        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
                        c->expect = false;
                        if (write(c->s.fd, cont, sizeof(cont) - 1) != sizeof(cont) - 1) {
                                client_close(c);
                                return FREED;
                        }
                }
                c->tried_n++;
                c->dyno = d;
                c->t_connect = w.now;
                struct upconn *u = pool_get(d->port);
                if (!u) {
                        int r = up_connect(d->port, &u);
                        if (r == -ECONNREFUSED) {
                                w.stats[d->port].avoid_until = w.now + AVOID_USEC;
                                continue;
                        }
                        if (r < 0) {
                                log_warning_errno(r, "connecting to 127.0.0.1:%u: %m", d->port);
                                return tx_fail(c, RE_H99);
                        }
                        c->state = CS_CONNECT;
                        timer_arm(&c->t, T_CONNECT);
                } else {
                        c->t_connected = w.now;
                        c->state = CS_PROXY;
                        timer_arm(&c->t, c->reqp.done ? T_RESPONSE : T_IDLE);
                }
                u->c = c;
                c->up = u;
                w.stats[d->port].inflight++;
                c->counted = true;
                return CHANGED;
        }
}

static int step_connect(struct client *c)
{
        struct upconn *u = c->up;
        if (!u->s.wr)
                return NOP;
        int err = 0;
        socklen_t len = sizeof(err);
        if (getsockopt(u->s.fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
                err = errno;
        if (err == EINPROGRESS || err == EALREADY) {
                u->s.wr = false;
                return NOP;
        }
        if (err) {
                /* refused (or reset): this dyno is down; try another */
                w.stats[u->port].avoid_until = w.now + AVOID_USEC;
                dyno_uncount(c);
                up_close(u);
                c->up = NULL;
                return start_upstream(c);
        }
        c->t_connected = w.now;
        c->state = CS_PROXY;
        timer_arm(&c->t, c->reqp.done ? T_RESPONSE : T_IDLE);
        return CHANGED;
}

/* Classifies bytes at buf->r for writing on; < 0 on a framing error. */
static int pump_classify(struct pump *p, struct buf *b)
{
        if (p->done || p->ready || b->r == b->w)
                return 0;
        uint32_t avail = b->w - b->r;
        switch (p->mode) {
        case P_LENGTH: {
                uint32_t n = p->remaining < avail ? (uint32_t)p->remaining : avail;
                p->ready = n;
                p->remaining -= n;
                if (!p->remaining)
                        p->done = true;
                return 0;
        }
        case P_CLOSE:
                p->ready = avail;
                return 0;
        case P_CHUNKED: {
                size_t off = 0, doff, dlen;
                if (p->decode) {
                        ssize_t k = http1_chunked_feed(&p->dec, b->p + b->r, avail, &doff, &dlen);
                        if (k < 0)
                                return (int)k;
                        if (dlen) {
                                b->r += (uint32_t)doff;
                                p->ready = (uint32_t)dlen;
                        } else {
                                b->r += (uint32_t)k;
                        }
                } else {
                        while (off < avail && !p->dec.done) {
                                ssize_t k = http1_chunked_feed(&p->dec, b->p + b->r + off,
                                                               avail - off, &doff, &dlen);
                                if (k < 0)
                                        return (int)k;
                                if (k == 0)
                                        break;
                                off += (size_t)k;
                        }
                        p->ready = (uint32_t)off;
                }
                if (p->dec.done)
                        p->done = true;
                return 0;
        }
        default:
                p->done = true;
                return 0;
        }
}

static bool replayable(struct client *c)
{
        return c->up && c->up->reused && !c->retried && !c->resp_started && c->reqp.mode == P_NONE;
}

/* The pooled connection we picked was already closed by the dyno: try once
 * more on a fresh connection. */
static int retry_fresh(struct client *c)
{
        uint16_t port = c->up->port;
        up_close(c->up);
        c->up = NULL;
        c->retried = true;
        c->out.r = LOGPART_MAX;
        struct upconn *u;
        int r = up_connect(port, &u);
        if (r < 0)
                return tx_fail(c, r == -ECONNREFUSED ? RE_H21 : RE_H13);
        u->c = c;
        c->up = u;
        c->req_sent = false;
        c->state = CS_CONNECT;
        c->t_connect = w.now;
        c->t_connected = 0;
        timer_arm(&c->t, T_CONNECT);
        return CHANGED;
}

/* The dyno went away (EOF or error) before the response was complete. */
static int up_gone(struct client *c)
{
        if (!c->resp_started)
                return replayable(c) ? retry_fresh(c) : tx_fail(c, RE_H13);
        if (!c->resp_parsed)
                return tx_fail(c, RE_H17);
        return tx_fail(c, RE_H18);
}

/* request bytes, client -> dyno */
static int req_send(struct client *c)
{
        struct upconn *u = c->up;
        if (c->req_sent || !u->s.wr)
                return NOP;
        if (pump_classify(&c->reqp, &c->in) < 0)
                return tx_fail(c, RE_H26);
        struct iovec iov[2];
        int n = 0;
        uint32_t head = c->out.w - c->out.r;
        if (head)
                iov[n++] = (struct iovec){c->out.p + c->out.r, head};
        if (c->reqp.ready)
                iov[n++] = (struct iovec){c->in.p + c->in.r, c->reqp.ready};
        int ret = NOP;
        if (n) {
                size_t want = head + c->reqp.ready;
                ssize_t k = writev(u->s.fd, iov, n);
                if (k < 0) {
                        if (errno == EAGAIN) {
                                u->s.wr = false;
                                return NOP;
                        }
                        return up_gone(c);
                }
                if ((size_t)k < want)
                        u->s.wr = false;
                size_t kk = (size_t)k;
                uint32_t hk = kk < head ? (uint32_t)kk : head;
                c->out.r += hk;
                kk -= hk;
                c->in.r += (uint32_t)kk;
                c->reqp.ready -= (uint32_t)kk;
                if (c->in.r == c->in.w && !c->reqp.ready)
                        c->in.r = c->in.w = 0;
                if (!c->resp_started)
                        timer_arm(&c->t, T_IDLE);
                ret = PROGRESS;
        }
        if (c->out.r == c->out.w && c->reqp.done && !c->reqp.ready) {
                c->req_sent = true;
                if (!c->resp_started)
                        timer_arm(&c->t, T_RESPONSE);
                ret = PROGRESS;
        }
        return ret;
}

/* client -> our buffer: request body, pipelined requests, EOF */
static int client_read(struct client *c)
{
        if (!c->s.rd)
                return NOP;
        struct buf *b = &c->in;
        if (!b->p && buf_get(b) < 0)
                return NOP;
        if (b->r == b->w && !c->reqp.ready)
                b->r = b->w = 0;
        if (b->w == b->cap) {
                if (!b->r)
                        return NOP;
                memmove(b->p, b->p + b->r, b->w - b->r);
                b->w -= b->r;
                b->r = 0;
        }
        size_t space = b->cap - b->w;
        ssize_t k = read(c->s.fd, b->p + b->w, space);
        if (k > 0) {
                b->w += (uint32_t)k;
                if ((size_t)k < space && !c->s.hup)
                        c->s.rd = false;
                if (!c->reqp.done)
                        timer_arm(&c->t, T_IDLE);
                return PROGRESS;
        }
        if (k < 0 && errno == EAGAIN) {
                c->s.rd = false;
                return NOP;
        }
        /* EOF or error before the response is out: the client gave up */
        return tx_fail(c, RE_H27);
}

/* dyno -> its buffer */
/* A response body with more to come than a buffer holds: read it in
 * bigger pieces (a quarter of the syscalls). */
static bool big_body(const struct client *c)
{
        const struct pump *p = &c->resp;
        return c->resp_parsed && !p->done &&
               (p->mode != P_LENGTH || p->remaining > (int64_t)BUF_SIZE);
}

static int up_read(struct client *c)
{
        struct upconn *u = c->up;
        if (!u->s.rd || c->up_eof)
                return NOP;
        struct buf *b = &u->in;
        if (!b->p && buf_get(b) < 0)
                return NOP;
        if (b->r == b->w && !c->resp.ready && c->resp_parsed)
                b->r = b->w = 0;
        if (b->w == b->cap) {
                if (!b->r || !c->resp_parsed)
                        return NOP;
                memmove(b->p, b->p + b->r, b->w - b->r);
                b->w -= b->r;
                b->r = 0;
        }
        size_t space = b->cap - b->w;
        ssize_t k = read(u->s.fd, b->p + b->w, space);
        if (k > 0) {
                b->w += (uint32_t)k;
                if ((size_t)k < space && !u->s.hup)
                        u->s.rd = false;
                else if (b->cap == BUF_SIZE && big_body(c))
                        (void)buf_grow(b, BODY_BUF_SIZE); /* else it goes on in 16 KiB */
                c->resp_started = true;
                timer_arm(&c->t, T_IDLE);
                return PROGRESS;
        }
        if (k < 0 && errno == EAGAIN) {
                u->s.rd = false;
                return NOP;
        }
        /* EOF (or reset): what was read before it still goes out; the
         * response steps decide whether it was complete */
        c->up_eof = true;
        if (!c->resp_started)
                return up_gone(c);
        return PROGRESS;
}

/* Rewrites the response head (u->in.p[0..head_len)) into c->out. */
static int build_response_head(struct client *c)
{
        struct http1_msg *m = &c->msg;
        const char *base = c->up->in.p;
        int s = m->status;
        bool nobody = c->is_head || s == 204 || s == 304 || (s >= 100 && s < 200);

        c->resp = (struct pump){0};
        if (nobody) {
                c->resp.done = true;
        } else if (m->flags & HTTP1_F_CHUNKED) {
                c->resp.mode = P_CHUNKED;
                http1_chunked_init(&c->resp.dec);
                if (c->version10) {
                        c->resp.decode = true;
                        c->keep = false;
                }
        } else if (m->content_length >= 0) {
                c->resp.mode = P_LENGTH;
                c->resp.remaining = m->content_length;
                if (!m->content_length)
                        c->resp.done = true;
        } else {
                c->resp.mode = P_CLOSE;
                c->keep = false;
        }
        if (!c->req_sent || w.draining)
                c->keep = false;

        struct conn_tokens ct = {.count = 0};
        for (uint32_t i = 0; i < m->n_headers; i++) {
                const struct http1_header *h = &m->headers[i];
                if (h->name_len == 10 && strncasecmp(base + h->name_off, "connection", 10) == 0)
                        conn_tokens_add(&ct, base + h->value_off, h->value_len);
        }
        struct wb b = {c->out.p + LOGPART_MAX, 0, OUT_HEAD_MAX, false};
        wb_lit(&b, "HTTP/1.1 ");
        wb_add(&b, base + 9, 3);
        wb_lit(&b, " ");
        wb_add(&b, base + m->reason_off, m->reason_len);
        wb_lit(&b, "\r\n");
        for (uint32_t i = 0; i < m->n_headers; i++) {
                const struct http1_header *h = &m->headers[i];
                const char *n = base + h->name_off;
                switch (header_id(n, h->name_len)) {
                case H_CONNECTION:
                case H_KEEP_ALIVE:
                case H_PROXY_CONNECTION:
                case H_TE:
                case H_TRANSFER_ENCODING:
                        continue;
                case H_UPGRADE:
                        if (s != 101)
                                continue;
                        break;
                case H_TRAILER:
                        if (c->resp.decode)
                                continue;
                        break;
                case H_CONTENT_LENGTH:
                        wb_lit(&b, "Content-Length: ");
                        wb_u64(&b, (uint64_t)(m->content_length >= 0 ? m->content_length : 0));
                        wb_lit(&b, "\r\n");
                        continue;
                default:
                        if (ct.count && conn_tokens_has(&ct, n, h->name_len))
                                continue;
                        break;
                }
                wb_add(&b, n, h->value_off + h->value_len - h->name_off);
                wb_lit(&b, "\r\n");
        }
        if (c->resp.mode == P_CHUNKED && !c->resp.decode)
                wb_lit(&b, "Transfer-Encoding: chunked\r\n");
        if (s == 101)
                wb_lit(&b, "Connection: upgrade\r\n");
        else if (!c->keep)
                wb_lit(&b, "Connection: close\r\n");
        else if (c->version10)
                wb_lit(&b, "Connection: keep-alive\r\n");
        wb_lit(&b, "\r\n");
        if (b.over)
                return -E2BIG;
        c->out.r = LOGPART_MAX;
        c->out.w = (uint32_t)(LOGPART_MAX + b.n);
        c->status = s;
        return 0;
}

static int resp_head(struct client *c)
{
        struct upconn *u = c->up;
        if (c->resp_parsed || !u->in.p || u->in.w == 0)
                return NOP;
        if (c->out.r != c->out.w)
                return NOP; /* our request head is not all out yet */
        if (!c->hdrs) {
                c->hdrs = hdrs_get();
                if (!c->hdrs)
                        return tx_fail(c, RE_H99);
                c->msg.headers = c->hdrs;
                c->msg.max_headers = HTTP1_MAX_HEADERS;
        }
        int r = http1_parse(&c->msg, u->in.p, u->in.w);
        if (r == 0) {
                if (u->in.w == u->in.cap)
                        return tx_fail(c, RE_H25);
                if (c->up_eof)
                        return tx_fail(c, RE_H17);
                return NOP;
        }
        if (r < 0)
                return tx_fail(c, r == -E2BIG ? RE_H25 : RE_H17);
        int s = c->msg.status;
        if (s >= 100 && s < 200 && s != 101) {
                /* interim responses (100 Continue was ours to send) */
                uint32_t hl = c->msg.head_len;
                memmove(u->in.p, u->in.p + hl, u->in.w - hl);
                u->in.w -= hl;
                http1_msg_init(&c->msg, HTTP1_RESPONSE, c->hdrs, HTTP1_MAX_HEADERS);
                return PROGRESS;
        }
        if (s == 101 && !c->upgrade)
                return tx_fail(c, RE_H17);
        if (build_response_head(c) < 0)
                return tx_fail(c, RE_H25);
        u->in.r = c->msg.head_len;
        hdrs_put(&c->hdrs);
        c->resp_parsed = true;
        if (s == 101) {
                access_log(c, RE_NONE, 101);
                /* a tunnel may last for hours: it holds no request slot */
                dyno_uncount(c);
                c->state = CS_TUNNEL;
                c->resp.mode = P_CLOSE;
                c->reqp.mode = P_CLOSE;
                c->reqp.done = false;
                c->resp.done = false;
                c->req_sent = false;
                return CHANGED;
        }
        return PROGRESS;
}

static int finish_tx(struct client *c);

/* response bytes, our buffer -> client */
static int resp_send(struct client *c)
{
        struct upconn *u = c->up;
        if (!c->resp_parsed || !c->s.wr)
                return NOP;
        if (pump_classify(&c->resp, &u->in) < 0)
                return tx_fail(c, RE_H17);
        struct iovec iov[2];
        int n = 0;
        uint32_t head = c->out.w - c->out.r;
        if (head)
                iov[n++] = (struct iovec){c->out.p + c->out.r, head};
        if (c->resp.ready)
                iov[n++] = (struct iovec){u->in.p + u->in.r, c->resp.ready};
        int ret = NOP;
        if (n) {
                size_t want = head + c->resp.ready;
                ssize_t k = writev(c->s.fd, iov, n);
                if (k < 0) {
                        if (errno == EAGAIN) {
                                c->s.wr = false;
                                return NOP;
                        }
                        c->resp_out = true;
                        return tx_fail(c, RE_H27);
                }
                if ((size_t)k < want)
                        c->s.wr = false;
                c->resp_out = true;
                size_t kk = (size_t)k;
                uint32_t hk = kk < head ? (uint32_t)kk : head;
                c->out.r += hk;
                kk -= hk;
                u->in.r += (uint32_t)kk;
                c->resp.ready -= (uint32_t)kk;
                c->bytes += kk;
                if (u->in.r == u->in.w && !c->resp.ready)
                        u->in.r = u->in.w = 0;
                timer_arm(&c->t, T_IDLE);
                ret = PROGRESS;
        }
        if (!c->resp.done && c->up_eof && !c->resp.ready && u->in.r == u->in.w) {
                if (c->resp.mode != P_CLOSE)
                        return tx_fail(c, RE_H18); /* cut short */
                c->resp.done = true;
        }
        if (c->out.r == c->out.w && c->resp.done && !c->resp.ready)
                return finish_tx(c);
        return ret;
}

static int finish_tx(struct client *c)
{
        struct upconn *u = c->up;
        access_log(c, RE_NONE, c->status);
        const struct http1_msg *m = &c->msg;
        bool reuse = !c->up_eof && c->req_sent && c->resp.mode != P_CLOSE &&
                     !(m->flags & HTTP1_F_CONN_CLOSE) &&
                     (m->version == 11 || (m->flags & HTTP1_F_CONN_KEEP_ALIVE)) &&
                     u->in.r == u->in.w && !c->upgrade;
        c->up = NULL;
        if (reuse)
                pool_put(u);
        else
                up_close(u);
        if (!c->keep || !c->reqp.done)
                return linger_close(c);
        tx_reset(c);
        return CHANGED;
}

static int step_proxy(struct client *c)
{
        for (;;) {
                int p = 0, r;
#define STEP(f)                                                                                    \
        do {                                                                                       \
                r = f(c);                                                                          \
                if (r >= CHANGED)                                                                  \
                        return r;                                                                  \
                p |= r;                                                                            \
        } while (0)
                STEP(req_send);
                STEP(up_read);
                STEP(resp_head);
                STEP(resp_send);
                if (!c->req_sent || !c->in.p || c->in.w < c->in.cap)
                        STEP(client_read);
#undef STEP
                if (!p)
                        return NOP;
        }
}

/* both ways, raw, after 101 */
static int step_tunnel(struct client *c)
{
        struct upconn *u = c->up;
        for (;;) {
                bool p = false;
                /* the 101 head first */
                if (c->out.r != c->out.w) {
                        if (!c->s.wr)
                                return NOP;
                        ssize_t k = write(c->s.fd, c->out.p + c->out.r, c->out.w - c->out.r);
                        if (k < 0) {
                                if (errno == EAGAIN) {
                                        c->s.wr = false;
                                        return NOP;
                                }
                                client_close(c);
                                return FREED;
                        }
                        c->out.r += (uint32_t)k;
                        c->resp_out = true;
                        continue;
                }
                /* client -> dyno */
                if (c->in.p && c->in.r < c->in.w && u->s.wr) {
                        ssize_t k = write(u->s.fd, c->in.p + c->in.r, c->in.w - c->in.r);
                        if (k < 0 && errno != EAGAIN)
                                goto gone;
                        if (k < 0)
                                u->s.wr = false;
                        else {
                                c->in.r += (uint32_t)k;
                                p = true;
                        }
                }
                if (c->in.p && c->in.r == c->in.w)
                        c->in.r = c->in.w = 0;
                if (!c->req_sent && c->s.rd && (!c->in.p || c->in.w < c->in.cap)) {
                        if (!c->in.p && buf_get(&c->in) < 0)
                                goto gone;
                        ssize_t k = read(c->s.fd, c->in.p + c->in.w, c->in.cap - c->in.w);
                        if (k > 0) {
                                c->in.w += (uint32_t)k;
                                p = true;
                        } else if (k < 0 && errno == EAGAIN) {
                                c->s.rd = false;
                        } else if (k == 0) {
                                c->req_sent = true; /* client EOF */
                                p = true;
                        } else {
                                goto gone;
                        }
                }
                if (c->req_sent && !c->reqp.done && c->in.r == c->in.w) {
                        (void)shutdown(u->s.fd, SHUT_WR);
                        c->reqp.done = true;
                }
                /* dyno -> client */
                if (u->in.p && u->in.r < u->in.w && c->s.wr) {
                        ssize_t k = write(c->s.fd, u->in.p + u->in.r, u->in.w - u->in.r);
                        if (k < 0 && errno != EAGAIN)
                                goto gone;
                        if (k < 0)
                                c->s.wr = false;
                        else {
                                u->in.r += (uint32_t)k;
                                c->bytes += (uint64_t)k;
                                p = true;
                        }
                }
                if (u->in.p && u->in.r == u->in.w)
                        u->in.r = u->in.w = 0;
                if (!c->up_eof && u->s.rd && (!u->in.p || u->in.w < u->in.cap)) {
                        if (!u->in.p && buf_get(&u->in) < 0)
                                goto gone;
                        ssize_t k = read(u->s.fd, u->in.p + u->in.w, u->in.cap - u->in.w);
                        if (k > 0) {
                                u->in.w += (uint32_t)k;
                                p = true;
                        } else if (k < 0 && errno == EAGAIN) {
                                u->s.rd = false;
                        } else if (k == 0) {
                                c->up_eof = true;
                                p = true;
                        } else {
                                goto gone;
                        }
                }
                if (c->up_eof && !c->resp.done && u->in.r == u->in.w) {
                        (void)shutdown(c->s.fd, SHUT_WR);
                        c->resp.done = true;
                }
                if (c->reqp.done && c->resp.done)
                        goto gone;
                if (!p)
                        return NOP;
                timer_arm(&c->t, T_IDLE);
        }
gone:
        client_close(c);
        return FREED;
}

static int step_respond(struct client *c)
{
        while (c->out.r < c->out.w) {
                if (!c->s.wr)
                        return NOP;
                ssize_t k = write(c->s.fd, c->out.p + c->out.r, c->out.w - c->out.r);
                if (k < 0) {
                        if (errno == EAGAIN) {
                                c->s.wr = false;
                                return NOP;
                        }
                        client_close(c);
                        return FREED;
                }
                c->out.r += (uint32_t)k;
        }
        if (!c->keep)
                return linger_close(c);
        /* the body of a request we answered ourselves was not read: only a
         * request without one keeps the connection */
        tx_reset(c);
        return CHANGED;
}

static int step_linger(struct client *c)
{
        while (c->s.rd) {
                ssize_t k = read(c->s.fd, w.scratch, sizeof(w.scratch));
                if (k > 0)
                        continue;
                if (k < 0 && errno == EAGAIN) {
                        c->s.rd = false;
                        return NOP;
                }
                client_close(c);
                return FREED;
        }
        return NOP;
}

/* Nothing is read while a request waits; only a client that gave up is
 * noticed (and its place given up: H27). */
static int step_wait(struct client *c)
{
        if (!c->s.hup)
                return NOP;
        char ch;
        ssize_t k = recv(c->s.fd, &ch, 1, MSG_PEEK | MSG_DONTWAIT);
        if (k > 0 || (k < 0 && errno == EAGAIN))
                return NOP;
        return tx_fail(c, RE_H27);
}

static int step_head(struct client *c)
{
        for (;;) {
                struct buf *b = &c->in;
                if (b->p && b->w > 0) {
                        if (!c->hdrs) {
                                c->hdrs = hdrs_get();
                                if (!c->hdrs) {
                                        client_close(c);
                                        return FREED;
                                }
                                c->msg.headers = c->hdrs;
                                c->msg.max_headers = HTTP1_MAX_HEADERS;
                        }
                        int r = http1_parse(&c->msg, b->p, b->w);
                        if (r > 0)
                                return begin_request(c);
                        if (r < 0)
                                return bad_request(c);
                        if (b->w == b->cap) {
                                if (b->cap >= HEAD_MAX || buf_grow(b, HEAD_MAX) < 0) {
                                        c->msg.error = "request head too large";
                                        return bad_request(c);
                                }
                        }
                }
                if (!c->s.rd) {
                        if (b->p && b->w == 0) {
                                buf_put(b); /* idle: no buffer */
                                hdrs_put(&c->hdrs);
                        }
                        return NOP;
                }
                if (!b->p && buf_get(b) < 0) {
                        client_close(c);
                        return FREED;
                }
                size_t space = b->cap - b->w;
                ssize_t k = read(c->s.fd, b->p + b->w, space);
                if (k > 0) {
                        if (b->w == 0 && !c->head_started) {
                                c->head_started = true;
                                c->t_start = w.now;
                                timer_arm(&c->t, T_HEADER);
                        }
                        b->w += (uint32_t)k;
                        if ((size_t)k < space && !c->s.hup)
                                c->s.rd = false;
                        continue;
                }
                if (k < 0 && errno == EAGAIN) {
                        c->s.rd = false;
                        continue;
                }
                client_close(c);
                return FREED;
        }
}

static void client_run(struct client *c)
{
        for (int guard = 0; guard < 10000; guard++) {
                int r;
                if (c->s.fd < 0)
                        return;
                switch (c->state) {
                case CS_HEAD:
                        r = step_head(c);
                        break;
                case CS_WAIT:
                        r = step_wait(c);
                        break;
                case CS_CONNECT:
                        r = step_connect(c);
                        break;
                case CS_PROXY:
                        r = step_proxy(c);
                        break;
                case CS_TUNNEL:
                        r = step_tunnel(c);
                        break;
                case CS_RESPOND:
                        r = step_respond(c);
                        break;
                default:
                        r = step_linger(c);
                        break;
                }
                if (r != CHANGED)
                        return;
        }
}

static void client_timeout(struct client *c, enum tclass cls)
{
        switch (cls) {
        case T_HEADER:
        case T_KEEPALIVE:
        case T_LINGER:
                client_close(c);
                return;
        case T_CONNECT:
                if (c->dyno)
                        w.stats[c->dyno->port].avoid_until = w.now + AVOID_USEC;
                (void)tx_fail(c, RE_H19);
                break;
        case T_RESPONSE:
                (void)tx_fail(c, RE_H12);
                break;
        case T_BOOT:
                (void)tx_fail(c, RE_H20);
                break;
        case T_QUEUE:
                (void)tx_fail(c, RE_H22);
                break;
        case T_IDLE:
                if (c->state == CS_TUNNEL || c->state == CS_RESPOND) {
                        client_close(c);
                        return;
                }
                if (c->resp_parsed) {
                        /* stuck writing to the client, or waiting for the dyno */
                        bool client_slow = !c->s.wr && (c->resp.ready || c->out.r != c->out.w);
                        (void)tx_fail(c, client_slow ? RE_H28 : RE_H15);
                } else {
                        bool client_slow = !c->reqp.done && !c->reqp.ready && c->in.r == c->in.w;
                        (void)tx_fail(c, client_slow ? RE_H28 : RE_H15);
                }
                break;
        default:
                return;
        }
        client_run(c);
}

/* ---- accepting --------------------------------------------------------- */

static void accept_all(void)
{
        for (;;) {
                struct sockaddr_storage ss;
                socklen_t sl = sizeof(ss);
                int fd = accept4(w.listen.fd, (struct sockaddr *)&ss, &sl,
                                 SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (fd < 0) {
                        if (errno == EINTR || errno == ECONNABORTED)
                                continue;
                        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
                            errno == ENOMEM) {
                                /* out of fds: try again on the next tick */
                                w.accept_paused = true;
                        }
                        return;
                }
                struct client *c;
                struct freeobj *f = w.free_clients;
                if (f) {
                        w.free_clients = f->next;
                        c = (struct client *)(void *)((char *)f - offsetof(struct client, prev));
                } else {
                        c = malloc(sizeof(*c));
                        if (!c) {
                                close(fd);
                                continue;
                        }
                }
                *c = (struct client){.s = {.fd = fd, .kind = K_CLIENT, .wr = true},
                                     .t = {.cls = T_NONE}};
                int one = 1;
                (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                if (ss.ss_family == AF_INET) {
                        struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
                        inet_ntop(AF_INET, &sin->sin_addr, c->ip, sizeof(c->ip));
                } else if (ss.ss_family == AF_INET6) {
                        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
                        if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr))
                                inet_ntop(AF_INET, &sin6->sin6_addr.s6_addr[12], c->ip,
                                          sizeof(c->ip));
                        else
                                inet_ntop(AF_INET6, &sin6->sin6_addr, c->ip, sizeof(c->ip));
                }
                http1_msg_init(&c->msg, HTTP1_REQUEST, NULL, 0);
                c->next = w.clients.next;
                c->prev = &w.clients;
                w.clients.next->prev = c;
                w.clients.next = c;
                w.n_clients++;
                if (watch(&c->s) < 0) {
                        client_close(c);
                        continue;
                }
                /* a new connection gets the header timeout, not 60 s */
                c->head_started = true;
                c->t_start = w.now;
                timer_arm(&c->t, T_HEADER);
        }
}

/* ---- the queues ------------------------------------------------------- */

static struct client *waiter_of(struct tnode *t)
{
        return (struct client *)(void *)((char *)t - offsetof(struct client, t));
}

/* A new table: waiting requests move to it (their app by name; the dynos
 * they tried are forgotten), and are looked at again after this batch. */
static void waiters_rehome(void)
{
        for (int cls = T_BOOT; cls <= T_QUEUE; cls++) {
                struct tnode *head = &w.timers[cls];
                for (struct tnode *t = head->next; t != head; t = t->next) {
                        struct client *c = waiter_of(t);
                        if (c->state != CS_WAIT || c->table == w.table)
                                continue;
                        struct table_app *a = c->app ? table_lookup_app(w.table, c->app->name) : NULL;
                        if (c->app)
                                c->app->n_waiting--;
                        if (a)
                                a->n_waiting++;
                        struct table *old = c->table;
                        c->table = table_ref(w.table);
                        c->app = a;
                        c->tried = 0;
                        c->tried_n = 0;
                        table_unref(old);
                }
        }
        w.kick = true;
}

/* Requests in the queues, in order of arrival, go on if they can now (a
 * slot opened, the table changed); the others keep their place. */
static void waiters_run(void)
{
        if (!w.kick)
                return;
        w.kick = false;
        for (int cls = T_QUEUE; cls >= T_BOOT; cls--) {
                struct tnode *head = &w.timers[cls];
                for (struct tnode *t = head->next, *next; t != head; t = next) {
                        next = t->next;
                        struct client *c = waiter_of(t);
                        if (c->s.fd < 0 || c->state != CS_WAIT)
                                continue;
                        unwait(c);
                        if (route(c, true) == CHANGED)
                                client_run(c);
                }
        }
}

/* ---- the table --------------------------------------------------------- */

static int table_load(void)
{
        int fd = open(w.cfg->table_path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return log_error_errno(errno, "opening routing table %s: %m", w.cfg->table_path);
        struct stat st;
        if (fstat(fd, &st) < 0 || st.st_size > 256 * 1024 * 1024) {
                close(fd);
                return log_error_errno(EFBIG, "routing table %s: %m", w.cfg->table_path);
        }
        size_t cap = (size_t)st.st_size + 1, n = 0;
        _cleanup_free_ char *text = malloc(cap);
        if (!text) {
                close(fd);
                return log_error_errno(ENOMEM, "reading %s: %m", w.cfg->table_path);
        }
        for (;;) {
                if (n == cap) {
                        char *t = realloc(text, cap *= 2);
                        if (!t) {
                                close(fd);
                                return log_error_errno(ENOMEM, "reading %s: %m", w.cfg->table_path);
                        }
                        text = t;
                }
                ssize_t k = read(fd, text + n, cap - n);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0) {
                        int r = -errno;
                        close(fd);
                        return log_error_errno(r, "reading %s: %m", w.cfg->table_path);
                }
                if (k == 0)
                        break;
                n += (size_t)k;
        }
        close(fd);
        struct table *t;
        const char *why = NULL;
        int r = table_parse(text, n, w.cfg->domain, &t, &why);
        if (r < 0) {
                log_error("routing table %s: %s; keeping the previous table", w.cfg->table_path,
                          why ? why : "invalid");
                return r;
        }
        table_unref(w.table);
        w.table = t;
        if (w.n_waiting)
                waiters_rehome();
        if (w.index == 0)
                log_info("routing table loaded: %zu apps", table_n_apps(t));
        return 0;
}

static void inotify_setup(void)
{
        char dir[PATH_MAX];
        snprintf(dir, sizeof(dir), "%s", w.cfg->table_path);
        char *slash = strrchr(dir, '/');
        if (slash) {
                w.table_base = w.cfg->table_path + (slash - dir) + 1;
                if (slash == dir)
                        slash[1] = '\0';
                else
                        *slash = '\0';
        } else {
                w.table_base = w.cfg->table_path;
                snprintf(dir, sizeof(dir), ".");
        }
        w.ino.fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        w.ino.kind = K_INOTIFY;
        if (w.ino.fd < 0)
                return;
        w.ino_wd = inotify_add_watch(w.ino.fd, dir, IN_CLOSE_WRITE | IN_MOVED_TO);
        if (w.ino_wd < 0 || watch(&w.ino) < 0) {
                close(w.ino.fd);
                w.ino.fd = -1;
        }
}

static void inotify_read(void)
{
        char evbuf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
        bool reload = false;
        for (;;) {
                ssize_t k = read(w.ino.fd, evbuf, sizeof(evbuf));
                if (k <= 0)
                        break;
                for (char *p = evbuf; p < evbuf + k;) {
                        struct inotify_event *ev = (struct inotify_event *)(void *)p;
                        if (ev->len && streq(ev->name, w.table_base))
                                reload = true;
                        p += sizeof(*ev) + ev->len;
                }
        }
        if (reload)
                (void)table_load();
}

/* ---- shutdown ---------------------------------------------------------- */

static void drain_start(void)
{
        if (w.draining)
                return;
        w.draining = true;
        w.drain_deadline = w.now + w.cfg->drain_timeout;
        /* take what the kernel has queued for us, then stop listening */
        accept_all();
        close(w.listen.fd);
        w.listen.fd = -1;
        /* idle keep-alive connections go now; busy ones after their response */
        for (struct client *c = w.clients.next, *next; c != &w.clients; c = next) {
                next = c->next;
                if (c->state == CS_HEAD && (!c->in.p || c->in.w == 0) && c->s.fd >= 0)
                        client_close(c);
        }
        for (uint32_t p = 0; p < 65536; p++)
                while (w.stats[p].idle)
                        up_close(w.stats[p].idle);
}

static void signal_read(void)
{
        struct signalfd_siginfo si;
        while (read(w.sig.fd, &si, sizeof(si)) == sizeof(si)) {
                if (si.ssi_signo == SIGHUP)
                        (void)table_load();
                else if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
                        drain_start();
        }
}

static void recycle_dead(void)
{
        while (w.dead_clients) {
                struct freeobj *f = w.dead_clients;
                w.dead_clients = f->next;
                f->next = w.free_clients;
                w.free_clients = f;
        }
        while (w.dead_ups) {
                struct upconn *u = w.dead_ups;
                w.dead_ups = u->dead_next;
                struct freeobj *f = (struct freeobj *)(void *)u;
                f->next = w.free_ups;
                w.free_ups = f;
        }
}

static void timers_run(void)
{
        for (int cls = 0; cls < _T_MAX; cls++) {
                struct tnode *head = &w.timers[cls];
                while (head->next != head && head->next->deadline <= w.now) {
                        struct tnode *t = head->next;
                        timer_stop(t);
                        if (cls == T_POOL) {
                                struct upconn *u = (struct upconn *)(void *)((char *)t -
                                                                             offsetof(struct upconn, t));
                                up_close(u);
                        } else {
                                struct client *c = (struct client *)(void *)((char *)t -
                                                                             offsetof(struct client, t));
                                client_timeout(c, (enum tclass)cls);
                        }
                }
        }
}

static int next_timeout_ms(void)
{
        int64_t best = w.now + 1000000;
        for (int cls = 0; cls < _T_MAX; cls++) {
                struct tnode *head = &w.timers[cls];
                if (head->next != head && head->next->deadline < best)
                        best = head->next->deadline;
        }
        if (w.accept_paused && best > w.now + 100000)
                best = w.now + 100000;
        if (w.log_len && best > w.now + 10000)
                best = w.now + 10000;
        if ((w.bufs.n > CACHE_MIN || w.hdrs.n > CACHE_MIN) && best > w.trimmed + CACHE_TRIM_USEC)
                best = w.trimmed + CACHE_TRIM_USEC;
        int64_t d = best - w.now;
        return d <= 0 ? 0 : (int)((d + 999) / 1000);
}

int worker_run(const struct router_config *cfg, int worker_index, int listen_fd, int log_fd)
{
        w.cfg = cfg;
        w.index = worker_index;
        w.log_fd = log_fd;
        w.clients.next = w.clients.prev = &w.clients;
        w.ts_sec = -1;
        snprintf(w.port_str, sizeof(w.port_str), "%u", cfg->listen_port);
        for (int i = 0; i < _T_MAX; i++)
                w.timers[i].next = w.timers[i].prev = &w.timers[i];
        w.tdur[T_HEADER] = cfg->header_timeout;
        w.tdur[T_KEEPALIVE] = cfg->keepalive_timeout;
        w.tdur[T_CONNECT] = cfg->connect_timeout;
        w.tdur[T_RESPONSE] = cfg->response_timeout;
        w.tdur[T_IDLE] = cfg->idle_timeout;
        w.tdur[T_LINGER] = LINGER_USEC;
        w.tdur[T_POOL] = cfg->pool_timeout;
        w.tdur[T_BOOT] = cfg->boot_timeout;
        w.tdur[T_QUEUE] = cfg->connect_timeout;
        w.conn_limit = cfg->dyno_conn_limit ? cfg->dyno_conn_limit : UINT32_MAX;
        w.rnd_pos = sizeof(w.rnd);
        if (random_bytes(&w.xs, sizeof(w.xs)) < 0 || !w.xs)
                w.xs = 0x9E3779B97F4A7C15ULL ^ (uint64_t)getpid();
        /* Buffers beyond the warm caches are mmap()ed, so that a burst's
         * memory goes back to the kernel when it is over instead of staying
         * in the heap of a worker that then sits on idle connections. */
        (void)mallopt(M_MMAP_THRESHOLD, BUF_SIZE);
        w.stats = calloc(65536, sizeof(*w.stats));
        w.logbuf = malloc(LOG_BUF_SIZE);
        if (!w.stats || !w.logbuf)
                return log_error_errno(ENOMEM, "worker %d: %m", worker_index), 1;
        now_update();

        w.epfd = epoll_create1(EPOLL_CLOEXEC);
        if (w.epfd < 0)
                return log_error_errno(errno, "epoll_create1: %m"), 1;
        sigset_t mask;
        sigemptyset(&mask);
        sigaddset(&mask, SIGHUP);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        w.sig = (struct sock){.fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC), .kind = K_SIGNAL};
        w.listen = (struct sock){.fd = listen_fd, .kind = K_LISTEN};
        if (w.sig.fd < 0 || watch(&w.sig) < 0 || watch(&w.listen) < 0)
                return log_error_errno(errno, "worker %d: setting up epoll: %m", worker_index), 1;
        /* Watch first, then load: a table renamed into place in between
         * is then reloaded rather than missed. */
        inotify_setup();
        if (table_load() < 0 && !w.table) {
                /* serve 404s until a valid table arrives */
                const char *why;
                (void)table_parse("{\"apps\":[]}", 11, NULL, &w.table, &why);
        }

        struct epoll_event evs[MAX_EVENTS];
        for (;;) {
                if (w.draining && (w.n_clients == 0 || w.now >= w.drain_deadline))
                        break;
                int n = epoll_wait(w.epfd, evs, MAX_EVENTS, next_timeout_ms());
                if (n < 0 && errno != EINTR)
                        return log_error_errno(errno, "epoll_wait: %m"), 1;
                now_update();
                for (int i = 0; i < n; i++) {
                        struct sock *s = evs[i].data.ptr;
                        uint32_t e = evs[i].events;
                        if (s->fd < 0)
                                continue;
                        switch (s->kind) {
                        case K_LISTEN:
                                accept_all();
                                break;
                        case K_SIGNAL:
                                signal_read();
                                break;
                        case K_INOTIFY:
                                inotify_read();
                                break;
                        case K_CLIENT:
                        case K_UP:
                                if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
                                        s->rd = true;
                                if (e & (EPOLLOUT | EPOLLHUP | EPOLLERR))
                                        s->wr = true;
                                if (e & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
                                        s->hup = true;
                                if (s->kind == K_CLIENT) {
                                        client_run((struct client *)s);
                                } else {
                                        struct upconn *u = (struct upconn *)s;
                                        if (u->c)
                                                client_run(u->c);
                                        else if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
                                                up_close(u); /* idle and closed (or chatty) */
                                }
                                break;
                        }
                }
                if (w.accept_paused && w.listen.fd >= 0) {
                        w.accept_paused = false;
                        accept_all();
                }
                waiters_run();
                timers_run();
                recycle_dead();
                if (w.now - w.trimmed >= CACHE_TRIM_USEC) {
                        cache_trim(&w.bufs);
                        cache_trim(&w.hdrs);
                        w.trimmed = w.now;
                }
                /* Batched: under load one write carries many lines, which
                 * saves the worker syscalls and the master wake-ups. */
                if (w.log_len >= 32768 || (w.log_len && w.now - w.log_flushed >= 20000)) {
                        log_flush();
                        w.log_flushed = w.now;
                }
        }
        /* out of time: whatever is left is cut */
        for (struct client *c = w.clients.next, *next; c != &w.clients; c = next) {
                next = c->next;
                client_close(c);
        }
        recycle_dead();
        if (w.log_len)
                log_flush();
        return 0;
}
