/*
 * auth: users, sessions, login throttling and the Origin check (auth.h).
 *
 * What must stay true:
 * - No password, hash, wallboard token or session id is ever logged; names
 *   and addresses are escaped before they are.
 * - Every login attempt that is not refused up front (bad request, wrong
 *   Origin, throttled) costs one crypt(3) on the hasher's threads: an
 *   unknown name is checked against a dummy hash made at start with the
 *   same setting as the users' hashes, so the answer (401 "invalid
 *   credentials") and its timing do not say whether the name exists.
 * - A login in flight holds its evhttp request. The connection's close
 *   callback (the server released the connection to us) marks the login
 *   orphaned; its completion then frees it without replying.
 * - Sessions live only in memory (a restart logs everybody out), keyed by
 *   the 64-hex-digit cookie value; lookups validate the shape first.
 */

#include <sys/random.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "auth.h"
#include "buf.h"
#include "form.h"
#include "hasher.h"
#include "hmap.h"
#include "json.h"
#include "log.h"
#include "model.h"
#include "queue.h"
#include "server.h"
#include "xmalloc.h"

#define AUTH_ID_BYTES		32
#define AUTH_ID_HEX		(AUTH_ID_BYTES * 2)
#define AUTH_SWEEP_S		60
#define AUTH_FREE_FAILURES_IP	20
#define AUTH_FREE_FAILURES_NAME 50
#define AUTH_THROTTLE_MAX	100000
#define AUTH_NAME_MAX		128
#define AUTH_PASSWORD_MAX	1024
#define AUTH_USERS_MAX_BYTES	(4 * 1024 * 1024)

struct auth_user {
	char *name;
	enum auth_role role;
	char *hash;
};

struct auth_entry {
	struct auth_session s; /* first: auth_session_of hands out &entry->s */
	char id[AUTH_ID_HEX + 1];
};

struct auth_throttle {
	int failures;
	int64_t last_ms;
	int64_t locked_until_ms;
};

struct auth_login {
	TAILQ_ENTRY(auth_login) entry;
	struct auth *auth;
	struct evhttp_request *req; /* NULL once the client went away */
	struct hasher_job *job;
	char *name;
	char *client;
	bool known;
	enum auth_role role;
};

TAILQ_HEAD(auth_login_list, auth_login);

struct auth {
	struct event_base *base;
	struct model *model;
	struct hasher *hasher;
	struct hmap *users;    /* name -> struct auth_user */
	char *token_password;  /* hash of the compatibility worker password, or NULL */
	char *dummy_hash;      /* for unknown names */
	char *wallboard_token; /* secret copy, or NULL */
	struct hmap *sessions; /* id -> struct auth_entry */
	struct hmap *throttle; /* "n:name" / "a:addr" -> struct auth_throttle */
	struct auth_login_list logins;
	struct event *sweep;
	char *public_origin; /* "https://host[:port]" */
	bool secure;
	int session_ttl_s;
	int session_idle_s;
	int wallboard_ttl_s;
	int64_t (*mono_ms)(void);
	int64_t (*wall_ms)(void);
	struct json_gen *gen;
};

static int64_t
auth_sys_mono_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts); /* cannot fail for this clock */
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t
auth_sys_wall_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_REALTIME, &ts); /* cannot fail for this clock */
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *
auth_role_name(enum auth_role role)
{
	switch (role) {
	case AUTH_ROLE_WORKER:
		return "worker";
	case AUTH_ROLE_SUPERVISOR:
		return "supervisor";
	case AUTH_ROLE_WALLBOARD:
		return "wallboard";
	}
	return "?";
}

static void
auth_user_free(struct auth_user *u)
{
	if (u == NULL)
		return;
	free(u->name);
	xfree_secret(u->hash);
	free(u);
}

static void
auth_users_free(struct hmap *users)
{
	size_t pos = 0;
	const char *key = NULL;
	void *v = NULL;

	if (users == NULL)
		return;
	while (hmap_next(users, &pos, &key, &v)) {
		(void)hmap_remove(users, key); /* removing the current key is allowed */
		auth_user_free(v);
	}
	hmap_free(users);
}

static void
auth_users_add(struct hmap *users, const char *name, enum auth_role role, const char *hash)
{
	struct auth_user *u = xcalloc(1, sizeof(*u));

	u->name = xstrdup(name);
	u->role = role;
	u->hash = xstrdup(hash);
	auth_user_free(hmap_put(users, u->name, u));
}

/* True for a user name we accept: printable, no ':' or spaces at the ends. */
static bool
auth_name_ok(const char *name, size_t len)
{
	if (len == 0 || len > AUTH_NAME_MAX || isspace((unsigned char)name[0]) ||
	    isspace((unsigned char)name[len - 1]))
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c < 0x20 || c == 0x7f || c == ':')
			return false;
	}
	return true;
}

