/* logs: the app's recent log lines (SPEC §6), oldest first, and with
 * --tail every new one as it arrives, until Ctrl-C.
 *
 * A line is "2026-11-26T13:47:20.677020+00:00 SOURCE[PROC]: MESSAGE".  Both
 * read GET /apps/APP/log-stream (docs/api.md): the recent lines first, then
 * the tail with since=<stamp of the last line seen>, so that nothing is
 * lost or shown twice between the two, nor when the tail reconnects after
 * pierd went away.  The filters (-s, -d/-p) are applied here, to all that
 * pierd keeps, before the last N are taken. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/cli.h"
#include "lib/names.h"
#include "lib/strbuf.h"
#include "lib/timefmt.h"
#include "lib/utf8.h"
#include "lib/util.h"

/* Heroku's defaults: 100 lines unless told, at most the 1500 an app keeps. */
#define LOGS_DEFAULT 100
#define LOGS_MAX     1500
#define LINE_BUF_MAX (64 * 1024) /* a longer "line" from pierd is dropped */
#define TAIL_IDLE_S  45          /* pierd sends a heartbeat every 15 s */
#define RETRY_MS     500

struct logs {
        const char *source, *proc;
        bool json, color;
        bool tty;                /* stdout is a terminal: control bytes neutered */
        bool message_only;       /* print what follows "SOURCE[PROC]: " */
        const char *dyno_from;   /* release_follow(): the app[api] line naming
                                    the release's dyno starts with this */
        char release_dyno[32];   /* release_follow(): its release.NNNN, once known */
        const char *header;      /* printed once, before the first line */
        size_t shown;            /* lines printed */
        int64_t expect_usec;     /* release_follow(): the stamp the next read
                                    starts with, unless lines were lost */
        bool read_any;           /* last_usec is a line's */
        int64_t last_usec; /* stamp of the last line read, shown or not */
        struct strbuf partial;
        struct strbuf all; /* the recent lines, before the last N are taken */
};

/* Whether LINE's "SOURCE[PROC]" matches: SOURCE exactly, PROC exactly or
 * as its type ("web" matches web.1, web.2).  NULL matches anything. */
static bool line_matches(const char *line, const char *source, const char *proc)
{
        const char *src = strchr(line, ' '), *open, *close;
        size_t len;

        if (!source && !proc)
                return true;
        if (!src)
                return false;
        src++;
        open = strchr(src, '[');
        close = open ? strchr(open, ']') : NULL;
        if (!close || memchr(src, ' ', (size_t)(open - src)))
                return false;
        if (source &&
            ((size_t)(open - src) != strlen(source) || !strneq(src, source, (size_t)(open - src))))
                return false;
        if (!proc)
                return true;
        len = strlen(proc);
        open++;
        if ((size_t)(close - open) < len || !strneq(open, proc, len))
                return false;
        return (size_t)(close - open) == len || open[len] == '.';
}

/* The stamp a line starts with, 0 when it has none. */
static int64_t line_usec(const char *line, size_t len)
{
        char ts[48];
        const char *sp = memchr(line, ' ', len);
        int64_t usec;

        if (!sp || (size_t)(sp - line) >= sizeof(ts))
                return 0;
        memcpy(ts, line, (size_t)(sp - line));
        ts[sp - line] = '\0';
        return time_parse_iso8601(ts, &usec) < 0 ? 0 : usec;
}

/* "SOURCE[PROC]:" coloured, as the Heroku CLI does: the platform in
 * magenta, the API in green, each dyno in a colour of its own. */
static const char *line_color(const char *line, size_t len)
{
        static const char *const dyno_colors[] = {"\033[36m", "\033[33m", "\033[34m",
                                                  "\033[32m", "\033[35m"};
        const char *src = memchr(line, ' ', len);
        unsigned h = 0;

        if (!src)
                return NULL;
        src++;
        if (strneq(src, "heroku[", 7))
                return "\033[35m";
        if (strneq(src, "app[api]", 8))
                return "\033[32m";
        for (const char *p = src; p < line + len && *p != ']'; p++)
                h = h * 31 + (unsigned char)*p;
        return dyno_colors[h % ELEMENTSOF(dyno_colors)];
}

/* A line as a JSON string: what is not valid UTF-8 becomes U+FFFD (the
 * server does the same for --json without --tail). */
