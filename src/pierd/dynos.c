/* The dyno supervisor; see dynos.h. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dyno/cgroup.h"
#include "lib/log.h"
#include "lib/rand.h"
#include "lib/sha256.h"
#include "lib/spawn.h"
#include "lib/strbuf.h"
#include "lib/timefmt.h"
#include "lib/util.h"
#include "pierd/dynos.h"

#define LINE_MAX_BYTES LOGHUB_LINE_MAX /* SPEC §6: a longer line is split */
#define OUTPUT_PIPE_BYTES (256 * 1024)
#define BOOT_POLL_MS   50
#define MEMORY_POLL_MS 2000
#define SHUTDOWN_GRACE_MS 2000
#define DRAIN_MS 300 /* routers reload a table within milliseconds */

/* ---- the state machine ---- */

enum dyno_state { DS_STARTING, DS_UP, DS_CRASHED, DS_STOPPING, DS_DOWN, _DS_MAX };
enum dyno_event {
        EV_BOUND,        /* a web dyno accepts on $PORT; others: started */
        EV_EXITED,       /* its process is gone */
        EV_BOOT_TIMEOUT, /* not bound within boot_timeout */
        EV_STOP,         /* stop requested (scale down, restart, new release) */
        EV_KILL_TIMEOUT, /* still there stop_timeout after SIGTERM */
        EV_RESTART_DUE,  /* the crash back-off is over */
        _EV_MAX
};

static const char *const state_names[_DS_MAX] = {"starting", "up", "crashed", "stopping",
                                                  "down"};

struct dyno;
typedef void (*dyno_action)(struct dyno *d);

static void act_up(struct dyno *d);
static void act_crashed(struct dyno *d);
static void act_r10(struct dyno *d);
static void act_sigterm(struct dyno *d);
static void send_sigterm(struct dyno *d);
static void act_r12(struct dyno *d);
static void act_spawn(struct dyno *d);
static void act_down(struct dyno *d);

struct transition {
        enum dyno_state next;
        dyno_action action;
};

/* state × event → next state and action.  A missing entry (action NULL,
 * next 0 with `valid` false) means the event is ignored in that state. */
static const struct {
        bool valid;
        struct transition t;
} transitions[_DS_MAX][_EV_MAX] = {
        [DS_STARTING] = {
                [EV_BOUND] = {true, {DS_UP, act_up}},
                [EV_EXITED] = {true, {DS_CRASHED, act_crashed}},
                [EV_BOOT_TIMEOUT] = {true, {DS_STARTING, act_r10}},
                [EV_STOP] = {true, {DS_STOPPING, act_sigterm}},
        },
        [DS_UP] = {
                [EV_EXITED] = {true, {DS_CRASHED, act_crashed}},
                [EV_STOP] = {true, {DS_STOPPING, act_sigterm}},
        },
        [DS_CRASHED] = {
                [EV_RESTART_DUE] = {true, {DS_STARTING, act_spawn}},
                [EV_STOP] = {true, {DS_DOWN, act_down}},
        },
        [DS_STOPPING] = {
                [EV_EXITED] = {true, {DS_DOWN, act_down}},
                [EV_KILL_TIMEOUT] = {true, {DS_STOPPING, act_r12}},
        },
        [DS_DOWN] = {{false, {0, NULL}}},
};

/* ---- data ---- */

struct app_rt;
struct unpack;

struct dyno {
        struct app_rt *app;
        struct dyno *next;
        char name[80]; /* web.1 */
        char type[64];
        int64_t release;
        char *command;
        char *size;
        enum dyno_state state;
        enum dyno_state logged_state; /* the last state the logs told */
        int64_t state_since;
        uint16_t port;
        pid_t pid;
        int pidfd;
        struct loop_io *pid_io;
        int out_fd;
        struct loop_io *out_io;
        struct strbuf partial; /* an output line not finished yet */
        struct loop_timer *timer;
        uint64_t boot_deadline;
        unsigned crashes;
        int64_t up_since;
        bool boot_failed;
        bool term_pending; /* SIGTERM after the router let go of it */
        bool r15;          /* R15 said and SIGKILL sent (memory timer) */
        bool remove_when_down;
        bool restart_when_down;
        int64_t last_r14;
        struct dyno *replaces; /* preboot: stop that one once this one is up */
        /* One-off dynos (run.1234, release.1234): not part of the
         * formation, never restarted; down and removed when they exit. */
        bool oneoff;
        bool queued;      /* waits for its release's slug to be unpacked */
        char *slug_dir;   /* a one-off's release's slug, when unpacked */
        int exit_status;  /* of a one-off, -1 until it exited */
        unsigned timeout_ms; /* a one-off is killed after this long (0: never) */
        void (*on_exit)(void *ud, int status);
        void *on_exit_ud;
        /* An attached one-off's stdin, stdout, stderr until it is spawned
         * (-1: detached), and its extra environment. */
        int stdio[3];
        bool tty;
        char **extra_env;
        char cgroup[256];
        char *env_path;
};

struct app_rt {
        struct supervisor *sup;
        struct app_rt *next;
        char id[37];
        char *name;
        uint32_t uid;
        bool maintenance;
        /* Custom domains the router routes to the app besides
         * NAME.DOMAIN, sorted (see app_load_hosts()). */
        char **hosts;
        size_t n_hosts;
        int64_t release;
        char *slug_dir; /* run/APP_ID/vN, when unpacked */
        bool unpacking;
        int64_t unpacking_release;
        struct dyno *dynos;
};

struct supervisor {
        struct loop *loop;
        struct store *store;
        struct supervisor_config cfg;
        char *home, *dyno_bin, *build_bin, *domain;
        /* cgroups of this pierd's dynos: pier/INSTANCE/APP_ID/web.1, where
         * INSTANCE comes from PIER_HOME, so that several pierds on one
         * machine (tests do that) never touch each other's dynos. */
        char cgroup_root[64];
        uint64_t spawns;
        struct unpack *unpacks; /* slugs being unpacked */
        struct rm_child *rms;   /* unpacked releases being removed */
        char *stale[256];       /* cgroups to remove once empty */
        size_t n_stale;
        struct app_rt *apps;
        struct loop_timer *memory_timer;
        uint64_t table_version;
        void (*on_table_change)(void *userdata);
        void *table_userdata;
};

static void record_unisolated(struct supervisor *sup);
static char *unisolated_path(struct supervisor *sup);

/* ---- logs ---- */

/* "2026-11-26T13:47:20.677020+00:00 SOURCE[PROC]: MESSAGE" (SPEC §6) */
static void app_log_n(struct app_rt *a, const char *source, const char *proc, const char *msg,
                      size_t len)
{
        if (a->sup->cfg.hub)
                loghub_append(a->sup->cfg.hub, a->id, source, proc, msg, len);
}

__attribute__((format(printf, 2, 3))) static void dyno_event_log(struct dyno *d, const char *fmt,
                                                                 ...)
{
        _cleanup_free_ char *msg = NULL;
        va_list ap;
        va_start(ap, fmt);
        if (vasprintf(&msg, fmt, ap) < 0)
                msg = NULL;
        va_end(ap);
        if (msg)
                app_log_n(d->app, "heroku", d->name, msg, strlen(msg));
}

/* ---- helpers ---- */

static void table_changed(struct supervisor *sup)
{
        sup->table_version++;
        if (sup->on_table_change)
                sup->on_table_change(sup->table_userdata);
}

static uint64_t mono_ms_from_now(unsigned ms)
{
        return (uint64_t)mono_usec() + (uint64_t)ms * 1000;
}

static bool is_web(const struct dyno *d)
{
        return streq(d->type, "web");
}

static uint64_t size_memory(const char *size)
{
        /* Heroku's dyno sizes: standard-1x 512 MB, standard-2x 1 GB. */
        if (size && streq(size, "standard-2x"))
                return 1024ull << 20;
        return 512ull << 20;
}

static unsigned size_pids(const char *size)
{
        return size && streq(size, "standard-2x") ? 512 : 256;
}

static bool port_in_use_by_us(struct supervisor *sup, uint16_t port)
{
        for (struct app_rt *a = sup->apps; a; a = a->next)
                for (struct dyno *d = a->dynos; d; d = d->next)
                        if (d->port == port && d->state != DS_DOWN)
                                return true;
        return false;
}

/* A free port from the range: not one of ours, and bindable now. */
static int pick_port(struct supervisor *sup, uint16_t *ret)
{
        unsigned span = (unsigned)sup->cfg.port_max - sup->cfg.port_min + 1;
        unsigned start = (unsigned)(mono_usec() % span);
        for (unsigned i = 0; i < span; i++) {
                uint16_t port = (uint16_t)(sup->cfg.port_min + (start + i) % span);
                if (port_in_use_by_us(sup, port))
                        continue;
                int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
                if (fd < 0)
                        return -errno;
                struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port),
                                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
                int ok = bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0;
                close(fd);
                if (ok) {
                        *ret = port;
                        return 0;
                }
        }
        return -EADDRINUSE;
}

