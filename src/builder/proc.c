#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/close_range.h>
#include <sys/syscall.h>

#include "builder/output.h"
#include "builder/proc.h"
#include "lib/timefmt.h"
#include "lib/util.h"

static int signal_fd = -EBADF;
static bool cancelled;
static pid_t original_parent;

int proc_signals_init(void)
{
        struct sigaction ign = {.sa_handler = SIG_IGN};
        sigset_t mask;

        if (sigaction(SIGPIPE, &ign, NULL) < 0)
                return -errno;
        /* What our children leave behind (bwrap's pid 1 when bwrap is
         * killed) becomes ours to reap, not init's. */
        if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
                return -errno;
        sigemptyset(&mask);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGHUP);
        sigaddset(&mask, SIGCHLD);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return -errno;
        signal_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        if (signal_fd < 0)
                return -errno;
        original_parent = getppid();
        return 0;
}

/* Reads what signals are pending; SIGCHLD only wakes the caller up. */
static void drain_signals(void)
{
        struct signalfd_siginfo si;

        if (signal_fd < 0)
                return;
        for (;;) {
                ssize_t n = read(signal_fd, &si, sizeof(si));

                if (n < 0 && errno == EINTR)
                        continue;
                if (n != (ssize_t)sizeof(si))
                        return;
                if (si.ssi_signo != SIGCHLD)
                        cancelled = true;
        }
}

bool proc_cancelled(void)
{
        struct pollfd out = {.fd = STDOUT_FILENO};

        drain_signals();
        /* git receive-pack gone (the pusher hung up): it will not update
         * the branch, so the build must not deploy either.  It shows as a
         * new parent, or as the far end of our stdout pipe closing even
         * while we have nothing to say. */
        if (original_parent > 0 && getppid() != original_parent)
                cancelled = true;
        if (poll(&out, 1, 0) > 0 && (out.revents & (POLLERR | POLLHUP)))
                cancelled = true;
        return cancelled || output_broken();
}

int find_program(const char *name, char **ret)
{
        const char *path = getenv("PATH");

        if (!path || !*path)
                path = "/usr/local/bin:/usr/bin:/bin";
        for (const char *p = path; *p;) {
                size_t n = strcspn(p, ":");
                _cleanup_free_ char *full = NULL;

                if (n > 0 && p[0] == '/') {
                        if (asprintf(&full, "%.*s/%s", (int)n, p, name) < 0)
                                return -ENOMEM;
                        if (access(full, X_OK) == 0) {
                                *ret = TAKE_PTR(full);
                                return 0;
                        }
                }
                p += n;
                if (*p == ':')
                        p++;
        }
        return -ENOENT;
}

/* In the child, between fork() and execve(): async-signal-safe calls only.
 * Never returns. */
static void __attribute__((noreturn))
child(const struct proc_spec *spec, int out_w, int err_w, int report, pid_t parent)
{
        struct sigaction dfl = {.sa_handler = SIG_DFL};
        sigset_t none;
        int e, null_fd;

        for (int sig = 1; sig < NSIG; sig++)
                if (sig != SIGKILL && sig != SIGSTOP)
                        (void)sigaction(sig, &dfl, NULL);
        sigemptyset(&none);
        if (sigprocmask(SIG_SETMASK, &none, NULL) < 0)
                goto fail;
        if (setsid() < 0)
                goto fail;

        null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null_fd < 0)
                goto fail;
        if (null_fd == STDIN_FILENO && fcntl(null_fd, F_SETFD, 0) < 0)
                goto fail;
        if (dup2(null_fd, STDIN_FILENO) < 0)
                goto fail;
        switch (spec->out) {
        case PROC_IO_PIPE:
                if (dup2(out_w, STDOUT_FILENO) < 0)
                        goto fail;
                break;
        case PROC_IO_INHERIT:
                break;
        default:
                if (dup2(null_fd, STDOUT_FILENO) < 0)
                        goto fail;
        }
        switch (spec->err) {
        case PROC_IO_PIPE:
                if (dup2(err_w, STDERR_FILENO) < 0)
                        goto fail;
                break;
        case PROC_IO_STDOUT:
                if (dup2(STDOUT_FILENO, STDERR_FILENO) < 0)
                        goto fail;
                break;
        case PROC_IO_INHERIT:
                break;
        default:
                if (dup2(null_fd, STDERR_FILENO) < 0)
                        goto fail;
        }
        /* Whatever fds our own parent (git) left open: not for the child.
         * Best effort: kernels before 5.11 lack CLOSE_RANGE_CLOEXEC. */
        (void)syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);

        if (spec->cwd_fd >= 0 && fchdir(spec->cwd_fd) < 0)
                goto fail;
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
                goto fail;
        if (getppid() != parent)
                _exit(127);

        execve(spec->path, spec->argv, spec->envp);
