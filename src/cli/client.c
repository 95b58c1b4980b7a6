/* Talking to pierd: where it is, the token, HTTP with libcurl, and the
 * credentials file that `pier login` writes. */

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "cli/cli.h"
#include "lib/strbuf.h"
#include "lib/util.h"

/* How long to wait for pierd: it runs next door, so 5 s to connect is
 * plenty; a minute covers the slowest ordinary request (a config change
 * that restarts dynos is answered before they are up). */
#define CONNECT_TIMEOUT_MS 5000L
#define REQUEST_TIMEOUT_MS 60000L

/* Bounds on what we accept from the server. */
#define REPLY_BODY_MAX  (16u * 1024 * 1024)
#define CREDENTIALS_MAX (64u * 1024)
#define TOKEN_MAX       4096

void api_reply_done(struct api_reply *reply)
{
        if (reply->body)
                json_decref(reply->body);
        reply->body = NULL;
}

bool token_valid(const char *token)
{
        size_t n = 0;

        if (!token || !*token)
                return false;
        for (const char *p = token; *p; p++, n++)
                if (*p < 0x21 || *p > 0x7e || n >= TOKEN_MAX)
                        return false;
        return true;
}

/* The scheme, host and port of URL (the scheme's default port when it
 * names none), each malloc'd by libcurl, freed with curl_free(). */
struct origin {
        char *scheme, *host, *port;
};

static void origin_done(struct origin *o)
{
        curl_free(o->scheme);
        curl_free(o->host);
        curl_free(o->port);
        *o = (struct origin){0};
}

static int origin_parse(const char *url, struct origin *ret)
{
        struct origin o = {0};
        CURLU *u = curl_url();
        int r = -EINVAL;

        if (!u)
                return -ENOMEM;
        if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
            curl_url_get(u, CURLUPART_SCHEME, &o.scheme, 0) == CURLUE_OK &&
            curl_url_get(u, CURLUPART_HOST, &o.host, 0) == CURLUE_OK &&
            curl_url_get(u, CURLUPART_PORT, &o.port, CURLU_DEFAULT_PORT) == CURLUE_OK) {
                *ret = o;
                r = 0;
        } else
                origin_done(&o);
        curl_url_cleanup(u);
        return r;
}

bool url_same_origin(const char *a, const char *b)
{
        struct origin oa, ob;
        bool same;

        if (origin_parse(a, &oa) < 0)
                return false;
        if (origin_parse(b, &ob) < 0) {
                origin_done(&oa);
                return false;
        }
        same = strcasecmp(oa.scheme, ob.scheme) == 0 && strcasecmp(oa.host, ob.host) == 0 &&
               streq(oa.port, ob.port);
        origin_done(&oa);
        origin_done(&ob);
        return same;
}

static int home_dir(const char **ret)
{
        const char *home = getenv("HOME");
        struct passwd *pw;

        if (home && home[0] == '/') {
                *ret = home;
                return 0;
        }
        pw = getpwuid(getuid());
        if (!pw || !pw->pw_dir || pw->pw_dir[0] != '/')
                return -ENOENT;
        *ret = pw->pw_dir;
        return 0;
}

int credentials_path(char **ret)
{
        struct strbuf sb = STRBUF_INIT;
        const char *xdg = getenv("XDG_CONFIG_HOME"), *home;
        int r;

        /* The XDG spec: a relative $XDG_CONFIG_HOME is invalid and ignored. */
        if (xdg && xdg[0] == '/')
                r = strbuf_addf(&sb, "%s/pier/credentials", xdg);
        else {
                r = home_dir(&home);
                if (r < 0)
                        return r;
                r = strbuf_addf(&sb, "%s/.config/pier/credentials", home);
        }
        if (r < 0)
                return r;
        *ret = strbuf_detach(&sb, NULL);
        return *ret ? 0 : -ENOMEM;
}