static bool port_accepts(uint16_t port)
{
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return false;
        struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        /* A loopback connect is answered at once (accepted or refused);
         * only a full backlog could make it wait, so bound that. */
        struct timeval tv = {.tv_sec = 0, .tv_usec = 20000};
        (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        int r = connect(fd, (struct sockaddr *)&sin, sizeof(sin));
        close(fd);
        return r == 0;
}

/* ---- dyno lifecycle ---- */

static void dispatch(struct dyno *d, enum dyno_event ev);
static void dyno_free(struct dyno *d);
static int run_oneoff(struct supervisor *sup, const char *app_id, int64_t release_version,
                      const char *command, const struct run_opts *o,
                      void (*on_exit)(void *ud, int status), void *ud, char *ret_name);
static void converge_app(struct app_rt *a);
static void prune_unpacked(struct app_rt *a);
static void start_queued(struct app_rt *a, int64_t release, bool unpack_failed);
static void signal_dyno(struct dyno *d, int sig);

static void set_state(struct dyno *d, enum dyno_state next)
{
        if (d->state == next)
                return;
        d->state = next;
        d->state_since = now_usec();
        /* Stopping is ours, not Heroku's: it logs "from up to down". */
        if (next != DS_STOPPING) {
                dyno_event_log(d, "State changed from %s to %s", state_names[d->logged_state],
                               state_names[next]);
                d->logged_state = next;
        }
        /* Every web state counts: the router answers by it (up: served,
         * starting: held, H20; crashed: H10). */
        if (is_web(d))
                table_changed(d->app->sup);
}

static void dispatch(struct dyno *d, enum dyno_event ev)
{
        if (!transitions[d->state][ev].valid)
                return;
        struct transition t = transitions[d->state][ev].t;
        /* A one-off is never restarted: when it exits it is down. */
        if (d->oneoff && ev == EV_EXITED && t.next == DS_CRASHED)
                t = (struct transition){DS_DOWN, act_down};
        set_state(d, t.next);
        if (t.action)
                t.action(d);
}

static void on_dyno_timer(struct loop_timer *t, void *userdata)
{
        struct dyno *d = userdata;
        if (d->oneoff && d->state == DS_UP) {
                dyno_event_log(d, "Error: the process did not exit within %u seconds",
                               d->timeout_ms / 1000);
                dyno_event_log(d, "Stopping process with SIGKILL");
                signal_dyno(d, SIGKILL);
                return;
        }
        switch (d->state) {
        case DS_STARTING:
                if (port_accepts(d->port)) {
                        dispatch(d, EV_BOUND);
                        return;
                }
                if ((uint64_t)mono_usec() >= d->boot_deadline && !d->boot_failed) {
                        dispatch(d, EV_BOOT_TIMEOUT);
                        return;
                }
                loop_timer_set(d->timer, mono_ms_from_now(BOOT_POLL_MS));
                return;
        case DS_CRASHED:
                dispatch(d, EV_RESTART_DUE);
                return;
        case DS_STOPPING:
                if (d->term_pending)
                        send_sigterm(d);
                else
                        dispatch(d, EV_KILL_TIMEOUT);
                return;
        default:
                return;
        }
}

/* A killed process may still be on its way out: a cgroup that cannot go
 * yet is retried from the memory timer. */
static void remove_cgroup(struct supervisor *sup, const char *name)
{
        if (dyno_cgroup_remove(name) != -EBUSY)
                return;
        if (sup->n_stale == ELEMENTSOF(sup->stale))
                return;
        char *copy = strdup(name);
        if (copy)
                sup->stale[sup->n_stale++] = copy;
}

static void retry_stale_cgroups(struct supervisor *sup)
{
        size_t kept = 0;
        for (size_t i = 0; i < sup->n_stale; i++) {
                int r = dyno_cgroup_remove(sup->stale[i]);
                if (r == -EBUSY) {
                        (void)dyno_cgroup_signal(sup->stale[i], SIGKILL, false, NULL);
                        sup->stale[kept++] = sup->stale[i];
                } else
                        free(sup->stale[i]);
        }
        sup->n_stale = kept;
}

static void signal_dyno(struct dyno *d, int sig)
{
        if (d->pid <= 0)
                return;
        if (d->app->sup->cfg.unisolated) {
                (void)kill(-d->pid, sig); /* its own session and process group */
                return;
        }
        unsigned n = 0;
        int r = dyno_cgroup_signal(d->cgroup, sig, sig != SIGKILL, &n);
        /* Only bwrap in it (a dyno stopped as it starts): the app is not
         * running yet, so nothing wants a grace period, and bwrap would not
         * pass the signal on.  Stopped outright. */
        if (r >= 0 && n == 0 && sig != SIGKILL)
                r = dyno_cgroup_signal(d->cgroup, SIGKILL, false, &n);
        if (r < 0 || n == 0)
                (void)kill(d->pid, sig);
}

static void close_output(struct dyno *d)
{
        loop_io_free(d->out_io);
        d->out_io = NULL;
        if (d->out_fd >= 0)
                close(d->out_fd);
        d->out_fd = -1;
}

/* Dyno output, logged as app[web.1]: the complete lines read so far go to
 * the hub in one call (which splits them); a partial line waits unless it
 * is over the line limit (whole pieces of it go) or the output ended. */
static void emit_lines(struct dyno *d, bool flush)
{
        struct strbuf *p = &d->partial;
        if (p->len == 0)
                return;
        const char *last = memrchr(p->buf, '\n', p->len);
        size_t start = 0;
        if (last) {
                start = (size_t)(last - p->buf) + 1;
                app_log_n(d->app, "app", d->name, p->buf, start);
        }
        size_t rest = p->len - start;
        if (flush && rest > 0) {
                app_log_n(d->app, "app", d->name, p->buf + start, rest);
                start = p->len;
        } else if (rest > LINE_MAX_BYTES) {
                /* Whole pieces, and something kept: a line of exactly the
                 * limit whose '\n' comes next is one line, not two. */
                size_t n = (rest - 1) / LINE_MAX_BYTES * LINE_MAX_BYTES;
                app_log_n(d->app, "app", d->name, p->buf + start, n);
                start += n;
        }
        if (start > 0) {
                memmove(p->buf, p->buf + start, p->len - start);
                p->len -= start;
                p->buf[p->len] = '\0';
        }
}

static void on_dyno_output(struct loop_io *io, int fd, uint32_t revents, void *userdata)
{
        struct dyno *d = userdata;
        char buf[65536];
        /* Bounded work per wakeup: a chatty dyno cannot starve the loop. */
        for (int i = 0; i < 16; i++) {
                ssize_t n = read(fd, buf, sizeof(buf));
                if (n > 0) {
                        if (strbuf_add(&d->partial, buf, (size_t)n) < 0)
                                return;
                        emit_lines(d, false);
                        continue;
                }
                if (n < 0 && (errno == EAGAIN || errno == EINTR))
                        return;
                /* EOF or error: the dyno closed its output. */
                emit_lines(d, true);
                close_output(d);
                return;
        }
}

static void on_dyno_exit(struct loop_io *io, int fd, uint32_t revents, void *userdata)
{
        struct dyno *d = userdata;
        int status = 0;
        if (waitpid(d->pid, &status, WNOHANG) == 0)
                return;
        /* Read what the dyno wrote before it went: its output relay passes
         * the last lines on and closes the pipe right after the app is gone
         * (a bounded wait: a leftover process may still hold the pipe). */
        for (int i = 0; i < 20 && d->out_fd >= 0; i++) {
                struct pollfd pfd = {.fd = d->out_fd, .events = POLLIN};
                if (poll(&pfd, 1, 10) > 0)
                        on_dyno_output(d->out_io, d->out_fd, EPOLLIN, d);
        }
        if (d->partial.len)
                emit_lines(d, true);
        close_output(d);
        loop_io_free(d->pid_io);
        d->pid_io = NULL;
        close(d->pidfd);
        d->pidfd = -1;

        bool oom = false;
        if (!d->app->sup->cfg.unisolated) {
                uint64_t usage, limit;
                if (dyno_cgroup_memory(d->cgroup, &usage, &limit, &oom) >= 0 && oom && !d->r15)
                        dyno_event_log(d, "Error R15 (Memory quota vastly exceeded) -> "
                                          "Dyno killed at 2x its memory quota");
                d->r15 = false;
                /* Leftovers of the dyno: none may survive it. */
                (void)dyno_cgroup_signal(d->cgroup, SIGKILL, false, NULL);
                remove_cgroup(d->app->sup, d->cgroup);
        }
        if (WIFEXITED(status))
                d->exit_status = WEXITSTATUS(status);
        else if (WIFSIGNALED(status))
                d->exit_status = 128 + WTERMSIG(status);
        if (WIFEXITED(status) || WIFSIGNALED(status))
                dyno_event_log(d, "Process exited with status %d", d->exit_status);
        d->pid = 0;
        record_unisolated(d->app->sup);
        if (d->env_path) {
                (void)unlink(d->env_path);
                d->env_path = mfree(d->env_path);
        }
        dispatch(d, EV_EXITED);
}

/* The dyno's environment for pier-dyno: NUL-separated KEY=VALUE. */
static int write_env_file(struct dyno *d, const struct config *cfg, char **ret_path)
{
        struct supervisor *sup = d->app->sup;
        _cleanup_free_ char *dir = NULL, *path = NULL;
        if (asprintf(&dir, "%s/dynos", sup->home) < 0 ||
            asprintf(&path, "%s/%s-%s-%" PRId64 ".env", dir, d->app->id, d->name, mono_usec()) <
                    0)
                return -ENOMEM;
        (void)mkdir(dir, 0700);
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0)
                return -errno;
        struct strbuf sb = STRBUF_INIT;
        int r = 0;
        for (size_t i = 0; r >= 0 && cfg && i < cfg->n; i++) {
                r = strbuf_addf(&sb, "%s=", cfg->vars[i].key);
                if (r >= 0)
                        r = strbuf_add(&sb, cfg->vars[i].value, cfg->vars[i].value_len);
                if (r >= 0)
                        r = strbuf_addch(&sb, '\0');
        }
        for (char **e = d->extra_env; r >= 0 && e && *e; e++)
                r = strbuf_add(&sb, *e, strlen(*e) + 1);
        if (r >= 0 && d->port)
                r = strbuf_addf(&sb, "PORT=%u%c", d->port, '\0');
        if (r >= 0)
                r = strbuf_addf(&sb, "DYNO=%s%cPIER_APP=%s%cPIER_RELEASE_VERSION=%" PRId64 "%c",
                                d->name, '\0', d->app->name, '\0', d->release, '\0');
        if (r >= 0 && write(fd, sb.buf, sb.len) != (ssize_t)sb.len)
                r = -EIO;
        strbuf_release(&sb);
        if (r < 0) {
                unlink(path);
                return r;
        }
        *ret_path = TAKE_PTR(path);
        return 0;
}

