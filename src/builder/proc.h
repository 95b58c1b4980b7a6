/* Child processes of the builder: git, and bwrap with a buildpack inside.
 *
 * Signals: proc_signals_init() blocks SIGINT, SIGTERM, SIGHUP and SIGCHLD
 * and reads them from one signalfd; SIGPIPE is ignored (a broken stdout is
 * seen as EPIPE).  It also makes us the subreaper of what our children
 * leave behind, which proc_* reap.  proc_cancelled() says whether the
 * build should stop: one of the first three signals arrived, or the push
 * went away (our parent changed, or our stdout lost its reader).
 *
 * proc_spawn() starts a child with fork() and, in the child, only
 * async-signal-safe calls: signal mask and handlers reset, a session of its
 * own (so that the whole process group can be killed), stdin from
 * /dev/null, stdout/stderr as asked, every other fd closed on exec, the
 * parent-death signal set to SIGKILL, optionally fchdir(), then execve().
 * A failed exec is reported through a close-on-exec pipe and returned as
 * its errno.  The caller owns the returned pipe fds (O_CLOEXEC, O_NONBLOCK)
 * and must reap the child: with proc_pump(), or proc_kill() when it gives
 * up early.
 *
 * proc_pump() forwards the child's output to its sinks until the child has
 * exited and its pipes are drained or closed, or until the deadline passes
 * (the process group gets SIGKILL: PROC_TIMEOUT), or a cancelling signal
 * or a broken stdout arrives (SIGKILL as well: PROC_CANCELLED).  It closes
 * the pipe fds and reaps the child in every case.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/strbuf.h"

enum proc_io {
        PROC_IO_NULL,    /* /dev/null */
        PROC_IO_PIPE,    /* a new pipe, returned to the caller */
        PROC_IO_INHERIT, /* our own stdout (for stdout) or stderr */
        PROC_IO_STDOUT,  /* stderr only: the same as stdout, 2>&1 */
};

struct proc_spec {
        const char *path; /* absolute: no PATH search after fork */
        char *const *argv;
        char *const *envp;
        int cwd_fd; /* -1: keep ours */
        enum proc_io out, err;
};

struct proc {
        pid_t pid;
        int out_fd, err_fd; /* -EBADF unless PROC_IO_PIPE */
};

enum sink_kind {
        SINK_STREAM,  /* output_stream() to the pusher */
        SINK_CAPTURE, /* into buf, at most max bytes; overflow set past that */
        SINK_DISCARD,
};

struct proc_sink {
        enum sink_kind kind;
        struct strbuf buf;
        size_t max;
        bool overflow;
};

enum proc_end {
        PROC_EXITED,    /* code = exit status */
        PROC_SIGNALED,  /* code = signal */
        PROC_TIMEOUT,   /* the deadline passed; killed */
        PROC_CANCELLED, /* SIGTERM & co. or a broken stdout; killed */
};

struct proc_result {
        enum proc_end end;
        int code;
};

int proc_signals_init(void);
bool proc_cancelled(void);

int proc_spawn(const struct proc_spec *spec, struct proc *ret);

/* deadline: CLOCK_MONOTONIC microseconds (lib/timefmt.h mono_usec()), or 0
 * for none.  Sinks may be NULL for a pipe that was not asked for. */
int proc_pump(struct proc *p, struct proc_sink *out, struct proc_sink *err, int64_t deadline,
              struct proc_result *ret);

/* SIGKILL to the child's process group, then reap it; closes its fds. */
void proc_kill(struct proc *p);

/* Reaps the child (blocking) and closes its fds; the exit as for proc_pump. */
int proc_wait(struct proc *p, struct proc_result *ret);

/* The absolute path of an executable named NAME in $PATH (or the standard
 * directories when PATH is unset), malloc'd, or -ENOENT. */
int find_program(const char *name, char **ret);