/* Parses the users file text into users. */
static int
auth_users_parse(const char *path, const char *text, size_t len, struct hmap *users,
		 char **cause_out)
{
	size_t lineno = 0;
	const char *p = text;
	const char *end = text + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl != NULL ? nl : end;
		const char *c1 = NULL;
		const char *c2 = NULL;
		char *name = NULL;
		char *role = NULL;
		char *hash = NULL;
		enum auth_role r;
		size_t n = (size_t)(eol - p);

		lineno++;
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (n == 0 || p[0] == '#') {
			p = eol + 1;
			continue;
		}
		c1 = memchr(p, ':', n);
		c2 = c1 == NULL ? NULL : memchr(c1 + 1, ':', (size_t)(p + n - c1 - 1));
		if (c2 == NULL) {
			*cause_out = xasprintf("%s:%zu: expected name:role:hash", path, lineno);
			return -EINVAL;
		}
		if (!auth_name_ok(p, (size_t)(c1 - p))) {
			*cause_out = xasprintf("%s:%zu: invalid user name", path, lineno);
			return -EINVAL;
		}
		name = xstrndup(p, (size_t)(c1 - p));
		role = xstrndup(c1 + 1, (size_t)(c2 - c1 - 1));
		hash = xstrndup(c2 + 1, (size_t)(p + n - c2 - 1));
		if (strcmp(role, "supervisor") == 0) {
			r = AUTH_ROLE_SUPERVISOR;
		} else if (strcmp(role, "worker") == 0) {
			r = AUTH_ROLE_WORKER;
		} else {
			char *shown = log_escape(role);

			*cause_out = xasprintf("%s:%zu: unknown role '%s' (supervisor or worker)",
					       path, lineno, shown);
			free(shown);
			free(name);
			free(role);
			xfree_secret(hash);
			return -EINVAL;
		}
		if (!hasher_is_supported(hash)) {
			*cause_out =
				xasprintf("%s:%zu: the hash is not a yescrypt, bcrypt, scrypt, "
					  "sha512crypt or sha256crypt hash (make one with "
					  "trhubd --hash-password or mkpasswd)",
					  path, lineno);
			free(name);
			free(role);
			xfree_secret(hash);
			return -EINVAL;
		}
		if (hmap_get(users, name) != NULL) {
			char *shown = log_escape(name);

			*cause_out =
				xasprintf("%s:%zu: user '%s' is listed twice", path, lineno, shown);
			free(shown);
			free(name);
			free(role);
			xfree_secret(hash);
			return -EINVAL;
		}
		auth_users_add(users, name, r, hash);
		free(name);
		free(role);
		xfree_secret(hash);
		p = eol + 1;
	}
	return 0;
}

/* Reads the users file; a missing file is no users (with a warning). */
static int
auth_users_load(const char *path, struct hmap *users, char **cause_out)
{
	FILE *f = NULL;
	struct buf b;
	char chunk[4096];
	size_t n;
	int r = 0;

	if (path == NULL)
		return 0;
	f = fopen(path, "re");
	if (f == NULL) {
		if (errno == ENOENT) {
			log_warning("users file %s does not exist; only the compatibility "
				    "logins (if set) work",
				    path);
			return 0;
		}
		r = -errno;
		*cause_out = xasprintf("cannot open the users file %s: %s", path, strerror(errno));
		return r;
	}
	buf_init(&b);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (b.len + n > AUTH_USERS_MAX_BYTES) {
			*cause_out = xasprintf("the users file %s is larger than %d bytes", path,
					       AUTH_USERS_MAX_BYTES);
			r = -EFBIG;
			goto out;
		}
		buf_append(&b, chunk, n);
	}
	if (ferror(f)) {
		r = -EIO;
		*cause_out = xasprintf("cannot read the users file %s", path);
		goto out;
	}
	r = auth_users_parse(path, b.len == 0 ? "" : b.data, b.len, users, cause_out);
out:
	if (b.data != NULL)
		explicit_bzero(b.data, b.len);
	buf_clear(&b);
	(void)fclose(f); /* read-only */
	return r;
}

/* The scheme://host[:port] of an absolute URL, lower-cased; NULL if it has none. */
static char *
auth_origin_of(const char *url, size_t len)
{
	const char *sep = NULL;
	const char *host = NULL;
	size_t n;
	char *o = NULL;

	sep = len >= 3 ? strstr(url, "://") : NULL;
	if (sep == NULL || (size_t)(sep - url) + 3 > len)
		return NULL;
	host = sep + 3;
	n = (size_t)(host - url);
	while (n < len && url[n] != '/' && url[n] != '?' && url[n] != '#')
		n++;
	if (url + n == host)
		return NULL;
	o = xstrndup(url, n);
	for (char *c = o; *c != '\0'; c++)
		*c = (char)tolower((unsigned char)*c);
	return o;
}

/*
 * Builds the users of options into *users_out (file, then the compatibility
 * supervisor unless the file names it too) and the TOKEN_PASSWORD hash.
 */
