/*
 * civetweb_bare - the HTTP limit of this machine: a civetweb server whose
 * one handler answers a fixed JSON object, set up like the gateway
 * (keep-alive, TCP_NODELAY, one write per response). Benchmarks report the
 * gateway's figures as ratios to this one, measured in the same run.
 *
 *   civetweb_bare PORT [THREADS]
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <civetweb.h>

static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static int
handler(struct mg_connection *conn)
{

    static const char body[] = "{\"status\":\"ok\",\"service\":\"bare\"}";
    char buf[512];
    int n;

    n = snprintf(buf, sizeof(buf),
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        "Content-Length: %zu\r\n\r\n%s",
        sizeof(body) - 1, body);
    mg_write(conn, buf, (size_t)n);
    return 200;
}

int
main(int argc, char **argv)
{
    char port[64];
    const char *threads = argc > 2 ? argv[2] : "128";

    if (argc < 2) {
        fprintf(stderr, "usage: %s PORT [THREADS]\n", argv[0]);
        return 2;
    }
    snprintf(port, sizeof(port), "127.0.0.1:%s", argv[1]);
    const char *opts[] = {"listening_ports", port, "num_threads", threads,
        "enable_keep_alive", "yes", "tcp_nodelay", "1", NULL};
    struct mg_callbacks cb;
    memset(&cb, 0, sizeof(cb));
    cb.begin_request = handler; /* as the gateway does */
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    mg_init_library(0);
    struct mg_context *ctx = mg_start(&cb, NULL, opts);
    if (ctx == NULL) {
        fprintf(stderr, "cannot listen on %s\n", port);
        return 1;
    }
    while (!stop)
        usleep(100 * 1000);
    mg_stop(ctx);
    mg_exit_library();
    return 0;
}
