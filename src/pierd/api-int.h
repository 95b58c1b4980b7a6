/* What the API's handler files share (api.c, api-*.c): the daemon's state,
 * one call as a handler sees it, and the helpers to fail one.  Not for use
 * outside src/pierd/api*.c. */
#pragma once

#include <jansson.h>
#include <microhttpd.h>
#include <stdbool.h>
#include <stdint.h>

#include "lib/strbuf.h"
#include "pierd/api.h"
#include "pierd/git.h"

struct api {
        struct loop *loop;
        struct store *store;
        struct MHD_Daemon *mhd;
        struct loop_io *io;
        struct loop_timer *timer;
        char *domain;
        uint16_t router_port;
        char *url;
        struct git_env git;
        struct supervisor *sup;
        struct loghub *hub;
        struct drains *drains; /* forwards lines to the log drains */
        char *home, *build_bin, *buildpacks_dir;
        struct watcher *watchers; /* router table long-polls, parked */
        struct log_tail *tails;   /* log streams (api-logs.c) */
        bool wake_pending;        /* a connection was resumed: run MHD again */
        struct release_run *release_runs; /* release commands running */
        /* Open connections, for the deadline on a request's head (a slow
         * client may not hold a connection slot while it sends it). */
        struct api_conn *conns;
        struct loop_timer *head_timer;
        /* GET /apps is the busiest read and the costliest to encode: its
         * body is kept until the next change.  Every request that may
         * change state bumps `generation`. */
        uint64_t generation;
        char *apps_body;
        size_t apps_body_len;
        uint64_t apps_body_generation;
};

/* One HTTP request while its body arrives. */
struct request {
        struct strbuf body;
        bool too_large;
        struct git_request *git; /* set for /APP.git/... requests */
        struct watcher *watch;   /* a parked GET /router/table */
};

/* A GET /router/table?since=N waiting for a newer table (or its time). */
struct watcher {
        struct api *api;
        struct MHD_Connection *conn;
        struct request *req;
        struct loop_timer *timer;
        bool expired;
        struct watcher *prev, *next;
};

/* What a handler sees, and what it leaves for the reply. */
struct call {
        struct api *api;
        struct MHD_Connection *conn;
        const char *method;
        const struct token *token;
        const char *param[2]; /* the :captures of the route, in order */
        json_t *body;         /* parsed request body, NULL when empty */
        /* reply */
        unsigned status;
        json_t *out;
        int64_t release_version; /* > 0: sent as Pier-Release-Version */
        struct request *req;
        bool parked;             /* suspended: no reply now */
        char *raw;               /* a body already encoded, instead of out */
        size_t raw_len;
        /* A response the handler made itself (a stream, an upgrade),
         * queued with the returned status instead of out or raw. */
        struct MHD_Response *response;
};

/* Sets an error reply {"id","message"}; returns the status for
 * `return fail(...)`. */
__attribute__((format(printf, 3, 4))) unsigned fail(struct call *c, unsigned status,
                                                    const char *fmt, ...);
/* A store error as the client should see it (500, logged). */
unsigned fail_store(struct call *c, int r, const char *what);
/* Finds the app named by the route's first capture, or fails with 404. */
int load_app(struct call *c, struct app **ret);

/* Handlers that live in their own files (the route table is in api.c). */

/* Makes the daemon run again soon (after a connection was resumed). */
void api_wake(struct api *a);

/* api-run.c: one-off dynos, attached or not */
unsigned h_dynos_run(struct call *c);
unsigned h_dynos_attach(struct call *c);

/* api-logs.c */
unsigned h_log_lines(struct call *c);
unsigned h_log_stream(struct call *c);
/* Ends every log stream, before the daemon stops. */
void api_logs_shutdown(struct api *a);

/* api-drains.c */
unsigned h_drains_list(struct call *c);
unsigned h_drains_add(struct call *c);
unsigned h_drains_remove(struct call *c);
