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
#include "store/store.h"

struct supervisor_config {
        const char *home;       /* PIER_HOME: run/APP_ID/vN, dynos/ */
        const char *dyno_bin;   /* pier-dyno */
        const char *build_bin;  /* pier-build, for `extract` */
        const char *domain;     /* apps are APP.DOMAIN in the routing table */
        uint16_t port_min, port_max;
        unsigned boot_timeout_ms;   /* SPEC: 60 s */
        unsigned stop_timeout_ms;   /* SPEC: 30 s */
        unsigned backoff_base_ms;   /* first delay after the second crash */
        unsigned backoff_max_ms;
        unsigned backoff_reset_ms;  /* up this long: the crash count resets */
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
/* The app is gone: stop all of its dynos. */
void supervisor_app_removed(struct supervisor *sup, const char *app_id);
/* Restart (or stop) all dynos of an app, or of a type ("web"), or one
 * ("web.2").  -ENOENT when nothing matched. */
int supervisor_restart(struct supervisor *sup, const char *app_id, const char *what);
int supervisor_stop(struct supervisor *sup, const char *app_id, const char *what);

/* [{"name","type","state","command","size","release":{"version"},
 *   "updated_at","port","isolated"}] */
json_t *supervisor_dynos_json(struct supervisor *sup, const char *app_id);
/* The last lines a dyno printed and its lifecycle events, oldest first
 * (until the log hub lands). */
json_t *supervisor_log_json(struct supervisor *sup, const char *app_id, size_t max_lines);

/* A router access line for the app that serves `host`, as heroku[router]. */
void supervisor_router_log(struct supervisor *sup, const char *host, const char *msg,
                           size_t len);

/* The routing table: every app's hosts, maintenance flag and up web dynos.
 * The version goes up with every change; `on_change` is called then. */
uint64_t supervisor_table_version(const struct supervisor *sup);
json_t *supervisor_table_json(struct supervisor *sup);
void supervisor_set_table_listener(struct supervisor *sup, void (*on_change)(void *userdata),
                                   void *userdata);
