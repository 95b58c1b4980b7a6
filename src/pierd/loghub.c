/* The log hub.  See loghub.h.
 *
 * Per app: a ring of the last LOGHUB_KEEP lines, the list of consumers, and
 * two files in the hub's directory, ID.log and ID.log.1, used in turn: one
 * is appended to until it holds LOGHUB_KEEP lines, then the other is
 * truncated and takes over (no file is created or renamed in a flood:
 * creating inodes was a third of the hub's time).  Appends are batched in
 * memory and written by a timer FLUSH_MS later, so a burst of lines costs
 * one write().  Loading reads both, older first (by their first stamps),
 * and keeps the last LOGHUB_KEEP lines.  On disk an app never takes much
 * more than 2 × LOGHUB_KEEP lines.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/strbuf.h"
#include "lib/timefmt.h"
#include "lib/util.h"
#include "pierd/loghub.h"

#define FLUSH_MS     10
#define BUCKETS      256
#define FILE_MAX     (64u * 1024 * 1024) /* a log file bigger than this is not read */

struct app_log {
        struct app_log *next; /* in its bucket */
        struct app_log *next_dirty;
        char id[40];
        struct logline *ring[LOGHUB_KEEP];
        size_t ring_next, ring_count;
        int64_t last_usec;
        struct loghub_consumer *consumers;
        struct strbuf pending; /* lines not written to disk yet */
        size_t pending_lines;
        size_t file_lines;     /* lines in the file being appended to */
        unsigned slot;         /* which: 0 = ID.log, 1 = ID.log.1 */
        bool dirty;
};

struct loghub_consumer {
        struct loghub *hub;
        struct app_log *app; /* NULL once the stream ended */
        struct loghub_consumer *prev, *next;
        struct logline **q;
        size_t cap, head, count;
        size_t dropped;
        int64_t dropped_since;
        bool armed; /* notify on the next line */
        void (*notify)(void *ud);
        void *ud;
};

struct loghub {
        struct loop *loop;
        char *dir;
        struct app_log *buckets[BUCKETS];
        struct app_log *dirty;
        struct loop_timer *flush_timer;
        bool flush_armed;
};

/* ---- lines ---- */

struct logline *logline_ref(struct logline *l)
{
        l->refs++;
        return l;
}

void logline_unref(struct logline *l)
{
        if (l && --l->refs == 0)
                free(l);
}

/* "2026-11-26T13:47:20.677020+00:00" into buf; its length.  The part up to
 * the second is formatted once a second. */
static size_t stamp(int64_t usec, char buf[static 48])
{
        static int64_t cached_sec = INT64_MIN;
        static char prefix[40];
        static size_t prefix_len;
        int64_t sec = usec / USEC_PER_SEC, frac = usec % USEC_PER_SEC;
        if (frac < 0) {
                sec--;
                frac += USEC_PER_SEC;
        }
        if (sec != cached_sec) {
                char full[40];
                time_rfc3339_usec(sec * USEC_PER_SEC, full);
                prefix_len = strcspn(full, ".");
                memcpy(prefix, full, prefix_len);
                cached_sec = sec;
        }
        memcpy(buf, prefix, prefix_len);
        char *p = buf + prefix_len;
        *p++ = '.';
        for (int i = 5; i >= 0; i--, frac /= 10)
                p[i] = (char)('0' + frac % 10);
        memcpy(p + 6, "+00:00", 7);
        return prefix_len + 1 + 6 + 6;
}

/* One allocation: the struct, then the text. */
static struct logline *logline_make(int64_t usec, const char *source, const char *proc,
                                    const char *msg, size_t len)
{
        char ts[48];
        size_t tlen = stamp(usec, ts);
        size_t slen = strlen(source), plen = strlen(proc);
        size_t total = tlen + 1 + slen + 1 + plen + 3 + len;
        struct logline *l = malloc(sizeof(*l) + total + 1);
        if (!l)
                return NULL;
        char *t = (char *)(l + 1);
        char *p = t;
        memcpy(p, ts, tlen), p += tlen;
        *p++ = ' ';
        l->source = p, l->source_len = slen;
        memcpy(p, source, slen), p += slen;
        *p++ = '[';
        l->proc = p, l->proc_len = plen;
        memcpy(p, proc, plen), p += plen;
        memcpy(p, "]: ", 3), p += 3;
        l->msg = p, l->msg_len = len;
        memcpy(p, msg, len), p += len;
        *p = '\0';
        l->text = t;
        l->text_len = (size_t)(p - t);
        l->usec = usec;
        l->refs = 1;
        return l;
}

