#pragma once

/*
 * series: today's per-minute samples for the dashboard's charts, kept in
 * memory and bounded (at most one point per minute, SERIES_MAX_POINTS).
 * The statistics documents that trhubd publishes are noted, at most one
 * every SERIES_NOTE_INTERVAL_MS within a minute (a document is parsed to be
 * noted, and refreshes can come ten times a second), and the first one of a
 * new minute always; the minute's last noted document wins. A new day (the document's startTime
 * changes) starts a new series. Sent with every stream snapshot as
 * "series": {"minuteMs": [...], "waiting": [...], "availableWorkers":
 * [...], "serviceLevel": [...]}, columns of equal length, null where the
 * document had no value.
 */

#include <stddef.h>
#include <stdint.h>

struct series;
struct json_gen;

#define SERIES_MAX_POINTS	1440
#define SERIES_NOTE_INTERVAL_MS 5000

/* max_points 0: SERIES_MAX_POINTS. */
struct series *series_new(size_t max_points);
void series_free(struct series *s);
/* Notes a KPI document (JSON text, len bytes) seen at now_ms (epoch ms). */
void series_note(struct series *s, const char *stats_json, size_t len, int64_t now_ms);
size_t series_count(const struct series *s);
/* Writes the object described above. */
void series_json(const struct series *s, struct json_gen *g);
