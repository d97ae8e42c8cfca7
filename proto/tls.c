/*
 * tls.c: the sans-I/O TLS channel.
 *
 * wolfSSL does the protocol; this file gives it memory buffers instead of a
 * socket, decides the policy (versions, suites, groups, ALPN, verification,
 * pins) and turns wolfSSL's error codes into sentences.
 *
 * I/O.  The receive callback drains the channel's input buffer and returns
 * WOLFSSL_CBIO_ERR_WANT_READ when it is empty (never 0, which wolfSSL would
 * read as a closed connection), or WOLFSSL_CBIO_ERR_CONN_CLOSE after the
 * caller fed EOF.  The send callback appends to the output buffer and always
 * reports the whole write done, so wolfSSL never sees WANT_WRITE and never
 * has to retry a write with the same buffer.  Both buffers are freed as
 * soon as they are empty: an idle channel holds none.
 *
 * Verification.  This wolfSSL build has OpenSSL-compatible defaults, under
 * which a new context verifies nothing, so every context sets its verify
 * mode explicitly.  The verify callback runs for every certificate of the
 * chain (WOLFSSL_ALWAYS_VERIFY_CB, WOLFSSL_VERIFY_CB_ALL_CERTS): it reports
 * each to the trace, records why verification failed, and at depth 0 on a
 * client adds our own checks: the IP address check and the pins.  IP
 * addresses are compared as bytes against the certificate's iPAddress
 * names, here, because in 5.5.4 wolfSSL_check_domain_name compares text
 * (127.0.0.1 works, ::1 never matches) and wolfSSL_X509_VERIFY_PARAM_
 * set1_ip_asc is accepted but not enforced during the handshake (measured:
 * 127.0.0.2 passed).
 * Returning 0 from it fails the handshake before the client sends its
 * Finished, so a pin mismatch never lets application data through.
 */

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/error-ssl.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/chacha20_poly1305.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/ed25519.h>
#include <wolfssl/wolfcrypt/error-crypt.h>
#include <wolfssl/wolfcrypt/random.h>
#include <wolfssl/wolfcrypt/rsa.h>
#include <wolfssl/wolfcrypt/sha256.h>

#include <arpa/inet.h>

#include <ctype.h>
#include <sys/random.h>

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tls.h"

/* Largest certificate, key or CA file we read: 1 MiB is a lot of PEM. */
#define TLS_FILE_MAX		(1024 * 1024)

/* Largest DER object (key or SPKI) we derive from a key. */
#define TLS_DER_MAX		4096

/* Output buffer: first allocation, enough for a handshake flight. */
#define TLS_OUT_MIN		4096

/* Plaintext per wolfSSL_write call: one full record. */
#define TLS_WRITE_CHUNK		16384

/* Upper bound of a ticket lifetime (RFC 8446 4.6.1). */
#define TLS_TICKET_LIFETIME_MAX	604800

/* Pins are SHA-256 hashes. */
#define TLS_PIN_LEN		WC_SHA256_DIGEST_SIZE

struct tls_ctx {
	WOLFSSL_CTX *wctx;
	atomic_int refs;
	int server;
	int min_version;		/* 12 or 13 */
	char *alpn;			/* NULL: none; non-const for wolfSSL */
	unsigned char (*pins)[TLS_PIN_LEN];
	size_t npins;
	/* Server: the session ticket keys (see tls_ticket_cb); 0 seals. */
	struct tls_ticket_key {
		unsigned char key[CHACHA20_POLY1305_AEAD_KEYSIZE];
		unsigned char name[WOLFSSL_TICKET_NAME_SZ];
	} ticket_keys[TLS_TICKET_KEYS_MAX];
	size_t nticket_keys;
	/* Server: the groups it accepts, IANA ids (see tls_hello_check). */
	int group_ids[4];
	size_t ngroup_ids;
	/* Client: what the ClientHello offers, for the trace. */
	char *offer;
	int has_client_cert;
	void (*trace)(void *, const char *, const char *);
	void *trace_arg;
};

struct tls_chan {
	struct tls_ctx *ctx;
	WOLFSSL *ssl;

	/* Input: bytes [in_off, in_end) of in (in_cap bytes) are unread. */
	unsigned char *in;
	size_t in_off, in_end, in_cap;

	/* Output: out_len bytes of out (out_cap bytes) await the caller. */
	unsigned char *out;
	size_t out_len, out_cap;

	char *server_name;		/* client: name to verify */
	unsigned char ip[16];		/* client: server_name as an address */
	size_t iplen;			/* 4, 16, or 0 for a DNS name */

	char *err;			/* why the channel failed */

	unsigned int eof : 1;		/* caller fed EOF */
	unsigned int done : 1;		/* handshake complete */
	unsigned int closed : 1;	/* peer closed (close_notify or EOF) */
	unsigned int failed : 1;	/* fatal error; err says why */
	unsigned int sent_close : 1;	/* we queued close_notify */
	unsigned int offered : 1;	/* client: offer traced */
	unsigned int leaf_ok : 1;	/* client: leaf passed name and pins */
	unsigned int reserved : 1;	/* input_reserve awaits its commit */
	unsigned int hello_checked : 1;	/* server: ClientHello pre-checked */
};

/*
 * The cipher suites we allow: AEAD with ephemeral key exchange only.  This
 * build also has NULL, RC4 and CBC suites; a whitelist keeps a typo or a
 * copied OpenSSL string from enabling them.
 */
static const struct tls_suite {
	const char *iana;
	const char *wolf;
	int tls13;
} tls_suites[] = {
	{ "TLS_CHACHA20_POLY1305_SHA256", "TLS13-CHACHA20-POLY1305-SHA256", 1 },
	{ "TLS_AES_128_GCM_SHA256", "TLS13-AES128-GCM-SHA256", 1 },
	{ "TLS_AES_256_GCM_SHA384", "TLS13-AES256-GCM-SHA384", 1 },
	{ "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
	    "ECDHE-ECDSA-CHACHA20-POLY1305", 0 },
	{ "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
	    "ECDHE-RSA-CHACHA20-POLY1305", 0 },
	{ "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
	    "ECDHE-ECDSA-AES128-GCM-SHA256", 0 },
	{ "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
	    "ECDHE-RSA-AES128-GCM-SHA256", 0 },
	{ "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
	    "ECDHE-ECDSA-AES256-GCM-SHA384", 0 },
	{ "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
	    "ECDHE-RSA-AES256-GCM-SHA384", 0 },
};

static const struct tls_group {
	const char *name;
	const char *alias1;
	const char *alias2;
	int id;
	const char *wolf;		/* what wolfSSL_get_curve_name says */
} tls_groups[] = {
	{ "x25519", "X25519", NULL, WOLFSSL_ECC_X25519, "X25519" },
	{ "p256", "secp256r1", "prime256v1", WOLFSSL_ECC_SECP256R1,
	    "SECP256R1" },
	{ "p384", "secp384r1", NULL, WOLFSSL_ECC_SECP384R1, "SECP384R1" },
	{ "p521", "secp521r1", NULL, WOLFSSL_ECC_SECP521R1, "SECP521R1" },
};

#define TLS_MAX_GROUPS	(sizeof(tls_groups) / sizeof(tls_groups[0]))

static pthread_once_t tls_once = PTHREAD_ONCE_INIT;
static int tls_init_rc = -1;

/* ---- small helpers ---- */

static void tls_errf(char *, size_t, const char *, ...)
    __attribute__((format(printf, 3, 4)));

static void
tls_errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Wipe memory that held keys or secrets; the compiler may not elide it. */
static void
tls_wipe(void *p, size_t len)
{

	if (p != NULL && len > 0)
		explicit_bzero(p, len);
}

static void
tls_hex(const unsigned char *p, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 0x0f];
	}
	out[2 * len] = '\0';
}

/* SHA-256 of buf as lowercase hex into out[TLS_SHA256_HEX_LEN]. */
static int
tls_sha256_hex(const unsigned char *buf, size_t len, char *out)
{
	unsigned char md[WC_SHA256_DIGEST_SIZE];

	if (len > UINT32_MAX || wc_Sha256Hash(buf, (word32)len, md) != 0) {
		out[0] = '\0';
		return (-1);
	}
	tls_hex(md, sizeof(md), out);
	return (0);
}

/*
 * Append src to dst (size dstsz, NUL-terminated), escaping bytes that are
 * not printable ASCII as \xHH, so peer-supplied names are safe in logs.
 */
static void
tls_append_escaped(char *dst, size_t dstsz, const unsigned char *src,
    size_t len)
{
	size_t n = strlen(dst);
	size_t i;

	for (i = 0; i < len && n + 1 < dstsz; i++) {
		if (src[i] >= 0x20 && src[i] < 0x7f && src[i] != '\\') {
			dst[n++] = (char)src[i];
		} else {
			if (n + 5 > dstsz)
				break;
			snprintf(&dst[n], 5, "\\x%02x", src[i]);
			n += 4;
		}
	}
	dst[n] = '\0';
}

/* ---- a minimal DER reader, for what wolfSSL does not hand out ---- */

/*
 * Read the TLV at *pp (before end): its tag, value and value length; move
 * *pp past it.  Single-byte tags and lengths up to 2^32 only, which covers
 * X.509.  Returns 0, or -1 if malformed.
 */
static int
tls_der_next(const unsigned char **pp, const unsigned char *end,
    unsigned int *tag, const unsigned char **val, size_t *len)
{
	const unsigned char *p = *pp;
	size_t l, n;

	if (end - p < 2)
		return (-1);
	*tag = *p++;
	if ((*tag & 0x1f) == 0x1f)
		return (-1);
	l = *p++;
	if (l & 0x80) {
		n = l & 0x7f;
		if (n == 0 || n > 4 || (size_t)(end - p) < n)
			return (-1);
		for (l = 0; n > 0; n--)
			l = (l << 8) | *p++;
	}
	if ((size_t)(end - p) < l)
		return (-1);
	*val = p;
	*len = l;
	*pp = p + l;
	return (0);
}

/* The parts of a DER certificate this file needs. */
struct tls_cert_parts {
	const unsigned char *serial;	/* INTEGER content */
	size_t seriallen;
	const unsigned char *issuer;	/* Name content (RDNs) */
	size_t issuerlen;
	const unsigned char *subject;
	size_t subjectlen;
	const unsigned char *spki;	/* whole SubjectPublicKeyInfo TLV */
	size_t spkilen;
	const unsigned char *exts;	/* content of the Extensions SEQUENCE */
	size_t extslen;			/* 0 if there are none */
};

static int
tls_cert_parse(const unsigned char *der, size_t derlen,
    struct tls_cert_parts *parts)
{
	const unsigned char *p = der, *end = der + derlen;
	const unsigned char *v, *tbs, *tend, *start;
	unsigned int tag;
	size_t len;

	memset(parts, 0, sizeof(*parts));

	/* Certificate ::= SEQUENCE { tbsCertificate, ... } */
	if (tls_der_next(&p, end, &tag, &v, &len) || tag != 0x30)
		return (-1);
	p = v;
	end = v + len;
	if (tls_der_next(&p, end, &tag, &tbs, &len) || tag != 0x30)
		return (-1);
	p = tbs;
	tend = tbs + len;

	/* [0] version (optional), serial, signature, issuer, validity, subject */
	if (tls_der_next(&p, tend, &tag, &v, &len))
		return (-1);
	if (tag == 0xa0 && tls_der_next(&p, tend, &tag, &v, &len))
		return (-1);
	if (tag != 0x02)
		return (-1);
	parts->serial = v;
	parts->seriallen = len;
	if (tls_der_next(&p, tend, &tag, &v, &len) || tag != 0x30)
		return (-1);
	if (tls_der_next(&p, tend, &tag, &v, &len) || tag != 0x30)
		return (-1);
	parts->issuer = v;
	parts->issuerlen = len;
	if (tls_der_next(&p, tend, &tag, &v, &len) || tag != 0x30)
		return (-1);
	if (tls_der_next(&p, tend, &tag, &v, &len) || tag != 0x30)
		return (-1);
	parts->subject = v;
	parts->subjectlen = len;

	start = p;
	if (tls_der_next(&p, tend, &tag, &v, &len) || tag != 0x30)
		return (-1);
	parts->spki = start;
	parts->spkilen = (size_t)(p - start);

