/* dyno/cgroup.c against the real cgroup tree: create with limits, attach,
 * list, signal (with and without sparing bwrap), the pids limit, memory
 * read-back, remove.  Needs root and writable cgroups; without them every
 * test passes after saying why it skipped. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dyno/cgroup.h"
#include "lib/util.h"
#include "test.h"

static char base[64]; /* pier-unittest-PID */
static const char *skip_reason;

static void name_of(char *buf, size_t size, const char *leaf)
{
        (void)snprintf(buf, size, "%s/%s", base, leaf);
}

static bool skipping(void)
{
        if (skip_reason)
                printf("# skipped: %s\n", skip_reason);
        return skip_reason != NULL;
}

static void sleep_ms(long ms)
{
        struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
}

/* A child that waits for a byte on a pipe, optionally renamed, then forks
 * `forks` times (the grandchildren pause) and pauses itself.  It writes how
 * many forks worked to the report pipe. */
static pid_t start_child(const char *comm, int forks, int *ret_go, int *ret_report)
{
        int go[2], report[2];
        pid_t pid;

        if (pipe2(go, O_CLOEXEC) < 0 || pipe2(report, O_CLOEXEC) < 0)
                return -1;
        pid = fork();
        if (pid == 0) {
                char c;
                int ok = 0;

                close(go[1]);
                close(report[0]);
                if (comm)
                        (void)prctl(PR_SET_NAME, comm, 0, 0, 0);
                if (read(go[0], &c, 1) != 1)
                        _exit(1);
                for (int i = 0; i < forks; i++) {
                        pid_t p = fork();
                        if (p == 0) {
                                for (;;)
                                        pause();
                        }
                        if (p > 0)
                                ok++;
                }
                if (write(report[1], &ok, sizeof(ok)) != sizeof(ok))
                        _exit(1);
                for (;;)
                        pause();
        }
        close(go[0]);
        close(report[1]);
        *ret_go = go[1];
        *ret_report = report[0];
        return pid;
}

static void test_names(void)
{
        CHECK(dyno_cgroup_name_valid("pier/0c9a5d4e-1b2f-4c3d-9e8f-001122334455/web.1"));
        CHECK(dyno_cgroup_name_valid("pier"));
        CHECK(dyno_cgroup_name_valid("a/run.4821"));
        CHECK(!dyno_cgroup_name_valid(NULL));
        CHECK(!dyno_cgroup_name_valid(""));
        CHECK(!dyno_cgroup_name_valid("/pier"));
        CHECK(!dyno_cgroup_name_valid("pier/"));
        CHECK(!dyno_cgroup_name_valid("pier//web.1"));
        CHECK(!dyno_cgroup_name_valid("pier/../x"));
        CHECK(!dyno_cgroup_name_valid(".."));
        CHECK(!dyno_cgroup_name_valid("pier/./x"));
        CHECK(!dyno_cgroup_name_valid("pier/web 1"));
        CHECK(!dyno_cgroup_name_valid("pier/web\n1"));
        char longname[DYNO_CGROUP_NAME_MAX + 2];
        memset(longname, 'a', sizeof(longname) - 1);
        longname[sizeof(longname) - 1] = '\0';
        CHECK(!dyno_cgroup_name_valid(longname));
        longname[DYNO_CGROUP_NAME_MAX] = '\0';
        CHECK(dyno_cgroup_name_valid(longname));

        char **names = (char **)0x1;
        CHECK(dyno_cgroup_create("../etc", 0, 0) == -EINVAL);
        CHECK(dyno_cgroup_signal("/x", SIGTERM, false, NULL) == -EINVAL);
        CHECK(dyno_cgroup_remove("a//b") == -EINVAL);
        CHECK(dyno_cgroup_list("", &names) == -EINVAL);
        CHECK(names == (char **)0x1);
}

