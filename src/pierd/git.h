/* git over HTTP: /APP.git/info/refs, /APP.git/git-receive-pack and
 * /APP.git/git-upload-pack, served by `git http-backend` as a child.
 *
 * The request body is spooled to an unnamed temp file (bounded), then the
 * child runs with it as stdin; its output is streamed back as it comes,
 * with the MHD connection suspended whenever the pipe is empty, so a long
 * build in the pre-receive hook never blocks the loop.
 *
 * api.c calls git_request_new() on the first callback of every request; it
 * sets *ret to NULL when the URL is not a git URL.  A git_request belongs
 * to its connection: api.c frees it from MHD's completion callback.
 */
#pragma once

#include <microhttpd.h>
#include <stdint.h>

#include "net/loop.h"
#include "store/store.h"

struct git_env {
        struct loop *loop;
        struct store *store;
        const char *home;           /* PIER_HOME */
        const char *api_url;        /* for the build to call back */
        const char *domain;         /* web URLs: http://APP.DOMAIN:PORT/ */
        uint16_t router_port;
        const char *build_bin;      /* pier-build */
        const char *buildpacks_dir;
        unsigned build_timeout;     /* seconds */
        unsigned build_max_files;
        unsigned boot_timeout;
        /* MHD does not wake the loop when a connection is resumed: this
         * makes the API run MHD at the next turn of the loop. */
        void (*wake)(void *userdata);
        void *wake_userdata;
};

struct git_request;

int git_request_new(const struct git_env *env, struct MHD_Connection *conn, const char *url,
                    const char *method, struct git_request **ret);
enum MHD_Result git_request_handle(struct git_request *g, const char *upload_data,
                                   size_t *upload_data_size);
void git_request_free(struct git_request *g);

/* At shutdown: wake every suspended git request so that MHD can finish
 * it (a streaming one ends where it is). */
void git_resume_all(void);

/* At shutdown: stop watching children that are still running (they go on
 * and are reaped by init). */
void git_forget_children(void);

/* Removes everything on disk of an app (repo, cache, slugs, unpacked
 * releases) in a child process, so the loop does not wait for a big tree
 * to go. */
void git_remove_app_data(const struct git_env *env, const char *app_id);
