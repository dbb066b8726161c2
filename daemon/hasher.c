/*
 * hasher: crypt(3) on a thread pool with completions on the event loop
 * (hasher.h).
 *
 * What must stay true:
 * - The loop never calls crypt. Threads take jobs from one queue under one
 *   mutex and write the finished job's pointer into a pipe (8 bytes, below
 *   PIPE_BUF, so the write is atomic); the loop's read event runs the
 *   callbacks. Threads touch only the job they hold (password, stored,
 *   match), never the loop's state.
 * - A job is freed by exactly one side: by the loop after its completion
 *   was read (cancelled ones are freed there without a callback), or by
 *   hasher_free for jobs still queued. hasher_free joins the threads first,
 *   so no thread holds a job by then; finished jobs still in the pipe are
 *   drained and freed.
 * - Passwords are wiped (explicit_bzero) as soon as the hash is computed.
 * - The threads run at nice HASHER_NICE, so under CPU pressure the event
 *   loop is scheduled before a password check.
 */

#include <sys/resource.h>

#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "hasher.h"
#include "log.h"
#include "queue.h"
#include "xmalloc.h"

#define HASHER_THREADS_MAX 16
/* Nice value of the hashing threads (the loop keeps the process's). */
#define HASHER_NICE 10

struct hasher_job {
	TAILQ_ENTRY(hasher_job) entry;
	struct hasher *hasher;
	char *password; /* wiped and freed once hashed */
	char *stored;
	bool match;
	bool cancelled; /* loop side only */
	hasher_done_cb *cb;
	void *arg;
};

TAILQ_HEAD(hasher_queue, hasher_job);

struct hasher {
	struct event_base *base;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct hasher_queue queue; /* under lock */
	size_t queued;		   /* under lock */
	bool stopping;		   /* under lock */
	pthread_t threads[HASHER_THREADS_MAX];
	int n_threads;
	int pipe_r;
	int pipe_w;
	struct event *done;
};

static void
hasher_job_free(struct hasher_job *job)
{
	if (job == NULL)
		return;
	if (job->password != NULL) {
		explicit_bzero(job->password, strlen(job->password));
		free(job->password);
	}
	free(job->stored);
	free(job);
}

bool
hasher_equal(const char *a, const char *b)
{
	size_t la = strlen(a);
	size_t lb = strlen(b);
	unsigned char diff = la != lb;

	for (size_t i = 0; i < lb; i++) {
		unsigned char ca = (unsigned char)a[i < la ? i : 0];

		diff |= ca ^ (unsigned char)b[i];
	}
	return diff == 0;
}

/* The thread side: one crypt per job, then the pointer into the pipe. */
static void *
hasher_thread(void *arg)
{
	struct hasher *h = arg;
	struct crypt_data *cd = xcalloc(1, sizeof(*cd));

	/*
	 * Below the event loop in the scheduler: on a busy machine the loop
	 * (webhook acks) gets the CPU first and logins wait. Best effort; on
	 * Linux the nice value of a thread id applies to that thread only.
	 */
	(void)setpriority(PRIO_PROCESS, (id_t)gettid(), HASHER_NICE);
	for (;;) {
		struct hasher_job *job = NULL;
		const char *out = NULL;
		ssize_t n;

		(void)pthread_mutex_lock(&h->lock); /* cannot fail for a valid mutex */
		while (!h->stopping && TAILQ_EMPTY(&h->queue))
			(void)pthread_cond_wait(&h->cond, &h->lock);
		if (h->stopping) {
			(void)pthread_mutex_unlock(&h->lock);
			break;
		}
		job = TAILQ_FIRST(&h->queue);
		TAILQ_REMOVE(&h->queue, job, entry);
		h->queued--;
		(void)pthread_mutex_unlock(&h->lock);

		memset(cd, 0, sizeof(*cd));
		out = crypt_r(job->password, job->stored, cd);
		/* crypt_r returns "*0"-style failure tokens, never a match, on bad settings. */
		job->match = out != NULL && out[0] != '*' && hasher_equal(job->stored, out);
		explicit_bzero(cd, sizeof(*cd));
		explicit_bzero(job->password, strlen(job->password));
		do {
			n = write(h->pipe_w, &job, sizeof(job));
		} while (n < 0 && errno == EINTR);
		if (n != (ssize_t)sizeof(job))
			fatal("hasher: cannot hand a finished job to the loop");
	}
	free(cd);
	return NULL;
}

static void
hasher_done_cb_loop(evutil_socket_t fd, short what, void *arg)
{
	struct hasher *h = arg;

	for (;;) {
		struct hasher_job *job = NULL;
		ssize_t n = read(h->pipe_r, &job, sizeof(job));

		if (n < 0 && errno == EINTR)
			continue;
		if (n != (ssize_t)sizeof(job))
			break; /* EAGAIN: drained */
		if (!job->cancelled)
			job->cb(job->match, job->arg);
		hasher_job_free(job);
	}
}

