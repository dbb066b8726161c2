/*
 * bench_ack_proxy: the recording proxy of tests/bench/bench_daemon_outage.py
 * in C, so that a webhook's ack time is trhubd's and not the measuring side's.
 * The Python recorder it stands in for ran as threads in the driver's
 * interpreter; a GIL switch or a collection there could hold a webhook for
 * milliseconds, which the outage target (every ack within 5 ms) cannot tell
 * from a pause in trhubd.
 *
 *   bench_ack_proxy TARGET_PORT [BASELINE_PORT]
 *
 * It listens on 127.0.0.1 (an ephemeral port, printed as "PORT n" on the
 * first line of stdout) and serves each connection on its own thread. For
 * every request (HTTP/1.1, Content-Length bodies, keep-alive) it opens a new
 * connection to 127.0.0.1:TARGET_PORT, as the Python recorder did, sends the
 * request line, Host, Content-Length and the headers a webhook carries
 * (Content-Type, X-Twilio-Signature, I-Twilio-Idempotency-Token,
 * User-Agent), reads the whole answer, and passes its status and body back.
 *
 * The ack time is stamped with CLOCK_MONOTONIC (Python's time.monotonic)
 * just before connect() and just after the last byte of the answer, so it
 * holds the connection set-up, trhubd's accept, read, check and answer.
 *
 * The baseline: with BASELINE_PORT (nginx answering a bare 204, say), every
 * request also goes, the same way, to that server, and its ack time is
 * recorded beside trhubd's. The two go one after the other, in turns (trhubd
 * first for even requests, the baseline first for odd ones), so neither is
 * always the one that waits. This machine is shared: a stall the baseline
 * sees too belongs to the machine, not to trhubd.
 *
 * The stall probe: one thread per CPU, pinned to it, sleeps 1 ms at a time
 * and reports every wake-up that came more than 2 ms late. A late wake-up
 * means that CPU ran something else for that long, or did not run at all (a
 * virtual CPU the host did not schedule).
 *
 * Priority: the proxy asks for SCHED_FIFO (it needs root or CAP_SYS_NICE;
 * without, it says so on stderr and runs as it is). The driver of a benchmark
 * runs Python for tens of milliseconds at a time; a proxy thread queued behind
 * it on the same CPU would count that wait as the ack's. At a real-time
 * priority it runs the moment its answer arrives, and a probe that still
 * wakes late saw a CPU that ran nothing at all for it.
 *
 * stdout: one line per request, written whole under a lock:
 *   REC t_sent t_done status b_sent b_done b_status path body
 * (b_* are 0 without a baseline) with path and body as received (a webhook
 * body is URL-encoded and holds no space or newline; a body with either is
 * refused with 400); and one line per late wake-up:
 *   STALL cpu t_asleep t_woke
 */

#include <sys/socket.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define PROXY_HEAD_MAX	  (16 * 1024)
#define PROXY_BODY_MAX	  (1024 * 1024)
#define PROXY_HDR_MAX	  4096
#define PROXY_TIMEOUT_S	  60
#define PROBE_PERIOD_NS	  1000000
#define PROBE_LATE_S	  0.002
#define PROXY_RT_PRIORITY 10

static int proxy_target_port;
static int proxy_baseline_port;
static unsigned long proxy_requests;
static pthread_mutex_t proxy_out_lock = PTHREAD_MUTEX_INITIALIZER;

static double
proxy_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

struct proxy_buf {
	int fd;
	char data[PROXY_HEAD_MAX + PROXY_BODY_MAX];
	size_t len; /* bytes held, from data[0] */
};

/* Reads more into b; returns false on end of file, error or a full buffer. */
static bool
proxy_fill(struct proxy_buf *b)
{
	ssize_t n;

	if (b->len == sizeof(b->data))
		return false;
	do
		n = read(b->fd, b->data + b->len, sizeof(b->data) - b->len);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return false;
	b->len += (size_t)n;
	return true;
}

static void
proxy_consume(struct proxy_buf *b, size_t n)
{
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
}

static bool
proxy_write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

/*
 * The value of header name in the head [p, end), copied into out (at most
 * outsz - 1 bytes); false when absent.
 */
static bool
proxy_header(const char *head, size_t headlen, const char *name, char *out, size_t outsz)
{
	size_t nlen = strlen(name);
	const char *p = memchr(head, '\n', headlen);
	const char *end = head + headlen;

	while (p != NULL && ++p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *v;
		size_t vlen;

		if (eol == NULL)
			break;
		if ((size_t)(eol - p) > nlen && p[nlen] == ':' && strncasecmp(p, name, nlen) == 0) {
			v = p + nlen + 1;
			while (v < eol && (*v == ' ' || *v == '\t'))
				v++;
			vlen = (size_t)(eol - v);
			while (vlen > 0 && (v[vlen - 1] == '\r' || v[vlen - 1] == ' '))
				vlen--;
			if (vlen >= outsz)
				vlen = outsz - 1;
			memcpy(out, v, vlen);
			out[vlen] = '\0';
			return true;
		}
		p = eol;
	}
	return false;
}