fail:
        e = errno;
        (void)!write(report, &e, sizeof(e));
        _exit(127);
}

static void close_fd(int *fd)
{
        if (*fd >= 0) {
                (void)close(*fd);
                *fd = -EBADF;
        }
}

int proc_spawn(const struct proc_spec *spec, struct proc *ret)
{
        int out[2] = {-EBADF, -EBADF}, err[2] = {-EBADF, -EBADF}, report[2] = {-EBADF, -EBADF};
        pid_t parent = getpid(), pid;
        int e = 0, r;
        ssize_t n;

        if ((spec->out == PROC_IO_PIPE && pipe2(out, O_CLOEXEC) < 0) ||
            (spec->err == PROC_IO_PIPE && pipe2(err, O_CLOEXEC) < 0) ||
            pipe2(report, O_CLOEXEC) < 0) {
                r = -errno;
                goto fail;
        }

        pid = fork();
        if (pid < 0) {
                r = -errno;
                goto fail;
        }
        if (pid == 0)
                child(spec, out[1], err[1], report[1], parent);

        close_fd(&out[1]);
        close_fd(&err[1]);
        close_fd(&report[1]);
        do
                n = read(report[0], &e, sizeof(e));
        while (n < 0 && errno == EINTR);
        close_fd(&report[0]);
        if (n == (ssize_t)sizeof(e)) {
                /* exec failed: the child is gone or about to be */
                while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                        ;
                r = -(e > 0 ? e : EIO);
                goto fail;
        }

        for (int *fd = &out[0]; fd; fd = fd == &out[0] ? &err[0] : NULL)
                if (*fd >= 0)
                        (void)fcntl(*fd, F_SETFL, O_NONBLOCK);
        *ret = (struct proc){.pid = pid, .out_fd = out[0], .err_fd = err[0]};
        return 0;

fail:
        close_fd(&out[0]);
        close_fd(&out[1]);
        close_fd(&err[0]);
        close_fd(&err[1]);
        close_fd(&report[0]);
        close_fd(&report[1]);
        return r;
}

static void sink_add(struct proc_sink *s, const char *buf, size_t n)
{
        if (!s)
                return;
        switch (s->kind) {
        case SINK_STREAM:
                output_stream(buf, n);
                break;
        case SINK_CAPTURE:
                if (s->overflow || s->buf.len + n > s->max || strbuf_add(&s->buf, buf, n) < 0)
                        s->overflow = true;
                break;
        case SINK_DISCARD:
                break;
        }
}

/* Reads what is there; closes the fd at EOF or error.  Returns the bytes
 * read (0 when nothing was waiting). */
static size_t drain(int *fd, struct proc_sink *s)
{
        char buf[65536];
        size_t total = 0;

        while (*fd >= 0) {
                ssize_t n = read(*fd, buf, sizeof(buf));

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == EAGAIN)
                        break;
                if (n <= 0) {
                        close_fd(fd);
                        break;
                }
                sink_add(s, buf, (size_t)n);
                total += (size_t)n;
                /* Keep the loop responsive to deadlines and signals. */
                if (total >= 4 * sizeof(buf))
                        break;
        }
        return total;
}

