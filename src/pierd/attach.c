/* Attached one-off dynos; see attach.h and docs/api.md "Attached runs". */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include "lib/attachproto.h"
#include "lib/log.h"
#include "lib/strbuf.h"
#include "lib/timefmt.h"
#include "lib/util.h"
#include "pierd/attach.h"

/* Heroku's rendezvous waits about as long for `heroku run` to connect. */
#define ATTACH_WAIT_MS 30000
/* After the dyno exited, its output has this long to reach EOF (a process
 * it left behind may hold the pipe; the cgroup kill makes that rare). */
#define DRAIN_MS 2000
/* Bytes queued either way before the side that fills the queue is no
 * longer read: a slow client slows the dyno down, not pierd's memory. */
#define QUEUE_HIGH (256 * 1024)
/* Sessions at once (waiting or attached): each holds up to 3 fds and
 * 2 x QUEUE_HIGH. */
#define SESSIONS_MAX 100

struct session {
        struct session *next;
        uint64_t serial;
        struct loop *loop;
        struct supervisor *sup;
        char app_id[37];
        char name[80];
        char token_id[64];
        bool tty;
        /* The dyno's side: stdin (to write), stdout and stderr (to read);
         * with a tty, in_fd and out_fd are the pty master (dup'd). */
        int in_fd, out_fd, err_fd;
        struct loop_io *in_io, *out_io, *err_io;
        bool out_paused;
        /* The client's side. */
        int sock; /* MHD's: never close()d here */
        struct MHD_UpgradeResponseHandle *urh;
        struct loop_io *sock_io;
        void (*wake)(void *ud);
        void *wake_ud;
        struct strbuf to_client;   /* frames not yet sent */
        size_t to_client_off;
        struct strbuf from_client; /* bytes not yet parsed */
        struct strbuf to_dyno;     /* stdin not yet written */
        size_t to_dyno_off;
        bool stdin_eof;            /* the client's input ended */
        bool claimed;              /* an attach was accepted (101 on its way) */
        bool attached;             /* the socket is ours */
        bool client_done;          /* the connection is over (or never came) */
        bool exit_sent;
        bool orphan;               /* pierd stops: only the dyno's end awaited */
        bool dyno_gone;
        int status;                /* the dyno's exit status, -1: never ran */
        struct loop_timer *timer;  /* attach deadline, then drain deadline */
};

static struct session *sessions;
static uint64_t next_serial = 1;
/* For a socket whose session is gone: the API's wake of the last claim
 * (there is one API in pierd). */
static void (*last_wake)(void *ud);
static void *last_wake_ud;

static void session_update(struct session *s);

static size_t pending(const struct strbuf *sb, size_t off)
{
        return sb->len - off;
}

/* Drops the first `off` bytes once they are more than half the buffer. */
static void compact(struct strbuf *sb, size_t *off)
{
        if (*off == 0)
                return;
        if (*off == sb->len) {
                strbuf_reset(sb);
                *off = 0;
                return;
        }
        if (*off < sb->len / 2)
                return;
        memmove(sb->buf, sb->buf + *off, sb->len - *off);
        sb->len -= *off;
        sb->buf[sb->len] = '\0';
        *off = 0;
}

/* What a non-blocking read, write, send or recv that returned n means. */
enum io_outcome { IO_DONE, IO_RETRY, IO_WAIT, IO_END };

static enum io_outcome io_outcome(ssize_t n)
{
        if (n > 0)
                return IO_DONE;
        if (n < 0 && errno == EINTR)
                return IO_RETRY;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                return IO_WAIT;
        return IO_END; /* EOF, a closed peer, EIO of a pty without slave */
}

static void close_io(struct loop_io **io, int *fd)
{
        loop_io_free(*io);
        *io = NULL;
        if (*fd >= 0)
                close(*fd);
        *fd = -1;
}

static void close_dyno_side(struct session *s)
{
        close_io(&s->in_io, &s->in_fd);
        close_io(&s->out_io, &s->out_fd);
        close_io(&s->err_io, &s->err_fd);
}

/* The connection is over: MHD closes the socket at its next run. */
static void close_client(struct session *s)
{
        loop_io_free(s->sock_io);
        s->sock_io = NULL;
        if (s->urh) {
                (void)MHD_upgrade_action(s->urh, MHD_UPGRADE_ACTION_CLOSE);
                s->urh = NULL;
                if (s->wake)
                        s->wake(s->wake_ud);
        }
        s->sock = -1;
        s->client_done = true;
}

