/* pier-router: the master process.
 *
 *     pier-router --listen ADDR:PORT (--table FILE | --api URL --token-file FILE)
 *                 [--workers N] [--domain localhost] [--access-log FILE|-]
 *                 [timeouts...]
 *
 * The master binds one SO_REUSEPORT socket per worker (so a bad address
 * fails here, once, with a clear message), forks the workers, and then only
 * supervises: it relays SIGHUP (reload the table) and SIGTERM (drain and
 * exit) to them, restarts a worker that dies, and copies their access-log
 * lines from a pipe to the log file or stdout.  Workers write that pipe
 * non-blocking, so a slow log never stalls a request; the master is the one
 * that may block on the disk.
 *
 * With --api the table comes from pierd: the master makes a private
 * directory (mkdtemp), starts the workers on a table file there, and forks
 * one more child, the watcher (watch.c), which long-polls pierd and renames
 * each new table into that file — from there on it is the --table path.
 * The watcher is a process of its own because it waits on pierd for up to
 * 30 s at a time, which neither a worker nor this loop may do.  It is
 * restarted a second after it dies; the directory goes when we exit.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/timefmt.h"
#include "lib/util.h"
#include "net/loop.h"
#include "router/router.h"
#include "router/watch.h"

#define WORKERS_MAX 256
#define WATCHER_RESTART_USEC USEC_PER_SEC /* a watcher that keeps dying must not spin */

static struct master {
        struct router_config cfg;
        struct sockaddr_storage addr;
        socklen_t addr_len;
        unsigned n_workers;
        pid_t pids[WORKERS_MAX];
        int64_t started[WORKERS_MAX];
        unsigned quick_deaths;
        const char *api_url;    /* --api: the watcher runs */
        const char *token_path;
        char watch_dir[64];     /* the private dir of the table file, or "" */
        char watch_table[96];
        pid_t watcher;
        struct loop_timer *watcher_timer;
        const char *log_path; /* NULL: stdout */
        int log_out;
        int log_rd, log_wr;
        bool stopping;
        struct loop *loop;
} m = {.log_out = -1, .log_rd = -1, .log_wr = -1};

static void usage(FILE *f)
{
        fputs("Usage: pier-router --listen ADDR:PORT --table FILE [OPTIONS]\n"
              "\n"
              "       pier-router --listen ADDR:PORT --api URL --token-file FILE [OPTIONS]\n"
              "\n"
              "The HTTP router of pier: sends each request to a web dyno of the app named\n"
              "by its Host header.  SIGHUP (or a change to FILE) reloads the table;\n"
              "SIGTERM stops accepting, finishes requests in flight and exits.\n"
              "\n"
              "  --listen ADDR:PORT         address to serve (e.g. 127.0.0.1:8080, [::]:80)\n"
              "  --table FILE               routing table (JSON, see docs/architecture.md)\n"
              "  --api URL                  or follow pierd's table (e.g. http://127.0.0.1:5000);\n"
              "                             if pierd goes away the last table stays\n"
              "  --token-file FILE          with --api: a file holding an API token (a read\n"
              "                             token will do); SIGHUP reads it again\n"
              "  --workers N                worker processes (default: number of CPUs)\n"
              "  --domain DOMAIN            apps are also APP.DOMAIN (default: localhost)\n"
              "  --access-log FILE|-        one line per request (default: - , stdout)\n"
              "  --connect-timeout-ms MS    connecting to a dyno (default 5000, H19)\n"
              "  --response-timeout-ms MS   to the first response byte (default 30000, H12)\n"
              "  --idle-timeout-ms MS       silence either way (default 55000, H15/H28)\n"
              "  --keepalive-timeout-ms MS  idle client connections (default 60000)\n"
              "  --header-timeout-ms MS     to receive a request head (default 10000)\n"
              "  --drain-timeout-ms MS      SIGTERM: time for requests in flight (default 30000)\n"
              "  --boot-timeout-ms MS       a request waits this long for a booting web dyno\n"
              "                             (default 75000, H20)\n"
              "  --dyno-conn-limit N        requests in flight per dyno and worker; more wait\n"
              "                             in the app's queue (default 50, 0: no limit; H22\n"
              "                             after --connect-timeout-ms of waiting)\n"
              "  --backlog N                the app's queue per worker: N per web dyno\n"
              "                             (default 50; full: H11)\n"
              "  --access-log-app-id        start each access line with the app's id and a tab\n"
              "  --help, --version\n",
              f);
}

