/* The control plane's HTTP API (docs/api.md), served by libmicrohttpd
 * driven from the pierd event loop: MHD's own epoll fd is watched by the
 * loop, and MHD_run() is called when it is readable or MHD's timeout is
 * due.  Requests are handled one at a time on the loop, so every state
 * change is one store transaction with nothing interleaved.
 *
 * api_new() binds the listening socket; api_free() stops the daemon and
 * closes every connection.  The loop and the store must outlive the api.
 */
#pragma once

#include <stdint.h>

#include "net/loop.h"
#include "pierd/dynos.h"
#include "store/store.h"

struct api_config {
        const char *listen;      /* "ADDR:PORT", port 0 = any free port */
        const char *domain;      /* apps are APP.<domain> */
        uint16_t router_port;    /* for web_url */
        const char *public_url;  /* how clients reach this API, for git_url;
                                    NULL = derived from the bound address */
        const char *home;        /* PIER_HOME: repos, cache, slugs */
        const char *build_bin;   /* pier-build, run by each app's pre-receive hook */
        const char *buildpacks_dir;
        unsigned build_timeout;  /* seconds */
        unsigned build_max_files;
        unsigned boot_timeout;   /* seconds, told to the build */
        struct supervisor *sup;  /* runs the dynos; outlives the api */
        struct loghub *hub;      /* the apps' logs; outlives the api */
        struct drains *drains;   /* the log drains at run time; outlives the api */
};

struct api;

int api_new(struct loop *l, struct store *s, const struct api_config *cfg, struct api **ret);
struct api *api_free(struct api *a);
/* The routing table changed: answer the router's long-polls. */
void api_table_changed(struct api *a);
/* The URL clients use to reach the API, e.g. "http://127.0.0.1:5000". */
const char *api_url(const struct api *a);
