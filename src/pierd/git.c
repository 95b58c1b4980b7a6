/* git smart HTTP through `git http-backend`; see git.h. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/base64.h"
#include "lib/log.h"
#include "lib/sha256.h"
#include "lib/spawn.h"
#include "lib/strbuf.h"
#include "lib/timefmt.h"
#include "lib/util.h"
#include "pierd/git.h"

/* A push bigger than this is refused (the issue asks for 200 MB repos). */
#define GIT_BODY_MAX     ((uint64_t)2 << 30)
#define CGI_HEADERS_MAX  (16 * 1024)
#define READ_CHUNK       (64 * 1024)

enum git_state {
        GIT_BODY,         /* spooling the request body */
        GIT_WAIT_HEADERS, /* child running, its CGI headers not all read */
        GIT_HAVE_HEADERS, /* headers read: queue the response */
        GIT_STREAMING,    /* response queued, body streaming */
        GIT_DONE,         /* a response (maybe an error) is queued */
};

struct git_request {
        struct git_request *prev, *next; /* all live requests */
        const struct git_env *env;
        struct MHD_Connection *conn;
        enum git_state state;
        bool suspended;
        char *app_id, *app_name;
        uint32_t app_uid;
        char *user;
        char *token; /* the pusher's token, handed to the build */
        char *path_info;
        char *method;
        char *query;
        int spool_fd;
        uint64_t spooled;
        int out_fd; /* the child's stdout */
        struct loop_io *out_io;
        struct strbuf buf; /* read from the child, not yet sent */
        size_t buf_off;
        bool eof;
        unsigned status;
        struct strbuf headers; /* "Name: value\n" lines from the child */
};

/* Live requests, for git_resume_all() at shutdown. */
static struct git_request *live;

/* ---- children ---- */

struct reaper {
        pid_t pid;
        int pidfd;
        struct loop_io *io;
        char what[32];
        struct reaper *prev, *next;
};

/* Children not reaped yet, so that git_forget_children() can let go of
 * them at shutdown. */
static struct reaper *reapers;

static void reaper_free(struct reaper *rp)
{
        if (rp->prev)
                rp->prev->next = rp->next;
        else
                reapers = rp->next;
        if (rp->next)
                rp->next->prev = rp->prev;
        loop_io_free(rp->io);
        close(rp->pidfd);
        free(rp);
}

void git_forget_children(void)
{
        while (reapers)
                reaper_free(reapers);
}

static void on_child_exit(struct loop_io *io, int fd, uint32_t revents, void *userdata)
{
        struct reaper *rp = userdata;
        int status = 0;
        if (waitpid(rp->pid, &status, WNOHANG) == 0)
                return;
        if (WIFSIGNALED(status))
                log_warning("%s (pid %d) killed by signal %d", rp->what, (int)rp->pid,
                            WTERMSIG(status));
        reaper_free(rp);
}

/* Reap the child when it exits, whenever that is. */
static void reap_later(struct loop *l, pid_t pid, int pidfd, const char *what)
{
        struct reaper *rp = calloc(1, sizeof(*rp));
        if (rp) {
                rp->pid = pid;
                rp->pidfd = pidfd;
                snprintf(rp->what, sizeof(rp->what), "%s", what);
                if (loop_add_io(l, pidfd, EPOLLIN, on_child_exit, rp, &rp->io) >= 0) {
                        rp->next = reapers;
                        if (reapers)
                                reapers->prev = rp;
                        reapers = rp;
                        return;
                }
                free(rp);
        }
        /* Cannot watch it: wait now rather than leave a zombie. */
        (void)waitpid(pid, NULL, 0);
        close(pidfd);
}

/* ---- responses ---- */

static enum MHD_Result send_text(struct git_request *g, unsigned status, const char *msg,
                                 bool auth)
{
        g->state = GIT_DONE;
        struct MHD_Response *resp = MHD_create_response_from_buffer(
                strlen(msg), (void *)msg, MHD_RESPMEM_MUST_COPY);
        if (!resp)
                return MHD_NO;
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
        if (auth)
                MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                        "Basic realm=\"pier\"");
        enum MHD_Result ret = MHD_queue_response(g->conn, status, resp);
        MHD_destroy_response(resp);
        return ret;
}

/* ---- auth ---- */

/* The token from "Authorization: Basic base64(user:token)" (any user
 * name), or from "Bearer TOKEN".  NULL when there is none. */