static int
auth_load_users(const struct auth_options *o, struct hmap **users_out, char **token_hash_out,
		char **cause_out)
{
	struct hmap *users = hmap_new();
	char *token_hash = NULL;
	int r;

	r = auth_users_load(o->users_file, users, cause_out);
	if (r < 0)
		goto fail;
	if (o->authentication_user != NULL && o->authentication_password != NULL) {
		char *hash = NULL;

		if (hmap_get(users, o->authentication_user) != NULL) {
			log_warning("authentication_user is also in the users file; the users "
				    "file's entry wins");
		} else {
			if (!auth_name_ok(o->authentication_user, strlen(o->authentication_user))) {
				*cause_out =
					xstrdup("authentication_user is not a valid user name");
				r = -EINVAL;
				goto fail;
			}
			hash = hasher_hash(o->authentication_password, "$6$", cause_out);
			if (hash == NULL) {
				r = -EINVAL;
				goto fail;
			}
			auth_users_add(users, o->authentication_user, AUTH_ROLE_SUPERVISOR, hash);
			xfree_secret(hash);
		}
	}
	if (o->token_password != NULL) {
		token_hash = hasher_hash(o->token_password, "$6$", cause_out);
		if (token_hash == NULL) {
			r = -EINVAL;
			goto fail;
		}
	}
	*users_out = users;
	*token_hash_out = token_hash;
	return 0;
fail:
	auth_users_free(users);
	xfree_secret(token_hash);
	return r;
}

/*
 * The dummy hash for unknown names: same setting (method, cost) as the
 * first user's hash, so the work matches; yescrypt when there are no users.
 */
static char *
auth_make_dummy(struct hmap *users, const char *token_hash, char **cause_out)
{
	size_t pos = 0;
	void *v = NULL;
	const char *model = token_hash;
	unsigned char pw[16];
	char hex[sizeof(pw) * 2 + 1];
	char *setting = NULL;
	char *hash = NULL;
	const char *last = NULL;

	if (hmap_next(users, &pos, NULL, &v))
		model = ((struct auth_user *)v)->hash;
	if (getrandom(pw, sizeof(pw), 0) != (ssize_t)sizeof(pw)) {
		*cause_out = xstrdup("getrandom failed");
		return NULL;
	}
	for (size_t i = 0; i < sizeof(pw); i++)
		snprintf(hex + i * 2, 3, "%02x", pw[i]);
	if (model != NULL && (last = strrchr(model, '$')) != NULL && last != model) {
		char *ignored = NULL;

		setting = xstrndup(model, (size_t)(last - model));
		hash = hasher_hash_with(hex, setting, &ignored);
		free(ignored); /* a setting crypt(3) refuses: fall back to the default below */
		free(setting);
	}
	if (hash == NULL)
		hash = hasher_hash(hex, NULL, cause_out);
	explicit_bzero(hex, sizeof(hex));
	return hash;
}

static void
auth_session_remove(struct auth *a, struct auth_entry *e)
{
	(void)hmap_remove(a->sessions, e->id);
	explicit_bzero(e->id, sizeof(e->id));
	free(e->s.identity);
	free(e);
}

static bool
auth_entry_live(const struct auth *a, const struct auth_entry *e, int64_t now)
{
	if (now >= e->s.expires_ms)
		return false;
	return e->s.idle_s == 0 || now - e->s.last_seen_ms < (int64_t)e->s.idle_s * 1000;
}

static void
auth_sweep(struct auth *a)
{
	int64_t now = a->mono_ms();
	size_t pos = 0;
	const char *key = NULL;
	void *v = NULL;

	while (hmap_next(a->sessions, &pos, &key, &v)) {
		if (!auth_entry_live(a, v, now))
			auth_session_remove(a, v);
	}
	pos = 0;
	while (hmap_next(a->throttle, &pos, &key, &v)) {
		struct auth_throttle *t = v;

		if (now >= t->locked_until_ms &&
		    now - t->last_ms > (int64_t)AUTH_LOCKOUT_MAX_S * 2 * 1000) {
			(void)hmap_remove(a->throttle, key);
			free(t);
		}
	}
}

static void
auth_sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	auth_sweep(arg);
}

static void
auth_apply_options(struct auth *a, const struct auth_options *o)
{
	free(a->public_origin);
	a->public_origin =
		o->public_url == NULL ? NULL : auth_origin_of(o->public_url, strlen(o->public_url));
	a->secure = o->tls || (o->public_url != NULL && strncmp(o->public_url, "https://", 8) == 0);
	a->session_ttl_s = o->session_ttl_s > 0 ? o->session_ttl_s : 43200;
	a->session_idle_s = o->session_idle_s > 0 ? o->session_idle_s : 1800;
	a->wallboard_ttl_s = o->wallboard_session_ttl_s > 0 ? o->wallboard_session_ttl_s : 2592000;
	xfree_secret(a->wallboard_token);
	a->wallboard_token = o->wallboard_token != NULL ? xstrdup(o->wallboard_token) : NULL;
}

static void
auth_warn_compat(const struct auth_options *o)
{
	if (o->token_password != NULL)
		log_warning("token_password (TOKEN_PASSWORD) is set: every TaskRouter worker can "
			    "log in with that one shared password; give each agent a line in "
			    "the users file instead");
	if (o->authentication_user != NULL && o->authentication_password != NULL)
		log_warning("authentication_user/authentication_password (AUTHENTICATION_USER) "
			    "are set: a supervisor login from the old dashboard's settings; "
			    "prefer the users file");
	else if ((o->authentication_user == NULL) != (o->authentication_password == NULL))
		log_warning("authentication_user and authentication_password go together; the "
			    "one set alone is ignored");
}