/* A line read back from disk: "TS SOURCE[PROC]: MSG". */
static struct logline *logline_parse(const char *s, size_t len)
{
        const char *sp = memchr(s, ' ', len);
        if (!sp || sp - s >= 40)
                return NULL;
        char ts[40];
        memcpy(ts, s, (size_t)(sp - s));
        ts[sp - s] = '\0';
        int64_t usec;
        if (time_parse_iso8601(ts, &usec) < 0)
                return NULL;
        const char *src = sp + 1, *end = s + len;
        const char *lb = memchr(src, '[', (size_t)(end - src));
        if (!lb)
                return NULL;
        const char *rb = memchr(lb, ']', (size_t)(end - lb));
        if (!rb || end - rb < 3 || rb[1] != ':' || rb[2] != ' ')
                return NULL;
        char source[16], proc[96];
        size_t slen = (size_t)(lb - src), plen = (size_t)(rb - lb - 1);
        if (slen == 0 || slen >= sizeof(source) || plen == 0 || plen >= sizeof(proc))
                return NULL;
        memcpy(source, src, slen), source[slen] = '\0';
        memcpy(proc, lb + 1, plen), proc[plen] = '\0';
        return logline_make(usec, source, proc, rb + 3, (size_t)(end - rb - 3));
}

/* ---- apps ---- */

static unsigned bucket_of(const char *id)
{
        unsigned h = 5381;
        for (const char *p = id; *p; p++)
                h = h * 33 + (unsigned char)*p;
        return h % BUCKETS;
}

/* App ids name files: only what a UUID has. */
static bool id_valid(const char *id)
{
        size_t n = strlen(id);
        return n > 0 && n < sizeof(((struct app_log *)0)->id) &&
               strspn(id, "0123456789abcdefABCDEF-") == n;
}

static void ring_push(struct app_log *a, struct logline *l)
{
        logline_unref(a->ring[a->ring_next]);
        a->ring[a->ring_next] = l;
        a->ring_next = (a->ring_next + 1) % LOGHUB_KEEP;
        if (a->ring_count < LOGHUB_KEEP)
                a->ring_count++;
}

static char *log_path(const struct loghub *h, const char *id, const char *suffix)
{
        char *p = NULL;
        if (asprintf(&p, "%s/%s.log%s", h->dir, id, suffix) < 0)
                return NULL;
        return p;
}

/* Reads one file's complete lines into the ring; returns how many. */
static size_t load_file(struct app_log *a, const char *path, bool truncate_partial)
{
        _cleanup_close_ int fd = open(path, (truncate_partial ? O_RDWR : O_RDONLY) | O_CLOEXEC);
        if (fd < 0)
                return 0;
        struct stat st;
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > FILE_MAX) {
                log_warning("logs: %s is not a log file pierd can read; ignored", path);
                return 0;
        }
        size_t size = (size_t)st.st_size;
        _cleanup_free_ char *buf = malloc(size + 1);
        if (!buf)
                return 0;
        size_t got = 0;
        while (got < size) {
                ssize_t n = read(fd, buf + got, size - got);
                if (n <= 0)
                        break;
                got += (size_t)n;
        }
        size_t lines = 0, start = 0;
        for (size_t i = 0; i < got; i++) {
                if (buf[i] != '\n')
                        continue;
                struct logline *l = logline_parse(buf + start, i - start);
                if (l) {
                        ring_push(a, l);
                        a->last_usec = MAX(a->last_usec, l->usec);
                }
                lines++;
                start = i + 1;
        }
        /* A line cut short by a crash: drop it, so that the next one does
         * not continue it. */
        if (truncate_partial && start < got && ftruncate(fd, (off_t)start) < 0)
                log_warning("logs: truncating %s: %m", path);
        return lines;
}

