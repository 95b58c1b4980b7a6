/* Slugs: pack and unpack round trip, and unpacking hostile tarballs. */

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "builder/slug.h"
#include "test.h"

static char tmp[] = "/tmp/test-slug-XXXXXX";

static void path(char *buf, size_t n, const char *rel)
{
        snprintf(buf, n, "%s/%s", tmp, rel);
}

static void write_file(const char *rel, const char *content, mode_t mode)
{
        char p[512];
        int fd;

        path(p, sizeof(p), rel);
        fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
        CHECK(fd >= 0);
        if (fd < 0)
                return;
        CHECK(write(fd, content, strlen(content)) == (ssize_t)strlen(content));
        CHECK(fchmod(fd, mode) == 0);
        close(fd);
}

static char *read_all(const char *rel)
{
        static char buf[4096];
        char p[512];
        ssize_t n;
        int fd;

        path(p, sizeof(p), rel);
        fd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return NULL;
        n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n < 0)
                return NULL;
        buf[n] = '\0';
        return buf;
}

static bool exists(const char *rel)
{
        char p[512];
        struct stat st;

        path(p, sizeof(p), rel);
        return lstat(p, &st) == 0;
}

static void mk(const char *rel)
{
        char p[512];

        path(p, sizeof(p), rel);
        CHECK(mkdir(p, 0755) == 0);
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
        return remove(p) < 0 && errno != ENOENT ? -1 : 0;
}

static void rm_tree(const char *rel)
{
        char p[512];

        path(p, sizeof(p), rel);
        CHECK(nftw(p, rm_one, 16, FTW_DEPTH | FTW_PHYS) == 0 || errno == ENOENT);
}

/* ---- the round trip --------------------------------------------------- */

static void make_app(void)
{
        char p[512];

        mk("app");
        mk("app/sub");
        mk("app/empty");
        mk("app/.git");
        write_file("app/app.py", "print('hi')\n", 0644);
        write_file("app/sub/run", "#!/bin/sh\necho run\n", 0755);
        write_file("app/setuid", "x", 04755);
        write_file("app/private", "secret-ish", 0600);
        write_file("app/.git/HEAD", "ref: refs/heads/main\n", 0644);
        write_file("outside-secret", "do not pack me", 0644);
        path(p, sizeof(p), "app/escape");
        CHECK(symlink("/etc/passwd", p) == 0);
        path(p, sizeof(p), "app/up");
        CHECK(symlink("../outside-secret", p) == 0);
        path(p, sizeof(p), "app/sub/rel");
        CHECK(symlink("run", p) == 0);
        path(p, sizeof(p), "app/fifo");
        CHECK(mkfifo(p, 0644) == 0);
}