int
auth_new(struct event_base *base, struct model *model, const struct auth_options *o,
	 struct auth **auth_out, char **cause_out)
{
	struct auth *a = xcalloc(1, sizeof(*a));
	struct timeval tv = { AUTH_SWEEP_S, 0 };
	int r;

	a->base = base;
	a->model = model;
	a->mono_ms = o->mono_ms != NULL ? o->mono_ms : auth_sys_mono_ms;
	a->wall_ms = o->wall_ms != NULL ? o->wall_ms : auth_sys_wall_ms;
	a->sessions = hmap_new();
	a->throttle = hmap_new();
	a->gen = json_gen_new();
	TAILQ_INIT(&a->logins);
	auth_apply_options(a, o);
	r = auth_load_users(o, &a->users, &a->token_password, cause_out);
	if (r < 0)
		goto fail;
	a->dummy_hash = auth_make_dummy(a->users, a->token_password, cause_out);
	if (a->dummy_hash == NULL) {
		r = -EINVAL;
		goto fail;
	}
	r = hasher_new(base, o->login_threads, &a->hasher, cause_out);
	if (r < 0)
		goto fail;
	a->sweep = event_new(base, -1, EV_PERSIST, auth_sweep_cb, a);
	if (a->sweep == NULL || event_add(a->sweep, &tv) < 0) {
		*cause_out = xstrdup("auth: cannot arm the session sweep timer");
		r = -ENOMEM;
		goto fail;
	}
	auth_warn_compat(o);
	log_info("auth: %zu users%s%s", hmap_count(a->users),
		 a->token_password != NULL ? ", TOKEN_PASSWORD workers" : "",
		 a->wallboard_token != NULL ? ", wallboard token" : "");
	*auth_out = a;
	return 0;
fail:
	auth_free(a);
	return r;
}

int
auth_reconfigure(struct auth *a, const struct auth_options *o, char **cause_out)
{
	struct hmap *users = NULL;
	char *token_hash = NULL;
	char *dummy = NULL;
	size_t pos = 0;
	const char *key = NULL;
	void *v = NULL;
	int r;

	r = auth_load_users(o, &users, &token_hash, cause_out);
	if (r < 0)
		return r;
	dummy = auth_make_dummy(users, token_hash, cause_out);
	if (dummy == NULL) {
		auth_users_free(users);
		xfree_secret(token_hash);
		return -EINVAL;
	}
	auth_users_free(a->users);
	a->users = users;
	xfree_secret(a->token_password);
	a->token_password = token_hash;
	xfree_secret(a->dummy_hash);
	a->dummy_hash = dummy;
	auth_apply_options(a, o);
	auth_warn_compat(o);
	/* Sessions of users that are gone or changed role end now. */
	while (hmap_next(a->sessions, &pos, &key, &v)) {
		struct auth_entry *e = v;
		const struct auth_user *u = hmap_get(a->users, e->s.identity);
		bool keep;

		if (e->s.role == AUTH_ROLE_WALLBOARD)
			keep = a->wallboard_token != NULL;
		else if (u != NULL)
			keep = u->role == e->s.role;
		else
			keep = e->s.role == AUTH_ROLE_WORKER && a->token_password != NULL;
		if (!keep) {
			char *shown = log_escape(e->s.identity);

			log_notice("auth: session of %s ended: the user is no longer configured",
				   shown);
			free(shown);
			auth_session_remove(a, e);
		}
	}
	log_info("auth: reloaded, %zu users", hmap_count(a->users));
	return 0;
}

static void
auth_login_free(struct auth_login *l)
{
	free(l->name);
	free(l->client);
	free(l);
}

static void
auth_login_closed_cb(struct evhttp_connection *evcon, void *arg)
{
	struct auth_login *l = arg;

	l->req = NULL; /* evhttp frees the request; the completion replies to nobody */
}

void
auth_free(struct auth *a)
{
	struct auth_login *l = NULL;
	size_t pos = 0;
	const char *key = NULL;
	void *v = NULL;

	if (a == NULL)
		return;
	if (a->sweep != NULL)
		event_free(a->sweep);
	hasher_free(a->hasher); /* no completion runs after this */
	while ((l = TAILQ_FIRST(&a->logins)) != NULL) {
		TAILQ_REMOVE(&a->logins, l, entry);
		if (l->req != NULL)
			evhttp_connection_set_closecb(evhttp_request_get_connection(l->req), NULL,
						      NULL);
		auth_login_free(l);
	}
	if (a->sessions != NULL) {
		while (hmap_next(a->sessions, &pos, &key, &v))
			auth_session_remove(a, v);
		hmap_free(a->sessions);
	}
	if (a->throttle != NULL) {
		pos = 0;
		while (hmap_next(a->throttle, &pos, &key, &v)) {
			(void)hmap_remove(a->throttle, key);
			free(v);
		}
		hmap_free(a->throttle);
	}
	auth_users_free(a->users);
	xfree_secret(a->token_password);
	xfree_secret(a->dummy_hash);
	xfree_secret(a->wallboard_token);
	free(a->public_origin);
	json_gen_free(a->gen);
	free(a);
}