static const char *const slot_suffix[2] = {"", ".1"};

/* The stamp of a file's first line; 0 when it has none. */
static int64_t first_stamp(const char *path)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        char buf[48];
        ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
        if (n <= 0)
                return 0;
        buf[n] = '\0';
        buf[strcspn(buf, " ")] = '\0';
        int64_t usec;
        return time_parse_iso8601(buf, &usec) < 0 ? 0 : usec;
}

static struct app_log *app_find(struct loghub *h, const char *id)
{
        for (struct app_log *a = h->buckets[bucket_of(id)]; a; a = a->next)
                if (streq(a->id, id))
                        return a;
        return NULL;
}

/* The app's log, loaded from disk the first time. */
static struct app_log *app_get(struct loghub *h, const char *id)
{
        struct app_log *a = app_find(h, id);
        if (a || !id_valid(id))
                return a;
        a = calloc(1, sizeof(*a));
        if (!a)
                return NULL;
        snprintf(a->id, sizeof(a->id), "%s", id);
        _cleanup_free_ char *p0 = log_path(h, id, slot_suffix[0]);
        _cleanup_free_ char *p1 = log_path(h, id, slot_suffix[1]);
        if (p0 && p1) {
                /* The one with the newer first line is being appended to. */
                a->slot = first_stamp(p1) > first_stamp(p0) ? 1 : 0;
                load_file(a, a->slot ? p0 : p1, false);
                a->file_lines = load_file(a, a->slot ? p1 : p0, true);
        }
        unsigned b = bucket_of(id);
        a->next = h->buckets[b];
        h->buckets[b] = a;
        return a;
}

static void app_free(struct app_log *a)
{
        for (size_t i = 0; i < LOGHUB_KEEP; i++)
                logline_unref(a->ring[i]);
        strbuf_release(&a->pending);
        free(a);
}

/* ---- disk ---- */

static void flush_app(struct loghub *h, struct app_log *a)
{
        if (a->pending.len == 0)
                return;
        _cleanup_free_ char *cur = log_path(h, a->id, slot_suffix[a->slot]);
        _cleanup_close_ int fd =
                cur ? open(cur, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600) : -EBADF;
        if (fd < 0) {
                log_warning("logs: opening %s: %m; lines kept in memory only", cur ? cur : "?");
        } else {
                size_t off = 0;
                while (off < a->pending.len) {
                        ssize_t n = write(fd, a->pending.buf + off, a->pending.len - off);
                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n <= 0) {
                                log_warning("logs: writing %s: %m", cur);
                                break;
                        }
                        off += (size_t)n;
                }
        }
        a->file_lines += a->pending_lines;
        a->pending_lines = 0;
        strbuf_reset(&a->pending);
        if (a->file_lines >= LOGHUB_KEEP) {
                a->slot ^= 1;
                a->file_lines = 0;
                _cleanup_free_ char *next = log_path(h, a->id, slot_suffix[a->slot]);
                _cleanup_close_ int nfd =
                        next ? open(next, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600) : -EBADF;
                if (nfd < 0)
                        log_warning("logs: emptying %s: %m", next ? next : "?");
        }
}

static void flush_all(struct loghub *h)
{
        while (h->dirty) {
                struct app_log *a = h->dirty;
                h->dirty = a->next_dirty;
                a->dirty = false;
                flush_app(h, a);
        }
        h->flush_armed = false;
}

static void on_flush(struct loop_timer *t, void *userdata)
{
        flush_all(userdata);
}

/* ---- the hub ---- */

int loghub_new(struct loop *loop, const char *dir, struct loghub **ret)
{
        struct loghub *h = calloc(1, sizeof(*h));
        if (!h)
                return -ENOMEM;
        h->loop = loop;
        h->dir = strdup(dir);
        if (!h->dir) {
                free(h);
                return -ENOMEM;
        }
        if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
                int r = -errno;
                loghub_free(h);
                return r;
        }
        int r = loop_add_timer(loop, 0, on_flush, h, &h->flush_timer);
        if (r < 0) {
                loghub_free(h);
                return r;
        }
        loop_timer_disable(h->flush_timer);
        *ret = h;
        return 0;
}