	/* Then [1] and [2] unique IDs (optional) and [3] extensions. */
	while (p < tend) {
		if (tls_der_next(&p, tend, &tag, &v, &len))
			return (-1);
		if (tag == 0xa3) {
			const unsigned char *q = v;

			if (tls_der_next(&q, v + len, &tag, &v, &len) ||
			    tag != 0x30)
				return (-1);
			parts->exts = v;
			parts->extslen = len;
		}
	}
	return (0);
}

/* An OID's content in dotted form ("2.5.4.3"). */
static void
tls_der_oid(const unsigned char *p, size_t len, char *out, size_t outsz)
{
	unsigned long arc = 0;
	size_t i, n;
	int first = 1;

	out[0] = '\0';
	for (i = 0; i < len; i++) {
		if (arc > (ULONG_MAX >> 7))
			return;
		arc = (arc << 7) | (p[i] & 0x7f);
		if (p[i] & 0x80)
			continue;
		n = strlen(out);
		if (first) {
			snprintf(out + n, outsz - n, "%lu.%lu",
			    arc < 80 ? arc / 40 : 2, arc < 80 ? arc % 40 :
			    arc - 80);
			first = 0;
		} else {
			snprintf(out + n, outsz - n, ".%lu", arc);
		}
		arc = 0;
	}
}

/* The usual short name of a naming attribute, or NULL. */
static const char *
tls_attr_name(const unsigned char *oid, size_t len)
{
	static const unsigned char email[] = { 0x2a, 0x86, 0x48, 0x86, 0xf7,
	    0x0d, 0x01, 0x09, 0x01 };
	static const unsigned char dc[] = { 0x09, 0x92, 0x26, 0x89, 0x93,
	    0xf2, 0x2c, 0x64, 0x01, 0x19 };
	static const unsigned char uid[] = { 0x09, 0x92, 0x26, 0x89, 0x93,
	    0xf2, 0x2c, 0x64, 0x01, 0x01 };

	/* id-at (2.5.4.x) */
	if (len == 3 && oid[0] == 0x55 && oid[1] == 0x04) {
		switch (oid[2]) {
		case 3: return ("CN");
		case 4: return ("SN");
		case 5: return ("serialNumber");
		case 6: return ("C");
		case 7: return ("L");
		case 8: return ("ST");
		case 9: return ("street");
		case 10: return ("O");
		case 11: return ("OU");
		case 12: return ("title");
		case 42: return ("GN");
		}
		return (NULL);
	}
	if (len == sizeof(email) && memcmp(oid, email, len) == 0)
		return ("emailAddress");
	if (len == sizeof(dc) && memcmp(oid, dc, len) == 0)
		return ("DC");
	if (len == sizeof(uid) && memcmp(oid, uid, len) == 0)
		return ("UID");
	return (NULL);
}

/*
 * A Name (the RDNs inside its SEQUENCE) as one line, in encoding order:
 * "O=secd development, CN=AAA".  Values are escaped for logs.
 */
static void
tls_der_name(const unsigned char *p, size_t len, char *out, size_t outsz)
{
	const unsigned char *end = p + len, *set, *send, *atv, *aend;
	const unsigned char *oid, *val;
	const char *name;
	char dotted[64];
	unsigned int tag;
	size_t l, oidlen, vallen;

	out[0] = '\0';
	while (p < end) {
		if (tls_der_next(&p, end, &tag, &set, &l) || tag != 0x31)
			return;
		send = set + l;
		while (set < send) {
			if (tls_der_next(&set, send, &tag, &atv, &l) ||
			    tag != 0x30)
				return;
			aend = atv + l;
			if (tls_der_next(&atv, aend, &tag, &oid, &oidlen) ||
			    tag != 0x06 ||
			    tls_der_next(&atv, aend, &tag, &val, &vallen))
				return;
			if ((name = tls_attr_name(oid, oidlen)) == NULL) {
				tls_der_oid(oid, oidlen, dotted,
				    sizeof(dotted));
				name = dotted;
			}
			if (out[0] != '\0')
				strncat(out, ", ", outsz - strlen(out) - 1);
			strncat(out, name, outsz - strlen(out) - 1);
			strncat(out, "=", outsz - strlen(out) - 1);
			tls_append_escaped(out, outsz, val, vallen);
		}
	}
}

/*
 * Does the certificate's subjectAltName list the address ip (4 or 16
 * bytes)?  Returns 1 if it does, 0 if not, -1 if the DER is malformed.
 */
static int
tls_cert_has_ip(const unsigned char *der, size_t derlen,
    const unsigned char *ip, size_t iplen)
{
	static const unsigned char san_oid[] = { 0x55, 0x1d, 0x11 };
	struct tls_cert_parts parts;
	const unsigned char *p, *end, *ext, *eend, *v, *g, *gend;
	unsigned int tag;
	size_t len;

	if (tls_cert_parse(der, derlen, &parts))
		return (-1);
	p = parts.exts;
	end = parts.exts + parts.extslen;
	while (p != NULL && p < end) {
		/* Extension ::= SEQUENCE { extnID, critical?, extnValue } */
		if (tls_der_next(&p, end, &tag, &ext, &len) || tag != 0x30)
			return (-1);
		eend = ext + len;
		if (tls_der_next(&ext, eend, &tag, &v, &len) || tag != 0x06)
			return (-1);
		if (len != sizeof(san_oid) || memcmp(v, san_oid, len) != 0)
			continue;
		if (tls_der_next(&ext, eend, &tag, &v, &len))
			return (-1);
		if (tag == 0x01 && tls_der_next(&ext, eend, &tag, &v, &len))
			return (-1);
		if (tag != 0x04)
			return (-1);

		/* GeneralNames ::= SEQUENCE OF GeneralName; [7] iPAddress */
		g = v;
		if (tls_der_next(&g, v + len, &tag, &v, &len) || tag != 0x30)
			return (-1);
		g = v;
		gend = v + len;
		while (g < gend) {
			if (tls_der_next(&g, gend, &tag, &v, &len))
				return (-1);
			if (tag == 0x87 && len == iplen &&
			    memcmp(v, ip, iplen) == 0)
				return (1);
		}
	}
	return (0);
}

/* A name for the key in an SPKI, from its algorithm OID (and curve). */
static const char *
tls_spki_key_type(const unsigned char *spki, size_t spkilen)
{
	static const unsigned char ed25519[] = { 0x2b, 0x65, 0x70 };
	static const unsigned char ed448[] = { 0x2b, 0x65, 0x71 };
	static const unsigned char rsa[] = { 0x2a, 0x86, 0x48, 0x86, 0xf7,
	    0x0d, 0x01, 0x01, 0x01 };
	static const unsigned char ec[] = { 0x2a, 0x86, 0x48, 0xce, 0x3d,
	    0x02, 0x01 };
	static const unsigned char p256[] = { 0x2a, 0x86, 0x48, 0xce, 0x3d,
	    0x03, 0x01, 0x07 };
	static const unsigned char p384[] = { 0x2b, 0x81, 0x04, 0x00, 0x22 };
	static const unsigned char p521[] = { 0x2b, 0x81, 0x04, 0x00, 0x23 };
	const unsigned char *p = spki, *end = spki + spkilen, *v, *alg, *aend;
	unsigned int tag;
	size_t len;

#define TLS_OID_IS(o) (len == sizeof(o) && memcmp(v, (o), len) == 0)
	if (tls_der_next(&p, end, &tag, &v, &len) || tag != 0x30)
		return ("unknown");
	p = v;
	if (tls_der_next(&p, v + len, &tag, &alg, &len) || tag != 0x30)
		return ("unknown");
	aend = alg + len;
	if (tls_der_next(&alg, aend, &tag, &v, &len) || tag != 0x06)
		return ("unknown");
	if (TLS_OID_IS(ed25519))
		return ("ed25519");
	if (TLS_OID_IS(ed448))
		return ("ed448");
	if (TLS_OID_IS(rsa))
		return ("rsa");
	if (TLS_OID_IS(ec)) {
		if (tls_der_next(&alg, aend, &tag, &v, &len) || tag != 0x06)
			return ("ecdsa");
		if (TLS_OID_IS(p256))
			return ("ecdsa-p256");
		if (TLS_OID_IS(p384))
			return ("ecdsa-p384");
		if (TLS_OID_IS(p521))
			return ("ecdsa-p521");
		return ("ecdsa");
	}
#undef TLS_OID_IS
	return ("unknown");
}

/* ---- files, PEM and keys ---- */

/*
 * Read the file at path into a malloc'd, NUL-terminated buffer.  what says
 * what the file is for the error message ("certificate chain").
 */
static int
tls_read_file(const char *path, const char *what, unsigned char **buf,
    size_t *len, char *err, size_t errlen)
{
	FILE *f;
	unsigned char *b;
	size_t n;

	if (path == NULL || path[0] == '\0') {
		tls_errf(err, errlen, "no %s file given", what);
		goto err0;
	}
	if ((f = fopen(path, "rbe")) == NULL) {
		tls_errf(err, errlen, "cannot read %s %s: %s", what, path,
		    strerror(errno));
		goto err0;
	}
	if ((b = malloc(TLS_FILE_MAX + 1)) == NULL) {
		tls_errf(err, errlen, "cannot read %s %s: out of memory", what,
		    path);
		goto err1;
	}
	n = fread(b, 1, TLS_FILE_MAX + 1, f);
	if (ferror(f)) {
		tls_errf(err, errlen, "cannot read %s %s: %s", what, path,
		    strerror(errno));
		goto err2;
	}
	if (n > TLS_FILE_MAX) {
		tls_errf(err, errlen, "cannot read %s %s: larger than %d bytes",
		    what, path, TLS_FILE_MAX);
		goto err2;
	}
	if (n == 0) {
		tls_errf(err, errlen, "cannot read %s %s: file is empty", what,
		    path);
		goto err2;
	}
	b[n] = '\0';
	fclose(f);
	*buf = b;
	*len = n;

	/* Success! */
	return (0);

err2:
	tls_wipe(b, TLS_FILE_MAX + 1);
	free(b);
err1:
	fclose(f);
err0:
	/* Failure! */
	return (-1);
}

static void
tls_free_file(unsigned char *buf, size_t len)
{

	tls_wipe(buf, len + 1);
	free(buf);
}

/* The label of the first PEM block in buf ("CERTIFICATE"), or NULL. */
static int
tls_pem_label(const unsigned char *buf, char *label, size_t labelsz)
{
	const char *p, *e;

	if ((p = strstr((const char *)buf, "-----BEGIN ")) == NULL)
		return (-1);
	p += strlen("-----BEGIN ");
	if ((e = strstr(p, "-----")) == NULL || (size_t)(e - p) >= labelsz)
		return (-1);
	memcpy(label, p, (size_t)(e - p));
	label[e - p] = '\0';
	return (0);
}

/*
 * The SubjectPublicKeyInfo of a private key given as DER (PKCS#8, or the
 * traditional SEC1 / PKCS#1 forms): Ed25519, ECDSA or RSA.  Writes it to
 * spki (spkisz bytes) and returns its length, or -1.
 */
