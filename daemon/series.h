#pragma once

/*
 * series: today's per-minute samples for the dashboard's charts, kept in
 * memory and bounded (at most one point per minute, SERIES_MAX_POINTS).
 * Each statistics document that trhubd publishes is noted; the minute's
 * last document wins, as on the page. A new day (the document's startTime
 * changes) starts a new series. Sent with every stream snapshot as
 * "series": {"minuteMs": [...], "waiting": [...], "availableWorkers":
 * [...], "serviceLevel": [...]}, columns of equal length, null where the
 * document had no value.
 */

#include <stddef.h>
#include <stdint.h>

struct series;
struct json_gen;

#define SERIES_MAX_POINTS 1440

/* max_points 0: SERIES_MAX_POINTS. */
struct series *series_new(size_t max_points);
void series_free(struct series *s);
/* Notes a KPI document (JSON text, len bytes) seen at now_ms (epoch ms). */
void series_note(struct series *s, const char *stats_json, size_t len, int64_t now_ms);
size_t series_count(const struct series *s);
/* Writes the object described above. */
void series_json(const struct series *s, struct json_gen *g);