static char *request_token(struct MHD_Connection *conn)
{
        const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
        if (!h)
                return NULL;
        if (strncasecmp(h, "Bearer ", 7) == 0)
                return strdup(h + 7);
        if (strncasecmp(h, "Basic ", 6) != 0)
                return NULL;
        const char *b = h + 6;
        while (*b == ' ')
                b++;
        _cleanup_free_ char *raw = NULL;
        size_t len;
        if (base64_decode(b, strlen(b), (void **)&raw, &len) < 0)
                return NULL;
        char *colon = memchr(raw, ':', len);
        if (!colon)
                return NULL;
        return strndup(colon + 1, len - (size_t)(colon + 1 - raw));
}

/* ---- the repository ---- */

static int repo_path(const struct git_env *env, const char *app_id, char **ret)
{
        return asprintf(ret, "%s/repos/%s.git", env->home, app_id) < 0 ? -ENOMEM : 0;
}

/* The hook is rewritten for every push, so that it always runs the
 * pier-build next to this pierd. */
static int write_hook(const struct git_env *env, const char *repo)
{
        if (strchr(env->build_bin, '\''))
                return -EINVAL;
        _cleanup_free_ char *path = NULL, *tmp = NULL, *text = NULL;
        if (asprintf(&path, "%s/hooks/pre-receive", repo) < 0 ||
            asprintf(&tmp, "%s/hooks/.pre-receive.tmp", repo) < 0 ||
            asprintf(&text, "#!/bin/sh\n# Written by pierd: a push builds the app.\n"
                            "exec '%s' pre-receive\n",
                     env->build_bin) < 0)
                return -ENOMEM;
        _cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
        if (fd < 0)
                return -errno;
        size_t n = strlen(text);
        if (write(fd, text, n) != (ssize_t)n)
                return -EIO;
        if (rename(tmp, path) < 0)
                return -errno;
        return 0;
}

static int ensure_repo(const struct git_env *env, const char *app_id, bool for_push)
{
        _cleanup_free_ char *repo = NULL, *head = NULL;
        int r = repo_path(env, app_id, &repo);
        if (r < 0)
                return r;
        if (asprintf(&head, "%s/HEAD", repo) < 0)
                return -ENOMEM;
        if (access(head, F_OK) < 0) {
                /* First git request of the app: a bare repo whose HEAD is
                 * main.  Quick enough to do on the loop. */
                const char *argv[] = {"git",  "init", "--bare",       "--quiet",
                                      "--initial-branch=main", repo, NULL};
                struct spawn_opts o = {.argv = argv, .stdin_fd = -1, .stdout_fd = -1,
                                       .stderr_fd = STDERR_FILENO};
                int status;
                r = spawn_wait(&o, &status);
                if (r < 0)
                        return r;
                if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                        return -EIO;
        }
        return for_push ? write_hook(env, repo) : 0;
}

/* ---- the CGI child ---- */