/* --- sessions -------------------------------------------------------------------- */

/* Copies the trhub_session cookie value (64 hex digits) into id; false if absent. */
static bool
auth_cookie_id(struct evhttp_request *req, char id[AUTH_ID_HEX + 1])
{
	return auth_cookie_parse(
		evhttp_find_header(evhttp_request_get_input_headers(req), "Cookie"), id);
}

bool
auth_cookie_parse(const char *header, char id_out[AUTH_ID_HEX + 1])
{
	char *id = id_out;
	const char *p = header;
	size_t name_len = strlen(AUTH_COOKIE);

	while (p != NULL && *p != '\0') {
		const char *semi = strchr(p, ';');
		const char *end = semi != NULL ? semi : p + strlen(p);

		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if ((size_t)(end - p) == name_len + 1 + AUTH_ID_HEX &&
		    strncmp(p, AUTH_COOKIE "=", name_len + 1) == 0) {
			const char *val = p + name_len + 1;
			bool hex = true;

			for (size_t i = 0; i < AUTH_ID_HEX; i++)
				hex = hex && isxdigit((unsigned char)val[i]) &&
				      !isupper((unsigned char)val[i]);
			if (hex) {
				memcpy(id, val, AUTH_ID_HEX);
				id[AUTH_ID_HEX] = '\0';
				return true;
			}
		}
		p = semi != NULL ? semi + 1 : NULL;
	}
	return false;
}

const struct auth_session *
auth_session_of(struct auth *a, struct evhttp_request *req)
{
	char id[AUTH_ID_HEX + 1];
	struct auth_entry *e = NULL;
	int64_t now = a->mono_ms();

	if (!auth_cookie_id(req, id))
		return NULL;
	e = hmap_get(a->sessions, id);
	explicit_bzero(id, sizeof(id));
	if (e == NULL)
		return NULL;
	if (!auth_entry_live(a, e, now)) {
		auth_session_remove(a, e);
		return NULL;
	}
	e->s.last_seen_ms = now;
	return &e->s;
}

const char *
auth_worker_sid(const struct auth *a, const struct auth_session *s)
{
	if (s == NULL || s->role != AUTH_ROLE_WORKER)
		return NULL;
	return model_worker_sid_by_name(a->model, s->identity);
}

int64_t
auth_expires_at_ms(const struct auth *a, const struct auth_session *s)
{
	int64_t now = a->mono_ms();
	int64_t end = s->expires_ms;

	if (s->idle_s > 0 && s->last_seen_ms + (int64_t)s->idle_s * 1000 < end)
		end = s->last_seen_ms + (int64_t)s->idle_s * 1000;
	return a->wall_ms() + (end - now);
}

size_t
auth_session_count(const struct auth *a)
{
	return hmap_count(a->sessions);
}

static struct auth_entry *
auth_session_create(struct auth *a, const char *identity, enum auth_role role)
{
	struct auth_entry *e = NULL;
	unsigned char raw[AUTH_ID_BYTES];
	int64_t now = a->mono_ms();

	if (hmap_count(a->sessions) >= AUTH_SESSIONS_MAX) {
		auth_sweep(a);
		if (hmap_count(a->sessions) >= AUTH_SESSIONS_MAX)
			return NULL;
	}
	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
		return NULL;
	e = xcalloc(1, sizeof(*e));
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(e->id + i * 2, 3, "%02x", raw[i]);
	explicit_bzero(raw, sizeof(raw));
	e->s.identity = xstrdup(identity);
	e->s.role = role;
	e->s.created_ms = now;
	e->s.last_seen_ms = now;
	if (role == AUTH_ROLE_WALLBOARD) {
		e->s.expires_ms = now + (int64_t)a->wallboard_ttl_s * 1000;
		e->s.idle_s = 0;
	} else {
		e->s.expires_ms = now + (int64_t)a->session_ttl_s * 1000;
		e->s.idle_s = a->session_idle_s;
	}
	(void)hmap_put(a->sessions, e->id, e); /* 256 random bits: no collision */
	return e;
}

/* --- Origin ------------------------------------------------------------------------ */

/* The Origin decision from the header values (NULL: absent); public_origin may be NULL. */
static bool
auth_origin_decide(const char *public_origin, const char *origin, const char *referer,
		   const char *host)
{
	char *o = NULL;
	bool ok = false;

	if (origin != NULL && strcmp(origin, "null") != 0)
		o = auth_origin_of(origin, strlen(origin));
	else if (origin == NULL && referer != NULL)
		o = auth_origin_of(referer, strlen(referer));
	if (o == NULL)
		return false;
	if (public_origin != NULL && strcmp(o, public_origin) == 0) {
		ok = true;
	} else if (host != NULL) {
		const char *authority = strstr(o, "://") + 3;

		ok = (strncmp(o, "http://", 7) == 0 || strncmp(o, "https://", 8) == 0) &&
		     strcasecmp(authority, host) == 0;
	}
	free(o);
	return ok;
}

