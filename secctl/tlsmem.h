/*
 * tlsmem.h: secctl tls-memory, the memory wolfSSL holds per established,
 * idle TLS 1.3 server session, measured in this process.
 */
#ifndef SECCTL_TLSMEM_H
#define SECCTL_TLSMEM_H

#include "secctl.h"

/*
 * tlsmem_main(o, argc, argv): secctl tls-memory [N], argv[0] being
 * "tls-memory".  Makes N (default 10000) server sessions that completed a
 * handshake (Ed25519, x25519, tickets, as secd's defaults) against
 * throwaway clients, and prints heap and resident bytes per session; one
 * JSON object with o->json.  Needs tls_global_init.  Returns an exit code
 * of secctl.h.
 */
int tlsmem_main(const struct opts *o, int argc, char **argv);

#endif /* !SECCTL_TLSMEM_H */
