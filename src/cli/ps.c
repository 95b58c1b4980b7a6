/* ps, ps:scale, ps:type, ps:restart, ps:stop: the app's dynos and its
 * formation (how many dynos of each process type, and their size).
 *
 * Sizes travel in the API as "standard-1x" and are shown as Heroku shows
 * them, "Standard-1X". */

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli.h"
#include "lib/names.h"
#include "lib/strbuf.h"
#include "lib/util.h"

/* Far above any formation pierd accepts (it says which, in its 422), yet
 * small enough that `web+N` sums never overflow. */
#define SCALE_QUANTITY_MAX 1000000

/* A size name is short: "standard-2x". */
#define SIZE_NAME_MAX 32

static const char *get_str(const json_t *obj, const char *key)
{
        const char *s = json_string_value(json_object_get(obj, key));

        return s ? s : "";
}

static json_int_t get_int(const json_t *obj, const char *key)
{
        const json_t *v = json_object_get(obj, key);

        return json_is_integer(v) ? json_integer_value(v) : 0;
}

/* "standard-1x" as "Standard-1X" (Heroku's spelling): the first part
 * capitalised, the parts after a dash in upper case.  Truncated to fit. */
static const char *size_label(const char *size, char buf[static SIZE_NAME_MAX + 1])
{
        bool dash = false;
        size_t i;

        if (!*size)
                size = "standard-1x";
        for (i = 0; size[i] && i < SIZE_NAME_MAX; i++) {
                unsigned char c = (unsigned char)size[i];

                dash = dash || c == '-';
                buf[i] = (char)(i == 0 || dash ? toupper(c) : c);
        }
        buf[i] = '\0';
        return buf;
}

/* GET /apps/APP + SUFFIX, which must answer a JSON array (WHAT names it in
 * the error). */
static int fetch_list(struct cli *cli, const char *app, const char *suffix, const char *what,
                      json_t **ret)
{
        _cleanup_free_ char *path = NULL;
        json_t *list = NULL;
        int r;

        r = app_path(app, suffix, &path);
        if (r < 0)
                return r;
        r = api_call(cli, "GET", path, NULL, &list, NULL);
        if (r < 0)
                return r;
        if (!json_is_array(list)) {
                json_decref(list);
                cli_error("pierd sent something other than a list of %s", what);
                return -EBADMSG;
        }
        *ret = list;
        return 0;
}

static int patch_formation(struct cli *cli, const char *app, json_t *updates, json_t **ret)
{
        _cleanup_free_ char *path = NULL;
        json_t *body, *list = NULL;
        int r;

        body = json_pack("{s:O}", "updates", updates);
        if (!body) {
                cli_error("out of memory");
                return -ENOMEM;
        }
        r = app_path(app, "/formation", &path);
        if (r >= 0)
                r = api_call(cli, "PATCH", path, body, &list, NULL);
        json_decref(body);
        if (r < 0)
                return r;
        if (!json_is_array(list)) {
                json_decref(list);
                cli_error("pierd sent something other than the formation");
                return -EBADMSG;
        }
        *ret = list;
        return 0;
}

/* The formation entry of TYPE, or NULL. */
static json_t *formation_find(const json_t *formation, const char *type)
{
        for (size_t i = 0; i < json_array_size(formation); i++) {
                json_t *f = json_array_get(formation, i);

                if (streq(get_str(f, "type"), type))
                        return f;
        }
        return NULL;
}

/* ---- ps ---- */

struct dyno_ref {
        const json_t *dyno;
        size_t index; /* in pierd's list: keeps the sort stable */
        bool shown;
};

/* The N of "web.N" (0 when there is none). */
static int64_t dyno_number(const char *name)
{
        const char *dot = strrchr(name, '.');
        int64_t n;

        return dot && safe_atoi64(dot + 1, &n) >= 0 && n >= 0 ? n : 0;
}

/* By type, then by number (web.2 before web.10), as Heroku sorts. */
static int dyno_ref_cmp(const void *pa, const void *pb)
{
        const struct dyno_ref *a = pa, *b = pb;
        int64_t na, nb;
        int c;

        c = strcmp(get_str(a->dyno, "type"), get_str(b->dyno, "type"));
        if (c)
                return c;
        na = dyno_number(get_str(a->dyno, "name"));
        nb = dyno_number(get_str(b->dyno, "name"));
        if (na != nb)
                return na < nb ? -1 : 1;
        c = strcmp(get_str(a->dyno, "name"), get_str(b->dyno, "name"));
        if (c)
                return c;
        return a->index < b->index ? -1 : a->index > b->index;
}