static int
tls_key_spki(const unsigned char *der, size_t derlen, unsigned char *spki,
    size_t spkisz)
{
	/* SEQUENCE { SEQUENCE { id-Ed25519 }, BIT STRING (33 bytes) } */
	static const unsigned char ed_prefix[] = { 0x30, 0x2a, 0x30, 0x05,
	    0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00 };
	unsigned char buf[TLS_DER_MAX];
	ed25519_key ed;
	ecc_key ecc;
	RsaKey rsa;
	word32 idx, trad;
	int rc, len = -1;

	if (derlen > sizeof(buf) || spkisz < sizeof(ed_prefix) + 32)
		return (-1);

	/* Ed25519 keys only come as PKCS#8. */
	if (wc_ed25519_init(&ed) == 0) {
		idx = 0;
		if (wc_Ed25519PrivateKeyDecode(der, &idx, &ed,
		    (word32)derlen) == 0 &&
		    wc_ed25519_make_public(&ed, spki + sizeof(ed_prefix),
		    ED25519_PUB_KEY_SIZE) == 0) {
			memcpy(spki, ed_prefix, sizeof(ed_prefix));
			len = (int)sizeof(ed_prefix) + ED25519_PUB_KEY_SIZE;
		}
		wc_ed25519_free(&ed);
		tls_wipe(&ed, sizeof(ed));
		if (len > 0)
			return (len);
	}

	/* Unwrap PKCS#8 if it is that, for the ECC and RSA decoders. */
	memcpy(buf, der, derlen);
	idx = 0;
	if ((rc = wc_GetPkcs8TraditionalOffset(buf, &idx,
	    (word32)derlen)) < 0)
		idx = 0;
	trad = idx;

	if (wc_ecc_init(&ecc) == 0) {
		idx = trad;
		if (wc_EccPrivateKeyDecode(buf, &idx, &ecc,
		    (word32)derlen) == 0 &&
		    wc_ecc_make_pub(&ecc, NULL) == 0)
			len = wc_EccPublicKeyToDer(&ecc, spki, (word32)spkisz,
			    1);
		wc_ecc_free(&ecc);
		tls_wipe(&ecc, sizeof(ecc));
		if (len > 0)
			goto done;
	}

	if (wc_InitRsaKey(&rsa, NULL) == 0) {
		idx = trad;
		if (wc_RsaPrivateKeyDecode(buf, &idx, &rsa,
		    (word32)derlen) == 0)
			len = wc_RsaKeyToPublicDer(&rsa, spki, (word32)spkisz);
		wc_FreeRsaKey(&rsa);
		tls_wipe(&rsa, sizeof(rsa));
	}

done:
	tls_wipe(buf, sizeof(buf));
	return (len > 0 ? len : -1);
}

/*
 * The SPKI (and, for a certificate, the certificate DER) of the first PEM
 * object in buf: CERTIFICATE, PUBLIC KEY, or a private key.  *spki and
 * *cert are malloc'd; *cert is NULL for keys.
 */
static int
tls_pem_spki(const unsigned char *buf, size_t len, const char *path,
    unsigned char **spki, size_t *spkilen, unsigned char **cert,
    size_t *certlen, char *err, size_t errlen)
{
	struct tls_cert_parts parts;
	unsigned char *der, *out = NULL;
	char label[64];
	int derlen, n;

	*spki = *cert = NULL;
	*spkilen = *certlen = 0;

	if (tls_pem_label(buf, label, sizeof(label))) {
		tls_errf(err, errlen, "%s: no PEM data found", path);
		goto err0;
	}
	if (len > INT_MAX || (der = malloc(len)) == NULL) {
		tls_errf(err, errlen, "%s: out of memory", path);
		goto err0;
	}

	if (strcmp(label, "CERTIFICATE") == 0) {
		if ((derlen = wc_CertPemToDer(buf, (int)len, der, (int)len,
		    CERT_TYPE)) <= 0 ||
		    tls_cert_parse(der, (size_t)derlen, &parts)) {
			tls_errf(err, errlen, "%s: malformed certificate",
			    path);
			goto err1;
		}
		if ((out = malloc(parts.spkilen)) == NULL)
			goto enomem;
		memcpy(out, parts.spki, parts.spkilen);
		*spki = out;
		*spkilen = parts.spkilen;
		*cert = der;
		*certlen = (size_t)derlen;
		return (0);
	} else if (strcmp(label, "PUBLIC KEY") == 0) {
		if ((derlen = wc_PubKeyPemToDer(buf, (int)len, der,
		    (int)len)) <= 0) {
			tls_errf(err, errlen, "%s: malformed public key", path);
			goto err1;
		}
		*spki = der;
		*spkilen = (size_t)derlen;
		return (0);
	} else if (strcmp(label, "ENCRYPTED PRIVATE KEY") == 0) {
		tls_errf(err, errlen, "%s: encrypted private keys are not "
		    "supported", path);
		goto err1;
	} else if (strcmp(label, "PRIVATE KEY") == 0 ||
	    strcmp(label, "EC PRIVATE KEY") == 0 ||
	    strcmp(label, "RSA PRIVATE KEY") == 0) {
		if ((derlen = wc_KeyPemToDer(buf, (int)len, der, (int)len,
		    NULL)) <= 0) {
			tls_errf(err, errlen, "%s: malformed private key",
			    path);
			goto err1;
		}
		if ((out = malloc(TLS_DER_MAX)) == NULL)
			goto enomem;
		if ((n = tls_key_spki(der, (size_t)derlen, out,
		    TLS_DER_MAX)) < 0) {
			tls_errf(err, errlen, "%s: not an Ed25519, ECDSA or "
			    "RSA private key", path);
			free(out);
			goto err1;
		}
		tls_wipe(der, len);
		free(der);
		*spki = out;
		*spkilen = (size_t)n;
		return (0);
	}
	tls_errf(err, errlen, "%s: PEM \"%s\" is not a certificate or key",
	    path, label);
	goto err1;

enomem:
	tls_errf(err, errlen, "%s: out of memory", path);
err1:
	tls_wipe(der, len);
	free(der);
err0:
	/* Failure! */
	return (-1);
}

int
tls_fingerprint_file(const char *pem_path, char *spki_hex, char *cert_hex,
    char *err, size_t errlen)
{
	unsigned char *buf, *spki, *cert;
	size_t len, spkilen, certlen;

	spki_hex[0] = '\0';
	if (cert_hex != NULL)
		cert_hex[0] = '\0';
	if (tls_read_file(pem_path, "PEM file", &buf, &len, err, errlen))
		goto err0;
	if (tls_pem_spki(buf, len, pem_path, &spki, &spkilen, &cert, &certlen,
	    err, errlen))
		goto err1;
	tls_sha256_hex(spki, spkilen, spki_hex);
	if (cert != NULL && cert_hex != NULL)
		tls_sha256_hex(cert, certlen, cert_hex);
	free(spki);
	free(cert);
	tls_free_file(buf, len);

	/* Success! */
	return (0);

err1:
	tls_free_file(buf, len);
err0:
	/* Failure! */
	return (-1);
}

/* ---- names of things ---- */

static const char *
tls_alert_name(int code)
{

	switch (code) {
	case 0: return ("close_notify");
	case 10: return ("unexpected_message");
	case 20: return ("bad_record_mac");
	case 22: return ("record_overflow");
	case 40: return ("handshake_failure");
	case 42: return ("bad_certificate");
	case 43: return ("unsupported_certificate");
	case 44: return ("certificate_revoked");
	case 45: return ("certificate_expired");
	case 46: return ("certificate_unknown");
	case 47: return ("illegal_parameter");
	case 48: return ("unknown_ca");
	case 49: return ("access_denied");
	case 50: return ("decode_error");
	case 51: return ("decrypt_error");
	case 70: return ("protocol_version");
	case 71: return ("insufficient_security");
	case 80: return ("internal_error");
	case 86: return ("inappropriate_fallback");
	case 90: return ("user_canceled");
	case 109: return ("missing_extension");
	case 110: return ("unsupported_extension");
	case 112: return ("unrecognized_name");
	case 115: return ("unknown_psk_identity");
	case 116: return ("certificate_required");
	case 120: return ("no_application_protocol");
	}
	return ("unknown alert");
}

/*
 * Certificate verification errors as the verify callback sees them: this
 * wolfSSL reports chain errors as OpenSSL X509_V_ERR_* codes (positive)
 * and name errors as its own codes (negative), so both are listed.
 */
static const char *
tls_verify_reason(int e)
{

	switch (e) {
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case ASN_NO_SIGNER_E:
		return ("unable to get issuer certificate (not signed by a "
		    "trusted CA)");
	case X509_V_ERR_CERT_HAS_EXPIRED:
	case ASN_AFTER_DATE_E:
		return ("certificate has expired");
	case X509_V_ERR_CERT_NOT_YET_VALID:
	case ASN_BEFORE_DATE_E:
		return ("certificate is not yet valid");
	case X509_V_ERR_CERT_SIGNATURE_FAILURE:
	case ASN_SIG_CONFIRM_E:
	case ASN_SIG_OID_E:
	case ASN_SIG_KEY_E:
		return ("certificate signature does not verify");
	case X509_V_ERR_PATH_LENGTH_EXCEEDED:
	case ASN_PATHLEN_INV_E:
	case ASN_PATHLEN_SIZE_E:
		return ("certificate chain too long for the CA");
	case X509_V_ERR_INVALID_CA:
		return ("issuer is not a CA");
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case ASN_SELF_SIGNED_E:
		return ("self-signed certificate not in the CA file");
	case X509_V_ERR_CERT_REVOKED:
	case CRL_CERT_REVOKED:
		return ("certificate revoked");
	case DOMAIN_NAME_MISMATCH:
		return ("name mismatch");
	case IPADDR_MISMATCH:
		return ("IP address mismatch");
	case 0:
		return ("ok");
	}
	return (wolfSSL_ERR_reason_error_string((unsigned long)e));
}

/* ---- list parsing ---- */

/*
 * Split list (names separated by ':' or ',', blanks trimmed) and call fn
 * on each name.  Returns 0, or the first non-zero fn return.
 */
static int
tls_list_each(const char *list, int (*fn)(void *, const char *), void *arg)
{
	char *copy, *tok, *save, *e;
	int rc = 0;

	if ((copy = strdup(list)) == NULL)
		return (-1);
	for (tok = strtok_r(copy, ":,", &save); tok != NULL;
	    tok = strtok_r(NULL, ":,", &save)) {
		while (isspace((unsigned char)*tok))
			tok++;
		e = tok + strlen(tok);
		while (e > tok && isspace((unsigned char)e[-1]))
			*--e = '\0';
		if (*tok == '\0')
			continue;
		if ((rc = fn(arg, tok)) != 0)
			break;
	}
	free(copy);
	return (rc);
}

struct tls_suite_parse {
	int min_version;
	char wolf[512];		/* for wolfSSL_CTX_set_cipher_list */
	char iana[1024];	/* for the trace */
	int n13;
	char *err;
	size_t errlen;
};

static int
tls_suite_one(void *arg, const char *name)
{
	struct tls_suite_parse *sp = arg;
	const struct tls_suite *s;
	size_t i;

	for (i = 0; i < sizeof(tls_suites) / sizeof(tls_suites[0]); i++) {
		s = &tls_suites[i];
		if (strcasecmp(name, s->iana) == 0 ||
		    strcasecmp(name, s->wolf) == 0)
			break;
	}
	if (i == sizeof(tls_suites) / sizeof(tls_suites[0])) {
		tls_errf(sp->err, sp->errlen, "unknown or disallowed cipher "
		    "suite \"%s\" (allowed: TLS 1.3 AEAD suites, and ECDHE "
		    "AEAD suites with min_version 12)", name);
		return (-1);
	}
	if (!s->tls13 && sp->min_version != 12) {
		tls_errf(sp->err, sp->errlen, "cipher suite \"%s\" is TLS 1.2 "
		    "only, but min_version is 13", name);
		return (-1);
	}
	if (strstr(sp->wolf, s->wolf) != NULL)
		return (0);
	if (s->tls13)
		sp->n13++;
	if (sp->wolf[0] != '\0') {
		strncat(sp->wolf, ":", sizeof(sp->wolf) - strlen(sp->wolf) - 1);
		strncat(sp->iana, ",", sizeof(sp->iana) - strlen(sp->iana) - 1);
	}
	strncat(sp->wolf, s->wolf, sizeof(sp->wolf) - strlen(sp->wolf) - 1);
	strncat(sp->iana, s->iana, sizeof(sp->iana) - strlen(sp->iana) - 1);
	return (0);
}

struct tls_group_parse {
	int ids[TLS_MAX_GROUPS];
	int n;
	char names[128];
	char *err;
	size_t errlen;
};

static int
tls_group_one(void *arg, const char *name)
{
	struct tls_group_parse *gp = arg;
	const struct tls_group *g;
	size_t i;
	int j;

	for (i = 0; i < TLS_MAX_GROUPS; i++) {
		g = &tls_groups[i];
		if (strcasecmp(name, g->name) == 0 ||
		    strcasecmp(name, g->alias1) == 0 ||
		    (g->alias2 != NULL && strcasecmp(name, g->alias2) == 0))
			break;
	}
	if (i == TLS_MAX_GROUPS) {
		tls_errf(gp->err, gp->errlen, "unknown group \"%s\" "
		    "(known: x25519, p256, p384, p521)", name);
		return (-1);
	}
	for (j = 0; j < gp->n; j++)
		if (gp->ids[j] == g->id)
			return (0);
	gp->ids[gp->n++] = g->id;
	if (gp->names[0] != '\0')
		strncat(gp->names, ",", sizeof(gp->names) -
		    strlen(gp->names) - 1);
	strncat(gp->names, g->name, sizeof(gp->names) - strlen(gp->names) - 1);
	return (0);
}

