#pragma once

/*
 * loopback: the one answer to "is this host this machine?", used wherever
 * trhub decides on it: config validation of the Twilio base URLs, the HTTP
 * client's plain-http rule (http.c, twilio.c) and trhubd's local-only
 * routes (server.c, on the peer address).
 *
 * A loopback host is "localhost" (any case), an IPv4 address in
 * 127.0.0.0/8, the IPv6 address ::1, or an IPv4-mapped IPv6 address
 * ::ffff:127.x.y.z; IPv6 may be written in brackets. Nothing is resolved:
 * "127.example.com" is a name, not a loopback address.
 */

#include <stdbool.h>

/* Why plain http to host was refused: the same words from config and from the client. */
#define LOOPBACK_HTTP_REFUSED \
	"http:// is only allowed to a loopback host (the emulator); use https://"

/* True when host (text without a port) names this machine. NULL: false. */
bool loopback_is_host(const char *host);