static void test_create_limits_and_list(void)
{
        char a[128], b[128];
        uint64_t usage = 1, limit = 0;
        bool oom = true;
        char **names = NULL;

        if (skipping())
                return;
        name_of(a, sizeof(a), "app/web.1");
        name_of(b, sizeof(b), "app/worker.1");
        CHECK(dyno_cgroup_create(a, 64 << 20, 20) == 0);
        CHECK(dyno_cgroup_create(b, 0, 0) == 0);
        /* again, and lowering the limit: both fine */
        CHECK(dyno_cgroup_create(a, 32 << 20, 20) == 0);
        CHECK(dyno_cgroup_memory(a, &usage, &limit, &oom) == 0);
        CHECK(limit == 32 << 20);
        CHECK(!oom);
        CHECK(usage < 32 << 20);
        CHECK(dyno_cgroup_create(a, 128 << 20, 0) == 0);
        CHECK(dyno_cgroup_memory(a, NULL, &limit, NULL) == 0);
        CHECK(limit == 128 << 20);
        CHECK(dyno_cgroup_memory(b, NULL, &limit, NULL) == 0);
        CHECK(limit == UINT64_MAX);

        char parent[128];
        name_of(parent, sizeof(parent), "app");
        CHECK(dyno_cgroup_list(parent, &names) == 0);
        CHECK(names && names[0] && names[1] && !names[2]);
        if (names && names[0] && names[1]) {
                CHECK_STREQ(names[0], "web.1");
                CHECK_STREQ(names[1], "worker.1");
        }
        dyno_cgroup_names_free(names);
        names = NULL;
        CHECK(dyno_cgroup_list(base, &names) == 0);
        CHECK(names && names[0] && !names[1]);
        if (names && names[0])
                CHECK_STREQ(names[0], "app");
        dyno_cgroup_names_free(names);
        names = NULL;

        char missing[128];
        name_of(missing, sizeof(missing), "nope");
        CHECK(dyno_cgroup_list(missing, &names) == 0);
        CHECK(names && !names[0]);
        dyno_cgroup_names_free(names);

        /* the parent goes with its children */
        CHECK(dyno_cgroup_remove(parent) == 0);
        CHECK(dyno_cgroup_memory(a, NULL, NULL, NULL) == -ENOENT);
        CHECK(dyno_cgroup_remove(parent) == 0);
        CHECK(dyno_cgroup_signal(a, SIGTERM, false, NULL) == -ENOENT);
}

static void test_signal_remove(void)
{
        char name[128];
        unsigned count = 99;
        int go, report, status = 0, forked = -1;
        pid_t pid;

        if (skipping())
                return;
        name_of(name, sizeof(name), "sig/web.1");
        CHECK(dyno_cgroup_create(name, 0, 0) == 0);
        pid = start_child("bwrap", 0, &go, &report);
        CHECK(pid > 0);
        if (pid <= 0)
                return;
        CHECK(dyno_cgroup_attach(name, pid) == 0);
        CHECK(write(go, "x", 1) == 1);
        CHECK(read(report, &forked, sizeof(forked)) == sizeof(forked));

        /* a "bwrap" is spared when asked */
        CHECK(dyno_cgroup_signal(name, SIGTERM, true, &count) == 0);
        CHECK(count == 0);
        CHECK(waitpid(pid, &status, WNOHANG) == 0);
        CHECK(dyno_cgroup_remove(name) == -EBUSY);

        CHECK(dyno_cgroup_signal(name, SIGTERM, false, &count) == 0);
        CHECK(count == 1);
        CHECK(waitpid(pid, &status, 0) == pid);
        CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
        int r = -EBUSY;
        for (int i = 0; i < 100 && r == -EBUSY; i++) {
                r = dyno_cgroup_remove(name);
                if (r == -EBUSY)
                        sleep_ms(10);
        }
        CHECK(r == 0);
        close(go);
        close(report);
}

static void test_pids_limit_and_kill(void)
{
        char name[128];
        unsigned count = 0;
        int go, report, status = 0, forked = -1;
        pid_t pid;

        if (skipping())
                return;
        name_of(name, sizeof(name), "pids/web.1");
        CHECK(dyno_cgroup_create(name, 0, 5) == 0);
        pid = start_child(NULL, 20, &go, &report);
        CHECK(pid > 0);
        if (pid <= 0)
                return;
        CHECK(dyno_cgroup_attach(name, pid) == 0);
        CHECK(write(go, "x", 1) == 1);
        CHECK(read(report, &forked, sizeof(forked)) == sizeof(forked));
        printf("# %d of 20 forks worked under pids.max=5\n", forked);
        CHECK(forked == 4); /* the child itself is the fifth */

        /* the grandchildren are not ours to reap: SIGKILL all, then wait for
         * the cgroup to empty */
        CHECK(dyno_cgroup_signal(name, SIGKILL, false, &count) == 0);
        CHECK(count == 5);
        CHECK(waitpid(pid, &status, 0) == pid);
        CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        int r = -EBUSY;
        for (int i = 0; i < 200 && r == -EBUSY; i++) {
                r = dyno_cgroup_remove(name);
                if (r == -EBUSY)
                        sleep_ms(10);
        }
        CHECK(r == 0);
        close(go);
        close(report);
}

int main(void)
{
        int r;

        (void)snprintf(base, sizeof(base), "pier-unittest-%d", (int)getpid());
        if (geteuid() != 0) {
                skip_reason = "not root: cannot create cgroups";
        } else {
                r = dyno_cgroup_create(base, 0, 0);
                if (r < 0) {
                        static char why[128];
                        (void)snprintf(why, sizeof(why), "cgroups not writable: %s", strerror(-r));
                        skip_reason = why;
                }
        }

        RUN(test_names);
        RUN(test_create_limits_and_list);
        RUN(test_signal_remove);
        RUN(test_pids_limit_and_kill);

        if (!skip_reason)
                CHECK(dyno_cgroup_remove(base) == 0);
        return test_done();
}
