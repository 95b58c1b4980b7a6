/* The logs API: an app's last lines as JSON (GET /apps/APP/log-lines) and
 * as a text stream that can stay open (GET /apps/APP/log-stream), the way
 * `pier logs` and `pier logs --tail` read them.  See docs/api.md.
 *
 * A stream is a loghub consumer behind a libmicrohttpd callback response:
 * the reader copies whole lines into MHD's buffer; when none are waiting
 * the connection is suspended, and the hub's notify resumes it.  Every
 * HEARTBEAT_MS of silence a tail gets an empty line, so that a client that
 * went away is noticed and its consumer freed.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/strbuf.h"
#include "lib/timefmt.h"
#include "lib/utf8.h"
#include "lib/util.h"
#include "pierd/api-int.h"
#include "pierd/loghub.h"

#define LOG_LINES_MAX 1500
#define TAIL_QUEUE    20000  /* lines a slow tail may lag behind */
#define STREAM_CHUNK  (64 * 1024)
#define HEARTBEAT_MS  15000

struct log_tail {
        struct api *api;
        struct MHD_Connection *conn;
        struct log_tail *prev, *next;
        struct loghub_consumer *consumer;
        struct strbuf history; /* the backlog, sent first */
        size_t history_off;
        struct logline *line; /* being sent, from line_off on */
        size_t line_off;
        bool follow, suspended, shutting_down, heartbeat_due;
        struct loop_timer *heartbeat;
};

/* ---- JSON ---- */

/* A line as a JSON string: dyno output may be any bytes, so what is not
 * valid UTF-8 becomes U+FFFD. */
static json_t *line_json(const struct logline *l)
{
        if (utf8_valid(l->text, l->text_len))
                return json_stringn(l->text, l->text_len);
        struct strbuf sb = STRBUF_INIT;
        json_t *s = utf8_sanitize(l->text, l->text_len, &sb) < 0 ? NULL
                    : sb.buf                                     ? json_stringn(sb.buf, sb.len)
                                                                 : json_string("");
        strbuf_release(&sb);
        return s;
}

static void add_line_json(const struct logline *l, void *ud)
{
        json_array_append_new(ud, line_json(l));
}

static int lines_param(struct call *c, int64_t def, int64_t *ret)
{
        const char *n = MHD_lookup_connection_value(c->conn, MHD_GET_ARGUMENT_KIND, "lines");
        *ret = def;
        if (n && (safe_atoi64(n, ret) < 0 || *ret < 0 || *ret > LOG_LINES_MAX))
                return fail(c, 422, "lines must be 0 to %d", LOG_LINES_MAX), -EINVAL;
        return 0;
}

unsigned h_log_lines(struct call *c)
{
        _cleanup_(app_freep) struct app *app = NULL;
        if (load_app(c, &app) < 0)
                return c->status;
        int64_t lines;
        if (lines_param(c, 100, &lines) < 0)
                return c->status;
        c->out = json_array();
        if (!c->out)
                return fail(c, 500, "out of memory");
        loghub_history(c->api->hub, app->id, (size_t)lines, 0, add_line_json, c->out);
        return 200;
}

/* ---- streams ---- */

static void add_line_text(const struct logline *l, void *ud)
{
        struct strbuf *sb = ud;
        if (strbuf_add(sb, l->text, l->text_len) == 0)
                strbuf_addch(sb, '\n');
}

static void tail_resume(struct log_tail *t)
{
        if (t->suspended) {
                t->suspended = false;
                MHD_resume_connection(t->conn);
                api_wake(t->api);
        }
}

static void on_line(void *ud)
{
        tail_resume(ud);
}

static void on_heartbeat(struct loop_timer *timer, void *ud)
{
        struct log_tail *t = ud;
        t->heartbeat_due = true;
        tail_resume(t);
}