/* A pin: "sha256:" then 32 bytes of hex, optionally colon-separated. */
static int
tls_pin_parse(const char *s, unsigned char pin[TLS_PIN_LEN])
{
	size_t n = 0;
	int hi = -1, v;

	if (strncasecmp(s, "sha256:", 7) == 0)
		s += 7;
	for (; *s != '\0'; s++) {
		if (*s == ':' && hi == -1)
			continue;
		if (*s >= '0' && *s <= '9')
			v = *s - '0';
		else if (*s >= 'a' && *s <= 'f')
			v = *s - 'a' + 10;
		else if (*s >= 'A' && *s <= 'F')
			v = *s - 'A' + 10;
		else
			return (-1);
		if (hi == -1) {
			hi = v;
		} else {
			if (n == TLS_PIN_LEN)
				return (-1);
			pin[n++] = (unsigned char)(hi << 4 | v);
			hi = -1;
		}
	}
	return (n == TLS_PIN_LEN && hi == -1 ? 0 : -1);
}

/* ---- contexts ---- */

static void
tls_global_init_once(void)
{

	tls_init_rc = wolfSSL_Init() == WOLFSSL_SUCCESS ? 0 : -1;
}

int
tls_global_init(void)
{

	if (pthread_once(&tls_once, tls_global_init_once) != 0)
		return (-1);
	return (tls_init_rc);
}

void
tls_global_cleanup(void)
{

	wolfSSL_Cleanup();
}

void
tls_thread_cleanup(void)
{

	wc_ecc_fp_free();
}

static int tls_recv_cb(WOLFSSL *, char *, int, void *);
static int tls_send_cb(WOLFSSL *, char *, int, void *);
static int tls_verify_cb(int, WOLFSSL_X509_STORE_CTX *);

static struct tls_ctx *
tls_ctx_alloc(int server, int min_version, char *err, size_t errlen)
{
	struct tls_ctx *ctx;
	WOLFSSL_METHOD *method;

	if (tls_global_init()) {
		tls_errf(err, errlen, "cannot initialise wolfSSL");
		goto err0;
	}
	if (min_version == 0)
		min_version = 13;
	if (min_version != 12 && min_version != 13) {
		tls_errf(err, errlen, "min_version must be 12 or 13, not %d",
		    min_version);
		goto err0;
	}
	if ((ctx = calloc(1, sizeof(*ctx))) == NULL) {
		tls_errf(err, errlen, "out of memory");
		goto err0;
	}
	atomic_init(&ctx->refs, 1);
	ctx->server = server;
	ctx->min_version = min_version;

	if (min_version == 13)
		method = server ? wolfTLSv1_3_server_method() :
		    wolfTLSv1_3_client_method();
	else
		method = server ? wolfSSLv23_server_method() :
		    wolfSSLv23_client_method();
	if (method == NULL || (ctx->wctx = wolfSSL_CTX_new(method)) == NULL) {
		tls_errf(err, errlen, "cannot create TLS context");
		goto err1;
	}
	if (min_version == 12 &&
	    wolfSSL_CTX_SetMinVersion(ctx->wctx, WOLFSSL_TLSV1_2) !=
	    WOLFSSL_SUCCESS) {
		tls_errf(err, errlen, "cannot set minimum version TLS 1.2");
		goto err2;
	}

	/*
	 * The OpenSSL-compatible defaults of this build turn AUTO_RETRY on;
	 * with it wolfSSL_read would retry by itself instead of returning
	 * WANT_READ when our buffer is empty.
	 */
	wolfSSL_CTX_clear_mode(ctx->wctx, SSL_MODE_AUTO_RETRY);

	/* Never compress (CRIME); this build has no zlib anyway. */
	wolfSSL_CTX_set_options(ctx->wctx, WOLFSSL_OP_NO_COMPRESSION);

	wolfSSL_CTX_SetIORecv(ctx->wctx, tls_recv_cb);
	wolfSSL_CTX_SetIOSend(ctx->wctx, tls_send_cb);

	return (ctx);

err2:
	wolfSSL_CTX_free(ctx->wctx);
err1:
	free(ctx);
err0:
	return (NULL);
}

/* Suites and groups, shared by both roles. */
static int
tls_ctx_policy(struct tls_ctx *ctx, const char *ciphers, const char *groups,
    char *err, size_t errlen)
{
	struct tls_suite_parse sp;
	struct tls_group_parse gp;

	memset(&sp, 0, sizeof(sp));
	sp.min_version = ctx->min_version;
	sp.err = err;
	sp.errlen = errlen;
	if (ciphers == NULL)
		ciphers = ctx->min_version == 12 ?
		    TLS_DEFAULT_CIPHERS ":" TLS_DEFAULT_CIPHERS_12 :
		    TLS_DEFAULT_CIPHERS;
	if (tls_list_each(ciphers, tls_suite_one, &sp))
		return (-1);
	if (sp.n13 == 0) {
		tls_errf(err, errlen, "cipher list \"%s\" has no TLS 1.3 "
		    "suite", ciphers);
		return (-1);
	}
	if (wolfSSL_CTX_set_cipher_list(ctx->wctx, sp.wolf) !=
	    WOLFSSL_SUCCESS) {
		tls_errf(err, errlen, "cannot set cipher suites %s", sp.wolf);
		return (-1);
	}

	memset(&gp, 0, sizeof(gp));
	gp.err = err;
	gp.errlen = errlen;
	if (groups == NULL)
		groups = TLS_DEFAULT_GROUPS;
	if (tls_list_each(groups, tls_group_one, &gp))
		return (-1);
	if (gp.n == 0) {
		tls_errf(err, errlen, "group list \"%s\" is empty", groups);
		return (-1);
	}
	if (wolfSSL_CTX_set_groups(ctx->wctx, gp.ids, gp.n) !=
	    WOLFSSL_SUCCESS) {
		tls_errf(err, errlen, "cannot set groups %s", gp.names);
		return (-1);
	}
	_Static_assert(sizeof(ctx->group_ids) / sizeof(ctx->group_ids[0]) >=
	    TLS_MAX_GROUPS, "group ids");
	memcpy(ctx->group_ids, gp.ids, sizeof(gp.ids[0]) * (size_t)gp.n);
	ctx->ngroup_ids = (size_t)gp.n;

	if (!ctx->server) {
		size_t len = strlen(sp.iana) + strlen(gp.names) + 256;

		if ((ctx->offer = malloc(len)) == NULL) {
			tls_errf(err, errlen, "out of memory");
			return (-1);
		}
		snprintf(ctx->offer, len, "versions %s; suites %s; groups %s "
		    "(key share %.*s)", ctx->min_version == 12 ?
		    "TLSv1.3,TLSv1.2" : "TLSv1.3", sp.iana, gp.names,
		    (int)strcspn(gp.names, ","), gp.names);
	}
	return (0);
}

/*
 * Load a certificate chain and its key into ctx, and check they belong
 * together (by comparing the public keys, which works for every key type).
 */
static int
tls_ctx_load_pair(struct tls_ctx *ctx, const char *cert_file,
    const char *key_file, char *err, size_t errlen)
{
	unsigned char *cbuf, *kbuf;
	unsigned char *cspki = NULL, *kspki = NULL, *cder = NULL, *kder = NULL;
	size_t clen, klen, cspkilen, kspkilen, cderlen, kderlen;
	int rc, ret = -1;

	if (tls_read_file(cert_file, "certificate chain", &cbuf, &clen, err,
	    errlen))
		goto err0;
	if (tls_read_file(key_file, "private key", &kbuf, &klen, err,
	    errlen))
		goto err1;

	if (tls_pem_spki(cbuf, clen, cert_file, &cspki, &cspkilen, &cder,
	    &cderlen, err, errlen))
		goto done;
	if (cder == NULL) {
		tls_errf(err, errlen, "certificate chain %s: does not start "
		    "with a certificate", cert_file);
		goto done;
	}
	if (tls_pem_spki(kbuf, klen, key_file, &kspki, &kspkilen, &kder,
	    &kderlen, err, errlen))
		goto done;
	if (kder != NULL || strstr((char *)kbuf, "PRIVATE KEY-----") == NULL) {
		tls_errf(err, errlen, "private key %s: no private key found",
		    key_file);
		goto done;
	}

	if ((rc = wolfSSL_CTX_use_certificate_chain_buffer_format(ctx->wctx,
	    cbuf, (long)clen, WOLFSSL_FILETYPE_PEM)) != WOLFSSL_SUCCESS) {
		tls_errf(err, errlen, "cannot load certificate chain %s: %s",
		    cert_file, wolfSSL_ERR_reason_error_string(
		    (unsigned long)rc));
		goto done;
	}
	if ((rc = wolfSSL_CTX_use_PrivateKey_buffer(ctx->wctx, kbuf,
	    (long)klen, WOLFSSL_FILETYPE_PEM)) != WOLFSSL_SUCCESS) {
		tls_errf(err, errlen, "cannot load private key %s (%s): %s",
		    key_file, tls_spki_key_type(kspki, kspkilen),
		    wolfSSL_ERR_reason_error_string((unsigned long)rc));
		goto done;
	}
	if (cspkilen != kspkilen || memcmp(cspki, kspki, cspkilen) != 0 ||
	    wolfSSL_CTX_check_private_key(ctx->wctx) != WOLFSSL_SUCCESS) {
		tls_errf(err, errlen, "private key %s does not match "
		    "certificate %s (key is %s, certificate has %s)",
		    key_file, cert_file, tls_spki_key_type(kspki, kspkilen),
		    tls_spki_key_type(cspki, cspkilen));
		goto done;
	}

	/* Success! */
	ret = 0;

done:
	free(kspki);
	free(kder);
	free(cspki);
	free(cder);
	tls_free_file(kbuf, klen);
err1:
	tls_free_file(cbuf, clen);
err0:
	return (ret);
}

static int
tls_ctx_load_ca(struct tls_ctx *ctx, const char *ca_file, const char *what,
    char *err, size_t errlen)
{
	unsigned char *buf;
	size_t len;
	int rc;

	if (tls_read_file(ca_file, what, &buf, &len, err, errlen))
		return (-1);
	if ((rc = wolfSSL_CTX_load_verify_buffer(ctx->wctx, buf, (long)len,
	    WOLFSSL_FILETYPE_PEM)) != WOLFSSL_SUCCESS) {
		tls_errf(err, errlen, "cannot load %s %s: %s", what, ca_file,
		    wolfSSL_ERR_reason_error_string((unsigned long)rc));
		tls_free_file(buf, len);
		return (-1);
	}
	tls_free_file(buf, len);
	return (0);
}

/*
 * Session tickets are sealed with our own callback, not wolfSSL's default
 * one: in 5.5.4 the default (DefTicketEncCb) breaks every handshake after
 * the first once the ticket lifetime hint exceeds its internal key
 * lifetime of 3600 s (wolfSSL_CTX_set_timeout sets the hint too): measured
 * here, and reported for later versions as wolfSSL issue #10796.  Ours
 * seals with ChaCha20-Poly1305 under the context's first key and opens
 * with whichever key's name the ticket carries (tls.h: ticket key files).
 * The nonce is 96 random bits per ticket: a counter would repeat across
 * processes that share a key file.  The key name and IV are authenticated
 * as associated data; the tag fills the first 16 bytes of wolfSSL's MAC
 * field.
 */
