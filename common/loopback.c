/*
 * loopback: the loopback-host predicate (loopback.h).
 */

#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "loopback.h"

/* Longest host text worth looking at: an IPv6 address in brackets, or "localhost". */
#define LOOPBACK_HOST_MAX 64

bool
loopback_is_host(const char *host)
{
	char text[LOOPBACK_HOST_MAX];
	struct in_addr a4;
	struct in6_addr a6;
	size_t len = host != NULL ? strlen(host) : 0;

	if (len == 0 || len >= sizeof(text))
		return false;
	if (host[0] == '[') {
		if (len < 2 || host[len - 1] != ']')
			return false;
		host++;
		len -= 2;
	}
	memcpy(text, host, len);
	text[len] = '\0';
	if (strcasecmp(text, "localhost") == 0)
		return true;
	if (inet_pton(AF_INET, text, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, text, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6) ||
		       (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
	return false;
}
