/*
 * http: the one place a libcurl easy handle is configured (struct
 * http_transfer), shared by http_sync.c and http_async.c so both transports
 * send byte-identical requests and report results the same way.
 *
 * Invariants:
 * - Every transfer is bounded: total timeout, connect timeout and a response
 *   size cap enforced in the write callback (a short count aborts the
 *   transfer with CURLE_WRITE_ERROR, reported as HTTP_TOO_LARGE).
 * - Redirects are never followed; plain http is only allowed for loopback
 *   URLs or when the spec says so (the emulator on 127.0.0.1).
 * - The write and header callbacks only copy bytes into the transfer; they
 *   never call libcurl (STYLE.md 7.8). Retry-After is kept raw and parsed in
 *   http_transfer_finish, outside any callback.
 * - Header values we add are refused when they contain CR or LF, so no
 *   caller-supplied text can inject headers.
 */

#include <sys/socket.h>

#include <arpa/inet.h>
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "buf.h"
#include "http.h"
#include "loopback.h"
#include "trhub_version.h"
#include "xmalloc.h"

#define HTTP_USER_AGENT		  "trhub/" TRHUB_VERSION
#define HTTP_HEADER_VALUE_MAX	  1024
#define HTTP_RETRY_AFTER_MAX_S	  86400L
#define HTTP_DEFAULT_CONTENT_TYPE "application/x-www-form-urlencoded"

struct http_transfer {
	CURL *easy;
	struct curl_slist *headers;
	char *body; /* request body copy (CURLOPT_POSTFIELDS does not copy) */
	struct buf response;
	size_t max_response_bytes;
	bool too_large;
	char *etag;
	char *content_type;
	char *retry_after; /* raw header value; parsed in http_transfer_finish */
	char errbuf[CURL_ERROR_SIZE];
};

int
http_global_init(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -EIO;
}

void
http_global_cleanup(void)
{
	curl_global_cleanup();
}

void
http_response_init(struct http_response *r)
{
	memset(r, 0, sizeof(*r));
	r->outcome = HTTP_FAILED;
	r->retry_after_s = -1;
}

void
http_response_clear(struct http_response *r)
{
	if (r == NULL)
		return;
	free(r->body);
	free(r->etag);
	free(r->content_type);
	http_response_init(r);
}

const char *
http_method_name(enum http_method m)
{
	switch (m) {
	case HTTP_GET:
		return "GET";
	case HTTP_POST:
		return "POST";
	case HTTP_DELETE:
		return "DELETE";
	}
	return "?";
}

const char *
http_outcome_name(enum http_outcome o)
{
	switch (o) {
	case HTTP_DONE:
		return "done";
	case HTTP_TIMEOUT:
		return "timeout";
	case HTTP_CONNECT_FAILED:
		return "connect failed";
	case HTTP_TLS_FAILED:
		return "tls failed";
	case HTTP_TOO_LARGE:
		return "too large";
	case HTTP_CANCELLED:
		return "cancelled";
	case HTTP_FAILED:
		return "failed";
	}
	return "?";
}

/* Length of the scheme prefix ("http://" → 7) when url starts with scheme "://", else 0. */
static size_t
http_scheme_len(const char *url, const char *scheme)
{
	size_t n = strlen(scheme);

	if (strncasecmp(url, scheme, n) != 0 || strncmp(url + n, "://", 3) != 0)
		return 0;
	return n + 3;
}

/*
 * Copies the host of url (after the scheme) into host (without IPv6
 * brackets). Returns false when there is no host or it does not fit.
 */
static bool
http_url_host(const char *url, size_t scheme_len, char *host, size_t host_size)
{
	const char *p = url + scheme_len;
	const char *end;
	const char *at;
	size_t len;

	end = p + strcspn(p, "/?#");
	/* userinfo: the host follows the last '@' of the authority */
	at = p;
	for (const char *q = p; q < end; q++) {
		if (*q == '@')
			at = q + 1;
	}
	p = at;
	if (*p == '[') {
		const char *close = memchr(p, ']', (size_t)(end - p));

		if (close == NULL)
			return false;
		p++;
		end = close;
	} else {
		const char *colon = memchr(p, ':', (size_t)(end - p));

		if (colon != NULL)
			end = colon;
	}
	len = (size_t)(end - p);
	if (len == 0 || len >= host_size)
		return false;
	memcpy(host, p, len);
	host[len] = '\0';
	return true;
}

bool
http_url_is_loopback(const char *url)
{
	char host[256];
	size_t n;

	if (url == NULL)
		return false;
	n = http_scheme_len(url, "http");
	if (n == 0)
		return false;
	if (!http_url_host(url, n, host, sizeof(host)))
		return false;
	return loopback_is_host(host);
}

