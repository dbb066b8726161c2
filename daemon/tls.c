/*
 * tls: trhubd's own HTTPS (contract in tls.h).
 *
 * Settings: Mozilla's "intermediate" configuration (server side TLS
 * guidelines, version 5.7): TLS 1.2 and 1.3; for 1.2 the ECDHE and DHE
 * suites with AES-GCM and ChaCha20-Poly1305 (DHE with OpenSSL's built-in
 * ffdhe groups), the client's order preferred, no renegotiation, no
 * compression. TLS 1.3 keeps OpenSSL's suites, which are the ones Mozilla
 * lists. SSL_MODE_RELEASE_BUFFERS: an idle keep-alive connection holds no
 * 34 KB of record buffers.
 */

#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "config.h"
#include "log.h"
#include "tls.h"
#include "xmalloc.h"

/* A PEM private key is a few KB; anything larger is not one. */
#define TLS_KEY_MAX_BYTES (64 * 1024)

#define TLS_CIPHERS_12                                               \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:" \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:" \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:" \
	"DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305"
#define TLS_CIPHERS_13 "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"

struct tls {
	SSL_CTX *ctx; /* for new connections; open ones hold their own reference */
	struct tls_info info;
};

/* The first queued OpenSSL error as text (and the queue cleared), or fallback. */
static void
tls_openssl_error(char *buf, size_t size, const char *fallback)
{
	unsigned long e = ERR_peek_last_error();

	if (e == 0)
		(void)snprintf(buf, size, "%s", fallback);
	else
		ERR_error_string_n(e, buf, size);
	ERR_clear_error();
}

/*
 * Reads the private key file after checking its mode: not readable by every
 * user, not writable by its group or every user (trhub's rule for secret
 * files, common/config.c).
 */
static int
tls_read_key(const char *path, char **data_out, size_t *len_out, char **cause_out)
{
	struct stat st;
	char *data = NULL;
	size_t len = 0;
	int r;

	r = config_read_file(path, TLS_KEY_MAX_BYTES, &data, &len, &st);
	if (r == -EINVAL || r == -EFBIG || (r == 0 && len == 0)) {
		*cause_out = xasprintf("tls_key %s: not a PEM private key file", path);
		r = -EINVAL;
		goto out;
	}
	if (r < 0) {
		*cause_out = xasprintf("tls_key %s: cannot read: %s", path, strerror(-r));
		goto out;
	}
	if ((st.st_mode & (S_IROTH | S_IWOTH | S_IWGRP)) != 0) {
		r = -EACCES;
		*cause_out = xasprintf("tls_key %s: %s; fix with: chmod go-w,o-rwx %s", path,
				       (st.st_mode & S_IROTH) != 0   ? "every user can read it"
				       : (st.st_mode & S_IWOTH) != 0 ? "every user can change it"
								     : "its group can change it",
				       path);
		goto out;
	}
	*data_out = data;
	*len_out = len;
	data = NULL;
out:
	if (data != NULL) {
		explicit_bzero(data, len);
		free(data);
	}
	return r;
}

static void
tls_name_line(const X509_NAME *name, char *buf, size_t size)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p = NULL;
	long n = 0;

	buf[0] = '\0';
	if (b == NULL)
		return;
	if (X509_NAME_print_ex(b, name, 0, XN_FLAG_ONELINE & ~ASN1_STRFLGS_ESC_MSB) >= 0) {
		n = BIO_get_mem_data(b, &p);
		if (n > 0 && p != NULL)
			(void)snprintf(buf, size, "%.*s", (int)n, p);
	}
	BIO_free(b);
}

static time_t
tls_asn1_time(const ASN1_TIME *t)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
		return 0;
	return timegm(&tm);
}

static void
tls_fill_info(X509 *x, int chain_len, struct tls_info *info)
{
	const ASN1_INTEGER *serial = X509_get0_serialNumber(x);
	BIGNUM *bn = serial == NULL ? NULL : ASN1_INTEGER_to_BN(serial, NULL);
	char *hex = bn == NULL ? NULL : BN_bn2hex(bn);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	size_t used = 0;

	memset(info, 0, sizeof(*info));
	tls_name_line(X509_get_subject_name(x), info->subject, sizeof(info->subject));
	tls_name_line(X509_get_issuer_name(x), info->issuer, sizeof(info->issuer));
	(void)snprintf(info->serial, sizeof(info->serial), "%s", hex != NULL ? hex : "?");
	if (X509_digest(x, EVP_sha256(), md, &md_len) == 1) {
		for (unsigned int i = 0; i < md_len && used + 4 < sizeof(info->fingerprint); i++)
			used += (size_t)snprintf(info->fingerprint + used,
						 sizeof(info->fingerprint) - used, "%s%02X",
						 i > 0 ? ":" : "", md[i]);
	}
	info->not_before = tls_asn1_time(X509_get0_notBefore(x));
	info->not_after = tls_asn1_time(X509_get0_notAfter(x));
	info->chain_len = chain_len;
	OPENSSL_free(hex);
	BN_free(bn);
}