static json_t *line_json(const char *line, size_t len)
{
        if (utf8_valid(line, len))
                return json_stringn(line, len);
        struct strbuf sb = STRBUF_INIT;
        json_t *s = utf8_sanitize(line, len, &sb) < 0 ? NULL
                    : sb.buf                            ? json_stringn(sb.buf, sb.len)
                                                        : json_string("");
        strbuf_release(&sb);
        return s;
}

/* The message of "STAMP SOURCE[PROC]: MESSAGE" (NULL when LINE is not
 * such a line), its length in *ret_len. */
static const char *line_message(const char *line, size_t len, size_t *ret_len)
{
        const char *sp = memchr(line, ' ', len);
        const char *colon = sp ? memmem(sp, len - (size_t)(sp - line), "]: ", 3) : NULL;
        if (!colon)
                return NULL;
        *ret_len = len - (size_t)(colon + 3 - line);
        return colon + 3;
}

/* Dyno output may hold any bytes: to a file or a pipe they go as they
 * are; on a terminal, only its colours do (term_sanitize()), so an app
 * cannot rewrite what is shown, fake a line or set the clipboard. */
static void write_out(const struct logs *lg, const char *s, size_t n)
{
        struct strbuf sb = STRBUF_INIT;
        if (lg->tty && term_sanitize(s, n, &sb) == 0) {
                if (sb.len)
                        fwrite(sb.buf, 1, sb.len, stdout);
        } else
                fwrite(s, 1, n, stdout);
        strbuf_release(&sb);
}

static void print_line(struct logs *lg, const char *line, size_t len)
{
        lg->shown++;
        if (lg->header) {
                puts(lg->header);
                lg->header = NULL;
        }
        size_t mlen;
        const char *m = lg->message_only ? line_message(line, len, &mlen) : NULL;
        if (m) {
                line = m;
                len = mlen;
        }
        if (lg->json) {
                json_t *s = line_json(line, len);
                char *text = s ? json_dumps(s, JSON_ENCODE_ANY) : NULL;
                if (text)
                        puts(text);
                free(text);
                json_decref(s);
                return;
        }
        const char *color = lg->color ? line_color(line, len) : NULL;
        const char *src = color ? memchr(line, ' ', len) : NULL;
        const char *end = src ? memchr(src, ':', len - (size_t)(src - line)) : NULL;
        if (end) {
                write_out(lg, line, (size_t)(src - line) + 1);
                fputs(color, stdout);
                write_out(lg, src + 1, (size_t)(end - src));
                fputs("\033[0m", stdout);
                write_out(lg, end + 1, len - (size_t)(end + 1 - line));
        } else
                write_out(lg, line, len);
        fputc('\n', stdout);
}

/* Whole lines of a stream: the tail prints them as they come. */
static size_t on_tail_data(const char *data, size_t len, void *ud)
{
        struct logs *lg = ud;
        if (strbuf_add(&lg->partial, data, len) < 0)
                return 0;
        size_t start = 0;
        char *nl;
        while ((nl = memchr(lg->partial.buf + start, '\n', lg->partial.len - start))) {
                char *line = lg->partial.buf + start;
                size_t n = (size_t)(nl - line);
                *nl = '\0';
                start += n + 1;
                if (n == 0)
                        continue; /* a heartbeat */
                int64_t usec = line_usec(line, n);
                if (lg->expect_usec) {
                        int64_t expected = lg->expect_usec;
                        lg->expect_usec = 0;
                        if (usec == expected)
                                continue; /* read last time */
                        printf("(some lines may be missing here: more came at once than "
                               "the log keeps)\n");
                }
                if (usec > 0) {
                        lg->last_usec = usec;
                        lg->read_any = true;
                }
                if (lg->dyno_from && !lg->release_dyno[0]) {
                        size_t mlen, plen = strlen(lg->dyno_from);
                        const char *m = line_message(line, n, &mlen);
                        if (m && line_matches(line, "app", "api") && mlen > plen &&
                            mlen - plen < 32 && strneq(m, lg->dyno_from, plen)) {
                                memcpy(lg->release_dyno, m + plen, mlen - plen);
                                lg->release_dyno[mlen - plen] = '\0';
                        }
                        continue;
                }
                if (line_matches(line, lg->source, lg->proc))
                        print_line(lg, line, n);
        }
        fflush(stdout);
        if (start > 0) {
                memmove(lg->partial.buf, lg->partial.buf + start, lg->partial.len - start);
                lg->partial.len -= start;
        }
        if (lg->partial.len > LINE_BUF_MAX)
                strbuf_reset(&lg->partial);
        return len;
}

