/* login, logout, auth:whoami and the authorizations:* commands (API
 * tokens). */

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/cli.h"
#include "lib/strbuf.h"
#include "lib/util.h"

/* A token is 64 hex digits; this much input is more than any token. */
#define TOKEN_INPUT_MAX 4096

/* Reads the first line of fd (at most TOKEN_INPUT_MAX bytes are looked at),
 * without surrounding whitespace.  Empty input gives "". */
static int read_token_line(int fd, char **ret)
{
        struct strbuf sb = STRBUF_INIT;
        char c;
        size_t start = 0, end;

        for (;;) {
                ssize_t n = read(fd, &c, 1);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        strbuf_release(&sb);
                        return -errno;
                }
                if (n == 0 || c == '\n')
                        break;
                if (sb.len >= TOKEN_INPUT_MAX) {
                        strbuf_release(&sb);
                        return -EFBIG;
                }
                if (strbuf_addch(&sb, c) < 0) {
                        strbuf_release(&sb);
                        return -ENOMEM;
                }
        }
        end = sb.len;
        while (start < end && strchr(" \t\r", sb.buf[start]))
                start++;
        while (end > start && strchr(" \t\r", sb.buf[end - 1]))
                end--;
        *ret = strndup(sb.buf ? sb.buf + start : "", end - start);
        strbuf_release(&sb);
        return *ret ? 0 : -ENOMEM;
}

/* Prompts on the terminal without echo. */
static int prompt_token(char **ret)
{
        struct termios old, quiet;
        bool restore = false;
        int r;

        fputs("Enter your pier API token: ", stderr);
        fflush(stderr);
        if (tcgetattr(STDIN_FILENO, &old) == 0) {
                quiet = old;
                quiet.c_lflag &= ~(tcflag_t)ECHO;
                quiet.c_lflag |= ECHONL;
                restore = tcsetattr(STDIN_FILENO, TCSADRAIN, &quiet) == 0;
        }
        r = read_token_line(STDIN_FILENO, ret);
        if (restore)
                (void)tcsetattr(STDIN_FILENO, TCSADRAIN, &old);
        else
                fputc('\n', stderr);
        return r;
}

/* $PIER_HOME/admin-token, with pierd's default for PIER_HOME:
 * $XDG_DATA_HOME/pier, else ~/.local/share/pier. */
static int admin_token_path(char **ret)
{
        struct strbuf sb = STRBUF_INIT;
        const char *e;
        int r;

        if ((e = getenv("PIER_HOME")) && *e)
                r = strbuf_addf(&sb, "%s/admin-token", e);
        else if ((e = getenv("XDG_DATA_HOME")) && *e)
                r = strbuf_addf(&sb, "%s/pier/admin-token", e);
        else {
                e = getenv("HOME");
                if (!e || !*e) {
                        struct passwd *pw = getpwuid(getuid());

                        if (!pw || !pw->pw_dir)
                                return -ENOENT;
                        e = pw->pw_dir;
                }
                r = strbuf_addf(&sb, "%s/.local/share/pier/admin-token", e);
        }
        if (r < 0)
                return r;
        *ret = strbuf_detach(&sb, NULL);
        return *ret ? 0 : -ENOMEM;
}

static int read_admin_token(char **ret_token, char **ret_path)
{
        _cleanup_free_ char *path = NULL, *token = NULL;
        _cleanup_close_ int fd = -EBADF;
        int r;

        r = admin_token_path(&path);
        if (r < 0)
                return r;
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        r = read_token_line(fd, &token);
        if (r < 0)
                return r;
        if (!*token)
                return -ENOENT;
        *ret_token = TAKE_PTR(token);
        *ret_path = TAKE_PTR(path);
        return 0;
}