static int strv_addf(char **v, size_t *n, size_t max, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
static int strv_addf(char **v, size_t *n, size_t max, const char *fmt, ...)
{
        if (*n + 1 >= max)
                return -E2BIG;
        va_list ap;
        va_start(ap, fmt);
        int k = vasprintf(&v[*n], fmt, ap);
        va_end(ap);
        if (k < 0)
                return -ENOMEM;
        (*n)++;
        return 0;
}

static void on_child_output(struct loop_io *io, int fd, uint32_t revents, void *userdata);

static int start_backend(struct git_request *g)
{
        const struct git_env *env = g->env;
        const char *h;
        char *envp[40] = {NULL};
        size_t n = 0;
        int r = 0;
        char port[8];
        snprintf(port, sizeof(port), "%u", env->router_port);

#define ADD(...)                                                                                   \
        do {                                                                                       \
                if (r >= 0)                                                                        \
                        r = strv_addf(envp, &n, ELEMENTSOF(envp), __VA_ARGS__);                    \
        } while (0)
        ADD("PATH=/usr/local/bin:/usr/bin:/bin");
        ADD("HOME=%s", env->home);
        ADD("GIT_PROJECT_ROOT=%s/repos", env->home);
        ADD("GIT_HTTP_EXPORT_ALL=1");
        ADD("GIT_CONFIG_NOSYSTEM=1");
        ADD("PATH_INFO=%s", g->path_info);
        ADD("REQUEST_METHOD=%s", g->method);
        ADD("QUERY_STRING=%s", g->query ? g->query : "");
        ADD("REMOTE_USER=%s", g->user);
        ADD("REMOTE_ADDR=127.0.0.1");
        if (streq(g->method, "POST"))
                ADD("CONTENT_LENGTH=%" PRIu64, g->spooled);
        if ((h = MHD_lookup_connection_value(g->conn, MHD_HEADER_KIND, "Content-Type")))
                ADD("CONTENT_TYPE=%s", h);
        if ((h = MHD_lookup_connection_value(g->conn, MHD_HEADER_KIND, "Content-Encoding")))
                ADD("HTTP_CONTENT_ENCODING=%s", h);
        if ((h = MHD_lookup_connection_value(g->conn, MHD_HEADER_KIND, "Git-Protocol")))
                ADD("GIT_PROTOCOL=%s", h);
        ADD("PIER_API_URL=%s", env->api_url);
        ADD("PIER_TOKEN=%s", g->token);
        ADD("PIER_APP_ID=%s", g->app_id);
        ADD("PIER_APP_NAME=%s", g->app_name);
        ADD("PIER_APP_UID=%" PRIu32, g->app_uid);
        ADD("PIER_HOME=%s", env->home);
        ADD("PIER_BUILDPACKS_DIR=%s", env->buildpacks_dir);
        ADD("PIER_WEB_URL=http://%s.%s%s%s/", g->app_name, env->domain,
            env->router_port == 80 ? "" : ":", env->router_port == 80 ? "" : port);
        ADD("PIER_BUILD_TIMEOUT=%u", env->build_timeout);
        ADD("PIER_BUILD_MAX_FILES=%u", env->build_max_files);
        ADD("PIER_BOOT_TIMEOUT=%u", env->boot_timeout);
#undef ADD
        if (r < 0)
                goto out;

        int out[2];
        if (pipe2(out, O_CLOEXEC) < 0) {
                r = -errno;
                goto out;
        }
        if (g->spool_fd >= 0 && lseek(g->spool_fd, 0, SEEK_SET) < 0) {
                r = -errno;
                close(out[0]);
                close(out[1]);
                goto out;
        }
        const char *argv[] = {"git", "http-backend", NULL};
        struct spawn_opts o = {.argv = argv,
                               .envp = (const char *const *)envp,
                               .stdin_fd = g->spool_fd,
                               .stdout_fd = out[1],
                               .stderr_fd = STDERR_FILENO,
                               .new_session = true};
        pid_t pid;
        int pidfd;
        r = spawn(&o, &pid, &pidfd);
        close(out[1]);
        if (r < 0) {
                close(out[0]);
                goto out;
        }
        reap_later(env->loop, pid, pidfd, "git http-backend");
        if (fcntl(out[0], F_SETFL, O_NONBLOCK) < 0) {
                r = -errno;
                close(out[0]);
                goto out;
        }
        g->out_fd = out[0];
        r = loop_add_io(env->loop, g->out_fd, EPOLLIN, on_child_output, g, &g->out_io);
out:
        for (size_t i = 0; i < n; i++) {
                /* The token is a secret: do not leave it in freed memory. */
                explicit_bzero(envp[i], strlen(envp[i]));
                free(envp[i]);
        }
        return r;
}

/* Read what is there; 0 at EOF or EAGAIN (see g->eof), negative on error. */
static int read_child(struct git_request *g)
{
        char chunk[READ_CHUNK];
        for (;;) {
                ssize_t k = read(g->out_fd, chunk, sizeof(chunk));
                if (k > 0) {
                        if (strbuf_add(&g->buf, chunk, (size_t)k) < 0)
                                return -ENOMEM;
                        if (g->state == GIT_STREAMING)
                                return 0; /* enough to send; do not hoard */
                        continue;
                }
                if (k == 0) {
                        g->eof = true;
                        return 0;
                }
                if (errno == EINTR)
                        continue;
                return errno == EAGAIN ? 0 : -errno;
        }
}

/* CGI headers: "Status: 200 OK", other "Name: value" lines, a blank line. */
static int parse_cgi_headers(struct git_request *g)
{
        char *end = memmem(g->buf.buf, g->buf.len, "\r\n\r\n", 4);
        size_t skip = 4;
        char *end_lf = memmem(g->buf.buf, g->buf.len, "\n\n", 2);
        if (!end || (end_lf && end_lf < end)) {
                end = end_lf;
                skip = 2;
        }
        if (!end) {
                if (g->eof || g->buf.len > CGI_HEADERS_MAX)
                        return -EBADMSG;
                return -EAGAIN;
        }
        g->status = 200;
        char *line = g->buf.buf;
        while (line < end) {
                char *nl = memchr(line, '\n', (size_t)(end - line));
                char *stop = nl ? nl : end;
                size_t len = (size_t)(stop - line);
                if (len && line[len - 1] == '\r')
                        len--;
                if (len > 7 && strncasecmp(line, "Status:", 7) == 0) {
                        unsigned st = (unsigned)strtoul(line + 7, NULL, 10);
                        if (st >= 100 && st <= 599)
                                g->status = st;
                } else if (len && strbuf_add(&g->headers, line, len) < 0)
                        return -ENOMEM;
                else if (len && strbuf_addch(&g->headers, '\n') < 0)
                        return -ENOMEM;
                line = stop + 1;
        }
        g->buf_off = (size_t)(end - g->buf.buf) + skip;
        return 0;
}

static void resume(struct git_request *g)
{
        if (g->suspended) {
                g->suspended = false;
                MHD_resume_connection(g->conn);
                g->env->wake(g->env->wake_userdata);
        }
}

static void suspend(struct git_request *g)
{
        if (!g->suspended) {
                g->suspended = true;
                MHD_suspend_connection(g->conn);
        }
}

static void stop_watching(struct git_request *g)
{
        loop_io_free(g->out_io);
        g->out_io = NULL;
}

static void on_child_output(struct loop_io *io, int fd, uint32_t revents, void *userdata)
{
        struct git_request *g = userdata;
        if (g->state == GIT_WAIT_HEADERS) {
                int r = read_child(g);
                if (r >= 0)
                        r = parse_cgi_headers(g);
                if (r == -EAGAIN)
                        return;
                if (r < 0) {
                        log_error_errno(r, "git http-backend for %s: bad CGI output: %m",
                                        g->app_name);
                        g->status = 500;
                        g->eof = true;
                }
                g->state = GIT_HAVE_HEADERS;
        }
        /* Streaming: the reader reads; we only wake the connection. */
        stop_watching(g);
        resume(g);
}

static ssize_t read_body(void *cls, uint64_t pos, char *out, size_t max)
{
        struct git_request *g = cls;
        if (g->buf_off >= g->buf.len) {
                strbuf_reset(&g->buf);
                g->buf_off = 0;
                if (!g->eof && read_child(g) < 0)
                        return MHD_CONTENT_READER_END_WITH_ERROR;
        }
        size_t avail = g->buf.len - g->buf_off;
        if (avail > 0) {
                size_t n = MIN(avail, max);
                memcpy(out, g->buf.buf + g->buf_off, n);
                g->buf_off += n;
                return (ssize_t)n;
        }
        if (g->eof)
                return MHD_CONTENT_READER_END_OF_STREAM;
        /* Nothing yet: park the connection until the child writes. */
        if (!g->out_io &&
            loop_add_io(g->env->loop, g->out_fd, EPOLLIN, on_child_output, g, &g->out_io) < 0)
                return MHD_CONTENT_READER_END_WITH_ERROR;
        suspend(g);
        return 0;
}

static enum MHD_Result queue_stream(struct git_request *g)
{
        if (g->status == 500 && g->headers.len == 0)
                return send_text(g, 500, "git failed on the server; see pierd's log\n", false);
        struct MHD_Response *resp =
                MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, READ_CHUNK, read_body, g, NULL);
        if (!resp)
                return MHD_NO;
        char *line = g->headers.buf;
        while (line && *line) {
                char *nl = strchr(line, '\n');
                if (nl)
                        *nl = '\0';
                char *colon = strchr(line, ':');
                if (colon) {
                        *colon = '\0';
                        const char *v = colon + 1;
                        while (*v == ' ')
                                v++;
                        MHD_add_response_header(resp, line, v);
                }
                line = nl ? nl + 1 : NULL;
        }
        g->state = GIT_STREAMING;
        enum MHD_Result ret = MHD_queue_response(g->conn, g->status, resp);
        MHD_destroy_response(resp);
        return ret;
}

