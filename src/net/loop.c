/* epoll event loop; see loop.h for the contract. */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "lib/timefmt.h"
#include "lib/util.h"
#include "net/loop.h"

#define MAX_EVENTS 64

struct loop_io {
        struct loop *loop;
        int fd;
        loop_io_fn fn;
        void *userdata;
        bool dead;
        struct loop_io *prev, *next; /* live watchers, or the dead list */
};

struct loop_timer {
        struct loop *loop;
        uint64_t when; /* 0: disabled */
        loop_timer_fn fn;
        void *userdata;
        struct loop_timer *prev, *next; /* all timers of the loop */
};

struct signal_handler {
        int signo;
        loop_signal_fn fn;
        void *userdata;
};

struct loop {
        int epfd;
        int sigfd;
        sigset_t sigmask;
        struct signal_handler signals[16];
        size_t n_signals;
        struct loop_timer *timers;
        struct loop_io *ios;
        struct loop_io *dead; /* freed after the current dispatch round */
        bool exiting;
        int exit_code;
};

/* The signalfd's watcher is marked by this address as its userdata. */
static char signal_marker;

int loop_new(struct loop **ret)
{
        struct loop *l = calloc(1, sizeof(*l));
        if (!l)
                return -ENOMEM;
        l->sigfd = -1;
        sigemptyset(&l->sigmask);
        l->epfd = epoll_create1(EPOLL_CLOEXEC);
        if (l->epfd < 0) {
                int r = -errno;
                free(l);
                return r;
        }
        *ret = l;
        return 0;
}

static void reap_dead(struct loop *l)
{
        while (l->dead) {
                struct loop_io *io = l->dead;
                l->dead = io->next;
                free(io);
        }
}

struct loop *loop_free(struct loop *l)
{
        if (!l)
                return NULL;
        while (l->timers)
                loop_timer_free(l->timers);
        while (l->ios)
                loop_io_free(l->ios);
        reap_dead(l);
        if (l->sigfd >= 0)
                close(l->sigfd);
        close(l->epfd);
        free(l);
        return NULL;
}

int loop_add_io(struct loop *l, int fd, uint32_t events, loop_io_fn fn, void *userdata,
                struct loop_io **ret)
{
        struct loop_io *io = calloc(1, sizeof(*io));
        if (!io)
                return -ENOMEM;
        *io = (struct loop_io){.loop = l, .fd = fd, .fn = fn, .userdata = userdata};
        struct epoll_event ev = {.events = events, .data.ptr = io};
        if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
                int r = -errno;
                free(io);
                return r;
        }
        io->next = l->ios;
        if (l->ios)
                l->ios->prev = io;
        l->ios = io;
        if (ret)
                *ret = io;
        return 0;
}

int loop_io_set_events(struct loop_io *io, uint32_t events)
{
        struct epoll_event ev = {.events = events, .data.ptr = io};
        return epoll_ctl(io->loop->epfd, EPOLL_CTL_MOD, io->fd, &ev) < 0 ? -errno : 0;
}

void loop_io_free(struct loop_io *io)
{
        if (!io || io->dead)
                return;
        /* The fd may already be closed by its owner: then epoll dropped it. */
        (void)epoll_ctl(io->loop->epfd, EPOLL_CTL_DEL, io->fd, NULL);
        struct loop *l = io->loop;
        if (io->prev)
                io->prev->next = io->next;
        else
                l->ios = io->next;
        if (io->next)
                io->next->prev = io->prev;
        /* Events for it may still sit in the current batch: free later. */
        io->dead = true;
        io->next = l->dead;
        l->dead = io;
}

int loop_add_timer(struct loop *l, uint64_t when, loop_timer_fn fn, void *userdata,
                   struct loop_timer **ret)
{
        struct loop_timer *t = calloc(1, sizeof(*t));
        if (!t)
                return -ENOMEM;
        *t = (struct loop_timer){.loop = l, .when = when, .fn = fn, .userdata = userdata};
        t->next = l->timers;
        if (l->timers)
                l->timers->prev = t;
        l->timers = t;
        if (ret)
                *ret = t;
        return 0;
}

void loop_timer_set(struct loop_timer *t, uint64_t when)
{
        t->when = when ? when : 1;
}

void loop_timer_disable(struct loop_timer *t)
{
        t->when = 0;
}

void loop_timer_free(struct loop_timer *t)
{
        if (!t)
                return;
        if (t->prev)
                t->prev->next = t->next;
        else
                t->loop->timers = t->next;
        if (t->next)
                t->next->prev = t->prev;
        free(t);
}

int loop_add_signal(struct loop *l, int signo, loop_signal_fn fn, void *userdata)
{
        if (l->n_signals >= ELEMENTSOF(l->signals))
                return -ENOSPC;
        sigaddset(&l->sigmask, signo);
        if (sigprocmask(SIG_BLOCK, &l->sigmask, NULL) < 0)
                return -errno;
        int fd = signalfd(l->sigfd, &l->sigmask, SFD_NONBLOCK | SFD_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (l->sigfd < 0) {
                l->sigfd = fd;
                int r = loop_add_io(l, fd, EPOLLIN, NULL, &signal_marker, NULL);
                if (r < 0)
                        return r;
        }
        l->signals[l->n_signals++] = (struct signal_handler){signo, fn, userdata};
        return 0;
}

static void dispatch_signals(struct loop *l)
{
        struct signalfd_siginfo si;
        while (read(l->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
                for (size_t i = 0; i < l->n_signals; i++)
                        if (l->signals[i].signo == (int)si.ssi_signo)
                                l->signals[i].fn(l, &si, l->signals[i].userdata);
        }
}

/* Milliseconds until the earliest timer, -1 for none. */
static int next_timeout(struct loop *l, uint64_t now)
{
        uint64_t earliest = 0;
        for (struct loop_timer *t = l->timers; t; t = t->next)
                if (t->when && (!earliest || t->when < earliest))
                        earliest = t->when;
        if (!earliest)
                return -1;
        if (earliest <= now)
                return 0;
        uint64_t ms = (earliest - now + 999) / 1000;
        return ms > INT32_MAX ? INT32_MAX : (int)ms;
}

static void dispatch_timers(struct loop *l)
{
        /* A callback may free any timer or add new ones: restart the scan
         * after each one that fires. */
        for (;;) {
                uint64_t now = (uint64_t)mono_usec();
                struct loop_timer *due = NULL;
                for (struct loop_timer *t = l->timers; t; t = t->next)
                        if (t->when && t->when <= now) {
                                due = t;
                                break;
                        }
                if (!due)
                        return;
                due->when = 0;
                due->fn(due, due->userdata);
                if (l->exiting)
                        return;
        }
}

int loop_run(struct loop *l)
{
        struct epoll_event events[MAX_EVENTS];

        while (!l->exiting) {
                int timeout = next_timeout(l, (uint64_t)mono_usec());
                int n = epoll_wait(l->epfd, events, MAX_EVENTS, timeout);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                for (int i = 0; i < n && !l->exiting; i++) {
                        struct loop_io *io = events[i].data.ptr;
                        if (io->dead)
                                continue;
                        if (io->userdata == &signal_marker)
                                dispatch_signals(l);
                        else
                                io->fn(io, io->fd, events[i].events, io->userdata);
                }
                reap_dead(l);
                if (!l->exiting)
                        dispatch_timers(l);
        }
        l->exiting = false; /* it may run again (pierd's last drain flush) */
        return l->exit_code;
}

void loop_exit(struct loop *l, int code)
{
        l->exiting = true;
        l->exit_code = code;
}