static void close_stdio(struct dyno *d)
{
        for (int i = 0; i < 3; i++)
                if (d->stdio[i] >= 0) {
                        close(d->stdio[i]);
                        d->stdio[i] = -1;
                }
}

static int spawn_dyno(struct dyno *d)
{
        struct supervisor *sup = d->app->sup;
        _cleanup_(config_freep) struct config *cfg = NULL;
        int r = store_release_config(sup->store, d->app->id, d->release, &cfg);
        if (r < 0)
                return r;
        if (is_web(d)) {
                r = pick_port(sup, &d->port);
                if (r < 0)
                        return r;
        }
        d->env_path = mfree(d->env_path);
        r = write_env_file(d, cfg, &d->env_path);
        if (r < 0)
                return r;
        /* One cgroup per process start: during a preboot the old and the
         * new web.1 run side by side, and a leftover is never mistaken
         * for the new one. */
        snprintf(d->cgroup, sizeof(d->cgroup), "%s/%s/%s-v%" PRId64 "-%" PRIu64, sup->cgroup_root,
                 d->app->id, d->name, d->release, ++sup->spawns);

        char uid[16], memory[24], pids[16];
        snprintf(uid, sizeof(uid), "%" PRIu32, d->app->uid);
        snprintf(memory, sizeof(memory), "%" PRIu64, size_memory(d->size));
        snprintf(pids, sizeof(pids), "%u", size_pids(d->size));
        const char *argv[24];
        size_t n = 0;
        argv[n++] = sup->dyno_bin;
        argv[n++] = "--slug";
        argv[n++] = d->slug_dir ? d->slug_dir : d->app->slug_dir;
        argv[n++] = "--name";
        argv[n++] = d->name;
        argv[n++] = "--env-file";
        argv[n++] = d->env_path;
        bool attached = d->stdio[0] >= 0;
        if (attached)
                argv[n++] = d->tty ? "--tty" : "--attach";
        if (sup->cfg.unisolated)
                argv[n++] = "--unisolated";
        else {
                argv[n++] = "--app-uid";
                argv[n++] = uid;
                argv[n++] = "--cgroup";
                argv[n++] = d->cgroup;
                argv[n++] = "--memory";
                argv[n++] = memory;
                argv[n++] = "--pids";
                argv[n++] = pids;
        }
        argv[n++] = "--";
        argv[n++] = d->command;
        argv[n] = NULL;

        int out[2] = {-1, -1};
        if (!attached && pipe2(out, O_CLOEXEC) < 0)
                return -errno;
        struct spawn_opts o = {.argv = argv,
                               .envp = (const char *const[]){"PATH=/usr/local/sbin:/usr/local/bin:"
                                                             "/usr/sbin:/usr/bin:/sbin:/bin",
                                                             NULL},
                               .stdin_fd = attached ? d->stdio[0] : -1,
                               .stdout_fd = attached ? d->stdio[1] : out[1],
                               .stderr_fd = attached ? d->stdio[2] : out[1],
                               .new_session = true};
        r = spawn(&o, &d->pid, &d->pidfd);
        if (attached)
                close_stdio(d); /* the dyno has them now (or never will) */
        else
                close(out[1]);
        if (r < 0) {
                if (!attached)
                        close(out[0]);
                return r;
        }
        record_unisolated(sup);
        d->out_fd = out[0];
        if (!attached) {
                (void)fcntl(d->out_fd, F_SETFL, O_NONBLOCK);
                /* Room for a burst: fewer wake-ups of the relay and of us. */
                (void)fcntl(d->out_fd, F_SETPIPE_SZ, OUTPUT_PIPE_BYTES);
                r = loop_add_io(sup->loop, d->out_fd, EPOLLIN, on_dyno_output, d, &d->out_io);
        }
        if (r < 0 ||
            (r = loop_add_io(sup->loop, d->pidfd, EPOLLIN, on_dyno_exit, d, &d->pid_io)) < 0) {
                signal_dyno(d, SIGKILL);
                return r;
        }
        return 0;
}

/* Start (or restart) the process.  Failures to even start count as a crash. */
static void act_spawn(struct dyno *d)
{
        d->boot_failed = false;
        dyno_event_log(d, "Starting process with command `%s`", d->command);
        int r = spawn_dyno(d);
        if (r < 0) {
                log_error_errno(r, "%s: starting %s: %m", d->app->name, d->name);
                dyno_event_log(d, "Error: could not start the process: %s", strerror(-r));
                if (d->oneoff) {
                        set_state(d, DS_DOWN);
                        act_down(d);
                        return;
                }
                set_state(d, DS_CRASHED);
                act_crashed(d);
                return;
        }
        if (!is_web(d)) {
                dispatch(d, EV_BOUND); /* only web dynos must bind a port */
                return;
        }
        d->boot_deadline = mono_ms_from_now(d->app->sup->cfg.boot_timeout_ms);
        loop_timer_set(d->timer, mono_ms_from_now(10));
}

static void act_up(struct dyno *d)
{
        d->up_since = now_usec();
        loop_timer_disable(d->timer);
        if (d->oneoff && d->timeout_ms)
                loop_timer_set(d->timer, mono_ms_from_now(d->timeout_ms));
        if (d->replaces) {
                /* Preboot: the new one serves now; the old one may go. */
                struct dyno *old = d->replaces;
                d->replaces = NULL;
                old->remove_when_down = true;
                dispatch(old, EV_STOP);
        }
}

/* SPEC §4: restart at once the first time, then back off. */
static void act_crashed(struct dyno *d)
{
        const struct supervisor_config *c = &d->app->sup->cfg;
        if (d->up_since && now_usec() - d->up_since >= (int64_t)c->backoff_reset_ms * 1000)
                d->crashes = 0;
        d->up_since = 0;
        d->crashes++;
        uint64_t delay = 0;
        if (d->crashes > 1) {
                delay = c->backoff_base_ms;
                for (unsigned i = 2; i < d->crashes && delay < c->backoff_max_ms; i++)
                        delay *= 2;
                delay = MIN(delay, (uint64_t)c->backoff_max_ms);
        }
        loop_timer_set(d->timer, (uint64_t)mono_usec() + delay * 1000);
}

