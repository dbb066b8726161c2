/*
 * token: issuing Twilio JWTs and checking JWTs (token.h).
 *
 * What must stay true:
 * - Claims are written in twilio-python's order with our JSON generator and
 *   signed with one HMAC-SHA256 over "base64url(header).base64url(payload)"
 *   (RFC 7515); base64url without padding. libjwt 1.10 would sort the keys,
 *   which is valid but not byte-identical to twilio-api.md 8b, and costs a
 *   jansson round trip per token.
 * - Decoding goes through libjwt's v1 API with the key always passed (it
 *   skips the signature check without one) and the algorithm checked
 *   afterwards; 1.10 has no claim validation, so exp and nbf are checked
 *   here (STYLE.md 11).
 * - Keys are never logged or copied beyond the call.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jwt.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "buf.h"
#include "json.h"
#include "log.h"
#include "sid.h"
#include "token.h"
#include "xmalloc.h"

#define TOKEN_ACCESS_HEADER	"{\"typ\":\"JWT\",\"alg\":\"HS256\",\"cty\":\"twilio-fpa;v=1\"}"
#define TOKEN_CAPABILITY_HEADER "{\"typ\":\"JWT\",\"alg\":\"HS256\"}"
#define TOKEN_TASKROUTER_URL	"https://taskrouter.twilio.com"
#define TOKEN_EVENT_BRIDGE_URL	"https://event-bridge.twilio.com"

/* Appends base64url (no padding) of len bytes. */
static void
token_b64url(struct buf *out, const void *data, size_t len)
{
	size_t cap = 4 * ((len + 2) / 3) + 1;
	unsigned char *tmp = xmalloc(cap);
	int n = EVP_EncodeBlock(tmp, data, (int)len);

	if (n < 0)
		fatalx("token: OpenSSL failed");
	while (n > 0 && tmp[n - 1] == '=')
		n--;
	for (int i = 0; i < n; i++) {
		if (tmp[i] == '+')
			tmp[i] = '-';
		else if (tmp[i] == '/')
			tmp[i] = '_';
	}
	buf_append(out, tmp, (size_t)n);
	free(tmp);
}

/* header and payload (JSON texts) -> signed compact JWT, allocated. */
static char *
token_sign(const char *header, size_t header_len, const char *payload, size_t payload_len,
	   const char *key)
{
	struct buf b;
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;

	buf_init(&b);
	token_b64url(&b, header, header_len);
	buf_putc(&b, '.');
	token_b64url(&b, payload, payload_len);
	if (HMAC(EVP_sha256(), key, (int)strlen(key), (const unsigned char *)b.data, b.len, mac,
		 &mac_len) == NULL)
		fatalx("token: OpenSSL failed");
	buf_putc(&b, '.');
	token_b64url(&b, mac, mac_len);
	return buf_steal(&b, NULL);
}

static int
token_check_common(const char *what, const char *value, const char *prefix, char **cause_out)
{
	if (value == NULL || value[0] == '\0') {
		*cause_out = xasprintf("token: %s is missing", what);
		return -EINVAL;
	}
	if (prefix != NULL && !sid_is_valid(value, prefix)) {
		*cause_out = xasprintf("token: %s is not a %s SID", what, prefix);
		return -EINVAL;
	}
	return 0;
}

static int
token_check_ttl(int ttl_s, char **cause_out)
{
	if (ttl_s < 1 || ttl_s > TOKEN_ACCESS_TTL_MAX_S) {
		*cause_out = xasprintf("token: ttl %d s is outside 1..%d", ttl_s,
				       TOKEN_ACCESS_TTL_MAX_S);
		return -EINVAL;
	}
	return 0;
}