static int read_file_bounded(const char *path, size_t max, char **ret, size_t *ret_len)
{
        _cleanup_close_ int fd = -EBADF;
        struct strbuf sb = STRBUF_INIT;
        char buf[4096];
        int r;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        for (;;) {
                ssize_t n = read(fd, buf, sizeof(buf));

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        strbuf_release(&sb);
                        return r;
                }
                if (n == 0)
                        break;
                if (sb.len + (size_t)n > max) {
                        strbuf_release(&sb);
                        return -EFBIG;
                }
                r = strbuf_add(&sb, buf, (size_t)n);
                if (r < 0) {
                        strbuf_release(&sb);
                        return r;
                }
        }
        *ret = strbuf_detach(&sb, ret_len);
        return *ret ? 0 : -ENOMEM;
}

int credentials_load(char **ret_api, char **ret_token)
{
        _cleanup_free_ char *path = NULL, *data = NULL, *api = NULL, *token = NULL;
        json_t *root;
        const char *s;
        size_t len;
        int r;

        r = credentials_path(&path);
        if (r < 0) {
                cli_error("cannot find the home directory for the credentials file");
                return r;
        }
        r = read_file_bounded(path, CREDENTIALS_MAX, &data, &len);
        if (r == -ENOENT) {
                *ret_api = NULL;
                *ret_token = NULL;
                return 0;
        }
        if (r < 0) {
                cli_error("reading %s: %s", path, strerror(-r));
                return r;
        }
        root = json_loadb(data, len, 0, NULL);
        if (!json_is_object(root)) {
                json_decref(root);
                cli_error("%s is damaged; run `pier login` again", path);
                return -EINVAL;
        }
        s = json_string_value(json_object_get(root, "api"));
        if (s && *s && !(api = strdup(s)))
                goto oom;
        s = json_string_value(json_object_get(root, "token"));
        if (s && *s && !(token = strdup(s)))
                goto oom;
        json_decref(root);
        *ret_api = TAKE_PTR(api);
        *ret_token = TAKE_PTR(token);
        return 0;
oom:
        json_decref(root);
        cli_error("out of memory");
        return -ENOMEM;
}

/* Creates the parent directories of PATH that are missing, mode 0700: the
 * directory of a secret is nobody else's business. */
static int mkdir_parents(const char *path)
{
        _cleanup_free_ char *p = strdup(path);

        if (!p)
                return -ENOMEM;
        for (char *s = strchr(p + 1, '/'); s; s = strchr(s + 1, '/')) {
                *s = '\0';
                if (mkdir(p, 0700) < 0 && errno != EEXIST)
                        return -errno;
                *s = '/';
        }
        return 0;
}

static int write_all(int fd, const char *buf, size_t len)
{
        while (len > 0) {
                ssize_t n = write(fd, buf, len);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                buf += n;
                len -= (size_t)n;
        }
        return 0;
}

int credentials_store(const char *api, const char *token)
{
        _cleanup_free_ char *path = NULL, *tmp = NULL, *text = NULL;
        _cleanup_close_ int fd = -EBADF;
        struct strbuf sb = STRBUF_INIT;
        json_t *root;
        int r;

        r = credentials_path(&path);
        if (r < 0) {
                cli_error("cannot find the home directory for the credentials file");
                return r;
        }
        root = json_pack("{s:s, s:s}", "api", api, "token", token);
        if (!root)
                goto oom;
        text = json_dumps(root, JSON_INDENT(2));
        json_decref(root);
        if (!text)
                goto oom;
        if (strbuf_addf(&sb, "%s.XXXXXX", path) < 0)
                goto oom;
        tmp = strbuf_detach(&sb, NULL);
        if (!tmp)
                goto oom;

        r = mkdir_parents(path);
        if (r < 0) {
                cli_error("creating the directory for %s: %s", path, strerror(-r));
                return r;
        }
        /* mkostemp() creates the file 0600 with O_EXCL: nobody else can read
         * the token, not even for a moment. */
        fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0) {
                r = -errno;
                cli_error("creating %s: %s", tmp, strerror(-r));
                return r;
        }
        r = write_all(fd, text, strlen(text));
        if (r >= 0)
                r = write_all(fd, "\n", 1);
        if (r >= 0 && fsync(fd) < 0)
                r = -errno;
        if (r >= 0 && close(TAKE_FD(fd)) < 0)
                r = -errno;
        if (r >= 0 && rename(tmp, path) < 0)
                r = -errno;
        if (r < 0) {
                (void)unlink(tmp);
                cli_error("writing %s: %s", path, strerror(-r));
                return r;
        }
        return 0;
