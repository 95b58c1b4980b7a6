/* The log hub: line format and splitting, the ring of the last lines,
 * consumers with their own bounded queues and the L10 notice, and the
 * lines kept on disk across a new hub. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net/loop.h"
#include "pierd/loghub.h"
#include "test.h"

#define APP "0b6f1f36-6a64-4d47-8a4e-0a7d1f0c9e11"

static char dir[] = "/tmp/test-loghub-XXXXXX";

static void collect(const struct logline *l, void *ud)
{
        size_t *n = ud;
        (*n)++;
}

static void count_notify(void *ud)
{
        (*(int *)ud)++;
}

static void test_format_and_split(void)
{
        struct loop *loop = NULL;
        struct loghub *h = NULL;
        CHECK(loop_new(&loop) == 0);
        CHECK(loghub_new(loop, dir, &h) == 0);
        struct loghub_consumer *c = NULL;
        int notified = 0;
        CHECK(loghub_consumer_new(h, APP, 100, count_notify, &notified, &c) == 0);
        loghub_append(h, APP, "app", "web.1", "hello", 5);
        loghub_append(h, APP, "app", "web.1", "a\nb", 3);
        char *big = malloc(LOGHUB_LINE_MAX + 5);
        memset(big, 'x', LOGHUB_LINE_MAX + 5);
        loghub_append(h, APP, "app", "web.1", big, LOGHUB_LINE_MAX + 5);
        free(big);
        CHECK(notified == 1); /* only on empty -> not empty */
        CHECK(loghub_pending(c) == 5);
        bool ended;
        struct logline *l = loghub_next(c, &ended);
        CHECK(l && l->text_len == 32 + strlen(" app[web.1]: hello"));
        CHECK(l && strcmp(l->text + 32, " app[web.1]: hello") == 0);
        CHECK(l && l->text[4] == '-' && strncmp(l->text + 26, "+00:00", 6) == 0);
        CHECK(l && l->msg_len == 5 && l->proc_len == 5 && strncmp(l->proc, "web.1", 5) == 0);
        int64_t prev = l ? l->usec : 0;
        logline_unref(l);
        l = loghub_next(c, &ended);
        CHECK(l && l->msg_len == 1 && l->msg[0] == 'a' && l->usec > prev);
        logline_unref(l);
        l = loghub_next(c, &ended);
        CHECK(l && l->msg_len == 1 && l->msg[0] == 'b');
        logline_unref(l);
        l = loghub_next(c, &ended);
        CHECK(l && l->msg_len == LOGHUB_LINE_MAX);
        logline_unref(l);
        l = loghub_next(c, &ended);
        CHECK(l && l->msg_len == 5);
        logline_unref(l);
        CHECK(loghub_next(c, &ended) == NULL && !ended);
        loghub_append(h, APP, "heroku", "web.1", "again", 5);
        CHECK(notified == 2);
        logline_unref(loghub_next(c, &ended));
        /* '\n' ends a line, a '\r' before it goes, an empty line stays;
         * one clock reading still gives strictly increasing stamps. */
        loghub_append(h, APP, "app", "web.1", "c\r\n\nd\r\n", 7);
        const char *want[] = {"c", "", "d"};
        for (size_t i = 0; i < 3; i++) {
                l = loghub_next(c, &ended);
                CHECK(l && l->msg_len == strlen(want[i]) &&
                      memcmp(l->msg, want[i], l->msg_len) == 0);
                CHECK(l && l->usec > prev);
                prev = l ? l->usec : prev;
                logline_unref(l);
        }
        CHECK(loghub_next(c, &ended) == NULL);
        loghub_consumer_free(c);
        loghub_app_removed(h, APP);
        loghub_free(h);
        loop_free(loop);
}