static ssize_t read_stream(void *cls, uint64_t pos, char *out, size_t max)
{
        struct log_tail *t = cls;
        size_t n = 0;
        if (t->history_off < t->history.len) {
                n = MIN(max, t->history.len - t->history_off);
                memcpy(out, t->history.buf + t->history_off, n);
                t->history_off += n;
                return (ssize_t)n;
        }
        if (!t->follow || t->shutting_down)
                return MHD_CONTENT_READER_END_OF_STREAM;
        bool ended = false;
        while (n < max) {
                if (!t->line) {
                        t->line = loghub_next(t->consumer, &ended);
                        t->line_off = 0;
                        if (!t->line)
                                break;
                }
                /* The line and its newline, in as many reads as it takes. */
                size_t left = t->line->text_len + 1 - t->line_off;
                size_t k = MIN(left, max - n);
                size_t text_left =
                        t->line_off < t->line->text_len ? t->line->text_len - t->line_off : 0;
                size_t from_text = MIN(k, text_left);
                memcpy(out + n, t->line->text + t->line_off, from_text);
                if (from_text < k)
                        out[n + from_text] = '\n';
                n += k;
                t->line_off += k;
                if (t->line_off == t->line->text_len + 1) {
                        logline_unref(t->line);
                        t->line = NULL;
                }
        }
        if (n > 0) {
                t->heartbeat_due = false;
                loop_timer_set(t->heartbeat, (uint64_t)mono_usec() + HEARTBEAT_MS * 1000ull);
                return (ssize_t)n;
        }
        if (ended)
                return MHD_CONTENT_READER_END_OF_STREAM;
        if (t->heartbeat_due) {
                t->heartbeat_due = false;
                loop_timer_set(t->heartbeat, (uint64_t)mono_usec() + HEARTBEAT_MS * 1000ull);
                out[0] = '\n';
                return 1;
        }
        /* Nothing waiting: park until the hub has a line. */
        t->suspended = true;
        MHD_suspend_connection(t->conn);
        return 0;
}

static void tail_free(void *cls)
{
        struct log_tail *t = cls;
        struct api *a = t->api;
        if (t->prev)
                t->prev->next = t->next;
        else if (a->tails == t)
                a->tails = t->next;
        if (t->next)
                t->next->prev = t->prev;
        logline_unref(t->line);
        loghub_consumer_free(t->consumer);
        loop_timer_free(t->heartbeat);
        strbuf_release(&t->history);
        free(t);
}

void api_logs_shutdown(struct api *a)
{
        for (struct log_tail *t = a->tails; t; t = t->next) {
                t->shutting_down = true;
                tail_resume(t);
        }
}

/* GET /apps/APP/log-stream?lines=N&tail=true&since=USEC: the last N lines
 * (newer than since, microseconds since the epoch, for a tail that
 * reconnects), then with tail=true every new line as it arrives. */
unsigned h_log_stream(struct call *c)
{
        _cleanup_(app_freep) struct app *app = NULL;
        if (load_app(c, &app) < 0)
                return c->status;
        int64_t lines, since = 0;
        if (lines_param(c, 100, &lines) < 0)
                return c->status;
        const char *s = MHD_lookup_connection_value(c->conn, MHD_GET_ARGUMENT_KIND, "since");
        if (s && (safe_atoi64(s, &since) < 0 || since < 0))
                return fail(c, 422, "since must be a time in microseconds since the epoch");
        const char *tail = MHD_lookup_connection_value(c->conn, MHD_GET_ARGUMENT_KIND, "tail");
        if (tail && !streq(tail, "true") && !streq(tail, "false"))
                return fail(c, 422, "tail must be true or false");

        struct log_tail *t = calloc(1, sizeof(*t));
        if (!t)
                return fail(c, 500, "out of memory");
        t->api = c->api;
        t->conn = c->conn;
        t->follow = tail && streq(tail, "true");
        int r = 0;
        if (t->follow) {
                r = loghub_consumer_new(c->api->hub, app->id, TAIL_QUEUE, on_line, t, &t->consumer);
                if (r >= 0)
                        r = loop_add_timer(c->api->loop,
                                           (uint64_t)mono_usec() + HEARTBEAT_MS * 1000ull,
                                           on_heartbeat, t, &t->heartbeat);
        }
        /* Both now, on the loop: no line falls between the two. */
        loghub_history(c->api->hub, app->id, (size_t)lines, since, add_line_text, &t->history);
        struct MHD_Response *resp =
                r < 0 ? NULL
                      : MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, STREAM_CHUNK,
                                                          read_stream, t, tail_free);
        t->next = c->api->tails;
        if (c->api->tails)
                c->api->tails->prev = t;
        c->api->tails = t;
        if (!resp) {
                tail_free(t);
                return fail(c, 500, "setting up the log stream failed");
        }
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
        c->response = resp;
        return 200;
}
