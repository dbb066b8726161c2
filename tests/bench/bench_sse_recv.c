/*
 * bench_sse_recv: the stream clients of tests/bench/bench_daemon_sse.py in one
 * process, so that the measuring side costs little CPU next to trhubd (the
 * Python receivers it replaces needed a regular expression over every byte,
 * in two interpreters sharing the host's cores with trhubd).
 *
 *   bench_sse_recv PORT CLIENTS SECONDS PATH
 *
 * stdin: the first line is the session cookie ("name=value", may be empty);
 * end of file afterwards means the sender is done. It opens CLIENTS
 * connections to 127.0.0.1:PORT, sends "GET PATH" on each and reads them
 * with epoll (level-triggered). Every read is stamped with CLOCK_MONOTONIC
 * just before the read() (the sender stamps with Python's time.monotonic,
 * the same clock), and every event Sid ("EV" + 32 hex digits, wherever it
 * appears in the stream, as the Python receivers match it) that the read
 * brings to that client for the first time gets that stamp.
 *
 * stdout: "READY" once every client has seen its snapshot, then, after
 * stdin closed and nothing arrived for a second (bounded by SECONDS), one
 * JSON line: {"closed":N,"seen":[{"EV...":t,...},...]} with t in seconds,
 * one object per client: the Python receivers' format.
 */

#include <sys/epoll.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define RECV_SID_LEN	  34 /* "EV" + 32 hex digits */
#define RECV_TAIL	  (RECV_SID_LEN - 1)
#define RECV_READ_BYTES	  (256 * 1024)
#define RECV_MAX_CLIENTS  4096
#define RECV_TABLE_SIZE	  (1u << 20) /* distinct Sids at most (open addressing, half full) */
#define RECV_QUIET_S	  1.0
#define RECV_COOKIE_BYTES 1024

struct recv_client {
	int fd;
	bool snapshot; /* has seen "snapshot" */
	bool checked;  /* the status line was checked */
	size_t ntail;  /* bytes kept from the last read (a Sid may span two reads) */
	char tail[RECV_TAIL];
	double *seen; /* by Sid index: first sight, 0 when not yet */
	size_t nseen; /* entries allocated in seen */
};

/* Every distinct Sid: a hash table of indexes into sids. */
static char (*recv_sids)[RECV_SID_LEN];
static size_t recv_nsids;
static uint32_t *recv_table; /* index + 1; 0 is empty */