static int
tls_ticket_cb(WOLFSSL *ssl, unsigned char name[WOLFSSL_TICKET_NAME_SZ],
    unsigned char iv[WOLFSSL_TICKET_IV_SZ],
    unsigned char mac[WOLFSSL_TICKET_MAC_SZ], int enc,
    unsigned char *ticket, int inlen, int *outlen, void *arg)
{
	struct tls_ctx *ctx = arg;
	const struct tls_ticket_key *k = NULL;
	unsigned char aad[WOLFSSL_TICKET_NAME_SZ + WOLFSSL_TICKET_IV_SZ];
	unsigned char *tmp;
	size_t i;
	int rc;

	(void)ssl;
	if (inlen <= 0 || ctx->nticket_keys == 0)
		return (WOLFSSL_TICKET_RET_FATAL);
	if (enc) {
		k = &ctx->ticket_keys[0];
		memcpy(name, k->name, WOLFSSL_TICKET_NAME_SZ);
		memset(iv, 0, WOLFSSL_TICKET_IV_SZ);
		if (getrandom(iv, CHACHA20_POLY1305_AEAD_IV_SIZE, 0) !=
		    CHACHA20_POLY1305_AEAD_IV_SIZE)
			return (WOLFSSL_TICKET_RET_FATAL);
		memset(mac, 0, WOLFSSL_TICKET_MAC_SZ);
	} else {
		for (i = 0; i < ctx->nticket_keys; i++)
			if (memcmp(name, ctx->ticket_keys[i].name,
			    WOLFSSL_TICKET_NAME_SZ) == 0)
				k = &ctx->ticket_keys[i];
		/* Another key's ticket: a full handshake. */
		if (k == NULL)
			return (WOLFSSL_TICKET_RET_REJECT);
	}
	memcpy(aad, name, WOLFSSL_TICKET_NAME_SZ);
	memcpy(aad + WOLFSSL_TICKET_NAME_SZ, iv, WOLFSSL_TICKET_IV_SZ);

	/* Never in place: the AEAD's in == out behaviour is not promised. */
	if ((tmp = malloc((size_t)inlen)) == NULL)
		return (WOLFSSL_TICKET_RET_FATAL);
	memcpy(tmp, ticket, (size_t)inlen);
	if (enc)
		rc = wc_ChaCha20Poly1305_Encrypt(k->key, iv, aad,
		    sizeof(aad), tmp, (word32)inlen, ticket, mac);
	else
		rc = wc_ChaCha20Poly1305_Decrypt(k->key, iv, aad,
		    sizeof(aad), tmp, (word32)inlen, mac, ticket);
	tls_wipe(tmp, (size_t)inlen);
	free(tmp);
	if (rc != 0)
		return (enc ? WOLFSSL_TICKET_RET_FATAL :
		    WOLFSSL_TICKET_RET_REJECT);
	*outlen = inlen;
	return (WOLFSSL_TICKET_RET_OK);
}

/* The value of one hex digit, or -1. */
static int
tls_hexval(int ch)
{

	if (ch >= '0' && ch <= '9')
		return (ch - '0');
	if (ch >= 'a' && ch <= 'f')
		return (ch - 'a' + 10);
	if (ch >= 'A' && ch <= 'F')
		return (ch - 'A' + 10);
	return (-1);
}

/* One ticket key from a 32-byte secret: name and key by SHA-256. */
static int
tls_ticket_key_derive(struct tls_ticket_key *k, const unsigned char *secret,
    size_t len)
{
	static const char lname[] = "secd ticket key name";
	static const char lkey[] = "secd ticket key";
	unsigned char out[WC_SHA256_DIGEST_SIZE];
	wc_Sha256 sha;
	int rc;

	_Static_assert(sizeof(k->key) == WC_SHA256_DIGEST_SIZE, "key size");
	_Static_assert(sizeof(k->name) <= WC_SHA256_DIGEST_SIZE, "name size");
	if ((rc = wc_InitSha256(&sha)) != 0 ||
	    (rc = wc_Sha256Update(&sha, (const byte *)lname,
	    sizeof(lname))) != 0 ||
	    (rc = wc_Sha256Update(&sha, secret, (word32)len)) != 0 ||
	    (rc = wc_Sha256Final(&sha, out)) != 0)
		goto out;
	memcpy(k->name, out, sizeof(k->name));
	if ((rc = wc_InitSha256(&sha)) != 0 ||
	    (rc = wc_Sha256Update(&sha, (const byte *)lkey,
	    sizeof(lkey))) != 0 ||
	    (rc = wc_Sha256Update(&sha, secret, (word32)len)) != 0 ||
	    (rc = wc_Sha256Final(&sha, k->key)) != 0)
		goto out;
out:
	wc_Sha256Free(&sha);
	tls_wipe(out, sizeof(out));
	return (rc);
}

/*
 * Read the ticket key file (tls.h) into ctx.  Every error names the file
 * and line; the secrets are wiped from every buffer they passed through.
 */
static int
tls_ctx_ticket_file(struct tls_ctx *ctx, const char *path, char *err,
    size_t errlen)
{
	unsigned char secret[32], *buf = NULL;
	char *line, *next, *end;
	size_t len = 0, i, n;
	unsigned lineno = 0;
	int rc = -1;

	if (tls_read_file(path, "ticket key", &buf, &len, err, errlen))
		return (-1);
	for (line = (char *)buf, end = line + len; line < end; line = next) {
		lineno++;
		if ((next = memchr(line, '\n', (size_t)(end - line))) == NULL)
			next = end;
		else
			*next++ = '\0';
		n = strcspn(line, "\r\n");
		while (n > 0 && (line[n - 1] == ' ' || line[n - 1] == '\t'))
			n--;
		if (n == 0 || line[0] == '#')
			continue;
		if (ctx->nticket_keys == TLS_TICKET_KEYS_MAX) {
			tls_errf(err, errlen, "%s:%u: more than %d keys", path,
			    lineno, TLS_TICKET_KEYS_MAX);
			goto out;
		}
		if (n != 64) {
			tls_errf(err, errlen, "%s:%u: a key is 64 hex digits "
			    "(32 bytes, e.g. openssl rand -hex 32), found %zu "
			    "characters", path, lineno, n);
			goto out;
		}
		for (i = 0; i < 32; i++) {
			int hi = tls_hexval(line[2 * i]);
			int lo = tls_hexval(line[2 * i + 1]);

			if (hi < 0 || lo < 0) {
				tls_errf(err, errlen, "%s:%u: not a hex digit "
				    "at column %zu", path, lineno,
				    2 * i + (hi < 0 ? 1 : 2));
				goto out;
			}
			secret[i] = (unsigned char)(hi << 4 | lo);
		}
		if (tls_ticket_key_derive(&ctx->ticket_keys[ctx->nticket_keys],
		    secret, sizeof(secret)) != 0) {
			tls_errf(err, errlen, "%s: cannot derive a key", path);
			goto out;
		}
		ctx->nticket_keys++;
	}
	if (ctx->nticket_keys == 0) {
		tls_errf(err, errlen, "%s: no key in the file (one per line, "
		    "64 hex digits)", path);
		goto out;
	}
	rc = 0;
out:
	tls_wipe(secret, sizeof(secret));
	tls_free_file(buf, len);
	return (rc);
}

/*
 * The ticket keys of ctx: from the file, or one fresh random key (tickets
 * then resume only on this context).
 */
static int
tls_ctx_ticket_key(struct tls_ctx *ctx, const char *file, char *err,
    size_t errlen)
{
	unsigned char secret[32];

	ctx->nticket_keys = 0;
	if (file != NULL) {
		if (tls_ctx_ticket_file(ctx, file, err, errlen))
			return (-1);
	} else {
		if (getrandom(secret, sizeof(secret), 0) != sizeof(secret) ||
		    tls_ticket_key_derive(&ctx->ticket_keys[0], secret,
		    sizeof(secret)) != 0) {
			tls_wipe(secret, sizeof(secret));
			tls_errf(err, errlen, "cannot make a ticket key");
			return (-1);
		}
		tls_wipe(secret, sizeof(secret));
		ctx->nticket_keys = 1;
	}
	if (wolfSSL_CTX_set_TicketEncCb(ctx->wctx, tls_ticket_cb) !=
	    WOLFSSL_SUCCESS ||
	    wolfSSL_CTX_set_TicketEncCtx(ctx->wctx, ctx) != WOLFSSL_SUCCESS) {
		tls_errf(err, errlen, "cannot set session ticket callback");
		return (-1);
	}
	return (0);
}

struct tls_ctx *
tls_ctx_new_server(const struct tls_server_config *cfg, char *err,
    size_t errlen)
{
	struct tls_ctx *ctx;
	uint32_t lifetime;
	int mode;

	if ((ctx = tls_ctx_alloc(1, cfg->min_version, err, errlen)) == NULL)
		goto err0;
	if (tls_ctx_policy(ctx, cfg->ciphers, cfg->groups, err, errlen))
		goto err1;
	if (tls_ctx_load_pair(ctx, cfg->cert_file, cfg->key_file, err,
	    errlen))
		goto err1;

	/*
	 * Server order decides the suite (ChaCha20 first: it is the fast one
	 * in this build).  wolfSSL does this by default; say so anyway.
	 */
	wolfSSL_CTX_set_options(ctx->wctx, WOLFSSL_OP_CIPHER_SERVER_PREFERENCE);

	switch (cfg->client_auth) {
	case TLS_CLIENT_AUTH_NONE:
		mode = WOLFSSL_VERIFY_NONE;
		break;
	case TLS_CLIENT_AUTH_OPTIONAL:
		mode = WOLFSSL_VERIFY_PEER;
		break;
	case TLS_CLIENT_AUTH_REQUIRED:
		mode = WOLFSSL_VERIFY_PEER |
		    WOLFSSL_VERIFY_FAIL_IF_NO_PEER_CERT;
		break;
	default:
		tls_errf(err, errlen, "bad client_auth value %d",
		    (int)cfg->client_auth);
		goto err1;
	}
	if (mode != WOLFSSL_VERIFY_NONE) {
		if (cfg->client_ca_file == NULL) {
			tls_errf(err, errlen, "client certificates are asked "
			    "for, but no client CA file is given");
			goto err1;
		}
		if (tls_ctx_load_ca(ctx, cfg->client_ca_file,
		    "client CA file", err, errlen))
			goto err1;
	}
	wolfSSL_CTX_set_verify(ctx->wctx, mode,
	    mode == WOLFSSL_VERIFY_NONE ? NULL : tls_verify_cb);

	if (cfg->tickets) {
		lifetime = cfg->ticket_lifetime_s;
		if (lifetime == 0)
			lifetime = TLS_DEFAULT_TICKET_LIFETIME;
		if (lifetime > TLS_TICKET_LIFETIME_MAX) {
			tls_errf(err, errlen, "ticket lifetime %u s is over "
			    "the TLS 1.3 limit of %d s", lifetime,
			    TLS_TICKET_LIFETIME_MAX);
			goto err1;
		}
		if (tls_ctx_ticket_key(ctx, cfg->ticket_key_file, err,
		    errlen))
			goto err1;
		/* The hint tells the client; the timeout is enforced. */
		wolfSSL_CTX_set_TicketHint(ctx->wctx, (int)lifetime);
		wolfSSL_CTX_set_timeout(ctx->wctx, lifetime);
	} else {
		wolfSSL_CTX_no_ticket_TLSv13(ctx->wctx);
		wolfSSL_CTX_NoTicketTLSv12(ctx->wctx);
		wolfSSL_CTX_set_session_cache_mode(ctx->wctx,
		    WOLFSSL_SESS_CACHE_OFF);
	}

	if ((ctx->alpn = strdup(TLS_ALPN)) == NULL) {
		tls_errf(err, errlen, "out of memory");
		goto err1;
	}

	/* Success! */
	return (ctx);

err1:
	tls_ctx_free(ctx);
err0:
	/* Failure! */
	return (NULL);
}

