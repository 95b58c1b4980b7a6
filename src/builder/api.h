/* The builder's side of pierd's API (docs/api.md, "Deploys"): libcurl and
 * jansson, Bearer token, JSON both ways.
 *
 * struct api holds the curl handle (one connection, reused), the base URL
 * (trailing '/' removed) and the token; api_init() copies the strings,
 * api_done() frees everything.  api_call() performs one request: it returns
 * 0 with the HTTP status in *ret_status and the parsed body (a new
 * reference, or NULL for an empty or non-JSON body) in *ret_body, or a
 * negative errno when no answer came, with a message for the user in
 * *ret_error (malloc'd).  On a non-2xx status, api_error_message() says what
 * pierd said.
 */
#pragma once

#include <stdbool.h>

#include <curl/curl.h>
#include <jansson.h>

/* pierd runs next door: 5 s to connect is plenty; a minute covers the
 * slowest request (making a release). */
#define API_CONNECT_TIMEOUT_MS 5000L
#define API_TIMEOUT_MS         60000L
#define API_REPLY_MAX          (4u * 1024 * 1024)

struct api {
        CURL *curl;
        char *base;
        char *token;
};

int api_init(struct api *api, const char *base, const char *token);
void api_done(struct api *api);

int api_call(struct api *api, const char *method, const char *path, json_t *body, long *ret_status,
             json_t **ret_body, char **ret_error);

/* "pierd answered 404: <message>" (malloc'd; NULL on OOM). */
char *api_error_message(long status, json_t *body);