static void act_r10(struct dyno *d)
{
        d->boot_failed = true;
        dyno_event_log(d,
                       "Error R10 (Boot timeout) -> Web process failed to bind to $PORT within "
                       "%u seconds of launch",
                       d->app->sup->cfg.boot_timeout_ms / 1000);
        dyno_event_log(d, "Stopping process with SIGKILL");
        signal_dyno(d, SIGKILL);
}

static void send_sigterm(struct dyno *d)
{
        d->term_pending = false;
        dyno_event_log(d, "Stopping all processes with SIGTERM");
        signal_dyno(d, SIGTERM);
        loop_timer_set(d->timer, mono_ms_from_now(d->app->sup->cfg.stop_timeout_ms));
}

static void act_sigterm(struct dyno *d)
{
        if (d->pid <= 0) {
                /* Nothing runs (a start failed): down at once. */
                set_state(d, DS_DOWN);
                act_down(d);
                return;
        }
        if (is_web(d) && d->logged_state == DS_UP) {
                /* It has just left the routing table: give the router a
                 * moment to stop sending it requests before it goes. */
                d->term_pending = true;
                loop_timer_set(d->timer, mono_ms_from_now(DRAIN_MS));
                return;
        }
        send_sigterm(d);
}

static void act_r12(struct dyno *d)
{
        dyno_event_log(d,
                       "Error R12 (Exit timeout) -> Process failed to exit within %u seconds of "
                       "SIGTERM",
                       d->app->sup->cfg.stop_timeout_ms / 1000);
        dyno_event_log(d, "Stopping process with SIGKILL");
        signal_dyno(d, SIGKILL);
        loop_timer_disable(d->timer);
}

static void act_down(struct dyno *d)
{
        loop_timer_disable(d->timer);
        /* Removal wins over a restart asked for before it (ps:restart, then
         * ps:stop): a restarted dyno marked for removal would be live to
         * nobody, never stopped nor counted again. */
        if (d->remove_when_down || d->oneoff) {
                struct app_rt *a = d->app;
                dyno_free(d);
                /* A slot may be free for a dyno that waited on it. */
                converge_app(a);
                return;
        }
        if (d->restart_when_down) {
                d->restart_when_down = false;
                d->crashes = 0;
                set_state(d, DS_STARTING);
                act_spawn(d);
        }
}

static struct dyno *dyno_new(struct app_rt *a, const char *type, unsigned index, int64_t release,
                             const char *command, const char *size)
{
        struct dyno *d = calloc(1, sizeof(*d));
        if (!d)
                return NULL;
        d->app = a;
        snprintf(d->type, sizeof(d->type), "%s", type);
        snprintf(d->name, sizeof(d->name), "%s.%u", type, index);
        d->release = release;
        d->command = strdup(command);
        d->size = strdup(size ? size : "standard-1x");
        d->pidfd = -1;
        d->out_fd = -1;
        d->stdio[0] = d->stdio[1] = d->stdio[2] = -1;
        d->exit_status = -1;
        d->state = DS_STARTING;
        d->state_since = now_usec();
        if (!d->command || !d->size ||
            loop_add_timer(a->sup->loop, 0, on_dyno_timer, d, &d->timer) < 0) {
                free(d->command);
                free(d->size);
                free(d);
                return NULL;
        }
        /* Append: ps lists dynos in the order they were made. */
        struct dyno **p = &a->dynos;
        while (*p)
                p = &(*p)->next;
        *p = d;
        return d;
}

static void dyno_free(struct dyno *d)
{
        struct app_rt *a = d->app;
        for (struct dyno **p = &a->dynos; *p; p = &(*p)->next)
                if (*p == d) {
                        *p = d->next;
                        break;
                }
        for (struct dyno *o = a->dynos; o; o = o->next)
                if (o->replaces == d)
                        o->replaces = NULL;
        if (d->pid > 0) {
                /* Only at shutdown: a dyno freed while running is killed. */
                signal_dyno(d, SIGKILL);
        }
        close_output(d);
        close_stdio(d);
        for (char **e = d->extra_env; e && *e; e++)
                free(*e);
        free(d->extra_env);
        loop_io_free(d->pid_io);
        if (d->pidfd >= 0)
                close(d->pidfd);
        loop_timer_free(d->timer);
        strbuf_release(&d->partial);
        if (d->env_path)
                (void)unlink(d->env_path);
        free(d->env_path);
        free(d->command);
        free(d->size);
        free(d->slug_dir);
        void (*on_exit)(void *, int) = d->on_exit;
        void *ud = d->on_exit_ud;
        int status = d->exit_status;
        free(d);
        if (on_exit)
                on_exit(ud, status);
}

static bool dyno_live(const struct dyno *d)
{
        return d->state != DS_DOWN && !d->remove_when_down;
}

/* ---- apps ---- */

static struct app_rt *app_find(struct supervisor *sup, const char *app_id)
{
        for (struct app_rt *a = sup->apps; a; a = a->next)
                if (streq(a->id, app_id))
                        return a;
        return NULL;
}

static void hosts_free(char **hosts, size_t n)
{
        for (size_t i = 0; i < n; i++)
                free(hosts[i]);
        free(hosts);
}

/* Whether a custom domain goes into the routing table (wildcards such as
 * "*.example.com" do: pier-router matches them).  Names under the
 * platform's domain are the apps' own: the API refuses them, but one added
 * under an earlier --domain could otherwise take NAME.DOMAIN from its app
 * ("*.DOMAIN" included). */
static bool host_routable(const struct supervisor *sup, const char *h)
{
        size_t n = strlen(h), dn = strlen(sup->domain);
        if (strcasecmp(h, sup->domain) == 0)
                return false;
        return !(n > dn + 1 && h[n - dn - 1] == '.' && strcasecmp(h + n - dn, sup->domain) == 0);
}

/* Takes the app's custom domains from the store; true when they changed.
 * On failure the ones known so far stay. */
static bool app_load_hosts(struct app_rt *a)
{
        _cleanup_(domain_list_freep) struct domain_list *l = NULL;
        int r = store_domain_list(a->sup->store, a->id, &l);
        if (r < 0) {
                log_error_errno(r, "loading the domains of %s: %m (%s)", a->name,
                                store_errmsg(a->sup->store));
                return false;
        }
        size_t n = 0;
        for (size_t i = 0; i < l->n; i++)
                if (host_routable(a->sup, l->domains[i].hostname))
                        l->domains[n++] = l->domains[i];
                else
                        free(l->domains[i].hostname);
        l->n = n;
        bool same = n == a->n_hosts;
        for (size_t i = 0; same && i < n; i++)
                same = streq(l->domains[i].hostname, a->hosts[i]);
        if (same)
                return false;
        char **hosts = n ? calloc(n, sizeof(char *)) : NULL;
        if (n && !hosts)
                return false;
        for (size_t i = 0; i < n; i++)
                hosts[i] = TAKE_PTR(l->domains[i].hostname);
        hosts_free(a->hosts, a->n_hosts);
        a->hosts = hosts;
        a->n_hosts = n;
        return true;
}

static struct app_rt *app_get(struct supervisor *sup, const struct app *app)
{
        struct app_rt *a = app_find(sup, app->id);
        if (!a) {
                a = calloc(1, sizeof(*a));
                if (!a)
                        return NULL;
                a->sup = sup;
                snprintf(a->id, sizeof(a->id), "%s", app->id);
                a->next = sup->apps;
                sup->apps = a;
        }
        bool changed = false;
        if (!a->name || !streq(a->name, app->name) || a->maintenance != app->maintenance) {
                char *n = strdup(app->name);
                if (!n)
                        return NULL;
                free(a->name);
                a->name = n;
                a->maintenance = app->maintenance;
                changed = true;
        }
        if (app_load_hosts(a))
                changed = true;
        if (changed)
                table_changed(sup);
        a->uid = app->uid;
        return a;
}

static void app_rt_free(struct app_rt *a)
{
        struct supervisor *sup = a->sup;
        for (struct app_rt **p = &sup->apps; *p; p = &(*p)->next)
                if (*p == a) {
                        *p = a->next;
                        break;
                }
        while (a->dynos)
                dyno_free(a->dynos);
        hosts_free(a->hosts, a->n_hosts);
        free(a->name);
        free(a->slug_dir);
        free(a);
}

/* ---- slugs ---- */

struct unpack {
        struct unpack *next;
        struct supervisor *sup;
        char app_id[37];
        int64_t release;
        char *tmp, *dir;
        pid_t pid;
        int pidfd;
        struct loop_io *io;
};