/* pierd could not sandbox it (not root, no bwrap, no cgroups). */
static bool unisolated(const json_t *dyno)
{
        const json_t *v = json_object_get(dyno, "isolated");
        return json_is_false(v);
}

static json_int_t release_of(const json_t *dyno)
{
        return json_integer_value(json_object_get(json_object_get(dyno, "release"), "version"));
}

/* One-off dynos (`pier run`): one section for all of them, each with its
 * own size and command, as Heroku shows them. */
static bool is_oneoff(const json_t *dyno)
{
        return streq(get_str(dyno, "type"), "run");
}

/* Dynos of one section: the same type, size and command (while a new
 * release replaces the old one, both commands may run); every one-off. */
static bool same_section(const json_t *a, const json_t *b)
{
        if (is_oneoff(a) || is_oneoff(b))
                return is_oneoff(a) && is_oneoff(b);
        return streq(get_str(a, "type"), get_str(b, "type")) &&
               streq(get_str(a, "size"), get_str(b, "size")) &&
               streq(get_str(a, "command"), get_str(b, "command"));
}

/*  === run: one-off processes (1)
 *  run.4821 (Standard-1X): up 2026/11/26 12:00:00 +0000 (~ 5m ago): bash
 *
 *  === web (Standard-1X): python3 app.py (2)
 *  web.1: up 2026/11/26 12:00:00 +0000 (~ 5m ago)
 *  ...
 * one section per process type, a blank line between sections. */
static int print_dynos(const json_t *dynos)
{
        size_t n = json_array_size(dynos);
        struct dyno_ref *refs;
        char label[SIZE_NAME_MAX + 1];
        bool first = true;
        int r = 0;

        refs = calloc(n ? n : 1, sizeof(*refs));
        if (!refs) {
                cli_error("out of memory");
                return -ENOMEM;
        }
        for (size_t i = 0; i < n; i++)
                refs[i] = (struct dyno_ref){json_array_get(dynos, i), i, false};
        qsort(refs, n, sizeof(*refs), dyno_ref_cmp);
        /* While a deploy (or a new size) replaces web.1, the old and the
         * new web.1 both run: show the new one, as Heroku does (--json
         * lists both).  The newer is of a newer release, or, of the same
         * release, later in pierd's list (dynos are appended). */
        for (size_t i = 0; i < n; i++)
                for (size_t j = 0; j < n && !refs[i].shown; j++)
                        if (i != j && !is_oneoff(refs[i].dyno) &&
                            streq(get_str(refs[i].dyno, "name"), get_str(refs[j].dyno, "name")) &&
                            (release_of(refs[j].dyno) > release_of(refs[i].dyno) ||
                             (release_of(refs[j].dyno) == release_of(refs[i].dyno) &&
                              refs[j].index > refs[i].index)))
                                refs[i].shown = true;

        for (size_t i = 0; i < n && r >= 0; i++) {
                const json_t *head = refs[i].dyno;
                size_t count = 0;

                if (refs[i].shown)
                        continue;
                for (size_t j = i; j < n; j++)
                        if (!refs[j].shown && same_section(head, refs[j].dyno))
                                count++;
                if (!first)
                        fputc('\n', stdout);
                first = false;
                if (is_oneoff(head))
                        printf("=== run: one-off processes (%zu)\n", count);
                else
                        printf("=== %s (%s): %s (%zu)\n", get_str(head, "type"),
                               size_label(get_str(head, "size"), label),
                               get_str(head, "command"), count);
                for (size_t j = i; j < n && r >= 0; j++) {
                        _cleanup_free_ char *when = NULL;

                        if (refs[j].shown || !same_section(head, refs[j].dyno))
                                continue;
                        refs[j].shown = true;
                        r = format_time(
                            json_string_value(json_object_get(refs[j].dyno, "updated_at")), true,
                            &when);
                        if (r >= 0 && is_oneoff(refs[j].dyno))
                                printf("%s (%s): %s %s: %s\n", get_str(refs[j].dyno, "name"),
                                       size_label(get_str(refs[j].dyno, "size"), label),
                                       get_str(refs[j].dyno, "state"), when,
                                       get_str(refs[j].dyno, "command"));
                        else if (r >= 0)
                                printf("%s: %s %s%s\n", get_str(refs[j].dyno, "name"),
                                       get_str(refs[j].dyno, "state"), when,
                                       unisolated(refs[j].dyno) ? " (unisolated)" : "");
                }
        }
        free(refs);
        return r;
}

