/* pier-router: what main.c hands to each worker process.
 *
 * main.c (the master) parses the flags, binds one SO_REUSEPORT listening
 * socket per worker, forks the workers and relays their access-log lines;
 * worker.c serves HTTP on the socket it is given until SIGTERM.  The
 * worker owns listen_fd and log_fd from the moment worker_run() is called.
 */
#pragma once

#include <stdint.h>

struct router_config {
        const char *table_path;
        const char *domain;   /* apps are also NAME.DOMAIN; "" for none */
        uint16_t listen_port; /* for X-Forwarded-Port */
        /* Timeouts in microseconds.  Defaults are Heroku's (SPEC.md 5). */
        int64_t connect_timeout;   /* 5 s: H19 */
        int64_t response_timeout;  /* 30 s to the first byte: H12 */
        int64_t idle_timeout;      /* 55 s of silence either way: H15/H28 */
        int64_t keepalive_timeout; /* 60 s between requests */
        int64_t header_timeout;    /* 10 s for a whole request head */
        int64_t drain_timeout;     /* SIGTERM: in-flight requests get this long */
        int64_t pool_timeout;      /* idle upstream connections */
        int64_t boot_timeout;      /* 75 s waiting for a booting web dyno: H20 */
        /* Heroku's router (Cedar): at most 50 requests in flight per dyno,
         * more wait in the app's queue, which holds 50 per web dyno; a full
         * queue is H11, a wait longer than connect_timeout H22.  Both are
         * per worker (workers share nothing).  0: no limit. */
        uint32_t dyno_conn_limit;
        uint32_t backlog; /* per web dyno (one when none is up yet) */
        bool log_app_id;  /* access lines start with "APP_ID\t" (for pierd) */
};

/* Runs a worker until it is told to stop; returns the exit status. */
int worker_run(const struct router_config *cfg, int worker_index, int listen_fd, int log_fd);
