/*
 * signature: X-Twilio-Signature (twilio-api.md section 7), one of the two
 * OpenSSL owners (STYLE.md 3).
 *
 * The signed string is the URL followed, for each parameter name in sorted
 * order, by the name and its value, with no separators; a repeated name
 * contributes each distinct value once, in sorted order (twilio-python's
 * sorted(set(values))). Sorting (name, value) pairs and dropping equal
 * neighbours gives exactly that. Two sort orders are in use: twilio-python
 * compares code points (byte order of UTF-8), twilio-node compares UTF-16
 * code units, which differ only when a character above U+FFFF (a surrogate
 * pair in UTF-16, 0xD800-0xDFFF) meets one in U+E000-U+FFFF. Signatures are
 * computed in code point order; verification also accepts UTF-16 order, at
 * the cost of more HMACs only when some name or value holds a 4-byte UTF-8
 * sequence and the two orders really differ (twilio-api.md 7).
 *
 * Verification tries the URL as given, without its port, and with the
 * scheme's default port added, like twilio-python. The URL is split by a
 * small parser here (scheme "://" [userinfo "@"] host-or-[IPv6] [":" port]),
 * which only ever removes or inserts the port; every other byte of the URL is
 * signed as received. Comparisons use CRYPTO_memcmp, so timing tells nothing
 * about how much of a signature matched.
 *
 * Cost: OpenSSL 3 looks algorithms up by name, so the HMAC implementation is
 * fetched once per process and a keyed template context is kept for the
 * last auth token seen; each HMAC duplicates the template (a few hundred
 * bytes copied) instead of fetching and keying a new context. The module
 * keeps this state in statics and is for single-threaded callers.
 */

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "buf.h"
#include "form.h"
#include "log.h"
#include "signature.h"
#include "xmalloc.h"

#define SIGNATURE_SHA1_LEN     20
#define SIGNATURE_SHA256_LEN   32
#define SIGNATURE_SHA256_HEX   64
#define SIGNATURE_BODY_PARAM   "bodySHA256"
#define SIGNATURE_MAX_VARIANTS 3

/* Where the port sits in a URL; host_end == port_end when there is none. */
struct signature_url {
	size_t len;	   /* without any '#fragment' */
	size_t host_end;   /* offset just after the host (before ':port') */
	size_t port_end;   /* offset just after the port */
	bool has_port;	   /* a ':' follows the host, possibly with no digits */
	const char *dflt;  /* ":443", ":80", or NULL for other schemes */
	const char *query; /* after '?', or NULL */
	size_t query_len;
};

struct signature_pair {
	const char *key;
	const char *value;
};

static bool
signature_is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
signature_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* ASCII case-insensitive comparison of n bytes (scheme names only). */
static bool
signature_ascii_eq(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char x = a[i];
		char y = b[i];

		if (x >= 'A' && x <= 'Z')
			x = (char)(x - 'A' + 'a');
		if (y >= 'A' && y <= 'Z')
			y = (char)(y - 'A' + 'a');
		if (x != y)
			return false;
	}
	return true;
}

/*
 * Splits url into the parts the port variants need. Returns 0, or -EINVAL
 * when it is not scheme://authority... with a non-empty host and a numeric
 * port.
 */
static int
signature_url_parse(const char *url, struct signature_url *u)
{
	size_t len = strcspn(url, "#");
	size_t scheme_len = 0;
	size_t auth;
	size_t auth_end;
	size_t host;
	size_t i;

	memset(u, 0, sizeof(*u));
	u->len = len;
	if (len == 0 || !signature_is_alpha(url[0]))
		return -EINVAL;
	while (scheme_len < len &&
	       (signature_is_alpha(url[scheme_len]) || signature_is_digit(url[scheme_len]) ||
		url[scheme_len] == '+' || url[scheme_len] == '-' || url[scheme_len] == '.'))
		scheme_len++;
	if (strncmp(url + scheme_len, "://", 3) != 0)
		return -EINVAL;
	if (scheme_len == 5 && signature_ascii_eq(url, "https", 5))
		u->dflt = ":443";
	else if (scheme_len == 4 && signature_ascii_eq(url, "http", 4))
		u->dflt = ":80";

	auth = scheme_len + 3;
	auth_end = auth + strcspn(url + auth, "/?#");
	if (auth_end > len)
		auth_end = len;
	/* userinfo ends at the last '@' of the authority */
	host = auth;
	for (i = auth; i < auth_end; i++) {
		if (url[i] == '@')
			host = i + 1;
	}
	if (host < auth_end && url[host] == '[') {
		i = host + 1;
		while (i < auth_end && url[i] != ']')
			i++;
		if (i == auth_end || i == host + 1)
			return -EINVAL;
		i++; /* past ']' */
	} else {
		i = host;
		while (i < auth_end && url[i] != ':')
			i++;
		if (i == host)
			return -EINVAL;
	}
	u->host_end = i;
	u->port_end = i;
	if (i < auth_end) {
		unsigned long port = 0;

		if (url[i] != ':')
			return -EINVAL;
		u->has_port = true;
		for (i++; i < auth_end; i++) {
			if (!signature_is_digit(url[i]))
				return -EINVAL;
			port = port * 10 + (unsigned long)(url[i] - '0');
			if (port > 65535)
				return -EINVAL;
		}
		u->port_end = auth_end;
	}

	i = auth_end + strcspn(url + auth_end, "?#");
	if (i < len && url[i] == '?') {
		u->query = url + i + 1;
		u->query_len = len - i - 1;
	}
	return 0;
}

