/* pier-router as pierd's child; see routerd.h. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/spawn.h"
#include "lib/strbuf.h"
#include "lib/timefmt.h"
#include "lib/util.h"
#include "pierd/routerd.h"

#define RESTART_DELAY_MS 1000
#define LINE_MAX_BYTES   10000

struct routerd {
        struct loop *loop;
        struct supervisor *sup;
        char *bin, *listen, *domain, *table_path, *pid_path;
        unsigned workers;
        pid_t pid;
        int pidfd;
        struct loop_io *pid_io;
        int out_fd;
        struct loop_io *out_io;
        struct strbuf partial;
        struct loop_timer *restart;
        bool stopping;
};

static int write_table(struct routerd *rd)
{
        _cleanup_(json_decrefp) json_t *t = supervisor_table_json(rd->sup);
        if (!t)
                return -ENOMEM;
        _cleanup_free_ char *tmp = NULL;
        if (asprintf(&tmp, "%s.tmp", rd->table_path) < 0)
                return -ENOMEM;
        /* 0644: the router reads it; it holds nothing secret. */
        int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
                return -errno;
        int r = json_dumpfd(t, fd, JSON_COMPACT) < 0 ? -EIO : 0;
        if (close(fd) < 0 && r >= 0)
                r = -errno;
        if (r >= 0 && rename(tmp, rd->table_path) < 0)
                r = -errno;
        if (r < 0)
                (void)unlink(tmp);
        return r;
}

void routerd_table_changed(struct routerd *rd)
{
        int r = write_table(rd);
        if (r < 0)
                log_error_errno(r, "writing the routing table %s: %m", rd->table_path);
}

/* "APP_ID\tTIME heroku[router]: at=info ..." → the app's log.  The router
 * (--access-log-app-id) names the app by the "id" of our table, so that a
 * host matched by a wildcard needs no matching here; a line without one
 * (another router's) goes by its host= instead.  "-": no app (an unknown
 * host, a request that could not be parsed). */
static void access_line(struct routerd *rd, const char *line, size_t len)
{
        static const char tag[] = "heroku[router]: ";
        const char *msg = memmem(line, len, tag, sizeof(tag) - 1);
        if (!msg)
                return;
        char who[256];
        const char *tab = memchr(line, '\t', (size_t)(msg - line));
        if (tab) {
                size_t n = (size_t)(tab - line);
                if (n == 0 || n >= sizeof(who) || (n == 1 && line[0] == '-'))
                        return;
                memcpy(who, line, n);
                who[n] = '\0';
        }
        msg += sizeof(tag) - 1;
        size_t msglen = len - (size_t)(msg - line);
        if (!tab) {
                const char *h = memmem(msg, msglen, " host=", 6);
                if (!h)
                        return;
                h += 6;
                size_t hlen = strcspn(h, " ");
                if ((size_t)(h - msg) + hlen > msglen || hlen == 0 || hlen >= sizeof(who))
                        return;
                memcpy(who, h, hlen);
                who[hlen] = '\0';
        }
        supervisor_router_log(rd->sup, who, msg, msglen);
}

static void on_output(struct loop_io *io, int fd, uint32_t revents, void *userdata)
{
        struct routerd *rd = userdata;
        char buf[16384];
        for (int i = 0; i < 16; i++) {
                ssize_t n = read(fd, buf, sizeof(buf));
                if (n < 0 && (errno == EAGAIN || errno == EINTR))
                        return;
                if (n <= 0) {
                        loop_io_free(rd->out_io);
                        rd->out_io = NULL;
                        close(rd->out_fd);
                        rd->out_fd = -1;
                        strbuf_reset(&rd->partial);
                        return;
                }
                if (strbuf_add(&rd->partial, buf, (size_t)n) < 0)
                        return;
                size_t start = 0;
                char *nl;
                while ((nl = memchr(rd->partial.buf + start, '\n', rd->partial.len - start))) {
                        access_line(rd, rd->partial.buf + start,
                                    (size_t)(nl - rd->partial.buf) - start);
                        start = (size_t)(nl - rd->partial.buf) + 1;
                }
                if (rd->partial.len - start > LINE_MAX_BYTES)
                        start = rd->partial.len; /* a line that long is no log line */
                memmove(rd->partial.buf, rd->partial.buf + start, rd->partial.len - start);
                rd->partial.len -= start;
                rd->partial.buf[rd->partial.len] = '\0';
        }
}

static int start(struct routerd *rd);

static void on_restart(struct loop_timer *t, void *userdata)
{
        struct routerd *rd = userdata;
        int r = start(rd);
        if (r < 0) {
                log_error_errno(r, "starting pier-router: %m; trying again");
                loop_timer_set(rd->restart, (uint64_t)mono_usec() + RESTART_DELAY_MS * 1000ull);
        }
}

static void on_exit_(struct loop_io *io, int fd, uint32_t revents, void *userdata)
{
        struct routerd *rd = userdata;
        int status = 0;
        if (waitpid(rd->pid, &status, WNOHANG) == 0)
                return;
        loop_io_free(rd->pid_io);
        rd->pid_io = NULL;
        close(rd->pidfd);
        rd->pidfd = -1;
        rd->pid = 0;
        if (rd->stopping)
                return;
        log_error("pier-router exited (%s %d); restarting it in %d ms",
                  WIFEXITED(status) ? "status" : "signal",
                  WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), RESTART_DELAY_MS);
        loop_timer_set(rd->restart, (uint64_t)mono_usec() + RESTART_DELAY_MS * 1000ull);
}