static void unpack_free(struct unpack *u)
{
        for (struct unpack **p = &u->sup->unpacks; *p; p = &(*p)->next)
                if (*p == u) {
                        *p = u->next;
                        break;
                }
        loop_io_free(u->io);
        if (u->pidfd >= 0)
                close(u->pidfd);
        free(u->tmp);
        free(u->dir);
        free(u);
}

static void on_unpacked(struct loop_io *io, int fd, uint32_t revents, void *userdata)
{
        struct unpack *u = userdata;
        int status = 0;
        if (waitpid(u->pid, &status, WNOHANG) == 0)
                return;
        struct app_rt *a = app_find(u->sup, u->app_id);
        bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0 && rename(u->tmp, u->dir) == 0;
        if (!ok)
                log_error("unpacking release v%" PRId64 " of app %s failed", u->release, u->app_id);
        int64_t release = u->release;
        struct supervisor *sup = u->sup;
        if (a && a->unpacking_release == u->release)
                a->unpacking = false;
        unpack_free(u);
        if (a)
                start_queued(a, release, !ok);
        if (a && ok)
                supervisor_converge(sup, a->id);
}

/* The release's slug unpacked once into run/APP_ID/vN, shared by its dynos.
 * 0: ready (*ret_dir set); -EINPROGRESS: unpacking, converge comes again. */
static int ensure_unpacked(struct app_rt *a, const struct release *rel, char **ret_dir)
{
        struct supervisor *sup = a->sup;
        _cleanup_free_ char *dir = NULL, *slug = NULL, *parent = NULL;
        if (asprintf(&parent, "%s/run/%s", sup->home, a->id) < 0 ||
            asprintf(&dir, "%s/v%" PRId64, parent, rel->version) < 0 ||
            asprintf(&slug, "%s/slugs/%s/%s.tar.zst", sup->home, a->id, rel->slug_id) < 0)
                return -ENOMEM;
        struct stat st;
        if (stat(dir, &st) == 0) {
                *ret_dir = TAKE_PTR(dir);
                return 0;
        }
        if (stat(slug, &st) < 0)
                return -errno; /* gone: nothing to unpack, no unpacker to start */
        for (struct unpack *u = sup->unpacks; u; u = u->next)
                if (streq(u->app_id, a->id) && u->release == rel->version)
                        return -EINPROGRESS;

        _cleanup_free_ char *run = NULL;
        if (asprintf(&run, "%s/run", sup->home) < 0)
                return -ENOMEM;
        (void)mkdir(run, 0711);
        (void)mkdir(parent, 0711);
        struct unpack *u = calloc(1, sizeof(*u));
        if (!u)
                return -ENOMEM;
        u->sup = sup;
        u->pidfd = -1;
        snprintf(u->app_id, sizeof(u->app_id), "%s", a->id);
        u->release = rel->version;
        if (asprintf(&u->tmp, "%s/.v%" PRId64 ".%" PRId64, parent, rel->version, mono_usec()) <
            0) {
                u->tmp = NULL;
                unpack_free(u);
                return -ENOMEM;
        }
        u->dir = TAKE_PTR(dir);
        /* The app's uid owns the unpacked files: in the dyno's overlay it
         * may then change them (the change vanishes at restart). */
        char uid[16];
        snprintf(uid, sizeof(uid), "%" PRIu32, a->uid);
        const char *argv[] = {sup->build_bin, "extract", "--uid", uid, slug, u->tmp, NULL};
        const char *argv_plain[] = {sup->build_bin, "extract", slug, u->tmp, NULL};
        struct spawn_opts o = {.argv = sup->cfg.unisolated ? argv_plain : argv,
                               .stdin_fd = -1,
                               .stdout_fd = STDERR_FILENO,
                               .stderr_fd = STDERR_FILENO};
        int r = spawn(&o, &u->pid, &u->pidfd);
        if (r >= 0)
                r = loop_add_io(sup->loop, u->pidfd, EPOLLIN, on_unpacked, u, &u->io);
        if (r < 0) {
                unpack_free(u);
                return r;
        }
        u->next = sup->unpacks;
        sup->unpacks = u;
        a->unpacking = true;
        a->unpacking_release = rel->version;
        return -EINPROGRESS;
}

/* ---- pruning ---- */

struct rm_child {
        struct rm_child *next;
        struct supervisor *sup;
        struct loop_io *io;
        pid_t pid;
        int pidfd;
};

static void rm_child_free(struct rm_child *c)
{
        for (struct rm_child **p = &c->sup->rms; *p; p = &(*p)->next)
                if (*p == c) {
                        *p = c->next;
                        break;
                }
        loop_io_free(c->io);
        close(c->pidfd);
        free(c);
}

static void on_rm_exit(struct loop_io *io, int fd, uint32_t revents, void *userdata)
{
        struct rm_child *c = userdata;
        if (waitpid(c->pid, NULL, WNOHANG) == 0)
                return;
        rm_child_free(c);
}

/* Unpacked releases that are not current and that no dyno uses go (each
 * is a whole unpacked slug, one per release, kept for ever otherwise):
 * renamed away at once, removed by `rm -rf` in the background.  Leftovers
 * of a pierd that died meanwhile (.gone-*) go with them. */
static void prune_unpacked(struct app_rt *a)
{
        struct supervisor *sup = a->sup;
        _cleanup_free_ char *parent = NULL;
        if (asprintf(&parent, "%s/run/%s", sup->home, a->id) < 0)
                return;
        DIR *dir = opendir(parent);
        if (!dir)
                return;
        char *gone[16];
        size_t n = 0;
        for (struct dirent *de; n < ELEMENTSOF(gone) && (de = readdir(dir));) {
                int64_t v = 0;
                bool leftover = strneq(de->d_name, ".gone-", 6);
                if (!leftover && (de->d_name[0] != 'v' || safe_atoi64(de->d_name + 1, &v) < 0 ||
                                  v == a->release))
                        continue;
                bool used = false;
                for (struct dyno *d = a->dynos; !leftover && d && !used; d = d->next)
                        used = d->release == v;
                for (struct unpack *u = sup->unpacks; !leftover && u && !used; u = u->next)
                        used = streq(u->app_id, a->id) && u->release == v;
                if (used)
                        continue;
                _cleanup_free_ char *from = NULL;
                char *to = NULL;
                if (asprintf(&from, "%s/%s", parent, de->d_name) < 0)
                        break;
                if (leftover)
                        to = TAKE_PTR(from);
                else if (asprintf(&to, "%s/.gone-%s-%" PRId64, parent, de->d_name, mono_usec()) < 0)
                        to = NULL;
                else if (rename(from, to) < 0)
                        to = mfree(to);
                if (to)
                        gone[n++] = to;
        }
        closedir(dir);
        if (n == 0)
                return;
        const char *argv[ELEMENTSOF(gone) + 5] = {"rm", "-rf", "--one-file-system", "--"};
        for (size_t i = 0; i < n; i++)
                argv[4 + i] = gone[i];
        struct spawn_opts o = {
            .argv = argv, .stdin_fd = -1, .stdout_fd = -1, .stderr_fd = STDERR_FILENO};
        struct rm_child *c = calloc(1, sizeof(*c));
        int r = c ? spawn(&o, &c->pid, &c->pidfd) : -ENOMEM;
        if (r >= 0 && loop_add_io(sup->loop, c->pidfd, EPOLLIN, on_rm_exit, c, &c->io) < 0) {
                (void)waitpid(c->pid, NULL, 0); /* cannot watch it: wait now */
                close(c->pidfd);
                r = -EIO;
        }
        if (r < 0) {
                log_warning("%s: removing unpacked releases: %s", a->name, strerror(-r));
                free(c);
        } else {
                c->sup = sup;
                c->next = sup->rms;
                sup->rms = c;
        }
        for (size_t i = 0; i < n; i++)
                free(gone[i]);
}

/* ---- converging ---- */

static struct dyno *find_dyno(struct app_rt *a, const char *name, int64_t release,
                              const char *size)
{
        for (struct dyno *d = a->dynos; d; d = d->next)
                if (dyno_live(d) && !d->oneoff && streq(d->name, name) && d->release == release &&
                    streq(d->size, size))
                        return d;
        return NULL;
}

static bool wanted(const struct dyno *d, const struct formation *f, const json_t *pt,
                   int64_t release)
{
        if (d->release != release || !json_is_string(json_object_get(pt, d->type)))
                return false;
        const char *dot = strrchr(d->name, '.');
        long index = dot ? strtol(dot + 1, NULL, 10) : 0;
        /* A new size means new limits: the dyno is replaced (as Heroku). */
        for (size_t i = 0; f && i < f->n; i++)
                if (streq(f->items[i].type, d->type))
                        return index >= 1 && index <= f->items[i].quantity &&
                               streq(d->size, f->items[i].size);
        return false;
}