int
token_access(const struct token_access_options *o, char **jwt_out, char **cause_out)
{
	struct json_gen *g = NULL;
	char jti[96];
	const char *payload = NULL;
	size_t len = 0;
	int r;

	if ((r = token_check_common("account_sid", o->account_sid, "AC", cause_out)) < 0 ||
	    (r = token_check_common("api_key", o->api_key, "SK", cause_out)) < 0 ||
	    (r = token_check_common("api_secret", o->api_secret, NULL, cause_out)) < 0 ||
	    (r = token_check_ttl(o->ttl_s, cause_out)) < 0)
		return r;
	if ((o->sync_service_sid != NULL &&
	     (r = token_check_common("sync_service_sid", o->sync_service_sid, "IS", cause_out)) <
		     0) ||
	    (o->workspace_sid != NULL &&
	     (r = token_check_common("workspace_sid", o->workspace_sid, "WS", cause_out)) < 0) ||
	    (o->worker_sid != NULL &&
	     (r = token_check_common("worker_sid", o->worker_sid, "WK", cause_out)) < 0))
		return r;
	snprintf(jti, sizeof(jti), "%s-%lld", o->api_key, (long long)o->now_s);
	g = json_gen_new();
	json_gen_object_open(g);
	json_gen_kv_string(g, "jti", jti);
	json_gen_kv_string(g, "iss", o->api_key);
	json_gen_kv_string(g, "sub", o->account_sid);
	json_gen_kv_int(g, "nbf", o->now_s);
	json_gen_kv_int(g, "exp", o->now_s + o->ttl_s);
	json_gen_key(g, "grants");
	json_gen_object_open(g);
	if (o->identity != NULL)
		json_gen_kv_string(g, "identity", o->identity);
	if (o->sync_service_sid != NULL) {
		json_gen_key(g, "data_sync");
		json_gen_object_open(g);
		json_gen_kv_string(g, "service_sid", o->sync_service_sid);
		json_gen_object_close(g);
	}
	if (o->workspace_sid != NULL) {
		json_gen_key(g, "task_router");
		json_gen_object_open(g);
		json_gen_kv_string(g, "workspace_sid", o->workspace_sid);
		if (o->worker_sid != NULL)
			json_gen_kv_string(g, "worker_sid", o->worker_sid);
		if (o->role != NULL)
			json_gen_kv_string(g, "role", o->role);
		json_gen_object_close(g);
	}
	json_gen_object_close(g);
	json_gen_object_close(g);
	payload = json_gen_text(g, &len);
	*jwt_out = token_sign(TOKEN_ACCESS_HEADER, strlen(TOKEN_ACCESS_HEADER), payload, len,
			      o->api_secret);
	json_gen_free(g);
	return 0;
}

/* One policy object, twilio-python's key order. */
static void
token_policy(struct json_gen *g, const char *url, const char *method, bool activity_filter)
{
	json_gen_object_open(g);
	json_gen_kv_string(g, "url", url);
	json_gen_kv_string(g, "method", method);
	json_gen_kv_bool(g, "allow", true);
	json_gen_key(g, "query_filter");
	json_gen_object_open(g);
	json_gen_object_close(g);
	json_gen_key(g, "post_filter");
	json_gen_object_open(g);
	if (activity_filter) {
		json_gen_key(g, "ActivitySid");
		json_gen_object_open(g);
		json_gen_kv_bool(g, "required", true);
		json_gen_object_close(g);
	}
	json_gen_object_close(g);
	json_gen_object_close(g);
}