static void session_free(struct session *s)
{
        for (struct session **p = &sessions; *p; p = &(*p)->next)
                if (*p == s) {
                        *p = s->next;
                        break;
                }
        close_client(s);
        close_dyno_side(s);
        loop_timer_free(s->timer);
        strbuf_release(&s->to_client);
        strbuf_release(&s->from_client);
        strbuf_release(&s->to_dyno);
        free(s);
}

/* The client went away, broke the protocol, or never came: the dyno is
 * stopped as Heroku does (a hangup first: closing the pty master sends it
 * to a tty's session, a signal does so for pipes). */
static void abandon(struct session *s, const char *why)
{
        bool was_attached = s->attached;
        close_client(s);
        close_dyno_side(s);
        if (!s->dyno_gone) {
                log_info("%s: %s; stopping it", s->name, why);
                (void)supervisor_signal(s->sup, s->app_id, s->name, SIGHUP);
                (void)supervisor_stop(s->sup, s->app_id, s->name);
        } else if (!was_attached)
                log_info("%s: %s", s->name, why);
}

/* ---- to the client ---- */

static void queue_frame(struct session *s, enum attach_type type, const void *data, size_t len)
{
        if (attach_frame_add(&s->to_client, type, data, len) < 0)
                abandon(s, "out of memory for its output");
}

static void on_sock(struct loop_io *io, int fd, uint32_t revents, void *userdata);

static void flush_client(struct session *s)
{
        while (!s->client_done && pending(&s->to_client, s->to_client_off)) {
                ssize_t n = send(s->sock, s->to_client.buf + s->to_client_off,
                                 pending(&s->to_client, s->to_client_off), MSG_NOSIGNAL);
                enum io_outcome o = io_outcome(n);
                if (o == IO_WAIT)
                        break;
                if (o == IO_END) {
                        abandon(s, "its client went away");
                        return;
                }
                if (o == IO_DONE)
                        s->to_client_off += (size_t)n;
        }
        compact(&s->to_client, &s->to_client_off);
}

/* ---- from the dyno ---- */

static void read_output(struct session *s, int *fd, struct loop_io **io, enum attach_type type)
{
        char buf[ATTACH_FRAME_MAX];
        /* Bounded work per wakeup: a chatty dyno cannot starve the loop. */
        for (int i = 0; i < 8 && *fd >= 0 && !s->client_done; i++) {
                if (pending(&s->to_client, s->to_client_off) >= QUEUE_HIGH)
                        break;
                ssize_t n = read(*fd, buf, sizeof(buf));
                enum io_outcome o = io_outcome(n);
                if (o == IO_WAIT)
                        break;
                if (o == IO_END) {
                        if (s->tty && io == &s->out_io)
                                close_io(&s->in_io, &s->in_fd); /* the same pty */
                        close_io(io, fd);
                        break;
                }
                if (o == IO_DONE)
                        queue_frame(s, type, buf, (size_t)n);
        }
}

static void on_out(struct loop_io *io, int fd, uint32_t revents, void *userdata)
{
        struct session *s = userdata;
        read_output(s, &s->out_fd, &s->out_io, ATTACH_STDOUT);
        session_update(s);
}

static void on_err(struct loop_io *io, int fd, uint32_t revents, void *userdata)
{
        struct session *s = userdata;
        read_output(s, &s->err_fd, &s->err_io, ATTACH_STDERR);
        session_update(s);
}

/* ---- to the dyno ---- */

static void flush_dyno(struct session *s)
{
        while (s->in_fd >= 0 && pending(&s->to_dyno, s->to_dyno_off)) {
                ssize_t n = write(s->in_fd, s->to_dyno.buf + s->to_dyno_off,
                                  pending(&s->to_dyno, s->to_dyno_off));
                enum io_outcome o = io_outcome(n);
                if (o == IO_RETRY)
                        continue;
                if (o == IO_WAIT)
                        break;
                if (o == IO_END) {
                        /* It closed its stdin (or exited): the rest is
                         * dropped, as a pipe to it would. */
                        strbuf_reset(&s->to_dyno);
                        s->to_dyno_off = 0;
                        close_io(&s->in_io, &s->in_fd);
                        break;
                }
                s->to_dyno_off += (size_t)n;
        }
        compact(&s->to_dyno, &s->to_dyno_off);
        /* End of input goes on as the pipe's EOF.  A tty has none: the
         * client sends its ^D like any other byte. */
        if (s->stdin_eof && !s->tty && s->in_fd >= 0 && !pending(&s->to_dyno, s->to_dyno_off))
                close_io(&s->in_io, &s->in_fd);
}