/* ---- requests ---- */

/* "/NAME.git/REST" → NAME and "/REST"; false when url is not like that. */
static bool split_git_url(const char *url, char **ret_name, const char **ret_rest)
{
        if (url[0] != '/')
                return false;
        const char *dot = strstr(url, ".git/");
        if (!dot || dot == url + 1 || memchr(url + 1, '/', (size_t)(dot - url - 1)))
                return false;
        *ret_name = strndup(url + 1, (size_t)(dot - url - 1));
        *ret_rest = dot + 4;
        return *ret_name != NULL;
}

int git_request_new(const struct git_env *env, struct MHD_Connection *conn, const char *url,
                    const char *method, struct git_request **ret)
{
        _cleanup_free_ char *name = NULL;
        const char *rest;
        *ret = NULL;
        if (!split_git_url(url, &name, &rest))
                return 0;

        struct git_request *g = calloc(1, sizeof(*g));
        if (!g)
                return -ENOMEM;
        g->env = env;
        g->conn = conn;
        g->spool_fd = -1;
        g->next = live;
        if (live)
                live->prev = g;
        live = g;
        g->out_fd = -1;
        g->method = strdup(method);
        *ret = g;
        if (!g->method)
                return -ENOMEM;

        const char *query = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "service");
        bool info_refs = streq(rest, "/info/refs") && streq(method, "GET");
        bool push = (info_refs && query && streq(query, "git-receive-pack")) ||
                    (streq(rest, "/git-receive-pack") && streq(method, "POST"));
        bool fetch = (info_refs && query && streq(query, "git-upload-pack")) ||
                     (streq(rest, "/git-upload-pack") && streq(method, "POST"));
        if (!push && !fetch) {
                send_text(g, 404, "pier serves only git's smart HTTP protocol here\n", false);
                return 0;
        }

        g->token = request_token(conn);
        _cleanup_(token_freep) struct token *t = NULL;
        int r = -ENOENT;
        if (g->token) {
                char hash[65];
                sha256_hex(g->token, strlen(g->token), hash);
                r = store_token_find(env->store, hash, &t);
        }
        if (r == -ENOENT) {
                send_text(g, 401,
                          "pier: authentication required — use an API token as the password "
                          "(run `pier login`, then `pier git:remote -a APP`)\n",
                          true);
                return 0;
        }
        if (r < 0) {
                send_text(g, 500, "pier: the state store failed; see pierd's log\n", false);
                return 0;
        }
        if (push && !streq(t->scope, "global")) {
                send_text(g, 403, "pier: this token may not push; use a token with scope global\n",
                          false);
                return 0;
        }

        _cleanup_(app_freep) struct app *app = NULL;
        r = store_app_get(env->store, name, &app);
        if (r == -ENOENT) {
                _cleanup_free_ char *msg = NULL;
                if (asprintf(&msg, "pier: no app named %s; create it with `pier apps:create %s`\n",
                             name, name) < 0)
                        return -ENOMEM;
                send_text(g, 404, msg, false);
                return 0;
        }
        if (r < 0) {
                send_text(g, 500, "pier: the state store failed; see pierd's log\n", false);
                return 0;
        }
        g->app_id = strdup(app->id);
        g->app_name = strdup(app->name);
        g->app_uid = app->uid;
        g->user = strdup(t->user);
        if (asprintf(&g->path_info, "/%s.git%s", app->id, rest) < 0)
                g->path_info = NULL;
        if (query && asprintf(&g->query, "service=%s", query) < 0)
                g->query = NULL;
        if (!g->app_id || !g->app_name || !g->user || !g->path_info || (query && !g->query))
                return -ENOMEM;

        if (streq(method, "POST")) {
                _cleanup_free_ char *tmpdir = NULL;
                if (asprintf(&tmpdir, "%s/tmp", env->home) < 0)
                        return -ENOMEM;
                (void)mkdir(tmpdir, 0700);
                g->spool_fd = open(tmpdir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
                if (g->spool_fd < 0) {
                        log_error_errno(-errno, "spooling a git request in %s: %m", tmpdir);
                        send_text(g, 500, "pier: no room for the push; see pierd's log\n", false);
                        return 0;
                }
        }
        g->state = GIT_BODY;
        return 0;
}

