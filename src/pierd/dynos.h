/* The dyno supervisor: runs every app's formation of its current release
 * as dynos, watches them, restarts them, and publishes the routing table.
 *
 * Dynos are runtime state, not stored: the store says what should run
 * (formation × current release), the supervisor makes it so and keeps it so.
 * supervisor_converge() is called after anything that changes what should
 * run (a release, a scale, a restart).  A dyno's life is the state machine
 * in dynos.c (`transitions[]`), one row per state × event.
 *
 * Each dyno is `pier-dyno` (bwrap, cgroups, the app's uid) around the
 * process type's command, with stdout and stderr on a pipe pierd reads line
 * by line.  On a restart of pierd, dynos left over from the previous one
 * are found through their cgroups and killed before the formation is
 * started again: never two of the same.
 *
 * The supervisor owns its dynos, their fds and timers; supervisor_free()
 * sends SIGTERM to all of them and lets go (a next pierd cleans up).
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "net/loop.h"
#include "pierd/loghub.h"
#include "store/store.h"

struct supervisor_config {
        const char *home;       /* PIER_HOME: run/APP_ID/vN, dynos/ */
        struct loghub *hub;     /* dyno output and lifecycle lines go there */
        const char *dyno_bin;   /* pier-dyno */
        const char *build_bin;  /* pier-build, for `extract` */
        const char *domain;     /* apps are APP.DOMAIN in the routing table */
        uint16_t port_min, port_max;
        unsigned boot_timeout_ms;   /* SPEC: 60 s */
        unsigned stop_timeout_ms;   /* SPEC: 30 s */
        unsigned backoff_base_ms;   /* first delay after the second crash */
        unsigned backoff_max_ms;
        unsigned backoff_reset_ms;  /* up this long: the crash count resets */
        unsigned release_timeout_ms; /* a release.NNNN dyno is killed after this */
        bool unisolated;            /* no bwrap/cgroups/uid (not root) */
};

struct supervisor;

int supervisor_new(struct loop *l, struct store *s, const struct supervisor_config *cfg,
                   struct supervisor **ret);
struct supervisor *supervisor_free(struct supervisor *sup);

/* Start every app's formation (after killing leftovers of a previous pierd). */
int supervisor_start_all(struct supervisor *sup);

/* Make the app's dynos match its formation and current release. */
void supervisor_converge(struct supervisor *sup, const char *app_id);
/* Starts a one-off dyno TYPE.NNNN (type_label "run" or "release") running
 * `command` in release `release_version`: not part of the formation, never
 * restarted, removed once it exited.  on_exit (if not NULL) is called once
 * with its exit status when it is gone, -1 when it never ran (it could not
 * start, was stopped before it did, or pierd is shutting down); possibly
 * before supervisor_run() returns.  A release dyno is killed after
 * release_timeout_ms.  ret_name (80 bytes) gets its name.  When the slug is
 * still being unpacked, the dyno waits ("starting") until it is. */
int supervisor_run(struct supervisor *sup, const char *app_id, int64_t release_version,
                   const char *command, const char *type_label,
                   void (*on_exit)(void *ud, int status), void *ud, char *ret_name);
/* An attached one-off (`pier run`): supervisor_run() with the dyno's stdio
 * given instead of the log pipe. */
struct run_opts {
        const char *type_label; /* "run" or "release" */
        /* The dyno's stdin, stdout and stderr (the child's ends of pipes,
         * or a pty slave three times).  Taken over by the supervisor, also
         * when supervisor_run_opts() fails: closed once the dyno was
         * spawned or is gone.  The dyno's output then does not go to the
         * logs (its lifecycle lines do).  All -1: a detached run. */
        int stdio[3];
        bool tty;               /* stdio is a pty: it becomes the controlling terminal */
        char *const *env;       /* KEY=VALUE over the config vars, NULL-terminated; or NULL */
};
int supervisor_run_opts(struct supervisor *sup, const char *app_id, int64_t release_version,
                        const char *command, const struct run_opts *o,
                        void (*on_exit)(void *ud, int status), void *ud, char *ret_name);
/* Sends sig to every process of the app's dyno `name` (not its sandbox's
 * bwrap); -ENOENT when there is no such dyno running. */
int supervisor_signal(struct supervisor *sup, const char *app_id, const char *name, int sig);
/* The app is gone: stop all of its dynos. */
void supervisor_app_removed(struct supervisor *sup, const char *app_id);
/* Restart (or stop) all dynos of an app, or of a type ("web"), or one
 * ("web.2").  -ENOENT when nothing matched. */
int supervisor_restart(struct supervisor *sup, const char *app_id, const char *what);
int supervisor_stop(struct supervisor *sup, const char *app_id, const char *what);

/* [{"name","type","state","command","size","release":{"version"},
 *   "updated_at","port","isolated"}] */
json_t *supervisor_dynos_json(struct supervisor *sup, const char *app_id);
/* A router access line, as heroku[router], for the app whose id is `host`
 * or that serves the host `host` (custom and wildcard domains included). */
void supervisor_router_log(struct supervisor *sup, const char *host, const char *msg,
                           size_t len);

/* The routing table: every app's hosts, maintenance flag and up web dynos.
 * The version goes up with every change; `on_change` is called then. */
uint64_t supervisor_table_version(const struct supervisor *sup);
json_t *supervisor_table_json(struct supervisor *sup);
void supervisor_set_table_listener(struct supervisor *sup, void (*on_change)(void *userdata),
                                   void *userdata);
