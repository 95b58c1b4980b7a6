/* Choosing, fetching and running buildpacks (SPEC.md section 2). */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "builder/bpspec.h"
#include "builder/build.h"
#include "builder/fsutil.h"
#include "builder/output.h"
#include "builder/releaseyaml.h"
#include "lib/strbuf.h"
#include "lib/util.h"

/* What bin/detect may print: a name, one line. */
#define DETECT_OUTPUT_MAX 4096
#define DETECT_NAME_MAX   100

void buildpack_done(struct buildpack *bp)
{
        free(bp->label);
        free(bp->dir);
        free(bp->name);
        *bp = (struct buildpack){0};
}

DEFINE_TRIVIAL_CLEANUP_FUNC(struct bp_list *, bp_list_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct env_list *, env_list_free);

static int add_buildpack(struct build *b, char *label, char *dir, bool from_url, bool is_self)
{
        struct buildpack *grown;

        grown = reallocarray(b->bps, b->n_bps + 1, sizeof(*grown));
        if (!grown)
                return -ENOMEM;
        b->bps = grown;
        b->bps[b->n_bps++] = (struct buildpack){
            .label = label, .dir = dir, .from_url = from_url, .is_self = is_self};
        return 0;
}

static bool buildpack_usable(const char *dir)
{
        _cleanup_close_ int fd = -EBADF;

        fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return false;
        return executable_at(fd, "bin", "detect") && executable_at(fd, "bin", "compile");
}

static int builtin_dir(struct build *b, const char *name, char **ret)
{
        return asprintf(ret, "%s/%s", b->cfg->buildpacks_dir, name) < 0 ? -ENOMEM : 0;
}

/* A fresh WORK/bp/N for a buildpack we fetch or copy, writable by the app
 * (the fetching runs as the app). */
static int new_fetch_dir(struct build *b, char **ret)
{
        _cleanup_free_ char *dir = NULL, *parent = NULL;
        int r;

        if (asprintf(&parent, "%s/bp", b->work_dir) < 0 ||
            asprintf(&dir, "%s/bp/%u", b->work_dir, b->n_fetched++) < 0)
                return -ENOMEM;
        if (mkdir(parent, 0755) < 0 && errno != EEXIST)
                return -errno;
        if (mkdir(dir, 0700) < 0)
                return -errno;
        if (b->root && chown(dir, b->cfg->uid, b->cfg->uid) < 0) {
                r = -errno;
                return r;
        }
        *ret = TAKE_PTR(dir);
        return 0;
}

/* After the app's uid has filled DIR: make DIR itself root's again (mode
 * 0755), so that nothing in it can be renamed or replaced by a symlink
 * before we bind it into a sandbox (sandbox.h).  Its contents stay the
 * app's, which only ever sees them read-only from then on. */
static int seal_dir(struct build *b, const char *dir)
{
        _cleanup_close_ int fd = -EBADF;

        fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (b->root && fchown(fd, 0, 0) < 0)
                return -errno;
        if (fchmod(fd, 0755) < 0)
                return -errno;
        return 0;
}

/* Runs COMMAND; its output streams to the pusher, or is dropped when
 * quiet.  A non-zero exit is reported (unless quiet) and returns -EIO. */
static int run_simple(struct build *b, const char *bp_dir, bool bp_writable, bool only_bp,
                      const char *const *command, const char *what, bool quiet)
{
        _cleanup_(env_list_freep) struct env_list *env = NULL;
        struct proc_sink out = {.kind = quiet ? SINK_DISCARD : SINK_STREAM};
        struct proc_result res;
        int r;

        r = build_step_env(b, &env);
        if (r < 0)
                return r;
        r = build_sandbox(b, bp_dir, bp_writable, only_bp, env, command, &out, NULL, &res);
        if (r < 0)
                return r;
        if (res.end != PROC_EXITED || res.code != 0) {
                if (!quiet)
                        build_report_exit(what, &res);
                return -EIO;
        }
        return 0;
}