static int parse_ms(const char *s, int64_t *ret)
{
        int64_t v;
        int r = safe_atoi64(s, &v);
        if (r < 0 || v < 1 || v > INT64_C(86400000))
                return -EINVAL;
        *ret = v * 1000;
        return 0;
}

static int parse_listen(const char *s)
{
        const char *colon = strrchr(s, ':');
        if (!colon)
                return -EINVAL;
        uint16_t port;
        if (safe_atou16(colon + 1, &port) < 0)
                return -EINVAL;
        char host[128];
        size_t n = (size_t)(colon - s);
        if (n >= sizeof(host))
                return -EINVAL;
        memcpy(host, s, n);
        host[n] = '\0';
        m.cfg.listen_port = port;
        if (host[0] == '[') {
                struct sockaddr_in6 *a = (struct sockaddr_in6 *)&m.addr;
                if (n < 2 || host[n - 1] != ']')
                        return -EINVAL;
                host[n - 1] = '\0';
                a->sin6_family = AF_INET6;
                a->sin6_port = htons(port);
                if (inet_pton(AF_INET6, host + 1, &a->sin6_addr) != 1)
                        return -EINVAL;
                m.addr_len = sizeof(*a);
                return 0;
        }
        struct sockaddr_in *a = (struct sockaddr_in *)&m.addr;
        a->sin_family = AF_INET;
        a->sin_port = htons(port);
        if (n == 0)
                a->sin_addr.s_addr = htonl(INADDR_ANY);
        else if (inet_pton(AF_INET, streq(host, "localhost") ? "127.0.0.1" : host, &a->sin_addr) != 1)
                return -EINVAL;
        m.addr_len = sizeof(*a);
        return 0;
}

static int listen_socket(void)
{
        int fd = socket(m.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        int one = 1;
        /* SO_REUSEPORT: one socket a worker, and a new router can bind the
         * same port while an old one drains (graceful restart). */
        if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
            setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
            bind(fd, (struct sockaddr *)&m.addr, m.addr_len) < 0 || listen(fd, 4096) < 0) {
                int r = -errno;
                close(fd);
                return r;
        }
        return fd;
}

static void raise_nofile(void)
{
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
                rl.rlim_cur = rl.rlim_max;
                (void)setrlimit(RLIMIT_NOFILE, &rl);
        }
}

static int spawn_worker(unsigned i)
{
        int fd = listen_socket();
        if (fd < 0)
                return log_error_errno(fd, "binding the listening socket: %m");
        pid_t pid = fork();
        if (pid < 0) {
                int r = -errno;
                close(fd);
                return log_error_errno(r, "fork: %m");
        }
        if (pid == 0) {
                (void)prctl(PR_SET_PDEATHSIG, SIGTERM);
                if (getppid() == 1)
                        _exit(0);
                close(m.log_rd);
                if (m.log_out >= 0 && m.log_out != STDOUT_FILENO)
                        close(m.log_out);
                int st = worker_run(&m.cfg, (int)i, fd, m.log_wr);
                exit(st);
        }
        close(fd);
        m.pids[i] = pid;
        m.started[i] = mono_usec();
        return 0;
}

static void on_watcher_timer(struct loop_timer *t, void *userdata);

static int spawn_watcher(void)
{
        pid_t pid = fork();
        if (pid < 0)
                return log_error_errno(errno, "fork: %m");
        if (pid == 0) {
                (void)prctl(PR_SET_PDEATHSIG, SIGTERM);
                if (getppid() == 1)
                        _exit(0);
                close(m.log_rd);
                close(m.log_wr);
                if (m.log_out >= 0 && m.log_out != STDOUT_FILENO)
                        close(m.log_out);
                const struct watch_config wc = {
                    .url = m.api_url,
                    .token_path = m.token_path,
                    .table_path = m.watch_table,
                    .domain = m.cfg.domain,
                };
                exit(watch_run(&wc));
        }
        m.watcher = pid;
        return 0;
}

