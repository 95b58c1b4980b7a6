/* logs: the app's recent log lines (SPEC §6), oldest first.
 *
 * A line is "2026-11-26T13:47:20.677020+00:00 SOURCE[PROC]: MESSAGE".  The
 * filters (-s, -d/-p) are applied here, to the most pierd keeps, before
 * the last N are taken; --tail is for later. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli.h"
#include "lib/strbuf.h"
#include "lib/util.h"

/* Heroku's defaults: 100 lines unless told, at most the 1500 an app keeps. */
#define LOGS_DEFAULT 100
#define LOGS_MAX     1500

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

int cmd_logs(struct cli *cli)
{
        const char *num = cli_opt(cli, "num"), *source = cli_opt(cli, "source"),
                   *dyno = cli_opt(cli, "dyno"), *ps = cli_opt(cli, "ps"), *app;
        _cleanup_free_ char *path = NULL, *suffix = NULL;
        struct strbuf sb = STRBUF_INIT;
        json_t *lines = NULL;
        int64_t limit = LOGS_DEFAULT;
        size_t n, first;
        int r;

        if (cli_opt(cli, "tail")) {
                cli_error("logs --tail is not supported yet; `pier logs -n N` shows the last N "
                          "lines (at most %d)",
                          LOGS_MAX);
                return -EOPNOTSUPP;
        }
        if (cli->argc > 0)
                return cli_usage_error(cli, "logs takes no arguments");
        if (num && (safe_atoi64(num, &limit) < 0 || limit < 1 || limit > LOGS_MAX))
                return cli_usage_error(cli, "-n needs a number of lines, 1 to %d", LOGS_MAX);
        if (source && !*source)
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

        /* With a filter, the last N of those that match: ask for all. */
        if (strbuf_addf(&sb, "/log-lines?lines=%d", source || dyno ? LOGS_MAX : (int)limit) < 0 ||
            !(suffix = strbuf_detach(&sb, NULL))) {
                strbuf_release(&sb);
                cli_error("out of memory");
                return -ENOMEM;
        }
        r = app_path(app, suffix, &path);
        if (r < 0)
                return r;
        r = api_call(cli, "GET", path, NULL, &lines, NULL);
        if (r < 0)
                return r;
        if (!json_is_array(lines)) {
                json_decref(lines);
                cli_error("pierd sent something other than a list of log lines");
                return -EBADMSG;
        }

        for (size_t i = json_array_size(lines); i-- > 0;) {
                const char *line = json_string_value(json_array_get(lines, i));

                if (!line || !line_matches(line, source, dyno))
                        json_array_remove(lines, i);
        }
        n = json_array_size(lines);
        first = n > (size_t)limit ? n - (size_t)limit : 0;
        if (cli->json) {
                while (first-- > 0)
                        json_array_remove(lines, 0);
                r = print_json(lines);
        } else
                for (size_t i = first; i < n; i++) {
                        const json_t *line = json_array_get(lines, i);

                        /* Dyno output may hold any bytes: written raw. */
                        fwrite(json_string_value(line), 1, json_string_length(line), stdout);
                        fputc('\n', stdout);
                }
        json_decref(lines);
        return r;
}
