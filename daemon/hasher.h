#pragma once

/*
 * hasher: password hashes (crypt(3): yescrypt, sha512crypt, ...) checked
 * off the event loop. A verification costs tens of milliseconds by design,
 * so it runs on a small pool of threads; the result comes back to the loop
 * through a pipe and the completion callback runs on the loop. A login storm
 * therefore queues here and never delays webhook acknowledgements.
 *
 * The queue is bounded (HASHER_QUEUE_MAX jobs waiting); a full queue is
 * refused at submit time, and the caller answers "busy".
 */

#include <stdbool.h>
#include <stddef.h>

#include <event2/event.h>

struct hasher;
struct hasher_job;

/* Jobs waiting for a thread, beyond which hasher_verify refuses. */
#define HASHER_QUEUE_MAX 256

/*
 * Called on the loop exactly once per job that was not cancelled: match is
 * true when the password hashed with the stored hash's setting equals it.
 * The job is freed right after the callback returns.
 */
typedef void hasher_done_cb(bool match, void *arg);

/*
 * Starts threads (1..16) and the completion event on base (borrowed, must
 * outlive the hasher). Returns 0 or a negative errno with *cause_out.
 */
int hasher_new(struct event_base *base, int threads, struct hasher **hasher_out, char **cause_out);
/*
 * Stops the threads (each finishes the hash it is computing), frees jobs not
 * yet completed without calling their callbacks. NULL-safe.
 */
void hasher_free(struct hasher *h);

/*
 * Queues crypt(password, stored) == stored. password and stored are copied
 * (the copy of password is wiped when the job ends). Returns the job (owned
 * by the hasher; valid until its callback ran or hasher_cancel), or NULL
 * when HASHER_QUEUE_MAX jobs are waiting.
 */
struct hasher_job *hasher_verify(struct hasher *h, const char *password, const char *stored,
				 hasher_done_cb *cb, void *arg);
/* The callback of job will not run. The job must not have completed yet. */
void hasher_cancel(struct hasher_job *job);

/*
 * Hashes password with a fresh random salt: prefix "$y$" (yescrypt, the
 * default when NULL) or "$6$" (sha512crypt), at the library's default cost.
 * Blocking: for start-up and trhubd --hash-password, never on the loop.
 * Returns an allocated hash, or NULL with *cause_out.
 */
char *hasher_hash(const char *password, const char *prefix, char **cause_out);

/* Hashes password with an explicit crypt setting ("$y$j9T$salt"); as hasher_hash. */
char *hasher_hash_with(const char *password, const char *setting, char **cause_out);

/* True when stored looks like a hash crypt(3) can check with a modern method. */
bool hasher_is_supported(const char *stored);

/* Compares two NUL-terminated strings in time that depends only on their lengths. */
bool hasher_equal(const char *a, const char *b);
