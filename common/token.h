#pragma once

/*
 * token: the JWTs trhub issues (twilio-api.md 8), and checking JWTs. The
 * only module that touches libjwt (and, besides signature.c, OpenSSL).
 *
 * - Access Token (Sync, TaskRouter JS SDK v2): header
 *   {"typ":"JWT","alg":"HS256","cty":"twilio-fpa;v=1"}, claims jti
 *   "<SK>-<now>", iss SK, sub AC, nbf, exp, grants {identity, data_sync
 *   {service_sid}, task_router {workspace_sid, worker_sid, role}}; HS256
 *   with the API key secret; TTL at most TOKEN_ACCESS_TTL_MAX_S.
 * - TaskRouter worker capability token v1 (taskrouter.js v1): HS256 with
 *   the auth token, the default worker policies plus activity and
 *   reservation updates, as twilio-python's WorkerCapabilityToken with
 *   allow_update_activities and allow_update_reservations.
 *
 * Tokens are written byte for byte in twilio-python's claim order (our JSON
 * generator keeps insertion order; libjwt 1.10 sorts keys), so the 8b vector
 * is reproduced exactly, and signed with one HMAC-SHA256. token_decode
 * checks tokens with libjwt.
 */

#include <stdbool.h>
#include <stdint.h>

#include "json.h"

/* Twilio refuses Access Tokens that live longer (error 20157). */
#define TOKEN_ACCESS_TTL_MAX_S 86400

struct token_access_options {
	const char *account_sid; /* AC */
	const char *api_key;	 /* SK: iss and the jti prefix */
	const char *api_secret;	 /* signing key */
	const char *identity;	 /* grants.identity; NULL: none */
	/* grants.data_sync when not NULL */
	const char *sync_service_sid;
	/* grants.task_router when workspace_sid is not NULL */
	const char *workspace_sid;
	const char *worker_sid; /* NULL: left out */
	const char *role;	/* NULL: left out; "worker" for agents */
	int64_t now_s;		/* unix seconds: jti, nbf; exp = now_s + ttl_s */
	int ttl_s;		/* 1..TOKEN_ACCESS_TTL_MAX_S */
};

struct token_capability_options {
	const char *account_sid;   /* AC: iss, account_sid */
	const char *auth_token;	   /* signing key */
	const char *workspace_sid; /* WS */
	const char *worker_sid;	   /* WK: channel, friendly_name, worker_sid */
	int64_t now_s;		   /* nbf; exp = now_s + ttl_s */
	int ttl_s;		   /* 1..TOKEN_ACCESS_TTL_MAX_S */
	/* Base URLs of the policies (tests); NULL: Twilio's. No trailing '/'. */
	const char *taskrouter_url;   /* "https://taskrouter.twilio.com" */
	const char *event_bridge_url; /* "https://event-bridge.twilio.com" */
};

/*
 * Writes an Access Token into *jwt_out (allocated; the caller frees it).
 * Returns 0, or -EINVAL with an allocated *cause_out for a missing SID or
 * secret or a TTL out of range (nothing is written then).
 */
int token_access(const struct token_access_options *o, char **jwt_out, char **cause_out);

/* The worker capability token; as token_access. */
int token_worker_capability(const struct token_capability_options *o, char **jwt_out,
			    char **cause_out);

/*
 * Checks jwt's HS256 signature with key (libjwt, key always given, the
 * algorithm checked) and exp/nbf against now_s (leeway 0; now_s 0 skips the
 * time checks). On success *payload_out is the parsed claims (the caller
 * frees it) and, when header_out is not NULL, *header_out the header.
 * Returns 0, -EINVAL (malformed, wrong algorithm), -EACCES (bad signature)
 * or -ETIMEDOUT (expired or not yet valid), with *cause_out.
 */
int token_decode(const char *jwt, const char *key, int64_t now_s, struct json_doc **payload_out,
		 struct json_doc **header_out, char **cause_out);
