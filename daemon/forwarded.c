/*
 * forwarded: the client of a request that came through proxies, from every
 * Forwarded (RFC 7239 for=) or X-Forwarded-For line (forwarded.h).
 */

#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "cidr.h"
#include "forwarded.h"

void
forwarded_init(struct forwarded *f, const struct cidr_list *trusted)
{
	memset(f, 0, sizeof(*f));
	f->trusted = trusted;
}

/*
 * One forwarded-chain entry to a bare address in out: strips quotes,
 * brackets and a port ("[2001:db8::1]:4711", "192.0.2.1:80"). Leaves out ""
 * when the entry is no address ("unknown", "_hidden", garbage).
 */
static void
forwarded_hop_address(const char *text, size_t len, char *out, size_t size)
{
	char buf[64];
	char *p = buf;
	char *end = NULL;

	out[0] = '\0';
	while (len > 0 && (*text == ' ' || *text == '\t')) {
		text++;
		len--;
	}
	while (len > 0 && (text[len - 1] == ' ' || text[len - 1] == '\t'))
		len--;
	if (len >= 2 && text[0] == '"' && text[len - 1] == '"') {
		text++;
		len -= 2;
	}
	if (len == 0 || len >= sizeof(buf))
		return;
	memcpy(buf, text, len);
	buf[len] = '\0';
	if (buf[0] == '[') {
		end = strchr(buf, ']');
		if (end == NULL)
			return;
		*end = '\0';
		p = buf + 1;
	} else if (strchr(buf, ':') == strrchr(buf, ':') && strchr(buf, ':') != NULL) {
		*strchr(buf, ':') = '\0'; /* IPv4 with a port */
	}
	if (cidr_is_address(p) && strlen(p) < size)
		memcpy(out, p, strlen(p) + 1);
}

/* The for= value of one Forwarded element ("for=1.2.3.4;proto=https"), or NULL. */
static const char *
forwarded_param(const char *elem, size_t len, const char *name, size_t *vlen_out)
{
	size_t nlen = strlen(name);
	size_t i = 0;

	while (i < len) {
		size_t start;
		size_t end;

		while (i < len && (elem[i] == ' ' || elem[i] == '\t' || elem[i] == ';'))
			i++;
		start = i;
		end = i;
		while (end < len && elem[end] != ';') {
			if (elem[end] == '"') { /* a quoted-string may hold ';' */
				end++;
				while (end < len && elem[end] != '"')
					end += elem[end] == '\\' && end + 1 < len ? 2 : 1;
			}
			if (end < len)
				end++;
		}
		if (end - start > nlen && strncasecmp(elem + start, name, nlen) == 0 &&
		    elem[start + nlen] == '=') {
			*vlen_out = end - start - nlen - 1;
			return elem + start + nlen + 1;
		}
		i = end + 1;
	}
	return NULL;
}

/*
 * Entries in header order; the walk wants right to left, so every entry
 * overwrites the candidate unless it is trusted: the last untrusted one
 * seen is the right-most untrusted.
 */
static void
forwarded_add_hop(struct forwarded *c, const char *text, size_t len)
{
	char addr[64];

	forwarded_hop_address(text, len, addr, sizeof(addr));
	if (c->first[0] == '\0' && !c->bad)
		memcpy(c->first, addr, sizeof(addr));
	if (addr[0] != '\0' && cidr_list_match(c->trusted, addr))
		return;
	memcpy(c->client, addr, sizeof(addr));
	c->found = true;
	c->bad = addr[0] == '\0';
}

void
forwarded_add_xff(struct forwarded *c, const char *v)
{
	while (*v != '\0') {
		size_t n = strcspn(v, ",");

		forwarded_add_hop(c, v, n);
		v += n;
		if (*v == ',')
			v++;
	}
}

void
forwarded_add_rfc7239(struct forwarded *c, const char *v)
{
	while (*v != '\0') {
		size_t n = 0;
		size_t vlen = 0;
		const char *val = NULL;

		while (v[n] != '\0' && v[n] != ',') { /* quoted strings may hold ',' */
			if (v[n] == '"') {
				n++;
				while (v[n] != '\0' && v[n] != '"')
					n += v[n] == '\\' && v[n + 1] != '\0' ? 2 : 1;
			}
			if (v[n] != '\0')
				n++;
		}
		val = forwarded_param(v, n, "for", &vlen);
		forwarded_add_hop(c, val != NULL ? val : "", val != NULL ? vlen : 0);
		val = forwarded_param(v, n, "proto", &vlen);
		if (val != NULL) {
			if (vlen == 5 && strncasecmp(val, "https", 5) == 0)
				memcpy(c->proto, "https", 6);
			else if (vlen == 4 && strncasecmp(val, "http", 4) == 0)
				memcpy(c->proto, "http", 5);
		}
		v += n;
		if (*v == ',')
			v++;
	}
}

/* The answer of one chain: its right-most untrusted entry, or the left-most. */
const char *
forwarded_client(const struct forwarded *c)
{
	if (c->found)
		return c->client;
	return c->first;
}

const char *
forwarded_proto(const struct forwarded *f)
{
	return f->proto;
}
