/*
 * iplimit.h: connection counts and new-connection rates per source
 * address, shared by all workers.
 *
 * Taken once when a connection is accepted and released once when it
 * closes; never on the per-request path.  The table holds one entry per
 * address with at least one open connection, so its size is bounded by the
 * connection limit.  IPv4 addresses and their IPv4-mapped IPv6 form count
 * as the same address.
 *
 * New connections are also metered per address by a token bucket
 * (limits.handshake_rate_per_ip tokens a second, at most
 * limits.handshake_burst_per_ip): each accepted connection takes a token,
 * so a peer cannot make the server start more TLS handshakes than that
 * however fast it connects and hangs up.  Buckets are kept per IPv4
 * address or IPv6 /64, for at most IPLIMIT_MAX_BUCKETS addresses (least
 * recently seen dropped first: a dropped bucket comes back full, which
 * costs an attacker nothing it could not get from a fresh address).
 */
#ifndef SECD_IPLIMIT_H
#define SECD_IPLIMIT_H

#include <stdint.h>
#include <sys/socket.h>

struct iplimit;

#define IPLIMIT_MAX_BUCKETS 65536

/*
 * iplimit_new(max_total, max_per_ip, rate, burst): a table, or NULL on
 * allocation failure.  rate is new connections per second per address,
 * burst the bucket's size.
 */
struct iplimit *iplimit_new(uint32_t max_total, uint32_t max_per_ip,
    uint32_t rate, uint32_t burst);

/* iplimit_set_limits(t, max_total, max_per_ip, rate, burst): reload. */
void iplimit_set_limits(struct iplimit *t, uint32_t max_total,
    uint32_t max_per_ip, uint32_t rate, uint32_t burst);

enum iplimit_result {
	IPLIMIT_OK = 0,
	IPLIMIT_TOTAL,		/* max_connections reached */
	IPLIMIT_PER_IP,		/* max_connections_per_ip reached */
	IPLIMIT_RATE,		/* handshake_rate_per_ip exceeded */
	IPLIMIT_NOMEM
};

/*
 * iplimit_acquire(t, sa): count one more connection from sa's address and
 * take a token from its bucket, or say which limit refuses it (and count
 * and take nothing).
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