static int
signature_pair_cmp(const void *a, const void *b)
{
	const struct signature_pair *x = a;
	const struct signature_pair *y = b;
	int c = strcmp(x->key, y->key);

	return c != 0 ? c : strcmp(x->value, y->value);
}

/*
 * The UTF-16 code unit that sorts the character starting at s (well-formed
 * UTF-8 of n >= 1 bytes): the character itself below U+10000, else its high
 * surrogate. Returns -1 for a malformed sequence.
 */
static long
signature_utf16_unit(const unsigned char *s)
{
	unsigned long cp;

	if (s[0] < 0x80)
		return s[0];
	if ((s[0] & 0xe0) == 0xc0 && (s[1] & 0xc0) == 0x80)
		return (long)(((s[0] & 0x1fUL) << 6) | (s[1] & 0x3fUL));
	if ((s[0] & 0xf0) == 0xe0 && (s[1] & 0xc0) == 0x80 && (s[2] & 0xc0) == 0x80)
		return (long)(((s[0] & 0x0fUL) << 12) | ((s[1] & 0x3fUL) << 6) | (s[2] & 0x3fUL));
	if ((s[0] & 0xf8) == 0xf0 && (s[1] & 0xc0) == 0x80 && (s[2] & 0xc0) == 0x80 &&
	    (s[3] & 0xc0) == 0x80) {
		cp = ((s[0] & 0x07UL) << 18) | ((s[1] & 0x3fUL) << 12) | ((s[2] & 0x3fUL) << 6) |
		     (s[3] & 0x3fUL);
		if (cp < 0x10000 || cp > 0x10ffff)
			return -1;
		return (long)(0xd800 + ((cp - 0x10000) >> 10));
	}
	return -1;
}

/*
 * strcmp in UTF-16 code unit order (JavaScript's default sort, twilio-node).
 * Up to the first differing byte both strings agree; the characters that
 * byte belongs to decide. Characters with the same high surrogate compare
 * like their code points, that is, like their UTF-8 bytes. Malformed UTF-8
 * falls back to byte order.
 */
static int
signature_utf16_strcmp(const char *a, const char *b)
{
	const unsigned char *x = (const unsigned char *)a;
	const unsigned char *y = (const unsigned char *)b;
	size_t i = 0;
	size_t start;
	long ux;
	long uy;

	while (x[i] != '\0' && x[i] == y[i])
		i++;
	if (x[i] == y[i])
		return 0;
	/* back to the first byte of the character holding byte i */
	start = i;
	while (start > 0 && (x[start] & 0xc0) == 0x80)
		start--;
	ux = x[i] == '\0' ? -1 : signature_utf16_unit(x + start);
	uy = y[i] == '\0' ? -1 : signature_utf16_unit(y + start);
	if (x[i] != '\0' && y[i] != '\0' && ux >= 0 && uy >= 0 && ux != uy)
		return ux < uy ? -1 : 1;
	return x[i] < y[i] ? -1 : 1;
}

static int
signature_pair_utf16_cmp(const void *a, const void *b)
{
	const struct signature_pair *x = a;
	const struct signature_pair *y = b;
	int c = signature_utf16_strcmp(x->key, y->key);

	return c != 0 ? c : signature_utf16_strcmp(x->value, y->value);
}