static void test_round_trip(void)
{
        char slug[512], out[512], tmpfile[512], link[256];
        struct slug_opts opts;
        struct stat st;
        char *err = NULL, *s;
        uint64_t size = 0;
        unsigned char magic[4];
        ssize_t n;
        int fd;

        make_app();
        path(slug, sizeof(slug), "slug.tar.zst");
        path(tmpfile, sizeof(tmpfile), "slug.tar.zst.tmp");
        path(out, sizeof(out), "app");
        slug_opts_init(&opts);
        CHECK(slug_pack(out, slug, &opts, &size, &err) == 0);
        if (err)
                printf("# %s\n", err);
        CHECK(err == NULL);
        CHECK(stat(slug, &st) == 0 && (uint64_t)st.st_size == size && size > 0);
        CHECK((st.st_mode & 0777) == 0600);
        CHECK(access(tmpfile, F_OK) < 0);

        fd = open(slug, O_RDONLY | O_CLOEXEC);
        CHECK(fd >= 0 && read(fd, magic, 4) == 4);
        close(fd);
        CHECK(magic[0] == 0x28 && magic[1] == 0xb5 && magic[2] == 0x2f && magic[3] == 0xfd);

        mk("out");
        path(out, sizeof(out), "out");
        CHECK(slug_extract(slug, out, &opts, &err) == 0);
        if (err)
                printf("# %s\n", err);

        s = read_all("out/app.py");
        CHECK_STREQ(s, "print('hi')\n");
        s = read_all("out/sub/run");
        CHECK_STREQ(s, "#!/bin/sh\necho run\n");
        path(out, sizeof(out), "out/sub/run");
        CHECK(stat(out, &st) == 0 && (st.st_mode & 07777) == 0755);
        path(out, sizeof(out), "out/setuid");
        CHECK(stat(out, &st) == 0 && (st.st_mode & 07777) == 0755);
        path(out, sizeof(out), "out/private");
        CHECK(stat(out, &st) == 0 && (st.st_mode & 07777) == 0600);
        path(out, sizeof(out), "out/empty");
        CHECK(stat(out, &st) == 0 && S_ISDIR(st.st_mode));

        /* Symlinks stay symlinks, pointing where they pointed. */
        path(out, sizeof(out), "out/escape");
        CHECK(lstat(out, &st) == 0 && S_ISLNK(st.st_mode));
        n = readlink(out, link, sizeof(link) - 1);
        CHECK(n > 0);
        link[n > 0 ? n : 0] = '\0';
        CHECK_STREQ(link, "/etc/passwd");
        path(out, sizeof(out), "out/up");
        n = readlink(out, link, sizeof(link) - 1);
        link[n > 0 ? n : 0] = '\0';
        CHECK_STREQ(link, "../outside-secret");
        path(out, sizeof(out), "out/sub/rel");
        n = readlink(out, link, sizeof(link) - 1);
        link[n > 0 ? n : 0] = '\0';
        CHECK_STREQ(link, "run");

        /* Never packed: .git, the FIFO, what the symlinks point at. */
        CHECK(!exists("out/.git"));
        CHECK(!exists("out/fifo"));
        free(err);
}

static void test_entry_names(void)
{
        char slug[512];
        struct archive *a = archive_read_new();
        struct archive_entry *e;
        bool saw_app = false, bad = false;

        path(slug, sizeof(slug), "slug.tar.zst");
        archive_read_support_format_tar(a);
        archive_read_support_filter_zstd(a);
        CHECK(archive_read_open_filename(a, slug, 10240) == ARCHIVE_OK);
        while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
                const char *name = archive_entry_pathname(e);

                if (strncmp(name, "./", 2) != 0 || strstr(name, ".git") ||
                    archive_entry_uid(e) != 0 ||
                    (archive_entry_uname(e) && *archive_entry_uname(e))) {
                        printf("# unexpected entry %s uid %lld uname %s\n", name,
                               (long long)archive_entry_uid(e),
                               archive_entry_uname(e) ? archive_entry_uname(e) : "-");
                        bad = true;
                }
                if (strcmp(name, "./app.py") == 0)
                        saw_app = true;
        }
        archive_read_free(a);
        CHECK(saw_app);
        CHECK(!bad);
}

/* ---- hostile tarballs ------------------------------------------------- */

enum { F, D, L, H, FIFO };

struct ent {
        int type;
        const char *name;
        const char *data; /* file content or link target */
};

static void make_tar(const char *rel, const struct ent *ents, size_t n)
{
        struct archive *a = archive_write_new();
        char p[512];

        path(p, sizeof(p), rel);
        archive_write_set_format_pax_restricted(a);
        CHECK(archive_write_open_filename(a, p) == ARCHIVE_OK);
        for (size_t i = 0; i < n; i++) {
                struct archive_entry *e = archive_entry_new();

                archive_entry_set_pathname(e, ents[i].name);
                switch (ents[i].type) {
                case F:
                        archive_entry_set_filetype(e, AE_IFREG);
                        archive_entry_set_perm(e, 0644);
                        archive_entry_set_size(e, (la_int64_t)strlen(ents[i].data));
                        break;
                case D:
                        archive_entry_set_filetype(e, AE_IFDIR);
                        archive_entry_set_perm(e, 0755);
                        break;
                case L:
                        archive_entry_set_filetype(e, AE_IFLNK);
                        archive_entry_set_perm(e, 0777);
                        archive_entry_set_symlink(e, ents[i].data);
                        break;
                case H:
                        archive_entry_set_filetype(e, AE_IFREG);
                        archive_entry_set_perm(e, 0644);
                        archive_entry_set_hardlink(e, ents[i].data);
                        break;
                case FIFO:
                        archive_entry_set_filetype(e, AE_IFIFO);
                        archive_entry_set_perm(e, 0644);
                        break;
                }
                CHECK(archive_write_header(a, e) == ARCHIVE_OK);
                if (ents[i].type == F)
                        archive_write_data(a, ents[i].data, strlen(ents[i].data));
                archive_entry_free(e);
        }
        archive_write_close(a);
        archive_write_free(a);
}

