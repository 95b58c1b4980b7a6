/* The log hub: every line of an app in one ordered stream (SPEC.md §6).
 *
 * Producers (dyno output, dyno lifecycle, the router's access lines, API
 * events) call loghub_append(); the hub stamps the line at arrival, keeps
 * the app's last LOGHUB_KEEP lines in memory and on disk (HOME/logs, so
 * they survive a pierd restart), and hands it to every consumer of the app
 * (tails, drains).
 *
 * A line is immutable and shared by reference: the ring and each consumer
 * queue hold a reference.  Appending never blocks and never waits for a
 * consumer: each consumer has its own bounded queue; when it is full the
 * oldest line of that queue is dropped and counted, and the consumer's next
 * read starts with `Error L10 (output buffer overflow): N messages dropped
 * since TIMESTAMP` (as heroku[logplex]).
 *
 * Everything runs on the pierd loop; nothing here is thread-safe.
 */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/loop.h"

#define LOGHUB_KEEP      1500  /* lines per app, SPEC §6 */
#define LOGHUB_LINE_MAX  10000 /* message bytes; a longer one is split */

/* One line: "2026-11-26T13:47:20.677020+00:00 SOURCE[PROC]: MESSAGE".
 * `text` is the whole line without a newline (any bytes but '\n'; may hold
 * invalid UTF-8 or NULs, so always use text_len).  The other fields point
 * into it.  Read-only for everybody but the hub. */
struct logline {
        unsigned refs;
        int64_t usec;      /* arrival, strictly increasing per app */
        const char *text;
        size_t text_len;
        const char *source; /* "app", "heroku" */
        size_t source_len;
        const char *proc;   /* "web.1", "router", "api" */
        size_t proc_len;
        const char *msg;
        size_t msg_len;
};

struct logline *logline_ref(struct logline *l);
void logline_unref(struct logline *l);

struct loghub;

/* dir: where the app's lines are kept (created if missing). */
int loghub_new(struct loop *loop, const char *dir, struct loghub **ret);
/* Writes what is pending, frees every line; consumers must be gone. */
struct loghub *loghub_free(struct loghub *h);

/* Appends msg to the app's stream: one line per '\n'-ended piece (a '\r'
 * before the '\n' dropped) and one for the rest, if any; msg may be any
 * bytes, a line over LOGHUB_LINE_MAX bytes is split. */
void loghub_append(struct loghub *h, const char *app_id, const char *source, const char *proc,
                   const char *msg, size_t len);
__attribute__((format(printf, 5, 6))) void loghub_appendf(struct loghub *h, const char *app_id,
                                                          const char *source, const char *proc,
                                                          const char *fmt, ...);
/* The app was destroyed: its lines go (memory and disk); its consumers
 * see the end of the stream (loghub_next() returns NULL and *ended). */
void loghub_app_removed(struct loghub *h, const char *app_id);

/* Calls fn for the app's kept lines, oldest first: the last `max` of them
 * that are newer than since_usec (0: all). */
void loghub_history(struct loghub *h, const char *app_id, size_t max, int64_t since_usec,
                    void (*fn)(const struct logline *l, void *ud), void *ud);

/* A consumer of an app's stream: a tail or a drain.  It sees every line
 * appended after it was made.  `queue_max` lines wait for it at most (the
 * oldest are dropped beyond, see above).  `notify` is called (from inside
 * loghub_append()) when its queue goes from empty to not empty; it must
 * not call back into the hub, only schedule a read (a timer, an fd). */
struct loghub_consumer;

int loghub_consumer_new(struct loghub *h, const char *app_id, size_t queue_max,
                        void (*notify)(void *ud), void *ud, struct loghub_consumer **ret);
/* The next line (a reference the caller must unref), or NULL when the queue
 * is empty (then `notify` is called again on the next line) or the stream
 * ended (the app was removed; *ended set).  After drops, the next line is
 * the L10 notice. */
struct logline *loghub_next(struct loghub_consumer *c, bool *ended);
/* Lines waiting. */
size_t loghub_pending(const struct loghub_consumer *c);
void loghub_consumer_free(struct loghub_consumer *c);