static void on_watcher_timer(struct loop_timer *t, void *userdata)
{
        if (!m.stopping && m.watcher == 0)
                (void)spawn_watcher();
}

static void watch_dir_remove(void)
{
        if (!m.watch_dir[0])
                return;
        char tmp[sizeof(m.watch_table) + 4];
        snprintf(tmp, sizeof(tmp), "%s.tmp", m.watch_table);
        (void)unlink(tmp);
        (void)unlink(m.watch_table);
        (void)rmdir(m.watch_dir);
        m.watch_dir[0] = '\0';
}

/* --api: the private directory and the table file the workers start on
 * (no apps until pierd says otherwise). */
static int watch_dir_make(void)
{
        const char *tmpdir = getenv("TMPDIR");
        if (!tmpdir || tmpdir[0] != '/' || strlen(tmpdir) > 32)
                tmpdir = "/tmp";
        snprintf(m.watch_dir, sizeof(m.watch_dir), "%s/pier-router-XXXXXX", tmpdir);
        if (!mkdtemp(m.watch_dir)) {
                int r = -errno;
                m.watch_dir[0] = '\0';
                return log_error_errno(r, "making a directory for the table in %s: %m", tmpdir);
        }
        snprintf(m.watch_table, sizeof(m.watch_table), "%s/table.json", m.watch_dir);
        static const char empty[] = "{\"version\":0,\"apps\":[]}\n";
        int r = watch_publish(m.watch_table, empty, sizeof(empty) - 1);
        if (r < 0) {
                watch_dir_remove();
                return log_error_errno(r, "writing %s: %m", m.watch_table);
        }
        m.cfg.table_path = m.watch_table;
        return 0;
}

static void relay_log(void)
{
        char buf[65536];
        for (;;) {
                ssize_t k = read(m.log_rd, buf, sizeof(buf));
                if (k <= 0)
                        return;
                for (ssize_t off = 0; off < k;) {
                        ssize_t n = write(m.log_out, buf + off, (size_t)(k - off));
                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n <= 0)
                                break; /* nowhere to write: drop it */
                        off += n;
                }
        }
}

static void on_log(struct loop_io *io, int fd, uint32_t revents, void *userdata)
{
        relay_log();
}

static int open_log(void)
{
        if (!m.log_path) {
                m.log_out = STDOUT_FILENO;
                return 0;
        }
        int fd = open(m.log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0)
                return log_error_errno(errno, "opening access log %s: %m", m.log_path);
        if (m.log_out >= 0 && m.log_out != STDOUT_FILENO)
                close(m.log_out);
        m.log_out = fd;
        return 0;
}

static void signal_workers(int sig)
{
        for (unsigned i = 0; i < m.n_workers; i++)
                if (m.pids[i] > 0)
                        (void)kill(m.pids[i], sig);
}

static void stop_children(void)
{
        m.stopping = true;
        signal_workers(SIGTERM);
        if (m.watcher > 0)
                (void)kill(m.watcher, SIGTERM);
}

static bool children_left(void)
{
        for (unsigned i = 0; i < m.n_workers; i++)
                if (m.pids[i] > 0)
                        return true;
        return m.watcher > 0;
}