struct loghub *loghub_free(struct loghub *h)
{
        if (!h)
                return NULL;
        flush_all(h);
        for (size_t b = 0; b < BUCKETS; b++)
                while (h->buckets[b]) {
                        struct app_log *a = h->buckets[b];
                        h->buckets[b] = a->next;
                        for (struct loghub_consumer *c = a->consumers; c; c = c->next)
                                c->app = NULL;
                        app_free(a);
                }
        loop_timer_free(h->flush_timer);
        free(h->dir);
        free(h);
        return NULL;
}

static void consumer_push(struct loghub_consumer *c, struct logline *l)
{
        if (c->count == c->cap) {
                if (c->dropped++ == 0)
                        c->dropped_since = c->q[c->head]->usec;
                logline_unref(c->q[c->head]);
                c->head = (c->head + 1) % c->cap;
                c->count--;
        }
        c->q[(c->head + c->count) % c->cap] = logline_ref(l);
        c->count++;
        if (c->armed) {
                c->armed = false;
                c->notify(c->ud);
        }
}

static void append_one(struct loghub *h, struct app_log *a, const char *source, const char *proc,
                       const char *msg, size_t len, int64_t now)
{
        /* Strictly increasing per app: tails resume after a stamp. */
        int64_t usec = MAX(now, a->last_usec + 1);
        struct logline *l = logline_make(usec, source, proc, msg, len);
        if (!l)
                return;
        a->last_usec = usec;
        if (strbuf_add(&a->pending, l->text, l->text_len) == 0 &&
            strbuf_addch(&a->pending, '\n') == 0)
                a->pending_lines++;
        /* A flood: write now, so that no file gets much over LOGHUB_KEEP
         * lines before it is rotated. */
        if (a->pending_lines >= LOGHUB_KEEP)
                flush_app(h, a);
        if (!a->dirty) {
                a->dirty = true;
                a->next_dirty = h->dirty;
                h->dirty = a;
        }
        if (!h->flush_armed) {
                h->flush_armed = true;
                loop_timer_set(h->flush_timer, (uint64_t)mono_usec() + FLUSH_MS * 1000);
        }
        for (struct loghub_consumer *c = a->consumers; c; c = c->next)
                consumer_push(c, l);
        ring_push(a, l); /* takes the reference */
}

/* One line per '\n'-ended piece of msg (a '\r' before the '\n' dropped)
 * and the rest, if any; all stamped from one reading of the clock: a
 * dyno's read brings ~150 lines at a time. */
void loghub_append(struct loghub *h, const char *app_id, const char *source, const char *proc,
                   const char *msg, size_t len)
{
        struct app_log *a = app_get(h, app_id);
        if (!a)
                return;
        int64_t now = now_usec();
        for (;;) {
                const char *nl = memchr(msg, '\n', len);
                size_t n = nl ? (size_t)(nl - msg) : len;
                const char *next = msg + n + (nl ? 1 : 0);
                size_t rest = len - n - (nl ? 1 : 0);
                while (n > LOGHUB_LINE_MAX) {
                        append_one(h, a, source, proc, msg, LOGHUB_LINE_MAX, now);
                        msg += LOGHUB_LINE_MAX;
                        n -= LOGHUB_LINE_MAX;
                }
                if (n > 0 && msg[n - 1] == '\r')
                        n--;
                append_one(h, a, source, proc, msg, n, now);
                if (!nl || rest == 0)
                        break;
                msg = next;
                len = rest;
        }
}

void loghub_appendf(struct loghub *h, const char *app_id, const char *source, const char *proc,
                    const char *fmt, ...)
{
        _cleanup_free_ char *msg = NULL;
        va_list ap;
        va_start(ap, fmt);
        int n = vasprintf(&msg, fmt, ap);
        va_end(ap);
        if (n >= 0)
                loghub_append(h, app_id, source, proc, msg, (size_t)n);
}

