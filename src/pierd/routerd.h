/* pier-router as a child of pierd.
 *
 * pierd writes the routing table the supervisor publishes to
 * PIER_HOME/router-table.json (a temp file renamed into place, so the
 * router only ever sees whole tables; it reloads on the change), starts
 * `pier-router --listen ADDR:PORT --table FILE`, restarts it if it dies,
 * and reads its access log from a pipe: each line goes into the log of the
 * app named by its host= field, as heroku[router].
 *
 * The router runs in its own session: it keeps serving its last table if
 * pierd is killed.  A pierd that starts while such a router still runs
 * (its pid is in PIER_HOME/router.pid) starts its own first, then sends the
 * old one SIGTERM, so that the port is never without a listener.
 * routerd_free() stops the router (SIGTERM; it drains and exits).
 */
#pragma once

#include "net/loop.h"
#include "pierd/dynos.h"

struct routerd_config {
        const char *home;
        const char *router_bin;
        const char *listen; /* ADDR:PORT */
        const char *domain;
        unsigned workers;   /* 0: the router's default (the number of CPUs) */
};

struct routerd;

int routerd_new(struct loop *l, struct supervisor *sup, const struct routerd_config *cfg,
                struct routerd **ret);
struct routerd *routerd_free(struct routerd *rd);

/* The supervisor's table changed: write it out for the router. */
void routerd_table_changed(struct routerd *rd);