static void on_signal(struct loop *l, const struct signalfd_siginfo *si, void *userdata)
{
        switch (si->ssi_signo) {
        case SIGHUP:
                if (m.log_path)
                        (void)open_log(); /* after logrotate */
                signal_workers(SIGHUP);
                if (m.watcher > 0)
                        (void)kill(m.watcher, SIGHUP); /* re-read the token, reconnect */
                break;
        case SIGTERM:
        case SIGINT:
                if (!m.stopping)
                        log_info("stopping: draining requests in flight");
                stop_children();
                break;
        case SIGCHLD:
                for (;;) {
                        int status;
                        pid_t pid = waitpid(-1, &status, WNOHANG);
                        if (pid <= 0)
                                break;
                        if (pid == m.watcher) {
                                m.watcher = 0;
                                if (m.stopping)
                                        continue;
                                log_error("the pierd watcher (pid %d) died (%s %d); starting "
                                          "another in a second; the workers keep their table",
                                          (int)pid, WIFSIGNALED(status) ? "signal" : "status",
                                          WIFSIGNALED(status) ? WTERMSIG(status)
                                                              : WEXITSTATUS(status));
                                loop_timer_set(m.watcher_timer,
                                               (uint64_t)(mono_usec() + WATCHER_RESTART_USEC));
                                continue;
                        }
                        for (unsigned i = 0; i < m.n_workers; i++) {
                                if (m.pids[i] != pid)
                                        continue;
                                m.pids[i] = 0;
                                if (m.stopping)
                                        break;
                                log_error("worker %u (pid %d) died (%s %d); starting another", i,
                                          (int)pid, WIFSIGNALED(status) ? "signal" : "status",
                                          WIFSIGNALED(status) ? WTERMSIG(status)
                                                              : WEXITSTATUS(status));
                                if (mono_usec() - m.started[i] < USEC_PER_SEC &&
                                    ++m.quick_deaths > 10) {
                                        log_error("workers keep dying; giving up");
                                        stop_children();
                                        break;
                                }
                                if (spawn_worker(i) < 0)
                                        stop_children();
                                break;
                        }
                }
                break;
        }
        if (m.stopping && !children_left()) {
                relay_log();
                loop_exit(l, 0);
        }
}

