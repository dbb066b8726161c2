#pragma once

/*
 * cidr: lists of IP addresses and networks ("127.0.0.1, 10.0.0.0/8,
 * ::1, fd00::/8"), as configured for trusted_proxies, and matching an
 * address given as text against them. IPv4-mapped IPv6 addresses
 * (::ffff:10.1.2.3) match IPv4 entries.
 */

#include <stdbool.h>
#include <stddef.h>

struct cidr_list;

/*
 * Parses a list separated by commas and/or blanks; an empty or blank text is
 * an empty list. Each entry is an address (a host: /32 or /128) or
 * address/prefix. On success *list_out is a new list the caller frees with
 * cidr_list_free. Returns 0, or -EINVAL with an allocated message naming
 * the entry in *cause_out (when cause_out is not NULL).
 */
int cidr_list_parse(const char *text, struct cidr_list **list_out, char **cause_out);
void cidr_list_free(struct cidr_list *list);
/* Entries in the list (0 for NULL). */
size_t cidr_list_count(const struct cidr_list *list);
/* True when addr (IPv4 or IPv6 text, no brackets or port) is in one of the entries. */
bool cidr_list_match(const struct cidr_list *list, const char *addr);
/* True when addr is IPv4 or IPv6 text (no brackets or port). */
bool cidr_is_address(const char *addr);
