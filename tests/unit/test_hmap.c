/*
 * Unit tests for common/hmap.c: put/get/remove, replacement, growth to
 * tens of thousands of keys, tombstone reuse, and iteration with removal of
 * the current key.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hmap.h"

#define MANY 20000

/* Distinct non-NULL values for the map to borrow. */
static int values[MANY];

static void
key_for(char *out, size_t size, int i)
{
	(void)snprintf(out, size, "WT%032d", i);
}

static void
test_hmap_new_map_is_empty(void **state)
{
	struct hmap *m = hmap_new();
	size_t pos = 0;

	assert_int_equal(hmap_count(m), 0);
	assert_null(hmap_get(m, "a"));
	assert_false(hmap_next(m, &pos, NULL, NULL));
	hmap_free(m);
}

static void
test_hmap_put_then_get(void **state)
{
	struct hmap *m = hmap_new();

	assert_null(hmap_put(m, "a", &values[0]));
	assert_null(hmap_put(m, "b", &values[1]));
	assert_ptr_equal(hmap_get(m, "a"), &values[0]);
	assert_ptr_equal(hmap_get(m, "b"), &values[1]);
	assert_null(hmap_get(m, "c"));
	assert_int_equal(hmap_count(m), 2);
	hmap_free(m);
}

static void
test_hmap_put_replaces_and_returns_old_value(void **state)
{
	struct hmap *m = hmap_new();

	assert_null(hmap_put(m, "k", &values[0]));
	assert_ptr_equal(hmap_put(m, "k", &values[1]), &values[0]);
	assert_ptr_equal(hmap_get(m, "k"), &values[1]);
	assert_int_equal(hmap_count(m), 1);
	hmap_free(m);
}

static void
test_hmap_copies_keys(void **state)
{
	struct hmap *m = hmap_new();
	char key[] = "task";

	hmap_put(m, key, &values[0]);
	key[0] = 'X';
	assert_ptr_equal(hmap_get(m, "task"), &values[0]);
	assert_null(hmap_get(m, key));
	hmap_free(m);
}

static void
test_hmap_empty_key_is_a_key(void **state)
{
	struct hmap *m = hmap_new();

	hmap_put(m, "", &values[0]);
	assert_ptr_equal(hmap_get(m, ""), &values[0]);
	assert_ptr_equal(hmap_remove(m, ""), &values[0]);
	assert_null(hmap_get(m, ""));
	hmap_free(m);
}

static void
test_hmap_remove_returns_value_and_forgets_key(void **state)
{
	struct hmap *m = hmap_new();

	hmap_put(m, "a", &values[0]);
	hmap_put(m, "b", &values[1]);
	assert_ptr_equal(hmap_remove(m, "a"), &values[0]);
	assert_null(hmap_get(m, "a"));
	assert_ptr_equal(hmap_get(m, "b"), &values[1]);
	assert_int_equal(hmap_count(m), 1);
	assert_null(hmap_remove(m, "a"));
	assert_null(hmap_remove(m, "never"));
	assert_int_equal(hmap_count(m), 1);
	hmap_free(m);
}

static void
test_hmap_grows_to_many_keys(void **state)
{
	struct hmap *m = hmap_new();
	char key[64];

	for (int i = 0; i < MANY; i++) {
		key_for(key, sizeof(key), i);
		assert_null(hmap_put(m, key, &values[i]));
	}
	assert_int_equal(hmap_count(m), MANY);
	for (int i = 0; i < MANY; i++) {
		key_for(key, sizeof(key), i);
		assert_ptr_equal(hmap_get(m, key), &values[i]);
	}
	key_for(key, sizeof(key), MANY);
	assert_null(hmap_get(m, key));
	hmap_free(m);
}

static void
test_hmap_remove_keeps_other_keys_reachable(void **state)
{
	/* removing keys in the middle of probe chains must not hide later ones */
	struct hmap *m = hmap_new();
	char key[64];

	for (int i = 0; i < 5000; i++) {
		key_for(key, sizeof(key), i);
		hmap_put(m, key, &values[i]);
	}
	for (int i = 0; i < 5000; i += 2) {
		key_for(key, sizeof(key), i);
		assert_ptr_equal(hmap_remove(m, key), &values[i]);
	}
	assert_int_equal(hmap_count(m), 2500);
	for (int i = 0; i < 5000; i++) {
		key_for(key, sizeof(key), i);
		if (i % 2 == 0)
			assert_null(hmap_get(m, key));
		else
			assert_ptr_equal(hmap_get(m, key), &values[i]);
	}
	hmap_free(m);
}