bool
auth_origin_matches(const char *public_url, const char *origin, const char *referer,
		    const char *host)
{
	char *po = public_url != NULL ? auth_origin_of(public_url, strlen(public_url)) : NULL;
	bool ok = auth_origin_decide(po, origin, referer, host);

	free(po);
	return ok;
}

bool
auth_origin_ok(const struct auth *a, struct evhttp_request *req)
{
	struct evkeyvalq *in = evhttp_request_get_input_headers(req);

	return auth_origin_decide(a->public_origin, evhttp_find_header(in, "Origin"),
				  evhttp_find_header(in, "Referer"),
				  evhttp_find_header(in, "Host"));
}

/* --- throttling -------------------------------------------------------------------- */

/* Seconds the key is still locked for, 0 when it is not. */
static int
auth_throttle_wait_s(struct auth *a, const char *key, int64_t now)
{
	struct auth_throttle *t = hmap_get(a->throttle, key);

	if (t == NULL || now >= t->locked_until_ms)
		return 0;
	return (int)((t->locked_until_ms - now + 999) / 1000);
}

static void
auth_throttle_fail(struct auth *a, const char *key, int free_failures, int64_t now)
{
	struct auth_throttle *t = hmap_get(a->throttle, key);

	if (t == NULL) {
		if (hmap_count(a->throttle) >= AUTH_THROTTLE_MAX)
			auth_sweep(a);
		/* Memory stays bounded: a flood of new keys is caught by its address key. */
		if (hmap_count(a->throttle) >= AUTH_THROTTLE_MAX)
			return;
		t = xcalloc(1, sizeof(*t));
		(void)hmap_put(a->throttle, key, t); /* key was absent */
	}
	t->failures++;
	t->last_ms = now;
	if (t->failures > free_failures) {
		int over = t->failures - free_failures - 1;
		int64_t lock_s = over >= 10 ? AUTH_LOCKOUT_MAX_S : (int64_t)1 << over;

		if (lock_s > AUTH_LOCKOUT_MAX_S)
			lock_s = AUTH_LOCKOUT_MAX_S;
		t->locked_until_ms = now + lock_s * 1000;
	}
}

static void
auth_throttle_reset(struct auth *a, const char *key)
{
	free(hmap_remove(a->throttle, key));
}

/*
 * The three throttle keys of an attempt: the name from this address, the
 * name from anywhere (distributed guessing), the address for any name
 * (one host trying many names). Each is free for its first failures, then
 * locked for a doubling time.
 */
enum { AUTH_KEY_PAIR, AUTH_KEY_NAME, AUTH_KEY_ADDR, AUTH_N_KEYS };

static const int auth_key_free[AUTH_N_KEYS] = {
	AUTH_FREE_FAILURES,
	AUTH_FREE_FAILURES_NAME,
	AUTH_FREE_FAILURES_IP,
};

static void
auth_keys(const char *name, const char *client, char *keys[AUTH_N_KEYS])
{
	const char *c = client != NULL ? client : "?";

	keys[AUTH_KEY_PAIR] = xasprintf("p:%s|%s", name, c);
	keys[AUTH_KEY_NAME] = xasprintf("n:%s", name);
	keys[AUTH_KEY_ADDR] = xasprintf("a:%s", c);
}

static void
auth_keys_free(char *keys[AUTH_N_KEYS])
{
	for (int i = 0; i < AUTH_N_KEYS; i++)
		free(keys[i]);
}

/* Seconds until none of the attempt's keys is locked; 0: go ahead. */
static int
auth_throttle_wait(struct auth *a, const char *name, const char *client, int64_t now)
{
	char *keys[AUTH_N_KEYS];
	int wait = 0;

	auth_keys(name, client, keys);
	for (int i = 0; i < AUTH_N_KEYS; i++) {
		int w = auth_throttle_wait_s(a, keys[i], now);

		if (w > wait)
			wait = w;
	}
	auth_keys_free(keys);
	return wait;
}

/* Counts a checked attempt: a failure on every key, a success clears the pair and name. */
static void
auth_throttle_record(struct auth *a, const char *name, const char *client, bool ok)
{
	char *keys[AUTH_N_KEYS];
	int64_t now = a->mono_ms();

	auth_keys(name, client, keys);
	if (ok) {
		auth_throttle_reset(a, keys[AUTH_KEY_PAIR]);
		auth_throttle_reset(a, keys[AUTH_KEY_NAME]);
	} else {
		for (int i = 0; i < AUTH_N_KEYS; i++)
			auth_throttle_fail(a, keys[i], auth_key_free[i], now);
	}
	auth_keys_free(keys);
}

/* --- login ------------------------------------------------------------------------- */

