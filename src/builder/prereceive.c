/* `pier-build pre-receive`: git's pre-receive hook of an app's repository.
 *
 * Reads the ref updates, refuses what pier does not deploy, serialises
 * pushes to the same app with a lock, checks that the branch did not move
 * while we waited, and runs the build.  Exit status 0 lets git update the
 * branch; anything else rejects the push. */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builder/build.h"
#include "builder/main.h"
#include "builder/output.h"
#include "builder/proc.h"
#include "builder/pushrefs.h"
#include "lib/strbuf.h"
#include "lib/timefmt.h"
#include "lib/util.h"

extern char **environ;

/* After a build succeeds and the hook exits, git still has to update the
 * branch; a push that was waiting for the lock gives it this long to do
 * so before comparing. */
#define REF_SETTLE_USEC (10 * USEC_PER_SEC)

DEFINE_TRIVIAL_CLEANUP_FUNC(struct pushrefs *, pushrefs_free);

static int read_stdin(char **ret, size_t *ret_len)
{
        struct strbuf sb = STRBUF_INIT;
        char buf[4096];

        for (;;) {
                ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        int r = -errno;
                        strbuf_release(&sb);
                        return r;
                }
                if (n == 0)
                        break;
                if (sb.len + (size_t)n > PUSHREFS_MAX_SIZE) {
                        strbuf_release(&sb);
                        return -E2BIG;
                }
                if (strbuf_add(&sb, buf, (size_t)n) < 0) {
                        strbuf_release(&sb);
                        return -ENOMEM;
                }
        }
        *ret = strbuf_detach(&sb, ret_len);
        return *ret ? 0 : -ENOMEM;
}

/* The current value of REF in the repository (with the hook's GIT_DIR),
 * or all zeros when there is none. */
static int ref_value(const char *git, const char *ref, char out[static OBJECT_HEX_MAX + 1])
{
        char *const argv[] = {(char *)"git", (char *)"rev-parse", (char *)"--verify",
                              (char *)"-q",  (char *)ref,         NULL};
        struct proc_spec spec = {
            .path = git,
            .argv = argv,
            .envp = environ,
            .cwd_fd = -1,
            .out = PROC_IO_PIPE,
            .err = PROC_IO_NULL,
        };
        struct proc_sink sink = {.kind = SINK_CAPTURE, .max = 256};
        struct proc_result res;
        struct proc p;
        size_t n;
        int r;

        r = proc_spawn(&spec, &p);
        if (r < 0)
                return r;
        r = proc_pump(&p, &sink, NULL, mono_usec() + 60 * USEC_PER_SEC, &res);
        if (r < 0 || res.end != PROC_EXITED) {
                strbuf_release(&sink.buf);
                return r < 0 ? r : res.end == PROC_CANCELLED ? -ECANCELED : -EIO;
        }
        n = sink.buf.len;
        while (n > 0 && (sink.buf.buf[n - 1] == '\n' || sink.buf.buf[n - 1] == '\r'))
                n--;
        if (res.code != 0 || n == 0) {
                /* no such ref: a new branch */
                memset(out, '0', 40);
                out[40] = '\0';
                strbuf_release(&sink.buf);
                return 0;
        }
        if (n > OBJECT_HEX_MAX) {
                strbuf_release(&sink.buf);
                return -EIO;
        }
        memcpy(out, sink.buf.buf, n);
        out[n] = '\0';
        strbuf_release(&sink.buf);
        return oid_valid(out) ? 0 : -EIO;
}

static bool same_oid(const char *a, const char *b)
{
        /* Both "no object", whatever the hash length. */
        if (oid_is_null(a) && oid_is_null(b))
                return true;
        return streq(a, b);
}

/* Takes the app's build lock, waiting (and saying so) while another push
 * builds.  Returns the locked fd. */
static int take_lock(const struct build_config *cfg, int *ret_fd)
{
        _cleanup_free_ char *path = NULL;
        _cleanup_close_ int fd = -EBADF;
        int64_t give_up;

        if (asprintf(&path, "%s/repos/%s.git/pier-build.lock", cfg->home, cfg->app_id) < 0)
                return -ENOMEM;
        fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0) {
                int r = -errno;
                output_step("Cannot open the build lock %s: %s", path, strerror(-r));
                return r;
        }
        if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
                *ret_fd = TAKE_FD(fd);
                return 0;
        }
        if (errno != EWOULDBLOCK) {
                int r = -errno;
                output_step("Cannot take the build lock %s: %s", path, strerror(-r));
                return r;
        }

        output_step("Another push to %s is building; waiting for it to finish...", cfg->app_name);
        /* The other build ends within its own time limit. */
        give_up = mono_usec() + ((int64_t)cfg->timeout + 120) * USEC_PER_SEC;
        for (;;) {
                if (proc_cancelled())
                        return -ECANCELED;
                if (mono_usec() >= give_up) {
                        output_step("Gave up waiting for the other push to %s; try again later",
                                    cfg->app_name);
                        return -ETIME;
                }
                (void)poll(NULL, 0, 250);
                if (flock(fd, LOCK_EX | LOCK_NB) == 0)
                        break;
                if (errno != EWOULDBLOCK) {
                        int r = -errno;
                        output_step("Cannot take the build lock %s: %s", path, strerror(-r));
                        return r;
                }
        }
        *ret_fd = TAKE_FD(fd);
        return 0;
}