/* A configured context for the two files, or NULL with *cause_out. */
static SSL_CTX *
tls_ctx_load(const char *cert_path, const char *key_path, struct tls_info *info, int *err_out,
	     char **cause_out)
{
	SSL_CTX *ctx = NULL;
	BIO *kb = NULL;
	EVP_PKEY *key = NULL;
	STACK_OF(X509) *chain = NULL;
	char *key_data = NULL;
	size_t key_len = 0;
	char why[256];
	int r;

	ERR_clear_error();
	*err_out = -EINVAL;
	r = tls_read_key(key_path, &key_data, &key_len, cause_out);
	if (r < 0) {
		*err_out = r;
		goto fail;
	}
	ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL)
		fatalx("tls: OpenSSL cannot make a context");
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_cipher_list(ctx, TLS_CIPHERS_12) != 1 ||
	    SSL_CTX_set_ciphersuites(ctx, TLS_CIPHERS_13) != 1 || SSL_CTX_set_dh_auto(ctx, 1) != 1)
		fatalx("tls: OpenSSL refuses the intermediate settings");
	(void)SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
	(void)SSL_CTX_clear_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
	(void)SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert_path) != 1) {
		tls_openssl_error(why, sizeof(why), "no certificate");
		*cause_out = xasprintf("tls_cert %s: not a PEM certificate (chain) trhubd can "
				       "read: %s",
				       cert_path, why);
		goto fail;
	}
	kb = BIO_new_mem_buf(key_data, (int)key_len);
	if (kb == NULL)
		fatalx("tls: out of memory");
	key = PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL);
	if (key == NULL) {
		tls_openssl_error(why, sizeof(why), "no private key");
		*cause_out = xasprintf("tls_key %s: not a PEM private key (an encrypted key "
				       "needs a passphrase trhubd does not ask for): %s",
				       key_path, why);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey(ctx, key) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
		ERR_clear_error();
		*cause_out = xasprintf("tls_key %s does not match the certificate in tls_cert %s",
				       key_path, cert_path);
		goto fail;
	}
	if (SSL_CTX_get0_chain_certs(ctx, &chain) != 1)
		chain = NULL;
	tls_fill_info(SSL_CTX_get0_certificate(ctx), 1 + (chain == NULL ? 0 : sk_X509_num(chain)),
		      info);
	*err_out = 0;
	goto out;
fail:
	SSL_CTX_free(ctx);
	ctx = NULL;
out:
	EVP_PKEY_free(key);
	BIO_free(kb);
	if (key_data != NULL) {
		explicit_bzero(key_data, key_len);
		free(key_data);
	}
	ERR_clear_error();
	return ctx;
}

static void
tls_warn_validity(const struct tls_info *info, const char *cert_path)
{
	time_t now = time(NULL);

	if (info->not_after != 0 && info->not_after < now)
		log_warning("tls_cert %s: the certificate expired %lld days ago; clients will "
			    "refuse it",
			    cert_path, (long long)((now - info->not_after) / 86400));
	else if (info->not_before > now)
		log_warning("tls_cert %s: the certificate is not valid yet", cert_path);
	else if (info->not_after != 0 && info->not_after - now < 14 * 86400)
		log_warning("tls_cert %s: the certificate expires in %lld days", cert_path,
			    (long long)((info->not_after - now) / 86400));
}

int
tls_new(const char *cert_path, const char *key_path, struct tls **tls_out, char **cause_out)
{
	struct tls *t = xcalloc(1, sizeof(*t));
	int r = 0;

	t->ctx = tls_ctx_load(cert_path, key_path, &t->info, &r, cause_out);
	if (t->ctx == NULL) {
		free(t);
		return r;
	}
	tls_warn_validity(&t->info, cert_path);
	*tls_out = t;
	return 0;
}

int
tls_reload(struct tls *t, const char *cert_path, const char *key_path, char **cause_out)
{
	struct tls_info info;
	SSL_CTX *ctx = NULL;
	int r = 0;

	ctx = tls_ctx_load(cert_path, key_path, &info, &r, cause_out);
	if (ctx == NULL)
		return r;
	SSL_CTX_free(t->ctx); /* open connections hold their own reference */
	t->ctx = ctx;
	t->info = info;
	tls_warn_validity(&t->info, cert_path);
	return 0;
}

const struct tls_info *
tls_current(const struct tls *t)
{
	return &t->info;
}

struct bufferevent *
tls_bufferevent_new(struct tls *t, struct event_base *base)
{
	SSL *ssl = SSL_new(t->ctx);
	struct bufferevent *bev = NULL;

	if (ssl == NULL)
		fatalx("tls: cannot make a connection's TLS state");
	bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
					     BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL)
		fatalx("tls: cannot make a connection's TLS bufferevent");
	/* A client that closes without close_notify has ended, not failed. */
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}

bool
tls_bufferevent_is_open(struct bufferevent *bev)
{
	SSL *ssl = bufferevent_openssl_get_ssl(bev);

	return ssl != NULL && SSL_is_init_finished(ssl) == 1;
}

void
tls_free(struct tls *t)
{
	if (t == NULL)
		return;
	SSL_CTX_free(t->ctx);
	free(t);
}

int
tls_check_files(const char *cert_path, const char *key_path, struct tls_info *info,
		char **cause_out)
{
	SSL_CTX *ctx = NULL;
	int r = 0;

	ctx = tls_ctx_load(cert_path, key_path, info, &r, cause_out);
	SSL_CTX_free(ctx);
	return r;
}

void
tls_info_format(const struct tls_info *info, char *buf, size_t size)
{
	char until[32] = "?";
	struct tm tm;

	if (info->not_after != 0 && gmtime_r(&info->not_after, &tm) != NULL)
		(void)strftime(until, sizeof(until), "%Y-%m-%d %H:%M UTC", &tm);
	(void)snprintf(buf, size, "%s, serial %s, SHA-256 %s, valid until %s", info->subject,
		       info->serial, info->fingerprint, until);
}