static void
auth_reply_session(struct auth *a, struct evhttp_request *req, struct auth_entry *e)
{
	struct evkeyvalq *out = evhttp_request_get_output_headers(req);
	char *cookie = xasprintf(AUTH_COOKIE "=%s; HttpOnly; SameSite=Strict; Path=/%s", e->id,
				 a->secure ? "; Secure" : "");
	const char *wk = auth_worker_sid(a, &e->s);
	const char *text = NULL;
	size_t len = 0;

	evhttp_add_header(out, "Set-Cookie", cookie);
	explicit_bzero(cookie, strlen(cookie));
	free(cookie);
	json_gen_reset(a->gen);
	json_gen_object_open(a->gen);
	json_gen_kv_string(a->gen, "identity", e->s.identity);
	json_gen_kv_string(a->gen, "role", auth_role_name(e->s.role));
	if (wk != NULL)
		json_gen_kv_string(a->gen, "workerSid", wk);
	else
		json_gen_kv_null(a->gen, "workerSid");
	json_gen_object_close(a->gen);
	text = json_gen_text(a->gen, &len);
	server_reply_json(req, 200, text, len);
}

static void
auth_reply_throttled(struct evhttp_request *req, int wait_s)
{
	char v[16];

	snprintf(v, sizeof(v), "%d", wait_s);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", v);
	server_reply_error(req, 429, "too many failed logins", "try again later");
}

/* A success or a failure, after the hash (or the wallboard compare). */
static void
auth_login_finish(struct auth *a, struct evhttp_request *req, const char *name, const char *client,
		  bool ok, enum auth_role role)
{
	char *shown_name = log_escape(name);
	char *shown_client = log_escape(client != NULL ? client : "?");
	struct auth_entry *e = NULL;

	auth_throttle_record(a, name, client, ok);
	if (!ok) {
		log_info("login failed for %s from %s", shown_name, shown_client);
		server_reply_error(req, 401, "invalid credentials", NULL);
		goto out;
	}
	e = auth_session_create(a, role == AUTH_ROLE_WALLBOARD ? "wallboard" : name, role);
	if (e == NULL) {
		log_warning("login of %s refused: %d sessions are live", shown_name,
			    AUTH_SESSIONS_MAX);
		server_reply_error(req, 503, "unavailable", "too many sessions");
		goto out;
	}
	log_notice("login: %s (%s) from %s", shown_name, auth_role_name(role), shown_client);
	auth_reply_session(a, req, e);
out:
	free(shown_name);
	free(shown_client);
}

static void
auth_login_done_cb(bool match, void *arg)
{
	struct auth_login *l = arg;
	struct auth *a = l->auth;

	TAILQ_REMOVE(&a->logins, l, entry);
	if (l->req != NULL) {
		evhttp_connection_set_closecb(evhttp_request_get_connection(l->req), NULL, NULL);
		auth_login_finish(a, l->req, l->name, l->client, match && l->known, l->role);
	} else {
		/* The client left; the attempt still counts against the throttle. */
		if (!(match && l->known))
			auth_throttle_record(a, l->name, l->client, false);
	}
	auth_login_free(l);
}

/* Copies a credential field out of a JSON object or a form; NULL if absent. */
static char *
auth_field(const struct json_value *obj, const struct form *f, const char *key)
{
	const char *v = NULL;

	if (obj != NULL) {
		if (json_get_string(obj, key, &v) < 0)
			return NULL;
	} else if (f != NULL) {
		v = form_get(f, key);
	}
	return v == NULL ? NULL : xstrdup(v);
}

int
auth_login_body_parse(const char *ctype, const char *text, size_t len, char **name_out,
		      char **password_out, char **wallboard_out, const char **why_out)
{
	struct json_doc *doc = NULL;
	struct form *f = NULL;
	const struct json_value *obj = NULL;

	*name_out = *password_out = *wallboard_out = NULL;
	if (ctype != NULL && strncasecmp(ctype, "application/json", 16) == 0) {
		if (json_parse(text, len, NULL, &doc, NULL) < 0 ||
		    !json_is_object(obj = json_doc_root(doc))) {
			json_doc_free(doc);
			*why_out = "the body is not a JSON object";
			return -1;
		}
	} else if (form_parse(text, len, NULL, &f, NULL) < 0) {
		*why_out = "the body is not a form";
		return -1;
	}
	*wallboard_out = auth_field(obj, f, "wallboardToken");
	*name_out = auth_field(obj, f, "username");
	*password_out = auth_field(obj, f, "password");
	json_doc_free(doc);
	form_free(f);
	return 0;
}