/* True when s holds a byte that starts a 4-byte UTF-8 sequence (U+10000 up). */
static bool
signature_has_supplementary(const char *s)
{
	for (; *s != '\0'; s++) {
		if (((unsigned char)*s & 0xf8) == 0xf0)
			return true;
	}
	return false;
}

/*
 * Appends the sorted, de-duplicated "namevalue..." part of the signed string,
 * in code point order (utf16 false) or UTF-16 code unit order (utf16 true).
 * Returns whether any name or value holds a character above U+FFFF, the only
 * case in which the two orders can differ.
 */
static bool
signature_append_params(struct buf *out, const struct form *params, bool utf16)
{
	size_t n = params != NULL ? form_count(params) : 0;
	struct signature_pair *pairs = NULL;
	int (*cmp)(const void *, const void *) =
		utf16 ? signature_pair_utf16_cmp : signature_pair_cmp;
	bool supplementary = false;
	size_t total = 0;

	if (n == 0)
		return false;
	pairs = xreallocarray(NULL, n, sizeof(*pairs));
	for (size_t i = 0; i < n; i++) {
		pairs[i].key = form_key(params, i);
		pairs[i].value = form_value(params, i);
		total += strlen(pairs[i].key) + strlen(pairs[i].value);
		if (!supplementary && (signature_has_supplementary(pairs[i].key) ||
				       signature_has_supplementary(pairs[i].value)))
			supplementary = true;
	}
	buf_reserve(out, total); /* one allocation, not a doubling per append */
	qsort(pairs, n, sizeof(*pairs), cmp);
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && cmp(&pairs[i - 1], &pairs[i]) == 0)
			continue;
		buf_puts(out, pairs[i].key);
		buf_puts(out, pairs[i].value);
	}
	free(pairs);
	return supplementary;
}

/* The HMAC implementation and a template context keyed with the last token. */
struct signature_mac_cache {
	EVP_MAC *mac;
	EVP_MAC_CTX *tmpl;
	char *key; /* copy of the token tmpl is keyed with; wiped when replaced */
	size_t key_len;
};

static struct signature_mac_cache signature_cache;

/*
 * The template context for auth_token: fetched and keyed on first use and
 * when the token changes (a reload), else the cached one. Aborts when
 * OpenSSL cannot provide HMAC-SHA1 (a broken installation, not input).
 */
static EVP_MAC_CTX *
signature_mac_template(const char *auth_token, size_t key_len)
{
	struct signature_mac_cache *c = &signature_cache;
	char digest[] = "SHA1";
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
		OSSL_PARAM_construct_end(),
	};

	if (c->tmpl != NULL && c->key_len == key_len &&
	    CRYPTO_memcmp(c->key, auth_token, key_len) == 0)
		return c->tmpl;
	if (c->mac == NULL) {
		c->mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
		if (c->mac == NULL)
			fatalx("signature: HMAC is not available from OpenSSL");
	}
	EVP_MAC_CTX_free(c->tmpl);
	c->tmpl = NULL;
	if (c->key != NULL) {
		explicit_bzero(c->key, c->key_len);
		free(c->key);
		c->key = NULL;
	}
	c->tmpl = EVP_MAC_CTX_new(c->mac);
	if (c->tmpl == NULL ||
	    EVP_MAC_init(c->tmpl, (const unsigned char *)auth_token, key_len, params) != 1)
		fatalx("signature: HMAC-SHA1 key setup failed");
	c->key = xmalloc(key_len + 1);
	memcpy(c->key, auth_token, key_len + 1);
	c->key_len = key_len;
	return c->tmpl;
}

/*
 * Base64 HMAC-SHA1 of len bytes at data followed by more_len bytes at more
 * into out. Returns 0 or -EINVAL.
 */
static int
signature_hmac(const char *auth_token, const char *data, size_t len, const char *more,
	       size_t more_len, char out[SIGNATURE_LEN + 1])
{
	unsigned char md[SIGNATURE_SHA1_LEN];
	size_t md_len = 0;
	size_t key_len = strlen(auth_token);
	EVP_MAC_CTX *ctx = NULL;

	if (key_len > INT_MAX)
		return -EINVAL;
	ctx = EVP_MAC_CTX_dup(signature_mac_template(auth_token, key_len));
	if (ctx == NULL || EVP_MAC_update(ctx, (const unsigned char *)data, len) != 1 ||
	    (more_len > 0 && EVP_MAC_update(ctx, (const unsigned char *)more, more_len) != 1) ||
	    EVP_MAC_final(ctx, md, &md_len, sizeof(md)) != 1 || md_len != sizeof(md))
		fatalx("signature: HMAC-SHA1 failed");
	EVP_MAC_CTX_free(ctx);
	if (EVP_EncodeBlock((unsigned char *)out, md, (int)sizeof(md)) != SIGNATURE_LEN)
		fatalx("signature: base64 encoding failed");
	out[SIGNATURE_LEN] = '\0';
	return 0;
}