int
hasher_new(struct event_base *base, int threads, struct hasher **hasher_out, char **cause_out)
{
	struct hasher *h = xcalloc(1, sizeof(*h));
	int fds[2] = { -1, -1 };
	int r;

	h->base = base;
	h->pipe_r = -1;
	h->pipe_w = -1;
	TAILQ_INIT(&h->queue);
	(void)pthread_mutex_init(&h->lock, NULL); /* default attributes cannot fail */
	(void)pthread_cond_init(&h->cond, NULL);
	if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0) {
		r = -errno;
		*cause_out = xasprintf("hasher: cannot create a pipe: %s", strerror(errno));
		goto fail;
	}
	h->pipe_r = fds[0];
	h->pipe_w = fds[1];
	/* Threads block on a full pipe rather than lose a job. */
	if (fcntl(h->pipe_w, F_SETFL, 0) < 0) {
		r = -errno;
		*cause_out = xasprintf("hasher: cannot configure the pipe: %s", strerror(errno));
		goto fail;
	}
	h->done = event_new(base, h->pipe_r, EV_READ | EV_PERSIST, hasher_done_cb_loop, h);
	if (h->done == NULL || event_add(h->done, NULL) < 0) {
		r = -ENOMEM;
		*cause_out = xstrdup("hasher: cannot watch the completion pipe");
		goto fail;
	}
	if (threads < 1)
		threads = 1;
	if (threads > HASHER_THREADS_MAX)
		threads = HASHER_THREADS_MAX;
	for (int i = 0; i < threads; i++) {
		r = pthread_create(&h->threads[i], NULL, hasher_thread, h);
		if (r != 0) {
			*cause_out = xasprintf("hasher: cannot start a thread: %s", strerror(r));
			r = -r;
			goto fail;
		}
		h->n_threads++;
	}
	*hasher_out = h;
	return 0;
fail:
	hasher_free(h);
	return r;
}

void
hasher_free(struct hasher *h)
{
	struct hasher_job *job = NULL;

	if (h == NULL)
		return;
	(void)pthread_mutex_lock(&h->lock);
	h->stopping = true;
	(void)pthread_cond_broadcast(&h->cond);
	(void)pthread_mutex_unlock(&h->lock);
	for (int i = 0; i < h->n_threads; i++)
		(void)pthread_join(h->threads[i], NULL); /* our own joinable threads */
	while ((job = TAILQ_FIRST(&h->queue)) != NULL) {
		TAILQ_REMOVE(&h->queue, job, entry);
		hasher_job_free(job);
	}
	if (h->done != NULL)
		event_free(h->done);
	if (h->pipe_r >= 0) {
		for (;;) {
			ssize_t n = read(h->pipe_r, &job, sizeof(job));

			if (n != (ssize_t)sizeof(job))
				break;
			hasher_job_free(job);
		}
		(void)close(h->pipe_r);
	}
	if (h->pipe_w >= 0)
		(void)close(h->pipe_w);
	(void)pthread_cond_destroy(&h->cond);
	(void)pthread_mutex_destroy(&h->lock);
	free(h);
}

struct hasher_job *
hasher_verify(struct hasher *h, const char *password, const char *stored, hasher_done_cb *cb,
	      void *arg)
{
	struct hasher_job *job = NULL;

	(void)pthread_mutex_lock(&h->lock);
	if (h->queued >= HASHER_QUEUE_MAX) {
		(void)pthread_mutex_unlock(&h->lock);
		return NULL;
	}
	job = xcalloc(1, sizeof(*job));
	job->hasher = h;
	job->password = xstrdup(password);
	job->stored = xstrdup(stored);
	job->cb = cb;
	job->arg = arg;
	TAILQ_INSERT_TAIL(&h->queue, job, entry);
	h->queued++;
	(void)pthread_cond_signal(&h->cond);
	(void)pthread_mutex_unlock(&h->lock);
	return job;
}

void
hasher_cancel(struct hasher_job *job)
{
	/* Only the loop reads this flag, after the thread handed the job back. */
	job->cancelled = true;
}

char *
hasher_hash_with(const char *password, const char *setting, char **cause_out)
{
	struct crypt_data *cd = xcalloc(1, sizeof(*cd));
	const char *out = crypt_r(password, setting, cd);
	char *hash = NULL;

	if (out == NULL || out[0] == '*')
		*cause_out = xstrdup("crypt(3) refused to hash the password");
	else
		hash = xstrdup(out);
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	return hash;
}

char *
hasher_hash(const char *password, const char *prefix, char **cause_out)
{
	char setting[CRYPT_GENSALT_OUTPUT_SIZE];

	if (crypt_gensalt_rn(prefix != NULL ? prefix : "$y$", 0, NULL, 0, setting,
			     sizeof(setting)) == NULL) {
		*cause_out = xasprintf("cannot make a salt for %s: %s",
				       prefix != NULL ? prefix : "$y$", strerror(errno));
		return NULL;
	}
	return hasher_hash_with(password, setting, cause_out);
}

bool
hasher_is_supported(const char *stored)
{
	static const char *const prefixes[] = {
		"$y$", "$gy$", "$7$", "$2b$", "$2y$", "$6$", "$5$"
	};

	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		if (strncmp(stored, prefixes[i], strlen(prefixes[i])) == 0)
			return strlen(stored) < CRYPT_OUTPUT_SIZE;
	}
	return false;
}
