/* The event loop: io, timers, signals, freeing watchers from callbacks. */
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <unistd.h>

#include "lib/timefmt.h"
#include "lib/util.h"
#include "net/loop.h"
#include "test.h"

static int io_calls, timer_calls, signal_calls;
static char got[8];

static void on_read(struct loop_io *io, int fd, uint32_t revents, void *userdata)
{
        io_calls++;
        ssize_t n = read(fd, got, sizeof(got) - 1);
        if (n > 0)
                got[n] = '\0';
        loop_io_free(io); /* freeing yourself from your callback is allowed */
}

static void on_timer_exit(struct loop_timer *t, void *userdata)
{
        timer_calls++;
        loop_exit(userdata, 7);
}

static void test_io_then_timer(void)
{
        struct loop *l = NULL;
        CHECK(loop_new(&l) == 0);
        int p[2];
        CHECK(pipe2(p, O_CLOEXEC) == 0);
        CHECK(write(p[1], "hi", 2) == 2);
        CHECK(loop_add_io(l, p[0], EPOLLIN, on_read, NULL, NULL) == 0);
        uint64_t start = (uint64_t)mono_usec();
        CHECK(loop_add_timer(l, start + 20000, on_timer_exit, l, NULL) == 0);
        CHECK(loop_run(l) == 7);
        CHECK(io_calls == 1);
        CHECK(streq(got, "hi"));
        CHECK(timer_calls == 1);
        CHECK((uint64_t)mono_usec() - start >= 20000);
        close(p[0]);
        close(p[1]);
        loop_free(l);
}

static struct loop_timer *order_t[3];
static int order[3], n_order;

static void on_order(struct loop_timer *t, void *userdata)
{
        order[n_order++] = (int)(intptr_t)userdata;
        if (n_order == 1)
                loop_timer_free(order_t[2]); /* cancel a later one */
}

static void on_stop(struct loop_timer *t, void *userdata)
{
        loop_exit(userdata, 0);
}

static void test_timers_order_and_cancel(void)
{
        struct loop *l = NULL;
        CHECK(loop_new(&l) == 0);
        uint64_t now = (uint64_t)mono_usec();
        CHECK(loop_add_timer(l, now + 5000, on_order, (void *)(intptr_t)2, &order_t[1]) == 0);
        CHECK(loop_add_timer(l, now + 1000, on_order, (void *)(intptr_t)1, &order_t[0]) == 0);
        CHECK(loop_add_timer(l, now + 9000, on_order, (void *)(intptr_t)3, &order_t[2]) == 0);
        struct loop_timer *disabled = NULL;
        CHECK(loop_add_timer(l, now + 2000, on_order, (void *)(intptr_t)9, &disabled) == 0);
        loop_timer_disable(disabled);
        CHECK(loop_add_timer(l, now + 30000, on_stop, l, NULL) == 0);
        CHECK(loop_run(l) == 0);
        CHECK(n_order == 2);
        CHECK(order[0] == 1 && order[1] == 2);
        loop_free(l);
}

static void on_signal(struct loop *l, const struct signalfd_siginfo *si, void *userdata)
{
        signal_calls++;
        CHECK(si->ssi_signo == SIGUSR1);
        loop_exit(l, 3);
}

static void test_signal(void)
{
        struct loop *l = NULL;
        CHECK(loop_new(&l) == 0);
        CHECK(loop_add_signal(l, SIGUSR1, on_signal, NULL) == 0);
        CHECK(kill(getpid(), SIGUSR1) == 0);
        CHECK(loop_run(l) == 3);
        CHECK(signal_calls == 1);
        loop_free(l);
}

int main(void)
{
        RUN(test_io_then_timer);
        RUN(test_timers_order_and_cancel);
        RUN(test_signal);
        return test_done();
}
