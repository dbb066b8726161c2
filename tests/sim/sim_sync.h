#pragma once

/*
 * Sync v1 emulation: services, documents, maps and map items with revisions,
 * ETag, If-Match (412 with 54103 / 54205), the 16 KiB data limit (54006),
 * unique-name conflicts (54301) and per-object write accounting for the
 * control API (writes and the highest count in any one-second window).
 */

#include "json.h"

struct sim;
struct sim_sync;

struct sim_sync *sim_sync_new(struct sim *sim);
void sim_sync_free(struct sim_sync *s);
void sim_sync_reset(struct sim_sync *s);
void sim_sync_register_routes(struct sim *sim);
/* Per-object write statistics for GET /sim/counters ("sync_writes"). */
void sim_sync_writes_json(struct sim_sync *s, struct json_gen *g);
/* Forgets the write statistics (DELETE /sim/counters); objects are kept. */
void sim_sync_writes_reset(struct sim_sync *s);
/* Current objects and their data for GET /sim/state ("sync"). */
void sim_sync_state_json(struct sim_sync *s, struct json_gen *g);
