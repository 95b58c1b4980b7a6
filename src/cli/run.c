/* pier run: one-off dynos (run.1234) of the app's current release.
 *
 * Attached (the default): POST /apps/APP/dynos {"attach": true} makes the
 * dyno, then GET .../dynos/NAME/attach with `Upgrade: pier-attach` turns
 * the connection into a stream of frames (lib/attachproto.h): our stdin
 * goes up, the dyno's stdout and stderr come down, and the last frame is
 * its exit status, which becomes ours.  With a terminal on stdin the dyno
 * gets a pty of its own: our terminal goes raw (so ^C, ^Z, arrows travel
 * as bytes) and its size follows ours (SIGWINCH).  Without one, stdin is
 * passed on to its end (then EOF), and SIGINT is sent to the dyno's
 * processes.  One poll() loop over stdin, the socket and a signalfd.
 *
 * The connection is libcurl's (CURLOPT_CONNECT_ONLY: it resolves, connects
 * and, for https, does TLS); the request and the frames go through
 * curl_easy_send()/curl_easy_recv().
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/cli.h"
#include "lib/attachproto.h"
#include "lib/strbuf.h"
#include "lib/util.h"

/* Bounds: the 101's header, and what may wait to go up before stdin is no
 * longer read. */
#define RESPONSE_HEADER_MAX (16 * 1024)
#define OUT_QUEUE_HIGH      (256 * 1024)
#define CONNECT_TIMEOUT_MS  5000L

/* `pier run worker 42`: a process type's name first runs that type's
 * command, with the rest of the words after it (as Heroku does). */
