/* pierd: the control plane.  One process, one event loop: the HTTP API
 * (libmicrohttpd on the loop), the state store, and — as later parts land —
 * the builder, the dyno supervisor and the log hub. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dyno/cgroup.h"
#include "lib/log.h"
#include "lib/rand.h"
#include "lib/sha256.h"
#include "lib/util.h"
#include "net/loop.h"
#include "pierd/api.h"
#include "pierd/drains.h"
#include "pierd/loghub.h"
#include "pierd/routerd.h"
#include "store/store.h"

#define DEFAULT_LISTEN        "127.0.0.1:5000"
#define DEFAULT_ROUTER_LISTEN "127.0.0.1:8080"
#define DEFAULT_DOMAIN        "localhost"
#define DRAINS_FLUSH_MS       2000 /* at shutdown, for lines not yet sent */

struct options {
        char *home;
        const char *listen;
        const char *router_listen;
        const char *domain;
        const char *public_url;
        const char *buildpacks_dir;
        const char *drain_ca_file;
        unsigned build_timeout;
        unsigned build_max_files;
        uint16_t port_min, port_max;
        unsigned boot_timeout, stop_timeout;     /* seconds */
        unsigned release_timeout;                /* seconds */
        unsigned backoff_ms, backoff_max_ms, backoff_reset_ms;
        bool no_router;
        bool unisolated;
        unsigned router_workers;
};

static void usage(FILE *f)
{
        fprintf(f,
                "Usage: pierd [OPTIONS]\n"
                "\n"
                "The pier control plane: API, state store, builds, dynos, logs.\n"
                "\n"
                "  --home DIR             state directory (default $PIER_HOME, else\n"
                "                         ~/.local/share/pier)\n"
                "  --listen ADDR:PORT     API address (default " DEFAULT_LISTEN ")\n"
                "  --router-listen ADDR:PORT\n"
                "                         router address apps are served on (default " DEFAULT_ROUTER_LISTEN ")\n"
                "  --router-workers N     router worker processes (default: one per CPU)\n"
                "  --no-router            do not start pier-router (run it yourself)\n"
                "  --domain DOMAIN        apps are APP.DOMAIN (default " DEFAULT_DOMAIN ")\n"
                "  --public-url URL       how clients reach the API, if not the listen address\n"
                "  --buildpacks-dir DIR   the built-in buildpacks (default: next to pierd)\n"
                "  --build-timeout SECS   a build fails after this long (default 900)\n"
                "  --build-max-files N    a pushed commit may have at most N files\n"
                "                         (default 200000)\n"
                "  --dyno-ports MIN-MAX   ports for web dynos (default 40000-49999)\n"
                "  --boot-timeout SECS    a web dyno must bind $PORT within this (default 60)\n"
                "  --stop-timeout SECS    SIGKILL this long after SIGTERM (default 30)\n"
                "  --release-timeout SECS a release command is killed (and its release\n"
                "                         fails) after this long (default 3600)\n"
                "  --crash-backoff MS     wait before the 2nd restart of a crashing dyno,\n"
                "                         doubling after each crash (default 10000)\n"
                "  --crash-backoff-max MS the longest wait (default 300000)\n"
                "  --crash-backoff-reset MS  a dyno up this long starts its back-off\n"
                "                         afresh when it crashes (default 600000)\n"
                "  --drain-ca-file FILE   CA certificates (PEM) that syslog+tls:// and\n"
                "                         https:// log drains are checked against\n"
                "                         (default: the system's)\n"
                "  --unisolated           run dynos as plain processes, without sandboxes\n"
                "                         (what pierd does anyway when it cannot make them)\n"
                "  --version              print the version\n"
                "  -h, --help             this help\n");
}

/* $PIER_HOME, else $XDG_DATA_HOME/pier, else ~/.local/share/pier. */
static int default_home(char **ret)
{
        const char *e = getenv("PIER_HOME");
        if (e && *e)
                return (*ret = strdup(e)) ? 0 : -ENOMEM;
        e = getenv("XDG_DATA_HOME");
        if (e && *e)
                return asprintf(ret, "%s/pier", e) < 0 ? -ENOMEM : 0;
        e = getenv("HOME");
        if (!e || !*e) {
                struct passwd *pw = getpwuid(getuid());
                if (!pw)
                        return -ENOENT;
                e = pw->pw_dir;
        }
        return asprintf(ret, "%s/.local/share/pier", e) < 0 ? -ENOMEM : 0;
}

