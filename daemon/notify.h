/*
 * notify.h: tell the service manager what secd is doing (sd_notify(3)),
 * when secd runs under systemd with Type=notify.
 *
 * Built with libsystemd, these send READY=1, RELOADING=1, STOPPING=1 and
 * STATUS= lines to $NOTIFY_SOCKET; without a $NOTIFY_SOCKET (not started by
 * systemd) or without libsystemd they do nothing.  Main thread only.
 */
#ifndef SECD_NOTIFY_H
#define SECD_NOTIFY_H

/* notify_ready(): listening and serving (after start and after reload). */
void notify_ready(void);

/* notify_reloading(): a reload has begun (SIGHUP). */
void notify_reloading(void);

/* notify_stopping(): draining for shutdown. */
void notify_stopping(void);

/* notify_status(fmt, ...): a one-line STATUS= for systemctl status. */
void notify_status(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

#endif /* !SECD_NOTIFY_H */