static int expand_type(struct cli *cli, const char *app, const char *word, char **ret)
{
        _cleanup_free_ char *path = NULL;
        json_t *reply = NULL;
        *ret = NULL;
        if (strspn(word, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") !=
            strlen(word))
                return 0;
        if (asprintf(&path, "/apps/%s/formation", app) < 0)
                return -ENOMEM;
        int r = api_call(cli, "GET", path, NULL, &reply, NULL);
        if (r < 0)
                return r;
        size_t i;
        json_t *it;
        json_array_foreach(reply, i, it) {
                const char *type = json_string_value(json_object_get(it, "type"));
                const char *command = json_string_value(json_object_get(it, "command"));
                if (type && command && streq(type, word)) {
                        *ret = strdup(command);
                        break;
                }
        }
        json_decref(reply);
        return 0;
}

/* The words of the command line as one shell command: the words as they
 * are, joined with spaces (the dyno's shell splits them again). */
static int build_command(struct cli *cli, const char *app, char **ret)
{
        _cleanup_free_ char *expanded = NULL;
        struct strbuf sb = STRBUF_INIT;
        int r = expand_type(cli, app, cli->argv[0], &expanded);
        if (r < 0)
                return r;
        r = strbuf_addstr(&sb, expanded ? expanded : cli->argv[0]);
        for (int i = 1; r >= 0 && i < cli->argc; i++) {
                r = strbuf_addch(&sb, ' ');
                if (r >= 0)
                        r = strbuf_addstr(&sb, cli->argv[i]);
        }
        char *s = r >= 0 ? strbuf_detach(&sb, NULL) : NULL;
        if (!s) {
                strbuf_release(&sb);
                cli_error("out of memory");
                return -ENOMEM;
        }
        *ret = s;
        return 0;
}

/* POST the run after the "Running `CMD` on APP... " status written to
 * STATUS, which a refusal ends with "failed" before its reason. */
static int post_run(struct cli *cli, const char *path, json_t *body, FILE *status,
                    json_t **ret_reply)
{
        struct api_reply reply = {0};
        int r = api_request(cli, "POST", path, body, &reply);
        if (r >= 0 && (reply.status < 200 || reply.status >= 300)) {
                fprintf(status, "failed\n");
                fflush(status);
                r = api_report_error(cli, &reply);
        } else if (r < 0)
                fprintf(status, "failed\n");
        else
                *ret_reply = json_incref(reply.body);
        api_reply_done(&reply);
        return r;
}

static int run_detached(struct cli *cli, const char *path, const char *app, const char *cmd)
{
        json_t *body = json_pack("{s:s, s:b}", "command", cmd, "attach", 0);
        json_t *reply = NULL;
        if (!body)
                return -ENOMEM;
        printf("Running `%s` on %s... ", cmd, app);
        fflush(stdout);
        int r = post_run(cli, path, body, stdout, &reply);
        json_decref(body);
        if (r < 0)
                return r;
        const char *name = json_string_value(json_object_get(reply, "name"));
        const char *state = json_string_value(json_object_get(reply, "state"));
        if (cli->json) {
                printf("\n");
                char *s = json_dumps(reply, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
                if (s)
                        printf("%s\n", s);
                free(s);
        } else {
                printf("%s, %s\n", state && streq(state, "starting") ? "starting" : "up",
                       name ? name : "?");
                printf("Run `pier logs -p %s` to view the output.\n", name ? name : "?");
        }
        json_decref(reply);
        return 0;
}

/* ---- the attached connection ---- */

struct conn {
        CURL *curl;
        curl_socket_t sock;
        struct strbuf in;  /* received, not yet parsed */
        struct strbuf out; /* frames not yet sent */
        size_t out_off;
        bool tty;
        bool raw;          /* our terminal is in raw mode */
        struct termios saved;
};

static int wait_sock(struct conn *c, short events)
{
        struct pollfd p = {.fd = c->sock, .events = events};
        int n = poll(&p, 1, 30000);
        if (n < 0 && errno != EINTR)
                return -errno;
        return n == 0 ? -ETIMEDOUT : 0;
}

/* Blocking sends, for the request. */
static int send_all(struct conn *c, const char *data, size_t len)
{
        while (len) {
                size_t n = 0;
                CURLcode code = curl_easy_send(c->curl, data, len, &n);
                if (code == CURLE_AGAIN) {
                        int r = wait_sock(c, POLLOUT);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (code != CURLE_OK)
                        return -ECONNRESET;
                data += n;
                len -= n;
        }
        return 0;
}

/* Receives what there is into c->in: > 0 bytes, 0 nothing now, -EPIPE at
 * the end of the stream, another -errno on error. */
static ssize_t recv_some(struct conn *c)
{
        char buf[65536];
        size_t n = 0;
        CURLcode code = curl_easy_recv(c->curl, buf, sizeof(buf), &n);
        if (code == CURLE_AGAIN)
                return 0;
        if (code != CURLE_OK)
                return -ECONNRESET;
        if (n == 0)
                return -EPIPE;
        if (strbuf_add(&c->in, buf, n) < 0)
                return -ENOMEM;
        return (ssize_t)n;
}

/* The request line and headers of the attach; the 101 and its headers
 * read (whatever came after them stays in c->in). */
static int attach_handshake(struct cli *cli, struct conn *c, const char *path)
{
        _cleanup_free_ char *url = NULL, *host = NULL, *port = NULL, *base = NULL;
        CURLU *u = curl_url();
        if (!u || asprintf(&url, "%s%s", cli->api_url, path) < 0) {
                curl_url_cleanup(u);
                cli_error("out of memory");
                return -ENOMEM;
        }
        if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
            curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
            curl_url_get(u, CURLUPART_PATH, &base, 0) != CURLUE_OK) {
                curl_url_cleanup(u);
                cli_error("'%s' is not a usable API URL; use e.g. --api %s", cli->api_url,
                          PIER_DEFAULT_API);
                return -EINVAL;
        }
        (void)curl_url_get(u, CURLUPART_PORT, &port, 0);
        curl_url_cleanup(u);

        char errbuf[CURL_ERROR_SIZE] = "";
        (void)curl_easy_setopt(c->curl, CURLOPT_URL, url);
        (void)curl_easy_setopt(c->curl, CURLOPT_CONNECT_ONLY, 1L);
        (void)curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
        (void)curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
        (void)curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, errbuf);
#if LIBCURL_VERSION_NUM >= 0x075500
        (void)curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
        CURLcode code = curl_easy_perform(c->curl);
        if (code != CURLE_OK) {
                cli_error("cannot reach pierd at %s: %s", cli->api_url,
                          errbuf[0] ? errbuf : curl_easy_strerror(code));
                return -ECONNREFUSED;
        }
        if (curl_easy_getinfo(c->curl, CURLINFO_ACTIVESOCKET, &c->sock) != CURLE_OK ||
            c->sock == CURL_SOCKET_BAD) {
                cli_error("cannot reach pierd at %s", cli->api_url);
                return -EIO;
        }

        struct strbuf req = STRBUF_INIT;
        int r = strbuf_addf(&req,
                            "GET %s HTTP/1.1\r\n"
                            "Host: %s%s%s\r\n"
                            "User-Agent: pier/" PIER_VERSION "\r\n"
                            "Authorization: Bearer %s\r\n"
                            "Connection: Upgrade\r\n"
                            "Upgrade: " ATTACH_PROTOCOL "\r\n"
                            "\r\n",
                            base, host, port ? ":" : "", port ? port : "",
                            cli->token ? cli->token : "");
        if (r >= 0)
                r = send_all(c, req.buf, req.len);
        strbuf_release(&req);
        if (r < 0) {
                cli_error("sending the attach request to pierd failed: %s", strerror(-r));
                return r;
        }

        /* The answer's header. */
        char *end = NULL;
        while (!(end = c->in.buf ? strstr(c->in.buf, "\r\n\r\n") : NULL)) {
                if (c->in.len > RESPONSE_HEADER_MAX) {
                        cli_error("pierd's answer to the attach has an oversized header");
                        return -EBADMSG;
                }
                ssize_t n = recv_some(c);
                if (n == 0)
                        n = wait_sock(c, POLLIN);
                if (n < 0) {
                        cli_error("pierd closed the connection before attaching");
                        return -ECONNRESET;
                }
        }
        size_t header_len = (size_t)(end - c->in.buf) + 4;
        int status = 0;
        if (sscanf(c->in.buf, "HTTP/1.%*d %d", &status) != 1) {
                cli_error("pierd's answer to the attach is not HTTP");
                return -EBADMSG;
        }
        if (status != 101) {
                /* An API error: its JSON body (small) carries the message. */
                for (int i = 0; i < 50 && recv_some(c) >= 0; i++)
                        if (c->in.len > header_len && c->in.buf[c->in.len - 1] == '\n')
                                break;
                        else
                                (void)wait_sock(c, POLLIN);
                json_t *err = json_loadb(c->in.buf + header_len, c->in.len - header_len, 0, NULL);
                const char *msg = json_string_value(json_object_get(err, "message"));
                if (status == 401)
                        cli_error("not logged in or the token was refused — run `pier login`");
                else
                        cli_error("attaching failed (HTTP %d): %s", status,
                                  msg ? msg : "no message");
                json_decref(err);
                return -EPROTO;
        }
        memmove(c->in.buf, c->in.buf + header_len, c->in.len - header_len);
        c->in.len -= header_len;
        c->in.buf[c->in.len] = '\0';
        return 0;
}

static void tty_restore(struct conn *c)
{
        if (c->raw) {
                (void)tcsetattr(STDIN_FILENO, TCSADRAIN, &c->saved);
                c->raw = false;
        }
}

static int tty_raw(struct conn *c)
{
        if (tcgetattr(STDIN_FILENO, &c->saved) < 0)
                return -errno;
        struct termios t = c->saved;
        cfmakeraw(&t);
        if (tcsetattr(STDIN_FILENO, TCSADRAIN, &t) < 0)
                return -errno;
        c->raw = true;
        return 0;
}

static void window_size(unsigned *rows, unsigned *cols)
{
        struct winsize ws = {0};
        *rows = *cols = 0;
        if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) < 0 &&
            ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) < 0)
                return;
        if (ws.ws_row >= 1 && ws.ws_row <= ATTACH_WINSIZE_MAX && ws.ws_col >= 1 &&
            ws.ws_col <= ATTACH_WINSIZE_MAX) {
                *rows = ws.ws_row;
                *cols = ws.ws_col;
        }
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
        while (len) {
                ssize_t n = write(fd, p, len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == EAGAIN) {
                        struct pollfd pfd = {.fd = fd, .events = POLLOUT};
                        (void)poll(&pfd, 1, -1);
                        continue;
                }
                if (n <= 0)
                        return -errno;
                p += n;
                len -= (size_t)n;
        }
        return 0;
}