int cmd_login(struct cli *cli)
{
        _cleanup_free_ char *token = NULL, *admin_path = NULL;
        struct api_reply reply = {0};
        const char *flag = cli_opt(cli, "token"), *email;
        int r = 0;

        if (cli->argc > 0)
                return cli_usage_error(cli, "login takes no arguments");

        /* --token, else what stdin brings (a script), else on a terminal
         * the local pierd's admin token when it is at hand (README: `pier
         * login` finds it), else a prompt. */
        if (flag)
                token = strdup(flag);
        else if (!isatty(STDIN_FILENO))
                r = read_token_line(STDIN_FILENO, &token);
        else if (read_admin_token(&token, &admin_path) < 0)
                r = prompt_token(&token);
        else if (isatty(STDERR_FILENO))
                fprintf(stderr, "Using the admin token in %s\n", admin_path);
        if (flag && !token) {
                cli_error("out of memory");
                return -ENOMEM;
        }
        if (!flag && r < 0) {
                cli_error("reading the token from stdin: %s",
                          r == -EFBIG ? "too long for a token" : strerror(-r));
                return r;
        }

        if (!*token && !flag) {
                /* No token given: when pierd runs here, as this user, its
                 * admin token is at hand. */
                token = mfree(token);
                if (read_admin_token(&token, &admin_path) < 0) {
                        _cleanup_free_ char *path = NULL;
                        (void)admin_token_path(&path);
                        cli_error("no token given and none in %s; pass --token TOKEN, or set "
                                  "PIER_HOME to the directory of the local pierd",
                                  path ?: "$PIER_HOME/admin-token");
                        return -EINVAL;
                }
                /* Say where the token came from, to a person only: scripts
                 * get exactly the one result line and a quiet stderr. */
                if (isatty(STDERR_FILENO))
                        fprintf(stderr, "Using the admin token in %s\n", admin_path);
        }
        if (!token_valid(token)) {
                cli_error("that is not a token: a token is one word of printable characters");
                return -EINVAL;
        }

        /* Check the token before storing it.  The token from the
         * environment or an old login must not stand in for this one. */
        cli->token = mfree(cli->token);
        r = cli_resolve_api(cli);
        if (r < 0)
                return r;
        free(cli->token);
        cli->token = TAKE_PTR(token);

        r = api_request(cli, "GET", "/account", NULL, &reply);
        if (r < 0)
                return r;
        if (reply.status == 401) {
                api_reply_done(&reply);
                cli_error("pierd at %s refused that token", cli->api_url);
                return -EACCES;
        }
        if (reply.status < 200 || reply.status >= 300) {
                r = api_report_error(cli, &reply);
                api_reply_done(&reply);
                return r;
        }
        email = json_string_value(json_object_get(reply.body, "email"));
        if (!email) {
                api_reply_done(&reply);
                cli_error("pierd at %s sent an account without an email", cli->api_url);
                return -EBADMSG;
        }

        r = credentials_store(cli->api_url, cli->token);
        if (r >= 0)
                printf("Logged in as %s at %s\n", email, cli->api_url);
        api_reply_done(&reply);
        return r;
}

int cmd_logout(struct cli *cli)
{
        int r;

        if (cli->argc > 0)
                return cli_usage_error(cli, "logout takes no arguments");
        r = credentials_remove();
        if (r < 0)
                return r;
        printf("Local credentials cleared\n");
        return 0;
}

int cmd_whoami(struct cli *cli)
{
        json_t *account = NULL;
        const char *email;
        int r;

        if (cli->argc > 0)
                return cli_usage_error(cli, "auth:whoami takes no arguments");
        r = api_call(cli, "GET", "/account", NULL, &account, NULL);
        if (r < 0)
                return r;
        email = json_string_value(json_object_get(account, "email"));
        if (cli->json)
                r = print_json(account);
        else if (email)
                printf("%s\n", email);
        else {
                cli_error("pierd sent an account without an email");
                r = -EBADMSG;
        }
        json_decref(account);
        return r;
}

/* "read, global" from a JSON array of strings, malloc'd. */
static int scopes_join(const json_t *scopes, char **ret)
{
        struct strbuf sb = STRBUF_INIT;
        size_t i;
        int r = strbuf_addstr(&sb, "");

        for (i = 0; i < json_array_size(scopes); i++) {
                const json_t *s = json_array_get(scopes, i);

                if (r >= 0 && i > 0)
                        r = strbuf_addstr(&sb, ", ");
                if (r >= 0 && json_is_string(s))
                        r = strbuf_addstr(&sb, json_string_value(s));
        }
        if (r >= 0)
                *ret = strbuf_detach(&sb, NULL);
        if (r < 0 || !*ret) {
                strbuf_release(&sb);
                cli_error("out of memory");
                return -ENOMEM;
        }
        return 0;
}

static const char *str_or_empty(const json_t *j)
{
        const char *s = json_string_value(j);

        return s ? s : "";
}

