/* Test helper for integration/engines: the sd_notify protocol without libsystemd.
 *   notify send MESSAGE        send MESSAGE as one datagram to $NOTIFY_SOCKET
 *   notify recv PATH TIMEOUT   bind a datagram socket at PATH, print each datagram received
 *                              (one per line) until one contains READY=1 or TIMEOUT seconds pass
 * Built static so the same binary runs on the host and inside the busybox image. */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int fill_addr(struct sockaddr_un *sa, const char *path)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path)) {
		fprintf(stderr, "notify: socket path too long: %s\n", path);
		return -1;
	}
	strcpy(sa->sun_path, path);
	if (sa->sun_path[0] == '@')
		sa->sun_path[0] = '\0';
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_un sa;
	int fd;

	if (argc == 3 && strcmp(argv[1], "send") == 0) {
		const char *path = getenv("NOTIFY_SOCKET");
		if (path == NULL) {
			fprintf(stderr, "notify: NOTIFY_SOCKET is not set\n");
			return 2;
		}
		if (fill_addr(&sa, path) < 0)
			return 2;
		fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || sendto(fd, argv[2], strlen(argv[2]), 0, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			perror("notify: send");
			return 1;
		}
		return 0;
	}
	if (argc == 4 && strcmp(argv[1], "recv") == 0) {
		char buf[4096];
		int timeout_ms = atoi(argv[3]) * 1000;
		if (fill_addr(&sa, argv[2]) < 0)
			return 2;
		fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			perror("notify: bind");
			return 1;
		}
		for (;;) {
			struct pollfd p = { .fd = fd, .events = POLLIN };
			int r = poll(&p, 1, timeout_ms);
			if (r <= 0) {
				fprintf(stderr, "notify: no READY=1 received\n");
				return 1;
			}
			ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);
			if (n < 0) {
				perror("notify: recv");
				return 1;
			}
			buf[n] = '\0';
			printf("%s\n", buf);
			fflush(stdout);
			if (strstr(buf, "READY=1") != NULL)
				return 0;
		}
	}
	fprintf(stderr, "usage: notify send MESSAGE | notify recv PATH TIMEOUT\n");
	return 2;
}
