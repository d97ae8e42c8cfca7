/*
 * tlsconf.c: translate the tls section of struct conf into the proto
 * layer's struct tls_server_config.  Kept apart from both so that conf/
 * knows nothing of wolfSSL and proto/ nothing of YAML.
 */
#include <stdio.h>
#include <string.h>

#include "conf.h"
#include "priv.h"
#include "tls.h"
#include "tlsconf.h"

/* Join names with ':' into buf; 0, or -1 if it does not fit. */
static int
tlsconf_join(char *buf, size_t size, const char *const *names, size_t n)
{
	size_t i, off = 0;
	int w;

	buf[0] = '\0';
	for (i = 0; i < n; i++) {
		w = snprintf(buf + off, size - off, "%s%s", i ? ":" : "",
		    names[i]);
		if (w < 0 || (size_t)w >= size - off)
			return -1;
		off += (size_t)w;
	}
	return 0;
}

struct tls_ctx *
tlsconf_server_ctx(const struct conf *conf, char *err, size_t errlen)
{
	const struct conf_tls *t = &conf->tls;
	struct tls_server_config cfg;
	const char *names[CONF_CIPHER_COUNT + CONF_GROUP_COUNT];
	char ciphers[256], groups[128];
	size_t i;

	if (t->certificate == NULL || t->key == NULL) {
		snprintf(err, errlen, "%s: tls.certificate and tls.key are not "
		    "set: secd needs a certificate chain and its key (for "
		    "development, 'secctl certs --out DIR' makes them)",
		    conf->name);
		return NULL;
	}
	if (priv_check_key_file("tls.key", t->key, err, errlen) != 0)
		return NULL;
	memset(&cfg, 0, sizeof(cfg));
	cfg.cert_file = t->certificate;
	cfg.key_file = t->key;
	cfg.client_ca_file = t->client_ca;
	switch (t->client_auth) {
	case CONF_CLIENT_AUTH_OPTIONAL:
		cfg.client_auth = TLS_CLIENT_AUTH_OPTIONAL;
		break;
	case CONF_CLIENT_AUTH_REQUIRED:
		cfg.client_auth = TLS_CLIENT_AUTH_REQUIRED;
		break;
	default:
		cfg.client_auth = TLS_CLIENT_AUTH_NONE;
		break;
	}
	cfg.min_version = t->min_version == CONF_TLS_1_2 ? 12 : 13;
	for (i = 0; i < t->nciphers; i++)
		names[i] = conf_cipher_name(t->ciphers[i]);
	if (tlsconf_join(ciphers, sizeof(ciphers), names, t->nciphers) != 0)
		goto toolong;
	for (i = 0; i < t->ngroups; i++)
		names[i] = conf_group_name(t->groups[i]);
	if (tlsconf_join(groups, sizeof(groups), names, t->ngroups) != 0)
		goto toolong;
	/* With TLS 1.2 allowed, its suites follow the TLS 1.3 ones. */
	if (cfg.min_version == 12) {
		if (strlen(ciphers) + 1 + strlen(TLS_DEFAULT_CIPHERS_12) >=
		    sizeof(ciphers))
			goto toolong;
		strcat(ciphers, ":");
		strcat(ciphers, TLS_DEFAULT_CIPHERS_12);
	}
	cfg.ciphers = ciphers;
	cfg.groups = groups;
	cfg.tickets = t->tickets;
	cfg.ticket_lifetime_s = (uint32_t)(t->ticket_lifetime_ms / 1000);
	if (t->tickets && t->ticket_key_file != NULL) {
		if (priv_check_key_file("tls.ticket_key_file",
		    t->ticket_key_file, err, errlen) != 0)
			return NULL;
		cfg.ticket_key_file = t->ticket_key_file;
	}
	return tls_ctx_new_server(&cfg, err, errlen);
toolong:
	snprintf(err, errlen, "tls: cipher or group list too long");
	return NULL;
}