int cmd_authorizations(struct cli *cli)
{
        json_t *list = NULL;
        size_t i, n, w_desc = 0, w_id = 0;
        char **scopes = NULL;
        int r;

        if (cli->argc > 0)
                return cli_usage_error(cli, "authorizations takes no arguments");
        r = api_call(cli, "GET", "/oauth/authorizations", NULL, &list, NULL);
        if (r < 0)
                return r;
        if (!json_is_array(list)) {
                cli_error("pierd sent something other than a list of authorizations");
                r = -EBADMSG;
                goto out;
        }
        if (cli->json) {
                r = print_json(list);
                goto out;
        }
        n = json_array_size(list);
        if (n == 0) {
                printf("You have no authorizations.\n");
                goto out;
        }
        scopes = calloc(n, sizeof(char *));
        if (!scopes) {
                cli_error("out of memory");
                r = -ENOMEM;
                goto out;
        }
        /* Heroku's columns: description, id, scope. */
        for (i = 0; i < n; i++) {
                const json_t *a = json_array_get(list, i);

                w_desc =
                    MAX(w_desc, display_width(str_or_empty(json_object_get(a, "description"))));
                w_id = MAX(w_id, display_width(str_or_empty(json_object_get(a, "id"))));
                r = scopes_join(json_object_get(a, "scope"), &scopes[i]);
                if (r < 0)
                        goto out;
        }
        for (i = 0; i < n; i++) {
                const json_t *a = json_array_get(list, i);

                print_padded(str_or_empty(json_object_get(a, "description")), w_desc + 2);
                print_padded(str_or_empty(json_object_get(a, "id")), w_id + 2);
                printf("%s\n", scopes[i]);
        }
out:
        if (scopes)
                for (i = 0; i < json_array_size(list); i++)
                        free(scopes[i]);
        free(scopes);
        json_decref(list);
        return r;
}

int cmd_authorizations_create(struct cli *cli)
{
        const char *scope = cli_opt(cli, "scope"), *desc = cli_opt(cli, "description");
        _cleanup_free_ char *scope_text = NULL;
        json_t *body = NULL, *scopes = NULL, *auth = NULL;
        const char *token;
        int r;

        if (cli->argc > 0)
                return cli_usage_error(cli, "authorizations:create takes no arguments");

        /* Like Heroku: a comma-separated list, default global. */
        scopes = json_array();
        if (!scopes)
                goto oom;
        for (const char *p = scope ? scope : "global"; *p;) {
                size_t n = strcspn(p, ",");
                const char *s = p, *e = p + n;

                while (s < e && *s == ' ')
                        s++;
                while (e > s && e[-1] == ' ')
                        e--;
                if (e == s) {
                        json_decref(scopes);
                        return cli_usage_error(cli, "--scope needs a scope: read or global");
                }
                if (json_array_append_new(scopes, json_stringn(s, (size_t)(e - s))) < 0)
                        goto oom;
                p += n;
                if (*p == ',')
                        p++;
        }
        body = json_pack("{s:o}", "scope", scopes);
        scopes = NULL;
        if (!body)
                goto oom;
        if (desc && json_object_set_new(body, "description", json_string(desc)) < 0) {
                json_decref(body);
                cli_error("the description must be UTF-8 text");
                return -EINVAL;
        }

        r = api_call(cli, "POST", "/oauth/authorizations", body, &auth, NULL);
        json_decref(body);
        if (r < 0)
                return r;

        token = json_string_value(json_object_get(json_object_get(auth, "access_token"), "token"));
        if (cli->json)
                r = print_json(auth);
        else if (!token) {
                cli_error("pierd did not send the new token");
                r = -EBADMSG;
        } else if (cli_opt(cli, "short"))
                printf("%s\n", token);
        else {
                const char *id = str_or_empty(json_object_get(auth, "id"));
                const char *d = str_or_empty(json_object_get(auth, "description"));

                r = scopes_join(json_object_get(auth, "scope"), &scope_text);
                if (r >= 0) {
                        struct field fields[] = {
                            {"Token", token, strlen(token)},
                            {"Scope", scope_text, strlen(scope_text)},
                            {"ID", id, strlen(id)},
                            {"Description", d, strlen(d)},
                        };
                        print_fields(fields, ELEMENTSOF(fields), 0);
                }
        }
        json_decref(auth);
        return r;
oom:
        json_decref(scopes);
        cli_error("out of memory");
        return -ENOMEM;
}

int cmd_authorizations_revoke(struct cli *cli)
{
        struct strbuf sb = STRBUF_INIT;
        _cleanup_free_ char *path = NULL;
        int r;

        if (cli->argc != 1)
                return cli_usage_error(cli, cli->argc ? "too many arguments"
                                                      : "which authorization? Give its ID");
        if (strbuf_addstr(&sb, "/oauth/authorizations") < 0 ||
            url_add_segment(&sb, cli->argv[0]) < 0 || !(path = strbuf_detach(&sb, NULL))) {
                strbuf_release(&sb);
                cli_error("out of memory");
                return -ENOMEM;
        }
        r = api_call(cli, "DELETE", path, NULL, NULL, NULL);
        if (r < 0)
                return r;
        printf("Revoked authorization %s\n", cli->argv[0]);
        return 0;
}