struct tls_ctx *
tls_ctx_new_client(const struct tls_client_config *cfg, char *err,
    size_t errlen)
{
	struct tls_ctx *ctx;
	size_t n;

	if ((ctx = tls_ctx_alloc(0, cfg->min_version, err, errlen)) == NULL)
		goto err0;
	ctx->trace = cfg->trace;
	ctx->trace_arg = cfg->trace_arg;
	if (tls_ctx_policy(ctx, cfg->ciphers, cfg->groups, err, errlen))
		goto err1;
	if (cfg->ca_file == NULL) {
		tls_errf(err, errlen, "a CA file is required to verify the "
		    "server");
		goto err1;
	}
	if (tls_ctx_load_ca(ctx, cfg->ca_file, "CA file", err, errlen))
		goto err1;
	wolfSSL_CTX_set_verify(ctx->wctx, WOLFSSL_VERIFY_PEER, tls_verify_cb);

	if (cfg->cert_file != NULL || cfg->key_file != NULL) {
		if (cfg->cert_file == NULL || cfg->key_file == NULL) {
			tls_errf(err, errlen, "a client certificate needs "
			    "both a certificate and a key file");
			goto err1;
		}
		if (tls_ctx_load_pair(ctx, cfg->cert_file, cfg->key_file, err,
		    errlen))
			goto err1;
		ctx->has_client_cert = 1;
	}

	for (n = 0; cfg->pins != NULL && cfg->pins[n] != NULL; n++)
		continue;
	if (n > 0) {
		if ((ctx->pins = calloc(n, sizeof(*ctx->pins))) == NULL) {
			tls_errf(err, errlen, "out of memory");
			goto err1;
		}
		for (ctx->npins = 0; ctx->npins < n; ctx->npins++) {
			if (tls_pin_parse(cfg->pins[ctx->npins],
			    ctx->pins[ctx->npins])) {
				tls_errf(err, errlen, "bad pin \"%s\": want "
				    "sha256: and 64 hex digits",
				    cfg->pins[ctx->npins]);
				goto err1;
			}
		}
	}

	if (cfg->alpn == NULL || cfg->alpn[0] != '\0') {
		if ((ctx->alpn = strdup(cfg->alpn != NULL ? cfg->alpn :
		    TLS_ALPN)) == NULL) {
			tls_errf(err, errlen, "out of memory");
			goto err1;
		}
	}

	/* Success! */
	return (ctx);

err1:
	tls_ctx_free(ctx);
err0:
	/* Failure! */
	return (NULL);
}

struct tls_ctx *
tls_ctx_ref(struct tls_ctx *ctx)
{

	atomic_fetch_add_explicit(&ctx->refs, 1, memory_order_relaxed);
	return (ctx);
}

void
tls_ctx_free(struct tls_ctx *ctx)
{

	if (ctx == NULL)
		return;
	if (atomic_fetch_sub_explicit(&ctx->refs, 1,
	    memory_order_acq_rel) != 1)
		return;
	wolfSSL_CTX_free(ctx->wctx);
	tls_wipe(ctx->ticket_keys, sizeof(ctx->ticket_keys));
	if (ctx->pins != NULL) {
		tls_wipe(ctx->pins, ctx->npins * sizeof(*ctx->pins));
		free(ctx->pins);
	}
	free(ctx->alpn);
	free(ctx->offer);
	free(ctx);
}

/* ---- channels: buffers and I/O callbacks ---- */