int cmd_ps(struct cli *cli)
{
        json_t *dynos = NULL;
        const char *app;
        int r;

        for (int a = 0; a < cli->argc; a++)
                if (!process_type_valid(cli->argv[a], strlen(cli->argv[a])))
                        return cli_usage_error(cli, "'%s' is not a process type (e.g. web)",
                                               cli->argv[a]);
        r = cli_app(cli, &app);
        if (r < 0)
                return r;
        r = fetch_list(cli, app, "/dynos", "dynos", &dynos);
        if (r < 0)
                return r;

        /* `ps web worker`: only those types. */
        if (cli->argc > 0)
                for (size_t i = json_array_size(dynos); i-- > 0;) {
                        const char *type = get_str(json_array_get(dynos, i), "type");
                        bool keep = false;

                        for (int a = 0; a < cli->argc && !keep; a++)
                                keep = streq(type, cli->argv[a]);
                        if (!keep)
                                json_array_remove(dynos, i);
                }

        if (cli->json)
                r = print_json(dynos);
        else if (json_array_size(dynos) == 0) {
                if (cli->argc == 1)
                        printf("No %s dynos on %s\n", cli->argv[0], app);
                else
                        printf("No dynos on %s\n", app);
        } else
                r = print_dynos(dynos);
        json_decref(dynos);
        return r;
}

/* ---- ps:scale, ps:type ---- */

/* "web at 3:Standard-1X, worker at 1:Standard-1X" */
static int print_running(const json_t *formation)
{
        char label[SIZE_NAME_MAX + 1];

        printf("Scaling dynos... done, now running ");
        for (size_t i = 0; i < json_array_size(formation); i++) {
                const json_t *f = json_array_get(formation, i);

                printf("%s%s at %" JSON_INTEGER_FORMAT ":%s", i ? ", " : "", get_str(f, "type"),
                       get_int(f, "quantity"), size_label(get_str(f, "size"), label));
        }
        fputc('\n', stdout);
        return 0;
}

/* A size as pierd spells it ("Standard-2X" -> "standard-2x"), malloc'd;
 * NULL after telling the user when it cannot be one. */
static char *size_param(struct cli *cli, const char *s, size_t len)
{
        char *out;

        if (len == 0 || len > SIZE_NAME_MAX) {
                cli_usage_error(cli, "'%.*s' is not a dyno size (standard-1x or standard-2x)",
                                (int)len, s);
                return NULL;
        }
        for (size_t i = 0; i < len; i++)
                if (!isalnum((unsigned char)s[i]) && s[i] != '-') {
                        cli_usage_error(cli,
                                        "'%.*s' is not a dyno size (standard-1x or standard-2x)",
                                        (int)len, s);
                        return NULL;
                }
        out = strndup(s, len);
        if (!out) {
                cli_error("out of memory");
                return NULL;
        }
        for (char *p = out; *p; p++)
                *p = (char)tolower((unsigned char)*p);
        return out;
}

struct scale_arg {
        char type[PROCESS_TYPE_MAX + 1];
        char op; /* '=', '+' or '-' */
        int64_t quantity;
        char *size; /* NULL: unchanged */
};

/* TYPE=N, TYPE+N or TYPE-N, each optionally followed by :SIZE (Heroku's
 * `ps:scale` syntax; a type may itself hold dashes: "my-worker-2"). */
