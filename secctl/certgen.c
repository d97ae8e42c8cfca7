/*
 * certgen.c: a development PKI made with wolfCrypt's certificate generation.
 *
 * One CA signs a server certificate (for localhost, 127.0.0.1 and ::1) and a
 * client certificate (CN=AAA).  Everything is built in memory, then each file
 * is written under a temporary name and renamed into place.
 *
 * wolfCrypt's Cert has no setter for IP address subjectAltNames, but it
 * accepts the extension's value as raw DER (Cert.altNames), so the
 * GeneralNames sequence is encoded here by hand: it is a handful of bytes.
 */

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/settings.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/ed25519.h>
#include <wolfssl/wolfcrypt/error-crypt.h>
#include <wolfssl/wolfcrypt/random.h>
#include <wolfssl/wolfcrypt/rsa.h>

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "certgen.h"

/* Room for one DER certificate or key; RSA 2048 needs about 1.3 KiB. */
#define CERTGEN_DER_MAX		4096

/* The CA outlives its leaves by this many days. */
#define CERTGEN_CA_EXTRA_DAYS	3650

/* Serial numbers: 16 random bytes, top bit clear so the INTEGER is positive. */
#define CERTGEN_SERIAL_LEN	16

enum certgen_role {
	CERTGEN_ROLE_CA,
	CERTGEN_ROLE_SERVER,
	CERTGEN_ROLE_CLIENT
};

struct certgen_key {
	enum certgen_key_type type;
	int live;
	union {
		ed25519_key ed;
		ecc_key ecc;
		RsaKey rsa;
	} u;
};

/* What one certificate says; the issuer is given separately. */
struct certgen_req {
	enum certgen_role role;
	const char *cn;
	int days;
};

static void certgen_errf(char *, size_t, const char *, ...)
    __attribute__((format(printf, 3, 4)));

static void
certgen_errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static void
certgen_wipe(void *p, size_t len)
{

	if (p != NULL)
		explicit_bzero(p, len);
}

int
certgen_key_type_parse(const char *name, enum certgen_key_type *type)
{

	if (strcmp(name, "ed25519") == 0)
		*type = CERTGEN_ED25519;
	else if (strcmp(name, "p256") == 0 || strcmp(name, "ecdsa") == 0)
		*type = CERTGEN_P256;
	else if (strcmp(name, "rsa") == 0 || strcmp(name, "rsa2048") == 0)
		*type = CERTGEN_RSA;
	else
		return (-1);
	return (0);
}

const char *
certgen_key_type_name(enum certgen_key_type type)
{

	switch (type) {
	case CERTGEN_ED25519:
		return ("ed25519");
	case CERTGEN_P256:
		return ("p256");
	case CERTGEN_RSA:
		return ("rsa");
	}
	return ("unknown");
}

/* wolfCrypt's key type constant for wc_MakeCert_ex and friends. */
static int
certgen_wc_key_type(enum certgen_key_type type)
{

	switch (type) {
	case CERTGEN_P256:
		return (ECC_TYPE);
	case CERTGEN_RSA:
		return (RSA_TYPE);
	case CERTGEN_ED25519:
		break;
	}
	return (ED25519_TYPE);
}

/* The signature algorithm a key of this type signs certificates with. */
static int
certgen_sig_type(enum certgen_key_type type)
{

	switch (type) {
	case CERTGEN_P256:
		return (CTC_SHA256wECDSA);
	case CERTGEN_RSA:
		return (CTC_SHA256wRSA);
	case CERTGEN_ED25519:
		break;
	}
	return (CTC_ED25519);
}

static void *
certgen_key_ptr(struct certgen_key *k)
{

	switch (k->type) {
	case CERTGEN_P256:
		return (&k->u.ecc);
	case CERTGEN_RSA:
		return (&k->u.rsa);
	case CERTGEN_ED25519:
		break;
	}
	return (&k->u.ed);
}

static void
certgen_key_free(struct certgen_key *k)
{

	if (k->live) {
		switch (k->type) {
		case CERTGEN_ED25519:
			wc_ed25519_free(&k->u.ed);
			break;
		case CERTGEN_P256:
			wc_ecc_free(&k->u.ecc);
			break;
		case CERTGEN_RSA:
			wc_FreeRsaKey(&k->u.rsa);
			break;
		}
	}
	certgen_wipe(k, sizeof(*k));
}