/* Handles the frames in c->in: 1 with *ret_status at EXIT, 0 for more,
 * a negative errno on a protocol error. */
static int handle_frames(struct conn *c, int *ret_status)
{
        size_t off = 0;
        int r = 0;
        while (r == 0) {
                struct attach_frame f;
                int n = attach_frame_parse(c->in.buf + off, c->in.len - off, ATTACH_FROM_PIERD,
                                           &f);
                if (n == 0)
                        break;
                if (n < 0) {
                        cli_error("pierd sent something that is not the attach protocol");
                        return n;
                }
                off += (size_t)n;
                if (f.type == ATTACH_EXIT) {
                        *ret_status = f.status;
                        r = 1;
                } else if (write_all(f.type == ATTACH_STDERR ? STDERR_FILENO : STDOUT_FILENO,
                                     f.data, f.len) == -EPIPE) {
                        /* `pier run yes | head -1`: we end as a writer to a
                         * closed pipe would, and the dyno with us. */
                        *ret_status = 128 + SIGPIPE;
                        r = 1;
                }
        }
        memmove(c->in.buf, c->in.buf + off, c->in.len - off);
        c->in.len -= off;
        if (c->in.buf)
                c->in.buf[c->in.len] = '\0';
        return r;
}

/* The loop: 0 with the dyno's exit status, or a negative errno (told). */
static int attach_loop(struct conn *c, int sfd, int *ret_status)
{
        bool stdin_open = true;
        int status = -1;
        int r = handle_frames(c, &status);
        if (r != 0)
                goto done;
        for (;;) {
                size_t queued = c->out.len - c->out_off;
                struct pollfd p[3] = {
                        {.fd = c->sock, .events = POLLIN | (queued ? POLLOUT : 0)},
                        {.fd = sfd, .events = POLLIN},
                        {.fd = stdin_open && queued < OUT_QUEUE_HIGH ? STDIN_FILENO : -1,
                         .events = POLLIN},
                };
                if (poll(p, 3, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        break;
                }
                if (p[1].revents & POLLIN) {
                        struct signalfd_siginfo si;
                        if (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
                                if (si.ssi_signo == SIGWINCH && c->tty) {
                                        unsigned rows, cols;
                                        window_size(&rows, &cols);
                                        if (rows)
                                                r = attach_frame_add_resize(&c->out, rows, cols);
                                } else if (si.ssi_signo == SIGINT || si.ssi_signo == SIGQUIT) {
                                        r = attach_frame_add_signal(&c->out, (int)si.ssi_signo);
                                } else if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGHUP) {
                                        /* We go; pierd stops the dyno. */
                                        status = 128 + (int)si.ssi_signo;
                                        r = 1;
                                        goto done;
                                }
                                if (r < 0)
                                        goto done;
                        }
                }
                if (p[2].revents & (POLLIN | POLLHUP | POLLERR)) {
                        char buf[ATTACH_FRAME_MAX];
                        ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
                        if (n > 0)
                                r = attach_frame_add(&c->out, ATTACH_STDIN, buf, (size_t)n);
                        else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
                                /* end of input (an empty frame) */
                                r = attach_frame_add(&c->out, ATTACH_STDIN, NULL, 0);
                                stdin_open = false;
                        }
                        if (r < 0)
                                goto done;
                }
                while (c->out.len > c->out_off) {
                        size_t n = 0;
                        CURLcode code = curl_easy_send(c->curl, c->out.buf + c->out_off,
                                                       c->out.len - c->out_off, &n);
                        if (code == CURLE_AGAIN)
                                break;
                        if (code != CURLE_OK) {
                                r = -ECONNRESET;
                                goto done;
                        }
                        c->out_off += n;
                }
                if (c->out_off == c->out.len) {
                        strbuf_reset(&c->out);
                        c->out_off = 0;
                }
                if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
                        ssize_t n;
                        while ((n = recv_some(c)) > 0) {
                                r = handle_frames(c, &status);
                                if (r != 0)
                                        goto done;
                        }
                        if (n < 0) {
                                r = n;
                                goto done;
                        }
                }
        }
