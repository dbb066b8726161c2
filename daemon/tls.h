#pragma once

/*
 * tls: trhubd's own HTTPS (tls_cert, tls_key). The one daemon module that
 * touches OpenSSL's TLS API and libevent_openssl (STYLE.md 2): it loads a
 * certificate chain and its private key into a server context with
 * Mozilla's "intermediate" settings (TLS 1.2 and 1.3 only; for TLS 1.2
 * only ECDHE/DHE key exchange with AES-GCM or ChaCha20-Poly1305), makes the
 * OpenSSL bufferevent that sits under each connection's front-door filter
 * (server.c), and reloads the files on SIGHUP: a new context replaces the
 * old one only once it loaded completely, so bad new files leave the
 * running certificate in place. Connections already open keep the context
 * they started with (OpenSSL counts its references).
 *
 * The private key file is refused when every user may read it or when its
 * group or every user may change it, as trhub's other secret files are.
 */

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

struct bufferevent;
struct event_base;
struct tls;

/* What a certificate says, for log lines and trhubd --doctor. */
struct tls_info {
	char subject[256];     /* "CN=hub.example.com" (one line) */
	char issuer[256];      /* "CN=Example CA" */
	char serial[80];       /* upper-case hex, no separators */
	char fingerprint[100]; /* SHA-256, colon-separated upper-case hex */
	time_t not_before;
	time_t not_after;
	int chain_len; /* certificates in the file, leaf included */
};

/*
 * Loads cert_path (PEM: the certificate, then its intermediates) and
 * key_path (PEM private key) into a new context. Returns 0 with *tls_out
 * (owned by the caller, tls_free), or a negative errno with an allocated
 * *cause_out naming the file and what is wrong with it.
 */
int tls_new(const char *cert_path, const char *key_path, struct tls **tls_out, char **cause_out);

/*
 * Loads the files again (SIGHUP; the paths may be new) and, only when they
 * load and match, makes them the context of new connections. On failure
 * returns a negative errno with an allocated *cause_out and changes
 * nothing.
 */
int tls_reload(struct tls *t, const char *cert_path, const char *key_path, char **cause_out);

/* The certificate new connections get (borrowed from t). */
const struct tls_info *tls_current(const struct tls *t);

/*
 * A server-side OpenSSL bufferevent for a connection whose socket is set
 * later (evhttp sets it through the filter above it), with the current
 * context. Freeing it closes the socket. Aborts on allocation failure.
 */
struct bufferevent *tls_bufferevent_new(struct tls *t, struct event_base *base);

/* True once the bufferevent's handshake is complete. */
bool tls_bufferevent_is_open(struct bufferevent *bev);

/* Frees the context (connections keep theirs alive). NULL-safe. */
void tls_free(struct tls *t);

/*
 * For trhubd --doctor: loads the two files as tls_new would, fills *info
 * and frees everything. Returns 0, or a negative errno with *cause_out.
 */
int tls_check_files(const char *cert_path, const char *key_path, struct tls_info *info,
		    char **cause_out);

/* "CN=x, serial 1F, SHA-256 AB:..., valid until 2027-12-06 07:00 UTC" into buf. */
void tls_info_format(const struct tls_info *info, char *buf, size_t size);