static double
recv_now(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *
recv_alloc(size_t n, size_t size)
{
	void *p = calloc(n, size);

	if (p == NULL) {
		fprintf(stderr, "bench_sse_recv: out of memory\n");
		exit(2);
	}
	return p;
}

/* The index of sid (RECV_SID_LEN bytes), added when new. */
static size_t
recv_sid_index(const char *sid)
{
	uint32_t h = 2166136261u;
	size_t i;
	size_t slot;

	for (i = 2; i < RECV_SID_LEN; i++)
		h = (h ^ (unsigned char)sid[i]) * 16777619u;
	slot = h & (RECV_TABLE_SIZE - 1);
	while (recv_table[slot] != 0) {
		size_t k = recv_table[slot] - 1;

		if (memcmp(recv_sids[k], sid, RECV_SID_LEN) == 0)
			return k;
		slot = (slot + 1) & (RECV_TABLE_SIZE - 1);
	}
	if (recv_nsids >= RECV_TABLE_SIZE / 2) {
		fprintf(stderr, "bench_sse_recv: more than %u distinct event Sids\n",
			RECV_TABLE_SIZE / 2);
		exit(2);
	}
	memcpy(recv_sids[recv_nsids], sid, RECV_SID_LEN);
	recv_table[slot] = (uint32_t)recv_nsids + 1;
	return recv_nsids++;
}

static bool
recv_is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* Records every Sid in buf (len bytes) as seen by cl at t, unless it was already. */
static void
recv_scan(struct recv_client *cl, const char *buf, size_t len, double t)
{
	const char *p = buf;
	const char *end = buf + len;

	while ((p = memchr(p, 'E', (size_t)(end - p))) != NULL) {
		size_t i;
		size_t k;

		if (end - p < RECV_SID_LEN)
			break;
		if (p[1] != 'V') {
			p++;
			continue;
		}
		for (i = 2; i < RECV_SID_LEN && recv_is_hex(p[i]); i++)
			;
		if (i < RECV_SID_LEN) {
			p++;
			continue;
		}
		k = recv_sid_index(p);
		if (k >= cl->nseen) {
			size_t n = cl->nseen == 0 ? 1024 : cl->nseen;
			double *grown = NULL;

			while (n <= k)
				n *= 2;
			grown = realloc(cl->seen, n * sizeof(*cl->seen));
			if (grown == NULL) {
				fprintf(stderr, "bench_sse_recv: out of memory\n");
				exit(2);
			}
			cl->seen = grown;
			memset(cl->seen + cl->nseen, 0, (n - cl->nseen) * sizeof(*cl->seen));
			cl->nseen = n;
		}
		if (cl->seen[k] == 0)
			cl->seen[k] = t;
		p += RECV_SID_LEN;
	}
}

static int
recv_connect(int port, const char *path, const char *cookie)
{
	struct sockaddr_in sa;
	char req[2048];
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	int n;
	size_t off = 0;

	if (fd < 0)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		goto fail;
	n = snprintf(req, sizeof(req),
		     "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n"
		     "%s%s%s\r\n",
		     path, cookie[0] != '\0' ? "Cookie: " : "", cookie,
		     cookie[0] != '\0' ? "\r\n" : "");
	if (n < 0 || (size_t)n >= sizeof(req))
		goto fail;
	while (off < (size_t)n) {
		ssize_t w = write(fd, req + off, (size_t)n - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			goto fail;
		off += (size_t)w;
	}
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0)
		goto fail;
	return fd;
fail:
	close(fd);
	return -1;
}

static void
recv_report(struct recv_client *cl, int n, int closed)
{
	int i;
	size_t k;

	printf("{\"closed\":%d,\"seen\":[", closed);
	for (i = 0; i < n; i++) {
		bool first = true;

		printf("%s{", i > 0 ? "," : "");
		for (k = 0; k < cl[i].nseen && k < recv_nsids; k++) {
			if (cl[i].seen[k] == 0)
				continue;
			printf("%s\"%.*s\":%.9f", first ? "" : ",", RECV_SID_LEN, recv_sids[k],
			       cl[i].seen[k]);
			first = false;
		}
		printf("}");
	}
	printf("]}\n");
	fflush(stdout);
}

int
main(int argc, char **argv)
{
	static char buf[RECV_TAIL + RECV_READ_BYTES];
	static struct epoll_event evs[256];
	char cookie[RECV_COOKIE_BYTES] = "";
	struct recv_client *cl = NULL;
	int port;
	int n;
	int i;
	int ep;
	int closed = 0;
	int nsnap = 0;
	bool stdin_open = true;
	double end;
	double last_data;

	if (argc != 5) {
		fprintf(stderr, "usage: bench_sse_recv PORT CLIENTS SECONDS PATH\n");
		return 2;
	}
	port = (int)strtol(argv[1], NULL, 10);
	n = (int)strtol(argv[2], NULL, 10);
	end = recv_now() + strtod(argv[3], NULL);
	if (port <= 0 || port > 65535 || n <= 0 || n > RECV_MAX_CLIENTS) {
		fprintf(stderr, "bench_sse_recv: bad port or client count\n");
		return 2;
	}
	if (fgets(cookie, sizeof(cookie), stdin) == NULL)
		cookie[0] = '\0';
	cookie[strcspn(cookie, "\r\n")] = '\0';
	recv_sids = recv_alloc(RECV_TABLE_SIZE / 2, sizeof(*recv_sids));
	recv_table = recv_alloc(RECV_TABLE_SIZE, sizeof(*recv_table));
	cl = recv_alloc((size_t)n, sizeof(*cl));
	ep = epoll_create1(0);
	if (ep < 0) {
		perror("bench_sse_recv: epoll_create1");
		return 2;
	}
	for (i = 0; i < n; i++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t)i };

		cl[i].fd = recv_connect(port, argv[4], cookie);
		if (cl[i].fd < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, cl[i].fd, &ev) != 0) {
			fprintf(stderr, "bench_sse_recv: client %d cannot connect: %s\n", i,
				strerror(errno));
			return 2;
		}
	}
	{
		struct epoll_event ev = { .events = EPOLLIN, .data.u32 = UINT32_MAX };

		(void)fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
		if (epoll_ctl(ep, EPOLL_CTL_ADD, 0, &ev) != 0)
			stdin_open = false; /* not pollable: then only SECONDS ends the run */
	}
	last_data = recv_now();
	/* Until stdin closed and nothing arrived for a second, bounded by SECONDS. */
	while (recv_now() < end && !(!stdin_open && recv_now() - last_data > RECV_QUIET_S)) {
		int m = epoll_wait(ep, evs, (int)(sizeof(evs) / sizeof(evs[0])), 50);
		int j;

		if (m < 0 && errno != EINTR) {
			perror("bench_sse_recv: epoll_wait");
			return 2;
		}
		if (m > 0)
			last_data = recv_now();
		for (j = 0; j < m; j++) {
			struct recv_client *c;
			double t;
			ssize_t r;

			if (evs[j].data.u32 == UINT32_MAX) {
				char drain[256];

				r = read(0, drain, sizeof(drain));
				if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
					(void)epoll_ctl(ep, EPOLL_CTL_DEL, 0, NULL);
					stdin_open = false;
				}
				continue;
			}
			c = &cl[evs[j].data.u32];
			memcpy(buf, c->tail, c->ntail);
			t = recv_now();
			r = read(c->fd, buf + c->ntail, RECV_READ_BYTES);
			if (r < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (r <= 0) {
				(void)epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
				close(c->fd);
				c->fd = -1;
				closed++;
				continue;
			}
			if (!c->checked) {
				c->checked = true;
				if (r < 12 || memcmp(buf, "HTTP/1.1 200", 12) != 0) {
					fprintf(stderr, "bench_sse_recv: client %d: %.*s\n",
						(int)(c - cl), (int)(r < 80 ? r : 80), buf);
					return 1;
				}
			}
			r += (ssize_t)c->ntail;
			if (!c->snapshot && memmem(buf, (size_t)r, "snapshot", 8) != NULL) {
				c->snapshot = true;
				if (++nsnap == n) {
					printf("READY\n");
					fflush(stdout);
				}
			}
			recv_scan(c, buf, (size_t)r, t);
			c->ntail = (size_t)r < RECV_TAIL ? (size_t)r : RECV_TAIL;
			memcpy(c->tail, buf + r - c->ntail, c->ntail);
		}
	}
	recv_report(cl, n, closed);
	for (i = 0; i < n; i++) {
		if (cl[i].fd >= 0)
			close(cl[i].fd);
		free(cl[i].seen);
	}
	free(cl);
	free(recv_table);
	free(recv_sids);
	close(ep);
	return 0;
}
