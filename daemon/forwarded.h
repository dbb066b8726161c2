#pragma once

/*
 * forwarded: who sent a request that came through reverse proxies. The
 * caller feeds, in header order, every Forwarded line (RFC 7239: the for=
 * of each element, proto= noted) or every X-Forwarded-For line (comma
 * separated) into one struct forwarded; the client is the right-most entry
 * that is not a trusted proxy, or the left-most when all are trusted. An
 * entry may be an address, [IPv6]:port, IPv4:port or quoted; anything else
 * ("unknown", "_hidden", garbage) deciding the walk makes the client unknown
 * (""), never the entry before it. No I/O, no allocation.
 */

#include <stdbool.h>
#include <stddef.h>

struct cidr_list;

struct forwarded {
	const struct cidr_list *trusted; /* borrowed */
	char client[64];		 /* right-most untrusted so far ("" none or unknown) */
	bool found;			 /* an untrusted entry was seen */
	bool bad;			 /* the deciding entry is no address */
	char first[64];			 /* left-most entry (all trusted: the client) */
	char proto[8];			 /* the last Forwarded proto= ("http"/"https"), or "" */
};

/* trusted may be NULL (no proxy trusted): every entry is then untrusted. */
void forwarded_init(struct forwarded *f, const struct cidr_list *trusted);
/* One X-Forwarded-For value (borrowed for the call). */
void forwarded_add_xff(struct forwarded *f, const char *value);
/* One Forwarded value (borrowed for the call). */
void forwarded_add_rfc7239(struct forwarded *f, const char *value);
/* The client address ("" when unknown); owned by f. */
const char *forwarded_client(const struct forwarded *f);
/* The proto a Forwarded element named, or "". */
const char *forwarded_proto(const struct forwarded *f);
