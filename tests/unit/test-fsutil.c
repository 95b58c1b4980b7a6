/* The builder's root-safe file helpers: nothing follows a symlink. */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builder/fsutil.h"
#include "test.h"

static char tmp[] = "/tmp/test-fsutil-XXXXXX";
static int top = -1;

static void mkfile(const char *rel, const char *content, mode_t mode)
{
        int fd = openat(top, rel, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

        CHECK(fd >= 0);
        if (fd >= 0) {
                CHECK(write(fd, content, strlen(content)) == (ssize_t)strlen(content));
                close(fd);
        }
}

static bool exists(const char *rel)
{
        struct stat st;

        return fstatat(top, rel, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

static void test_rm_rf_keeps_symlink_targets(void)
{
        CHECK(mkdirat(top, "victim", 0755) == 0);
        mkfile("victim/keep", "precious", 0644);
        CHECK(mkdirat(top, "tree", 0755) == 0);
        CHECK(mkdirat(top, "tree/sub", 0500) == 0); /* read-only dir */
        CHECK(symlinkat("../victim", top, "tree/link") == 0);
        CHECK(symlinkat("/nonexistent", top, "tree/dangling") == 0);
        mkfile("tree/f", "x", 0600);

        CHECK(rm_rf_at(top, "tree") == 0);
        CHECK(!exists("tree"));
        CHECK(exists("victim/keep"));
        CHECK(rm_rf_at(top, "tree") == 0); /* gone already: fine */
        CHECK(rm_rf_at(top, "victim") == 0);
}

static void test_rm_rf_deep(void)
{
        char path[4096] = "deep";
        size_t len = 4;

        CHECK(mkdirat(top, "deep", 0755) == 0);
        for (int i = 0; i < 300 && len + 3 < sizeof(path); i++) {
                memcpy(path + len, "/d", 3);
                len += 2;
                CHECK(mkdirat(top, path, 0755) == 0);
        }
        mkfile("deep/d/d/file", "x", 0644);
        CHECK(rm_rf_at(top, "deep") == 0);
        CHECK(!exists("deep"));
}

struct seen {
        int n;
        bool saw_through_link;
};

static int count(int dir_fd, const char *name, const char *path, const struct stat *st,
                 void *userdata)
{
        struct seen *s = userdata;

        s->n++;
        if (strncmp(path, "w/link/", 7) == 0)
                s->saw_through_link = true;
        return WALK_CONTINUE;
}

static void test_walk_does_not_follow(void)
{
        struct seen s = {0};

        CHECK(mkdirat(top, "w", 0755) == 0);
        CHECK(mkdirat(top, "w/a", 0755) == 0);
        mkfile("w/a/f", "x", 0644);
        CHECK(symlinkat("/etc", top, "w/link") == 0);
        CHECK(walk_tree(top, count, &s) == 0);
        CHECK(s.n == 4); /* w, w/a, w/a/f, w/link */
        CHECK(!s.saw_through_link);
        CHECK(rm_rf_at(top, "w") == 0);
}

static void test_read_file_at(void)
{
        char *data = NULL;
        size_t len = 0;

        mkfile("Procfile", "web: x\n", 0644);
        CHECK(read_file_at(top, "Procfile", 100, &data, &len) == 0);
        CHECK(len == 7 && data && strcmp(data, "web: x\n") == 0);
        free(data);
        data = NULL;
        CHECK(read_file_at(top, "Procfile", 3, &data, &len) == -EFBIG);
        CHECK(symlinkat("/etc/passwd", top, "evil") == 0);
        CHECK(read_file_at(top, "evil", 100000, &data, &len) == -ELOOP);
        CHECK(mkfifoat(top, "fifo", 0644) == 0);
        CHECK(read_file_at(top, "fifo", 100, &data, &len) == -EINVAL);
        CHECK(read_file_at(top, "missing", 100, &data, &len) == -ENOENT);
        CHECK(data == NULL);
}

static void test_executable_at(void)
{
        CHECK(mkdirat(top, "bin", 0755) == 0);
        mkfile("bin/detect", "#!/bin/sh\n", 0755);
        mkfile("bin/plain", "x", 0644);
        CHECK(symlinkat("/bin/sh", top, "bin/linked") == 0);
        CHECK(symlinkat("/usr/bin", top, "lbin") == 0);
        CHECK(executable_at(top, "bin", "detect"));
        CHECK(!executable_at(top, "bin", "plain"));
        CHECK(!executable_at(top, "bin", "linked"));
        CHECK(!executable_at(top, "lbin", "env"));
        CHECK(!executable_at(top, "bin", "missing"));
}

static void test_chown_tree(void)
{
        struct stat st;
        int fd;

        if (geteuid() != 0) {
                printf("# not root: chown_tree skipped\n");
                return;
        }
        CHECK(mkdirat(top, "own", 0755) == 0);
        mkfile("own/f", "x", 0644);
        mkfile("outside", "x", 0644);
        CHECK(symlinkat("../outside", top, "own/l") == 0);
        fd = openat(top, "own", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        CHECK(chown_tree(fd, 12345, 12345) == 0);
        close(fd);
        CHECK(fstatat(top, "own/f", &st, 0) == 0 && st.st_uid == 12345);
        CHECK(fstatat(top, "own/l", &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_uid == 12345);
        CHECK(fstatat(top, "outside", &st, 0) == 0 && st.st_uid == 0);
}

static void test_mkdir_p(void)
{
        char p[512];
        struct stat st;

        snprintf(p, sizeof(p), "%s/a/b/c", tmp);
        CHECK(mkdir_p(p, 0700) == 0);
        CHECK(mkdir_p(p, 0700) == 0);
        CHECK(stat(p, &st) == 0 && S_ISDIR(st.st_mode));
}

int main(void)
{
        if (!mkdtemp(tmp)) {
                perror("mkdtemp");
                return 1;
        }
        top = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        RUN(test_rm_rf_keeps_symlink_targets);
        RUN(test_rm_rf_deep);
        RUN(test_walk_does_not_follow);
        RUN(test_read_file_at);
        RUN(test_executable_at);
        RUN(test_chown_tree);
        RUN(test_mkdir_p);
        CHECK(rm_rf_at(AT_FDCWD, tmp) == 0);
        close(top);
        return test_done();
}