/* Unpacks REL into a fresh "x" dir; returns the error. */
static int unpack(const char *rel, const struct slug_opts *o, char **err)
{
        char slug[512], dir[512];
        struct slug_opts opts;

        rm_tree("x");
        mk("x");
        if (!o) {
                slug_opts_init(&opts);
                o = &opts;
        }
        path(slug, sizeof(slug), rel);
        path(dir, sizeof(dir), "x");
        return slug_extract(slug, dir, o, err);
}

static void refused(const struct ent *ents, size_t n, int want, const char *needle)
{
        char *err = NULL;
        int r;

        make_tar("evil.tar", ents, n);
        r = unpack("evil.tar", NULL, &err);
        if (r != want)
                printf("# got %d (%s), want %d\n", r, err ? err : "", want);
        CHECK(r == want);
        CHECK(err != NULL);
        if (err && needle && !strstr(err, needle))
                printf("# message: %s\n", err);
        CHECK(!needle || (err && strstr(err, needle)));
        for (const char *p = err; p && *p; p++)
                CHECK((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f);
        free(err);
}

static void test_dotdot_refused(void)
{
        static const struct ent ents[] = {{F, "ok", "fine"}, {F, "../escaped", "gotcha"}};

        refused(ents, 2, -EPERM, "\"../escaped\"");
        CHECK(!exists("escaped"));
        CHECK(!exists("x/escaped"));
        /* the entry before the bad one was written */
        CHECK(exists("x/ok"));

        static const struct ent nested[] = {{D, "a", NULL}, {F, "a/../../y", "escaped"}};
        refused(nested, 2, -EPERM, NULL);
        CHECK(!exists("y"));
}

static void test_absolute_refused(void)
{
        char name[600];
        struct ent ents[] = {{F, name, "escaped"}};

        snprintf(name, sizeof(name), "%s/abs-written", tmp);
        refused(ents, 1, -EPERM, NULL);
        CHECK(!exists("abs-written"));
}

static void test_through_symlink_refused(void)
{
        char target[512];
        struct ent ents[] = {{L, "evil", target}, {F, "evil/pwned", "gotcha"}};

        mk("outside");
        path(target, sizeof(target), "outside");
        refused(ents, 2, -EPERM, "evil/pwned");
        CHECK(!exists("outside/pwned"));

        /* relative, too */
        struct ent rel[] = {{L, "up", "../outside"}, {F, "up/pwned2", "gotcha"}};
        refused(rel, 2, -EPERM, NULL);
        CHECK(!exists("outside/pwned2"));
}

static void test_symlink_replaced_not_followed(void)
{
        char target[512], *err = NULL;
        struct ent ents[] = {{L, "link", target}, {F, "link", "new content"}};

        write_file("victim", "original", 0644);
        path(target, sizeof(target), "victim");
        make_tar("replace.tar", ents, 2);
        /* Either refused or the link replaced: never written through. */
        (void)unpack("replace.tar", NULL, &err);
        free(err);
        CHECK_STREQ(read_all("victim"), "original");

        struct ent dirs[] = {{L, "d", target}, {D, "d", NULL}, {F, "d/f", "x"}};
        path(target, sizeof(target), "outside");
        make_tar("dir.tar", dirs, 3);
        err = NULL;
        (void)unpack("dir.tar", NULL, &err);
        free(err);
        CHECK(!exists("outside/f"));
}

static void test_other_types_refused(void)
{
        static const struct ent hard[] = {{F, "a", "x"}, {H, "b", "a"}};
        static const struct ent hard_out[] = {{H, "b", "/etc/passwd"}};
        static const struct ent fifo[] = {{FIFO, "p", NULL}};

        refused(hard, 2, -EPERM, "hard link");
        refused(hard_out, 1, -EPERM, NULL);
        refused(fifo, 1, -EPERM, NULL);
}

static void test_limits(void)
{
        static const struct ent many[] = {
            {F, "1", "a"}, {F, "2", "b"}, {F, "3", "c"}, {F, "4", "d"}};
        static const struct ent big[] = {{F, "big", "0123456789abcdef"}};
        struct slug_opts opts;
        char *err = NULL;

        slug_opts_init(&opts);
        opts.max_entries = 3;
        make_tar("many.tar", many, 4);
        CHECK(unpack("many.tar", &opts, &err) == -E2BIG);
        CHECK(err && strstr(err, "more than 3"));
        free(err);
        err = NULL;

        slug_opts_init(&opts);
        opts.max_bytes = 10;
        make_tar("big.tar", big, 1);
        CHECK(unpack("big.tar", &opts, &err) == -EFBIG);
        free(err);
        err = NULL;

        slug_opts_init(&opts);
        CHECK(unpack("big.tar", &opts, &err) == 0);
        CHECK(err == NULL);
}

static void test_garbage(void)
{
        char *err = NULL;

        write_file("garbage", "this is not a tarball, not even close; just words\n", 0644);
        CHECK(unpack("garbage", NULL, &err) == -EINVAL);
        CHECK(err != NULL);
        free(err);
        err = NULL;
        CHECK(unpack("does-not-exist", NULL, &err) == -ENOENT);
        free(err);
}

static bool always(void *userdata)
{
        return true;
}

static void test_pack_limits_and_cancel(void)
{
        char slug[512], dir[512], tmpfile[512], *err = NULL;
        struct slug_opts opts;

        path(dir, sizeof(dir), "app");
        path(slug, sizeof(slug), "small.tar.zst");
        path(tmpfile, sizeof(tmpfile), "small.tar.zst.tmp");

        slug_opts_init(&opts);
        opts.max_compressed = 16;
        CHECK(slug_pack(dir, slug, &opts, NULL, &err) == -EFBIG);
        CHECK(err && strstr(err, "larger than"));
        CHECK(access(slug, F_OK) < 0 && access(tmpfile, F_OK) < 0);
        free(err);
        err = NULL;

        slug_opts_init(&opts);
        opts.max_entries = 2;
        CHECK(slug_pack(dir, slug, &opts, NULL, &err) == -E2BIG);
        CHECK(access(slug, F_OK) < 0 && access(tmpfile, F_OK) < 0);
        free(err);
        err = NULL;

        slug_opts_init(&opts);
        opts.max_bytes = 4;
        CHECK(slug_pack(dir, slug, &opts, NULL, &err) == -EFBIG);
        free(err);
        err = NULL;

        slug_opts_init(&opts);
        opts.cancelled = always;
        CHECK(slug_pack(dir, slug, &opts, NULL, &err) == -ECANCELED);
        CHECK(access(slug, F_OK) < 0 && access(tmpfile, F_OK) < 0);
        free(err);
}

static void test_cwd_restored(void)
{
        char before[512], after[512], *err = NULL;

        CHECK(getcwd(before, sizeof(before)) != NULL);
        (void)unpack("evil.tar", NULL, &err);
        free(err);
        CHECK(getcwd(after, sizeof(after)) != NULL);
        CHECK_STREQ(before, after);
}

int main(void)
{
        if (!mkdtemp(tmp)) {
                perror("mkdtemp");
                return 1;
        }
        umask(022);
        RUN(test_round_trip);
        RUN(test_entry_names);
        RUN(test_dotdot_refused);
        RUN(test_absolute_refused);
        RUN(test_through_symlink_refused);
        RUN(test_symlink_replaced_not_followed);
        RUN(test_other_types_refused);
        RUN(test_limits);
        RUN(test_garbage);
        RUN(test_pack_limits_and_cancel);
        RUN(test_cwd_restored);
        rm_tree("");
        return test_done();
}
