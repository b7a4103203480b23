/*
 * Minimal console-socket receiver, used to run runc's bats suite without Go.
 *
 * Stands in for the test helper runc builds from Go sources, "null" mode only:
 * listen on a unix socket, accept any number of connections, receive one pty
 * master fd per connection (SCM_RIGHTS) and read every master until EOF/EIO,
 * discarding the data so containers never block on terminal output.
 * Written in C so it listens within a millisecond: the bats helpers start it
 * in the background and use the socket right away.
 *
 * Usage: recvtty [--mode null] [--pid-file FILE] [--no-stdin] SOCKET
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_FDS 256

static int recv_fd(int conn)
{
	char data[256];
	char cbuf[CMSG_SPACE(sizeof(int) * 4)];
	struct iovec iov = { .iov_base = data, .iov_len = sizeof(data) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	int fd = -1;

	if (recvmsg(conn, &msg, MSG_CMSG_CLOEXEC) < 0)
		return -1;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
		    c->cmsg_len >= CMSG_LEN(sizeof(int)) && fd < 0)
			memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

int main(int argc, char **argv)
{
	const char *pid_file = NULL, *path = NULL, *mode = "null";
	struct pollfd pfd[MAX_FDS];
	int n = 1;

	for (int i = 1; i < argc; i++) {
		if ((!strcmp(argv[i], "--pid-file") || !strcmp(argv[i], "-pid-file")) && i + 1 < argc)
			pid_file = argv[++i];
		else if ((!strcmp(argv[i], "--mode") || !strcmp(argv[i], "-m")) && i + 1 < argc)
			mode = argv[++i];
		else if (!strcmp(argv[i], "--no-stdin"))
			;
		else
			path = argv[i];
	}
	if (!path || strcmp(mode, "null")) {
		fprintf(stderr, "usage: recvtty --mode null [--pid-file FILE] SOCKET\n");
		return 2;
	}

	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(addr.sun_path)) {
		fprintf(stderr, "recvtty: socket path too long\n");
		return 1;
	}
	strcpy(addr.sun_path, path);
	int srv = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (srv < 0 || bind(srv, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(srv, 64) < 0) {
		/* ENOENT: the test already finished and removed its directory. */
		if (errno == ENOENT)
			return 0;
		perror("recvtty: listen");
		return 1;
	}
	if (pid_file) {
		FILE *f = fopen(pid_file, "w");
		if (f) {
			fprintf(f, "%d", (int)getpid());
			fclose(f);
		}
	}

	pfd[0] = (struct pollfd){ .fd = srv, .events = POLLIN };
	for (;;) {
		if (poll(pfd, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			return 1;
		}
		for (int i = n - 1; i >= 1; i--) {
			if (!pfd[i].revents)
				continue;
			char buf[4096];
			if (read(pfd[i].fd, buf, sizeof(buf)) <= 0) {
				close(pfd[i].fd);
				pfd[i] = pfd[--n];
			}
		}
		if (pfd[0].revents & POLLIN) {
			int conn = accept4(srv, NULL, NULL, SOCK_CLOEXEC);
			if (conn < 0)
				continue;
			int master = recv_fd(conn);
			close(conn);
			if (master < 0)
				continue;
			if (n < MAX_FDS)
				pfd[n++] = (struct pollfd){ .fd = master, .events = POLLIN };
			else
				close(master);
		}
	}
}
