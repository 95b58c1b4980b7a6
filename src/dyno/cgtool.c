/* pier-dyno-cgroup: dyno/cgroup.h from the command line, for the
 * end-to-end tests and for an operator cleaning up by hand.
 *
 *     pier-dyno-cgroup signal NAME SIGNUM [skip-bwrap]   prints the count
 *     pier-dyno-cgroup memory NAME          prints "USAGE LIMIT OOM_KILLED"
 *     pier-dyno-cgroup list PARENT          prints one child name a line
 *     pier-dyno-cgroup remove NAME
 *
 * Exit status 0, 1 on an error (told on stderr), 2 on bad usage.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "dyno/cgroup.h"
#include "lib/util.h"

static int usage(void)
{
        fputs("usage: pier-dyno-cgroup signal NAME SIGNUM [skip-bwrap]\n"
              "       pier-dyno-cgroup memory NAME\n"
              "       pier-dyno-cgroup list PARENT\n"
              "       pier-dyno-cgroup remove NAME\n",
              stderr);
        return 2;
}

static int failed(int r, const char *what, const char *name)
{
        fprintf(stderr, "pier-dyno-cgroup: %s %s: %s\n", what, name, strerror(-r));
        return 1;
}

int main(int argc, char **argv)
{
        int r;

        if (argc < 3)
                return usage();
        if (streq(argv[1], "signal") && (argc == 4 || argc == 5)) {
                bool skip = argc == 5 && streq(argv[4], "skip-bwrap");
                unsigned count = 0;
                int64_t sig;

                if (argc == 5 && !skip)
                        return usage();
                if (safe_atoi64(argv[3], &sig) < 0 || sig < 0 || sig > 64)
                        return usage();
                r = dyno_cgroup_signal(argv[2], (int)sig, skip, &count);
                if (r < 0)
                        return failed(r, "signalling", argv[2]);
                printf("%u\n", count);
                return 0;
        }
        if (streq(argv[1], "memory") && argc == 3) {
                uint64_t usage = 0, limit = 0;
                bool oom = false;

                r = dyno_cgroup_memory(argv[2], &usage, &limit, &oom);
                if (r < 0)
                        return failed(r, "reading memory of", argv[2]);
                printf("%" PRIu64 " %" PRIu64 " %d\n", usage, limit, oom ? 1 : 0);
                return 0;
        }
        if (streq(argv[1], "list") && argc == 3) {
                char **names = NULL;

                r = dyno_cgroup_list(argv[2], &names);
                if (r < 0)
                        return failed(r, "listing", argv[2]);
                for (char **p = names; *p; p++)
                        printf("%s\n", *p);
                dyno_cgroup_names_free(names);
                return 0;
        }
        if (streq(argv[1], "remove") && argc == 3) {
                r = dyno_cgroup_remove(argv[2]);
                if (r < 0)
                        return failed(r, "removing", argv[2]);
                return 0;
        }
        return usage();
}