static int parse_scale_arg(struct cli *cli, const char *arg, struct scale_arg *ret)
{
        const char *colon = strchr(arg, ':');
        size_t len = colon ? (size_t)(colon - arg) : strlen(arg), digits = 0, type_len;
        char num[24];

        while (digits < len && isdigit((unsigned char)arg[len - 1 - digits]))
                digits++;
        if (digits == 0 || digits == len || !strchr("=+-", arg[len - 1 - digits]))
                goto bad;
        type_len = len - 1 - digits;
        if (!process_type_valid(arg, type_len))
                goto bad;
        if (digits >= sizeof(num))
                goto too_many;
        memcpy(num, arg + len - digits, digits);
        num[digits] = '\0';
        if (safe_atoi64(num, &ret->quantity) < 0 || ret->quantity > SCALE_QUANTITY_MAX)
                goto too_many;
        memcpy(ret->type, arg, type_len);
        ret->type[type_len] = '\0';
        ret->op = arg[type_len];
        ret->size = NULL;
        if (colon) {
                ret->size = size_param(cli, colon + 1, strlen(colon + 1));
                if (!ret->size)
                        return -EINVAL;
        }
        return 0;
bad:
        return cli_usage_error(cli,
                               "'%s' is not a scale change: use TYPE=N, TYPE+N or TYPE-N, "
                               "optionally with :SIZE (e.g. web=2 or worker=1:standard-2x)",
                               arg);
too_many:
        return cli_usage_error(cli, "'%s' asks for too many dynos", arg);
}

/* Appends {"type": TYPE, "quantity": Q (when >= 0), "size": SIZE (when
 * not NULL)} to UPDATES, or changes the entry for TYPE already there. */
static int add_update(json_t *updates, const char *type, int64_t quantity, const char *size)
{
        json_t *u = NULL;

        for (size_t i = 0; i < json_array_size(updates) && !u; i++)
                if (streq(get_str(json_array_get(updates, i), "type"), type))
                        u = json_array_get(updates, i);
        if (!u) {
                u = json_pack("{s:s}", "type", type);
                if (!u || json_array_append_new(updates, u) < 0)
                        return -ENOMEM;
        }
        if (quantity >= 0 && json_object_set_new(u, "quantity", json_integer(quantity)) < 0)
                return -ENOMEM;
        if (size && json_object_set_new(u, "size", json_string(size)) < 0)
                return -ENOMEM;
        return 0;
}

/* The quantity UPDATES or else FORMATION gives TYPE (0 when neither). */
static int64_t current_quantity(const json_t *updates, const json_t *formation, const char *type)
{
        for (size_t i = 0; i < json_array_size(updates); i++) {
                const json_t *u = json_array_get(updates, i);

                if (streq(get_str(u, "type"), type) && json_object_get(u, "quantity"))
                        return get_int(u, "quantity");
        }
        return get_int(formation_find(formation, type), "quantity");
}

/* "web=1:Standard-1X worker=0:Standard-1X", what `ps:scale` alone shows
 * (as Heroku). */
static void print_formation_short(const json_t *formation)
{
        char label[SIZE_NAME_MAX + 1];

        for (size_t i = 0; i < json_array_size(formation); i++) {
                const json_t *f = json_array_get(formation, i);

                printf("%s%s=%" JSON_INTEGER_FORMAT ":%s", i ? " " : "", get_str(f, "type"),
                       get_int(f, "quantity"), size_label(get_str(f, "size"), label));
        }
        fputc('\n', stdout);
}