/* True when s is too long or has a CR or LF that would break the header line. */
static bool
http_header_value_is_bad(const char *s)
{
	return strlen(s) > HTTP_HEADER_VALUE_MAX || strpbrk(s, "\r\n") != NULL;
}

/* Case-insensitive "Name:" match at the start of a header line; returns the trimmed value. */
static bool
http_header_match(const char *line, size_t len, const char *name, const char **value_out,
		  size_t *value_len_out)
{
	size_t n = strlen(name);
	const char *v;
	const char *end = line + len;

	if (len <= n || strncasecmp(line, name, n) != 0 || line[n] != ':')
		return false;
	v = line + n + 1;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
		end--;
	*value_out = v;
	*value_len_out = (size_t)(end - v);
	return true;
}

static void
http_set_string(char **dst, const char *v, size_t len)
{
	free(*dst);
	*dst = xstrndup(v, len);
}

static size_t
http_header_cb(char *data, size_t size, size_t nmemb, void *arg)
{
	struct http_transfer *t = arg;
	size_t len = size * nmemb;
	const char *v;
	size_t vlen;

	/* A new status line (after 100 Continue or a 401 challenge): drop what we kept. */
	if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
		free_and_null(t->etag);
		free_and_null(t->content_type);
		free_and_null(t->retry_after);
		return len;
	}
	if (http_header_match(data, len, "ETag", &v, &vlen))
		http_set_string(&t->etag, v, vlen);
	else if (http_header_match(data, len, "Content-Type", &v, &vlen))
		http_set_string(&t->content_type, v, vlen);
	else if (http_header_match(data, len, "Retry-After", &v, &vlen))
		http_set_string(&t->retry_after, v, vlen);
	return len;
}

static size_t
http_write_cb(char *data, size_t size, size_t nmemb, void *arg)
{
	struct http_transfer *t = arg;
	size_t len = size * nmemb;

	if (len > t->max_response_bytes || t->response.len > t->max_response_bytes - len) {
		t->too_large = true;
		return 0; /* short count: libcurl aborts with CURLE_WRITE_ERROR */
	}
	buf_append(&t->response, data, len);
	return len;
}

/* Retry-After: delta-seconds or an HTTP-date (RFC 9110 10.2.3); -1 when unusable. */
static long
http_parse_retry_after(const char *v)
{
	long n = 0;
	time_t when;
	time_t now;

	if (v == NULL || *v == '\0')
		return -1;
	if (isdigit((unsigned char)*v)) {
		for (; *v != '\0'; v++) {
			if (!isdigit((unsigned char)*v))
				return -1;
			if (n > HTTP_RETRY_AFTER_MAX_S)
				continue; /* saturate */
			n = n * 10 + (*v - '0');
		}
		return n > HTTP_RETRY_AFTER_MAX_S ? HTTP_RETRY_AFTER_MAX_S : n;
	}
	when = curl_getdate(v, NULL);
	if (when == (time_t)-1)
		return -1;
	now = time(NULL);
	if (when <= now)
		return 0;
	if (when - now > HTTP_RETRY_AFTER_MAX_S)
		return HTTP_RETRY_AFTER_MAX_S;
	return (long)(when - now);
}

/* Checks and appends "Name: value"; false when the value could inject headers. */
static bool
http_add_header(struct http_transfer *t, const char *name, const char *value, char **cause_out)
{
	char *line;
	struct curl_slist *l;

	if (http_header_value_is_bad(value)) {
		*cause_out = xasprintf("%s header value contains CR/LF or is too long", name);
		return false;
	}
	line = xasprintf("%s: %s", name, value);
	l = curl_slist_append(t->headers, line);
	free(line);
	if (l == NULL) {
		*cause_out = xstrdup("cannot build header list");
		return false;
	}
	t->headers = l;
	return true;
}

static bool
http_add_raw_header(struct http_transfer *t, const char *line, char **cause_out)
{
	struct curl_slist *l;

	if (http_header_value_is_bad(line) || strchr(line, ':') == NULL) {
		*cause_out = xstrdup("extra header is not a single \"Name: value\" line");
		return false;
	}
	l = curl_slist_append(t->headers, line);
	if (l == NULL) {
		*cause_out = xstrdup("cannot build header list");
		return false;
	}
	t->headers = l;
	return true;
}