/**
 * signature_compute() - the X-Twilio-Signature of a request
 * @auth_token: the account's Auth Token (not copied, not logged)
 * @url: the exact URL Twilio requested, without '#fragment' (signed as is)
 * @params: the form parameters, or NULL for none; not modified
 * @out: receives the 28-character base64 signature and a NUL
 *
 * Return: 0, or -EINVAL for a NULL or empty token or URL.
 */
int
signature_compute(const char *auth_token, const char *url, const struct form *params,
		  char out[SIGNATURE_LEN + 1])
{
	struct buf data;
	int r;

	if (auth_token == NULL || auth_token[0] == '\0' || url == NULL || url[0] == '\0')
		return -EINVAL;
	buf_init(&data);
	buf_puts(&data, url);
	(void)signature_append_params(&data, params, false);
	r = signature_hmac(auth_token, data.data, data.len, NULL, 0, out);
	buf_clear(&data);
	return r;
}

/* Constant-time comparison of a computed signature with a received header. */
static bool
signature_equal(const char *computed, const char *header)
{
	if (strnlen(header, SIGNATURE_LEN + 1) != SIGNATURE_LEN)
		return false;
	return CRYPTO_memcmp(computed, header, SIGNATURE_LEN) == 0;
}

/**
 * signature_verify() - check an X-Twilio-Signature header
 * @auth_token: the account's Auth Token (not copied, not logged)
 * @url: the URL the request was received on, as Twilio would have built
 *	it; a '#fragment' is ignored
 * @params: the form parameters, or NULL for none
 * @header: the X-Twilio-Signature value; NULL or empty is a mismatch
 *
 * Tries the URL as given, with its port removed, and with the scheme's
 * default port added (":443" for https, ":80" for http), stopping at the
 * first match; each with the parameters in code point order and, when that
 * differs, in UTF-16 code unit order (twilio-node). Each comparison is
 * constant-time; the time taken can tell only which form matched, which is
 * public.
 * Return: SIGNATURE_MATCH, SIGNATURE_MISMATCH, or -EINVAL for an empty token
 * or a URL that cannot be parsed (no scheme://host, bad port, bad [IPv6]).
 */
int
signature_verify(const char *auth_token, const char *url, const struct form *params,
		 const char *header)
{
	struct signature_url u;
	struct buf suffix[2];
	struct buf data;
	size_t n_orders = 1;
	bool match = false;
	int r;

	if (auth_token == NULL || auth_token[0] == '\0' || url == NULL || url[0] == '\0')
		return -EINVAL;
	r = signature_url_parse(url, &u);
	if (r < 0)
		return r;
	if (header == NULL || header[0] == '\0')
		return SIGNATURE_MISMATCH;

	buf_init(&suffix[0]);
	buf_init(&suffix[1]);
	buf_init(&data);
	/* code point order (twilio-python); UTF-16 order (twilio-node) only if different */
	if (signature_append_params(&suffix[0], params, false)) {
		(void)signature_append_params(&suffix[1], params, true);
		if (suffix[1].len != suffix[0].len ||
		    memcmp(suffix[1].data, suffix[0].data, suffix[0].len) != 0)
			n_orders = 2;
	}
	for (int i = 0; i < SIGNATURE_MAX_VARIANTS * (int)n_orders; i++) {
		int variant = i % SIGNATURE_MAX_VARIANTS;
		const struct buf *sfx = &suffix[i / SIGNATURE_MAX_VARIANTS];
		char sig[SIGNATURE_LEN + 1];

		buf_reset(&data);
		if (variant == 0) {
			/* as given */
			buf_append(&data, url, u.len);
		} else if (variant == 1 && u.has_port) {
			/* port removed */
			buf_append(&data, url, u.host_end);
			buf_append(&data, url + u.port_end, u.len - u.port_end);
		} else if (variant == 2 && !u.has_port && u.dflt != NULL) {
			/* default port added */
			buf_append(&data, url, u.host_end);
			buf_puts(&data, u.dflt);
			buf_append(&data, url + u.host_end, u.len - u.host_end);
		} else {
			continue;
		}
		/* the URL form, then the parameters: no copy of them per form */
		r = signature_hmac(auth_token, data.data, data.len, sfx->data, sfx->len, sig);
		if (r < 0)
			goto out;
		if (signature_equal(sig, header)) {
			/* which URL form matched is no secret; stop at the first */
			match = true;
			break;
		}
	}
	r = match ? SIGNATURE_MATCH : SIGNATURE_MISMATCH;
out:
	buf_clear(&data);
	buf_clear(&suffix[1]);
	buf_clear(&suffix[0]);
	return r;
}