oom:
        cli_error("out of memory");
        return -ENOMEM;
}

int credentials_remove(void)
{
        _cleanup_free_ char *path = NULL;
        int r;

        r = credentials_path(&path);
        if (r < 0) {
                cli_error("cannot find the home directory for the credentials file");
                return r;
        }
        if (unlink(path) < 0 && errno != ENOENT) {
                r = -errno;
                cli_error("removing %s: %s", path, strerror(-r));
                return r;
        }
        return 0;
}

int cli_resolve_api(struct cli *cli)
{
        _cleanup_free_ char *file_api = NULL, *file_token = NULL;
        const char *api, *env;
        size_t len;
        int r;

        if (cli->api_url && cli->token)
                return 0;

        r = credentials_load(&file_api, &file_token);
        if (r < 0)
                return r;

        if (!cli->api_url) {
                env = getenv("PIER_API_URL");
                if (cli->api_flag)
                        api = cli->api_flag;
                else if (env && *env)
                        api = env;
                else if (file_api)
                        api = file_api;
                else
                        api = PIER_DEFAULT_API;
                /* Paths are appended to it: "http://h:5000/" + "/apps". */
                len = strlen(api);
                while (len > 0 && api[len - 1] == '/')
                        len--;
                if (len == 0) {
                        cli_error("the API URL is empty; use --api URL, e.g. --api %s",
                                  PIER_DEFAULT_API);
                        return -EINVAL;
                }
                cli->api_url = strndup(api, len);
                if (!cli->api_url)
                        goto oom;
        }

        if (!cli->token) {
                env = getenv("PIER_TOKEN");
                if (env && *env)
                        cli->token = strdup(env);
                else if (file_token)
                        cli->token = TAKE_PTR(file_token);
                if ((env && *env) && !cli->token)
                        goto oom;
        }
        return 0;
oom:
        cli_error("out of memory");
        return -ENOMEM;
}

