/*
 * tlsconf.h: secd.yaml's tls section -> a server TLS context.
 */
#ifndef SECD_TLSCONF_H
#define SECD_TLSCONF_H

#include <stddef.h>

struct conf;
struct tls_ctx;

/*
 * tlsconf_server_ctx(conf, err, errlen): a new server context (one
 * reference, the caller's) from conf, or NULL with the reason in err,
 * prefixed with the configuration key at fault where there is one.
 */
struct tls_ctx *tlsconf_server_ctx(const struct conf *conf, char *err,
    size_t errlen);

#endif /* !SECD_TLSCONF_H */
