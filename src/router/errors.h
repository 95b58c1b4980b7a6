/* The router's own responses: Heroku's error codes (SPEC.md 5) and the
 * small HTML page each one shows.  Static data; nothing is allocated. */
#pragma once

enum router_error {
        RE_NONE,
        RE_H10, /* app crashed */
        RE_H11, /* backlog too deep: the app's queue in this worker is full */
        RE_H12, /* request timeout */
        RE_H13, /* connection closed without response */
        RE_H14, /* no web dynos running */
        RE_H15, /* idle connection */
        RE_H17, /* poorly formatted HTTP response */
        RE_H18, /* server request interrupted */
        RE_H19, /* backend connection timeout */
        RE_H20, /* app boot timeout: no web dyno came up while the request waited */
        RE_H21, /* backend connection refused */
        RE_H22, /* connection limit reached: every dyno stayed at its limit */
        RE_H25, /* HTTP restriction */
        RE_H26, /* request error */
        RE_H27, /* client request interrupted */
        RE_H28, /* client connection idle */
        RE_H80, /* maintenance mode */
        RE_H81, /* blank app: nothing deployed */
        RE_H99, /* platform error */
        RE_NO_APP, /* unknown host: 404, not an app's error */
        _RE_MAX,
};

struct router_error_info {
        const char *code; /* "H12", or NULL for RE_NONE / RE_NO_APP */
        const char *desc; /* for the access log */
        int status;
        const char *reason;
        const char *at; /* "error", "warning" or "info" */
        const char *page;
        unsigned page_len;
};

const struct router_error_info *router_error_info(enum router_error e);
