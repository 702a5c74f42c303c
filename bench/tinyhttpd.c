/* tinyhttpd - the smallest useful HTTP server, for the density benchmark.
 *
 * Binds 0.0.0.0:PORT (default 8080), answers every request with the same
 * fixed "200 OK" and closes the connection.  One process, one thread, no
 * files: its own RSS is a few pages, so what bench/run.sh measures per
 * container is the container's and the manager's cost, not the app's.
 *
 * Build: cc -O2 -static -o tinyhttpd tinyhttpd.c  (or without -static)
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static const char reply[] =
    "HTTP/1.1 200 OK\r\n"
    "Content-Type: text/plain\r\n"
    "Content-Length: 3\r\n"
    "Connection: close\r\n"
    "\r\n"
    "ok\n";

int main(int argc, char **argv)
{
    int port = argc > 1 ? atoi(argv[1]) : 8080, one = 1;
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
                             .sin_addr.s_addr = htonl(INADDR_ANY) };
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    signal(SIGPIPE, SIG_IGN);  /* a client that hangs up must not kill us */
    if (s < 0 || setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(s, (struct sockaddr *)&a, sizeof a) < 0 || listen(s, 128) < 0) {
        perror("tinyhttpd: socket/bind/listen");
        return 1;
    }
    for (;;) {
        char buf[4096];
        size_t got = 0;
        int c = accept(s, NULL, NULL);
        struct timeval tmo = { .tv_sec = 2 };  /* a silent client can't stall us */
        if (c < 0)
            continue;
        setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof tmo);
        /* Read up to the end of the request head, so that close() does not
         * send a RST over unread data; a request that never ends is cut. */
        while (got < sizeof buf - 1) {
            ssize_t n = read(c, buf + got, sizeof buf - 1 - got);
            if (n <= 0)
                break;
            got += (size_t)n;
            buf[got] = '\0';
            if (strstr(buf, "\r\n\r\n") || strstr(buf, "\n\n"))
                break;
        }
        if (got > 0 && write(c, reply, sizeof reply - 1) < 0)
            perror("tinyhttpd: write");
        close(c);
    }
}
