/*
 * Unit tests for daemon/hasher: crypt(3) checks on the thread pool with
 * completions on the event loop (match, mismatch, a cancelled job never
 * calls back, the queue bound), the constant-time string compare and the
 * accepted hash methods. Cheap sha256crypt settings keep it fast.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/event.h>

#include "hasher.h"

struct result {
	int calls;
	bool match;
	struct event_base *base;
	int *pending;
};

static void
done_cb(bool match, void *arg)
{
	struct result *r = arg;

	r->calls++;
	r->match = match;
	if (--*r->pending == 0)
		event_base_loopbreak(r->base);
}

static char *
cheap_hash(const char *pw)
{
	char *cause = NULL;
	char *h = hasher_hash_with(pw, "$5$rounds=1000$abcdefgh", &cause);

	assert_non_null(h);
	return h;
}

static void
test_hasher_verifies_off_the_loop(void **state)
{
	struct event_base *base = event_base_new();
	struct hasher *h = NULL;
	char *cause = NULL;
	char *stored = cheap_hash("right");
	int pending = 2;
	struct result good = { .base = base, .pending = &pending };
	struct result bad = { .base = base, .pending = &pending };

	assert_int_equal(hasher_new(base, 2, &h, &cause), 0);
	assert_non_null(hasher_verify(h, "right", stored, done_cb, &good));
	assert_non_null(hasher_verify(h, "wrong", stored, done_cb, &bad));
	/* Nothing runs until the loop reads the completions. */
	assert_int_equal(good.calls + bad.calls, 0);
	while (pending > 0)
		assert_true(event_base_dispatch(base) >= 0);
	assert_int_equal(good.calls, 1);
	assert_true(good.match);
	assert_int_equal(bad.calls, 1);
	assert_false(bad.match);
	hasher_free(h);
	free(stored);
	event_base_free(base);
}

static void
test_hasher_cancelled_job_never_calls_back(void **state)
{
	struct event_base *base = event_base_new();
	struct hasher *h = NULL;
	char *cause = NULL;
	char *stored = cheap_hash("pw");
	int pending = 1;
	struct result first = { .base = base, .pending = &pending };
	struct result second = { .base = base, .pending = &pending };
	struct hasher_job *job = NULL;

	assert_int_equal(hasher_new(base, 1, &h, &cause), 0);
	job = hasher_verify(h, "pw", stored, done_cb, &first);
	assert_non_null(job);
	hasher_cancel(job);
	/* One thread, FIFO: when the second completes, the first has been read too. */
	assert_non_null(hasher_verify(h, "pw", stored, done_cb, &second));
	while (pending > 0)
		assert_true(event_base_dispatch(base) >= 0);
	assert_int_equal(first.calls, 0);
	assert_int_equal(second.calls, 1);
	assert_true(second.match);
	hasher_free(h);
	free(stored);
	event_base_free(base);
}

static void
test_hasher_queue_is_bounded_and_free_drops_waiting_jobs(void **state)
{
	struct event_base *base = event_base_new();
	struct hasher *h = NULL;
	char *cause = NULL;
	char *stored = cheap_hash("pw");
	int pending = 0;
	struct result r = { .base = base, .pending = &pending };
	int accepted = 0;
	int refused = 0;

	assert_int_equal(hasher_new(base, 1, &h, &cause), 0);
	for (int i = 0; i < HASHER_QUEUE_MAX + 50; i++) {
		if (hasher_verify(h, "pw", stored, done_cb, &r) != NULL)
			accepted++;
		else
			refused++;
	}
	assert_true(refused > 0);
	assert_true(accepted <= HASHER_QUEUE_MAX + 1);
	/* Freed with jobs queued and in flight: no callback, no leak (ASan). */
	hasher_free(h);
	assert_int_equal(r.calls, 0);
	free(stored);
	event_base_free(base);
}

static void
test_hasher_equal_and_supported(void **state)
{
	assert_true(hasher_equal("abc", "abc"));
	assert_false(hasher_equal("abc", "abd"));
	assert_false(hasher_equal("abc", "ab"));
	assert_false(hasher_equal("ab", "abc"));
	assert_true(hasher_equal("", ""));
	assert_false(hasher_equal("", "x"));
	assert_true(hasher_is_supported("$y$j9T$abc$def"));
	assert_true(hasher_is_supported("$6$salt$hash"));
	assert_true(hasher_is_supported("$2b$10$abc"));
	assert_false(hasher_is_supported("$1$md5$old"));
	assert_false(hasher_is_supported("plaintext"));
	assert_false(hasher_is_supported("abDES0123456"));
}

static void
test_hasher_hash_makes_yescrypt_by_default(void **state)
{
	char *cause = NULL;
	char *h = hasher_hash("pw", NULL, &cause);
	char *h2 = hasher_hash("pw", NULL, &cause);
	char *s = hasher_hash("pw", "$6$", &cause);

	assert_non_null(h);
	assert_non_null(h2);
	assert_non_null(s);
	assert_int_equal(strncmp(h, "$y$", 3), 0);
	assert_int_equal(strncmp(s, "$6$", 3), 0);
	assert_string_not_equal(h, h2); /* fresh salts */
	free(h);
	free(h2);
	free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hasher_verifies_off_the_loop),
		cmocka_unit_test(test_hasher_cancelled_job_never_calls_back),
		cmocka_unit_test(test_hasher_queue_is_bounded_and_free_drops_waiting_jobs),
		cmocka_unit_test(test_hasher_equal_and_supported),
		cmocka_unit_test(test_hasher_hash_makes_yescrypt_by_default),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
