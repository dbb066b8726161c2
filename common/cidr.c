/*
 * cidr: address lists (cidr.h). An entry keeps the address in IPv6 form
 * (IPv4 as ::ffff:a.b.c.d, its prefix shifted by 96), so one comparison
 * covers both families and IPv4-mapped peers match IPv4 entries.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cidr.h"
#include "num.h"
#include "xmalloc.h"

#define CIDR_TEXT_MAX 64

struct cidr_entry {
	uint8_t addr[16];
	unsigned prefix; /* 0..128 in the IPv6 form */
};

struct cidr_list {
	struct cidr_entry *entries;
	size_t n;
};

/* Text to the 16-byte form; false when it is not an address. */
static bool
cidr_to_v6(const char *text, uint8_t out[16], bool *v4_out)
{
	struct in_addr a4;
	struct in6_addr a6;

	if (inet_pton(AF_INET, text, &a4) == 1) {
		memset(out, 0, 10);
		out[10] = 0xff;
		out[11] = 0xff;
		memcpy(out + 12, &a4, 4);
		*v4_out = true;
		return true;
	}
	if (inet_pton(AF_INET6, text, &a6) == 1) {
		memcpy(out, &a6, 16);
		*v4_out = false;
		return true;
	}
	return false;
}

static bool
cidr_entry_match(const struct cidr_entry *e, const uint8_t addr[16])
{
	unsigned full = e->prefix / 8;
	unsigned rest = e->prefix % 8;

	if (memcmp(e->addr, addr, full) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((e->addr[full] ^ addr[full]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

/* One entry ("10.0.0.0/8"); the host bits must be zero. */
static int
cidr_entry_parse(const char *text, size_t len, struct cidr_entry *e, const char **why_out)
{
	char buf[CIDR_TEXT_MAX];
	char *slash = NULL;
	int64_t prefix = -1;
	bool v4 = false;

	if (len >= sizeof(buf)) {
		*why_out = "entry too long";
		return -EINVAL;
	}
	memcpy(buf, text, len);
	buf[len] = '\0';
	slash = strchr(buf, '/');
	if (slash != NULL) {
		*slash = '\0';
		if (num_parse_i64(slash + 1, 0, 128, &prefix) < 0) {
			*why_out = "bad prefix length";
			return -EINVAL;
		}
	}
	if (!cidr_to_v6(buf, e->addr, &v4)) {
		*why_out = "not an IPv4 or IPv6 address";
		return -EINVAL;
	}
	if (v4 && prefix > 32) {
		*why_out = "IPv4 prefix length over 32";
		return -EINVAL;
	}
	if (prefix < 0)
		prefix = v4 ? 32 : 128;
	e->prefix = (unsigned)prefix + (v4 ? 96 : 0);
	for (unsigned bit = e->prefix; bit < 128; bit++) {
		if (e->addr[bit / 8] & (0x80 >> (bit % 8))) {
			*why_out = "address has bits set beyond the prefix length";
			return -EINVAL;
		}
	}
	return 0;
}

int
cidr_list_parse(const char *text, struct cidr_list **list_out, char **cause_out)
{
	struct cidr_list *l = xcalloc(1, sizeof(*l));
	const char *p = text == NULL ? "" : text;
	const char *why = NULL;

	while (*p != '\0') {
		size_t len = 0;
		struct cidr_entry e;

		while (*p == ',' || *p == ' ' || *p == '\t')
			p++;
		while (p[len] != '\0' && p[len] != ',' && p[len] != ' ' && p[len] != '\t')
			len++;
		if (len == 0)
			continue;
		if (cidr_entry_parse(p, len, &e, &why) < 0) {
			if (cause_out != NULL)
				*cause_out = xasprintf("\"%.*s\": %s", (int)(len > 64 ? 64 : len),
						       p, why);
			cidr_list_free(l);
			return -EINVAL;
		}
		l->entries = xreallocarray(l->entries, l->n + 1, sizeof(*l->entries));
		l->entries[l->n++] = e;
		p += len;
	}
	*list_out = l;
	return 0;
}

void
cidr_list_free(struct cidr_list *list)
{
	if (list == NULL)
		return;
	free(list->entries);
	free(list);
}

size_t
cidr_list_count(const struct cidr_list *list)
{
	return list == NULL ? 0 : list->n;
}

bool
cidr_list_match(const struct cidr_list *list, const char *addr)
{
	uint8_t a[16];
	bool v4 = false;

	if (list == NULL || addr == NULL || !cidr_to_v6(addr, a, &v4))
		return false;
	for (size_t i = 0; i < list->n; i++) {
		if (cidr_entry_match(&list->entries[i], a))
			return true;
	}
	return false;
}

bool
cidr_is_address(const char *addr)
{
	uint8_t a[16];
	bool v4 = false;

	return addr != NULL && cidr_to_v6(addr, a, &v4);
}
