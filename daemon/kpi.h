#pragma once

/*
 * kpi: the statistics document trhub publishes (SyncTaskRouterStats, GET
 * /api/stats, SSE "stats"), derived from TaskRouter statistics exactly as
 * shared/twilio-operations.md section 7 defines the KPIs. Pure: JSON values
 * in, one JSON object out; no I/O, no clock.
 *
 * Keys of the seed dashboard (kept byte-for-byte): totalTasks,
 * totalWorkers, <status>Tasks for every status in tasks_by_status (at least
 * pending, reserved, assigned, wrapping), activity<Name>Workers for every
 * activity of the workspace (Name = friendly_name without white space),
 * avgTaskAcceptanceTime, startTime, endTime.
 *
 * New keys: refreshedAt, slThresholdS, serviceLevel, asa, abandoned,
 * abandonmentRate, tasksCreated, tasksCompleted, reservationsAccepted,
 * reservationsRejected, reservationsTimedOut, longestWaitingAge,
 * longestWaitingSid, availableWorkers (realtime total_available_workers),
 * workersByActivity {name: n}, queuesTotal,
 * queuesTruncated, and queues: [{sid, name, slThreshold, serviceLevel, asa,
 * abandoned, abandonmentRate, waiting, longestWaiting, availableWorkers,
 * eligibleWorkers}], busiest first (most tasks waiting, then name).
 *
 * Definitions (T = the threshold in seconds, from SplitByWaitTime):
 *   serviceLevel    = 100 * split[T].below.reservations_accepted /
 *                     (reservations_accepted + tasks_canceled
 *                      - split[S].below.tasks_canceled); null when 0/0.
 *                     S = short_abandon_s (Flex's short abandons: callers who
 *                     hung up within S seconds do not count): the workspace's
 *                     S for the workspace, each queue's own S (its
 *                     short_abandon_s.<queue>, else the workspace's) for the
 *                     queue; without S, or when S was not split, nothing is
 *                     subtracted. The document says which rule it used:
 *                     shortAbandonS (S or null) and shortAbandoned (the
 *                     callers left out), workspace and queues
 *   asa             = wait_duration_in_queue_until_accepted.avg (queues),
 *                     else wait_duration_until_accepted.avg, else
 *                     avg_task_acceptance_time (seconds); null when no
 *                     reservation was accepted (TaskRouter's 0 is no sample),
 *                     and so is avgTaskAcceptanceTime
 *   abandonmentRate = 100 * tasks_canceled / tasks_entered (queues) or
 *                     tasks_created (workspace); null when 0/0
 *   waiting         = realtime tasks_by_status pending + reserved
 *   longestWaiting  = longest_relative_task_age_in_queue (from queue entry),
 *                     else longest_task_waiting_age
 * Percentages and seconds are rounded to one decimal. Counts may arrive as
 * numbers or numeric strings; absent fields give 0 for counts and null for
 * rates.
 *
 * Size: Sync documents hold at most 16 KiB. The queue list is capped
 * (max_queues, default KPI_DEFAULT_MAX_QUEUES) and kpi_document() shrinks it
 * further until the document fits KPI_MAX_BYTES; queuesTotal and
 * queuesTruncated say so.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "json.h"

#define KPI_MAX_BYTES	       16384
#define KPI_DEFAULT_MAX_QUEUES 40
/* Queue names longer than this are cut (at a UTF-8 boundary). */
#define KPI_MAX_NAME_BYTES 64

struct kpi_queue {
	const char *sid;		/* WQ..., required */
	const char *name;		/* friendly name or NULL */
	int sla_threshold_s;		/* this queue's service-level threshold */
	int short_abandon_s;		/* this queue's short-abandon threshold; 0: off */
	const struct json_value *stats; /* {realtime, cumulative} of TaskQueues/Statistics */
};

/* Everything is borrowed for the call. */
struct kpi_input {
	const struct json_value *workspace; /* body of Workspaces/{WS}/Statistics */
	const struct kpi_queue *queues;
	size_t nqueues;
	const char *const *activity_names; /* every activity of the workspace */
	size_t nactivities;
	int sla_threshold_s; /* workspace-wide threshold */
	int short_abandon_s; /* workspace-wide; 0: off; split_by_wait_time must hold it */
	int64_t refreshed_at_ms;
	size_t max_queues; /* 0: KPI_DEFAULT_MAX_QUEUES */
	bool for_workers;  /* the agents' view: no task SID (longestWaitingSid is null) */
};

/* Writes the document as one JSON object into g, with at most max_queues queues. */
void kpi_write(const struct kpi_input *in, size_t max_queues, struct json_gen *g);

/*
 * The document as text the caller frees, no longer than KPI_MAX_BYTES unless
 * even the queue-less document is (only with absurd activity lists).
 */
char *kpi_document(const struct kpi_input *in, size_t *len_out);

/* "activity" + name without white space + "Workers"; caller frees. */
char *kpi_activity_key(const char *name);