static int parse_args(int argc, char **argv, struct options *o)
{
        enum { ARG_HOME = 0x100, ARG_LISTEN, ARG_ROUTER_LISTEN, ARG_DOMAIN, ARG_PUBLIC_URL,
               ARG_BUILDPACKS_DIR, ARG_BUILD_TIMEOUT, ARG_BUILD_MAX_FILES, ARG_DYNO_PORTS,
               ARG_BOOT_TIMEOUT, ARG_STOP_TIMEOUT, ARG_BACKOFF, ARG_BACKOFF_MAX, ARG_BACKOFF_RESET, ARG_NO_ROUTER,
               ARG_ROUTER_WORKERS, ARG_RELEASE_TIMEOUT, ARG_DRAIN_CA_FILE, ARG_UNISOLATED, ARG_VERSION };
        static const struct option longopts[] = {
                {"home", required_argument, NULL, ARG_HOME},
                {"listen", required_argument, NULL, ARG_LISTEN},
                {"router-listen", required_argument, NULL, ARG_ROUTER_LISTEN},
                {"domain", required_argument, NULL, ARG_DOMAIN},
                {"public-url", required_argument, NULL, ARG_PUBLIC_URL},
                {"buildpacks-dir", required_argument, NULL, ARG_BUILDPACKS_DIR},
                {"build-timeout", required_argument, NULL, ARG_BUILD_TIMEOUT},
                {"build-max-files", required_argument, NULL, ARG_BUILD_MAX_FILES},
                {"dyno-ports", required_argument, NULL, ARG_DYNO_PORTS},
                {"no-router", no_argument, NULL, ARG_NO_ROUTER},
                {"router-workers", required_argument, NULL, ARG_ROUTER_WORKERS},
                {"boot-timeout", required_argument, NULL, ARG_BOOT_TIMEOUT},
                {"stop-timeout", required_argument, NULL, ARG_STOP_TIMEOUT},
                {"release-timeout", required_argument, NULL, ARG_RELEASE_TIMEOUT},
                {"crash-backoff", required_argument, NULL, ARG_BACKOFF},
                {"crash-backoff-max", required_argument, NULL, ARG_BACKOFF_MAX},
                {"crash-backoff-reset", required_argument, NULL, ARG_BACKOFF_RESET},
                {"drain-ca-file", required_argument, NULL, ARG_DRAIN_CA_FILE},
                {"unisolated", no_argument, NULL, ARG_UNISOLATED},
                {"version", no_argument, NULL, ARG_VERSION},
                {"help", no_argument, NULL, 'h'},
                {0},
        };
        int c;
        while ((c = getopt_long(argc, argv, "h", longopts, NULL)) >= 0) {
                switch (c) {
                case ARG_HOME:
                        free(o->home);
                        if (!(o->home = strdup(optarg)))
                                return -ENOMEM;
                        break;
                case ARG_LISTEN:
                        o->listen = optarg;
                        break;
                case ARG_ROUTER_LISTEN:
                        o->router_listen = optarg;
                        break;
                case ARG_DOMAIN:
                        o->domain = optarg;
                        break;
                case ARG_PUBLIC_URL:
                        o->public_url = optarg;
                        break;
                case ARG_BUILDPACKS_DIR:
                        o->buildpacks_dir = optarg;
                        break;
                case ARG_BUILD_TIMEOUT: {
                        int64_t v;
                        if (safe_atoi64(optarg, &v) < 0 || v < 1 || v > 24 * 3600) {
                                fprintf(stderr, "pierd: --build-timeout wants 1..86400 seconds\n");
                                return -EINVAL;
                        }
                        o->build_timeout = (unsigned)v;
                        break;
                }
                case ARG_BUILD_MAX_FILES: {
                        int64_t v;
                        if (safe_atoi64(optarg, &v) < 0 || v < 1 || v > 200000) {
                                fprintf(stderr, "pierd: --build-max-files wants 1..200000\n");
                                return -EINVAL;
                        }
                        o->build_max_files = (unsigned)v;
                        break;
                }
                case ARG_NO_ROUTER:
                        o->no_router = true;
                        break;
                case ARG_ROUTER_WORKERS: {
                        int64_t v;
                        if (safe_atoi64(optarg, &v) < 0 || v < 1 || v > 64) {
                                fprintf(stderr, "pierd: --router-workers wants 1..64\n");
                                return -EINVAL;
                        }
                        o->router_workers = (unsigned)v;
                        break;
                }
                case ARG_DYNO_PORTS: {
                        _cleanup_free_ char *lo = strdup(optarg);
                        char *dash = lo ? strchr(lo, '-') : NULL;
                        if (!dash) {
                                fprintf(stderr, "pierd: --dyno-ports wants MIN-MAX\n");
                                return -EINVAL;
                        }
                        *dash = '\0';
                        if (safe_atou16(lo, &o->port_min) < 0 ||
                            safe_atou16(dash + 1, &o->port_max) < 0 || o->port_min < 1024 ||
                            o->port_max < o->port_min) {
                                fprintf(stderr, "pierd: --dyno-ports wants MIN-MAX, 1024..65535\n");
                                return -EINVAL;
                        }
                        break;
                }
                case ARG_BOOT_TIMEOUT:
                case ARG_STOP_TIMEOUT:
                case ARG_RELEASE_TIMEOUT:
                case ARG_BACKOFF:
                case ARG_BACKOFF_MAX:
                case ARG_BACKOFF_RESET: {
                        int64_t v;
                        if (safe_atoi64(optarg, &v) < 0 || v < 0 || v > 86400000) {
                                fprintf(stderr, "pierd: %s wants a number\n", argv[optind - 1]);
                                return -EINVAL;
                        }
                        if (c == ARG_BOOT_TIMEOUT)
                                o->boot_timeout = (unsigned)v;
                        else if (c == ARG_STOP_TIMEOUT)
                                o->stop_timeout = (unsigned)v;
                        else if (c == ARG_RELEASE_TIMEOUT)
                                o->release_timeout = (unsigned)v;
                        else if (c == ARG_BACKOFF)
                                o->backoff_ms = (unsigned)v;
                        else if (c == ARG_BACKOFF_MAX)
                                o->backoff_max_ms = (unsigned)v;
                        else
                                o->backoff_reset_ms = (unsigned)v;
                        break;
                }
                case ARG_DRAIN_CA_FILE:
                        o->drain_ca_file = optarg;
                        break;
                case ARG_UNISOLATED:
                        o->unisolated = true;
                        break;
                case ARG_VERSION:
                        printf("pierd %s\n", PIER_VERSION);
                        exit(EXIT_SUCCESS);
                case 'h':
                        usage(stdout);
                        exit(EXIT_SUCCESS);
                default:
                        usage(stderr);
                        return -EINVAL;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "pierd: unexpected argument \"%s\"\n", argv[optind]);
                return -EINVAL;
        }
        if (!o->home)
                return default_home(&o->home);
        return 0;
}

