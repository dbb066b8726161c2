#pragma once

/*
 * Conferences (API 2010) made by the conference instruction: one conference
 * per accepted task, friendly name = the task SID, with a customer and a
 * worker participant, and the 2010 REST resource
 * /2010-04-01/Accounts/{AC}/Conferences[.json|/{CF}.json|/{CF}/Participants.json]
 * (list with Status and FriendlyName filters, fetch, update Status=completed,
 * participants list). Ending a conference moves its task to wrapping through
 * the routing engine.
 */

#include <stdbool.h>
#include <stddef.h>

#include "sid.h"
#include "sim_http.h"

struct sim_tr;
struct sim_tr_task;
struct sim_tr_worker;
struct sim_tr_conference;

/*
 * Creates an in-progress conference for task t: the customer participant
 * uses the task's call_sid attribute when it is a CA SID (else a new one),
 * the worker participant a new CA SID. The conference is owned by tr.
 */
struct sim_tr_conference *sim_tr_conference_start(struct sim_tr *tr, const struct sim_tr_task *t,
						  bool end_conference_on_exit);
/*
 * Ends an in-progress conference (no-op when already completed): status
 * completed, reason_conference_ended = reason, call_sid_ending_conference =
 * ending_call_sid (may be NULL), then tells the routing engine. Does not run
 * routing; the caller does.
 */
void sim_tr_conference_end(struct sim_tr *tr, struct sim_tr_conference *c, const char *reason,
			   const char *ending_call_sid);
/* The conference named by the task's attributes.conference.sid, or NULL. */
struct sim_tr_conference *sim_tr_conference_of_task(struct sim_tr *tr, const struct sim_tr_task *t);
/* The conference's participant with this label ("customer"/"worker"), or NULL. */
const char *sim_tr_conference_call(const struct sim_tr_conference *c, const char *label);

/* The 2010 routes. */
extern const struct sim_route sim_tr_conference_routes[];
extern const size_t sim_tr_conference_nroutes;