/* Whether parent/name is a directory, not a symlink to one. */
static bool is_real_dir(const char *parent, const char *name)
{
        _cleanup_close_ int fd = -EBADF;
        struct stat st;

        fd = open(parent, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        return fd >= 0 && fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

/* git clone of a buildpack URL, in the sandbox as the app: the network is
 * the app's to use anyway, and git then cannot read anything of the host. */
static int fetch_git(struct build *b, const struct bp_spec *spec, char **ret_dir)
{
        _cleanup_free_ char *top = NULL, *dir = NULL;
        /* Only transports that reach out over the network: file:// or a
         * bare path would read the host's disk, ext:: would run commands. */
#define GIT_PROTOCOLS                                                                              \
        "-c", "protocol.allow=never", "-c", "protocol.https.allow=always", "-c",                   \
            "protocol.http.allow=always", "-c", "protocol.git.allow=always"
        const char *shallow_branch[] = {"git",     GIT_PROTOCOLS, "clone",          "--quiet",
                                        "--depth", "1",           "--branch",       spec->ref,
                                        "--",      spec->url,     "/buildpack/src", NULL};
        const char *shallow[] = {"git", GIT_PROTOCOLS, "clone",   "--quiet",        "--depth",
                                 "1",   "--",          spec->url, "/buildpack/src", NULL};
        const char *full_ref[] = {"git",     GIT_PROTOCOLS,     "clone",
                                  "--quiet", "--no-checkout",   "--",
                                  spec->url, "/buildpack/full", NULL};
        const char *full[] = {"git", GIT_PROTOCOLS, "clone",           "--quiet",
                              "--",  spec->url,     "/buildpack/full", NULL};
#undef GIT_PROTOCOLS
        /* A branch is origin/REF in the clone (REF alone would make git
         * guess a local branch, which --detach refuses); a tag or a commit
         * is REF. */
        _cleanup_free_ char *origin_ref = NULL;
        if (spec->ref && asprintf(&origin_ref, "origin/%s", spec->ref) < 0)
                return -ENOMEM;
        const char *checkout_branch[] = {
            "git",      "-C",      "/buildpack/full", "-c",       "advice.detachedHead=false",
            "checkout", "--quiet", "--detach",        origin_ref, "--",
            NULL};
        const char *checkout[] = {
            "git",      "-C",      "/buildpack/full", "-c",       "advice.detachedHead=false",
            "checkout", "--quiet", "--no-guess",      "--detach", spec->ref,
            "--",       NULL};
        const char *sub = "src";
        int r;

        output_step("Fetching buildpack %s%s%s", spec->url, spec->ref ? "#" : "",
                    spec->ref ? spec->ref : "");
        r = new_fetch_dir(b, &top);
        if (r < 0) {
                output_step("Cannot make a directory for the buildpack: %s", strerror(-r));
                return r;
        }
        r = run_simple(b, top, true, true, spec->ref ? shallow_branch : shallow,
                       "git clone of the buildpack", true);
        if (r == -EIO) {
                /* --branch takes branches and tags only, and some servers
                 * (dumb HTTP) cannot make shallow clones: a full clone,
                 * with its output shown this time, can do both. */
                output_detail("A shallow clone did not work; fetching the whole history");
                r = run_simple(b, top, true, true, spec->ref ? full_ref : full,
                               "git clone of the buildpack", false);
                if (r >= 0 && spec->ref &&
                    run_simple(b, top, true, true, checkout_branch,
                               "git checkout of the buildpack's branch", true) < 0)
                        r = run_simple(b, top, true, true, checkout,
                                       "git checkout of the buildpack's ref", false);
                sub = "full";
        }
        if (r == -EIO)
                output_step("Cannot fetch the buildpack %s", spec->url);
        if (r < 0)
                return r;
        r = seal_dir(b, top);
        if (r < 0) {
                output_step("Cannot take over the fetched buildpack: %s", strerror(-r));
                return r;
        }
        /* git made it a directory; make sure, as it is about to be bound. */
        if (!is_real_dir(top, sub)) {
                output_step("The fetched buildpack is not a directory");
                return -ENOTDIR;
        }
        if (asprintf(&dir, "%s/%s", top, sub) < 0)
                return -ENOMEM;
        *ret_dir = TAKE_PTR(dir);
        return 0;
}

static int add_spec(struct build *b, const struct bp_spec *spec)
{
        _cleanup_free_ char *label = NULL, *dir = NULL;
        int r;

        if (spec->kind == BP_BUILTIN) {
                label = strdup(spec->name);
                if (!label)
                        return -ENOMEM;
                r = builtin_dir(b, spec->name, &dir);
                if (r < 0)
                        return r;
                if (!buildpack_usable(dir)) {
                        output_step("Unknown buildpack %s: pier's built-in buildpacks are "
                                    "python, nodejs, make, static and procfile",
                                    spec->name);
                        return -ENOENT;
                }
        } else {
                if (asprintf(&label, "%s%s%s", spec->url, spec->ref ? "#" : "",
                             spec->ref ? spec->ref : "") < 0)
                        return -ENOMEM;
                r = fetch_git(b, spec, &dir);
                if (r < 0)
                        return r;
                if (!buildpack_usable(dir)) {
                        output_step("The buildpack %s has no executable bin/detect and "
                                    "bin/compile",
                                    label);
                        return -EINVAL;
                }
        }
        r = add_buildpack(b, label, dir, spec->kind == BP_GIT, false);
        if (r < 0)
                return r;
        label = dir = NULL;
        return 0;
}

/* GET /apps/ID/buildpack-installations: the list set with
 * `pier buildpacks:set`, in *ret (empty: none set). */
static int api_buildpacks(struct build *b, struct bp_list **ret)
{
        __attribute__((cleanup(bp_list_freep))) struct bp_list *list = NULL;
        _cleanup_free_ char *path = NULL, *err = NULL;
        json_t *body = NULL, *item;
        long status;
        size_t i;
        int r;

        if (asprintf(&path, "/apps/%s/buildpack-installations", b->cfg->app_id) < 0)
                return -ENOMEM;
        r = api_call(&b->api, "GET", path, NULL, &status, &body, &err);
        if (r < 0) {
                output_step("Cannot read the app's buildpacks: %s", err ? err : strerror(-r));
                return r;
        }
        if (status != 200 || !json_is_array(body)) {
                _cleanup_free_ char *msg = api_error_message(status, body);

                output_step("Cannot read the app's buildpacks: %s", status == 200
                                                                        ? "the answer is not a list"
                                                                    : msg ? msg
                                                                          : "");
                json_decref(body);
                return -EIO;
        }
        list = calloc(1, sizeof(*list));
        if (!list) {
                json_decref(body);
                return -ENOMEM;
        }
        json_array_foreach(body, i, item)
        {
                json_t *bp = json_object_get(item, "buildpack");
                const char *s = json_string_value(json_object_get(bp, "url"));
                _cleanup_free_ char *perr = NULL;
                struct bp_spec spec;

                if (!s || !*s)
                        s = json_string_value(json_object_get(bp, "name"));
                if (!s || !*s)
                        continue;
                r = bp_spec_parse(s, &spec, &perr);
                if (r >= 0) {
                        r = bp_list_push(list, &spec);
                        if (r < 0)
                                bp_spec_done(&spec);
                }
                if (r < 0) {
                        if (r == -ENOMEM)
                                output_step("Out of memory");
                        else if (r == -E2BIG)
                                output_step("The app has more than %d buildpacks", BP_LIST_MAX);
                        else
                                output_step("The app's buildpack %zu cannot be used: %s", i + 1,
                                            perr ? perr : "not valid");
                        json_decref(body);
                        return r;
                }
        }
        json_decref(body);
        *ret = TAKE_PTR(list);
        return 0;
}

/* .buildpacks in the app: one spec a line. ENOENT: there is none. */
static int file_buildpacks(struct build *b, struct bp_list **ret)
{
        _cleanup_free_ char *text = NULL, *err = NULL;
        size_t len;
        int r;

        r = read_file_at(b->app_fd, ".buildpacks", BP_LIST_MAX_SIZE, &text, &len);
        if (r == -ENOENT)
                return r;
        if (r < 0) {
                output_step(".buildpacks cannot be read: %s",
                            r == -ELOOP   ? "it is a symlink; make it a regular file"
                            : r == -EFBIG ? "it is larger than 16 KiB"
                                          : strerror(-r));
                return r == -ENOENT ? -EIO : r;
        }
        r = bp_list_parse(text, len, ret, &err);
        if (r < 0) {
                output_step(".buildpacks: %s", err ? err : strerror(-r));
                return r;
        }
        return 0;
}

/* The app's own bin/detect and bin/compile: a copy of bin/ becomes the
 * buildpack (compile may change /app/bin).  cp runs in the sandbox as the
 * app, so that symlinks in bin/ are never followed with root's eyes. */
static int self_buildpack(struct build *b)
{
        static const char *const cp[] = {"/bin/cp",        "-R", "-P", "--", "/app/bin",
                                         "/buildpack/bin", NULL};
        _cleanup_free_ char *dir = NULL, *label = NULL;
        int r;

        r = new_fetch_dir(b, &dir);
        if (r < 0) {
                output_step("Cannot make a directory for the buildpack: %s", strerror(-r));
                return r;
        }
        r = run_simple(b, dir, true, false, cp, "copying the app's bin/", false);
        if (r < 0)
                return r;
        r = seal_dir(b, dir);
        if (r < 0) {
                output_step("Cannot take over the app's buildpack: %s", strerror(-r));
                return r;
        }
        label = strdup("the app's own bin/");
        if (!label)
                return -ENOMEM;
        r = add_buildpack(b, label, dir, false, true);
        if (r < 0)
                return r;
        label = dir = NULL;
        return 0;
}

/* A name for a buildpack whose bin/detect printed none: the built-in's
 * name, the last part of a git URL, or "Inline" for the app's own. */
static char *default_name(const struct buildpack *bp)
{
        const char *s = bp->label, *end, *slash;

        if (!bp->from_url)
                return strdup(bp->is_self ? "Inline" : bp->label);
        end = s + strcspn(s, "#");
        while (end > s && end[-1] == '/')
                end--;
        if (end - s > 4 && strneq(end - 4, ".git", 4))
                end -= 4;
        slash = end;
        while (slash > s && slash[-1] != '/')
                slash--;
        return end > slash ? strndup(slash, (size_t)(end - slash)) : strdup(bp->label);
}

/* Runs bin/detect; 1 when it applies (bp->name set), 0 when not. */
static int detect(struct build *b, struct buildpack *bp)
{
        static const char *const cmd[] = {"/buildpack/bin/detect", "/app", NULL};
        _cleanup_(env_list_freep) struct env_list *env = NULL;
        struct proc_sink out = {.kind = SINK_CAPTURE, .max = DETECT_OUTPUT_MAX};
        struct proc_sink err = {.kind = SINK_STREAM};
        struct proc_result res;
        size_t n = 0;
        char *name;
        int r;

        r = build_step_env(b, &env);
        if (r < 0)
                return r;
        r = build_sandbox(b, bp->dir, false, false, env, cmd, &out, &err, &res);
        if (r < 0) {
                strbuf_release(&out.buf);
                return r;
        }
        if (res.end != PROC_EXITED || res.code != 0) {
                strbuf_release(&out.buf);
                return 0;
        }
        /* The first line, blanks trimmed, printable ASCII only. */
        if (!out.buf.buf && strbuf_addstr(&out.buf, "") < 0)
                return -ENOMEM;
        name = out.buf.buf;
        name[strcspn(name, "\r\n")] = '\0';
        while (*name == ' ' || *name == '\t')
                name++;
        n = strlen(name);
        while (n > 0 && (name[n - 1] == ' ' || name[n - 1] == '\t'))
                n--;
        n = MIN(n, (size_t)DETECT_NAME_MAX);
        for (size_t i = 0; i < n; i++)
                if ((unsigned char)name[i] < 0x20 || (unsigned char)name[i] >= 0x7f)
                        name[i] = '?';
        bp->name = n > 0 ? strndup(name, n) : default_name(bp);
        strbuf_release(&out.buf);
        if (!bp->name)
                return -ENOMEM;
        return 1;
}

static int compile(struct build *b, struct buildpack *bp)
{
        static const char *const cmd[] = {"/buildpack/bin/compile", "/app", "/cache", "/env", NULL};
        _cleanup_free_ char *what = NULL;
        int r;

        if (asprintf(&what, "Failed to compile %s app: bin/compile", bp->name) < 0)
                return -ENOMEM;
        r = run_simple(b, bp->dir, false, false, cmd, what, false);
        return r;
}

/* A buildpack's `export` file sets up the environment of the ones after
 * it: source it, and keep what changed. */
static int source_export(struct build *b, struct buildpack *bp)
{
        static const char *const cmd[] = {"/bin/sh", "-c", ". /buildpack/export; env -0", NULL};
        _cleanup_(env_list_freep) struct env_list *env = NULL, *changed = NULL;
        struct proc_sink out = {.kind = SINK_CAPTURE, .max = ENV_MAX_SIZE};
        struct proc_sink err = {.kind = SINK_STREAM};
        _cleanup_close_ int fd = -EBADF;
        struct proc_result res;
        struct stat st;
        int r;

        fd = open(bp->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0 || fstatat(fd, "export", &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
                return 0;

        r = build_step_env(b, &env);
        if (r < 0)
                return r;
        r = build_sandbox(b, bp->dir, false, false, env, cmd, &out, &err, &res);
        if (r < 0) {
                strbuf_release(&out.buf);
                return r;
        }
        if (res.end != PROC_EXITED || res.code != 0 || out.overflow) {
                strbuf_release(&out.buf);
                if (out.overflow)
                        output_step("The export file of %s sets more than 1 MiB of variables",
                                    bp->name);
                else
                        build_report_exit("Sourcing the buildpack's export file", &res);
                return -EIO;
        }
        r = env_export_parse(out.buf.buf ? out.buf.buf : "", out.buf.len, env, &changed);
        strbuf_release(&out.buf);
        if (r == -E2BIG) {
                output_step("The export file of %s sets too many variables", bp->name);
                return r;
        }
        if (r >= 0)
                r = env_list_merge(b->exports, changed);
        if (r == -E2BIG)
                output_step("The buildpacks' export files set too many variables");
        return r;
}

/* Picks the buildpack list; explicit ones are fetched here. */
static int choose(struct build *b)
{
        __attribute__((cleanup(bp_list_freep))) struct bp_list *list = NULL;
        static const char *const builtins[] = {BUILTIN_BUILDPACKS};
        int r;

        r = api_buildpacks(b, &list);
        if (r < 0)
                return r;
        if (list->n == 0) {
                list = mfree(list);
                r = file_buildpacks(b, &list);
                if (r < 0 && r != -ENOENT)
                        return r;
        }
        if (list && list->n > 0) {
                b->explicit_bps = true;
                for (size_t i = 0; i < list->n; i++) {
                        r = add_spec(b, &list->specs[i]);
                        if (r < 0)
                                return r;
                }
                return 0;
        }

        if (executable_at(b->app_fd, "bin", "detect") &&
            executable_at(b->app_fd, "bin", "compile")) {
                b->explicit_bps = true;
                return self_buildpack(b);
        }

        for (size_t i = 0; i < ELEMENTSOF(builtins); i++) {
                _cleanup_free_ char *dir = NULL, *label = NULL;

                r = builtin_dir(b, builtins[i], &dir);
                if (r < 0)
                        return r;
                if (!buildpack_usable(dir))
                        continue;
                label = strdup(builtins[i]);
                if (!label)
                        return -ENOMEM;
                r = add_buildpack(b, label, dir, false, false);
                if (r < 0)
                        return r;
                label = dir = NULL;
        }
        return 0;
}

int buildpacks_compile(struct build *b)
{
        int r;

        r = choose(b);
        if (r < 0)
                return r;

        if (!b->explicit_bps) {
                size_t found = b->n_bps;

                for (size_t i = 0; i < b->n_bps && found == b->n_bps; i++) {
                        r = detect(b, &b->bps[i]);
                        if (r < 0)
                                return r;
                        if (r > 0)
                                found = i;
                }
                if (b->n_bps == 0) {
                        output_step("No built-in buildpacks found in %s; pierd's "
                                    "--buildpacks-dir must point at them",
                                    b->cfg->buildpacks_dir);
                        return -ENOENT;
                }
                if (found == b->n_bps) {
                        output_step("No buildpack detected for this app: add a Procfile, or set "
                                    "a buildpack with: pier buildpacks:set NAME-OR-URL");
                        return -ENOENT;
                }
                /* Only the one that applies runs. */
                for (size_t i = 0; i < b->n_bps; i++)
                        if (i != found)
                                buildpack_done(&b->bps[i]);
                b->bps[0] = b->bps[found];
                if (found != 0)
                        b->bps[found] = (struct buildpack){0};
                b->n_bps = 1;
                output_step("%s app detected", b->bps[0].name);
                r = compile(b, &b->bps[0]);
                return r;
        }

        for (size_t i = 0; i < b->n_bps; i++) {
                struct buildpack *bp = &b->bps[i];

                r = detect(b, bp);
                if (r < 0)
                        return r;
                if (r == 0) {
                        output_step("App not compatible with buildpack: %s", bp->label);
                        output_detail("its bin/detect did not accept the app; check that the app "
                                      "has the files this buildpack looks for");
                        return -ENOENT;
                }
                output_step("%s app detected", bp->name);
                r = compile(b, bp);
                if (r < 0)
                        return r;
                if (i + 1 < b->n_bps) {
                        r = source_export(b, bp);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

int buildpacks_release(struct build *b, struct procfile **ret)
{
        static const char *const cmd[] = {"/buildpack/bin/release", "/app", NULL};
        _cleanup_(env_list_freep) struct env_list *env = NULL;
        struct proc_sink out = {.kind = SINK_CAPTURE, .max = RELEASE_YAML_MAX_SIZE};
        struct proc_sink err = {.kind = SINK_STREAM};
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *perr = NULL;
        struct buildpack *bp;
        struct proc_result res;
        int r;

        if (b->n_bps == 0)
                return -EINVAL;
        bp = &b->bps[b->n_bps - 1];
        fd = open(bp->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0 || !executable_at(fd, "bin", "release")) {
                *ret = calloc(1, sizeof(struct procfile));
                return *ret ? 0 : -ENOMEM;
        }

        r = build_step_env(b, &env);
        if (r < 0)
                return r;
        r = build_sandbox(b, bp->dir, false, false, env, cmd, &out, &err, &res);
        if (r < 0) {
                strbuf_release(&out.buf);
                return r;
        }
        if (res.end != PROC_EXITED || res.code != 0) {
                strbuf_release(&out.buf);
                build_report_exit("The buildpack's bin/release", &res);
                return -EIO;
        }
        if (out.overflow) {
                strbuf_release(&out.buf);
                output_step("The buildpack's bin/release printed more than 64 KiB");
                return -EFBIG;
        }
        r = release_yaml_parse(out.buf.buf ? out.buf.buf : "", out.buf.len, ret, &perr);
        strbuf_release(&out.buf);
        if (r < 0)
                output_step("The buildpack's bin/release printed YAML pier cannot read: %s",
                            perr ? perr : strerror(-r));
        return r;
}