static void converge_app(struct app_rt *a)
{
        struct supervisor *sup = a->sup;
        _cleanup_(release_list_freep) struct release_list *rels = NULL;
        _cleanup_(formation_freep) struct formation *f = NULL;
        if (store_release_list(sup->store, a->id, &rels) < 0 ||
            store_formation_get(sup->store, a->id, &f) < 0) {
                log_error("%s: reading its releases and formation failed", a->name);
                return;
        }
        const struct release *cur = NULL;
        for (size_t i = 0; i < rels->n && !cur; i++)
                if (rels->releases[i].current)
                        cur = &rels->releases[i];

        _cleanup_(json_decrefp) json_t *pt = NULL;
        int64_t release = 0;
        if (cur && cur->slug_id) {
                _cleanup_free_ char *dir = NULL;
                int r = ensure_unpacked(a, cur, &dir);
                if (r == -EINPROGRESS)
                        return; /* the old dynos run on until it is ready */
                if (r < 0) {
                        log_error_errno(r, "%s: unpacking v%" PRId64 ": %m", a->name, cur->version);
                        return;
                }
                free(a->slug_dir);
                a->slug_dir = TAKE_PTR(dir);
                release = cur->version;
                pt = json_loads(cur->process_types, 0, NULL);
        }
        a->release = release;

        /* Start what is missing. */
        for (size_t i = 0; pt && f && i < f->n; i++) {
                const struct formation_item *it = &f->items[i];
                const char *command = json_string_value(json_object_get(pt, it->type));
                /* "release" is the release phase's, run once per release
                 * (a formation from before that was refused may have it). */
                if (!command || streq(it->type, "release"))
                        continue;
                for (int k = 1; k <= it->quantity; k++) {
                        char name[80];
                        snprintf(name, sizeof(name), "%s.%d", it->type, k);
                        if (find_dyno(a, name, release, it->size))
                                continue;
                        struct dyno *d = dyno_new(a, it->type, (unsigned)k, release, command,
                                                  it->size);
                        if (!d)
                                continue;
                        /* The one it replaces: a web dyno that serves stays
                         * until this one is up (preboot). */
                        for (struct dyno *o = a->dynos; o; o = o->next) {
                                if (o == d || !dyno_live(o) || !streq(o->name, name))
                                        continue;
                                if (is_web(o) && o->state == DS_UP && !d->replaces) {
                                        bool taken = false;
                                        for (struct dyno *x = a->dynos; x; x = x->next)
                                                if (x->replaces == o)
                                                        taken = true;
                                        if (!taken) {
                                                d->replaces = o;
                                                continue;
                                        }
                                }
                        }
                        act_spawn(d);
                }
        }

        /* Stop what is not wanted (but not what a starting dyno replaces).
         * Stopping a crashed dyno frees it and converges again, which may
         * free others: look again from the start after each. */
        for (struct dyno *d = a->dynos; d;) {
                bool pending = false;
                for (struct dyno *x = a->dynos; x; x = x->next)
                        if (x->replaces == d && dyno_live(x))
                                pending = true;
                if (!dyno_live(d) || d->oneoff || wanted(d, f, pt, release) || pending) {
                        d = d->next;
                        continue;
                }
                d->remove_when_down = true; /* not live: not looked at again */
                dispatch(d, EV_STOP);
                d = a->dynos;
        }
        prune_unpacked(a);
}

/* One-offs that waited for release `release` to be unpacked: start them
 * (or give up on them when it could not be). */
static void start_queued(struct app_rt *a, int64_t release, bool unpack_failed)
{
        bool any = false;
        for (struct dyno *d = a->dynos; d; d = d->next)
                any = any || (d->queued && d->release == release);
        if (!any)
                return;
        _cleanup_(release_freep) struct release *rel = NULL;
        _cleanup_free_ char *dir = NULL;
        /* After a failed unpack: not again (it would fail again, at once). */
        int r = unpack_failed ? -EIO : store_release_get(a->sup->store, a->id, release, &rel);
        if (r >= 0)
                r = rel->slug_id ? ensure_unpacked(a, rel, &dir) : -ENOENT;
        if (r == -EINPROGRESS)
                return;
        /* Starting one may free others (converging): look again each time. */
        for (;;) {
                struct dyno *d = a->dynos;
                while (d && !(d->queued && d->release == release))
                        d = d->next;
                if (!d)
                        break;
                d->queued = false;
                if (r < 0 || !(d->slug_dir = strdup(dir))) {
                        dyno_event_log(d, "Error: could not unpack release v%" PRId64,
                                       release);
                        set_state(d, DS_DOWN);
                        act_down(d);
                        continue;
                }
                act_spawn(d);
        }
}

static void close_fds3(const int fds[3])
{
        for (int i = 0; i < 3; i++)
                if (fds[i] >= 0)
                        close(fds[i]);
}

int supervisor_run(struct supervisor *sup, const char *app_id, int64_t release_version,
                   const char *command, const char *type_label,
                   void (*on_exit)(void *ud, int status), void *ud, char *ret_name)
{
        struct run_opts o = {.type_label = type_label, .stdio = {-1, -1, -1}};
        return supervisor_run_opts(sup, app_id, release_version, command, &o, on_exit, ud,
                                   ret_name);
}

int supervisor_run_opts(struct supervisor *sup, const char *app_id, int64_t release_version,
                        const char *command, const struct run_opts *o,
                        void (*on_exit)(void *ud, int status), void *ud, char *ret_name)
{
        int r = run_oneoff(sup, app_id, release_version, command, o, on_exit, ud, ret_name);
        if (r < 0)
                close_fds3(o->stdio); /* taken over, also on failure */
        return r;
}

int supervisor_signal(struct supervisor *sup, const char *app_id, const char *name, int sig)
{
        struct app_rt *a = app_find(sup, app_id);
        for (struct dyno *d = a ? a->dynos : NULL; d; d = d->next)
                if (streq(d->name, name) && d->state != DS_DOWN && d->pid > 0) {
                        signal_dyno(d, sig);
                        return 0;
                }
        return -ENOENT;
}

/* supervisor_run_opts(), but the stdio fds are the caller's until the dyno
 * has them (that is, on success). */
static int run_oneoff(struct supervisor *sup, const char *app_id, int64_t release_version,
                      const char *command, const struct run_opts *o,
                      void (*on_exit)(void *ud, int status), void *ud, char *ret_name)
{
        const char *type_label = o->type_label;
        _cleanup_(app_freep) struct app *app = NULL;
        _cleanup_(release_freep) struct release *rel = NULL;
        int r = store_app_get(sup->store, app_id, &app);
        if (r < 0)
                return r;
        r = store_release_get(sup->store, app_id, release_version, &rel);
        if (r < 0)
                return r;
        if (!rel->slug_id)
                return -ENOMEDIUM; /* nothing deployed yet */
        struct app_rt *a = app_get(sup, app);
        if (!a)
                return -ENOMEM;
        char name[80];
        for (int tries = 0;; tries++) {
                uint32_t rnd;
                r = random_bytes(&rnd, sizeof(rnd));
                if (r < 0)
                        return r;
                snprintf(name, sizeof(name), "%s.%04u", type_label, 1000 + rnd % 9000);
                bool taken = false;
                for (struct dyno *d = a->dynos; d; d = d->next)
                        taken = taken || streq(d->name, name);
                if (!taken)
                        break;
                if (tries > 1000)
                        return -EBUSY;
        }
        struct dyno *d = dyno_new(a, type_label, 0, release_version, command, "standard-1x");
        if (!d)
                return -ENOMEM;
        snprintf(d->name, sizeof(d->name), "%s", name);
        d->oneoff = true; /* removed once down (act_down) */
        if (streq(type_label, "release"))
                d->timeout_ms = sup->cfg.release_timeout_ms;
        size_t n_env = 0;
        while (o->env && o->env[n_env])
                n_env++;
        if (n_env) {
                d->extra_env = calloc(n_env + 1, sizeof(char *));
                for (size_t i = 0; d->extra_env && i < n_env; i++)
                        if (!(d->extra_env[i] = strdup(o->env[i])))
                                r = -ENOMEM;
                if (!d->extra_env || r == -ENOMEM) {
                        dyno_free(d);
                        return -ENOMEM;
                }
        }
        _cleanup_free_ char *dir = NULL;
        r = ensure_unpacked(a, rel, &dir);
        if (r < 0 && r != -EINPROGRESS) {
                dyno_free(d);
                return r;
        }
        /* From here on the dyno owns the fds. */
        memcpy(d->stdio, o->stdio, sizeof(d->stdio));
        d->tty = o->tty;
        d->on_exit = on_exit;
        d->on_exit_ud = ud;
        if (ret_name)
                snprintf(ret_name, 80, "%s", name);
        if (r == -EINPROGRESS) {
                d->queued = true; /* started by start_queued() */
                return 0;
        }
        d->slug_dir = TAKE_PTR(dir);
        act_spawn(d);
        return 0;
}

