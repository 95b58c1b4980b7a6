#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builder/api.h"
#include "lib/strbuf.h"
#include "lib/util.h"

int api_init(struct api *api, const char *base, const char *token)
{
        size_t len = strlen(base);

        while (len > 0 && base[len - 1] == '/')
                len--;
        *api = (struct api){0};
        api->base = strndup(base, len);
        api->token = strdup(token);
        api->curl = curl_easy_init();
        if (!api->base || !api->token || !api->curl) {
                api_done(api);
                return -ENOMEM;
        }
        return 0;
}

void api_done(struct api *api)
{
        if (api->curl)
                curl_easy_cleanup(api->curl);
        free(api->base);
        free(api->token);
        *api = (struct api){0};
}

struct reply {
        struct strbuf body;
        bool too_large;
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
        struct reply *r = userdata;
        size_t n = size * nmemb;

        if (r->body.len + n > API_REPLY_MAX) {
                r->too_large = true;
                return 0;
        }
        if (strbuf_add(&r->body, data, n) < 0)
                return 0;
        return n;
}

int api_call(struct api *api, const char *method, const char *path, json_t *body, long *ret_status,
             json_t **ret_body, char **ret_error)
{
        _cleanup_free_ char *url = NULL, *auth = NULL, *payload = NULL;
        struct reply reply = {.body = STRBUF_INIT};
        struct curl_slist *headers = NULL, *h;
        char errbuf[CURL_ERROR_SIZE] = "";
        long status = 0;
        CURLcode code;
        int r = 0;

        curl_easy_reset(api->curl);
        if (asprintf(&url, "%s%s", api->base, path) < 0 ||
            asprintf(&auth, "Authorization: Bearer %s", api->token) < 0)
                return -ENOMEM;
        if (body) {
                payload = json_dumps(body, JSON_COMPACT);
                if (!payload)
                        return -ENOMEM;
        }

        h = curl_slist_append(headers, "Accept: application/json");
        if (h)
                headers = h;
        h = h ? curl_slist_append(headers, auth) : NULL;
        if (h)
                headers = h;
        if (h && payload) {
                h = curl_slist_append(headers, "Content-Type: application/json");
                if (h)
                        headers = h;
        }
        if (!h) {
                curl_slist_free_all(headers);
                return -ENOMEM;
        }

        (void)curl_easy_setopt(api->curl, CURLOPT_URL, url);
        (void)curl_easy_setopt(api->curl, CURLOPT_CUSTOMREQUEST, method);
        (void)curl_easy_setopt(api->curl, CURLOPT_HTTPHEADER, headers);
        (void)curl_easy_setopt(api->curl, CURLOPT_NOSIGNAL, 1L);
        (void)curl_easy_setopt(api->curl, CURLOPT_CONNECTTIMEOUT_MS, API_CONNECT_TIMEOUT_MS);
        (void)curl_easy_setopt(api->curl, CURLOPT_TIMEOUT_MS, API_TIMEOUT_MS);
        (void)curl_easy_setopt(api->curl, CURLOPT_PROTOCOLS_STR, "http,https");
        (void)curl_easy_setopt(api->curl, CURLOPT_WRITEFUNCTION, on_body);
        (void)curl_easy_setopt(api->curl, CURLOPT_WRITEDATA, &reply);
        (void)curl_easy_setopt(api->curl, CURLOPT_ERRORBUFFER, errbuf);
        if (payload) {
                (void)curl_easy_setopt(api->curl, CURLOPT_POSTFIELDS, payload);
                (void)curl_easy_setopt(api->curl, CURLOPT_POSTFIELDSIZE_LARGE,
                                       (curl_off_t)strlen(payload));
        }

        code = curl_easy_perform(api->curl);
        curl_slist_free_all(headers);
        if (code != CURLE_OK) {
                if (reply.too_large) {
                        r = -EFBIG;
                        if (ret_error &&
                            asprintf(ret_error, "the answer from pierd at %s is larger than %u MiB",
                                     api->base, API_REPLY_MAX / (1024 * 1024)) < 0)
                                *ret_error = NULL;
                } else {
                        r = code == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : -EIO;
                        if (ret_error &&
                            asprintf(ret_error, "cannot talk to pierd at %s: %s", api->base,
                                     errbuf[0] ? errbuf : curl_easy_strerror(code)) < 0)
                                *ret_error = NULL;
                }
                strbuf_release(&reply.body);
                return r;
        }
        (void)curl_easy_getinfo(api->curl, CURLINFO_RESPONSE_CODE, &status);
        *ret_status = status;
        *ret_body = reply.body.len > 0 ? json_loadb(reply.body.buf, reply.body.len, 0, NULL) : NULL;
        strbuf_release(&reply.body);
        return 0;
}

char *api_error_message(long status, json_t *body)
{
        const char *msg = json_string_value(json_object_get(body, "message"));
        char *s = NULL;

        if (msg && *msg) {
                if (asprintf(&s, "pierd answered %ld: %s", status, msg) < 0)
                        return NULL;
        } else if (asprintf(&s, "pierd answered %ld", status) < 0)
                return NULL;
        return s;
}