static void
tls_chan_trace(struct tls_chan *c, const char *step, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
tls_chan_trace(struct tls_chan *c, const char *step, const char *fmt, ...)
{
	char detail[1024];
	va_list ap;

	if (c->ctx->trace == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	c->ctx->trace(c->ctx->trace_arg, step, detail);
}

/* Record why the channel failed; the first reason found wins. */
static void
tls_chan_fail(struct tls_chan *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
tls_chan_fail(struct tls_chan *c, const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	c->failed = 1;
	if (c->err != NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	c->err = strdup(buf);
}

/*
 * Free the input buffer.  It holds records as they came off the socket,
 * ciphertext and the handshake's public messages, never a secret
 * (wolfSSL decrypts into its own buffers): no wipe.  Wiping its whole
 * capacity (33 KiB) after every read was a tenth of a request's cost.
 */
static void
tls_chan_in_release(struct tls_chan *c)
{

	free(c->in);
	c->in = NULL;
	c->in_off = c->in_end = c->in_cap = 0;
}

/*
 * Make room for len more bytes at the end of the input buffer, moving
 * unread bytes to the front or growing the buffer.
 */
static int
tls_chan_in_make_room(struct tls_chan *c, size_t len)
{
	size_t unread = c->in_end - c->in_off;
	size_t cap;
	unsigned char *p;

	if (len > TLS_CHAN_INPUT_MAX - unread)
		return (-1);
	if (c->in_cap - c->in_end >= len)
		return (0);
	if (c->in_off > 0) {
		memmove(c->in, c->in + c->in_off, unread);
		c->in_off = 0;
		c->in_end = unread;
		if (c->in_cap - c->in_end >= len)
			return (0);
	}
	cap = c->in_cap * 2;
	if (cap < unread + len)
		cap = unread + len;
	if (cap > TLS_CHAN_INPUT_MAX)
		cap = TLS_CHAN_INPUT_MAX;
	if ((p = realloc(c->in, cap)) == NULL)
		return (-1);
	c->in = p;
	c->in_cap = cap;
	return (0);
}

size_t
tls_chan_input_room(const struct tls_chan *c)
{

	return (TLS_CHAN_INPUT_MAX - (c->in_end - c->in_off));
}

int
tls_chan_feed(struct tls_chan *c, const void *buf, size_t len)
{

	if (len == 0)
		return (0);
	if (c->reserved || tls_chan_in_make_room(c, len))
		return (-1);
	memcpy(c->in + c->in_end, buf, len);
	c->in_end += len;
	return (0);
}

int
tls_chan_input_reserve(struct tls_chan *c, void **buf, size_t *len)
{
	size_t room = tls_chan_input_room(c);

	*buf = NULL;
	*len = 0;
	if (c->reserved || room == 0 || tls_chan_in_make_room(c, room))
		return (-1);
	c->reserved = 1;
	*buf = c->in + c->in_end;
	*len = room;
	return (0);
}

void
tls_chan_input_commit(struct tls_chan *c, size_t n)
{

	if (!c->reserved)
		return;
	c->reserved = 0;
	if (n > c->in_cap - c->in_end)
		n = c->in_cap - c->in_end;
	c->in_end += n;
	if (c->in_end == c->in_off)
		tls_chan_in_release(c);
}

void
tls_chan_feed_eof(struct tls_chan *c)
{

	c->eof = 1;
}

/*
 * wolfSSL wants up to sz bytes.  Give what we have; never 0, which wolfSSL
 * would take for a closed connection.  An emptied buffer is freed.
 */
static int
tls_recv_cb(WOLFSSL *ssl, char *buf, int sz, void *arg)
{
	struct tls_chan *c = arg;
	size_t n = c->in_end - c->in_off;

	(void)ssl;
	if (n == 0 || c->reserved)
		return (c->eof ? WOLFSSL_CBIO_ERR_CONN_CLOSE :
		    WOLFSSL_CBIO_ERR_WANT_READ);
	if (sz <= 0)
		return (WOLFSSL_CBIO_ERR_WANT_READ);
	if (n > (size_t)sz)
		n = (size_t)sz;
	memcpy(buf, c->in + c->in_off, n);
	c->in_off += n;
	if (c->in_off == c->in_end)
		tls_chan_in_release(c);
	return ((int)n);
}

/* Queue everything wolfSSL sends; report it all written. */
static int
tls_send_cb(WOLFSSL *ssl, char *buf, int sz, void *arg)
{
	struct tls_chan *c = arg;
	size_t need, cap;
	unsigned char *p;

	(void)ssl;
	if (sz <= 0)
		return (0);
	need = c->out_len + (size_t)sz;
	if (need > c->out_cap) {
		cap = c->out_cap * 2;
		if (cap < TLS_OUT_MIN)
			cap = TLS_OUT_MIN;
		if (cap < need)
			cap = need;
		if ((p = realloc(c->out, cap)) == NULL) {
			tls_chan_fail(c, "out of memory");
			return (WOLFSSL_CBIO_ERR_GENERAL);
		}
		c->out = p;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, buf, (size_t)sz);
	c->out_len += (size_t)sz;
	return (sz);
}

size_t
tls_chan_output_len(const struct tls_chan *c)
{

	return (c->out_len);
}

int
tls_chan_take_output(struct tls_chan *c, void **buf, size_t *len)
{

	*buf = c->out;
	*len = c->out_len;
	if (c->out_len == 0) {
		free(c->out);
		*buf = NULL;
	}
	c->out = NULL;
	c->out_len = c->out_cap = 0;
	return (0);
}

/* ---- channels: life cycle ---- */

struct tls_chan *
tls_chan_new(struct tls_ctx *ctx, const char *server_name)
{
	struct tls_chan *c;
	struct in6_addr a6;
	struct in_addr a4;

	if (ctx->server ? server_name != NULL :
	    server_name == NULL || server_name[0] == '\0' ||
	    strlen(server_name) > 253)
		goto err0;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		goto err0;
	c->ctx = tls_ctx_ref(ctx);
	if ((c->ssl = wolfSSL_new(ctx->wctx)) == NULL)
		goto err1;
	wolfSSL_SetIOReadCtx(c->ssl, c);
	wolfSSL_SetIOWriteCtx(c->ssl, c);
	if (wolfSSL_set_app_data(c->ssl, c) != WOLFSSL_SUCCESS)
		goto err1;

	if (ctx->alpn != NULL && wolfSSL_UseALPN(c->ssl, ctx->alpn,
	    (unsigned int)strlen(ctx->alpn),
	    WOLFSSL_ALPN_FAILED_ON_MISMATCH) != WOLFSSL_SUCCESS)
		goto err1;

	if (!ctx->server) {
		if ((c->server_name = strdup(server_name)) == NULL)
			goto err1;
		if (inet_pton(AF_INET, server_name, &a4) == 1) {
			memcpy(c->ip, &a4, 4);
			c->iplen = 4;
		} else if (inet_pton(AF_INET6, server_name, &a6) == 1) {
			memcpy(c->ip, &a6, 16);
			c->iplen = 16;
		} else {
			/*
			 * A DNS name: SNI, and wolfSSL checks it against the
			 * certificate's DNS names (and wildcards).  IP
			 * literals get neither: RFC 6066 forbids them in SNI,
			 * and the verify callback matches them exactly.
			 */
			if (wolfSSL_UseSNI(c->ssl, WOLFSSL_SNI_HOST_NAME,
			    server_name, (unsigned short)strlen(server_name)) !=
			    WOLFSSL_SUCCESS ||
			    wolfSSL_check_domain_name(c->ssl, server_name) !=
			    WOLFSSL_SUCCESS)
				goto err1;
		}
	}

	/* Success! */
	return (c);

err1:
	tls_chan_free(c);
err0:
	/* Failure! */
	return (NULL);
}

void
tls_chan_free(struct tls_chan *c)
{

	if (c == NULL)
		return;
	if (c->ssl != NULL)
		wolfSSL_free(c->ssl);
	tls_chan_in_release(c);
	if (c->out != NULL) {
		tls_wipe(c->out, c->out_cap);
		free(c->out);
	}
	free(c->server_name);
	free(c->err);
	tls_ctx_free(c->ctx);
	tls_wipe(c, sizeof(*c));
	free(c);
}

const char *
tls_chan_error(const struct tls_chan *c)
{

	if (c->err != NULL)
		return (c->err);
	return (c->failed ? "out of memory" : "");
}

int
tls_chan_handshake_done(const struct tls_chan *c)
{

	return (c->done);
}

/* ---- channels: certificates ---- */

/* A certificate's description, as the trace and tls_info show it. */
struct tls_cert_desc {
	char subject[256];
	char issuer[256];
	char serial[41];
	char sha256[TLS_SHA256_HEX_LEN];
	char spki_sha256[TLS_SHA256_HEX_LEN];
	unsigned char spki_md[TLS_PIN_LEN];
	unsigned char cert_md[TLS_PIN_LEN];
	const char *key_type;
	const unsigned char *der;	/* borrowed */
	size_t derlen;
};

/*
 * Describe a DER certificate.  This works on the DER rather than on
 * wolfSSL's X509 objects because this wolfSSL cannot build a WOLFSSL_X509
 * for an Ed25519 certificate outside the verify callback
 * (wolfSSL_get_peer_certificate and wolfSSL_X509_d2i fail with "Setting
 * Cert Public Key error").
 */
static int
tls_cert_describe(const unsigned char *der, size_t derlen,
    struct tls_cert_desc *d)
{
	struct tls_cert_parts parts;
	const unsigned char *serial;
	size_t seriallen;

	memset(d, 0, sizeof(*d));
	d->key_type = "unknown";
	if (der == NULL || derlen == 0 || derlen > UINT32_MAX ||
	    tls_cert_parse(der, derlen, &parts))
		return (-1);
	d->der = der;
	d->derlen = derlen;
	tls_der_name(parts.subject, parts.subjectlen, d->subject,
	    sizeof(d->subject));
	tls_der_name(parts.issuer, parts.issuerlen, d->issuer,
	    sizeof(d->issuer));

	/* The serial's bytes without the sign octet, as OpenSSL shows it. */
	serial = parts.serial;
	seriallen = parts.seriallen;
	if (seriallen > 1 && serial[0] == 0x00) {
		serial++;
		seriallen--;
	}
	if (seriallen > 20)
		seriallen = 20;
	tls_hex(serial, seriallen, d->serial);

	if (wc_Sha256Hash(der, (word32)derlen, d->cert_md) != 0 ||
	    wc_Sha256Hash(parts.spki, (word32)parts.spkilen,
	    d->spki_md) != 0)
		return (-1);
	tls_hex(d->cert_md, sizeof(d->cert_md), d->sha256);
	tls_hex(d->spki_md, sizeof(d->spki_md), d->spki_sha256);
	d->key_type = tls_spki_key_type(parts.spki, parts.spkilen);
	return (0);
}

/*
 * The peer's leaf certificate as received in this connection's handshake
 * (the session's chain, index 0), or -1 if there is none.
 */
static int
tls_chan_peer_leaf(struct tls_chan *c, struct tls_cert_desc *d)
{
	WOLFSSL_X509_CHAIN *chain;
	const unsigned char *der;
	int len;

	if ((chain = wolfSSL_get_peer_chain(c->ssl)) == NULL ||
	    wolfSSL_get_chain_count(chain) < 1 ||
	    (der = wolfSSL_get_chain_cert(chain, 0)) == NULL ||
	    (len = wolfSSL_get_chain_length(chain, 0)) <= 0)
		return (-1);
	return (tls_cert_describe(der, (size_t)len, d));
}

/*
 * Client only, at depth 0 once the chain verified: the IP address check
 * and the pins.  Returns 1 to accept, 0 to fail (with the reason set).
 */
static int
tls_chan_check_leaf(struct tls_chan *c, const struct tls_cert_desc *d)
{
	char ipbuf[INET6_ADDRSTRLEN];
	size_t i;

	if (c->iplen != 0) {
		inet_ntop(c->iplen == 4 ? AF_INET : AF_INET6, c->ip, ipbuf,
		    sizeof(ipbuf));
		if (tls_cert_has_ip(d->der, d->derlen, c->ip, c->iplen) != 1) {
			tls_chan_trace(c, TLS_TRACE_NAME, "%s: not among the "
			    "certificate's IP addresses: mismatch", ipbuf);
			tls_chan_fail(c, "certificate verify failed: IP "
			    "address %s not in certificate", ipbuf);
			return (0);
		}
		tls_chan_trace(c, TLS_TRACE_NAME, "%s: matches an IP address "
		    "of the certificate", ipbuf);
	} else {
		/* wolfSSL checked the DNS name before calling us with ok. */
		tls_chan_trace(c, TLS_TRACE_NAME, "%s: matches the "
		    "certificate", c->server_name);
	}

	if (c->ctx->npins > 0) {
		for (i = 0; i < c->ctx->npins; i++)
			if (memcmp(c->ctx->pins[i], d->spki_md,
			    TLS_PIN_LEN) == 0 ||
			    memcmp(c->ctx->pins[i], d->cert_md,
			    TLS_PIN_LEN) == 0)
				break;
		if (i == c->ctx->npins) {
			tls_chan_trace(c, TLS_TRACE_PIN, "mismatch: server "
			    "key sha256:%s, certificate sha256:%s match none "
			    "of %zu pin(s)", d->spki_sha256, d->sha256,
			    c->ctx->npins);
			tls_chan_fail(c, "server key pin mismatch: got "
			    "sha256:%s", d->spki_sha256);
			return (0);
		}
		tls_chan_trace(c, TLS_TRACE_PIN, "sha256:%s matches pin %zu",
		    memcmp(c->ctx->pins[i], d->spki_md, TLS_PIN_LEN) == 0 ?
		    d->spki_sha256 : d->sha256, i + 1);
	} else {
		tls_chan_trace(c, TLS_TRACE_PIN, "no pins configured");
	}
	c->leaf_ok = 1;
	return (1);
}

/*
 * Called by wolfSSL for each certificate of the peer's chain, from the one
 * nearest the trust anchor down to the leaf (depth 0), with preverify 1 if
 * wolfSSL found it good.  Returning preverify keeps wolfSSL's verdict;
 * returning 0 fails the handshake.
 */
static int
tls_verify_cb(int preverify, WOLFSSL_X509_STORE_CTX *store)
{
	struct tls_cert_desc d;
	struct tls_chan *c;
	const unsigned char *der;
	WOLFSSL *ssl;
	int depth, e, described, len;

	ssl = wolfSSL_X509_STORE_CTX_get_ex_data(store,
	    wolfSSL_get_ex_data_X509_STORE_CTX_idx());
	if (ssl == NULL || (c = wolfSSL_get_app_data(ssl)) == NULL)
		return (0);
	depth = store->error_depth;
	e = store->error;
	der = NULL;
	len = 0;
	if (store->totalCerts > 0 && store->current_cert != NULL)
		der = wolfSSL_X509_get_der(store->current_cert, &len);
	described = der != NULL && len > 0 &&
	    tls_cert_describe(der, (size_t)len, &d) == 0;

	if (described)
		tls_chan_trace(c, TLS_TRACE_CERT, "depth %d: subject %s; "
		    "issuer %s; serial %s; key %s; sha256 %s; spki sha256 %s; "
		    "%s%s", depth, d.subject, d.issuer, d.serial, d.key_type,
		    d.sha256, d.spki_sha256, preverify ? "verified" :
		    "verify failed: ", preverify ? "" : tls_verify_reason(e));

	if (!preverify) {
		if (e == DOMAIN_NAME_MISMATCH && c->server_name != NULL)
			tls_chan_trace(c, TLS_TRACE_NAME, "%s: not in the "
			    "certificate: mismatch", c->server_name);
		if (e == DOMAIN_NAME_MISMATCH && c->server_name != NULL)
			tls_chan_fail(c, "certificate verify failed: name "
			    "mismatch: %s not in certificate",
			    c->server_name);
		else
			tls_chan_fail(c, "%scertificate verify failed: %s "
			    "(depth %d%s%s)", c->ctx->server ? "client " : "",
			    tls_verify_reason(e), depth,
			    described ? ", subject " : "",
			    described ? d.subject : "");
		return (0);
	}
	if (der == NULL) {
		/*
		 * Called with no certificate: a client that sent none to a
		 * server with optional client auth.  Nothing to add.
		 */
		return (c->ctx->server ? 1 : 0);
	}
	if (!described) {
		tls_chan_fail(c, "cannot parse %s certificate",
		    c->ctx->server ? "client" : "server");
		return (0);
	}
	if (depth == 0 && !c->ctx->server)
		return (tls_chan_check_leaf(c, &d));
	return (1);
}

/* ---- channels: the handshake ---- */

/* Turn wolfSSL's error e (from wolfSSL_get_error) into tls_chan_error. */
static void
tls_chan_fail_wolf(struct tls_chan *c, int e, const char *during)
{
	WOLFSSL_ALERT_HISTORY h;

	if (c->err != NULL) {
		c->failed = 1;
		return;
	}
	memset(&h, 0, sizeof(h));
	if (e == FATAL_ERROR &&
	    wolfSSL_get_alert_history(c->ssl, &h) == WOLFSSL_SUCCESS &&
	    h.last_rx.code > 0) {
		tls_chan_fail(c, "peer sent alert %s (%d)%s%s",
		    tls_alert_name(h.last_rx.code), h.last_rx.code,
		    during != NULL ? " during " : "",
		    during != NULL ? during : "");
		return;
	}
	switch (e) {
	case WOLFSSL_ERROR_SYSCALL:
	case SOCKET_PEER_CLOSED_E:
	case SOCKET_ERROR_E:
		tls_chan_fail(c, "peer closed%s%s", during != NULL ?
		    " during " : "", during != NULL ? during : "");
		return;
	case MATCH_SUITE_ERROR:
		tls_chan_fail(c, "no shared cipher");
		return;
	case VERSION_ERROR:
		tls_chan_fail(c, "no shared protocol version (or not TLS)");
		return;
	case BAD_KEY_SHARE_DATA:
		tls_chan_fail(c, "no shared key exchange group");
		return;
	case NO_PEER_CERT:
		tls_chan_fail(c, "%s did not send a certificate",
		    c->ctx->server ? "client" : "server");
		return;
	case UNKNOWN_ALPN_PROTOCOL_NAME_E:
		tls_chan_fail(c, "alpn mismatch: peer does not speak %s",
		    TLS_ALPN);
		return;
	case DOMAIN_NAME_MISMATCH:
		tls_chan_fail(c, "certificate verify failed: name mismatch: "
		    "%s not in certificate", c->server_name);
		return;
	case BAD_FUNC_ARG:
		/*
		 * What a 5.5.4 TLS 1.3 server returns, without an alert, when
		 * the client offers no group it supports (measured).
		 */
		if (c->ctx->server && !c->done) {
			tls_chan_fail(c, "no shared key exchange group "
			    "(wolfSSL error %d)", e);
			return;
		}
		break;
	}
	tls_chan_fail(c, "%s (%d)", wolfSSL_ERR_reason_error_string(
	    (unsigned long)e), e);
}

/* What the server's CertificateVerify proved, and the negotiation. */
static void
tls_chan_trace_done(struct tls_chan *c, const struct tls_info *info)
{
	struct tls_cert_desc d;

	if (c->ctx->trace == NULL)
		return;
	if (info->resumed)
		tls_chan_trace(c, TLS_TRACE_PROOF, "resumed: the server "
		    "proved it holds the ticket's secret (PSK binder)");
	else if (tls_chan_peer_leaf(c, &d) == 0)
		tls_chan_trace(c, TLS_TRACE_PROOF, "server signed the "
		    "handshake transcript (with our random) with its %s key: "
		    "signature verified", d.key_type);
	tls_chan_trace(c, TLS_TRACE_CLIENT_CERT, "%s",
	    c->ctx->has_client_cert ? "configured; sent if the server asked" :
	    "none configured");
	tls_chan_trace(c, TLS_TRACE_NEGOTIATED, "version %s; suite %s; "
	    "key exchange %s (ECDHE, forward secret); alpn %s; %s",
	    info->version, info->suite, info->group[0] != '\0' ? info->group :
	    "none", info->alpn[0] != '\0' ? info->alpn : "none",
	    info->resumed ? "resumed session" : "full handshake");
}

/* Checks after wolfSSL says the handshake is done. */
static int
tls_chan_finish(struct tls_chan *c)
{
	struct tls_info info;

	c->done = 1;
	if (tls_chan_info(c, &info)) {
		tls_chan_fail(c, "cannot read the negotiated parameters");
		goto fail;
	}
	if (!c->ctx->server) {
		/* Backstop: a full handshake must have passed our checks. */
		if (!info.resumed && !c->leaf_ok) {
			tls_chan_fail(c, "server certificate was not checked");
			goto fail;
		}
		if (c->ctx->alpn != NULL &&
		    strcmp(info.alpn, c->ctx->alpn) != 0) {
			tls_chan_fail(c, "alpn mismatch: server did not "
			    "select %s", c->ctx->alpn);
			goto fail;
		}
		tls_chan_trace_done(c, &info);
	}
	return (0);

fail:
	c->done = 0;
	return (-1);
}

/* Big-endian reads for tls_hello_check. */
static size_t
tls_be16(const unsigned char *p)
{

	return ((size_t)p[0] << 8 | p[1]);
}

/*
 * tls_hello_check(c): look at the first ClientHello before wolfSSL does.
 *
 * wolfSSL 5.5.4 answers a TLS 1.3 ClientHello whose supported_groups
 * holds none of the server's groups with a HelloRetryRequest for one of
 * its own (measured), which RFC 8446 section 4.1.4 forbids: the group must
 * be one the client listed.  No handshake can complete that way, but a
 * scanner (sslscan) that offers one group at a time takes the retry for
 * "accepted" and reports weak groups the server never uses.  So the server
 * refuses such a hello itself, with a handshake_failure alert.
 *
 * Returns 1 when more bytes are needed to tell, 0 to let wolfSSL go on
 * (the hello is acceptable, or not one this check can read: wolfSSL then
 * judges it), or -1 with the channel failed.  Reads only the first record,
 * bounds-checking every length against it.
 */
static int
tls_hello_check(struct tls_chan *c)
{
	static const unsigned char alert[] = { 0x15, 0x03, 0x03, 0x00, 0x02,
	    0x02, 0x28 };	/* fatal handshake_failure */
	const unsigned char *p, *end, *ext, *ext_end;
	size_t n = c->in_end - c->in_off, len, glen, i, j;
	char offered[96];

	/* An idle channel has no buffer (c->in is NULL): look first. */
	if (n < 5)
		return (c->eof ? 0 : 1);
	p = c->in + c->in_off;
	len = tls_be16(p + 3);
	if (p[0] != 0x16 || len < 4 || len > 16384)
		return (0);
	if (n < 5 + len)
		return (c->eof ? 0 : 1);
	end = p + 5 + len;
	p += 5;
	/* Handshake header: a ClientHello that fits in this record. */
	if (p[0] != 0x01 || ((size_t)p[1] << 16 | tls_be16(p + 2)) > len - 4)
		return (0);
	end = p + 4 + ((size_t)p[1] << 16 | tls_be16(p + 2));
	p += 4;
	/* legacy_version, random, session id, suites, compression. */
	if (end - p < 2 + 32 + 1)
		return (0);
	p += 2 + 32;
	if ((size_t)(end - p) < 1 + (size_t)p[0])
		return (0);
	p += 1 + p[0];
	if (end - p < 2 || (size_t)(end - p) < 2 + tls_be16(p))
		return (0);
	p += 2 + tls_be16(p);
	if (end - p < 1 || (size_t)(end - p) < 1 + (size_t)p[0])
		return (0);
	p += 1 + p[0];
	if (end - p < 2 || (size_t)(end - p) < 2 + tls_be16(p))
		return (0);
	ext_end = p + 2 + tls_be16(p);
	for (ext = p + 2; ext_end - ext >= 4; ext += 4 + len) {
		len = tls_be16(ext + 2);
		if ((size_t)(ext_end - ext - 4) < len)
			return (0);
		if (tls_be16(ext) != 10)	/* supported_groups */
			continue;
		if (len < 2 || (glen = tls_be16(ext + 4)) > len - 2 ||
		    glen % 2 != 0)
			return (0);
		offered[0] = '\0';
		for (i = 0; i < glen; i += 2) {
			for (j = 0; j < c->ctx->ngroup_ids; j++)
				if ((int)tls_be16(ext + 6 + i) ==
				    c->ctx->group_ids[j])
					return (0);
			if (strlen(offered) + 8 < sizeof(offered))
				snprintf(offered + strlen(offered), 8, "%s0x%04zx",
				    i > 0 ? "," : "", tls_be16(ext + 6 + i));
		}
		tls_chan_fail(c, "no shared key exchange group (client offers "
		    "%s)", glen > 0 ? offered : "none");
		(void)tls_send_cb(c->ssl, (char *)(uintptr_t)alert,
		    sizeof(alert), c);
		return (-1);
	}
	return (0);	/* no supported_groups: wolfSSL decides */
}

int
tls_chan_handshake(struct tls_chan *c)
{
	int rc, e;

	if (c->failed)
		return (TLS_ERROR);
	if (c->done)
		return (TLS_OK);
	if (!c->ctx->server && !c->offered) {
		c->offered = 1;
		tls_chan_trace(c, TLS_TRACE_OFFER, "%s; alpn %s; sni %s; "
		    "compression none", c->ctx->offer, c->ctx->alpn != NULL ?
		    c->ctx->alpn : "none", c->iplen != 0 ? "none (IP address)" :
		    c->server_name);
	}

	if (c->ctx->server && !c->hello_checked) {
		if ((rc = tls_hello_check(c)) > 0)
			return (TLS_WANT_READ);
		if (rc < 0)
			goto fail;
		c->hello_checked = 1;
	}
	rc = c->ctx->server ? wolfSSL_accept(c->ssl) :
	    wolfSSL_connect(c->ssl);
	if (rc == WOLFSSL_SUCCESS) {
		if (tls_chan_finish(c))
			goto fail;
		return (TLS_OK);
	}
	e = wolfSSL_get_error(c->ssl, rc);
	if (e == WOLFSSL_ERROR_WANT_READ && !c->failed)
		return (TLS_WANT_READ);
	if (c->eof && c->in_end == c->in_off &&
	    (e == WOLFSSL_ERROR_SYSCALL || e == SOCKET_PEER_CLOSED_E ||
	    e == SOCKET_ERROR_E || e == WOLFSSL_ERROR_ZERO_RETURN))
		tls_chan_fail(c, "peer closed during handshake");
	else
		tls_chan_fail_wolf(c, e, "handshake");

fail:
	tls_chan_trace(c, TLS_TRACE_ERROR, "%s", tls_chan_error(c));
	return (TLS_ERROR);
}

/* ---- channels: application data ---- */

ssize_t
tls_chan_read(struct tls_chan *c, void *buf, size_t len)
{
	unsigned char *p = buf;
	size_t got = 0;
	int n, e, want;

	if (c->failed)
		return (TLS_ERROR);
	if (!c->done) {
		tls_chan_fail(c, "read before the handshake completed");
		return (TLS_ERROR);
	}
	if (c->closed)
		return (TLS_CLOSED);

	/* wolfSSL_read returns at most one record a call: loop. */
	while (got < len) {
		want = len - got > INT_MAX ? INT_MAX : (int)(len - got);
		if ((n = wolfSSL_read(c->ssl, p + got, want)) > 0) {
			got += (size_t)n;
			continue;
		}
		e = wolfSSL_get_error(c->ssl, n);
		if (e == WOLFSSL_ERROR_WANT_READ)
			break;
		if (e == WOLFSSL_ERROR_ZERO_RETURN) {
			c->closed = 1;
			break;
		}
		if (c->eof && c->in_end == c->in_off &&
		    (e == WOLFSSL_ERROR_SYSCALL || e == SOCKET_PEER_CLOSED_E ||
		    e == SOCKET_ERROR_E)) {
			/* EOF without close_notify: closed all the same. */
			c->closed = 1;
			break;
		}
		tls_chan_fail_wolf(c, e, NULL);
		break;
	}
	if (got > 0)
		return ((ssize_t)got);
	if (c->failed)
		return (TLS_ERROR);
	if (c->closed)
		return (TLS_CLOSED);
	return (TLS_WANT_READ);
}

int
tls_chan_write(struct tls_chan *c, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	int n, chunk;

	if (c->failed)
		return (TLS_ERROR);
	if (!c->done || c->sent_close) {
		tls_chan_fail(c, "write %s", c->sent_close ?
		    "after close_notify" : "before the handshake completed");
		return (TLS_ERROR);
	}
	while (len > 0) {
		chunk = len > TLS_WRITE_CHUNK ? TLS_WRITE_CHUNK : (int)len;
		if ((n = wolfSSL_write(c->ssl, p, chunk)) <= 0) {
			tls_chan_fail_wolf(c, wolfSSL_get_error(c->ssl, n),
			    NULL);
			return (TLS_ERROR);
		}
		p += n;
		len -= (size_t)n;
	}
	return (0);
}

int
tls_chan_close_notify(struct tls_chan *c)
{
	int rc;

	if (c->failed)
		return (TLS_ERROR);
	if (c->sent_close)
		return (0);
	c->sent_close = 1;

	/*
	 * Sends the alert; it returns SHUTDOWN_NOT_DONE until the peer's
	 * close_notify arrives, which is not our business here.
	 */
	rc = wolfSSL_shutdown(c->ssl);
	if (rc != WOLFSSL_SUCCESS && rc != WOLFSSL_SHUTDOWN_NOT_DONE &&
	    c->out_len == 0) {
		tls_chan_fail_wolf(c, wolfSSL_get_error(c->ssl, rc), NULL);
		return (TLS_ERROR);
	}
	return (0);
}

/* ---- channels: what was agreed ---- */

int
tls_chan_info(struct tls_chan *c, struct tls_info *info)
{
	struct tls_cert_desc d;
	const char *s, *wolf;
	char *proto;
	unsigned short plen;
	size_t i;

	memset(info, 0, sizeof(*info));
	if (!c->done)
		return (-1);

	if ((s = wolfSSL_get_version(c->ssl)) != NULL)
		snprintf(info->version, sizeof(info->version), "%s", s);
	if ((wolf = wolfSSL_get_cipher_name(c->ssl)) != NULL) {
		s = wolf;
		for (i = 0; i < sizeof(tls_suites) / sizeof(tls_suites[0]);
		    i++)
			if (strcmp(wolf, tls_suites[i].wolf) == 0)
				s = tls_suites[i].iana;
		snprintf(info->suite, sizeof(info->suite), "%s", s);
	}
	if ((wolf = wolfSSL_get_curve_name(c->ssl)) != NULL) {
		s = wolf;
		for (i = 0; i < TLS_MAX_GROUPS; i++)
			if (strcasecmp(wolf, tls_groups[i].wolf) == 0)
				s = tls_groups[i].name;
		snprintf(info->group, sizeof(info->group), "%s", s);
	}
	if (wolfSSL_ALPN_GetProtocol(c->ssl, &proto, &plen) ==
	    WOLFSSL_SUCCESS && proto != NULL) {
		info->alpn[0] = '\0';
		tls_append_escaped(info->alpn, sizeof(info->alpn),
		    (const unsigned char *)proto, plen);
	}
	info->resumed = wolfSSL_session_reused(c->ssl) ? 1 : 0;

	/*
	 * A resumed session carries no certificate we have verified in this
	 * handshake (and on a server wolfSSL may not have the client's at
	 * all): never treat it as certificate-authenticated.
	 */
	if (info->resumed) {
		snprintf(info->peer_note, sizeof(info->peer_note),
		    "resumed, no peer certificate");
		return (0);
	}
	if (tls_chan_peer_leaf(c, &d) != 0) {
		snprintf(info->peer_note, sizeof(info->peer_note),
		    "no peer certificate");
		return (0);
	}

	/* The handshake only completes if the certificate verified. */
	info->peer_verified = 1;
	snprintf(info->peer_note, sizeof(info->peer_note), "verified");
	memcpy(info->peer_subject, d.subject, sizeof(info->peer_subject));
	memcpy(info->peer_issuer, d.issuer, sizeof(info->peer_issuer));
	memcpy(info->peer_serial, d.serial, sizeof(info->peer_serial));
	memcpy(info->peer_sha256, d.sha256, sizeof(info->peer_sha256));
	memcpy(info->peer_spki_sha256, d.spki_sha256,
	    sizeof(info->peer_spki_sha256));
	return (0);
}

/* ---- channels: client sessions ---- */

int
tls_chan_get_session(struct tls_chan *c, unsigned char **buf, size_t *len)
{
	WOLFSSL_SESSION *s;
	unsigned char *b, *p;
	int n;

	*buf = NULL;
	*len = 0;
	if (c->ctx->server || !c->done)
		return (-1);
	if ((s = wolfSSL_get1_session(c->ssl)) == NULL)
		return (-1);
	if (!wolfSSL_SESSION_has_ticket(s) ||
	    (n = wolfSSL_i2d_SSL_SESSION(s, NULL)) <= 0 ||
	    (b = malloc((size_t)n)) == NULL)
		goto err1;
	p = b;
	if (wolfSSL_i2d_SSL_SESSION(s, &p) != n) {
		tls_wipe(b, (size_t)n);
		free(b);
		goto err1;
	}
	wolfSSL_SESSION_free(s);
	*buf = b;
	*len = (size_t)n;
	return (0);

err1:
	wolfSSL_SESSION_free(s);
	return (-1);
}

int
tls_chan_set_session(struct tls_chan *c, const unsigned char *buf,
    size_t len)
{
	WOLFSSL_SESSION *s;
	const unsigned char *p = buf;
	int rc;

	if (c->ctx->server || c->done || len > LONG_MAX)
		return (-1);
	if ((s = wolfSSL_d2i_SSL_SESSION(NULL, &p, (long)len)) == NULL)
		return (-1);
	rc = wolfSSL_set_session(c->ssl, s);
	wolfSSL_SESSION_free(s);
	return (rc == WOLFSSL_SUCCESS ? 0 : -1);
}
