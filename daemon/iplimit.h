/*
 * iplimit.h: connection counts per source address, shared by all workers.
 *
 * Taken once when a connection is accepted and released once when it
 * closes; never on the per-request path.  The table holds one entry per
 * address with at least one open connection, so its size is bounded by the
 * connection limit.  IPv4 addresses and their IPv4-mapped IPv6 form count
 * as the same address.
 */
#ifndef SECD_IPLIMIT_H
#define SECD_IPLIMIT_H

#include <stdint.h>
#include <sys/socket.h>

struct iplimit;

/* iplimit_new(max_total, max_per_ip): a table, or NULL on allocation failure. */
struct iplimit *iplimit_new(uint32_t max_total, uint32_t max_per_ip);

/* iplimit_set_limits(t, max_total, max_per_ip): change limits (reload). */
void iplimit_set_limits(struct iplimit *t, uint32_t max_total,
    uint32_t max_per_ip);

enum iplimit_result {
	IPLIMIT_OK = 0,
	IPLIMIT_TOTAL,		/* max_connections reached */
	IPLIMIT_PER_IP,		/* max_connections_per_ip reached */
	IPLIMIT_NOMEM
};

/*
 * iplimit_acquire(t, sa): count one more connection from sa's address, or
 * say which limit refuses it (and count nothing).
 */
enum iplimit_result iplimit_acquire(struct iplimit *t,
    const struct sockaddr *sa);

/* iplimit_release(t, sa): undo one successful iplimit_acquire. */
void iplimit_release(struct iplimit *t, const struct sockaddr *sa);

/* iplimit_total(t): connections counted now. */
uint32_t iplimit_total(struct iplimit *t);

/* iplimit_free(t): NULL ok. */
void iplimit_free(struct iplimit *t);

#endif /* !SECD_IPLIMIT_H */