static void on_in(struct loop_io *io, int fd, uint32_t revents, void *userdata)
{
        struct session *s = userdata;
        flush_dyno(s);
        session_update(s);
}

/* ---- from the client ---- */

static int handle_frame(struct session *s, const struct attach_frame *f)
{
        switch (f->type) {
        case ATTACH_STDIN:
                if (f->len == 0) {
                        s->stdin_eof = true;
                        return 0;
                }
                if (s->stdin_eof || s->in_fd < 0)
                        return 0; /* nobody reads it any more */
                return strbuf_add(&s->to_dyno, f->data, f->len);
        case ATTACH_RESIZE:
                if (s->tty && s->in_fd >= 0) {
                        struct winsize ws = {.ws_row = (unsigned short)f->rows,
                                             .ws_col = (unsigned short)f->cols};
                        (void)ioctl(s->in_fd, TIOCSWINSZ, &ws); /* the dyno gets SIGWINCH */
                }
                return 0;
        case ATTACH_SIGNAL:
                (void)supervisor_signal(s->sup, s->app_id, s->name, f->signo);
                return 0;
        default:
                return -EBADMSG; /* not reached: the parser refuses them */
        }
}

/* Parses what the client sent, as far as the dyno's stdin queue allows. */
static void parse_client(struct session *s)
{
        size_t off = 0;
        while (!s->client_done && pending(&s->to_dyno, s->to_dyno_off) < QUEUE_HIGH) {
                struct attach_frame f;
                int n = attach_frame_parse(s->from_client.buf + off, s->from_client.len - off,
                                           ATTACH_FROM_CLIENT, &f);
                if (n == 0)
                        break;
                if (n < 0 || handle_frame(s, &f) < 0) {
                        log_warning("%s: the client broke the attach protocol; dropping it",
                                    s->name);
                        abandon(s, "its client broke the protocol");
                        return;
                }
                off += (size_t)n;
        }
        if (off) {
                memmove(s->from_client.buf, s->from_client.buf + off, s->from_client.len - off);
                s->from_client.len -= off;
                s->from_client.buf[s->from_client.len] = '\0';
        }
        flush_dyno(s);
}

static void read_client(struct session *s)
{
        char buf[65536];
        for (int i = 0; i < 8 && !s->client_done; i++) {
                /* Unparsed bytes are at most one frame: reading stops while
                 * the dyno's stdin queue is full. */
                if (s->from_client.len >= ATTACH_HEADER_SIZE + ATTACH_FRAME_MAX ||
                    pending(&s->to_dyno, s->to_dyno_off) >= QUEUE_HIGH)
                        break;
                ssize_t n = recv(s->sock, buf, sizeof(buf), 0);
                enum io_outcome o = io_outcome(n);
                if (o == IO_RETRY)
                        continue;
                if (o == IO_WAIT)
                        break;
                if (o == IO_END) {
                        abandon(s, "its client went away");
                        return;
                }
                if (strbuf_add(&s->from_client, buf, (size_t)n) < 0) {
                        abandon(s, "out of memory for its input");
                        return;
                }
                parse_client(s);
        }
}

static void on_sock(struct loop_io *io, int fd, uint32_t revents, void *userdata)
{
        struct session *s = userdata;
        if (revents & (EPOLLIN | EPOLLHUP | EPOLLERR))
                read_client(s);
        if (!s->client_done && (revents & EPOLLOUT))
                flush_client(s);
        session_update(s);
}

/* ---- the state, after anything happened ---- */

static void set_events(struct loop_io *io, uint32_t events)
{
        if (io)
                (void)loop_io_set_events(io, events);
}

/* Whether the session is over (and freed: the caller must not touch it). */
static bool session_check_end(struct session *s)
{
        if (s->client_done || s->orphan) {
                if (s->dyno_gone) {
                        session_free(s);
                        return true;
                }
                return false;
        }
        /* The status goes last, after all of the output. */
        if (s->attached && s->dyno_gone && !s->exit_sent && s->out_fd < 0 && s->err_fd < 0) {
                int status = s->status < -1 || s->status > 255 ? 255 : s->status;
                if (attach_frame_add_exit(&s->to_client, status) < 0) {
                        abandon(s, "out of memory for its exit status");
                        return session_check_end(s);
                }
                s->exit_sent = true;
                flush_client(s);
                if (s->client_done)
                        return session_check_end(s);
        }
        if (s->exit_sent && !pending(&s->to_client, s->to_client_off)) {
                close_client(s);
                return session_check_end(s);
        }
        return false;
}