int
token_worker_capability(const struct token_capability_options *o, char **jwt_out, char **cause_out)
{
	const char *tr = o->taskrouter_url != NULL ? o->taskrouter_url : TOKEN_TASKROUTER_URL;
	const char *eb = o->event_bridge_url != NULL ? o->event_bridge_url : TOKEN_EVENT_BRIDGE_URL;
	struct json_gen *g = NULL;
	char *ws_url = NULL;
	char *worker_url = NULL;
	char *url = NULL;
	const char *payload = NULL;
	size_t len = 0;
	int r;

	if ((r = token_check_common("account_sid", o->account_sid, "AC", cause_out)) < 0 ||
	    (r = token_check_common("auth_token", o->auth_token, NULL, cause_out)) < 0 ||
	    (r = token_check_common("workspace_sid", o->workspace_sid, "WS", cause_out)) < 0 ||
	    (r = token_check_common("worker_sid", o->worker_sid, "WK", cause_out)) < 0 ||
	    (r = token_check_ttl(o->ttl_s, cause_out)) < 0)
		return r;
	ws_url = xasprintf("%s/v1/Workspaces/%s", tr, o->workspace_sid);
	worker_url = xasprintf("%s/Workers/%s", ws_url, o->worker_sid);
	g = json_gen_new();
	json_gen_object_open(g);
	json_gen_kv_string(g, "account_sid", o->account_sid);
	json_gen_kv_string(g, "workspace_sid", o->workspace_sid);
	json_gen_kv_string(g, "channel", o->worker_sid);
	json_gen_kv_string(g, "version", "v1");
	json_gen_kv_string(g, "friendly_name", o->worker_sid);
	json_gen_key(g, "policies");
	json_gen_array_open(g);
	/* twilio-python's order: web sockets, fetch self, then the worker's defaults. */
	url = xasprintf("%s/v1/wschannels/%s/%s", eb, o->account_sid, o->worker_sid);
	token_policy(g, url, "GET", false);
	token_policy(g, url, "POST", false);
	free(url);
	token_policy(g, worker_url, "GET", false);
	url = xasprintf("%s/Activities", ws_url);
	token_policy(g, url, "GET", false);
	free(url);
	url = xasprintf("%s/Tasks/**", ws_url);
	token_policy(g, url, "GET", false);
	free(url);
	url = xasprintf("%s/Reservations/**", worker_url);
	token_policy(g, url, "GET", false);
	free(url);
	token_policy(g, worker_url, "POST", true); /* activity updates */
	url = xasprintf("%s/Tasks/**", ws_url);	   /* reservation updates */
	token_policy(g, url, "POST", false);
	free(url);
	url = xasprintf("%s/Reservations/**", worker_url);
	token_policy(g, url, "POST", false);
	free(url);
	json_gen_array_close(g);
	json_gen_kv_string(g, "worker_sid", o->worker_sid);
	json_gen_kv_string(g, "iss", o->account_sid);
	json_gen_kv_int(g, "exp", o->now_s + o->ttl_s);
	json_gen_kv_int(g, "nbf", o->now_s);
	json_gen_object_close(g);
	payload = json_gen_text(g, &len);
	*jwt_out = token_sign(TOKEN_CAPABILITY_HEADER, strlen(TOKEN_CAPABILITY_HEADER), payload,
			      len, o->auth_token);
	json_gen_free(g);
	free(ws_url);
	free(worker_url);
	return 0;
}

int
token_decode(const char *jwt, const char *key, int64_t now_s, struct json_doc **payload_out,
	     struct json_doc **header_out, char **cause_out)
{
	jwt_t *j = NULL;
	char *claims = NULL;
	char *head = NULL;
	struct json_doc *payload = NULL;
	struct json_doc *header = NULL;
	int64_t exp = 0;
	int64_t nbf = 0;
	int r;

	if (jwt == NULL || key == NULL || key[0] == '\0') {
		*cause_out = xstrdup("token: no token or no key");
		return -EINVAL;
	}
	r = jwt_decode(&j, jwt, (const unsigned char *)key, (int)strlen(key));
	if (r != 0 || j == NULL) {
		/* libjwt 1.10 says EINVAL for both a bad shape and a bad signature. */
		*cause_out = xstrdup("token: malformed or not signed with this key");
		r = -EACCES;
		goto out;
	}
	if (jwt_get_alg(j) != JWT_ALG_HS256) {
		*cause_out = xstrdup("token: not an HS256 token");
		r = -EINVAL;
		goto out;
	}
	claims = jwt_get_grants_json(j, NULL);
	head = jwt_get_headers_json(j, NULL);
	if (claims == NULL || head == NULL ||
	    json_parse(claims, strlen(claims), NULL, &payload, NULL) < 0 ||
	    json_parse(head, strlen(head), NULL, &header, NULL) < 0 ||
	    !json_is_object(json_doc_root(payload))) {
		*cause_out = xstrdup("token: claims are not a JSON object");
		r = -EINVAL;
		goto out;
	}
	if (now_s != 0) {
		if (json_get_int64(json_doc_root(payload), "exp", &exp) < 0 || now_s >= exp) {
			*cause_out = xstrdup("token: expired or without exp");
			r = -ETIMEDOUT;
			goto out;
		}
		if (json_get_int64(json_doc_root(payload), "nbf", &nbf) == 0 && now_s < nbf) {
			*cause_out = xstrdup("token: not valid yet");
			r = -ETIMEDOUT;
			goto out;
		}
	}
	*payload_out = payload;
	payload = NULL;
	if (header_out != NULL) {
		*header_out = header;
		header = NULL;
	}
	r = 0;
out:
	json_doc_free(payload);
	json_doc_free(header);
	free(claims); /* libjwt 1.10 strings are the caller's, freed with free() */
	free(head);
	jwt_free(j);
	return r;
}