int cmd_ps_scale(struct cli *cli)
{
        json_t *formation = NULL, *updates = NULL, *result = NULL;
        struct scale_arg *args = NULL;
        bool relative = false;
        const char *app;
        int r = 0, parsed = 0;

        args = calloc((size_t)cli->argc + 1, sizeof(*args));
        if (!args) {
                cli_error("out of memory");
                return -ENOMEM;
        }
        for (; parsed < cli->argc && r >= 0; parsed++) {
                r = parse_scale_arg(cli, cli->argv[parsed], &args[parsed]);
                relative = relative || (r >= 0 && args[parsed].op != '=');
        }
        if (r < 0)
                goto out;
        r = cli_app(cli, &app);
        if (r < 0)
                goto out;

        if (cli->argc == 0 || relative) {
                r = fetch_list(cli, app, "/formation", "process types", &formation);
                if (r < 0)
                        goto out;
        }
        if (cli->argc == 0) {
                if (cli->json)
                        r = print_json(formation);
                else if (json_array_size(formation) == 0)
                        printf("No process types on %s.\n", app);
                else
                        print_formation_short(formation);
                goto out;
        }

        updates = json_array();
        if (!updates)
                goto oom;
        for (int i = 0; i < cli->argc; i++) {
                const struct scale_arg *a = &args[i];
                int64_t q = a->quantity, cur;

                if (a->op != '=') {
                        cur = current_quantity(updates, formation, a->type);
                        q = a->op == '+' ? cur + q : cur - q;
                        if (q < 0) {
                                cli_error("%s would scale %s below 0 (it is at %" PRId64 ")",
                                          cli->argv[i], a->type, cur);
                                r = -EINVAL;
                                goto out;
                        }
                }
                if (add_update(updates, a->type, q, a->size) < 0)
                        goto oom;
        }
        r = patch_formation(cli, app, updates, &result);
        if (r < 0)
                goto out;
        r = cli->json ? print_json(result) : print_running(result);
        goto out;
oom:
        cli_error("out of memory");
        r = -ENOMEM;
out:
        for (int i = 0; i < parsed; i++)
                free(args[i].size);
        free(args);
        json_decref(result);
        json_decref(updates);
        json_decref(formation);
        return r;
}

/*  === Dyno Types
 *  type    size         qty
 *  web     Standard-2X  1
 *  worker  Standard-1X  0
 * columns padded to their widest cell, two spaces apart. */
static void print_types(const json_t *formation)
{
        size_t n = json_array_size(formation), wt = strlen("type"), ws = strlen("size");
        char label[SIZE_NAME_MAX + 1];

        for (size_t i = 0; i < n; i++) {
                const json_t *f = json_array_get(formation, i);

                wt = MAX(wt, display_width(get_str(f, "type")));
                ws = MAX(ws, strlen(size_label(get_str(f, "size"), label)));
        }
        printf("=== Dyno Types\n");
        print_padded("type", wt + 2);
        print_padded("size", ws + 2);
        printf("qty\n");
        for (size_t i = 0; i < n; i++) {
                const json_t *f = json_array_get(formation, i);

                print_padded(get_str(f, "type"), wt + 2);
                print_padded(size_label(get_str(f, "size"), label), ws + 2);
                printf("%" JSON_INTEGER_FORMAT "\n", get_int(f, "quantity"));
        }
}

int cmd_ps_type(struct cli *cli)
{
        json_t *formation = NULL, *updates = NULL, *result = NULL;
        const char *app;
        bool all = false;
        int r;

        /* TYPE=SIZE..., or one SIZE for every type. */
        for (int a = 0; a < cli->argc; a++) {
                const char *eq = strchr(cli->argv[a], '=');

                if (!eq) {
                        if (cli->argc > 1)
                                return cli_usage_error(cli, "'%s' has no '=': use TYPE=SIZE",
                                                       cli->argv[a]);
                        all = true;
                } else if (!process_type_valid(cli->argv[a], (size_t)(eq - cli->argv[a])))
                        return cli_usage_error(cli, "'%s' is not TYPE=SIZE (e.g. web=standard-2x)",
                                               cli->argv[a]);
        }
        r = cli_app(cli, &app);
        if (r < 0)
                return r;
        if (cli->argc == 0 || all) {
                r = fetch_list(cli, app, "/formation", "process types", &formation);
                if (r < 0)
                        return r;
        }
        if (cli->argc > 0) {
                updates = json_array();
                if (!updates)
                        goto oom;
                for (int a = 0; a < cli->argc; a++) {
                        const char *arg = cli->argv[a], *eq = strchr(arg, '=');
                        const char *value = eq ? eq + 1 : arg;
                        _cleanup_free_ char *size = size_param(cli, value, strlen(value));
                        char type[PROCESS_TYPE_MAX + 1];

                        if (!size) {
                                r = -EINVAL;
                                goto out;
                        }
                        if (!eq) {
                                for (size_t i = 0; i < json_array_size(formation); i++)
                                        if (add_update(
                                                updates,
                                                get_str(json_array_get(formation, i), "type"), -1,
                                                size) < 0)
                                                goto oom;
                                continue;
                        }
                        memcpy(type, arg, (size_t)(eq - arg));
                        type[eq - arg] = '\0';
                        if (add_update(updates, type, -1, size) < 0)
                                goto oom;
                }
                if (json_array_size(updates) == 0) {
                        cli_error("%s has no process types yet: deploy it first", app);
                        r = -ENOENT;
                        goto out;
                }
                r = patch_formation(cli, app, updates, &result);
                if (r < 0)
                        goto out;
                json_decref(formation);
                formation = TAKE_PTR(result);
        }

        if (cli->json)
                r = print_json(formation);
        else if (json_array_size(formation) == 0)
                printf("No process types on %s.\n", app);
        else {
                if (cli->argc > 0)
                        printf("Scaling dynos on %s... done\n", app);
                print_types(formation);
        }
        goto out;
oom:
        cli_error("out of memory");
        r = -ENOMEM;
out:
        json_decref(result);
        json_decref(updates);
        json_decref(formation);
        return r;
}

