/*
 * request_head: one request head checked line by line (request_head.h).
 */

#include <ctype.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "request_head.h"

void
request_head_reset(struct request_head *h)
{
	memset(h, 0, sizeof(*h));
}

static bool
request_head_is_tchar(unsigned char c)
{
	return isalnum(c) || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* METHOD SP target SP HTTP/1.x */
static int
request_head_request_line(struct request_head *h, const char *line, size_t len, const char **why)
{
	const char *sp1 = memchr(line, ' ', len);
	const char *sp2 = NULL;
	const char *target = NULL;
	const char *version = NULL;
	size_t mlen = 0;
	size_t tlen = 0;
	size_t plen = 0;

	*why = "malformed request line";
	if (sp1 == NULL)
		return 400;
	mlen = (size_t)(sp1 - line);
	sp2 = memchr(sp1 + 1, ' ', len - mlen - 1);
	if (sp2 == NULL || mlen == 0 || mlen > REQUEST_HEAD_METHOD_MAX)
		return 400;
	for (size_t i = 0; i < mlen; i++) {
		if (!request_head_is_tchar((unsigned char)line[i])) {
			*why = "malformed method";
			return 400;
		}
	}
	target = sp1 + 1;
	tlen = (size_t)(sp2 - target);
	if (tlen == 0 || tlen > REQUEST_HEAD_TARGET_MAX) {
		*why = "malformed request target";
		return 400;
	}
	for (size_t i = 0; i < tlen; i++) {
		unsigned char ch = (unsigned char)target[i];

		if (ch <= 0x20 || ch == 0x7f) {
			*why = "malformed request target";
			return 400;
		}
	}
	version = sp2 + 1;
	if ((size_t)(line + len - version) != 8 || strncmp(version, "HTTP/1.", 7) != 0 ||
	    (version[7] != '0' && version[7] != '1')) {
		*why = "only HTTP/1.0 and HTTP/1.1 are served";
		return (size_t)(line + len - version) >= 5 && strncmp(version, "HTTP/", 5) == 0
			       ? 505
			       : 400;
	}
	h->line_seen = true;
	h->http11 = version[7] == '1';
	memcpy(h->method, line, mlen);
	h->method[mlen] = '\0';
	while (plen < tlen && target[plen] != '?')
		plen++;
	if (target[0] == '/' && plen < sizeof(h->path)) {
		memcpy(h->path, target, plen);
		h->path[plen] = '\0';
	}
	return 0;
}

static int
request_head_header_line(struct request_head *h, const char *line, size_t len, const char **why)
{
	const char *colon = memchr(line, ':', len);
	const char *v = NULL;
	size_t nlen = 0;
	size_t vlen = 0;

	if (line[0] == ' ' || line[0] == '\t') {
		*why = "obsolete line folding";
		return 400;
	}
	if (colon == NULL || colon == line) {
		*why = "malformed header line";
		return 400;
	}
	nlen = (size_t)(colon - line);
	for (size_t i = 0; i < nlen; i++) {
		if (!request_head_is_tchar((unsigned char)line[i])) {
			*why = line[i] == ' ' || line[i] == '\t'
				       ? "whitespace before a header colon"
				       : "malformed header name";
			return 400;
		}
	}
	v = colon + 1;
	vlen = len - nlen - 1;
	for (size_t i = 0; i < vlen; i++) {
		unsigned char ch = (unsigned char)v[i];

		if (ch == '\0') {
			*why = "NUL in a header value";
			return 400;
		}
		if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
			*why = "control character in a header value";
			return 400;
		}
	}
	while (vlen > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		vlen--;
	}
	while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
		vlen--;
	if (nlen == 14 && strncasecmp(line, "Content-Length", 14) == 0) {
		size_t n = 0;

		if (h->has_length) {
			*why = "more than one Content-Length";
			return 400;
		}
		if (vlen == 0 || vlen > 15) {
			*why = "malformed Content-Length";
			return 400;
		}
		for (size_t i = 0; i < vlen; i++) {
			if (v[i] < '0' || v[i] > '9') {
				*why = "malformed Content-Length";
				return 400;
			}
			n = n * 10 + (size_t)(v[i] - '0');
		}
		h->has_length = true;
		h->content_length = n;
	} else if (nlen == 17 && strncasecmp(line, "Transfer-Encoding", 17) == 0) {
		h->has_te = true;
	} else if (nlen == 4 && strncasecmp(line, "Host", 4) == 0) {
		h->hosts++;
	}
	return 0;
}

/* The empty line: the whole-head rules. */
static int
request_head_done(const struct request_head *h, const char **why)
{
	if (h->has_te && h->has_length) {
		*why = "both Transfer-Encoding and Content-Length";
		return 400;
	}
	if (h->has_te) {
		*why = "request bodies must have a Content-Length (Transfer-Encoding is not "
		       "served)";
		return 501;
	}
	if (h->hosts > 1) {
		*why = "more than one Host";
		return 400;
	}
	if (h->http11 && h->hosts == 0) {
		*why = "HTTP/1.1 request without Host";
		return 400;
	}
	return 1;
}

int
request_head_line(struct request_head *h, const char *line, size_t len, const char **why_out)
{
	if (memchr(line, '\r', len) != NULL) {
		*why_out = "bare CR in the request head";
		return 400;
	}
	if (!h->line_seen) {
		if (len == 0)
			return 0; /* RFC 9112 2.2: empty lines before the request line */
		return request_head_request_line(h, line, len, why_out);
	}
	if (len == 0)
		return request_head_done(h, why_out);
	return request_head_header_line(h, line, len, why_out);
}