void supervisor_converge(struct supervisor *sup, const char *app_id)
{
        _cleanup_(app_freep) struct app *app = NULL;
        if (store_app_get(sup->store, app_id, &app) < 0)
                return;
        struct app_rt *a = app_get(sup, app);
        if (a)
                converge_app(a);
}

void supervisor_app_removed(struct supervisor *sup, const char *app_id)
{
        struct app_rt *a = app_find(sup, app_id);
        if (!a)
                return;
        /* The app is gone, and so are its dynos at once: killed, reaped (no
         * zombies) and their cgroups removed, as at shutdown. */
        for (struct dyno *d = a->dynos; d; d = d->next) {
                if (d->pid <= 0)
                        continue;
                signal_dyno(d, SIGKILL);
                (void)waitpid(d->pid, NULL, 0);
                d->pid = 0;
                if (!sup->cfg.unisolated)
                        remove_cgroup(sup, d->cgroup);
        }
        char parent[160];
        snprintf(parent, sizeof(parent), "%s/%s", sup->cgroup_root, app_id);
        if (!sup->cfg.unisolated)
                remove_cgroup(sup, parent);
        app_rt_free(a);
        record_unisolated(sup);
        table_changed(sup);
}

static bool matches(const struct dyno *d, const char *what)
{
        return !what || streq(what, d->type) || streq(what, d->name);
}

int supervisor_restart(struct supervisor *sup, const char *app_id, const char *what)
{
        struct app_rt *a = app_find(sup, app_id);
        int found = 0;
        for (struct dyno *d = a ? a->dynos : NULL; d; d = d->next) {
                if (!dyno_live(d) || !matches(d, what))
                        continue;
                found = 1;
                d->crashes = 0;
                if (d->oneoff) { /* never restarted: stopped */
                        d->remove_when_down = true;
                        dispatch(d, EV_STOP);
                        continue;
                }
                if (d->state == DS_CRASHED) {
                        dispatch(d, EV_RESTART_DUE);
                        continue;
                }
                d->restart_when_down = true;
                dispatch(d, EV_STOP);
        }
        return found ? 0 : -ENOENT;
}

int supervisor_stop(struct supervisor *sup, const char *app_id, const char *what)
{
        struct app_rt *a = app_find(sup, app_id);
        int found = 0;
        for (struct dyno *d = a ? a->dynos : NULL, *next; d; d = next) {
                next = d->next;
                if (!dyno_live(d) || !matches(d, what))
                        continue;
                found = 1;
                /* ps:stop: the formation brings it back (as Heroku does). */
                d->remove_when_down = true;
                dispatch(d, EV_STOP);
        }
        return found ? 0 : -ENOENT;
}

/* ---- reporting ---- */

json_t *supervisor_dynos_json(struct supervisor *sup, const char *app_id)
{
        json_t *list = json_array();
        struct app_rt *a = app_find(sup, app_id);
        for (struct dyno *d = a ? a->dynos : NULL; list && d; d = d->next) {
                if (d->state == DS_DOWN)
                        continue;
                char since[32];
                time_iso8601(d->state_since, since);
                json_array_append_new(
                        list, json_pack("{s:s, s:s, s:s, s:s, s:s, s:{s:I}, s:s, s:I, s:b, s:I}",
                                        "name", d->name, "type", d->type, "state",
                                        state_names[d->state], "command", d->command, "size",
                                        d->size, "release", "version", (json_int_t)d->release,
                                        "updated_at", since, "port", (json_int_t)d->port,
                                        "isolated", !sup->cfg.unisolated, "pid",
                                        (json_int_t)d->pid));
        }
        return list;
}

uint64_t supervisor_table_version(const struct supervisor *sup)
{
        return sup->table_version;
}

json_t *supervisor_table_json(struct supervisor *sup)
{
        json_t *apps = json_array();
        for (struct app_rt *a = sup->apps; apps && a; a = a->next) {
                json_t *dynos = json_array();
                /* starting: the router holds requests for a web dyno that
                 * boots (H20 if none comes up in time); deployed: false
                 * is H81, a blank app (no release with a slug yet). */
                bool crashed = false, any = false, starting = a->unpacking;
                for (struct dyno *d = a->dynos; dynos && d; d = d->next) {
                        if (!is_web(d) || d->state == DS_DOWN)
                                continue;
                        any = true;
                        if (d->state == DS_UP)
                                json_array_append_new(dynos,
                                                      json_pack("{s:s, s:i}", "name", d->name,
                                                                "port", (int)d->port));
                        else if (d->state == DS_CRASHED)
                                crashed = true;
                        else if (d->state == DS_STARTING)
                                starting = true;
                }
                char host[300];
                snprintf(host, sizeof(host), "%s.%s", a->name, sup->domain);
                json_t *hosts = json_array();
                json_array_append_new(hosts, json_string(host));
                for (size_t i = 0; hosts && i < a->n_hosts; i++)
                        json_array_append_new(hosts, json_string(a->hosts[i]));
                json_array_append_new(
                        apps, json_pack("{s:s, s:s, s:o, s:b, s:b, s:b, s:b, s:o}", "id", a->id,
                                        "name", a->name, "hosts", hosts ? hosts : json_array(),
                                        "maintenance",
                                        a->maintenance, "crashed",
                                        crashed && json_array_size(dynos) == 0, "deployed",
                                        a->release > 0 || any || a->unpacking, "starting",
                                        starting, "dynos", dynos ? dynos : json_array()));
        }
        return json_pack("{s:I, s:o}", "version", (json_int_t)sup->table_version, "apps",
                         apps ? apps : json_array());
}

void supervisor_set_table_listener(struct supervisor *sup, void (*on_change)(void *userdata),
                                   void *userdata)
{
        sup->on_table_change = on_change;
        sup->table_userdata = userdata;
}

/* R14: over the quota, logged at most every 20 s (the kernel kills at 2x). */
static void on_memory_timer(struct loop_timer *t, void *userdata)
{
        struct supervisor *sup = userdata;
        int64_t now = now_usec();
        retry_stale_cgroups(sup);
        for (struct app_rt *a = sup->apps; a; a = a->next)
                for (struct dyno *d = a->dynos; d; d = d->next) {
                        uint64_t usage, limit;
                        bool oom;
                        if (d->state != DS_UP ||
                            dyno_cgroup_memory(d->cgroup, &usage, &limit, &oom) < 0)
                                continue;
                        if (oom && !d->r15) {
                                /* The kernel killed a process at the hard
                                 * limit (cgroup v1: only the biggest): the
                                 * whole dyno goes (SPEC §4). */
                                d->r15 = true;
                                dyno_event_log(d, "Error R15 (Memory quota vastly exceeded) -> "
                                                  "Dyno killed at 2x its memory quota");
                                signal_dyno(d, SIGKILL);
                                continue;
                        }
                        if (usage > size_memory(d->size) && now - d->last_r14 > 20 * 1000000LL) {
                                d->last_r14 = now;
                                dyno_event_log(d, "Error R14 (Memory quota exceeded)");
                        }
                }
        loop_timer_set(t, mono_ms_from_now(MEMORY_POLL_MS));
}

/* ---- life ---- */

int supervisor_new(struct loop *l, struct store *s, const struct supervisor_config *cfg,
                   struct supervisor **ret)
{
        struct supervisor *sup = calloc(1, sizeof(*sup));
        if (!sup)
                return -ENOMEM;
        sup->loop = l;
        sup->store = s;
        sup->cfg = *cfg;
        sup->home = strdup(cfg->home);
        sup->dyno_bin = strdup(cfg->dyno_bin);
        sup->build_bin = strdup(cfg->build_bin);
        sup->domain = strdup(cfg->domain);
        sup->table_version = 1;
        char real[PATH_MAX], hash[65];
        const char *home = realpath(cfg->home, real) ? real : cfg->home;
        sha256_hex(home, strlen(home), hash);
        snprintf(sup->cgroup_root, sizeof(sup->cgroup_root), "pier/%.12s", hash);
        int r = -ENOMEM;
        if (!sup->home || !sup->dyno_bin || !sup->build_bin || !sup->domain)
                goto fail;
        if (!cfg->unisolated) {
                r = loop_add_timer(l, mono_ms_from_now(MEMORY_POLL_MS), on_memory_timer, sup,
                                   &sup->memory_timer);
                if (r < 0)
                        goto fail;
        }
        *ret = sup;
        return 0;
fail:
        supervisor_free(sup);
        return r;
}