static int mkdir_p(const char *path, mode_t mode)
{
        _cleanup_free_ char *p = strdup(path);
        if (!p)
                return -ENOMEM;
        for (char *s = p + 1; *s; s++) {
                if (*s != '/')
                        continue;
                *s = '\0';
                if (mkdir(p, mode) < 0 && errno != EEXIST)
                        return -errno;
                *s = '/';
        }
        if (mkdir(p, mode) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

/* "user@host" of the account pierd runs as: the admin's identity. */
static int admin_identity(char **ret)
{
        struct passwd *pw = getpwuid(geteuid());
        char host[HOST_NAME_MAX + 1] = "localhost";
        (void)gethostname(host, sizeof(host));
        host[sizeof(host) - 1] = '\0';
        return asprintf(ret, "%s@%s", pw ? pw->pw_name : "admin", host) < 0 ? -ENOMEM : 0;
}

static int read_token_file(const char *path, char buf[static 65])
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return -errno;
        ssize_t n = read(fd, buf, 64);
        if (n < 0)
                return -errno;
        buf[n] = '\0';
        buf[strcspn(buf, "\r\n")] = '\0';
        return 0;
}

/* Writes the token to `path` (0600) via a temp file and rename, so the file
 * is either the old one or the whole new one. */
static int write_token_file(const char *path, const char *token)
{
        _cleanup_free_ char *tmp = NULL;
        if (asprintf(&tmp, "%s.tmp", path) < 0)
                return -ENOMEM;
        (void)unlink(tmp);
        _cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0)
                return -errno;
        size_t len = strlen(token);
        if (write(fd, token, len) != (ssize_t)len || write(fd, "\n", 1) != 1 || fsync(fd) < 0) {
                int r = -errno;
                unlink(tmp);
                return r ? r : -EIO;
        }
        if (rename(tmp, path) < 0) {
                int r = -errno;
                unlink(tmp);
                return r;
        }
        return 0;
}