/* ---- ps:restart, ps:stop ---- */

/* "/apps/APP/dynos" + "/WHAT" (when given) + TAIL, malloc'd. */
static int dynos_path(const char *app, const char *what, const char *tail, char **ret)
{
        _cleanup_free_ char *suffix = NULL;
        struct strbuf sb = STRBUF_INIT;
        int r;

        r = strbuf_addstr(&sb, "/dynos");
        if (r >= 0 && what)
                r = url_add_segment(&sb, what);
        if (r >= 0)
                r = strbuf_addstr(&sb, tail);
        if (r >= 0)
                suffix = strbuf_detach(&sb, NULL);
        if (r < 0 || !suffix) {
                strbuf_release(&sb);
                cli_error("out of memory");
                return -ENOMEM;
        }
        return app_path(app, suffix, ret);
}

/* A dyno ("web.1") or a process type ("web"), as Heroku tells them
 * apart. */
static bool is_dyno_name(const char *what)
{
        return strchr(what, '.') != NULL;
}

static int check_target(struct cli *cli, const char *what)
{
        const char *dot = strchr(what, '.');
        size_t len = dot ? (size_t)(dot - what) : strlen(what);
        int64_t n;

        if (!process_type_valid(what, len) ||
            (dot && (safe_atoi64(dot + 1, &n) < 0 || n < 1 || !isdigit((unsigned char)dot[1]))))
                return cli_usage_error(cli,
                                       "'%s' is neither a process type (web) nor a dyno "
                                       "(web.1)",
                                       what);
        return 0;
}

/* "web dynos", "web.1 dyno" or "dynos" for the messages. */
static void print_action(const char *verb, const char *what, const char *app)
{
        if (!what)
                printf("%s dynos on %s... done\n", verb, app);
        else
                printf("%s %s %s on %s... done\n", verb, what,
                       is_dyno_name(what) ? "dyno" : "dynos", app);
}

int cmd_ps_restart(struct cli *cli)
{
        _cleanup_free_ char *path = NULL;
        const char *app, *what = cli->argc > 0 ? cli->argv[0] : NULL;
        int r;

        if (cli->argc > 1)
                return cli_usage_error(cli, "ps:restart takes one process type or dyno");
        if (what && (r = check_target(cli, what)) < 0)
                return r;
        r = cli_app(cli, &app);
        if (r < 0)
                return r;
        r = dynos_path(app, what, "", &path);
        if (r < 0)
                return r;
        r = api_call(cli, "DELETE", path, NULL, NULL, NULL);
        if (r < 0)
                return r;
        print_action("Restarting", what, app);
        return 0;
}

int cmd_ps_stop(struct cli *cli)
{
        _cleanup_free_ char *path = NULL;
        const char *app, *what;
        int r;

        if (cli->argc != 1)
                return cli_usage_error(cli, cli->argc ? "ps:stop takes one process type or dyno"
                                                      : "which dynos? Give a process type (web) "
                                                        "or a dyno (web.1)");
        what = cli->argv[0];
        r = check_target(cli, what);
        if (r < 0)
                return r;
        r = cli_app(cli, &app);
        if (r < 0)
                return r;
        r = dynos_path(app, what, "/actions/stop", &path);
        if (r < 0)
                return r;
        r = api_call(cli, "POST", path, NULL, NULL, NULL);
        if (r < 0)
                return r;
        print_action("Stopping", what, app);
        return 0;
}