/* The lock file holds the commit of the last successful build. */
static void read_last_built(int fd, char out[static OBJECT_HEX_MAX + 1])
{
        char buf[OBJECT_HEX_MAX + 2];
        ssize_t n;

        out[0] = '\0';
        n = pread(fd, buf, sizeof(buf) - 1, 0);
        if (n <= 0)
                return;
        buf[n] = '\0';
        buf[strcspn(buf, "\n")] = '\0';
        if (oid_valid(buf))
                memcpy(out, buf, strlen(buf) + 1);
}

static void write_last_built(int fd, const char *commit)
{
        char buf[OBJECT_HEX_MAX + 2];
        int n;

        n = snprintf(buf, sizeof(buf), "%s\n", commit);
        if (n > 0 && ftruncate(fd, 0) == 0)
                (void)!pwrite(fd, buf, (size_t)n, 0);
}

/* After the lock: did the branch move since the pusher fetched it? */
static int check_ref(const char *git, int lock_fd, const struct ref_update *u)
{
        char current[OBJECT_HEX_MAX + 1], last[OBJECT_HEX_MAX + 1];
        int64_t settle_until = mono_usec() + REF_SETTLE_USEC;
        int r;

        read_last_built(lock_fd, last);
        for (;;) {
                r = ref_value(git, u->ref, current);
                if (r < 0) {
                        if (r != -ECANCELED)
                                output_step("Cannot read the branch %s: %s", u->ref, strerror(-r));
                        return r;
                }
                /* A build that just finished: git is about to move the
                 * branch to it; wait for that, briefly. */
                if (!*last || same_oid(current, last) || mono_usec() >= settle_until)
                        break;
                if (proc_cancelled())
                        return -ECANCELED;
                (void)poll(NULL, 0, 200);
        }
        if (!same_oid(current, u->old_oid)) {
                output_step("%s moved while this push waited; fetch and push again",
                            strneq(u->ref, "refs/heads/", 11) ? u->ref + 11 : u->ref);
                return -EAGAIN;
        }
        return 0;
}

int cmd_pre_receive(int argc, char **argv)
{
        __attribute__((cleanup(pushrefs_freep))) struct pushrefs *refs = NULL;
        _cleanup_free_ char *input = NULL, *err = NULL, *git = NULL;
        _cleanup_close_ int lock_fd = -EBADF;
        struct build_config cfg;
        const struct ref_update *u;
        size_t len, idx;
        int r;

        if (argc != 1) {
                fprintf(stderr, "usage: pier-build pre-receive < OLD NEW REF lines\n");
                return 2;
        }
        /* pierd runs with umask 077; the app's files must be readable by
         * the app's uid whoever made them, and slugs look the same
         * whoever pushed. */
        umask(022);
        r = proc_signals_init();
        if (r < 0) {
                output_step("pier-build: cannot set up signal handling: %s", strerror(-r));
                return 1;
        }
        r = build_config_load(&cfg);
        if (r < 0)
                return 1;

        r = read_stdin(&input, &len);
        if (r == -E2BIG) {
                output_step("More than %d refs in one push; push the main branch alone",
                            PUSHREFS_MAX_LINES);
                return 1;
        }
        if (r < 0) {
                output_step("pier-build: reading the pushed refs: %s", strerror(-r));
                return 1;
        }
        r = pushrefs_parse(input, len, &refs, &err);
        if (r < 0) {
                output_step("pier-build: git sent ref updates it cannot read: %s",
                            err ? err : strerror(-r));
                return 1;
        }
        r = pushrefs_pick(refs, &idx, &err);
        if (r == -ENOENT)
                return 0;
        if (r < 0) {
                output_step("%s", err ? err : strerror(-r));
                return 1;
        }
        u = &refs->updates[idx];

        r = find_program("git", &git);
        if (r < 0) {
                output_step("pier-build needs git: %s", strerror(-r));
                return 1;
        }
        r = take_lock(&cfg, &lock_fd);
        if (r < 0)
                return 1;
        r = check_ref(git, lock_fd, u);
        if (r < 0)
                return 1;

        r = build_run(&cfg, u->new_oid);
        if (r < 0)
                return 1;
        write_last_built(lock_fd, u->new_oid);
        return 0;
}
