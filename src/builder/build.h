/* One build: from a pushed commit to a release (SPEC.md section 2).
 *
 * struct build_config is what pierd tells the hook through the environment
 * (docs/api.md, "Deploys"), checked by build_config_load(); its strings
 * point into the environment.  struct build is the state of one build,
 * set up by build_run() and torn down by it (the work directory
 * PIER_HOME/builds/APP_ID-RANDOM is removed however the build ends).
 *
 * Steps print what they do (output.h) and, when they fail, why, then
 * return a negative errno; -ETIME means the build ran out of time and
 * -ECANCELED that it was told to stop (a signal, or the pusher left).
 * build_run() prints the final "Build failed" line itself.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "builder/api.h"
#include "builder/envblock.h"
#include "builder/proc.h"
#include "builder/pushrefs.h"
#include "lib/procfile.h"

#define BUILD_TIMEOUT_DEFAULT 900 /* Heroku: 15 minutes */
#define BUILD_TIMEOUT_MAX     86400

/* The built-in buildpacks, in the order auto-detection tries them. */
#define BUILTIN_BUILDPACKS "python", "nodejs", "make", "static", "procfile"

struct build_config {
        const char *api_url;
        const char *token;
        const char *app_id;
        const char *app_name;
        const char *home;
        const char *buildpacks_dir;
        const char *web_url; /* may be NULL */
        uid_t uid;
        unsigned timeout;   /* seconds */
        uint64_t max_files; /* entries of the checked-out commit */
        unsigned boot_timeout; /* seconds web dynos have to come up */
};

struct buildpack {
        char *label; /* how the user named it, for messages */
        char *dir;   /* on the host; root's, never the app's */
        char *name;  /* what bin/detect printed */
        bool from_url;
        bool is_self; /* the app's own bin/ */
};

struct build {
        const struct build_config *cfg;
        struct api api;
        bool root; /* we run as root: chown, and drop to cfg->uid in the sandbox */
        char *git, *bwrap, *setpriv;

        char commit[OBJECT_HEX_MAX + 1];
        char request_id[37];
        int64_t deadline; /* mono_usec() */

        char *work_dir;  /* PIER_HOME/builds/APP_ID-RANDOM, removed at the end */
        char *app_dir;   /* WORK/app -> /app */
        char *env_dir;   /* WORK/env -> /env */
        char *cache_dir; /* PIER_HOME/cache/APP_ID -> /cache */
        int work_fd, app_fd;
        unsigned n_fetched; /* WORK/bp/N directories made so far */

        struct buildpack *bps;
        size_t n_bps;
        bool explicit_bps; /* named by the user, as opposed to auto-detected */

        struct env_list *base_env; /* STACK, SOURCE_VERSION, HOME, PATH, LANG, REQUEST_ID */
        struct env_list *exports;  /* from the buildpacks' export files so far */

        struct procfile *process_types;
        char slug_id[37];
        char *slug_path;
        uint64_t slug_size;
        int64_t release_version;
};

/* Reads and checks the PIER_* variables; prints what is wrong. */
int build_config_load(struct build_config *cfg);

/* Runs the whole build of COMMIT; 0 when a release was made. */
int build_run(const struct build_config *cfg, const char *commit);

/* ---- used between build.c and buildpack.c ---- */

/* Runs COMMAND in the sandbox with /app, /cache and /env mounted, plus
 * BUILDPACK_DIR at /buildpack (read-only unless bp_writable; none when
 * NULL).  With only_buildpack, /app, /cache and /env are left out.  err
 * NULL merges stderr into out.  Returns 0 with the result, -ETIME,
 * -ECANCELED, or a negative errno after printing why the sandbox did not
 * start. */
int build_sandbox(struct build *b, const char *buildpack_dir, bool bp_writable, bool only_buildpack,
                  const struct env_list *env, const char *const *command, struct proc_sink *out,
                  struct proc_sink *err, struct proc_result *ret);

/* The environment of a buildpack step: base plus exports, new list. */
int build_step_env(struct build *b, struct env_list **ret);

/* "-----> " + the failure of a step: "exited with status 2" and the like. */
void build_report_exit(const char *what, const struct proc_result *res);

/* Chooses the buildpacks (API list, .buildpacks, the app's own bin/,
 * auto-detection), fetches them, runs detect and compile (and export) of
 * each in order.  b->bps ends up as the ones that ran. */
int buildpacks_compile(struct build *b);

/* Runs bin/release of the last buildpack, if it has one; the
 * default_process_types in *ret (an empty list when there are none). */
int buildpacks_release(struct build *b, struct procfile **ret);

void buildpack_done(struct buildpack *bp);
