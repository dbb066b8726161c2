/*
 * hmap: string-keyed hash map with open addressing and linear probing.
 *
 * Invariants:
 * - The slot array has a power-of-two size. Each slot is empty, live (key set)
 *   or a tombstone (a removed key). Live plus tombstone slots never exceed 3/4
 *   of the array, so every probe sequence reaches an empty slot and lookups
 *   are O(1) on average.
 * - hmap_remove only turns a live slot into a tombstone; it never moves
 *   entries or resizes. That is what makes removing the current key during
 *   hmap_next iteration safe: no entry changes position under the iterator.
 *   Rehashing (growth, or clearing tombstones) happens only in hmap_put.
 * - Keys are copies owned by the map; values are borrowed and never freed.
 */

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hmap.h"
#include "log.h"
#include "xmalloc.h"

#define HMAP_MIN_SLOTS 16

struct hmap_slot {
	char *key; /* NULL when empty or a tombstone */
	void *value;
	uint64_t hash;
	bool tombstone;
};

struct hmap {
	struct hmap_slot *slots;
	size_t nslots; /* power of two */
	size_t count;  /* live entries */
	size_t used;   /* live entries plus tombstones */
};

/* FNV-1a over the key, then a 64-bit finaliser so the low bits (the slot index) mix well. */
uint64_t
hmap_hash(const char *key)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (const unsigned char *p = (const unsigned char *)key; *p != '\0'; p++) {
		h ^= *p;
		h *= 0x100000001b3ull;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	return h;
}

/**
 * hmap_new() - create an empty map
 *
 * Return: a map owned by the caller, released with hmap_free(). Never NULL.
 */
struct hmap *
hmap_new(void)
{
	struct hmap *m = xcalloc(1, sizeof(*m));

	m->nslots = HMAP_MIN_SLOTS;
	m->slots = xcalloc(m->nslots, sizeof(*m->slots));
	return m;
}

/**
 * hmap_free() - free the map and its key copies
 * @m: map, or NULL
 *
 * Values are not touched; their owner must release them first if needed.
 */
void
hmap_free(struct hmap *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->nslots; i++)
		free(m->slots[i].key);
	free(m->slots);
	free(m);
}

/* Index of the live slot holding key, or SIZE_MAX. */
static size_t
hmap_find(const struct hmap *m, const char *key, uint64_t hash)
{
	size_t mask = m->nslots - 1;

	for (size_t i = (size_t)hash & mask;; i = (i + 1) & mask) {
		const struct hmap_slot *s = &m->slots[i];

		if (s->key == NULL && !s->tombstone)
			return SIZE_MAX;
		if (s->key != NULL && s->hash == hash && strcmp(s->key, key) == 0)
			return i;
	}
}

/* Moves every live entry into a fresh array of nslots slots, dropping tombstones. */
static void
hmap_rehash(struct hmap *m, size_t nslots)
{
	struct hmap_slot *old = m->slots;
	size_t old_nslots = m->nslots;
	size_t mask = nslots - 1;

	m->slots = xcalloc(nslots, sizeof(*m->slots));
	m->nslots = nslots;
	for (size_t i = 0; i < old_nslots; i++) {
		size_t j;

		if (old[i].key == NULL)
			continue;
		for (j = (size_t)old[i].hash & mask; m->slots[j].key != NULL; j = (j + 1) & mask)
			;
		m->slots[j] = old[i];
	}
	m->used = m->count;
	free(old);
}

/**
 * hmap_get() - look up a key
 * @m: map
 * @key: NUL-terminated key (borrowed)
 *
 * Return: the value stored for @key, or NULL when absent.
 */
void *
hmap_get(const struct hmap *m, const char *key)
{
	size_t i = hmap_find(m, key, hmap_hash(key));

	return i == SIZE_MAX ? NULL : m->slots[i].value;
}

/**
 * hmap_put() - set a key
 * @m: map
 * @key: NUL-terminated key (borrowed; the map stores its own copy)
 * @value: borrowed value, not NULL (NULL is how lookups say "absent")
 *
 * Return: the value @key had before, or NULL when it was new. Must not be
 * called during hmap_next iteration (it may rehash).
 */
void *
hmap_put(struct hmap *m, const char *key, void *value)
{
	uint64_t hash = hmap_hash(key);
	size_t i = hmap_find(m, key, hash);
	size_t mask;
	void *old;

	assert(value != NULL);
	if (i != SIZE_MAX) {
		old = m->slots[i].value;
		m->slots[i].value = value;
		return old;
	}
	if ((m->used + 1) * 4 > m->nslots * 3) {
		/* grow when mostly live; otherwise just sweep the tombstones */
		size_t nslots = (m->count + 1) * 2 > m->nslots ? m->nslots * 2 : m->nslots;

		if (nslots > SIZE_MAX / 2 / sizeof(*m->slots))
			fatalx("hmap: too many entries");
		hmap_rehash(m, nslots);
	}
	mask = m->nslots - 1;
	for (i = (size_t)hash & mask; m->slots[i].key != NULL; i = (i + 1) & mask)
		;
	if (!m->slots[i].tombstone)
		m->used++;
	m->slots[i].key = xstrdup(key);
	m->slots[i].value = value;
	m->slots[i].hash = hash;
	m->slots[i].tombstone = false;
	m->count++;
	return NULL;
}

/**
 * hmap_remove() - remove a key
 * @m: map
 * @key: NUL-terminated key (borrowed)
 *
 * Safe during hmap_next iteration for the key just returned.
 *
 * Return: the value @key had, or NULL when it was absent.
 */
void *
hmap_remove(struct hmap *m, const char *key)
{
	size_t i = hmap_find(m, key, hmap_hash(key));
	void *old;

	if (i == SIZE_MAX)
		return NULL;
	old = m->slots[i].value;
	free(m->slots[i].key);
	m->slots[i].key = NULL;
	m->slots[i].value = NULL;
	m->slots[i].tombstone = true;
	m->count--;
	return old;
}

size_t
hmap_count(const struct hmap *m)
{
	return m->count;
}

/**
 * hmap_next() - iterate over the entries in no particular order
 * @m: map
 * @pos: cursor, 0 to start; advanced by each call
 * @key_out: set to the entry's key (owned by the map), may be NULL
 * @value_out: set to the entry's value, may be NULL
 *
 * Return: true with the next entry, false when there are no more.
 */
bool
hmap_next(const struct hmap *m, size_t *pos, const char **key_out, void **value_out)
{
	for (size_t i = *pos; i < m->nslots; i++) {
		if (m->slots[i].key == NULL)
			continue;
		if (key_out != NULL)
			*key_out = m->slots[i].key;
		if (value_out != NULL)
			*value_out = m->slots[i].value;
		*pos = i + 1;
		return true;
	}
	*pos = m->nslots;
	return false;
}
