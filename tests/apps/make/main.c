/* pier sample app: C (make). A tiny HTTP server on $PORT that answers
 * every request with "hello from C" and the GREETING config var. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void answer(int fd)
{
    char req[4096];
    size_t got = 0;

    /* read until the end of the request head (or the buffer is full) */
    while (got < sizeof req - 1) {
        ssize_t n = read(fd, req + got, sizeof req - 1 - got);
        if (n <= 0)
            break;
        got += (size_t)n;
        req[got] = '\0';
        if (strstr(req, "\r\n\r\n") || strstr(req, "\n\n"))
            break;
    }

    const char *greeting = getenv("GREETING");
    char body[512];
    int blen = snprintf(body, sizeof body, "hello from C\npier sample app: make\ngreeting: %s\n",
                        greeting && *greeting ? greeting : "none");
    if (blen < 0 || (size_t)blen >= sizeof body)
        blen = (int)strlen(body);

    char head[256];
    int hlen = snprintf(head, sizeof head,
                        "HTTP/1.1 200 OK\r\n"
                        "Content-Type: text/plain; charset=utf-8\r\n"
                        "Content-Length: %d\r\n"
                        "Connection: close\r\n\r\n", blen);
    if (write(fd, head, (size_t)hlen) == hlen)
        (void)!write(fd, body, (size_t)blen);
}

int main(void)
{
    const char *port_s = getenv("PORT");
    int port = port_s ? atoi(port_s) : 0;
    if (port <= 0 || port > 65535) {
        fprintf(stderr, "server: PORT must be set to a port number\n");
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);

    int s = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((unsigned short)port),
                             .sin_addr.s_addr = htonl(INADDR_ANY) };
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) < 0 || listen(s, 64) < 0) {
        perror("server: listen");
        return 1;
    }
    printf("C sample listening on port %d\n", port);
    fflush(stdout);

    for (;;) {
        int c = accept(s, NULL, NULL);
        if (c < 0)
            continue;
        answer(c);
        close(c);
    }
}