static size_t on_recent_data(const char *data, size_t len, void *ud)
{
        struct logs *lg = ud;
        if (lg->all.len + len > (size_t)LOGS_MAX * (LINE_BUF_MAX / 2))
                return 0;
        return strbuf_add(&lg->all, data, len) < 0 ? 0 : len;
}

static int stream(struct cli *cli, const char *app, const char *query, struct logs *lg, bool tail)
{
        _cleanup_free_ char *path = NULL;
        struct api_reply reply = {0};
        int r = app_path(app, query, &path);
        if (r < 0)
                return r;
        r = api_stream(cli, path, TAIL_IDLE_S, tail ? on_tail_data : on_recent_data, lg, &reply);
        if (r < 0)
                return r;
        if (reply.status < 200 || reply.status >= 300)
                r = api_report_error(cli, &reply);
        api_reply_done(&reply);
        return r;
}

/* The recent lines: the last `limit` that pass the filters. */
static int show_recent(struct cli *cli, const char *app, struct logs *lg, int64_t limit)
{
        char query[64];
        bool filtered = lg->source || lg->proc;
        snprintf(query, sizeof(query), "/log-stream?lines=%d", filtered ? LOGS_MAX : (int)limit);
        int r = stream(cli, app, query, lg, false);
        if (r == -ECONNREFUSED || r == -ECONNRESET) {
                cli_error("cannot reach pierd at %s — is it running? start it with `make run`",
                          cli->api_url);
                return r;
        }
        if (r < 0)
                return r;

        /* Lines as [start, end) offsets into lg->all, matching ones only. */
        size_t n = 0, cap = 0;
        _cleanup_free_ size_t *at = NULL;
        char *buf = lg->all.buf;
        for (size_t start = 0; start < lg->all.len;) {
                char *nl = memchr(buf + start, '\n', lg->all.len - start);
                size_t end = nl ? (size_t)(nl - buf) : lg->all.len;
                buf[end] = '\0';
                int64_t usec = line_usec(buf + start, end - start);
                if (usec > 0)
                        lg->last_usec = usec;
                if (end > start && line_matches(buf + start, lg->source, lg->proc)) {
                        if (n == cap) {
                                cap = cap ? cap * 2 : 256;
                                size_t *grown = realloc(at, cap * 2 * sizeof(*at));
                                if (!grown) {
                                        cli_error("out of memory");
                                        return -ENOMEM;
                                }
                                at = grown;
                        }
                        at[2 * n] = start;
                        at[2 * n + 1] = end;
                        n++;
                }
                start = end + 1;
        }
        size_t first = n > (size_t)limit ? n - (size_t)limit : 0;
        if (lg->json && !cli_opt(cli, "tail")) {
                json_t *list = json_array();
                for (size_t i = first; list && i < n; i++)
                        json_array_append_new(
                                list, line_json(buf + at[2 * i], at[2 * i + 1] - at[2 * i]));
                r = print_json(list);
                json_decref(list);
                return r;
        }
        for (size_t i = first; i < n; i++)
                print_line(lg, buf + at[2 * i], at[2 * i + 1] - at[2 * i]);
        fflush(stdout);
        return 0;
}

/* Every new line until interrupted; reconnects (from the last line seen)
 * when pierd restarts. */
static int follow(struct cli *cli, const char *app, struct logs *lg)
{
        bool told = false;
        for (;;) {
                char query[96];
                snprintf(query, sizeof(query), "/log-stream?tail=true&lines=%d&since=%lld",
                         LOGS_MAX, (long long)lg->last_usec);
                strbuf_reset(&lg->partial);
                int r = stream(cli, app, query, lg, true);
                /* A stream that ended (pierd stopped, cleanly or not) is
                 * picked up again; an error answer (the app is gone) ends. */
                if (r < 0 && r != -ECONNREFUSED && r != -ECONNRESET)
                        return r;
                if (!told && r == -ECONNREFUSED) {
                        fprintf(stderr, "pier: lost pierd at %s; reconnecting...\n",
                                cli->api_url);
                        told = true;
                }
                struct timespec ts = {.tv_nsec = RETRY_MS * 1000000L};
                nanosleep(&ts, NULL);
        }
}