static int
certgen_key_make(struct certgen_key *k, enum certgen_key_type type,
    WC_RNG *rng, char *err, size_t errlen)
{
	int rc;

	memset(k, 0, sizeof(*k));
	k->type = type;
	switch (type) {
	case CERTGEN_ED25519:
		if ((rc = wc_ed25519_init(&k->u.ed)) != 0)
			goto err0;
		k->live = 1;
		rc = wc_ed25519_make_key(rng, ED25519_KEY_SIZE, &k->u.ed);
		break;
	case CERTGEN_P256:
		if ((rc = wc_ecc_init(&k->u.ecc)) != 0)
			goto err0;
		k->live = 1;
		rc = wc_ecc_make_key_ex(rng, 32, &k->u.ecc, ECC_SECP256R1);
		break;
	case CERTGEN_RSA:
		if ((rc = wc_InitRsaKey(&k->u.rsa, NULL)) != 0)
			goto err0;
		k->live = 1;
		if ((rc = wc_RsaSetRNG(&k->u.rsa, rng)) != 0)
			goto err0;
		rc = wc_MakeRsaKey(&k->u.rsa, 2048, WC_RSA_EXPONENT, rng);
		break;
	default:
		rc = BAD_FUNC_ARG;
		break;
	}
	if (rc != 0)
		goto err0;

	/* Success! */
	return (0);

err0:
	certgen_errf(err, errlen, "cannot make %s key: %s",
	    certgen_key_type_name(type), wc_GetErrorString(rc));
	certgen_key_free(k);
	return (-1);
}

/*
 * The private key as DER: PKCS#8 for Ed25519 and P-256, PKCS#1 for RSA (the
 * PEM label then says which).  Returns the length, or a negative wolfCrypt
 * error.
 */
static int
certgen_key_der(struct certgen_key *k, unsigned char *der, word32 dersz,
    int *pemtype)
{
	word32 len = dersz;
	int rc;

	switch (k->type) {
	case CERTGEN_ED25519:
		/*
		 * Not wc_Ed25519KeyToDer: in 5.5.4 it appends the public key
		 * as [1] without the BIT STRING's unused-bits octet and keeps
		 * version 0, which OpenSSL rejects.  The plain RFC 8410 form
		 * (version 0, private key only) is what `openssl genpkey`
		 * writes, and wolfSSL derives the public half when loading.
		 */
		*pemtype = PKCS8_PRIVATEKEY_TYPE;
		return (wc_Ed25519PrivateKeyToDer(&k->u.ed, der, dersz));
	case CERTGEN_P256:
		*pemtype = PKCS8_PRIVATEKEY_TYPE;
		if ((rc = wc_EccKeyToPKCS8(&k->u.ecc, der, &len)) < 0)
			return (rc);
		return ((int)len);
	case CERTGEN_RSA:
		*pemtype = PRIVATEKEY_TYPE;
		return (wc_RsaKeyToDer(&k->u.rsa, der, dersz));
	}
	return (BAD_FUNC_ARG);
}

/*
 * Write len bytes of data to dir/name with the given mode: to a temporary
 * file first, then rename over the final name.
 */