void loghub_app_removed(struct loghub *h, const char *app_id)
{
        struct app_log *a = app_find(h, app_id);
        if (a) {
                for (struct app_log **p = &h->dirty; *p; p = &(*p)->next_dirty)
                        if (*p == a) {
                                *p = a->next_dirty;
                                break;
                        }
                for (struct app_log **p = &h->buckets[bucket_of(app_id)]; *p; p = &(*p)->next)
                        if (*p == a) {
                                *p = a->next;
                                break;
                        }
                for (struct loghub_consumer *c = a->consumers; c; c = c->next) {
                        c->app = NULL;
                        c->notify(c->ud);
                }
                app_free(a);
        }
        if (!id_valid(app_id))
                return;
        _cleanup_free_ char *old = log_path(h, app_id, ".1");
        _cleanup_free_ char *cur = log_path(h, app_id, "");
        if (old)
                (void)unlink(old);
        if (cur)
                (void)unlink(cur);
}

void loghub_history(struct loghub *h, const char *app_id, size_t max, int64_t since_usec,
                    void (*fn)(const struct logline *l, void *ud), void *ud)
{
        struct app_log *a = app_get(h, app_id);
        if (!a)
                return;
        /* The newest `max` lines newer than since_usec. */
        size_t n = 0;
        while (n < a->ring_count && n < max) {
                const struct logline *l =
                        a->ring[(a->ring_next + LOGHUB_KEEP - 1 - n) % LOGHUB_KEEP];
                if (l->usec <= since_usec)
                        break;
                n++;
        }
        for (size_t i = n; i > 0; i--)
                fn(a->ring[(a->ring_next + LOGHUB_KEEP - i) % LOGHUB_KEEP], ud);
}

/* ---- consumers ---- */

int loghub_consumer_new(struct loghub *h, const char *app_id, size_t queue_max,
                        void (*notify)(void *ud), void *ud, struct loghub_consumer **ret)
{
        struct app_log *a = app_get(h, app_id);
        if (!a)
                return id_valid(app_id) ? -ENOMEM : -EINVAL;
        struct loghub_consumer *c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->cap = MAX(queue_max, (size_t)1);
        c->q = calloc(c->cap, sizeof(*c->q));
        if (!c->q) {
                free(c);
                return -ENOMEM;
        }
        c->hub = h;
        c->app = a;
        c->notify = notify;
        c->ud = ud;
        c->armed = true;
        c->next = a->consumers;
        if (a->consumers)
                a->consumers->prev = c;
        a->consumers = c;
        *ret = c;
        return 0;
}

struct logline *loghub_next(struct loghub_consumer *c, bool *ended)
{
        *ended = false;
        if (c->dropped > 0) {
                char since[40], msg[160];
                time_rfc3339_usec(c->dropped_since, since);
                int n = snprintf(msg, sizeof(msg),
                                 "Error L10 (output buffer overflow): %zu messages dropped "
                                 "since %s",
                                 c->dropped, since);
                c->dropped = 0;
                struct logline *l = logline_make(now_usec(), "heroku", "logplex", msg,
                                                 (size_t)MIN(n, (int)sizeof(msg) - 1));
                if (l)
                        return l;
        }
        if (c->count > 0) {
                struct logline *l = c->q[c->head];
                c->q[c->head] = NULL;
                c->head = (c->head + 1) % c->cap;
                c->count--;
                return l;
        }
        if (!c->app)
                *ended = true;
        else
                c->armed = true;
        return NULL;
}

size_t loghub_pending(const struct loghub_consumer *c)
{
        return c->count;
}

void loghub_consumer_free(struct loghub_consumer *c)
{
        if (!c)
                return;
        if (c->app) {
                if (c->prev)
                        c->prev->next = c->next;
                else
                        c->app->consumers = c->next;
                if (c->next)
                        c->next->prev = c->prev;
        }
        while (c->count > 0) {
                logline_unref(c->q[c->head]);
                c->head = (c->head + 1) % c->cap;
                c->count--;
        }
        free(c->q);
        free(c);
}