static int start(struct routerd *rd)
{
        char workers[16];
        snprintf(workers, sizeof(workers), "%u", rd->workers);
        const char *argv[16];
        size_t n = 0;
        argv[n++] = rd->bin;
        argv[n++] = "--listen";
        argv[n++] = rd->listen;
        argv[n++] = "--table";
        argv[n++] = rd->table_path;
        argv[n++] = "--domain";
        argv[n++] = rd->domain;
        argv[n++] = "--access-log-app-id";
        if (rd->workers) {
                argv[n++] = "--workers";
                argv[n++] = workers;
        }
        argv[n] = NULL;
        int out[2];
        if (pipe2(out, O_CLOEXEC) < 0)
                return -errno;
        struct spawn_opts o = {.argv = argv, .stdin_fd = -1, .stdout_fd = out[1],
                               .stderr_fd = STDERR_FILENO, .new_session = true};
        int r = spawn(&o, &rd->pid, &rd->pidfd);
        close(out[1]);
        if (r < 0) {
                close(out[0]);
                return r;
        }
        rd->out_fd = out[0];
        (void)fcntl(rd->out_fd, F_SETFL, O_NONBLOCK);
        if ((r = loop_add_io(rd->loop, rd->out_fd, EPOLLIN, on_output, rd, &rd->out_io)) < 0 ||
            (r = loop_add_io(rd->loop, rd->pidfd, EPOLLIN, on_exit_, rd, &rd->pid_io)) < 0)
                return r;
        FILE *f = fopen(rd->pid_path, "we");
        if (f) {
                fprintf(f, "%d\n", (int)rd->pid);
                fclose(f);
        }
        return 0;
}

/* A router left by a pierd that was killed: its pid, if it is still one. */
static pid_t old_router(struct routerd *rd)
{
        FILE *f = fopen(rd->pid_path, "re");
        if (!f)
                return 0;
        int pid = 0;
        if (fscanf(f, "%d", &pid) != 1)
                pid = 0;
        fclose(f);
        if (pid <= 1)
                return 0;
        char path[64], comm[32] = "";
        snprintf(path, sizeof(path), "/proc/%d/comm", pid);
        f = fopen(path, "re");
        if (!f)
                return 0;
        if (!fgets(comm, sizeof(comm), f))
                comm[0] = '\0';
        fclose(f);
        comm[strcspn(comm, "\n")] = '\0';
        return streq(comm, "pier-router") ? (pid_t)pid : 0;
}

int routerd_new(struct loop *l, struct supervisor *sup, const struct routerd_config *cfg,
                struct routerd **ret)
{
        struct routerd *rd = calloc(1, sizeof(*rd));
        if (!rd)
                return -ENOMEM;
        rd->loop = l;
        rd->sup = sup;
        rd->pidfd = -1;
        rd->out_fd = -1;
        rd->workers = cfg->workers;
        rd->bin = strdup(cfg->router_bin);
        rd->listen = strdup(cfg->listen);
        rd->domain = strdup(cfg->domain);
        int r = -ENOMEM;
        if (!rd->bin || !rd->listen || !rd->domain ||
            asprintf(&rd->table_path, "%s/router-table.json", cfg->home) < 0 ||
            asprintf(&rd->pid_path, "%s/router.pid", cfg->home) < 0)
                goto fail;
        r = loop_add_timer(l, 0, on_restart, rd, &rd->restart);
        if (r < 0)
                goto fail;
        r = write_table(rd);
        if (r < 0)
                goto fail;
        pid_t old = old_router(rd);
        r = start(rd);
        if (r < 0)
                goto fail;
        if (old > 0) {
                /* Ours listens too now (SO_REUSEPORT): the old one may go. */
                log_notice("pier-router %d of a previous pierd takes its leave", (int)old);
                (void)kill(old, SIGTERM);
        }
        *ret = rd;
        return 0;
fail:
        routerd_free(rd);
        return r;
}

struct routerd *routerd_free(struct routerd *rd)
{
        if (!rd)
                return NULL;
        rd->stopping = true;
        if (rd->pid > 0) {
                (void)kill(rd->pid, SIGTERM);
                /* It drains and exits; do not leave a zombie behind. */
                for (int i = 0; i < 100 && waitpid(rd->pid, NULL, WNOHANG) == 0; i++)
                        usleep(20000);
                if (waitpid(rd->pid, NULL, WNOHANG) == 0) {
                        (void)kill(rd->pid, SIGKILL);
                        (void)waitpid(rd->pid, NULL, 0);
                }
                (void)unlink(rd->pid_path);
        }
        loop_io_free(rd->pid_io);
        if (rd->pidfd >= 0)
                close(rd->pidfd);
        loop_io_free(rd->out_io);
        if (rd->out_fd >= 0)
                close(rd->out_fd);
        loop_timer_free(rd->restart);
        strbuf_release(&rd->partial);
        free(rd->bin);
        free(rd->listen);
        free(rd->domain);
        free(rd->table_path);
        free(rd->pid_path);
        free(rd);
        return NULL;
}