static void test_slow_consumer_gets_l10(void)
{
        struct loop *loop = NULL;
        struct loghub *h = NULL;
        CHECK(loop_new(&loop) == 0);
        CHECK(loghub_new(loop, dir, &h) == 0);
        struct loghub_consumer *slow = NULL, *fast = NULL;
        int n1 = 0, n2 = 0;
        CHECK(loghub_consumer_new(h, APP, 10, count_notify, &n1, &slow) == 0);
        CHECK(loghub_consumer_new(h, APP, 1000, count_notify, &n2, &fast) == 0);
        char msg[16];
        for (int i = 0; i < 25; i++) {
                int n = snprintf(msg, sizeof(msg), "line %d", i);
                loghub_append(h, APP, "app", "web.1", msg, (size_t)n);
        }
        CHECK(loghub_pending(slow) == 10 && loghub_pending(fast) == 25);
        bool ended;
        struct logline *l = loghub_next(slow, &ended);
        CHECK(l && strncmp(l->source, "heroku", 6) == 0 && strncmp(l->proc, "logplex", 7) == 0);
        CHECK(l && strstr(l->msg, "Error L10 (output buffer overflow): 15 messages dropped since "));
        logline_unref(l);
        l = loghub_next(slow, &ended);
        CHECK(l && l->msg_len == 7 && strncmp(l->msg, "line 15", 7) == 0);
        logline_unref(l);
        /* The app's own lines are all there, whatever the consumers do. */
        size_t kept = 0;
        loghub_history(h, APP, LOGHUB_KEEP, 0, collect, &kept);
        CHECK(kept == 25);
        kept = 0;
        loghub_history(h, APP, 3, 0, collect, &kept);
        CHECK(kept == 3);
        loghub_app_removed(h, APP);
        l = loghub_next(fast, &ended); /* what was queued stays */
        CHECK(l != NULL);
        logline_unref(l);
        loghub_consumer_free(fast);
        while ((l = loghub_next(slow, &ended)))
                logline_unref(l);
        CHECK(ended);
        loghub_consumer_free(slow);
        loghub_free(h);
        loop_free(loop);
}

static void test_kept_on_disk_and_bounded(void)
{
        struct loop *loop = NULL;
        struct loghub *h = NULL;
        CHECK(loop_new(&loop) == 0);
        CHECK(loghub_new(loop, dir, &h) == 0);
        char msg[32];
        for (int i = 0; i < 4000; i++) {
                int n = snprintf(msg, sizeof(msg), "line %d", i);
                loghub_append(h, APP, "app", "web.1", msg, (size_t)n);
        }
        loghub_append(h, APP, "app", "web.1", "bin\x00\xff", 5);
        loghub_free(h); /* writes what is pending */
        h = NULL;
        CHECK(loghub_new(loop, dir, &h) == 0);
        size_t kept = 0;
        loghub_history(h, APP, LOGHUB_KEEP, 0, collect, &kept);
        CHECK(kept == LOGHUB_KEEP);
        struct loghub_consumer *c = NULL;
        int n = 0;
        CHECK(loghub_consumer_new(h, APP, 10, count_notify, &n, &c) == 0);
        loghub_append(h, APP, "app", "web.1", "after", 5);
        bool ended;
        struct logline *l = loghub_next(c, &ended);
        CHECK(l != NULL);
        logline_unref(l);
        loghub_consumer_free(c);
        loghub_free(h);
        h = NULL;
        /* Two files at most: ID.log and ID.log.1. */
        char path[256];
        snprintf(path, sizeof(path), "%s/%s.log.1", dir, APP);
        CHECK(access(path, F_OK) == 0);
        snprintf(path, sizeof(path), "%s/%s.log", dir, APP);
        CHECK(access(path, F_OK) == 0);
        CHECK(loghub_new(loop, dir, &h) == 0);
        loghub_app_removed(h, APP);
        CHECK(access(path, F_OK) < 0);
        loghub_free(h);
        loop_free(loop);
}

int main(void)
{
        if (!mkdtemp(dir))
                return 1;
        RUN(test_format_and_split);
        RUN(test_slow_consumer_gets_l10);
        RUN(test_kept_on_disk_and_bounded);
        rmdir(dir);
        return test_done();
}
