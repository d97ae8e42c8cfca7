#ifndef SECD_CERTGEN_H
#define SECD_CERTGEN_H

/*
 * certgen: a development PKI made with wolfCrypt, for `secctl certs` and for
 * the tests.  One call writes a fresh CA, a server certificate for the
 * loopback names and a client certificate for the account AAA.  These are
 * development certificates: production operators bring their own.
 */

#include <stddef.h>

enum certgen_key_type {
	CERTGEN_ED25519 = 0,	/* default: fastest to sign with this wolfCrypt */
	CERTGEN_P256,		/* ECDSA on secp256r1 with SHA-256 */
	CERTGEN_RSA		/* RSA 2048 with SHA-256 (slow to generate) */
};

/* Validity of the leaf certificates when valid_days is 0. */
#define CERTGEN_DEFAULT_DAYS	365

/*
 * certgen_make_dev(dir, type, valid_days, err, errlen):
 * Write into the existing directory dir, replacing files of the same name:
 *   ca.pem      self-signed CA (basicConstraints CA:TRUE, keyUsage
 *               keyCertSign+cRLSign), valid valid_days + 10 years
 *   ca.key      its private key, PKCS#8 PEM, mode 0600
 *   server.pem  server certificate issued by the CA: CN=localhost,
 *               subjectAltName DNS:localhost, IP:127.0.0.1, IP:::1,
 *               extendedKeyUsage serverAuth
 *   server.key  mode 0600
 *   client.pem  client certificate issued by the CA: CN=AAA,
 *               extendedKeyUsage clientAuth
 *   client.key  mode 0600
 * All keys are of the given type.  Leaves are valid for valid_days
 * (CERTGEN_DEFAULT_DAYS if 0); notBefore is one day in the past.  Serials
 * are 127 random bits.  Each file is written to a temporary name and renamed
 * into place, so a reader never sees half a key.  Two calls make two
 * unrelated CAs.  Returns 0, or -1 with a message naming the file in err.
 * Key material is wiped from memory before return.
 */
int certgen_make_dev(const char *dir, enum certgen_key_type type,
    unsigned valid_days, char *err, size_t errlen);

/*
 * certgen_key_type_parse(name, type): "ed25519", "p256" (or "ecdsa") and
 * "rsa" (or "rsa2048") to *type.  Returns 0, or -1 for an unknown name.
 */
int certgen_key_type_parse(const char *name, enum certgen_key_type *type);

/* certgen_key_type_name(type): the name certgen_key_type_parse accepts. */
const char *certgen_key_type_name(enum certgen_key_type type);

#endif /* !SECD_CERTGEN_H */