/* The admin token: pierd makes one at first start (and again if its file is
 * gone or no longer matches the store), keeps only its hash in the store and
 * hands the token itself to the operator in HOME/admin-token. */
static int ensure_admin_token(struct store *s, const char *home, const char *identity)
{
        _cleanup_free_ char *path = NULL;
        if (asprintf(&path, "%s/admin-token", home) < 0)
                return -ENOMEM;

        char token[65], hash[65];
        int r = read_token_file(path, token);
        if (r >= 0 && token[0]) {
                _cleanup_(token_freep) struct token *t = NULL;
                sha256_hex(token, strlen(token), hash);
                r = store_token_find(s, hash, &t);
                if (r >= 0)
                        return 0;
                if (r != -ENOENT)
                        return r;
        } else if (r < 0 && r != -ENOENT)
                return log_error_errno(r, "reading %s: %m", path);

        r = token_new(token);
        if (r < 0)
                return r;
        sha256_hex(token, strlen(token), hash);
        r = store_token_create(s, hash, identity, "global", "admin token made by pierd", NULL);
        if (r < 0)
                return r;
        r = write_token_file(path, token);
        if (r < 0)
                return log_error_errno(r, "writing %s: %m", path);
        log_info("new admin token written to %s", path);
        return 0;
}

/* The directory this pierd binary is in: pier-build lives next to it, and
 * in a source tree the buildpacks one level up. */
