// epoll_echo.c: the C reference for chapter 4's benchmarks. A
// single-threaded echo server on Linux epoll (level-triggered), written the
// way a careful C programmer would: non-blocking sockets, one 64 KiB buffer
// per connection, and back-pressure (a connection whose echo is not fully
// written is watched for writability only, so it is not read from until its
// client has taken the rest). scripts/ch04-bench.sh builds it with cc -O2.
//
//	cc -O2 -o epoll_echo ch04-echo/cref/epoll_echo.c && ./epoll_echo 127.0.0.1 0
//
// It prints "msg=listening addr=HOST:PORT" on stderr, as the Go server logs.
#define _GNU_SOURCE // accept4
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF_SIZE (64 * 1024)

struct conn {
	int fd;
	size_t off, len; // buf[off:len] is read but not yet echoed
	char buf[BUF_SIZE];
};

static int ep;

static void die(const char *what) {
	perror(what);
	exit(1);
}

static void watch(struct conn *c, int op, unsigned events) {
	struct epoll_event ev = {.events = events, .data.ptr = c};
	if (epoll_ctl(ep, op, c->fd, &ev) < 0) die("epoll_ctl");
}

static void drop(struct conn *c) {
	close(c->fd); // also removes it from the epoll set
	free(c);
}

// flush writes what is pending. It returns 0 when all is written, 1 when the
// send buffer is full (wait for EPOLLOUT), -1 on an error.
static int flush(struct conn *c) {
	while (c->off < c->len) {
		ssize_t n = write(c->fd, c->buf + c->off, c->len - c->off);
		if (n < 0) return errno == EAGAIN ? 1 : -1;
		c->off += n;
	}
	c->off = c->len = 0;
	return 0;
}

// serve handles one readiness event on a connection.
static void serve(struct conn *c, unsigned events) {
	if (c->len > 0) { // waiting for room to finish the last echo
		int r = flush(c);
		if (r < 0) {
			drop(c);
			return;
		}
		if (r == 0) watch(c, EPOLL_CTL_MOD, EPOLLIN); // resume reading
		return;
	}
	if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR))) return;
	ssize_t n = read(c->fd, c->buf, BUF_SIZE);
	if (n < 0 && errno == EAGAIN) return;
	if (n <= 0) { // EOF (the client has closed) or an error
		drop(c);
		return;
	}
	c->len = n;
	int r = flush(c);
	if (r < 0) {
		drop(c);
		return;
	}
	if (r == 1) watch(c, EPOLL_CTL_MOD, EPOLLOUT); // back-pressure: stop reading
}

int main(int argc, char **argv) {
	const char *host = argc > 1 ? argv[1] : "127.0.0.1";
	int port = argc > 2 ? atoi(argv[2]) : 0;
	int ln = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	int one = 1;
	setsockopt(ln, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
	if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) die("inet_pton");
	if (bind(ln, (struct sockaddr *)&addr, sizeof addr) < 0) die("bind");
	if (listen(ln, SOMAXCONN) < 0) die("listen");
	socklen_t alen = sizeof addr;
	getsockname(ln, (struct sockaddr *)&addr, &alen);
	fprintf(stderr, "msg=listening addr=%s:%d\n", host, ntohs(addr.sin_port));

	if ((ep = epoll_create1(0)) < 0) die("epoll_create1");
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL}; // NULL: the listener
	if (epoll_ctl(ep, EPOLL_CTL_ADD, ln, &ev) < 0) die("epoll_ctl");
	struct epoll_event events[256];
	for (;;) {
		int n = epoll_wait(ep, events, 256, -1);
		if (n < 0 && errno == EINTR) continue;
		if (n < 0) die("epoll_wait");
		for (int i = 0; i < n; i++) {
			struct conn *c = events[i].data.ptr;
			if (c != NULL) {
				serve(c, events[i].events);
				continue;
			}
			int fd;
			while ((fd = accept4(ln, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
				if (!(c = malloc(sizeof *c))) die("malloc");
				c->fd = fd, c->off = c->len = 0;
				watch(c, EPOLL_CTL_ADD, EPOLLIN);
			}
		}
	}
}