static void session_update(struct session *s)
{
        if (!s->client_done && s->attached)
                flush_client(s);
        if (session_check_end(s))
                return;
        if (!s->attached || s->client_done)
                return;
        bool full = pending(&s->to_client, s->to_client_off) >= QUEUE_HIGH;
        set_events(s->out_io, full ? 0 : EPOLLIN);
        set_events(s->err_io, full ? 0 : EPOLLIN);
        set_events(s->in_io, pending(&s->to_dyno, s->to_dyno_off) ? EPOLLOUT : 0);
        bool reading = pending(&s->to_dyno, s->to_dyno_off) < QUEUE_HIGH;
        if (reading && s->from_client.len)
                parse_client(s); /* the queue drained: go on with what waited */
        if (s->client_done) {
                (void)session_check_end(s);
                return;
        }
        set_events(s->sock_io, (reading ? EPOLLIN : 0) |
                                       (pending(&s->to_client, s->to_client_off) ? EPOLLOUT : 0));
}

static void on_timer(struct loop_timer *t, void *userdata)
{
        struct session *s = userdata;
        if (!s->attached && !s->client_done) {
                abandon(s, "no client attached within 30 seconds");
        } else if (s->attached && s->dyno_gone && !s->client_done) {
                /* Whatever still holds its output is not the dyno. */
                close_io(&s->out_io, &s->out_fd);
                close_io(&s->err_io, &s->err_fd);
        }
        session_update(s);
}

/* The supervisor is done with the dyno (it may call this from inside
 * supervisor_run_opts(), or while pierd stops). */
static void on_dyno_gone(void *ud, int status)
{
        struct session *s = ud;
        s->dyno_gone = true;
        s->status = status;
        if (s->orphan) {
                session_free(s);
                return;
        }
        /* Not attached yet: the attach deadline stands; a late client still
         * gets the output and the status. */
        if (s->attached && !s->client_done) {
                loop_timer_set(s->timer, (uint64_t)mono_usec() + DRAIN_MS * 1000ull);
                session_update(s); /* the output may have ended already */
        } else if (s->client_done)
                session_free(s);
}

/* ---- the API's side ---- */

static int make_pty(const struct attach_spec *spec, int *ret_master, int *ret_slave)
{
        _cleanup_close_ int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (m < 0)
                return -errno;
        char path[64];
        if (grantpt(m) < 0 || unlockpt(m) < 0 || ptsname_r(m, path, sizeof(path)) != 0)
                return -errno;
        int sl = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (sl < 0)
                return -errno;
        struct winsize ws = {.ws_row = (unsigned short)(spec->rows ? spec->rows : 24),
                             .ws_col = (unsigned short)(spec->cols ? spec->cols : 80)};
        (void)ioctl(m, TIOCSWINSZ, &ws);
        /* The app's, as login makes a terminal its user's: programs that
         * reopen it by name (ssh, script) may. */
        if (spec->tty_uid && fchown(sl, spec->tty_uid, (gid_t)-1) < 0)
                log_debug("attach: fchown of the pty: %m");
        *ret_master = TAKE_FD(m);
        *ret_slave = sl;
        return 0;
}