done:
        if (r == 1) {
                *ret_status = status;
                return 0;
        }
        if (r == -EPIPE || r == -ECONNRESET)
                cli_error("the connection to pierd was lost");
        else if (r < 0 && r != -EBADMSG)
                cli_error("attached run: %s", strerror(-r));
        return r < 0 ? r : -EIO;
}

static int run_attached(struct cli *cli, const char *path, const char *app, const char *cmd)
{
        bool tty = isatty(STDIN_FILENO) && !cli_opt(cli, "no-tty");
        unsigned rows = 0, cols = 0;
        if (tty)
                window_size(&rows, &cols);
        json_t *body = json_pack("{s:s, s:b, s:b}", "command", cmd, "attach", 1, "tty", tty);
        if (!body) {
                cli_error("out of memory");
                return -ENOMEM;
        }
        if (rows) {
                json_object_set_new(body, "rows", json_integer(rows));
                json_object_set_new(body, "cols", json_integer(cols));
        }
        const char *term = getenv("TERM");
        if (tty && term && *term && strlen(term) < 256)
                json_object_set_new(body, "env", json_pack("{s:s}", "TERM", term));
        /* Status lines on stderr: stdout is the dyno's alone. */
        fprintf(stderr, "Running `%s` on %s... ", cmd, app);
        fflush(stderr);
        json_t *reply = NULL;
        int r = post_run(cli, path, body, stderr, &reply);
        json_decref(body);
        if (r < 0)
                return r;
        _cleanup_free_ char *name = NULL, *attach_path = NULL;
        const char *n = json_string_value(json_object_get(reply, "name"));
        name = n ? strdup(n) : NULL;
        json_decref(reply);
        if (!name) {
                fprintf(stderr, "failed\n");
                cli_error("pierd did not say which dyno it started");
                return -EBADMSG;
        }
        fprintf(stderr, "up, %s\n", name);
        struct strbuf sb = STRBUF_INIT;
        if (strbuf_addstr(&sb, path) < 0 || url_add_segment(&sb, name) < 0 ||
            strbuf_addstr(&sb, "/attach") < 0 || !(attach_path = strbuf_detach(&sb, NULL))) {
                strbuf_release(&sb);
                cli_error("out of memory");
                return -ENOMEM;
        }

        /* Signals come through a signalfd: blocked from here on. */
        sigset_t mask, old;
        sigemptyset(&mask);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGQUIT);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGHUP);
        sigaddset(&mask, SIGWINCH);
        sigaddset(&mask, SIGPIPE);
        (void)sigprocmask(SIG_BLOCK, &mask, &old);
        _cleanup_close_ int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);

        struct conn c = {.curl = curl_easy_init(), .sock = CURL_SOCKET_BAD, .tty = tty};
        int status = -1;
        if (!c.curl || sfd < 0) {
                cli_error("out of memory");
                r = -ENOMEM;
        } else
                r = attach_handshake(cli, &c, attach_path);
        if (r >= 0 && tty)
                (void)tty_raw(&c);
        if (r >= 0)
                r = attach_loop(&c, sfd, &status);
        tty_restore(&c);
        curl_easy_cleanup(c.curl);
        strbuf_release(&c.in);
        strbuf_release(&c.out);
        (void)sigprocmask(SIG_SETMASK, &old, NULL);
        if (r < 0)
                return r;
        if (status < 0) {
                cli_error("%s could not start; see `pier logs -p %s`", name, name);
                return -EIO;
        }
        cli->exit_status = status;
        return 0;
}

int cmd_run(struct cli *cli)
{
        _cleanup_free_ char *path = NULL, *command = NULL;
        const char *app;
        int r;

        if (cli->argc < 1)
                return cli_usage_error(cli, "what should run? Give a command");
        r = cli_app(cli, &app);
        if (r < 0)
                return r;
        r = build_command(cli, app, &command);
        if (r < 0)
                return r;
        r = app_path(app, "/dynos", &path);
        if (r < 0)
                return r;
        if (cli_opt(cli, "detach"))
                return run_detached(cli, path, app, command);
        return run_attached(cli, path, app, command);
}