void
auth_login(struct auth *a, struct evhttp_request *req, const char *client)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *query = uri == NULL ? NULL : evhttp_uri_get_query(uri);
	struct evkeyvalq *in = evhttp_request_get_input_headers(req);
	const char *ctype = evhttp_find_header(in, "Content-Type");
	struct evbuffer *body = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(body);
	const char *text = len == 0 ? "" : (const char *)evbuffer_pullup(body, -1);
	const char *why = NULL;
	char *name = NULL;
	char *password = NULL;
	char *wallboard = NULL;
	const struct auth_user *u = NULL;
	const char *hash = NULL;
	struct auth_login *l = NULL;
	int64_t now = a->mono_ms();
	int wait_s = 0;

	if (query != NULL && query[0] != '\0') {
		struct form *q = NULL;

		/* The value is never logged or echoed; only its presence matters. */
		if (form_parse(query, strlen(query), NULL, &q, NULL) < 0 ||
		    form_has(q, "password") || form_has(q, "wallboardToken") ||
		    form_has(q, "username")) {
			form_free(q);
			server_reply_error(req, 400, "bad request",
					   "credentials belong in the request body, never in "
					   "the URL");
			return;
		}
		form_free(q);
	}
	if ((evhttp_find_header(in, "Origin") != NULL || evhttp_find_header(in, "Referer")) &&
	    !auth_origin_ok(a, req)) {
		server_reply_error(req, 403, "forbidden", "cross-origin login refused");
		return;
	}
	if (text == NULL) {
		server_reply_error(req, 500, "internal", "cannot read the request body");
		return;
	}
	if (auth_login_body_parse(ctype, text, len, &name, &password, &wallboard, &why) < 0) {
		server_reply_error(req, 400, "bad request", why);
		goto out;
	}
	if (wallboard == NULL && (name == NULL || password == NULL)) {
		server_reply_error(req, 400, "bad request",
				   "send username and password (or wallboardToken)");
		goto out;
	}
	if (wallboard == NULL && (!auth_name_ok(name, strlen(name)) ||
				  strlen(password) > AUTH_PASSWORD_MAX || password[0] == '\0')) {
		/* Not a name anybody can have: no hash needed, and nothing to throttle. */
		server_reply_error(req, 401, "invalid credentials", NULL);
		goto out;
	}
	wait_s = auth_throttle_wait(a, wallboard != NULL ? "#wallboard" : name, client, now);
	if (wait_s > 0) {
		auth_reply_throttled(req, wait_s);
		goto out;
	}
	if (wallboard != NULL) {
		bool ok = a->wallboard_token != NULL && hasher_equal(a->wallboard_token, wallboard);

		auth_login_finish(a, req, "#wallboard", client, ok, AUTH_ROLE_WALLBOARD);
		goto out;
	}
	l = xcalloc(1, sizeof(*l));
	l->auth = a;
	l->req = req;
	l->name = xstrdup(name);
	l->client = xstrdup(client != NULL ? client : "?");
	u = hmap_get(a->users, name);
	if (u != NULL) {
		l->known = true;
		l->role = u->role;
		hash = u->hash;
	} else if (a->token_password != NULL && model_worker_sid_by_name(a->model, name) != NULL) {
		l->known = true;
		l->role = AUTH_ROLE_WORKER;
		hash = a->token_password;
	} else {
		l->known = false;
		l->role = AUTH_ROLE_WORKER;
		hash = a->dummy_hash;
	}
	l->job = hasher_verify(a->hasher, password, hash, auth_login_done_cb, l);
	if (l->job == NULL) {
		auth_login_free(l);
		evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", "1");
		server_reply_error(req, 503, "unavailable", "too many logins at once");
		goto out;
	}
	TAILQ_INSERT_TAIL(&a->logins, l, entry);
	evhttp_connection_set_closecb(evhttp_request_get_connection(req), auth_login_closed_cb, l);
out:
	free(name);
	xfree_secret(password);
	xfree_secret(wallboard);
}

void
auth_logout(struct auth *a, struct evhttp_request *req)
{
	char id[AUTH_ID_HEX + 1];
	struct auth_entry *e = NULL;

	if (auth_cookie_id(req, id)) {
		e = hmap_get(a->sessions, id);
		explicit_bzero(id, sizeof(id));
	}
	if (e != NULL) {
		char *shown = log_escape(e->s.identity);

		log_info("logout: %s", shown);
		free(shown);
		auth_session_remove(a, e);
	}
	evhttp_add_header(evhttp_request_get_output_headers(req), "Set-Cookie",
			  AUTH_COOKIE "=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
	server_reply_text(req, 204, NULL, NULL, 0);
}

void
auth_me(struct auth *a, struct evhttp_request *req)
{
	const struct auth_session *s = auth_session_of(a, req);
	const char *wk = NULL;
	const char *text = NULL;
	size_t len = 0;

	if (s == NULL) {
		server_reply_error(req, 401, "login required", NULL);
		return;
	}
	wk = auth_worker_sid(a, s);
	json_gen_reset(a->gen);
	json_gen_object_open(a->gen);
	json_gen_kv_string(a->gen, "identity", s->identity);
	json_gen_kv_string(a->gen, "role", auth_role_name(s->role));
	if (wk != NULL)
		json_gen_kv_string(a->gen, "workerSid", wk);
	else
		json_gen_kv_null(a->gen, "workerSid");
	if (s->role == AUTH_ROLE_WORKER)
		json_gen_kv_string(a->gen, "workerName", s->identity);
	else
		json_gen_kv_null(a->gen, "workerName");
	json_gen_kv_int(a->gen, "expiresAtMs", auth_expires_at_ms(a, s));
	json_gen_object_close(a->gen);
	text = json_gen_text(a->gen, &len);
	server_reply_json(req, 200, text, len);
}