enum MHD_Result git_request_handle(struct git_request *g, const char *upload_data,
                                   size_t *upload_data_size)
{
        switch (g->state) {
        case GIT_DONE:
                *upload_data_size = 0; /* an error is queued: drop the rest */
                return MHD_YES;
        case GIT_BODY:
                if (*upload_data_size > 0) {
                        if (g->spool_fd < 0 || g->spooled + *upload_data_size > GIT_BODY_MAX) {
                                *upload_data_size = 0;
                                return send_text(g, 413, "pier: the push is over 2 GiB\n", false);
                        }
                        /* Local disk: a short blocking write is fine here. */
                        const char *p = upload_data;
                        size_t left = *upload_data_size;
                        while (left > 0) {
                                ssize_t k = write(g->spool_fd, p, left);
                                if (k < 0 && errno == EINTR)
                                        continue;
                                if (k <= 0) {
                                        log_error_errno(-errno, "spooling a push: %m");
                                        *upload_data_size = 0;
                                        return send_text(g, 500,
                                                         "pier: no room for the push; see "
                                                         "pierd's log\n",
                                                         false);
                                }
                                p += k;
                                left -= (size_t)k;
                        }
                        g->spooled += *upload_data_size;
                        *upload_data_size = 0;
                        return MHD_YES;
                }
                {
                        bool push = strstr(g->path_info, "receive-pack") ||
                                    (g->query && strstr(g->query, "receive-pack"));
                        int r = ensure_repo(g->env, g->app_id, push);
                        if (r >= 0)
                                r = start_backend(g);
                        if (r < 0) {
                                log_error_errno(r, "starting git for %s: %m", g->app_name);
                                return send_text(g, 500,
                                                 "pier: could not start git; see pierd's log\n",
                                                 false);
                        }
                }
                g->state = GIT_WAIT_HEADERS;
                suspend(g);
                return MHD_YES;
        case GIT_WAIT_HEADERS:
                /* Woken early; keep waiting. */
                suspend(g);
                return MHD_YES;
        case GIT_HAVE_HEADERS:
                return queue_stream(g);
        case GIT_STREAMING:
                return MHD_YES;
        }
        return MHD_NO;
}