int url_add_segment(struct strbuf *sb, const char *s)
{
        static const char hex[] = "0123456789ABCDEF";
        int r;

        r = strbuf_addch(sb, '/');
        for (const unsigned char *p = (const unsigned char *)s; r >= 0 && *p; p++) {
                /* RFC 3986 unreserved characters go as they are. */
                if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                    (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_' || *p == '~')
                        r = strbuf_addch(sb, (char)*p);
                else {
                        char esc[3] = {'%', hex[*p >> 4], hex[*p & 15]};
                        r = strbuf_add(sb, esc, sizeof(esc));
                }
        }
        return r;
}

int app_path(const char *app, const char *suffix, char **ret)
{
        struct strbuf sb = STRBUF_INIT;
        int r;

        r = strbuf_addstr(&sb, "/apps");
        if (r >= 0)
                r = url_add_segment(&sb, app);
        if (r >= 0)
                r = strbuf_addstr(&sb, suffix);
        if (r < 0) {
                strbuf_release(&sb);
                cli_error("out of memory");
                return r;
        }
        *ret = strbuf_detach(&sb, NULL);
        if (!*ret) {
                cli_error("out of memory");
                return -ENOMEM;
        }
        return 0;
}

int app_item_path(const char *app, const char *collection, const char *item, char **ret)
{
        struct strbuf sb = STRBUF_INIT;
        _cleanup_free_ char *suffix = NULL;
        int r;

        r = strbuf_addstr(&sb, collection);
        if (r >= 0 && item)
                r = url_add_segment(&sb, item);
        if (r >= 0)
                suffix = strbuf_detach(&sb, NULL);
        strbuf_release(&sb);
        if (!suffix) {
                cli_error("out of memory");
                return -ENOMEM;
        }
        return app_path(app, suffix, ret);
}

struct transfer {
        struct strbuf body;
        bool too_large;
        int64_t release_version;
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
        struct transfer *t = userdata;
        size_t n = size * nmemb;

        if (t->body.len + n > REPLY_BODY_MAX) {
                t->too_large = true;
                return 0;
        }
        if (strbuf_add(&t->body, data, n) < 0)
                return 0;
        return n;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *userdata)
{
        static const char name[] = "Pier-Release-Version:";
        struct transfer *t = userdata;
        size_t n = size * nmemb, len = n;
        _cleanup_free_ char *value = NULL;
        int64_t v;

        /* A new status line (after a 100 Continue, say) starts a new set of
         * headers. */
        if (n >= 5 && strneq(data, "HTTP/", 5)) {
                t->release_version = -1;
                return n;
        }
        if (n < sizeof(name) - 1 || strncasecmp(data, name, sizeof(name) - 1) != 0)
                return n;
        data += sizeof(name) - 1;
        len -= sizeof(name) - 1;
        while (len > 0 && (*data == ' ' || *data == '\t')) {
                data++;
                len--;
        }
        while (len > 0 && (data[len - 1] == '\r' || data[len - 1] == '\n' || data[len - 1] == ' ' ||
                           data[len - 1] == '\t'))
                len--;
        value = strndup(data, len);
        if (value && safe_atoi64(value, &v) >= 0 && v > 0)
                t->release_version = v;
        return n;
}

static int report_curl_error(struct cli *cli, CURLcode code, const char *errbuf,
                             const struct transfer *t)
{
        curl_off_t connect_time = 0;

        switch (code) {
        case CURLE_OPERATION_TIMEDOUT:
                (void)curl_easy_getinfo(cli->curl, CURLINFO_CONNECT_TIME_T, &connect_time);
                if (connect_time > 0) {
                        cli_error("pierd at %s did not answer within %ld seconds", cli->api_url,
                                  REQUEST_TIMEOUT_MS / 1000);
                        return -ETIMEDOUT;
                }
                __attribute__((fallthrough));
        case CURLE_COULDNT_CONNECT:
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY:
                cli_error("cannot reach pierd at %s — is it running? start it with `make run`",
                          cli->api_url);
                return -ECONNREFUSED;
        case CURLE_URL_MALFORMAT:
        case CURLE_UNSUPPORTED_PROTOCOL:
                cli_error("'%s' is not a usable API URL; use e.g. --api %s", cli->api_url,
                          PIER_DEFAULT_API);
                return -EINVAL;
        case CURLE_WRITE_ERROR:
                if (t->too_large) {
                        cli_error("the answer from pierd at %s is larger than %u MiB", cli->api_url,
                                  REPLY_BODY_MAX / (1024 * 1024));
                        return -EFBIG;
                }
                cli_error("out of memory");
                return -ENOMEM;
        default:
                cli_error("talking to pierd at %s: %s", cli->api_url,
                          errbuf[0] ? errbuf : curl_easy_strerror(code));
                return -EIO;
        }
}

/* Sets cli->curl up for METHOD on PATH (with a JSON PAYLOAD when not NULL):
 * URL, headers (*ret_headers, for the caller to free after the transfer),
 * connect timeout, protocols.  Errors are reported. */
static int request_setup(struct cli *cli, const char *method, const char *path,
                         const char *payload, struct curl_slist **ret_headers)
{
        _cleanup_free_ char *url = NULL, *auth = NULL;
        struct curl_slist *headers = NULL, *h;
        struct strbuf sb = STRBUF_INIT;
        int r;

        r = cli_resolve_api(cli);
        if (r < 0)
                return r;
        if (cli->token && !token_valid(cli->token)) {
                cli_error("the token holds characters a token cannot have; run `pier login` again");
                return -EINVAL;
        }

        if (!cli->curl) {
                cli->curl = curl_easy_init();
                if (!cli->curl)
                        goto oom;
        } else
                /* Keeps the open connection for the next request. */
                curl_easy_reset(cli->curl);

        if (strbuf_addstr(&sb, cli->api_url) < 0 || strbuf_addstr(&sb, path) < 0)
                goto oom;
        url = strbuf_detach(&sb, NULL);
        if (!url)
                goto oom;

        h = curl_slist_append(headers, "Accept: application/json");
        if (!h)
                goto oom;
        headers = h;
        h = curl_slist_append(headers, "User-Agent: pier/" PIER_VERSION);
        if (!h)
                goto oom;
        headers = h;
        if (cli->token) {
                if (strbuf_addf(&sb, "Authorization: Bearer %s", cli->token) < 0)
                        goto oom;
                auth = strbuf_detach(&sb, NULL);
                if (!auth || !(h = curl_slist_append(headers, auth)))
                        goto oom;
                headers = h;
        }
        if (payload) {
                h = curl_slist_append(headers, "Content-Type: application/json");
                if (!h)
                        goto oom;
                headers = h;
        }

        (void)curl_easy_setopt(cli->curl, CURLOPT_URL, url);
        (void)curl_easy_setopt(cli->curl, CURLOPT_CUSTOMREQUEST, method);
        if (streq(method, "GET"))
                (void)curl_easy_setopt(cli->curl, CURLOPT_HTTPGET, 1L);
        if (payload) {
                (void)curl_easy_setopt(cli->curl, CURLOPT_POSTFIELDS, payload);
                (void)curl_easy_setopt(cli->curl, CURLOPT_POSTFIELDSIZE_LARGE,
                                       (curl_off_t)strlen(payload));
        }
        (void)curl_easy_setopt(cli->curl, CURLOPT_HTTPHEADER, headers);
        (void)curl_easy_setopt(cli->curl, CURLOPT_NOSIGNAL, 1L);
        (void)curl_easy_setopt(cli->curl, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
        (void)curl_easy_setopt(cli->curl, CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
        (void)curl_easy_setopt(cli->curl, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
        *ret_headers = headers;
        return 0;
oom:
        curl_slist_free_all(headers);
        strbuf_release(&sb);
        cli_error("out of memory");
        return -ENOMEM;
}

/* A body that is JSON for a 2xx answer: parsed into *ret_json. */
static int parse_reply(struct cli *cli, long status, const struct strbuf *body, json_t **ret_json)
{
        *ret_json = NULL;
        if (body->len == 0)
                return 0;
        *ret_json = json_loadb(body->buf, body->len, 0, NULL);
        if (!*ret_json && status >= 200 && status < 300) {
                cli_error("pierd at %s sent an answer that is not JSON", cli->api_url);
                return -EBADMSG;
        }
        return 0;
}

int api_request(struct cli *cli, const char *method, const char *path, json_t *body,
                struct api_reply *ret_reply)
{
        _cleanup_free_ char *payload = NULL;
        struct transfer t = {.body = STRBUF_INIT, .release_version = -1};
        struct curl_slist *headers = NULL;
        char errbuf[CURL_ERROR_SIZE] = "";
        CURLcode code;
        json_t *json = NULL;
        long status = 0;
        int r;

        if (body && !(payload = json_dumps(body, JSON_COMPACT))) {
                cli_error("out of memory");
                return -ENOMEM;
        }
        r = request_setup(cli, method, path, payload, &headers);
        if (r < 0)
                return r;
        (void)curl_easy_setopt(cli->curl, CURLOPT_WRITEFUNCTION, on_body);
        (void)curl_easy_setopt(cli->curl, CURLOPT_WRITEDATA, &t);
        (void)curl_easy_setopt(cli->curl, CURLOPT_HEADERFUNCTION, on_header);
        (void)curl_easy_setopt(cli->curl, CURLOPT_HEADERDATA, &t);
        (void)curl_easy_setopt(cli->curl, CURLOPT_ERRORBUFFER, errbuf);
        (void)curl_easy_setopt(cli->curl, CURLOPT_TIMEOUT_MS, REQUEST_TIMEOUT_MS);

        code = curl_easy_perform(cli->curl);
        curl_slist_free_all(headers);
        if (code != CURLE_OK) {
                r = report_curl_error(cli, code, errbuf, &t);
                strbuf_release(&t.body);
                return r;
        }
        (void)curl_easy_getinfo(cli->curl, CURLINFO_RESPONSE_CODE, &status);
        r = parse_reply(cli, status, &t.body, &json);
        strbuf_release(&t.body);
        if (r < 0)
                return r;

        *ret_reply = (struct api_reply){
            .status = status,
            .body = json,
            .release_version = t.release_version,
        };
        return 0;
}

struct stream {
        struct cli *cli;
        size_t (*on_data)(const char *data, size_t len, void *ud);
        void *ud;
        struct transfer error; /* the body of a non-2xx answer */
};

static size_t on_stream_body(char *data, size_t size, size_t nmemb, void *userdata)
{
        struct stream *st = userdata;
        long status = 0;
        (void)curl_easy_getinfo(st->cli->curl, CURLINFO_RESPONSE_CODE, &status);
        if (status < 200 || status >= 300)
                return on_body(data, size, nmemb, &st->error);
        return st->on_data(data, size * nmemb, st->ud);
}

int api_stream(struct cli *cli, const char *path, unsigned idle_s,
               size_t (*on_data)(const char *data, size_t len, void *ud), void *ud,
               struct api_reply *ret_reply)
{
        struct stream st = {.cli = cli, .on_data = on_data, .ud = ud,
                            .error = {.body = STRBUF_INIT, .release_version = -1}};
        struct curl_slist *headers = NULL;
        json_t *json = NULL;
        long status = 0;
        int r;

        r = request_setup(cli, "GET", path, NULL, &headers);
        if (r < 0)
                return r;
        (void)curl_easy_setopt(cli->curl, CURLOPT_WRITEFUNCTION, on_stream_body);
        (void)curl_easy_setopt(cli->curl, CURLOPT_WRITEDATA, &st);
        /* No time limit, but a stream silent for idle_s is dead. */
        (void)curl_easy_setopt(cli->curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
        (void)curl_easy_setopt(cli->curl, CURLOPT_LOW_SPEED_TIME, (long)idle_s);
        CURLcode code = curl_easy_perform(cli->curl);
        curl_slist_free_all(headers);
        (void)curl_easy_getinfo(cli->curl, CURLINFO_RESPONSE_CODE, &status);
        if (code == CURLE_WRITE_ERROR && status >= 200 && status < 300) {
                /* on_data said stop */
                strbuf_release(&st.error.body);
                return -ECANCELED;
        }
        if (code != CURLE_OK) {
                strbuf_release(&st.error.body);
                return code == CURLE_COULDNT_CONNECT || code == CURLE_COULDNT_RESOLVE_HOST
                               ? -ECONNREFUSED
                               : -ECONNRESET;
        }
        r = parse_reply(cli, status, &st.error.body, &json);
        strbuf_release(&st.error.body);
        if (r < 0)
                return r;
        *ret_reply = (struct api_reply){.status = status, .body = json, .release_version = -1};
        return 0;
}

int api_report_error(struct cli *cli, const struct api_reply *reply)
{
        const char *message = json_string_value(json_object_get(reply->body, "message"));

        if (reply->status == 401) {
                cli_error("not logged in or the token was refused — run `pier login`");
                return -EACCES;
        }
        if (message && *message)
                cli_error("%s", message);
        else
                cli_error("pierd at %s answered HTTP %ld", cli->api_url, reply->status);

        switch (reply->status) {
        case 403:
                return -EPERM;
        case 404:
                return -ENOENT;
        case 409:
                return -EEXIST;
        case 413:
                return -E2BIG;
        default:
                return reply->status >= 400 && reply->status < 500 ? -EINVAL : -EIO;
        }
}

int api_call(struct cli *cli, const char *method, const char *path, json_t *body, json_t **ret_body,
             int64_t *ret_release_version)
{
        struct api_reply reply = {0};
        int r;

        r = api_request(cli, method, path, body, &reply);
        if (r < 0)
                return r;
        if (reply.status < 200 || reply.status >= 300) {
                r = api_report_error(cli, &reply);
                api_reply_done(&reply);
                return r;
        }
        if (ret_release_version)
                *ret_release_version = reply.release_version;
        if (ret_body)
                *ret_body = TAKE_PTR(reply.body);
        api_reply_done(&reply);
        return 0;
}