/* Index just past "\r\n\r\n" in b, or 0 when the head is not complete. */
static size_t
proxy_head_end(const struct proxy_buf *b)
{
	for (size_t i = 3; i < b->len; i++)
		if (b->data[i] == '\n' && b->data[i - 1] == '\r' && b->data[i - 2] == '\n' &&
		    b->data[i - 3] == '\r')
			return i + 1;
	return 0;
}

/*
 * Reads one complete message (head and Content-Length body) into b; returns
 * the head's length and sets *bodylen, or 0 on end of file or a bad message.
 */
static size_t
proxy_read_message(struct proxy_buf *b, size_t *bodylen)
{
	size_t head;
	char cl[32];

	while ((head = proxy_head_end(b)) == 0)
		if (b->len >= PROXY_HEAD_MAX || !proxy_fill(b))
			return 0;
	*bodylen = 0;
	if (proxy_header(b->data, head, "Content-Length", cl, sizeof(cl))) {
		char *endp;
		unsigned long v = strtoul(cl, &endp, 10);

		if (*endp != '\0' || v > PROXY_BODY_MAX)
			return 0;
		*bodylen = v;
	}
	while (b->len < head + *bodylen)
		if (!proxy_fill(b))
			return 0;
	return head;
}

static int
proxy_connect(int port)
{
	struct sockaddr_in sin = {
		.sin_family = AF_INET,
		.sin_port = htons((unsigned short)port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	struct timeval tv = { .tv_sec = PROXY_TIMEOUT_S };

	if (fd < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Forwards one request to port; returns the status (0 when it gave none). */
static int
proxy_forward(int port, const char *method, const char *path, const char *head, size_t headlen,
	      const char *body, size_t bodylen, struct proxy_buf *up, size_t *resp_head,
	      size_t *resp_bodylen)
{
	static const char *const pass[] = { "Content-Type", "X-Twilio-Signature",
					    "I-Twilio-Idempotency-Token", "User-Agent" };
	char out[PROXY_HEAD_MAX];
	char v[PROXY_HDR_MAX];
	int n, status = 0;

	n = snprintf(out, sizeof(out),
		     "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAccept-Encoding: identity\r\n"
		     "Content-Length: %zu\r\n",
		     method, path, port, bodylen);
	for (size_t i = 0; i < sizeof(pass) / sizeof(pass[0]); i++)
		if (proxy_header(head, headlen, pass[i], v, sizeof(v)))
			n += snprintf(out + n, sizeof(out) - (size_t)n, "%s: %s\r\n", pass[i], v);
	n += snprintf(out + n, sizeof(out) - (size_t)n, "\r\n");
	if ((size_t)n >= sizeof(out))
		return 0;

	up->fd = proxy_connect(port);
	up->len = 0;
	if (up->fd < 0)
		return 0;
	if (proxy_write_all(up->fd, out, (size_t)n) && proxy_write_all(up->fd, body, bodylen) &&
	    (*resp_head = proxy_read_message(up, resp_bodylen)) != 0 &&
	    sscanf(up->data, "HTTP/1.%*d %d", &status) != 1)
		status = 0;
	/* A 204 or 304 has no body whatever it says; proxy_read_message read none. */
	close(up->fd);
	return status;
}

static void *
proxy_serve(void *arg)
{
	struct proxy_buf *down = malloc(sizeof(*down));
	struct proxy_buf *up = malloc(sizeof(*up));
	struct proxy_buf *base = malloc(sizeof(*base));
	size_t head, bodylen;

	if (down == NULL || up == NULL || base == NULL)
		goto out;
	down->fd = (int)(intptr_t)arg;
	down->len = 0;
	while ((head = proxy_read_message(down, &bodylen)) != 0) {
		char method[16], path[2048], reply[256];
		size_t resp_head = 0, resp_bodylen = 0;
		size_t base_head, base_bodylen;
		double t_sent, t_done, b_sent = 0, b_done = 0;
		int status, n, b_status = 0;
		bool printable = true, base_first;

		if (sscanf(down->data, "%15s %2047s HTTP/1.", method, path) != 2)
			break;
		for (size_t i = 0; i < bodylen; i++)
			if (down->data[head + i] == ' ' || down->data[head + i] == '\n')
				printable = false;
		if (!printable) {
			static const char bad[] =
				"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";

			proxy_write_all(down->fd, bad, sizeof(bad) - 1);
			proxy_consume(down, head + bodylen);
			continue;
		}
		pthread_mutex_lock(&proxy_out_lock);
		base_first = proxy_requests++ % 2 == 1;
		pthread_mutex_unlock(&proxy_out_lock);
		if (proxy_baseline_port != 0 && base_first) {
			b_sent = proxy_now();
			b_status = proxy_forward(proxy_baseline_port, method, path, down->data,
						 head, down->data + head, bodylen, base, &base_head,
						 &base_bodylen);
			b_done = proxy_now();
		}
		t_sent = proxy_now();
		status = proxy_forward(proxy_target_port, method, path, down->data, head,
				       down->data + head, bodylen, up, &resp_head, &resp_bodylen);
		t_done = proxy_now();
		if (proxy_baseline_port != 0 && !base_first) {
			b_sent = proxy_now();
			b_status = proxy_forward(proxy_baseline_port, method, path, down->data,
						 head, down->data + head, bodylen, base, &base_head,
						 &base_bodylen);
			b_done = proxy_now();
		}

		pthread_mutex_lock(&proxy_out_lock);
		printf("REC %.6f %.6f %d %.6f %.6f %d %s %.*s\n", t_sent, t_done, status, b_sent,
		       b_done, b_status, path, (int)bodylen, down->data + head);
		fflush(stdout);
		pthread_mutex_unlock(&proxy_out_lock);

		if (status == 0) {
			resp_bodylen = 0;
			status = 502;
		} else if (status == 204) {
			resp_bodylen = 0;
		}
		n = snprintf(reply, sizeof(reply),
			     "HTTP/1.1 %d Proxied\r\nContent-Type: application/json\r\n"
			     "Content-Length: %zu\r\n\r\n",
			     status, resp_bodylen);
		if (!proxy_write_all(down->fd, reply, (size_t)n) ||
		    !proxy_write_all(down->fd, up->data + resp_head, resp_bodylen))
			break;
		proxy_consume(down, head + bodylen);
	}
out:
	close((int)(intptr_t)arg);
	free(down);
	free(up);
	free(base);
	return NULL;
}

/* A TCP port from its decimal form; 0 when s is not one. */
static int
proxy_port(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);

	return *s != '\0' && *end == '\0' && v > 0 && v <= 65535 ? (int)v : 0;
}

static void *
proxy_probe(void *arg)
{
	struct timespec period = { .tv_nsec = PROBE_PERIOD_NS };
	int cpu = (int)(intptr_t)arg;
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set) != 0)
		return NULL;
	for (;;) {
		double t0 = proxy_now(), t1;

		nanosleep(&period, NULL);
		t1 = proxy_now();
		if (t1 - t0 - PROBE_PERIOD_NS / 1e9 > PROBE_LATE_S) {
			pthread_mutex_lock(&proxy_out_lock);
			printf("STALL %d %.6f %.6f\n", cpu, t0, t1);
			fflush(stdout);
			pthread_mutex_unlock(&proxy_out_lock);
		}
	}
	return NULL;
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sigaction ignore = { .sa_handler = SIG_IGN };
	socklen_t slen = sizeof(sin);
	int lfd, one = 1;

	if (argc < 2 || argc > 3 || (proxy_target_port = proxy_port(argv[1])) == 0 ||
	    (argc == 3 && (proxy_baseline_port = proxy_port(argv[2])) == 0)) {
		fprintf(stderr, "usage: bench_ack_proxy TARGET_PORT [BASELINE_PORT]\n");
		return 2;
	}
	sigaction(SIGPIPE, &ignore, NULL);
	{
		struct sched_param sp = { .sched_priority = PROXY_RT_PRIORITY };

		if (sched_setscheduler(0, SCHED_FIFO, &sp) < 0)
			fprintf(stderr,
				"bench_ack_proxy: no SCHED_FIFO (%s): ack times include "
				"waits for a CPU\n",
				strerror(errno));
	}
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(lfd, 128) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&sin, &slen) < 0) {
		perror("bench_ack_proxy: listen");
		return 1;
	}
	printf("PORT %d\n", ntohs(sin.sin_port));
	fflush(stdout);
	for (long cpu = 0; cpu < sysconf(_SC_NPROCESSORS_ONLN) && cpu < CPU_SETSIZE; cpu++) {
		pthread_t t;

		if (pthread_create(&t, NULL, proxy_probe, (void *)(intptr_t)cpu) == 0)
			pthread_detach(t);
	}
	for (;;) {
		pthread_t t;
		pthread_attr_t attr;
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE)
				continue;
			perror("bench_ack_proxy: accept");
			return 1;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		if (pthread_create(&t, &attr, proxy_serve, (void *)(intptr_t)fd) != 0)
			close(fd);
		pthread_attr_destroy(&attr);
	}
}