int main(int argc, char **argv)
{
        enum {
                ARG_LISTEN = 0x100,
                ARG_TABLE,
                ARG_WORKERS,
                ARG_DOMAIN,
                ARG_ACCESS_LOG,
                ARG_CONNECT,
                ARG_RESPONSE,
                ARG_IDLE,
                ARG_KEEPALIVE,
                ARG_HEADER,
                ARG_DRAIN,
                ARG_API,
                ARG_TOKEN_FILE,
                ARG_BOOT,
                ARG_CONN_LIMIT,
                ARG_BACKLOG,
                ARG_LOG_APP_ID,
                ARG_VERSION,
        };
        static const struct option options[] = {
            {"listen", required_argument, NULL, ARG_LISTEN},
            {"table", required_argument, NULL, ARG_TABLE},
            {"workers", required_argument, NULL, ARG_WORKERS},
            {"domain", required_argument, NULL, ARG_DOMAIN},
            {"access-log", required_argument, NULL, ARG_ACCESS_LOG},
            {"connect-timeout-ms", required_argument, NULL, ARG_CONNECT},
            {"response-timeout-ms", required_argument, NULL, ARG_RESPONSE},
            {"idle-timeout-ms", required_argument, NULL, ARG_IDLE},
            {"keepalive-timeout-ms", required_argument, NULL, ARG_KEEPALIVE},
            {"header-timeout-ms", required_argument, NULL, ARG_HEADER},
            {"drain-timeout-ms", required_argument, NULL, ARG_DRAIN},
            {"api", required_argument, NULL, ARG_API},
            {"token-file", required_argument, NULL, ARG_TOKEN_FILE},
            {"boot-timeout-ms", required_argument, NULL, ARG_BOOT},
            {"dyno-conn-limit", required_argument, NULL, ARG_CONN_LIMIT},
            {"backlog", required_argument, NULL, ARG_BACKLOG},
            {"access-log-app-id", no_argument, NULL, ARG_LOG_APP_ID},
            {"help", no_argument, NULL, 'h'},
            {"version", no_argument, NULL, ARG_VERSION},
            {},
        };
        const char *listen_arg = NULL;
        long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        int c, r;

        log_set_ident("pier-router");
        /* Heroku's router: 5 s connect, 30 s to first byte, 55 s idle. */
        m.cfg = (struct router_config){
            .domain = "localhost",
            .connect_timeout = 5 * USEC_PER_SEC,
            .response_timeout = 30 * USEC_PER_SEC,
            .idle_timeout = 55 * USEC_PER_SEC,
            .keepalive_timeout = 60 * USEC_PER_SEC,
            .header_timeout = 10 * USEC_PER_SEC,
            .drain_timeout = 30 * USEC_PER_SEC,
            .pool_timeout = 30 * USEC_PER_SEC,
            /* Heroku's router holds requests 75 s for a booting dyno (H20),
             * and allows 50 requests in flight per dyno and 50 queued per
             * dyno (H11). */
            .boot_timeout = 75 * USEC_PER_SEC,
            .dyno_conn_limit = 50,
            .backlog = 50,
        };
        m.n_workers = ncpu > 0 ? (unsigned)MIN(ncpu, (long)WORKERS_MAX) : 1;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                int64_t *t = NULL;
                switch (c) {
                case ARG_LISTEN:
                        listen_arg = optarg;
                        break;
                case ARG_TABLE:
                        m.cfg.table_path = optarg;
                        break;
                case ARG_API:
                        m.api_url = optarg;
                        break;
                case ARG_TOKEN_FILE:
                        m.token_path = optarg;
                        break;
                case ARG_WORKERS: {
                        int64_t v;
                        if (safe_atoi64(optarg, &v) < 0 || v < 1 || v > WORKERS_MAX) {
                                fprintf(stderr, "pier-router: --workers takes 1 to %d, not \"%s\"\n",
                                        WORKERS_MAX, optarg);
                                return 2;
                        }
                        m.n_workers = (unsigned)v;
                        break;
                }
                case ARG_DOMAIN:
                        m.cfg.domain = optarg;
                        break;
                case ARG_ACCESS_LOG:
                        m.log_path = streq(optarg, "-") ? NULL : optarg;
                        break;
                case ARG_CONNECT: t = &m.cfg.connect_timeout; break;
                case ARG_RESPONSE: t = &m.cfg.response_timeout; break;
                case ARG_IDLE: t = &m.cfg.idle_timeout; break;
                case ARG_KEEPALIVE: t = &m.cfg.keepalive_timeout; break;
                case ARG_HEADER: t = &m.cfg.header_timeout; break;
                case ARG_DRAIN: t = &m.cfg.drain_timeout; break;
                case ARG_BOOT: t = &m.cfg.boot_timeout; break;
                case ARG_CONN_LIMIT:
                case ARG_BACKLOG: {
                        int64_t v;
                        if (safe_atoi64(optarg, &v) < 0 || v < (c == ARG_BACKLOG ? 1 : 0) ||
                            v > 1000000) {
                                fprintf(stderr, "pier-router: %s takes %d to 1000000, not \"%s\"\n",
                                        c == ARG_BACKLOG ? "--backlog" : "--dyno-conn-limit",
                                        c == ARG_BACKLOG ? 1 : 0, optarg);
                                return 2;
                        }
                        *(c == ARG_BACKLOG ? &m.cfg.backlog : &m.cfg.dyno_conn_limit) = (uint32_t)v;
                        break;
                }
                case ARG_LOG_APP_ID:
                        m.cfg.log_app_id = true;
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                case ARG_VERSION:
                        puts("pier-router " PIER_VERSION);
                        return 0;
                default:
                        usage(stderr);
                        return 2;
                }
                if (t && parse_ms(optarg, t) < 0) {
                        fprintf(stderr, "pier-router: %s takes milliseconds (1 to 86400000), not \"%s\"\n",
                                argv[optind - 1 - (optarg == argv[optind - 1])], optarg);
                        return 2;
                }
        }
        if (m.cfg.table_path && m.api_url) {
                fprintf(stderr, "pier-router: give --table FILE or --api URL, not both\n");
                return 2;
        }
        if (optind < argc || !listen_arg || (!m.cfg.table_path && !m.api_url)) {
                fprintf(stderr, "pier-router: --listen and one of --table or --api are required\n");
                usage(stderr);
                return 2;
        }
        if (!m.api_url != !m.token_path) {
                fprintf(stderr, "pier-router: --token-file goes with --api (and --api needs it: "
                                "the token is never taken on the command line)\n");
                return 2;
        }
        if (m.api_url) {
                const char *why;
                if (watch_check_url(m.api_url, &why) < 0) {
                        fprintf(stderr, "pier-router: --api %s: %s\n", m.api_url, why);
                        return 2;
                }
                /* read now so that a wrong path fails at once, not in a
                 * watcher that keeps restarting */
                char *token = NULL;
                r = watch_read_token(m.token_path, &token);
                if (r == -EINVAL) {
                        log_error("token file %s holds no single token", m.token_path);
                        return 1;
                }
                if (r < 0)
                        return log_error_errno(r, "reading the token file %s: %m", m.token_path), 1;
                explicit_bzero(token, strlen(token));
                free(token);
        }
        if (parse_listen(listen_arg) < 0) {
                fprintf(stderr, "pier-router: --listen takes ADDR:PORT (e.g. 127.0.0.1:8080), not \"%s\"\n",
                        listen_arg);
                return 2;
        }
        if (m.cfg.table_path && access(m.cfg.table_path, R_OK) < 0) {
                log_error_errno(errno, "routing table %s: %m", m.cfg.table_path);
                return 1;
        }

        raise_nofile();
        signal(SIGPIPE, SIG_IGN);
        if (open_log() < 0)
                return 1;
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                return log_error_errno(errno, "pipe2: %m"), 1;
        m.log_rd = p[0];
        m.log_wr = p[1];
        (void)fcntl(m.log_wr, F_SETFL, O_NONBLOCK);
        (void)fcntl(m.log_rd, F_SETFL, O_NONBLOCK);
        (void)fcntl(m.log_wr, F_SETPIPE_SZ, 1 << 20);

        r = loop_new(&m.loop);
        if (r < 0)
                return log_error_errno(r, "creating the event loop: %m"), 1;
        if (loop_add_signal(m.loop, SIGTERM, on_signal, NULL) < 0 ||
            loop_add_signal(m.loop, SIGINT, on_signal, NULL) < 0 ||
            loop_add_signal(m.loop, SIGHUP, on_signal, NULL) < 0 ||
            loop_add_signal(m.loop, SIGCHLD, on_signal, NULL) < 0 ||
            loop_add_io(m.loop, m.log_rd, EPOLLIN, on_log, NULL, NULL) < 0 ||
            (m.api_url &&
             loop_add_timer(m.loop, 0, on_watcher_timer, NULL, &m.watcher_timer) < 0)) {
                log_error("setting up the event loop failed");
                return 1;
        }
        if (m.api_url && watch_dir_make() < 0)
                return 1;

        /* Each worker's socket is bound here, before its fork, so a bad
         * address fails at once.  (No throw-away probe socket: during a
         * graceful restart it would take its share of new connections and
         * reset them when closed.) */
        for (unsigned i = 0; i < m.n_workers; i++)
                if (spawn_worker(i) < 0) {
                        log_error("cannot listen on %s", listen_arg);
                        stop_children();
                        watch_dir_remove();
                        return 1;
                }
        if (m.api_url && spawn_watcher() < 0) {
                stop_children();
                watch_dir_remove();
                return 1;
        }
        FILE *f = fopen("/proc/sys/net/ipv4/tcp_migrate_req", "re");
        if (f) {
                int v = 1;
                if (fscanf(f, "%d", &v) == 1 && v == 0)
                        log_notice("net.ipv4.tcp_migrate_req is 0: a graceful restart may reset "
                                   "connections queued on the old router's sockets; set it to 1");
                fclose(f);
        }
        if (m.api_url)
                log_info("listening on %s with %u workers, table from pierd at %s", listen_arg,
                         m.n_workers, m.api_url);
        else
                log_info("listening on %s with %u workers, table %s", listen_arg, m.n_workers,
                         m.cfg.table_path);

        r = loop_run(m.loop);
        relay_log();
        watch_dir_remove();
        loop_free(m.loop);
        if (m.log_out >= 0 && m.log_out != STDOUT_FILENO)
                close(m.log_out);
        close(m.log_rd);
        return r < 0 ? 1 : 0;
}
