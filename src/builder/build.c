/* The steps of a build, in order (SPEC.md section 2, docs/api.md
 * "Deploys"): work directories, config vars, checkout, .slugignore,
 * buildpacks, process types, slug, release. */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "builder/build.h"
#include "builder/fsutil.h"
#include "builder/output.h"
#include "builder/sandbox.h"
#include "builder/slug.h"
#include "builder/slugignore.h"
#include "lib/base64.h"
#include "lib/names.h"
#include "lib/procfile.h"
#include "lib/rand.h"
#include "lib/strbuf.h"
#include "lib/timefmt.h"
#include "lib/utf8.h"
#include "lib/util.h"

extern char **environ;

/* Heroku: a warning past 300 MB, a failed build past 500 MB (slug.h). */
#define SLUG_WARN_SIZE (UINT64_C(300) * 1024 * 1024)

DEFINE_TRIVIAL_CLEANUP_FUNC(struct env_list *, env_list_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct procfile *, procfile_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct slugignore *, slugignore_free);

/* ---- configuration ------------------------------------------------------ */

static const char *env_required(const char *name, bool *ok)
{
        const char *v = getenv(name);

        if (!v || !*v) {
                output_step("pier-build: %s is not set; this hook runs under pierd, which sets it",
                            name);
                *ok = false;
                return NULL;
        }
        return v;
}