int attach_run(struct loop *l, struct supervisor *sup, const struct attach_spec *spec,
               char *ret_name)
{
        size_t n = 0;
        for (struct session *s = sessions; s; s = s->next)
                n++;
        if (n >= SESSIONS_MAX)
                return -EMFILE;
        struct session *s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->loop = l;
        s->sup = sup;
        s->serial = next_serial++;
        s->in_fd = s->out_fd = s->err_fd = s->sock = -1;
        s->status = -1;
        s->tty = spec->tty;
        snprintf(s->app_id, sizeof(s->app_id), "%s", spec->app_id);
        snprintf(s->token_id, sizeof(s->token_id), "%s", spec->token_id);
        int r = loop_add_timer(l, (uint64_t)mono_usec() + ATTACH_WAIT_MS * 1000ull, on_timer, s,
                               &s->timer);
        if (r < 0) {
                free(s);
                return r;
        }
        struct run_opts o = {.type_label = "run", .stdio = {-1, -1, -1}, .tty = spec->tty,
                             .env = spec->env};
        if (spec->tty) {
                int m = -1, sl = -1;
                r = make_pty(spec, &m, &sl);
                if (r >= 0) {
                        s->out_fd = m;
                        s->in_fd = fcntl(m, F_DUPFD_CLOEXEC, 3);
                        if (s->in_fd < 0)
                                r = -errno;
                        o.stdio[0] = sl;
                        o.stdio[1] = fcntl(sl, F_DUPFD_CLOEXEC, 3);
                        o.stdio[2] = fcntl(sl, F_DUPFD_CLOEXEC, 3);
                        if (o.stdio[1] < 0 || o.stdio[2] < 0)
                                r = -EMFILE;
                }
        } else {
                int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
                if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 ||
                    pipe2(err, O_CLOEXEC) < 0)
                        r = -errno;
                s->in_fd = in[1];
                s->out_fd = out[0];
                s->err_fd = err[0];
                o.stdio[0] = in[0];
                o.stdio[1] = out[1];
                o.stdio[2] = err[1];
        }
        if (r < 0) {
                for (int i = 0; i < 3; i++)
                        if (o.stdio[i] >= 0)
                                close(o.stdio[i]);
                session_free(s);
                return r;
        }
        /* (with a tty, in_fd and out_fd share the flag) */
        const int ours[] = {s->in_fd, s->out_fd, s->err_fd};
        for (size_t i = 0; i < ELEMENTSOF(ours); i++)
                if (ours[i] >= 0)
                        (void)fcntl(ours[i], F_SETFL, O_NONBLOCK);
        s->next = sessions;
        sessions = s;
        r = supervisor_run_opts(sup, spec->app_id, spec->release, spec->command, &o,
                                on_dyno_gone, s, s->name);
        if (r < 0) {
                session_free(s);
                return r;
        }
        snprintf(ret_name, 80, "%s", s->name);
        return 0;
}

static struct session *find(const char *app_id, const char *name)
{
        for (struct session *s = sessions; s; s = s->next)
                if (streq(s->app_id, app_id) && streq(s->name, name) && !s->orphan)
                        return s;
        return NULL;
}

int attach_claim(const char *app_id, const char *name, const char *token_id,
                 void (*wake)(void *ud), void *wake_ud, uint64_t *ret_serial)
{
        struct session *s = find(app_id, name);
        if (!s || s->client_done)
                return -ENOENT;
        if (!streq(s->token_id, token_id))
                return -EPERM;
        if (s->claimed)
                return -EALREADY;
        s->claimed = true;
        s->wake = last_wake = wake;
        s->wake_ud = last_wake_ud = wake_ud;
        *ret_serial = s->serial;
        return 0;
}

void attach_upgraded(uint64_t serial, int sock, const char *extra, size_t extra_len,
                     struct MHD_UpgradeResponseHandle *urh)
{
        struct session *s = sessions;
        while (s && s->serial != serial)
                s = s->next;
        if (!s || s->client_done || s->orphan || s->attached) {
                (void)MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
                if (last_wake)
                        last_wake(last_wake_ud);
                return;
        }
        s->sock = sock;
        s->urh = urh;
        s->attached = true;
        loop_timer_disable(s->timer);
        if (s->dyno_gone)
                loop_timer_set(s->timer, (uint64_t)mono_usec() + DRAIN_MS * 1000ull);
        (void)fcntl(sock, F_SETFL, fcntl(sock, F_GETFL) | O_NONBLOCK);
        int r = loop_add_io(s->loop, sock, EPOLLIN, on_sock, s, &s->sock_io);
        if (r >= 0 && s->out_fd >= 0)
                r = loop_add_io(s->loop, s->out_fd, EPOLLIN, on_out, s, &s->out_io);
        if (r >= 0 && s->err_fd >= 0)
                r = loop_add_io(s->loop, s->err_fd, EPOLLIN, on_err, s, &s->err_io);
        if (r >= 0 && s->in_fd >= 0)
                r = loop_add_io(s->loop, s->in_fd, 0, on_in, s, &s->in_io);
        if (r < 0) {
                log_error_errno(r, "%s: attaching: %m", s->name);
                abandon(s, "attaching failed");
        } else if (extra_len) {
                if (strbuf_add(&s->from_client, extra, extra_len) < 0)
                        abandon(s, "out of memory for its input");
                else
                        parse_client(s);
        }
        session_update(s);
}

void attach_shutdown(void)
{
        for (struct session *s = sessions, *next; s; s = next) {
                next = s->next;
                close_client(s);
                close_dyno_side(s);
                loop_timer_free(s->timer);
                s->timer = NULL;
                s->orphan = true;
                if (s->dyno_gone)
                        session_free(s);
        }
}