static int self_dir(char **ret)
{
        char buf[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
        if (n < 0)
                return -errno;
        buf[n] = '\0';
        char *slash = strrchr(buf, '/');
        if (slash)
                *slash = '\0';
        return (*ret = strdup(buf)) ? 0 : -ENOMEM;
}

static int find_buildpacks(const char *bindir, char **ret)
{
        const char *candidates[] = {"/../buildpacks", "/../share/pier/buildpacks"};
        for (size_t i = 0; i < ELEMENTSOF(candidates); i++) {
                _cleanup_free_ char *p = NULL, *probe = NULL;
                if (asprintf(&p, "%s%s", bindir, candidates[i]) < 0 ||
                    asprintf(&probe, "%s/procfile/bin/detect", p) < 0)
                        return -ENOMEM;
                char real[PATH_MAX];
                if (access(probe, X_OK) == 0 && realpath(p, real)) {
                        *ret = strdup(real);
                        return *ret ? 0 : -ENOMEM;
                }
        }
        return -ENOENT;
}

struct platform {
        struct api *api;
        struct routerd *router;
};

/* The supervisor's routing table changed: tell the router (the table file)
 * and any long-polls of GET /router/table. */
static void on_table_change(void *userdata)
{
        struct platform *p = userdata;
        if (p->router)
                routerd_table_changed(p->router);
        if (p->api)
                api_table_changed(p->api);
}

/* Can a dyno's cgroup (memory and pids limits) be made here?  A root in
 * a container may have bwrap but a read-only cgroup tree. */
static int cgroups_probe(void)
{
        char name[64];
        snprintf(name, sizeof(name), "pier/probe-%ld", (long)getpid());
        int r = dyno_cgroup_create(name, 64ull << 20, 16);
        (void)dyno_cgroup_remove(name);
        return r;
}

static void on_terminate(struct loop *l, const struct signalfd_siginfo *si, void *userdata)
{
        log_info("%s received, shutting down", strsignal((int)si->ssi_signo));
        loop_exit(l, 0);
}

int main(int argc, char **argv)
{
        struct options o = {
                .listen = DEFAULT_LISTEN,
                .router_listen = DEFAULT_ROUTER_LISTEN,
                .domain = DEFAULT_DOMAIN,
                .build_timeout = 900, /* Heroku: builds time out after 15 minutes */
                .build_max_files = 200000,
                .port_min = 40000,
                .port_max = 49999,
                .boot_timeout = 60, /* SPEC §4: R10 after 60 s */
                .release_timeout = 3600,
                .stop_timeout = 30, /* SPEC §4: R12 30 s after SIGTERM */
                .backoff_ms = 10000,
                .backoff_max_ms = 300000,
                .backoff_reset_ms = 10 * 60 * 1000, /* a good 10 minutes forgives */
        };
        struct loop *loop = NULL;
        struct store *store = NULL;
        struct api *api = NULL;
        struct supervisor *sup = NULL;
        struct loghub *hub = NULL;
        struct drains *drains = NULL;
        struct platform platform = {0};
        struct routerd *router = NULL;
        _cleanup_free_ char *identity = NULL, *dbpath = NULL, *bindir = NULL, *build_bin = NULL,
                            *buildpacks = NULL, *dyno_bin = NULL, *router_bin = NULL,
                            *logdir = NULL;
        int r;

        log_set_ident("pierd");
        /* A client that hangs up must not kill us. */
        signal(SIGPIPE, SIG_IGN);
        /* Room for the API's connections (4,000), the dynos' pipes and
         * pidfds: the usual soft limit of 1,024 is too few. */
        struct rlimit nofile;
        if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < 65536) {
                nofile.rlim_cur = nofile.rlim_max < 65536 ? nofile.rlim_max : 65536;
                (void)setrlimit(RLIMIT_NOFILE, &nofile);
        }

        r = parse_args(argc, argv, &o);
        if (r < 0)
                return r == -EINVAL ? 2 : (log_error_errno(r, "parsing arguments: %m"), 1);

        uint16_t router_port;
        const char *rp = strrchr(o.router_listen, ':');
        if (!rp || safe_atou16(rp + 1, &router_port) < 0) {
                log_error("--router-listen wants ADDR:PORT, not \"%s\"", o.router_listen);
                r = -EINVAL;
                goto out;
        }

        r = self_dir(&bindir);
        if (r < 0 || asprintf(&build_bin, "%s/pier-build", bindir) < 0) {
                log_error("cannot tell where pierd is installed (/proc/self/exe)");
                r = r < 0 ? r : -ENOMEM;
                goto out;
        }
        if (access(build_bin, X_OK) < 0)
                log_warning("%s is missing: git pushes will fail until it is built", build_bin);
        if (o.buildpacks_dir)
                buildpacks = strdup(o.buildpacks_dir);
        else if (find_buildpacks(bindir, &buildpacks) < 0) {
                log_warning("no built-in buildpacks next to %s; give --buildpacks-dir", bindir);
                buildpacks = strdup("/usr/local/share/pier/buildpacks");
        }
        if (!buildpacks) {
                r = -ENOMEM;
                goto out;
        }

        umask(0077);
        r = mkdir_p(o.home, 0700);
        if (r < 0) {
                log_error_errno(r, "creating the state directory %s: %m", o.home);
                goto out;
        }
        r = admin_identity(&identity);
        if (r < 0)
                goto out;

        if (asprintf(&dbpath, "%s/state.db", o.home) < 0) {
                r = -ENOMEM;
                goto out;
        }
        r = store_open(dbpath, &store);
        if (r == -EPROTO) {
                log_error("%s was written by a newer pier; run that version", dbpath);
                goto out;
        }
        if (r < 0) {
                log_error_errno(r, "opening the state store %s: %m", dbpath);
                goto out;
        }
        r = ensure_admin_token(store, o.home, identity);
        if (r < 0) {
                log_error_errno(r, "setting up the admin token: %m");
                goto out;
        }
        int n_failed;
        r = store_release_fail_pending(store, &n_failed);
        if (r < 0) {
                log_error_errno(r, "failing the releases left pending: %m");
                goto out;
        }
        if (n_failed > 0)
                log_warning("%d release(s) were pending when pierd stopped; their release "
                            "commands did not finish, so they failed",
                            n_failed);

        r = loop_new(&loop);
        if (r < 0)
                goto out;
        if ((r = loop_add_signal(loop, SIGTERM, on_terminate, NULL)) < 0 ||
            (r = loop_add_signal(loop, SIGINT, on_terminate, NULL)) < 0) {
                log_error_errno(r, "setting up signals: %m");
                goto out;
        }

        /* Every app's last lines, kept across restarts in HOME/logs. */
        if (asprintf(&logdir, "%s/logs", o.home) < 0) {
                r = -ENOMEM;
                goto out;
        }
        r = loghub_new(loop, logdir, &hub);
        if (r < 0) {
                log_error_errno(r, "setting up the log hub in %s: %m", logdir);
                goto out;
        }
        struct drains_config dcfg = {.ca_file = o.drain_ca_file};
        r = drains_new(loop, hub, store, &dcfg, &drains);
        if (r < 0) {
                log_error_errno(r, "setting up the log drains: %m");
                goto out;
        }

        /* Dynos are isolated with bwrap, cgroups and a uid per app: that
         * needs root.  Without it pierd still runs them, and says so. */
        if (asprintf(&dyno_bin, "%s/pier-dyno", bindir) < 0) {
                r = -ENOMEM;
                goto out;
        }
        bool unisolated = o.unisolated || geteuid() != 0 || access("/usr/bin/bwrap", X_OK) < 0;
        if (o.unisolated)
                log_warning("dynos run UNISOLATED (plain processes): --unisolated");
        else if (unisolated)
                log_warning("dynos run UNISOLATED (plain processes): pierd is not root or "
                            "bubblewrap is missing");
        else if ((r = cgroups_probe()) < 0) {
                log_warning_errno(r, "dynos run UNISOLATED (plain processes): no memory and "
                                     "pids cgroup can be made here: %m");
                unisolated = true;
        }
        struct supervisor_config scfg = {
                .home = o.home,
                .hub = hub,
                .dyno_bin = dyno_bin,
                .build_bin = build_bin,
                .domain = o.domain,
                .port_min = o.port_min,
                .port_max = o.port_max,
                .boot_timeout_ms = o.boot_timeout * 1000,
                .stop_timeout_ms = o.stop_timeout * 1000,
                .release_timeout_ms = MIN(o.release_timeout, 4000000u) * 1000,
                .backoff_base_ms = o.backoff_ms,
                .backoff_max_ms = o.backoff_max_ms,
                .backoff_reset_ms = o.backoff_reset_ms,
                .unisolated = unisolated,
        };
        r = supervisor_new(loop, store, &scfg, &sup);
        if (r < 0) {
                log_error_errno(r, "setting up the dyno supervisor: %m");
                goto out;
        }

        struct api_config cfg = {
                .listen = o.listen,
                .domain = o.domain,
                .router_port = router_port,
                .public_url = o.public_url,
                .home = o.home,
                .build_bin = build_bin,
                .buildpacks_dir = buildpacks,
                .build_timeout = o.build_timeout,
                .build_max_files = o.build_max_files,
                .sup = sup,
                .hub = hub,
                .drains = drains,
                .boot_timeout = o.boot_timeout,
        };
        r = api_new(loop, store, &cfg, &api);
        if (r < 0) {
                log_error_errno(r, "listening on %s: %m (another pierd running? pick another "
                                   "address with --listen)",
                                o.listen);
                goto out;
        }

        platform.api = api;
        supervisor_set_table_listener(sup, on_table_change, &platform);
        if (!o.no_router) {
                if (asprintf(&router_bin, "%s/pier-router", bindir) < 0) {
                        r = -ENOMEM;
                        goto out;
                }
                struct routerd_config rcfg = {
                        .home = o.home,
                        .router_bin = router_bin,
                        .listen = o.router_listen,
                        .domain = o.domain,
                        .workers = o.router_workers,
                };
                r = routerd_new(loop, sup, &rcfg, &router);
                if (r < 0) {
                        log_error_errno(r, "starting pier-router on %s: %m", o.router_listen);
                        goto out;
                }
                platform.router = router;
        }

        r = supervisor_start_all(sup);
        if (r < 0)
                log_error_errno(r, "starting the formation: %m");

        log_info("pierd %s ready, state in %s (schema v%d)", PIER_VERSION, o.home,
                 store_schema_version(store));
        /* What a newcomer needs to go on, on stdout. */
        printf("\n"
               "  pier is running.\n"
               "    API:          %s\n"
               "    admin token:  %s/admin-token\n"
               "    apps:         http://APP.%s:%u/\n"
               "\n"
               "  Next, in another terminal:\n"
               "    export PATH=\"$PWD/build:$PATH\"\n"
               "    pier login --api %s\n"
               "    pier apps:create myapp\n"
               "\n"
               "  Ctrl-C stops pier.\n\n",
               api_url(api), o.home, o.domain, router_port, api_url(api));
        fflush(stdout);

        r = loop_run(loop);
        if (r < 0)
                log_error_errno(r, "event loop: %m");
out:
        if (sup)
                supervisor_set_table_listener(sup, NULL, NULL);
        routerd_free(router);
        api_free(api);
        supervisor_free(sup);
        /* What the drains have not sent yet: a bounded wait, then gone. */
        if (r >= 0)
                drains_flush(drains, DRAINS_FLUSH_MS);
        drains_free(drains); /* its consumers go before the hub */
        loghub_free(hub);
        store_close(store);
        loop_free(loop);
        free(o.home);
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