/* An app id goes into paths: letters, digits and dashes only (a UUID). */
static bool app_id_valid(const char *s)
{
        size_t n = strlen(s);

        if (n == 0 || n > 64)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
                      (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
                        return false;
        return true;
}

static bool token_ok(const char *s)
{
        size_t n = 0;

        for (; *s; s++, n++)
                if (*s < 0x21 || *s > 0x7e || n >= 4096)
                        return false;
        return n > 0;
}

int build_config_load(struct build_config *cfg)
{
        const char *uid_s, *timeout_s;
        int64_t v;
        bool ok = true;

        *cfg = (struct build_config){0};
        cfg->api_url = env_required("PIER_API_URL", &ok);
        cfg->token = env_required("PIER_TOKEN", &ok);
        cfg->app_id = env_required("PIER_APP_ID", &ok);
        cfg->app_name = env_required("PIER_APP_NAME", &ok);
        uid_s = env_required("PIER_APP_UID", &ok);
        cfg->home = env_required("PIER_HOME", &ok);
        cfg->buildpacks_dir = env_required("PIER_BUILDPACKS_DIR", &ok);
        cfg->web_url = getenv("PIER_WEB_URL");
        timeout_s = getenv("PIER_BUILD_TIMEOUT");
        const char *max_files_s = getenv("PIER_BUILD_MAX_FILES");
        const char *boot_s = getenv("PIER_BOOT_TIMEOUT");
        if (!ok)
                return -EINVAL;

        if (!token_ok(cfg->token)) {
                output_step("pier-build: PIER_TOKEN holds characters a token cannot have");
                ok = false;
        }
        if (!app_id_valid(cfg->app_id)) {
                output_step("pier-build: PIER_APP_ID must be an app id (a UUID)");
                ok = false;
        }
        if (!app_name_valid(cfg->app_name)) {
                output_step("pier-build: PIER_APP_NAME is not a valid app name");
                ok = false;
        }
        /* Never 0: the build would run as root. */
        if (safe_atoi64(uid_s, &v) < 0 || v <= 0 || v >= UINT32_MAX) {
                output_step("pier-build: PIER_APP_UID must be a uid between 1 and %" PRIu32,
                            UINT32_MAX - 1);
                ok = false;
        } else
                cfg->uid = (uid_t)v;
        if (cfg->home[0] != '/' || cfg->buildpacks_dir[0] != '/') {
                output_step("pier-build: PIER_HOME and PIER_BUILDPACKS_DIR must be absolute paths");
                ok = false;
        }
        cfg->timeout = BUILD_TIMEOUT_DEFAULT;
        if (timeout_s && *timeout_s) {
                if (safe_atoi64(timeout_s, &v) < 0 || v < 1 || v > BUILD_TIMEOUT_MAX) {
                        output_step("pier-build: PIER_BUILD_TIMEOUT must be seconds, 1 to %d",
                                    BUILD_TIMEOUT_MAX);
                        ok = false;
                } else
                        cfg->timeout = (unsigned)v;
        }
        cfg->boot_timeout = 60;
        if (boot_s && *boot_s && safe_atoi64(boot_s, &v) >= 0 && v >= 0 && v <= 86400)
                cfg->boot_timeout = (unsigned)v;
        cfg->max_files = SLUG_MAX_ENTRIES;
        if (max_files_s && *max_files_s) {
                if (safe_atoi64(max_files_s, &v) < 0 || v < 1 || v > SLUG_MAX_ENTRIES) {
                        output_step("pier-build: PIER_BUILD_MAX_FILES must be 1 to %d",
                                    SLUG_MAX_ENTRIES);
                        ok = false;
                } else
                        cfg->max_files = (uint64_t)v;
        }
        return ok ? 0 : -EINVAL;
}

/* ---- the sandbox -------------------------------------------------------- */

int build_step_env(struct build *b, struct env_list **ret)
{
        _cleanup_(env_list_freep) struct env_list *env = env_list_new();
        int r;

        if (!env)
                return -ENOMEM;
        r = env_list_merge(env, b->base_env);
        if (r >= 0)
                r = env_list_merge(env, b->exports);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(env);
        return 0;
}

void build_report_exit(const char *what, const struct proc_result *res)
{
        switch (res->end) {
        case PROC_EXITED:
                output_step("%s exited with status %d", what, res->code);
                break;
        case PROC_SIGNALED:
                output_step("%s was killed by signal %d (%s)", what, res->code,
                            strsignal(res->code));
                break;
        default:
                break;
        }
}

int build_sandbox(struct build *b, const char *buildpack_dir, bool bp_writable, bool only_buildpack,
                  const struct env_list *env, const char *const *command, struct proc_sink *out,
                  struct proc_sink *err, struct proc_result *ret)
{
        struct sandbox sb = {
            .bwrap = b->bwrap,
            .setpriv = b->setpriv,
            .uid = b->cfg->uid,
            .drop = b->root,
            .chdir = only_buildpack ? "/buildpack" : "/app",
            .env = env,
        };
        struct proc p;
        int r;

        if (!only_buildpack) {
                sb.mounts[sb.n_mounts++] = (struct sandbox_mount){b->app_dir, "/app", true};
                sb.mounts[sb.n_mounts++] = (struct sandbox_mount){b->cache_dir, "/cache", true};
                sb.mounts[sb.n_mounts++] = (struct sandbox_mount){b->env_dir, "/env", false};
        }
        if (buildpack_dir)
                sb.mounts[sb.n_mounts++] =
                    (struct sandbox_mount){buildpack_dir, "/buildpack", bp_writable};

        r = sandbox_spawn(&sb, command, err == NULL, &p);
        if (r < 0) {
                output_step("Cannot start the build sandbox (%s): %s", b->bwrap, strerror(-r));
                return r;
        }
        r = proc_pump(&p, out, err, b->deadline, ret);
        if (r < 0) {
                proc_kill(&p);
                output_step("Lost track of the build sandbox: %s", strerror(-r));
                return r;
        }
        if (ret->end == PROC_TIMEOUT)
                return -ETIME;
        if (ret->end == PROC_CANCELLED)
                return -ECANCELED;
        return 0;
}

/* ---- setting up --------------------------------------------------------- */

static int make_dirs(struct build *b)
{
        _cleanup_free_ char *builds = NULL, *caches = NULL;
        _cleanup_close_ int cache_fd = -EBADF;
        uint64_t rnd;
        struct stat st;
        int r;

        r = random_bytes(&rnd, sizeof(rnd));
        if (r < 0)
                return r;
        if (asprintf(&builds, "%s/builds", b->cfg->home) < 0 ||
            asprintf(&caches, "%s/cache", b->cfg->home) < 0 ||
            asprintf(&b->work_dir, "%s/%s-%016" PRIx64, builds, b->cfg->app_id, rnd) < 0 ||
            asprintf(&b->app_dir, "%s/app", b->work_dir) < 0 ||
            asprintf(&b->env_dir, "%s/env", b->work_dir) < 0 ||
            asprintf(&b->cache_dir, "%s/%s", caches, b->cfg->app_id) < 0)
                return -ENOMEM;

        /* Root's, and nobody else's business: builds hold config vars. */
        r = mkdir_p(builds, 0700);
        if (r >= 0)
                r = mkdir_p(caches, 0700);
        if (r < 0) {
                output_step("Cannot make the build directories under %s: %s", b->cfg->home,
                            strerror(-r));
                return r;
        }
        if (mkdir(b->work_dir, 0700) < 0) {
                r = -errno;
                output_step("Cannot make %s: %s", b->work_dir, strerror(-r));
                return r;
        }
        b->work_fd = open(b->work_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (b->work_fd < 0 || mkdirat(b->work_fd, "app", 0755) < 0) {
                r = -errno;
                output_step("Cannot make %s: %s", b->app_dir, strerror(-r));
                return r;
        }
        b->app_fd = openat(b->work_fd, "app", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (b->app_fd < 0) {
                r = -errno;
                output_step("Cannot open %s: %s", b->app_dir, strerror(-r));
                return r;
        }

        if (mkdir(b->cache_dir, 0700) < 0 && errno != EEXIST) {
                r = -errno;
                output_step("Cannot make the build cache %s: %s", b->cache_dir, strerror(-r));
                return r;
        }
        cache_fd = open(b->cache_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (cache_fd < 0 || fstat(cache_fd, &st) < 0) {
                r = -errno;
                output_step("Cannot open the build cache %s: %s", b->cache_dir, strerror(-r));
                return r;
        }
        /* Only the app's builds write the cache, so it is the app's already;
         * a new cache, or one from before a uid change, is handed over. */
        if (b->root && (st.st_uid != b->cfg->uid || st.st_gid != b->cfg->uid)) {
                r = chown_tree(cache_fd, b->cfg->uid, b->cfg->uid);
                if (r == -ELOOP) {
                        output_detail("The build cache is nested too deeply; starting afresh");
                        r = rm_rf_at(AT_FDCWD, b->cache_dir);
                        if (r >= 0 && mkdir(b->cache_dir, 0700) < 0)
                                r = -errno;
                        if (r >= 0 && chown(b->cache_dir, b->cfg->uid, b->cfg->uid) < 0)
                                r = -errno;
                }
                if (r < 0) {
                        output_step("Cannot hand the build cache to the app's uid: %s",
                                    strerror(-r));
                        return r;
                }
        }
        return 0;
}

static int write_all(int fd, const void *buf, size_t n)
{
        const char *p = buf;

        while (n > 0) {
                ssize_t k = write(fd, p, n);

                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += k;
                n -= (size_t)k;
        }
        return 0;
}

/* The config vars, one file each in ENV_DIR (file name = key, content =
 * the value's bytes), as bin/compile expects them. */
static int write_env_dir(struct build *b)
{
        _cleanup_free_ char *path = NULL, *err = NULL;
        _cleanup_close_ int dir_fd = -EBADF;
        json_t *body = NULL, *value;
        const char *key;
        long status;
        int r;

        if (asprintf(&path, "/apps/%s/config-vars", b->cfg->app_id) < 0)
                return -ENOMEM;
        r = api_call(&b->api, "GET", path, NULL, &status, &body, &err);
        if (r < 0) {
                output_step("Cannot read the app's config vars: %s", err ? err : strerror(-r));
                return r;
        }
        if (status != 200 || !json_is_object(body)) {
                _cleanup_free_ char *msg = api_error_message(status, body);

                output_step("Cannot read the app's config vars: %s",
                            status == 200 ? "the answer is not an object"
                            : msg         ? msg
                                          : "");
                json_decref(body);
                return -EIO;
        }

        if (mkdirat(b->work_fd, "env", 0700) < 0 ||
            (dir_fd = openat(b->work_fd, "env", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) <
                0) {
                r = -errno;
                output_step("Cannot make %s: %s", b->env_dir, strerror(-r));
                json_decref(body);
                return r;
        }

        json_object_foreach(body, key, value)
        {
                _cleanup_free_ void *decoded = NULL;
                _cleanup_close_ int fd = -EBADF;
                const void *data;
                size_t len;

                if (!config_key_valid(key)) {
                        output_detail("Skipping the config var %.64s: not a usable name", key);
                        continue;
                }
                if (json_is_string(value)) {
                        data = json_string_value(value);
                        len = json_string_length(value);
                } else {
                        json_t *b64 = json_object_get(value, "base64");

                        if (!json_is_string(b64) ||
                            base64_decode(json_string_value(b64), json_string_length(b64), &decoded,
                                          &len) < 0) {
                                output_step("The config var %s came in a form pier-build does "
                                            "not know",
                                            key);
                                json_decref(body);
                                return -EINVAL;
                        }
                        data = decoded;
                }
                fd =
                    openat(dir_fd, key, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
                r = fd < 0 ? -errno : write_all(fd, data, len);
                if (r >= 0 && b->root && fchown(fd, b->cfg->uid, b->cfg->uid) < 0)
                        r = -errno;
                if (r < 0) {
                        output_step("Cannot write the config var %s for the build: %s", key,
                                    strerror(-r));
                        json_decref(body);
                        return r;
                }
        }
        json_decref(body);
        if (b->root && fchown(dir_fd, b->cfg->uid, b->cfg->uid) < 0) {
                r = -errno;
                output_step("Cannot hand %s to the app's uid: %s", b->env_dir, strerror(-r));
                return r;
        }
        return 0;
}

static bool extract_cancelled(void *userdata)
{
        struct build *b = userdata;

        return proc_cancelled() || mono_usec() >= b->deadline;
}

/* `git archive` of the pushed commit, unpacked into /app. */
static int checkout(struct build *b)
{
        char *const argv[] = {(char *)"git", (char *)"archive", (char *)"--format=tar", b->commit,
                              NULL};
        struct proc_spec spec = {
            .path = b->git,
            .argv = argv,
            .envp = environ, /* GIT_DIR and the quarantine: the pushed objects */
            .cwd_fd = -1,
            .out = PROC_IO_PIPE,
            .err = PROC_IO_INHERIT,
        };
        _cleanup_free_ char *err = NULL;
        struct slug_opts opts;
        struct proc_result res;
        struct proc p;
        int r;

        r = proc_spawn(&spec, &p);
        if (r < 0) {
                output_step("Cannot run git archive: %s", strerror(-r));
                return r;
        }
        /* libarchive reads with blocking read(2). */
        (void)fcntl(p.out_fd, F_SETFL, 0);

        slug_opts_init(&opts);
        opts.max_entries = b->cfg->max_files;
        opts.cancelled = extract_cancelled;
        opts.userdata = b;
        r = slug_extract_fd(p.out_fd, b->app_dir, &opts, &err);
        if (r < 0) {
                proc_kill(&p);
                if (r == -ECANCELED)
                        return mono_usec() >= b->deadline ? -ETIME : -ECANCELED;
                output_step("The pushed commit cannot be unpacked: %s", err ? err : strerror(-r));
                if (r == -E2BIG || r == -EFBIG)
                        output_detail("pier builds apps of at most %" PRIu64 " files and %" PRIu64
                                      " MiB; keep large data out of the repository",
                                      b->cfg->max_files, (uint64_t)(SLUG_MAX_BYTES >> 20));
                return r;
        }
        r = proc_wait(&p, &res);
        if (r < 0)
                return r;
        if (res.end != PROC_EXITED || res.code != 0) {
                build_report_exit("git archive", &res);
                return -EIO;
        }
        return 0;
}

struct ignore_walk {
        const struct slugignore *si;
        size_t removed;
        int error;
};

static int ignore_one(int dir_fd, const char *name, const char *path, const struct stat *st,
                      void *userdata)
{
        struct ignore_walk *w = userdata;
        int r;

        if (!slugignore_match(w->si, path, S_ISDIR(st->st_mode)))
                return WALK_CONTINUE;
        r = rm_rf_at(dir_fd, name);
        if (r < 0)
                return r;
        w->removed++;
        return WALK_SKIP;
}

static int apply_slugignore(struct build *b)
{
        __attribute__((cleanup(slugignore_freep))) struct slugignore *si = NULL;
        _cleanup_free_ char *text = NULL, *err = NULL;
        struct ignore_walk w = {0};
        size_t len;
        int r;

        r = read_file_at(b->app_fd, ".slugignore", SLUGIGNORE_MAX_SIZE, &text, &len);
        if (r == -ENOENT)
                return 0;
        if (r < 0) {
                output_step(".slugignore cannot be read: %s",
                            r == -ELOOP   ? "it is a symlink; make it a regular file"
                            : r == -EFBIG ? "it is larger than 64 KiB"
                                          : strerror(-r));
                return r;
        }
        r = slugignore_parse(text, len, &si, &err);
        if (r < 0) {
                output_step(".slugignore: %s", err ? err : strerror(-r));
                return r;
        }
        if (si->n_negations > 0)
                output_detail(".slugignore: lines starting with '!' are not supported and were "
                              "ignored");
        w.si = si;
        r = walk_tree(b->app_fd, ignore_one, &w);
        if (r < 0) {
                output_step("Cannot apply .slugignore: %s",
                            r == -ELOOP ? "the app's directories are nested too deeply"
                                        : strerror(-r));
                return r;
        }
        if (w.removed > 0)
                output_step("Removed %zu %s matched by .slugignore", w.removed,
                            w.removed == 1 ? "path" : "paths");
        return 0;
}

static int make_base_env(struct build *b)
{
        static const struct {
                const char *name, *value;
        } fixed[] = {
            {"STACK", "debian-12"},
            {"HOME", "/app"},
            {"PATH", "/usr/local/bin:/usr/bin:/bin"},
            {"LANG", "C.UTF-8"},
        };
        int r = 0;

        b->base_env = env_list_new();
        b->exports = env_list_new();
        if (!b->base_env || !b->exports)
                return -ENOMEM;
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(fixed); i++)
                r = env_list_set(b->base_env, fixed[i].name, fixed[i].value,
                                 strlen(fixed[i].value));
        if (r >= 0)
                r = env_list_set(b->base_env, "SOURCE_VERSION", b->commit, strlen(b->commit));
        if (r >= 0)
                r = env_list_set(b->base_env, "REQUEST_ID", b->request_id, strlen(b->request_id));
        return r;
}

/* ---- after compile ------------------------------------------------------ */

static void print_types(const char *what, const struct procfile *pf)
{
        struct strbuf sb = STRBUF_INIT;

        for (size_t i = 0; i < pf->n; i++)
                if ((i > 0 && strbuf_addstr(&sb, ", ") < 0) ||
                    strbuf_addstr(&sb, pf->entries[i].type) < 0) {
                        strbuf_release(&sb);
                        return;
                }
        output_detail("%s -> %s", what, sb.len > 0 ? sb.buf : "(none)");
        strbuf_release(&sb);
}

static int add_type(struct procfile *pf, const char *type, const char *command)
{
        struct procfile_entry *grown;
        char *t, *c;

        t = strdup(type);
        c = strdup(command);
        grown = t && c ? reallocarray(pf->entries, pf->n + 1, sizeof(*grown)) : NULL;
        if (!grown) {
                free(t);
                free(c);
                return -ENOMEM;
        }
        pf->entries = grown;
        pf->entries[pf->n++] = (struct procfile_entry){t, c};
        return 0;
}

/* The Procfile's types, plus the last buildpack's defaults for the types
 * it lacks. */
static int process_types(struct build *b)
{
        __attribute__((cleanup(procfile_freep))) struct procfile *pf = NULL, *defaults = NULL;
        _cleanup_free_ char *text = NULL, *err = NULL;
        size_t len;
        int r;

        r = buildpacks_release(b, &defaults);
        if (r < 0)
                return r;

        output_step("Discovering process types");
        r = read_file_at(b->app_fd, "Procfile", PROCFILE_MAX_SIZE, &text, &len);
        if (r == -ENOENT) {
                pf = calloc(1, sizeof(*pf));
                if (!pf)
                        return -ENOMEM;
        } else if (r < 0) {
                output_step("Procfile error: %s",
                            r == -ELOOP    ? "the Procfile is a symlink; make it a regular file"
                            : r == -EFBIG  ? "the Procfile is larger than 64 KiB"
                            : r == -EISDIR ? "Procfile is a directory"
                                           : strerror(-r));
                return r;
        } else {
                r = procfile_parse(text, len, &pf, &err);
                if (r < 0) {
                        output_step("Procfile error: %s", err ? err : strerror(-r));
                        return r;
                }
        }

        print_types("Procfile declares types", pf);
        if (defaults->n > 0)
                print_types("Default types for buildpack", defaults);

        for (size_t i = 0; i < defaults->n; i++) {
                if (procfile_get(pf, defaults->entries[i].type))
                        continue;
                if (pf->n >= PROCFILE_MAX_ENTRIES)
                        break;
                r = add_type(pf, defaults->entries[i].type, defaults->entries[i].command);
                if (r < 0)
                        return r;
        }
        /* They travel to pierd as JSON strings. */
        for (size_t i = 0; i < pf->n; i++)
                if (!utf8_valid(pf->entries[i].command, strlen(pf->entries[i].command))) {
                        output_step("Procfile error: the command of %s is not valid UTF-8",
                                    pf->entries[i].type);
                        return -EINVAL;
                }
        b->process_types = TAKE_PTR(pf);
        return 0;
}

static void format_size(uint64_t bytes, char buf[static 32])
{
        if (bytes < UINT64_C(1024) * 1024)
                (void)snprintf(buf, 32, "%.1fK", (double)bytes / 1024);
        else if (bytes < UINT64_C(1024) * 1024 * 1024)
                (void)snprintf(buf, 32, "%.1fM", (double)bytes / (1024 * 1024));
        else
                (void)snprintf(buf, 32, "%.1fG", (double)bytes / (1024 * 1024 * 1024));
}

static int make_slug(struct build *b)
{
        _cleanup_free_ char *dir = NULL, *err = NULL;
        struct slug_opts opts;
        char size[32];
        int r;

        /* The buildpacks may have made one; it never ships. */
        r = rm_rf_at(b->app_fd, ".git");
        if (r < 0) {
                output_step("Cannot remove .git from the app: %s", strerror(-r));
                return r;
        }

        r = uuid_v4(b->slug_id);
        if (r < 0)
                return r;
        if (asprintf(&dir, "%s/slugs/%s", b->cfg->home, b->cfg->app_id) < 0 ||
            asprintf(&b->slug_path, "%s/%s.tar.zst", dir, b->slug_id) < 0)
                return -ENOMEM;
        r = mkdir_p(dir, 0700);
        if (r < 0) {
                output_step("Cannot make %s: %s", dir, strerror(-r));
                return r;
        }

        slug_opts_init(&opts);
        opts.max_entries = b->cfg->max_files;
        opts.cancelled = extract_cancelled;
        opts.userdata = b;
        r = slug_pack(b->app_dir, b->slug_path, &opts, &b->slug_size, &err);
        if (r < 0) {
                b->slug_path = mfree(b->slug_path);
                if (r == -ECANCELED)
                        return mono_usec() >= b->deadline ? -ETIME : -ECANCELED;
                output_step("Cannot make the slug: %s", err ? err : strerror(-r));
                if (r == -EFBIG || r == -E2BIG)
                        output_detail("Keep build artefacts and data out of /app, or list them "
                                      "in .slugignore");
                return r;
        }
        format_size(b->slug_size, size);
        if (b->slug_size > SLUG_WARN_SIZE) {
                output_step("Warning: Your slug size (%s) exceeds the soft limit (300M), "
                            "which slows down starting dynos",
                            size);
        }
        output_step("Compiled slug size is %s", size);
        return 0;
}

static int wait_for_web(struct build *b);

/* Prints the lines of the release's release command from the app's log:
 * those of the dyno that pierd's app[api] line "Running release command
 * for vN as release.NNNN" names (*dyno, once found), after the line
 * *cursor, and moves the cursor to the newest line.  When the cursor is
 * gone from the log's last 1,500 lines, more came at once than it keeps:
 * said once. */
static void print_release_output(struct build *b, const char *lpath, char **cursor,
                                 char dyno[static 32], bool *told_missing)
{
        long status = 0;
        json_t *reply = NULL;
        char *err = NULL;
        int r = api_call(&b->api, "GET", lpath, NULL, &status, &reply, &err);
        free(err);
        if (r < 0 || status != 200 || !json_is_array(reply)) {
                json_decref(reply);
                return;
        }
        size_t n = json_array_size(reply), start = 0;
        bool found = !*cursor;
        for (size_t i = n; !found && i-- > 0;)
                if (streq(json_string_value(json_array_get(reply, i)) ?: "", *cursor)) {
                        start = i + 1;
                        found = true;
                }
        if (!found && dyno[0] && !*told_missing) {
                output_detail("(some lines may be missing here: more came at once than the log "
                              "keeps)");
                *told_missing = true;
        }
        char marker[80], prefix[48];
        snprintf(marker, sizeof(marker), " app[api]: " RELEASE_COMMAND_EVENT, b->release_version);
        snprintf(prefix, sizeof(prefix), " app[%s]: ", dyno);
        for (size_t i = start; i < n; i++) {
                const char *l = json_string_value(json_array_get(reply, i));
                const char *sp = l ? strchr(l, ' ') : NULL;
                if (!sp)
                        continue;
                if (!dyno[0]) {
                        size_t mlen = strlen(marker);
                        if (strncmp(sp, marker, mlen) == 0 && strlen(sp + mlen) < 32) {
                                snprintf(dyno, 32, "%s", sp + mlen);
                                snprintf(prefix, sizeof(prefix), " app[%s]: ", dyno);
                        }
                        continue;
                }
                if (strncmp(sp, prefix, strlen(prefix)) == 0)
                        output_detail("%s", sp + strlen(prefix));
        }
        if (n > 0) {
                char *c = strdup(json_string_value(json_array_get(reply, n - 1)) ?: "");
                if (c) {
                        free(*cursor);
                        *cursor = c;
                }
        }
        json_decref(reply);
}

/* SPEC §3: the release is pending while its release command runs; its
 * output goes to the pusher.  0 when it succeeded. */
static int wait_for_release_command(struct build *b)
{
        _cleanup_free_ char *lpath = NULL, *rpath = NULL, *cursor = NULL;
        char dyno[32] = "";
        bool told_missing = false;
        if (asprintf(&lpath, "/apps/%s/log-lines?lines=1500", b->cfg->app_id) < 0 ||
            asprintf(&rpath, "/apps/%s/releases/%" PRId64, b->cfg->app_id, b->release_version) <
                    0)
                return -ENOMEM;
        output_step("Running release command...");
        unsigned errors = 0;
        for (;;) {
                print_release_output(b, lpath, &cursor, dyno, &told_missing);
                long status = 0;
                json_t *reply = NULL;
                char *err = NULL;
                int r = api_call(&b->api, "GET", rpath, NULL, &status, &reply, &err);
                free(err);
                const char *st = json_string_value(json_object_get(reply, "status"));
                bool done = r >= 0 && status == 200 && st && !streq(st, "pending");
                bool ok = done && streq(st, "succeeded");
                if (r < 0 || status != 200 || !st)
                        errors++;
                json_decref(reply);
                if (done) {
                        /* The dyno's last lines were logged before it was
                         * marked: print them too. */
                        print_release_output(b, lpath, &cursor, dyno, &told_missing);
                        if (!ok) {
                                output_step("Release command failed");
                                output_detail("v%" PRId64 " is failed; the previous release "
                                              "keeps running",
                                              b->release_version);
                                return -ECHILD;
                        }
                        return 0;
                }
                if (errors > 100) {
                        output_step("Release command failed: pierd does not answer");
                        return -EIO;
                }
                usleep(100 * 1000);
        }
}

static int post_release(struct build *b)
{
        _cleanup_free_ char *path = NULL, *err = NULL;
        json_t *types, *body = NULL, *reply = NULL, *version;
        const char *buildpack;
        char description[32];
        long status;
        int r;

        types = json_object();
        if (!types)
                return -ENOMEM;
        for (size_t i = 0; i < b->process_types->n; i++)
                if (json_object_set_new(types, b->process_types->entries[i].type,
                                        json_string(b->process_types->entries[i].command)) < 0) {
                        json_decref(types);
                        return -ENOMEM;
                }
        buildpack = b->n_bps > 0 && b->bps[b->n_bps - 1].name ? b->bps[b->n_bps - 1].name : "";
        (void)snprintf(description, sizeof(description), "Deploy %.7s", b->commit);
        body = json_pack("{s:{s:s, s:s, s:I, s:o, s:s}, s:s}", "slug", "id", b->slug_id, "commit",
                         b->commit, "size", (json_int_t)b->slug_size, "process_types", types,
                         "buildpack", buildpack, "description", description);
        if (!body)
                return -ENOMEM;
        if (asprintf(&path, "/apps/%s/releases", b->cfg->app_id) < 0) {
                json_decref(body);
                return -ENOMEM;
        }

        r = api_call(&b->api, "POST", path, body, &status, &reply, &err);
        json_decref(body);
        if (r < 0) {
                output_step("Launching failed: %s", err ? err : strerror(-r));
                return r;
        }
        version = json_object_get(reply, "version");
        if (status != 201 || !json_is_integer(version)) {
                _cleanup_free_ char *msg = api_error_message(status, reply);

                output_step("Launching failed: %s", status == 201
                                                        ? "pierd's answer has no release version"
                                                    : msg ? msg
                                                          : "");
                json_decref(reply);
                return -EIO;
        }
        b->release_version = json_integer_value(version);
        bool pending = json_is_string(json_object_get(reply, "status")) &&
                       streq(json_string_value(json_object_get(reply, "status")), "pending");
        json_decref(reply);
        /* The release command first (its own step), then "Launching..."
         * until the web dynos are up. */
        if (pending) {
                r = wait_for_release_command(b);
                if (r < 0)
                        return r; /* pierd marked it failed */
        }
        output_step_begin("Launching...");
        r = wait_for_web(b);
        if (r < 0) {
                /* The previous release stays current: this one is failed. */
                _cleanup_free_ char *rpath = NULL;
                json_t *patch = json_pack("{s:s}", "status", "failed");
                if (patch && asprintf(&rpath, "/apps/%s/releases/%" PRId64, b->cfg->app_id,
                                      b->release_version) >= 0) {
                        json_t *ignored = NULL;
                        char *e = NULL;
                        (void)api_call(&b->api, "PATCH", rpath, patch, &status, &ignored, &e);
                        json_decref(ignored);
                        free(e);
                }
                json_decref(patch);
                return r;
        }
        output_step_end(" done, v%" PRId64, b->release_version);
        if (b->cfg->web_url && *b->cfg->web_url)
                output_detail("%s deployed to pier", b->cfg->web_url);
        return 0;
}

static const char *still_serving(json_int_t old_up)
{
        return old_up ? "the previous release keeps serving"
                      : "no earlier release is up to serve instead";
}

/* The web dynos of the new release are up: only then is the push done
 * (SPEC §4, preboot).  When they do not come up, the old ones keep serving
 * and the push says so. */
static int wait_for_web(struct build *b)
{
        _cleanup_free_ char *fpath = NULL, *dpath = NULL;
        if (asprintf(&fpath, "/apps/%s/formation", b->cfg->app_id) < 0 ||
            asprintf(&dpath, "/apps/%s/dynos", b->cfg->app_id) < 0)
                return -ENOMEM;
        long status = 0;
        json_t *reply = NULL;
        char *err = NULL;
        int r = api_call(&b->api, "GET", fpath, NULL, &status, &reply, &err);
        free(err);
        json_int_t want = 0;
        size_t i;
        json_t *it;
        if (r >= 0 && status == 200 && json_is_array(reply))
                json_array_foreach(reply, i, it) {
                        if (json_is_string(json_object_get(it, "type")) &&
                            streq(json_string_value(json_object_get(it, "type")), "web") &&
                            json_is_string(json_object_get(it, "command")))
                                want = json_integer_value(json_object_get(it, "quantity"));
                }
        json_decref(reply);
        if (want <= 0)
                return 0; /* nothing to wait for */

        int64_t start = mono_usec(),
                deadline = start + (int64_t)(b->cfg->boot_timeout + 15) * 1000000;
        bool hinted = false;
        json_int_t old_up = 0;
        while (mono_usec() < deadline) {
                /* A long wait says what it waits for (a web process that
                 * listens on another port than $PORT is the usual cause). */
                if (!hinted && mono_usec() - start > 10 * 1000000) {
                        output_detail("waiting for the web dynos to listen on $PORT: they have "
                                      "%u s (then Error R10)",
                                      b->cfg->boot_timeout);
                        output_step_begin("Launching...");
                        hinted = true;
                }
                reply = NULL;
                err = NULL;
                r = api_call(&b->api, "GET", dpath, NULL, &status, &reply, &err);
                free(err);
                json_int_t up = 0;
                const char *crashed = NULL;
                old_up = 0;
                if (r >= 0 && status == 200 && json_is_array(reply))
                        json_array_foreach(reply, i, it) {
                                json_t *rel = json_object_get(json_object_get(it, "release"),
                                                              "version");
                                const char *type = json_string_value(json_object_get(it, "type"));
                                const char *state =
                                        json_string_value(json_object_get(it, "state"));
                                /* A newer release (a config change made
                                 * meanwhile) replaces ours: its dynos do. */
                                json_int_t v = json_integer_value(rel);
                                if (type && state && streq(type, "web") && v < b->release_version &&
                                    streq(state, "up"))
                                        old_up++;
                                if (!type || !state || !streq(type, "web") ||
                                    v < b->release_version)
                                        continue;
                                if (streq(state, "up"))
                                        up++;
                                else if (streq(state, "crashed") && !crashed &&
                                         v == b->release_version)
                                        crashed = json_string_value(json_object_get(it, "name"));
                        }
                if (crashed) {
                        output_step_end(" failed: %s of v%" PRId64 " crashed while starting; %s",
                                        crashed, b->release_version, still_serving(old_up));
                        output_detail("see why with: pier logs -a %s", b->cfg->app_name);
                        json_decref(reply);
                        return -ECHILD;
                }
                json_decref(reply);
                if (up >= want)
                        return 0;
                usleep(50 * 1000);
        }
        output_step_end(" failed: the web dynos of v%" PRId64 " did not come up; %s",
                        b->release_version, still_serving(old_up));
        output_detail("see why with: pier logs -a %s", b->cfg->app_name);
        return -ETIMEDOUT;
}

/* ---- the whole -------------------------------------------------------- */

static int find_tools(struct build *b)
{
        static const char *const names[] = {"git", "bwrap", "setpriv"};
        char **slots[] = {&b->git, &b->bwrap, &b->setpriv};

        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                int r = find_program(names[i], slots[i]);

                if (r == -ENOENT) {
                        output_step("pier-build needs %s, which is not installed (apt-get install "
                                    "%s)",
                                    names[i],
                                    streq(names[i], "bwrap")     ? "bubblewrap"
                                    : streq(names[i], "setpriv") ? "util-linux"
                                                                 : names[i]);
                        return r;
                }
                if (r < 0)
                        return r;
        }
        return 0;
}

static void build_free(struct build *b)
{
        if (b->app_fd >= 0)
                (void)close(b->app_fd);
        if (b->work_fd >= 0)
                (void)close(b->work_fd);
        if (b->work_dir) {
                int r = rm_rf_at(AT_FDCWD, b->work_dir);

                if (r < 0)
                        output_detail("(could not remove the build directory %s: %s)", b->work_dir,
                                      strerror(-r));
        }
        for (size_t i = 0; i < b->n_bps; i++)
                buildpack_done(&b->bps[i]);
        free(b->bps);
        env_list_free(b->base_env);
        env_list_free(b->exports);
        procfile_free(b->process_types);
        free(b->slug_path);
        free(b->work_dir);
        free(b->app_dir);
        free(b->env_dir);
        free(b->cache_dir);
        free(b->git);
        free(b->bwrap);
        free(b->setpriv);
        api_done(&b->api);
}

/* "Build started by USER" / "Build failed" in the app's log (the output
 * itself goes to the push only, as on Heroku).  Best effort. */
static void report_build(struct build *b, const char *event)
{
        _cleanup_free_ char *path = NULL, *err = NULL;
        json_t *body = json_pack("{s:s}", "event", event), *reply = NULL;
        long status;
        if (body && b->api.curl && asprintf(&path, "/apps/%s/build-events", b->cfg->app_id) >= 0)
                (void)api_call(&b->api, "POST", path, body, &status, &reply, &err);
        json_decref(body);
        json_decref(reply);
}

static int build_steps(struct build *b)
{
        int r;

        r = find_tools(b);
        if (r < 0)
                return r;
        r = api_init(&b->api, b->cfg->api_url, b->cfg->token);
        if (r < 0)
                return r;
        report_build(b, "started");
        r = uuid_v4(b->request_id);
        if (r < 0)
                return r;
        r = make_base_env(b);
        if (r < 0)
                return r;

        output_step("Building %s from %.7s...", b->cfg->app_name, b->commit);
        r = make_dirs(b);
        if (r < 0)
                return r;
        r = write_env_dir(b);
        if (r < 0)
                return r;
        r = checkout(b);
        if (r < 0)
                return r;
        r = apply_slugignore(b);
        if (r < 0)
                return r;
        if (b->root) {
                r = chown_tree(b->app_fd, b->cfg->uid, b->cfg->uid);
                if (r < 0) {
                        output_step("Cannot hand the app's files to its uid: %s",
                                    r == -ELOOP ? "the directories are nested too deeply"
                                                : strerror(-r));
                        return r;
                }
        }
        r = buildpacks_compile(b);
        if (r < 0)
                return r;
        r = process_types(b);
        if (r < 0)
                return r;
        if (proc_cancelled())
                return -ECANCELED;
        r = make_slug(b);
        if (r < 0)
                return r;
        if (proc_cancelled())
                return -ECANCELED;
        return post_release(b);
}

int build_run(const struct build_config *cfg, const char *commit)
{
        struct build b = {
            .cfg = cfg,
            .root = geteuid() == 0,
            .work_fd = -EBADF,
            .app_fd = -EBADF,
            .deadline = mono_usec() + (int64_t)cfg->timeout * USEC_PER_SEC,
        };
        int r;

        if (strlen(commit) >= sizeof(b.commit))
                return -EINVAL;
        memcpy(b.commit, commit, strlen(commit) + 1);

        r = build_steps(&b);
        if (r == -ETIME)
                output_step("Build timed out after %u seconds", cfg->timeout);
        else if (r == -ECANCELED)
                output_step("Build cancelled");
        else if (r == -ENOMEM)
                output_step("Out of memory");
        if (r < 0) {
                /* A release made of it (failed in its release phase or
                 * launch) keeps its slug, as its record says. */
                if (b.slug_path && b.release_version <= 0)
                        (void)unlink(b.slug_path);
                /* The build itself may have gone well: then the release
                 * (its release command, its dynos) is what failed. */
                if (b.release_version > 0)
                        output_step("Push rejected: v%" PRId64 " failed", b.release_version);
                else
                        output_step("Build failed");
                report_build(&b, "failed");
        }
        build_free(&b);
        return r;
}