/* 'A'..'F' to 'a'..'f' without a data-dependent branch. */
static unsigned char
signature_lower(unsigned char c)
{
	unsigned char upper = (unsigned char)((unsigned)(c - 'A') < 26u);

	return (unsigned char)(c | (unsigned char)(upper << 5));
}

/* The first raw bodySHA256 value in the query, or NULL. */
static const char *
signature_find_body_hash(const struct signature_url *u, size_t *len_out)
{
	const char *q = u->query;
	const char *end;
	size_t klen = strlen(SIGNATURE_BODY_PARAM);

	if (q == NULL)
		return NULL;
	end = q + u->query_len;
	while (q < end) {
		const char *amp = memchr(q, '&', (size_t)(end - q));
		const char *seg_end = amp != NULL ? amp : end;

		if ((size_t)(seg_end - q) > klen && memcmp(q, SIGNATURE_BODY_PARAM, klen) == 0 &&
		    q[klen] == '=') {
			*len_out = (size_t)(seg_end - q) - klen - 1;
			return q + klen + 1;
		}
		q = seg_end + (amp != NULL ? 1 : 0);
	}
	return NULL;
}

/**
 * signature_verify_body() - check a request with a JSON body
 * @auth_token: the account's Auth Token
 * @url: the URL, carrying bodySHA256=<hex SHA-256 of the body> in its query
 * @body: the raw body, body_len bytes (may be NULL when body_len is 0)
 * @body_len: body size
 * @header: the X-Twilio-Signature value
 *
 * The URL alone (bodySHA256 included, no parameters) is signed, with the
 * same port variants as signature_verify(); the parameter must equal the
 * body's SHA-256 in hex, compared case-insensitively in constant time.
 * Return: SIGNATURE_MATCH only when both hold, SIGNATURE_MISMATCH (also for
 * a missing bodySHA256), or -EINVAL as for signature_verify().
 */
int
signature_verify_body(const char *auth_token, const char *url, const void *body, size_t body_len,
		      const char *header)
{
	struct signature_url u;
	char want[SIGNATURE_SHA256_HEX + 1];
	unsigned char got[SIGNATURE_SHA256_HEX];
	const char *hash;
	size_t hash_len = 0;
	bool body_ok;
	int r;

	r = signature_verify(auth_token, url, NULL, header);
	if (r < 0)
		return r;
	/* signature_verify has parsed url successfully */
	if (signature_url_parse(url, &u) < 0)
		return -EINVAL;
	hash = signature_find_body_hash(&u, &hash_len);
	if (hash == NULL || hash_len != SIGNATURE_SHA256_HEX)
		return SIGNATURE_MISMATCH;
	signature_sha256_hex(body_len > 0 ? body : "", body_len, want);
	for (size_t i = 0; i < SIGNATURE_SHA256_HEX; i++)
		got[i] = signature_lower((unsigned char)hash[i]);
	body_ok = CRYPTO_memcmp(got, want, SIGNATURE_SHA256_HEX) == 0;
	return body_ok && r == SIGNATURE_MATCH ? SIGNATURE_MATCH : SIGNATURE_MISMATCH;
}

/**
 * signature_sha256_hex() - lower-case hex SHA-256
 * @data: len bytes
 * @len: byte count
 * @out: receives 64 hex digits and a NUL
 */
void
signature_sha256_hex(const void *data, size_t len, char out[65])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[SIGNATURE_SHA256_LEN];
	unsigned int md_len = 0;

	if (EVP_Digest(len > 0 ? data : "", len, md, &md_len, EVP_sha256(), NULL) != 1 ||
	    md_len != sizeof(md))
		fatalx("signature: SHA-256 failed");
	for (size_t i = 0; i < sizeof(md); i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 0x0f];
	}
	out[SIGNATURE_SHA256_HEX] = '\0';
}