static void
test_hmap_churn_with_tombstones_stays_correct(void **state)
{
	/* a steady set of 100 keys under heavy insert/remove churn (the task model) */
	struct hmap *m = hmap_new();
	char key[64];

	for (int i = 0; i < MANY; i++) {
		key_for(key, sizeof(key), i);
		assert_null(hmap_put(m, key, &values[i]));
		if (i >= 100) {
			key_for(key, sizeof(key), i - 100);
			assert_ptr_equal(hmap_remove(m, key), &values[i - 100]);
		}
	}
	assert_int_equal(hmap_count(m), 100);
	for (int i = MANY - 100; i < MANY; i++) {
		key_for(key, sizeof(key), i);
		assert_ptr_equal(hmap_get(m, key), &values[i]);
	}
	key_for(key, sizeof(key), MANY - 101);
	assert_null(hmap_get(m, key));
	hmap_free(m);
}

static void
test_hmap_next_visits_each_entry_once(void **state)
{
	struct hmap *m = hmap_new();
	static unsigned char seen[1000];
	const char *key;
	void *value;
	size_t pos = 0;
	size_t n = 0;
	char buf[64];

	memset(seen, 0, sizeof(seen));
	for (int i = 0; i < 1000; i++) {
		key_for(buf, sizeof(buf), i);
		hmap_put(m, buf, &values[i]);
	}
	while (hmap_next(m, &pos, &key, &value)) {
		int i = (int)((int *)value - values);

		assert_in_range(i, 0, 999);
		key_for(buf, sizeof(buf), i);
		assert_string_equal(key, buf);
		seen[i]++;
		n++;
	}
	assert_int_equal(n, 1000);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(seen[i], 1);
	/* the end is sticky */
	assert_false(hmap_next(m, &pos, &key, &value));
	hmap_free(m);
}

static void
test_hmap_remove_current_key_during_iteration(void **state)
{
	struct hmap *m = hmap_new();
	static unsigned char seen[3000];
	const char *key;
	void *value;
	size_t pos = 0;
	size_t visited = 0;
	char buf[64];

	memset(seen, 0, sizeof(seen));
	for (int i = 0; i < 3000; i++) {
		key_for(buf, sizeof(buf), i);
		hmap_put(m, buf, &values[i]);
	}
	/* remove every odd entry while iterating: each entry is still seen once */
	while (hmap_next(m, &pos, &key, &value)) {
		int i = (int)((int *)value - values);

		seen[i]++;
		visited++;
		if (i % 2 == 1)
			assert_ptr_equal(hmap_remove(m, key), value);
	}
	assert_int_equal(visited, 3000);
	for (int i = 0; i < 3000; i++)
		assert_int_equal(seen[i], 1);
	assert_int_equal(hmap_count(m), 1500);
	for (int i = 0; i < 3000; i++) {
		key_for(buf, sizeof(buf), i);
		if (i % 2 == 1)
			assert_null(hmap_get(m, buf));
		else
			assert_ptr_equal(hmap_get(m, buf), &values[i]);
	}
	hmap_free(m);
}

static void
test_hmap_remove_all_during_iteration_empties_map(void **state)
{
	struct hmap *m = hmap_new();
	const char *key;
	size_t pos = 0;
	char buf[64];

	for (int i = 0; i < 500; i++) {
		key_for(buf, sizeof(buf), i);
		hmap_put(m, buf, &values[i]);
	}
	while (hmap_next(m, &pos, &key, NULL))
		assert_non_null(hmap_remove(m, key));
	assert_int_equal(hmap_count(m), 0);
	pos = 0;
	assert_false(hmap_next(m, &pos, NULL, NULL));
	/* and the map is still usable */
	hmap_put(m, "again", &values[0]);
	assert_ptr_equal(hmap_get(m, "again"), &values[0]);
	hmap_free(m);
}

static void
test_hmap_free_accepts_null(void **state)
{
	hmap_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hmap_new_map_is_empty),
		cmocka_unit_test(test_hmap_put_then_get),
		cmocka_unit_test(test_hmap_put_replaces_and_returns_old_value),
		cmocka_unit_test(test_hmap_copies_keys),
		cmocka_unit_test(test_hmap_empty_key_is_a_key),
		cmocka_unit_test(test_hmap_remove_returns_value_and_forgets_key),
		cmocka_unit_test(test_hmap_grows_to_many_keys),
		cmocka_unit_test(test_hmap_remove_keeps_other_keys_reachable),
		cmocka_unit_test(test_hmap_churn_with_tombstones_stays_correct),
		cmocka_unit_test(test_hmap_next_visits_each_entry_once),
		cmocka_unit_test(test_hmap_remove_current_key_during_iteration),
		cmocka_unit_test(test_hmap_remove_all_during_iteration_empties_map),
		cmocka_unit_test(test_hmap_free_accepts_null),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
