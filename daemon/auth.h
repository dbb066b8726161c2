#pragma once

/*
 * auth: who is calling trhubd's browser routes (DESIGN.md "HTTP surface",
 * the lead's login contract).
 *
 * - Users: the users file (name:role:crypt-hash lines, role supervisor or
 *   worker; re-read on SIGHUP), plus two compatibility sources each logged as
 *   a warning at start: TOKEN_PASSWORD (one password for every TaskRouter
 *   worker, by friendly_name) and AUTHENTICATION_USER/_PASSWORD (one
 *   supervisor). A worker's name is its TaskRouter friendly_name; its WK SID
 *   is looked up in the live model whenever it is needed, so it follows the
 *   workspace.
 * - POST /login checks the password with crypt(3) on the hasher's threads
 *   (never on the loop), the same work and answer for an unknown name and a
 *   wrong password, and throttles failures on three keys: the name from this
 *   client address (AUTH_FREE_FAILURES free), the name from anywhere (50:
 *   distributed guessing) and the address for any name (20: one host trying
 *   names). Past its free failures a key is locked for a doubling time from
 *   1 s to AUTH_LOCKOUT_MAX_S; attempts meanwhile are answered 429 with
 *   Retry-After, without hashing and without counting. So a guesser at one
 *   name from one address is held at a few attempts a minute while the
 *   same user from elsewhere, and other users, still log in.
 * - Sessions: server side, 256-bit ids from getrandom(2), an idle and an
 *   absolute expiry; cookie trhub_session (HttpOnly; SameSite=Strict;
 *   Path=/; Secure when public_url is https). A wallboard session comes from
 *   wallboard_token, read-only and long-lived.
 * - State-changing requests must carry an Origin (or Referer) of public_url
 *   or of the Host they were sent to.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <event2/http.h>

struct auth;
struct model;

enum auth_role {
	AUTH_ROLE_WORKER,
	AUTH_ROLE_SUPERVISOR,
	AUTH_ROLE_WALLBOARD,
};

/* Failures per name or address answered without delay. */
#define AUTH_FREE_FAILURES 5
/* Longest lockout after repeated failures. */
#define AUTH_LOCKOUT_MAX_S 900
/* Most live sessions; a login beyond is refused with 503. */
#define AUTH_SESSIONS_MAX 20000
/* Name of the session cookie. */
#define AUTH_COOKIE "trhub_session"

/* What a handler may know about the caller (owned by auth; valid during the request). */
struct auth_session {
	char *identity; /* user name; "wallboard" for wallboard sessions */
	enum auth_role role;
	int64_t created_ms;   /* monotonic */
	int64_t last_seen_ms; /* monotonic */
	int64_t expires_ms;   /* monotonic: absolute expiry */
	int idle_s;	      /* 0: no idle limit (wallboard) */
};

struct auth_options {
	const char *users_file;		     /* may name a missing file (warning) */
	const char *token_password;	     /* compatibility; NULL: off */
	const char *authentication_user;     /* compatibility; with the password */
	const char *authentication_password; /* NULL: off */
	const char *wallboard_token;	     /* NULL: no wallboard logins */
	const char *public_url;		     /* Origin and the Secure cookie flag */
	bool tls;			     /* trhubd serves HTTPS itself: cookies are Secure */
	int session_ttl_s;
	int session_idle_s;
	int wallboard_session_ttl_s;
	int login_threads;
	/* Clocks (tests): monotonic and wall milliseconds; NULL: the system's. */
	int64_t (*mono_ms)(void);
	int64_t (*wall_ms)(void);
};

/*
 * Loads the users, starts the hasher threads and the sweep timer. base and
 * model are borrowed and must outlive the auth. Returns 0 or a negative
 * errno with an allocated *cause_out ("users:3: unknown role 'admin'").
 */
int auth_new(struct event_base *base, struct model *model, const struct auth_options *options,
	     struct auth **auth_out, char **cause_out);
/*
 * SIGHUP: re-reads the users file and the compatibility settings; on error
 * keeps the previous users and returns a negative errno with *cause_out.
 * Sessions stay; a session whose user is gone or changed role ends.
 */
int auth_reconfigure(struct auth *a, const struct auth_options *options, char **cause_out);
/* Ends every session, drops pending logins without replying. NULL-safe. */
void auth_free(struct auth *a);

/*
 * The live session named by the request's cookie, or NULL. Touching a
 * session renews its idle timer.
 */
const struct auth_session *auth_session_of(struct auth *a, struct evhttp_request *req);
/* The session user's WK SID (model lookup by friendly_name), or NULL. Owned by the model. */
const char *auth_worker_sid(const struct auth *a, const struct auth_session *s);
/* When the session ends unless renewed, in wall-clock epoch milliseconds. */
int64_t auth_expires_at_ms(const struct auth *a, const struct auth_session *s);
/*
 * The two parsers of untrusted headers, apart from evhttp (fuzz_auth):
 * auth_cookie_parse copies the trhub_session value of a Cookie header (64
 * lowercase hex digits) into id_out, false when there is none;
 * auth_origin_matches is auth_origin_ok on header values (NULL: absent).
 */
bool auth_cookie_parse(const char *header, char id_out[65]);
bool auth_origin_matches(const char *public_url, const char *origin, const char *referer,
			 const char *host);
/*
 * The credentials of a POST /login body: JSON (a Content-Type starting with
 * application/json) or a form otherwise. On 0, *name_out, *password_out and
 * *wallboard_out are malloc'ed copies of the username, password and
 * wallboardToken fields (NULL: absent, or not a JSON string); free the
 * secrets with xfree_secret. -1: not a JSON object or not a form, with
 * *why_out the 400 answer's message (static).
 */
int auth_login_body_parse(const char *ctype, const char *text, size_t len, char **name_out,
			  char **password_out, char **wallboard_out, const char **why_out);
/* Origin (else Referer) names public_url's origin or the request's Host. */
bool auth_origin_ok(const struct auth *a, struct evhttp_request *req);
/* "supervisor", "worker", "wallboard". */
const char *auth_role_name(enum auth_role role);

/*
 * POST /login. Replies itself, possibly after the hasher finished (the
 * request stays alive; if the client goes away first nothing is sent).
 * client is the caller's address as the front door determined it (copied).
 */
void auth_login(struct auth *a, struct evhttp_request *req, const char *client);
/* POST /logout: ends the session (if any), clears the cookie, 204. */
void auth_logout(struct auth *a, struct evhttp_request *req);
/* GET /api/me: 200 {identity, role, workerSid, workerName, expiresAtMs} or 401. */
void auth_me(struct auth *a, struct evhttp_request *req);

/* Live sessions (tests, metrics). */
size_t auth_session_count(const struct auth *a);
