/*
 * cryptocost.h: secctl crypto-cost, what this wolfCrypt build's public-key
 * operations cost, and the full-handshake bound that follows from them.
 */
#ifndef SECCTL_CRYPTOCOST_H
#define SECCTL_CRYPTOCOST_H

#include "secctl.h"

/*
 * cryptocost_main(o, argc, argv): secctl crypto-cost [--time MS], argv[0]
 * being "crypto-cost".  Times each operation on one thread, in that
 * thread's CPU time, for MS milliseconds (default 300), and prints the
 * cost per operation and the handshakes per CPU-second that the
 * signature and key-exchange costs allow; one JSON object with o->json.
 * Needs wolfCrypt initialised (tls_global_init).  Returns an exit code
 * of secctl.h.
 */
int cryptocost_main(const struct opts *o, int argc, char **argv);

#endif /* !SECCTL_CRYPTOCOST_H */
