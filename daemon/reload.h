/*
 * reload.h: what SIGHUP can change, and what only a restart can.
 *
 * A reload reads secd.yaml and every file it names again.  The TLS
 * settings (certificate, key, CA, client_auth, versions, suites, groups,
 * tickets and their key file), limits but max_message_bytes (announced in
 * every greeting), the login throttle, shutdown_timeout and log take
 * effect for new connections at once; established connections keep what
 * they began with.  The rest (listen, workers, handler, user, group,
 * audit, metrics, the password-hash parameters and auth.methods, which the
 * handler holds, and max_message_bytes) needs a restart: a reload keeps
 * the running values and says which of them the file changed.
 */
#ifndef SECD_RELOAD_H
#define SECD_RELOAD_H

struct conf;

/*
 * reload_merge(cur, next): give next the running values of every setting
 * that needs a restart, logging one warning for each that the file
 * changed.  Returns how many it kept.
 */
int reload_merge(const struct conf *cur, struct conf *next);

#endif /* !SECD_RELOAD_H */