struct supervisor *supervisor_free(struct supervisor *sup)
{
        if (!sup)
                return NULL;
        /* Shutting down: every dyno gets SIGTERM and a short grace (the
         * platform is going away, not one dyno), then SIGKILL, so nothing
         * of it outlives pierd. */
        bool any = false;
        for (struct app_rt *a = sup->apps; a; a = a->next)
                for (struct dyno *d = a->dynos; d; d = d->next)
                        if (d->pid > 0) {
                                signal_dyno(d, SIGTERM);
                                any = true;
                        }
        for (int i = 0; any && i < SHUTDOWN_GRACE_MS / 50; i++) {
                any = false;
                for (struct app_rt *a = sup->apps; a; a = a->next)
                        for (struct dyno *d = a->dynos; d; d = d->next)
                                if (d->pid > 0 && waitpid(d->pid, NULL, WNOHANG) == 0)
                                        any = true;
                                else
                                        d->pid = 0;
                if (any)
                        usleep(50 * 1000);
        }
        for (struct app_rt *a = sup->apps; a; a = a->next)
                for (struct dyno *d = a->dynos; d; d = d->next) {
                        if (!sup->cfg.unisolated) {
                                (void)dyno_cgroup_signal(d->cgroup, SIGKILL, false, NULL);
                                remove_cgroup(sup, d->cgroup);
                        } else if (d->pid > 0)
                                (void)kill(-d->pid, SIGKILL);
                        if (d->pid > 0)
                                (void)waitpid(d->pid, NULL, 0);
                        d->pid = 0;
                }
        if (sup->cfg.unisolated) {
                _cleanup_free_ char *path = unisolated_path(sup);
                if (path)
                        (void)unlink(path); /* none left */
        }
        while (sup->apps)
                app_rt_free(sup->apps);
        while (sup->rms) /* they finish on their own */
                rm_child_free(sup->rms);
        while (sup->unpacks)
                unpack_free(sup->unpacks); /* the child finishes on its own */
        for (int i = 0; i < 20 && sup->n_stale; i++) {
                retry_stale_cgroups(sup);
                if (sup->n_stale)
                        usleep(10000);
        }
        for (size_t i = 0; i < sup->n_stale; i++)
                free(sup->stale[i]);
        loop_timer_free(sup->memory_timer);
        free(sup->home);
        free(sup->dyno_bin);
        free(sup->build_bin);
        free(sup->domain);
        free(sup);
        return NULL;
}

/* ---- unisolated dynos: what a killed pierd leaves ---- */

/* Without cgroups the dynos are found again by their process groups (each
 * dyno is its own session): HOME/unisolated-dynos lists "PID STARTTIME"
 * of every running one, rewritten at each spawn and exit, so that the
 * next pierd kills what a killed one left (and no reused pid). */
static uint64_t proc_starttime(pid_t pid)
{
        char path[64], buf[1024];
        snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return 0;
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        if (n <= 0)
                return 0;
        buf[n] = '\0';
        const char *p = strrchr(buf, ')'); /* the name may hold anything */
        if (!p)
                return 0;
        /* fields 3.. follow; starttime is field 22 */
        for (int field = 2; *p && field < 22; field++) {
                p = strchr(p + 1, ' ');
                if (!p)
                        return 0;
        }
        return strtoull(p + 1, NULL, 10);
}

static char *unisolated_path(struct supervisor *sup)
{
        char *path = NULL;
        return asprintf(&path, "%s/unisolated-dynos", sup->home) < 0 ? NULL : path;
}

static void record_unisolated(struct supervisor *sup)
{
        if (!sup->cfg.unisolated)
                return;
        _cleanup_free_ char *path = unisolated_path(sup), *tmp = NULL;
        if (!path || asprintf(&tmp, "%s.tmp", path) < 0)
                return;
        FILE *f = fopen(tmp, "we");
        if (!f)
                return;
        for (struct app_rt *a = sup->apps; a; a = a->next)
                for (struct dyno *d = a->dynos; d; d = d->next)
                        if (d->pid > 0)
                                fprintf(f, "%ld %" PRIu64 "\n", (long)d->pid,
                                        proc_starttime(d->pid));
        if (fclose(f) != 0 || rename(tmp, path) < 0)
                (void)unlink(tmp);
}

static unsigned kill_unisolated_leftovers(struct supervisor *sup)
{
        _cleanup_free_ char *path = unisolated_path(sup);
        FILE *f = path ? fopen(path, "re") : NULL;
        if (!f)
                return 0;
        unsigned killed = 0;
        long pid;
        uint64_t start;
        while (fscanf(f, "%ld %" SCNu64, &pid, &start) == 2)
                if (pid > 1 && start && proc_starttime((pid_t)pid) == start) {
                        (void)kill(-(pid_t)pid, SIGKILL);
                        (void)kill((pid_t)pid, SIGKILL);
                        killed++;
                }
        fclose(f);
        (void)unlink(path);
        return killed;
}

/* Dynos of a previous pierd (crashed or killed): find them by cgroup (or
 * by the list above) and kill them, so the formation never runs twice. */
static void kill_leftovers(struct supervisor *sup)
{
        char **apps = NULL;
        if (sup->cfg.unisolated) {
                unsigned n = kill_unisolated_leftovers(sup);
                if (n)
                        log_notice("killed %u unisolated dynos left by a previous pierd", n);
                return;
        }
        if (dyno_cgroup_list(sup->cgroup_root, &apps) < 0)
                return;
        unsigned killed = 0;
        for (char **a = apps; a && *a; a++) {
                _cleanup_free_ char *parent = NULL;
                if (asprintf(&parent, "%s/%s", sup->cgroup_root, *a) < 0)
                        continue;
                char **dynos = NULL;
                if (dyno_cgroup_list(parent, &dynos) >= 0)
                        for (char **d = dynos; d && *d; d++) {
                                _cleanup_free_ char *name = NULL;
                                unsigned n = 0;
                                if (asprintf(&name, "%s/%s", parent, *d) < 0)
                                        continue;
                                /* A few rounds: processes may fork as we go. */
                                for (int i = 0; i < 50; i++) {
                                        n = 0;
                                        if (dyno_cgroup_signal(name, SIGKILL, false, &n) < 0 ||
                                            n == 0)
                                                break;
                                        killed += n;
                                        usleep(10000);
                                }
                                (void)dyno_cgroup_remove(name);
                        }
                for (char **d = dynos; d && *d; d++)
                        free(*d);
                free(dynos);
                (void)dyno_cgroup_remove(parent);
                free(*a);
        }
        free(apps);
        if (killed)
                log_notice("killed %u processes of dynos left by a previous pierd", killed);
}

int supervisor_start_all(struct supervisor *sup)
{
        kill_leftovers(sup);
        _cleanup_(app_list_freep) struct app_list *l = NULL;
        int r = store_app_list(sup->store, &l);
        if (r < 0)
                return r;
        for (size_t i = 0; i < l->n; i++) {
                struct app_rt *a = app_get(sup, &l->apps[i]);
                if (a)
                        converge_app(a);
        }
        return 0;
}

/* `host` is the app's id (pier-router's --access-log-app-id lines) or the
 * line's host=: NAME.DOMAIN, a custom domain, or a name under a wildcard
 * one ("*.example.com" for "a.example.com"; an exact name wins, as in the
 * router). */
void supervisor_router_log(struct supervisor *sup, const char *host, const char *msg, size_t len)
{
        size_t hlen = strcspn(host, ":");
        size_t dlen = strlen(sup->domain);
        struct app_rt *wild = NULL;
        const char *dot = memchr(host, '.', hlen);
        for (struct app_rt *a = sup->apps; a; a = a->next) {
                size_t nlen = strlen(a->name);
                bool ours = streq(host, a->id) ||
                            (hlen == nlen + 1 + dlen && strncasecmp(host, a->name, nlen) == 0 &&
                             host[nlen] == '.' &&
                             strncasecmp(host + nlen + 1, sup->domain, dlen) == 0);
                for (size_t i = 0; !ours && i < a->n_hosts; i++) {
                        const char *h = a->hosts[i];
                        size_t n = strlen(h);
                        if (h[0] == '*') {
                                if (!wild && dot && dot > host && n - 1 == hlen - (size_t)(dot - host) &&
                                    strncasecmp(h + 1, dot, n - 1) == 0)
                                        wild = a;
                        } else {
                                ours = n == hlen && strncasecmp(host, h, hlen) == 0;
                        }
                }
                if (ours) {
                        app_log_n(a, "heroku", "router", msg, len);
                        return;
                }
        }
        if (wild)
                app_log_n(wild, "heroku", "router", msg, len);
}