static int
certgen_write_file(const char *dir, const char *name, const void *data,
    size_t len, mode_t mode, char *err, size_t errlen)
{
	char path[4096], tmp[4096];
	const unsigned char *p = data;
	ssize_t n;
	int fd;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >=
	    sizeof(path) ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name) >=
	    sizeof(tmp)) {
		certgen_errf(err, errlen, "%s/%s: path too long", dir, name);
		goto err0;
	}

	/* A stale temporary file from an interrupted run is ours to remove. */
	if (unlink(tmp) == -1 && errno != ENOENT) {
		certgen_errf(err, errlen, "cannot remove %s: %s", tmp,
		    strerror(errno));
		goto err0;
	}
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, mode)) == -1) {
		certgen_errf(err, errlen, "cannot create %s: %s", tmp,
		    strerror(errno));
		goto err0;
	}

	/* The umask can only narrow the mode; make it exactly what we say. */
	if (fchmod(fd, mode) == -1) {
		certgen_errf(err, errlen, "cannot chmod %s: %s", tmp,
		    strerror(errno));
		goto err2;
	}
	while (len > 0) {
		if ((n = write(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			certgen_errf(err, errlen, "cannot write %s: %s", tmp,
			    strerror(errno));
			goto err2;
		}
		p += n;
		len -= (size_t)n;
	}
	if (fsync(fd) == -1) {
		certgen_errf(err, errlen, "cannot fsync %s: %s", tmp,
		    strerror(errno));
		goto err2;
	}
	if (close(fd) == -1) {
		certgen_errf(err, errlen, "cannot close %s: %s", tmp,
		    strerror(errno));
		goto err1;
	}
	if (rename(tmp, path) == -1) {
		certgen_errf(err, errlen, "cannot rename %s to %s: %s", tmp,
		    path, strerror(errno));
		goto err1;
	}

	/* Success! */
	return (0);

err2:
	close(fd);
err1:
	unlink(tmp);
err0:
	/* Failure! */
	return (-1);
}

/* DER to PEM of the given wolfCrypt type, then to dir/name. */
static int
certgen_write_pem(const char *dir, const char *name, const unsigned char *der,
    int derlen, int pemtype, mode_t mode, char *err, size_t errlen)
{
	unsigned char *pem;
	size_t pemsz;
	int pemlen;

	/* Base64 grows by 4/3, plus a newline each 64 and the two lines. */
	pemsz = (size_t)derlen * 2 + 128;
	if ((pem = malloc(pemsz)) == NULL) {
		certgen_errf(err, errlen, "%s/%s: out of memory", dir, name);
		goto err0;
	}
	if ((pemlen = wc_DerToPem(der, (word32)derlen, pem, (word32)pemsz,
	    pemtype)) < 0) {
		certgen_errf(err, errlen, "%s/%s: cannot encode PEM: %s", dir,
		    name, wc_GetErrorString(pemlen));
		goto err1;
	}
	if (certgen_write_file(dir, name, pem, (size_t)pemlen, mode, err,
	    errlen))
		goto err1;

	certgen_wipe(pem, pemsz);
	free(pem);

	/* Success! */
	return (0);

err1:
	certgen_wipe(pem, pemsz);
	free(pem);
err0:
	/* Failure! */
	return (-1);
}

static int
certgen_write_key(const char *dir, const char *name, struct certgen_key *k,
    char *err, size_t errlen)
{
	unsigned char der[CERTGEN_DER_MAX];
	int derlen, pemtype;

	if ((derlen = certgen_key_der(k, der, sizeof(der), &pemtype)) < 0) {
		certgen_errf(err, errlen, "%s/%s: cannot encode key: %s", dir,
		    name, wc_GetErrorString(derlen));
		goto err1;
	}
	if (certgen_write_pem(dir, name, der, derlen, pemtype, 0600, err,
	    errlen))
		goto err1;

	certgen_wipe(der, sizeof(der));

	/* Success! */
	return (0);

err1:
	certgen_wipe(der, sizeof(der));

	/* Failure! */
	return (-1);
}

/*
 * The subjectAltName value for the server: GeneralNames with
 * dNSName "localhost" ([2] IA5String) and two iPAddress entries ([7] OCTET
 * STRING of 4 and 16 bytes).  Every length is under 128, so each is one
 * byte.  Returns the length written to out.
 */
static int
certgen_server_altnames(unsigned char *out, size_t outsz)
{
	static const char dns[] = "localhost";
	static const unsigned char v4[4] = { 127, 0, 0, 1 };
	static const unsigned char v6[16] = { [15] = 1 };
	size_t n = 2;

	if (outsz < 2 + 2 + (sizeof(dns) - 1) + 2 + sizeof(v4) + 2 +
	    sizeof(v6))
		return (-1);
	out[n++] = 0x82;
	out[n++] = sizeof(dns) - 1;
	memcpy(&out[n], dns, sizeof(dns) - 1);
	n += sizeof(dns) - 1;
	out[n++] = 0x87;
	out[n++] = sizeof(v4);
	memcpy(&out[n], v4, sizeof(v4));
	n += sizeof(v4);
	out[n++] = 0x87;
	out[n++] = sizeof(v6);
	memcpy(&out[n], v6, sizeof(v6));
	n += sizeof(v6);
	out[0] = 0x30;
	out[1] = (unsigned char)(n - 2);
	return ((int)n);
}

static void
certgen_set_name(CertName *name, const char *cn)
{

	snprintf(name->org, sizeof(name->org), "%s", "secd development");
	name->orgEnc = CTC_UTF8;
	snprintf(name->commonName, sizeof(name->commonName), "%s", cn);
	name->commonNameEnc = CTC_UTF8;
}

/*
 * Make and sign one certificate for the public half of subj, signed by
 * issuer.  issuer_der is the issuer's certificate, or NULL for a self-signed
 * one (then issuer == subj).  Returns the DER length in der, or -1.
 */
static int
certgen_cert_make(const struct certgen_req *req, struct certgen_key *subj,
    struct certgen_key *issuer, const unsigned char *issuer_der,
    int issuer_derlen, WC_RNG *rng, unsigned char *der, word32 dersz,
    char *err, size_t errlen)
{
	Cert *cert;
	const char *what;
	int rc, len;

	if ((cert = wc_CertNew(NULL)) == NULL) {
		certgen_errf(err, errlen, "certificate for %s: out of memory",
		    req->cn);
		goto err0;
	}
	what = "init";
	if ((rc = wc_InitCert(cert)) != 0)
		goto err1;

	cert->version = 2;	/* X.509 v3 */
	cert->sigType = certgen_sig_type(issuer->type);
	cert->daysValid = req->days;
	certgen_set_name(&cert->subject, req->cn);

	what = "serial";
	if ((rc = wc_RNG_GenerateBlock(rng, cert->serial,
	    CERTGEN_SERIAL_LEN)) != 0)
		goto err1;
	cert->serial[0] = (cert->serial[0] & 0x7f) | 0x40;
	cert->serialSz = CERTGEN_SERIAL_LEN;

	if (issuer_der == NULL) {
		cert->selfSigned = 1;
		certgen_set_name(&cert->issuer, req->cn);
	} else {
		cert->selfSigned = 0;
		what = "issuer";
		if ((rc = wc_SetIssuerBuffer(cert, issuer_der,
		    issuer_derlen)) != 0)
			goto err1;
	}

	what = "subject key id";
	if ((rc = wc_SetSubjectKeyIdFromPublicKey_ex(cert,
	    certgen_wc_key_type(subj->type), certgen_key_ptr(subj))) != 0)
		goto err1;
	what = "authority key id";
	if ((rc = wc_SetAuthKeyIdFromPublicKey_ex(cert,
	    certgen_wc_key_type(issuer->type), certgen_key_ptr(issuer))) != 0)
		goto err1;

	switch (req->role) {
	case CERTGEN_ROLE_CA:
		cert->isCA = 1;
		what = "key usage";
		if ((rc = wc_SetKeyUsage(cert, "keyCertSign,cRLSign")) != 0)
			goto err1;
		break;
	case CERTGEN_ROLE_SERVER:
		what = "key usage";
		if ((rc = wc_SetKeyUsage(cert, "digitalSignature")) != 0)
			goto err1;
		what = "extended key usage";
		if ((rc = wc_SetExtKeyUsage(cert, "serverAuth")) != 0)
			goto err1;
		what = "subject alternative names";
		if ((len = certgen_server_altnames(cert->altNames,
		    sizeof(cert->altNames))) < 0) {
			rc = BUFFER_E;
			goto err1;
		}
		cert->altNamesSz = len;
		break;
	case CERTGEN_ROLE_CLIENT:
		what = "key usage";
		if ((rc = wc_SetKeyUsage(cert, "digitalSignature")) != 0)
			goto err1;
		what = "extended key usage";
		if ((rc = wc_SetExtKeyUsage(cert, "clientAuth")) != 0)
			goto err1;
		break;
	}

	what = "encode";
	if ((rc = wc_MakeCert_ex(cert, der, dersz,
	    certgen_wc_key_type(subj->type), certgen_key_ptr(subj), rng)) < 0)
		goto err1;
	what = "sign";
	if ((rc = wc_SignCert_ex(cert->bodySz, cert->sigType, der, dersz,
	    certgen_wc_key_type(issuer->type), certgen_key_ptr(issuer),
	    rng)) < 0)
		goto err1;
	len = rc;

	wc_CertFree(cert);

	/* Success! */
	return (len);

err1:
	certgen_errf(err, errlen, "certificate for %s: %s: %s", req->cn, what,
	    wc_GetErrorString(rc));
	wc_CertFree(cert);
err0:
	/* Failure! */
	return (-1);
}

/* Make a key pair and a certificate for it, and write both. */
static int
certgen_leaf(const char *dir, const char *base, const struct certgen_req *req,
    enum certgen_key_type type, struct certgen_key *ca,
    const unsigned char *ca_der, int ca_derlen, WC_RNG *rng, char *err,
    size_t errlen)
{
	struct certgen_key key;
	unsigned char der[CERTGEN_DER_MAX];
	char name[64];
	int derlen;

	if (certgen_key_make(&key, type, rng, err, errlen))
		goto err0;
	if ((derlen = certgen_cert_make(req, &key, ca, ca_der, ca_derlen, rng,
	    der, sizeof(der), err, errlen)) < 0)
		goto err1;
	snprintf(name, sizeof(name), "%s.pem", base);
	if (certgen_write_pem(dir, name, der, derlen, CERT_TYPE, 0644, err,
	    errlen))
		goto err1;
	snprintf(name, sizeof(name), "%s.key", base);
	if (certgen_write_key(dir, name, &key, err, errlen))
		goto err1;
	certgen_key_free(&key);

	/* Success! */
	return (0);

err1:
	certgen_key_free(&key);
err0:
	/* Failure! */
	return (-1);
}

int
certgen_make_dev(const char *dir, enum certgen_key_type type,
    unsigned valid_days, char *err, size_t errlen)
{
	struct certgen_req req;
	struct certgen_key ca;
	unsigned char ca_der[CERTGEN_DER_MAX];
	WC_RNG rng;
	int ca_derlen, days, rc;

	if (valid_days == 0)
		valid_days = CERTGEN_DEFAULT_DAYS;
	if (valid_days > 36500) {
		certgen_errf(err, errlen, "validity of %u days is too long "
		    "(at most 36500)", valid_days);
		goto err0;
	}
	days = (int)valid_days;

	if ((rc = wc_InitRng(&rng)) != 0) {
		certgen_errf(err, errlen, "cannot seed random generator: %s",
		    wc_GetErrorString(rc));
		goto err0;
	}

	/* The CA: self-signed, and outliving the certificates it issues. */
	if (certgen_key_make(&ca, type, &rng, err, errlen))
		goto err1;
	req.role = CERTGEN_ROLE_CA;
	req.cn = "secd development CA";
	req.days = days + CERTGEN_CA_EXTRA_DAYS;
	if ((ca_derlen = certgen_cert_make(&req, &ca, &ca, NULL, 0, &rng,
	    ca_der, sizeof(ca_der), err, errlen)) < 0)
		goto err2;
	if (certgen_write_pem(dir, "ca.pem", ca_der, ca_derlen, CERT_TYPE,
	    0644, err, errlen))
		goto err2;
	if (certgen_write_key(dir, "ca.key", &ca, err, errlen))
		goto err2;

	req.role = CERTGEN_ROLE_SERVER;
	req.cn = "localhost";
	req.days = days;
	if (certgen_leaf(dir, "server", &req, type, &ca, ca_der, ca_derlen,
	    &rng, err, errlen))
		goto err2;

	req.role = CERTGEN_ROLE_CLIENT;
	req.cn = "AAA";
	if (certgen_leaf(dir, "client", &req, type, &ca, ca_der, ca_derlen,
	    &rng, err, errlen))
		goto err2;

	certgen_key_free(&ca);
	wc_FreeRng(&rng);

	/* Success! */
	return (0);

err2:
	certgen_key_free(&ca);
err1:
	wc_FreeRng(&rng);
err0:
	/* Failure! */
	return (-1);
}
