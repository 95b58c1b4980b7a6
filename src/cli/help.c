/* help, version. */

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

#include "cli/cli.h"
#include "lib/util.h"

int cmd_help(struct cli *cli)
{
        const struct cli_command *cmd;

        if (cli->argc == 0) {
                cli_print_help(stdout);
                return 0;
        }
        if (cli->argc > 1)
                return cli_usage_error(cli, "help takes one COMMAND");
        cmd = cli_find_command(cli->argv[0]);
        if (!cmd) {
                cli_error("'%s' is not a pier command. See 'pier help'.", cli->argv[0]);
                return -EINVAL;
        }
        cli_print_usage(cmd, stdout);
        return 0;
}

/* "pier/0.1.0 linux-x64", the platform named as Node (and so the Heroku
 * CLI) names it. */
int cmd_version(struct cli *cli)
{
        struct utsname u;
        const char *arch = "unknown";
        char os[sizeof(u.sysname)] = "unknown";

        if (uname(&u) == 0) {
                size_t i;

                for (i = 0; u.sysname[i] && i < sizeof(os) - 1; i++)
                        os[i] = (char)tolower((unsigned char)u.sysname[i]);
                os[i] = '\0';
                arch = u.machine;
                if (streq(arch, "x86_64"))
                        arch = "x64";
                else if (streq(arch, "aarch64"))
                        arch = "arm64";
                else if (streq(arch, "i686") || streq(arch, "i386"))
                        arch = "ia32";
        }
        printf("pier/%s %s-%s\n", PIER_VERSION, os, arch);
        return 0;
}