void git_request_free(struct git_request *g)
{
        if (!g)
                return;
        if (g->prev)
                g->prev->next = g->next;
        else if (live == g)
                live = g->next;
        if (g->next)
                g->next->prev = g->prev;
        stop_watching(g);
        if (g->out_fd >= 0)
                close(g->out_fd);
        if (g->spool_fd >= 0)
                close(g->spool_fd);
        if (g->token) {
                explicit_bzero(g->token, strlen(g->token));
                free(g->token);
        }
        strbuf_release(&g->buf);
        strbuf_release(&g->headers);
        free(g->app_id);
        free(g->app_name);
        free(g->user);
        free(g->path_info);
        free(g->method);
        free(g->query);
        free(g);
}

void git_remove_app_data(const struct git_env *env, const char *app_id)
{
        _cleanup_free_ char *repo = NULL, *cache = NULL, *slugs = NULL, *run = NULL;
        if (asprintf(&repo, "%s/repos/%s.git", env->home, app_id) < 0 ||
            asprintf(&cache, "%s/cache/%s", env->home, app_id) < 0 ||
            asprintf(&slugs, "%s/slugs/%s", env->home, app_id) < 0 ||
            asprintf(&run, "%s/run/%s", env->home, app_id) < 0)
                return;
        const char *argv[] = {"rm", "-rf", "--one-file-system", "--", repo, cache, slugs,
                              run,  NULL};
        struct spawn_opts o = {.argv = argv, .stdin_fd = -1, .stdout_fd = -1,
                               .stderr_fd = STDERR_FILENO};
        pid_t pid;
        int pidfd;
        int r = spawn(&o, &pid, &pidfd);
        if (r < 0) {
                log_error_errno(r, "removing the data of app %s: %m", app_id);
                return;
        }
        reap_later(env->loop, pid, pidfd, "rm");
}

void git_resume_all(void)
{
        for (struct git_request *g = live; g; g = g->next) {
                if (!g->suspended)
                        continue;
                g->eof = true;
                if (g->state == GIT_WAIT_HEADERS) {
                        g->state = GIT_HAVE_HEADERS;
                        g->status = 500;
                        strbuf_reset(&g->headers);
                }
                stop_watching(g);
                g->suspended = false;
                MHD_resume_connection(g->conn);
        }
}
