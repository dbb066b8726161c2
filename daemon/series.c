/*
 * series: a ring of per-minute points (series.h). Values are kept as
 * doubles with a NaN for "no value", written as JSON null.
 */

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "series.h"
#include "xmalloc.h"

struct series_point {
	int64_t minute_ms;
	double waiting;
	double available;
	double service_level;
};

struct series {
	struct series_point *ring;
	size_t max;
	size_t head; /* oldest */
	size_t count;
	char *day;	  /* the startTime of the documents in the ring */
	int64_t noted_ms; /* when the last document was noted (0: never) */
};

struct series *
series_new(size_t max_points)
{
	struct series *s = xcalloc(1, sizeof(*s));

	s->max = max_points > 0 ? max_points : SERIES_MAX_POINTS;
	s->ring = xcalloc(s->max, sizeof(*s->ring));
	return s;
}

void
series_free(struct series *s)
{
	if (s == NULL)
		return;
	free(s->ring);
	free(s->day);
	free(s);
}

size_t
series_count(const struct series *s)
{
	return s->count;
}

static double
series_number(const struct json_value *doc, const char *key)
{
	double d = 0;

	return json_get_double(doc, key, &d) == 0 ? d : NAN;
}

void
series_note(struct series *s, const char *stats_json, size_t len, int64_t now_ms)
{
	struct json_doc *doc = NULL;
	const struct json_value *root;
	const char *day = NULL;
	struct series_point p;
	struct series_point *last = NULL;
	double pending;
	double reserved;

	if (s->noted_ms != 0 && now_ms / 60000 == s->noted_ms / 60000 &&
	    now_ms - s->noted_ms >= 0 && now_ms - s->noted_ms < SERIES_NOTE_INTERVAL_MS)
		return; /* this minute has a recent enough value */
	if (json_parse(stats_json, len, NULL, &doc, NULL) < 0)
		return;
	s->noted_ms = now_ms;
	root = json_doc_root(doc);
	if (!json_is_object(root))
		goto done;
	day = json_string(json_get(root, "startTime"));
	if (day != NULL && (s->day == NULL || strcmp(day, s->day) != 0)) {
		free(s->day);
		s->day = xstrdup(day);
		s->count = 0;
		s->head = 0;
	}
	pending = series_number(root, "pendingTasks");
	reserved = series_number(root, "reservedTasks");
	p.minute_ms = now_ms - now_ms % 60000;
	p.waiting = isnan(pending) ? NAN : pending + (isnan(reserved) ? 0 : reserved);
	p.available = series_number(root, "availableWorkers");
	p.service_level = series_number(root, "serviceLevel");
	if (s->count > 0)
		last = &s->ring[(s->head + s->count - 1) % s->max];
	if (last != NULL && last->minute_ms == p.minute_ms) {
		*last = p;
	} else if (last != NULL && last->minute_ms > p.minute_ms) {
		/* the wall clock went back: keep the newer points */
	} else if (s->count < s->max) {
		s->ring[(s->head + s->count) % s->max] = p;
		s->count++;
	} else {
		s->ring[s->head] = p;
		s->head = (s->head + 1) % s->max;
	}
done:
	json_doc_free(doc);
}

static void
series_column(const struct series *s, struct json_gen *g, const char *key, size_t field)
{
	json_gen_key(g, key);
	json_gen_array_open(g);
	for (size_t i = 0; i < s->count; i++) {
		const struct series_point *p = &s->ring[(s->head + i) % s->max];
		double v = field == 0 ? p->waiting : field == 1 ? p->available : p->service_level;

		if (isnan(v))
			json_gen_null(g);
		else
			json_gen_double(g, v);
	}
	json_gen_array_close(g);
}

void
series_json(const struct series *s, struct json_gen *g)
{
	json_gen_object_open(g);
	json_gen_key(g, "minuteMs");
	json_gen_array_open(g);
	for (size_t i = 0; i < s->count; i++)
		json_gen_int(g, s->ring[(s->head + i) % s->max].minute_ms);
	json_gen_array_close(g);
	series_column(s, g, "waiting", 0);
	series_column(s, g, "availableWorkers", 1);
	series_column(s, g, "serviceLevel", 2);
	json_gen_object_close(g);
}