static void set_result(int status, struct proc_result *ret)
{
        if (WIFEXITED(status))
                *ret = (struct proc_result){PROC_EXITED, WEXITSTATUS(status)};
        else
                *ret =
                    (struct proc_result){PROC_SIGNALED, WIFSIGNALED(status) ? WTERMSIG(status) : 0};
}

/* Reaps orphans adopted as subreaper: one child runs at a time, so any
 * other child is a leftover of the one that just ended.  They were killed
 * with it (bwrap's --die-with-parent), so this waits briefly at most. */
static void reap_orphans(void)
{
        int64_t until = mono_usec() + 2 * USEC_PER_SEC;

        for (;;) {
                pid_t w = waitpid(-1, NULL, WNOHANG);

                if (w > 0)
                        continue;
                if (w < 0 && errno == EINTR)
                        continue;
                if (w < 0 || mono_usec() >= until)
                        return; /* ECHILD: none left */
                (void)poll(NULL, 0, 10);
        }
}

void proc_kill(struct proc *p)
{
        if (p->pid > 0) {
                (void)kill(-p->pid, SIGKILL);
                (void)kill(p->pid, SIGKILL);
                while (waitpid(p->pid, NULL, 0) < 0 && errno == EINTR)
                        ;
                p->pid = 0;
                reap_orphans();
        }
        close_fd(&p->out_fd);
        close_fd(&p->err_fd);
}

int proc_wait(struct proc *p, struct proc_result *ret)
{
        int status;

        close_fd(&p->out_fd);
        close_fd(&p->err_fd);
        while (waitpid(p->pid, &status, 0) < 0)
                if (errno != EINTR)
                        return -errno;
        p->pid = 0;
        reap_orphans();
        set_result(status, ret);
        return 0;
}

int proc_pump(struct proc *p, struct proc_sink *out, struct proc_sink *err, int64_t deadline,
              struct proc_result *ret)
{
        bool reaped = false;
        int status = 0;

        for (;;) {
                struct pollfd fds[3];
                nfds_t n = 0;
                int timeout = 1000; /* also a safety net for a lost SIGCHLD */
                pid_t w;

                if (!reaped) {
                        w = waitpid(p->pid, &status, WNOHANG);
                        if (w == p->pid)
                                reaped = true;
                        else if (w < 0 && errno != EINTR)
                                return -errno;
                }
                if (reaped) {
                        /* What the child wrote before it exited is in the
                         * pipes; anything still holding them open (it
                         * would have escaped the sandbox's pid namespace
                         * to do so) is not waited for. */
                        drain(&p->out_fd, out);
                        drain(&p->err_fd, err);
                        close_fd(&p->out_fd);
                        close_fd(&p->err_fd);
                        p->pid = 0;
                        reap_orphans();
                        set_result(status, ret);
                        return 0;
                }
                if (proc_cancelled()) {
                        proc_kill(p);
                        *ret = (struct proc_result){PROC_CANCELLED, 0};
                        return 0;
                }
                if (deadline > 0) {
                        int64_t left = deadline - mono_usec();

                        if (left <= 0) {
                                proc_kill(p);
                                *ret = (struct proc_result){PROC_TIMEOUT, 0};
                                return 0;
                        }
                        if (left / 1000 < timeout)
                                timeout = (int)(left / 1000) + 1;
                }

                if (p->out_fd >= 0)
                        fds[n++] = (struct pollfd){.fd = p->out_fd, .events = POLLIN};
                if (p->err_fd >= 0)
                        fds[n++] = (struct pollfd){.fd = p->err_fd, .events = POLLIN};
                fds[n++] = (struct pollfd){.fd = signal_fd, .events = POLLIN};
                if (poll(fds, n, timeout) < 0 && errno != EINTR)
                        return -errno;
                drain(&p->out_fd, out);
                drain(&p->err_fd, err);
        }
}
