/* Error pages and codes; see errors.h. */
#include <string.h>

#include "router/errors.h"

#define PAGE(title, text)                                                                          \
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>" title                       \
        "</title></head>\n<body><h1>" title "</h1>\n<p>" text "</p>\n</body></html>\n"

#define APP_ERROR(code)                                                                            \
        PAGE("Application Error", "An error occurred in the application and your page could "     \
                                  "not be served. Please try again in a few moments. (" code ")")

static struct router_error_info infos[_RE_MAX] = {
    [RE_NONE] = {NULL, NULL, 200, "OK", "info", "", 0},
    [RE_H10] = {"H10", "App crashed", 503, "Service Unavailable", "error", APP_ERROR("H10"), 0},
    [RE_H11] = {"H11", "Backlog too deep", 503, "Service Unavailable", "error", APP_ERROR("H11"),
                0},
    [RE_H12] = {"H12", "Request timeout", 503, "Service Unavailable", "error", APP_ERROR("H12"), 0},
    [RE_H13] = {"H13", "Connection closed without response", 503, "Service Unavailable", "error",
                APP_ERROR("H13"), 0},
    [RE_H14] = {"H14", "No web dynos running", 503, "Service Unavailable", "error",
                APP_ERROR("H14"), 0},
    [RE_H15] = {"H15", "Idle connection", 503, "Service Unavailable", "error", APP_ERROR("H15"), 0},
    [RE_H17] = {"H17", "Poorly formatted HTTP response", 503, "Service Unavailable", "error",
                APP_ERROR("H17"), 0},
    [RE_H18] = {"H18", "Server Request Interrupted", 503, "Service Unavailable", "error",
                APP_ERROR("H18"), 0},
    [RE_H19] = {"H19", "Backend connection timeout", 503, "Service Unavailable", "error",
                APP_ERROR("H19"), 0},
    [RE_H20] = {"H20", "App boot timeout", 503, "Service Unavailable", "error", APP_ERROR("H20"),
                0},
    [RE_H21] = {"H21", "Backend connection refused", 503, "Service Unavailable", "error",
                APP_ERROR("H21"), 0},
    [RE_H22] = {"H22", "Connection limit reached", 503, "Service Unavailable", "error",
                APP_ERROR("H22"), 0},
    [RE_H25] = {"H25", "HTTP restriction", 502, "Bad Gateway", "error", APP_ERROR("H25"), 0},
    [RE_H26] = {"H26", "Request Error", 400, "Bad Request", "error",
                PAGE("Bad Request", "Your browser sent a request that this server could not "
                                    "understand. (H26)"),
                0},
    [RE_H27] = {"H27", "Client Request Interrupted", 499, "Client Closed Request", "warning", "", 0},
    [RE_H28] = {"H28", "Client Connection Idle", 499, "Client Closed Request", "warning", "", 0},
    [RE_H80] = {"H80", "Maintenance mode", 503, "Service Unavailable", "info",
                PAGE("Offline for Maintenance", "This app is undergoing maintenance right now. "
                                                "Please check back later. (H80)"),
                0},
    [RE_H81] = {"H81", "Blank app", 503, "Service Unavailable", "error",
                PAGE("Nothing deployed yet", "This app exists, but nothing has been deployed to "
                                             "it yet: push some code with git. (H81)"),
                0},
    [RE_H99] = {"H99", "Platform error", 503, "Service Unavailable", "error", APP_ERROR("H99"), 0},
    [RE_NO_APP] = {NULL, NULL, 404, "Not Found", "info",
                   PAGE("No such app", "There is no app configured at that hostname."), 0},
};

const struct router_error_info *router_error_info(enum router_error e)
{
        struct router_error_info *i = &infos[e < _RE_MAX ? e : RE_H99];
        if (!i->page_len)
                i->page_len = (unsigned)strlen(i->page);
        return i;
}
