/* pier-build: builds a pushed app into a slug and a release (run by git as
 * the pre-receive hook of an app's repository), and unpacks slugs safely
 * for pierd.
 *
 *     pier-build pre-receive                 (git's hook; see prereceive.c)
 *     pier-build extract [--uid UID] SLUG DIR
 */

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#include "builder/main.h"
#include "builder/slug.h"
#include "lib/log.h"
#include "lib/util.h"

static const struct {
        const char *name;
        int (*run)(int argc, char **argv);
} verbs[] = {
    {"pre-receive", cmd_pre_receive},
    {"extract", cmd_extract},
};

static void usage(FILE *f)
{
        fputs("usage: pier-build pre-receive\n"
              "       pier-build extract [--uid UID] SLUG DIR\n"
              "\n"
              "pre-receive  build the pushed commit (git's pre-receive hook; pierd sets\n"
              "             PIER_API_URL, PIER_TOKEN, PIER_APP_ID, ... for it)\n"
              "extract      unpack a slug into DIR (made if missing), refusing entries that\n"
              "             would land outside it; --uid makes UID own what is unpacked\n",
              f);
}

int cmd_extract(int argc, char **argv)
{
        static const struct option options[] = {
            {"uid", required_argument, NULL, 'u'},
            {"help", no_argument, NULL, 'h'},
            {0},
        };
        _cleanup_free_ char *err = NULL;
        struct slug_opts opts;
        const char *slug, *dir;
        int64_t uid = -1;
        int c, r;

        slug_opts_init(&opts);
        while ((c = getopt_long(argc, argv, "+h", options, NULL)) >= 0) {
                switch (c) {
                case 'u':
                        if (safe_atoi64(optarg, &uid) < 0 || uid < 0 || uid >= UINT32_MAX) {
                                log_error("--uid wants a uid, not '%s'", optarg);
                                return 2;
                        }
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        usage(stderr);
                        return 2;
                }
        }
        if (argc - optind != 2) {
                usage(stderr);
                return 2;
        }
        slug = argv[optind];
        dir = argv[optind + 1];
        opts.uid = uid;

        if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
                log_error_errno(errno, "creating %s: %m", dir);
                return 1;
        }
        if (uid >= 0 && chown(dir, (uid_t)uid, (gid_t)uid) < 0) {
                log_error_errno(errno, "handing %s to uid %lld: %m", dir, (long long)uid);
                return 1;
        }
        r = slug_extract(slug, dir, &opts, &err);
        if (r < 0) {
                if (err)
                        log_error("unpacking %s into %s: %s", slug, dir, err);
                else
                        log_error_errno(r, "unpacking %s into %s: %m", slug, dir);
                return 1;
        }
        return 0;
}

int main(int argc, char **argv)
{
        int r = 2;

        log_set_ident("pier-build");
        if (argc < 2) {
                usage(stderr);
                return 2;
        }
        if (streq(argv[1], "--help") || streq(argv[1], "-h") || streq(argv[1], "help")) {
                usage(stdout);
                return 0;
        }
        if (streq(argv[1], "--version")) {
                printf("pier-build %s\n", PIER_VERSION);
                return 0;
        }
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
                log_error("cannot initialise libcurl");
                return 1;
        }
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                if (streq(argv[1], verbs[i].name)) {
                        r = verbs[i].run(argc - 1, argv + 1);
                        curl_global_cleanup();
                        return r;
                }
        fprintf(stderr, "pier-build: unknown command '%s'\n", argv[1]);
        usage(stderr);
        curl_global_cleanup();
        return 2;
}
