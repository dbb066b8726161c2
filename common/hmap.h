#pragma once

/*
 * String-keyed hash map of borrowed void * values (open addressing, grows
 * as needed). Keys are copied. The map never frees values: the owner of the
 * values empties it first (hmap_free asserts nothing about values).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct hmap;

struct hmap *hmap_new(void);
void hmap_free(struct hmap *m);
/* Value for key, or NULL when absent. */
void *hmap_get(const struct hmap *m, const char *key);
/* Sets key to value (not NULL); returns the value it replaced, or NULL. */
void *hmap_put(struct hmap *m, const char *key, void *value);
/* Removes key; returns its value, or NULL when absent. */
void *hmap_remove(struct hmap *m, const char *key);
size_t hmap_count(const struct hmap *m);
/* The map's string hash (64 bits, low bits well mixed), for structures of their own. */
uint64_t hmap_hash(const char *key);
/*
 * Iteration: start with *pos = 0; returns false at the end. The map must not
 * be changed during iteration except by hmap_remove of the current key.
 */
bool hmap_next(const struct hmap *m, size_t *pos, const char **key_out, void **value_out);