int cmd_logs(struct cli *cli)
{
        const char *num = cli_opt(cli, "num"), *source = cli_opt(cli, "source"),
                   *dyno = cli_opt(cli, "dyno"), *ps = cli_opt(cli, "ps"), *app;
        if (!ps)
                ps = cli_opt(cli, "process-type");
        struct logs lg = {.partial = STRBUF_INIT, .all = STRBUF_INIT, .json = cli->json};
        int64_t limit = LOGS_DEFAULT;
        int r;

        if (cli->argc > 0)
                return cli_usage_error(cli, "logs takes no arguments");
        if (num && (safe_atoi64(num, &limit) < 0 || limit < 1))
                return cli_usage_error(cli, "-n needs a number of lines (at most %d are kept)",
                                       LOGS_MAX);
        if (limit > LOGS_MAX)
                limit = LOGS_MAX; /* as Heroku: all there is */
        if (source && !streq(source, "app") && !streq(source, "heroku"))
                return cli_usage_error(cli, "-s needs a source: app or heroku");
        if (dyno && ps)
                return cli_usage_error(cli, "give -d or -p, not both");
        if (!dyno)
                dyno = ps;
        if (dyno && !*dyno)
                return cli_usage_error(cli, "-d needs a dyno (web.1) or a process type (web)");
        r = cli_app(cli, &app);
        if (r < 0)
                return r;
        lg.source = source;
        lg.proc = dyno;
        lg.tty = isatty(STDOUT_FILENO);
        lg.color = !lg.json && lg.tty && !getenv("NO_COLOR");

        r = show_recent(cli, app, &lg, limit);
        if (r >= 0 && cli_opt(cli, "tail"))
                r = follow(cli, app, &lg);
        strbuf_release(&lg.partial);
        strbuf_release(&lg.all);
        return r;
}

/* The output of release vVERSION's release command (SPEC §3): the lines of
 * the dyno that pierd's app[api] line "Running release command for vN as
 * release.NNNN" names, as they come while the release is pending, until
 * pierd marked it.  Polled, as the push does: the log keeps every line of
 * the run (up to 1,500 at a time). */
int release_follow(struct cli *cli, const char *app, int64_t version, bool after_change)
{
        _cleanup_free_ char *rpath = NULL, *marker = NULL;
        char suffix[48];
        snprintf(suffix, sizeof(suffix), "/releases/%lld", (long long)version);
        int r = app_path(app, suffix, &rpath);
        if (r < 0)
                return r;
        struct logs lg = {.partial = STRBUF_INIT,
                          .source = "app",
                          .message_only = true,
                          .tty = isatty(STDOUT_FILENO),
                          .header = after_change ? "Running release command..." : NULL};
        lg.proc = lg.release_dyno;
        for (;;) {
                json_t *rel = NULL;
                r = api_call(cli, "GET", rpath, NULL, &rel, NULL);
                if (r < 0)
                        break;
                const char *status = json_string_value(json_object_get(rel, "status"));
                const char *created = json_string_value(json_object_get(rel, "created_at"));
                bool pending = status && streq(status, "pending");
                if (!marker) {
                        int64_t usec = 0;
                        if (!created || time_parse_iso8601(created, &usec) < 0 ||
                            asprintf(&marker, RELEASE_COMMAND_EVENT, version) < 0) {
                                json_decref(rel);
                                cli_error("pierd sent a release without created_at");
                                r = -EBADMSG;
                                break;
                        }
                        lg.last_usec = usec - 1; /* created_at is in whole seconds */
                        lg.dyno_from = marker;
                }
                bool failed = status && streq(status, "failed");
                json_decref(rel);
                if (pending && lg.header) {
                        puts(lg.header);
                        fflush(stdout);
                        lg.header = NULL;
                }
                /* From the last line read on, to see whether lines went
                 * between two reads.  Every line the command wrote before
                 * pierd marked the release is in the log by then: one more
                 * read after that. */
                char query[96];
                lg.expect_usec = lg.read_any ? lg.last_usec : 0;
                snprintf(query, sizeof(query), "/log-stream?lines=%d&since=%lld", LOGS_MAX,
                         (long long)(lg.last_usec - (lg.expect_usec ? 1 : 0)));
                strbuf_reset(&lg.partial);
                r = stream(cli, app, query, &lg, true);
                if (r < 0)
                        break;
                if (!pending) {
                        if (!after_change && lg.shown == 0)
                                printf("v%lld has no release command output in the last %d "
                                       "log lines\n",
                                       (long long)version, LOGS_MAX);
                        if (failed && after_change) {
                                cli_error("the release command failed: v%lld is failed and "
                                          "the release before it keeps running",
                                          (long long)version);
                                r = -ECHILD;
                        }
                        break;
                }
                struct timespec ts = {.tv_nsec = 100 * 1000000L};
                nanosleep(&ts, NULL);
        }
        strbuf_release(&lg.partial);
        return r;
}
