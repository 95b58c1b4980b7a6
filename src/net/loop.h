/* The event loop: one per process, single-threaded, epoll underneath.
 *
 * Watchers are owned by the loop: loop_io_free()/loop_timer_free() release
 * one (safe from inside its own callback); loop_free() releases all that are
 * left.  The loop never closes the fds it watches — their owner does, after
 * removing the watcher.  Signals given to loop_add_signal() are blocked in
 * the whole process and read from one signalfd; their callbacks run from
 * the loop like any other, so they may do real work.
 *
 * Callbacks take the void *userdata they were registered with.  Nothing
 * in a callback may block.
 */
#pragma once

#include <stdint.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>

struct loop;
struct loop_io;
struct loop_timer;

typedef void (*loop_io_fn)(struct loop_io *io, int fd, uint32_t revents, void *userdata);
typedef void (*loop_timer_fn)(struct loop_timer *t, void *userdata);
typedef void (*loop_signal_fn)(struct loop *l, const struct signalfd_siginfo *si, void *userdata);

int loop_new(struct loop **ret);
struct loop *loop_free(struct loop *l);

/* Watch fd for events (EPOLLIN, EPOLLOUT, ...; level-triggered unless
 * EPOLLET is given). */
int loop_add_io(struct loop *l, int fd, uint32_t events, loop_io_fn fn, void *userdata,
                struct loop_io **ret);
int loop_io_set_events(struct loop_io *io, uint32_t events);
void loop_io_free(struct loop_io *io);

/* One-shot timer at `when` (CLOCK_MONOTONIC microseconds, see mono_usec()).
 * Re-arm with loop_timer_set(); a fired timer stays allocated until freed. */
int loop_add_timer(struct loop *l, uint64_t when, loop_timer_fn fn, void *userdata,
                   struct loop_timer **ret);
void loop_timer_set(struct loop_timer *t, uint64_t when);
void loop_timer_disable(struct loop_timer *t);
void loop_timer_free(struct loop_timer *t);

int loop_add_signal(struct loop *l, int signo, loop_signal_fn fn, void *userdata);

/* Run until loop_exit(); returns the code given to it, or a negative errno
 * if epoll itself fails.  It can be run again afterwards. */
int loop_run(struct loop *l);
void loop_exit(struct loop *l, int code);