/* Refuses what libcurl would accept but we must not send. */
static bool
http_spec_check(const struct http_request_spec *spec, bool *plain_ok_out, char **cause_out)
{
	bool plain_ok;

	if (spec->url == NULL || *spec->url == '\0') {
		*cause_out = xstrdup("missing URL");
		return false;
	}
	if (strpbrk(spec->url, "\r\n\t ") != NULL) {
		*cause_out = xstrdup("URL contains whitespace");
		return false;
	}
	if ((spec->username == NULL) != (spec->password == NULL)) {
		*cause_out = xstrdup("username and password must be given together");
		return false;
	}
	if (spec->body_len > 0 && spec->body == NULL) {
		*cause_out = xstrdup("body length without a body");
		return false;
	}
	plain_ok = spec->allow_plain_http || http_url_is_loopback(spec->url);
	if (http_scheme_len(spec->url, "https") == 0) {
		if (http_scheme_len(spec->url, "http") == 0) {
			*cause_out = xstrdup("URL scheme is not http or https");
			return false;
		}
		if (!plain_ok) {
			*cause_out = xstrdup("plain http refused for a non-loopback host");
			return false;
		}
	}
	*plain_ok_out = plain_ok;
	return true;
}

/* Sets one option; false on failure (every libcurl return value is checked). */
#define HTTP_SETOPT(t, opt, val)                                                               \
	do {                                                                                   \
		CURLcode c_ = curl_easy_setopt((t)->easy, (opt), (val));                       \
		if (c_ != CURLE_OK) {                                                          \
			*cause_out =                                                           \
				xasprintf("curl option %s: %s", #opt, curl_easy_strerror(c_)); \
			goto fail;                                                             \
		}                                                                              \
	} while (0)

struct http_transfer *
http_transfer_new(const struct http_request_spec *spec, void *share, char **cause_out)
{
	struct http_transfer *t = NULL;
	bool plain_ok = false;
	long timeout_ms;
	long connect_timeout_ms;

	*cause_out = NULL;
	if (!http_spec_check(spec, &plain_ok, cause_out))
		return NULL;

	t = xcalloc(1, sizeof(*t));
	buf_init(&t->response);
	t->max_response_bytes = spec->max_response_bytes > 0 ? spec->max_response_bytes
							     : HTTP_DEFAULT_MAX_RESPONSE_BYTES;
	timeout_ms = spec->timeout_ms > 0 ? spec->timeout_ms : HTTP_DEFAULT_TIMEOUT_MS;
	connect_timeout_ms = spec->connect_timeout_ms > 0 ? spec->connect_timeout_ms
							  : HTTP_DEFAULT_CONNECT_TIMEOUT_MS;

	t->easy = curl_easy_init();
	if (t->easy == NULL) {
		*cause_out = xstrdup("curl_easy_init failed");
		goto fail;
	}

	if (!http_add_header(t, "Accept", "application/json", cause_out))
		goto fail;
	if (spec->method == HTTP_POST || spec->body != NULL) {
		const char *ct =
			spec->content_type != NULL ? spec->content_type : HTTP_DEFAULT_CONTENT_TYPE;

		if (!http_add_header(t, "Content-Type", ct, cause_out))
			goto fail;
		/* no "Expect: 100-continue" round trip for large bodies */
		if (!http_add_raw_header(t, "Expect:", cause_out))
			goto fail;
	}
	if (spec->if_match != NULL && !http_add_header(t, "If-Match", spec->if_match, cause_out))
		goto fail;
	for (size_t i = 0; spec->headers != NULL && spec->headers[i] != NULL; i++) {
		if (!http_add_raw_header(t, spec->headers[i], cause_out))
			goto fail;
	}

	HTTP_SETOPT(t, CURLOPT_URL, spec->url);
	HTTP_SETOPT(t, CURLOPT_NOSIGNAL, 1L);
	HTTP_SETOPT(t, CURLOPT_ERRORBUFFER, t->errbuf);
	HTTP_SETOPT(t, CURLOPT_USERAGENT, HTTP_USER_AGENT);
	HTTP_SETOPT(t, CURLOPT_HTTPHEADER, t->headers);
	HTTP_SETOPT(t, CURLOPT_TIMEOUT_MS, timeout_ms);
	HTTP_SETOPT(t, CURLOPT_CONNECTTIMEOUT_MS, connect_timeout_ms);
	HTTP_SETOPT(t, CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
	HTTP_SETOPT(t, CURLOPT_PROTOCOLS_STR, plain_ok ? "http,https" : "https");
#else
	HTTP_SETOPT(t, CURLOPT_PROTOCOLS,
		    plain_ok ? (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS) : (long)CURLPROTO_HTTPS);
#endif
	HTTP_SETOPT(t, CURLOPT_WRITEFUNCTION, http_write_cb);
	HTTP_SETOPT(t, CURLOPT_WRITEDATA, t);
	HTTP_SETOPT(t, CURLOPT_HEADERFUNCTION, http_header_cb);
	HTTP_SETOPT(t, CURLOPT_HEADERDATA, t);
	/* refuses early when Content-Length already says too much */
	if (t->max_response_bytes <= (size_t)LONG_MAX)
		HTTP_SETOPT(t, CURLOPT_MAXFILESIZE, (long)t->max_response_bytes);
	if (spec->username != NULL) {
		HTTP_SETOPT(t, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		HTTP_SETOPT(t, CURLOPT_USERNAME, spec->username);
		HTTP_SETOPT(t, CURLOPT_PASSWORD, spec->password);
	}
	if (share != NULL)
		HTTP_SETOPT(t, CURLOPT_SHARE, (CURLSH *)share);

	switch (spec->method) {
	case HTTP_GET:
		HTTP_SETOPT(t, CURLOPT_HTTPGET, 1L);
		break;
	case HTTP_POST:
	case HTTP_DELETE:
		if (spec->method == HTTP_POST || spec->body != NULL) {
			/* an empty POST still sends "Content-Length: 0" */
			t->body = spec->body_len > 0 ? xmemdup(spec->body, spec->body_len)
						     : xstrdup("");
			HTTP_SETOPT(t, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)spec->body_len);
			HTTP_SETOPT(t, CURLOPT_POSTFIELDS, t->body);
		}
		if (spec->method == HTTP_DELETE)
			HTTP_SETOPT(t, CURLOPT_CUSTOMREQUEST, "DELETE");
		break;
	}
	return t;

fail:
	http_transfer_free(t);
	if (*cause_out == NULL)
		*cause_out = xstrdup("cannot build request");
	return NULL;
}

void *
http_transfer_easy(struct http_transfer *t)
{
	return t->easy;
}

void
http_transfer_set_private(struct http_transfer *t, void *priv)
{
	/* CURLOPT_PRIVATE only stores a pointer and cannot fail on a valid handle */
	(void)curl_easy_setopt(t->easy, CURLOPT_PRIVATE, priv);
}

static enum http_outcome
http_outcome_from_code(const struct http_transfer *t, CURLcode code)
{
	switch (code) {
	case CURLE_OK:
		return HTTP_DONE;
	case CURLE_OPERATION_TIMEDOUT:
		return HTTP_TIMEOUT;
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
		return HTTP_CONNECT_FAILED;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_ENGINE_INITFAILED:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_SHUTDOWN_FAILED:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_USE_SSL_FAILED:
		return HTTP_TLS_FAILED;
	case CURLE_FILESIZE_EXCEEDED:
		return HTTP_TOO_LARGE;
	case CURLE_WRITE_ERROR:
		return t->too_large ? HTTP_TOO_LARGE : HTTP_FAILED;
	default:
		return HTTP_FAILED;
	}
}

void
http_transfer_finish(struct http_transfer *t, int curl_code, struct http_response *resp)
{
	CURLcode code = (CURLcode)curl_code;
	long status = 0;
	double total = 0;

	resp->outcome = http_outcome_from_code(t, code);
	if (curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK)
		resp->status = status;
	if (curl_easy_getinfo(t->easy, CURLINFO_TOTAL_TIME, &total) == CURLE_OK)
		resp->total_time_s = total;

	free(resp->etag);
	free(resp->content_type);
	resp->etag = t->etag;
	resp->content_type = t->content_type;
	t->etag = NULL;
	t->content_type = NULL;
	resp->retry_after_s = http_parse_retry_after(t->retry_after);

	free(resp->body);
	if (resp->outcome != HTTP_DONE)
		buf_reset(&t->response); /* a partial body is not a response */
	resp->body = buf_steal(&t->response, &resp->body_len);

	if (code != CURLE_OK) {
		const char *text = t->errbuf[0] != '\0' ? t->errbuf : curl_easy_strerror(code);

		if (resp->outcome == HTTP_TOO_LARGE)
			text = "response exceeds the size cap";
		(void)snprintf(resp->error, sizeof(resp->error), "%s", text);
	} else {
		resp->error[0] = '\0';
	}
}

void
http_transfer_free(struct http_transfer *t)
{
	if (t == NULL)
		return;
	if (t->easy != NULL)
		curl_easy_cleanup(t->easy);
	curl_slist_free_all(t->headers);
	free(t->body);
	buf_clear(&t->response);
	free(t->etag);
	free(t->content_type);
	free(t->retry_after);
	free(t);
}
