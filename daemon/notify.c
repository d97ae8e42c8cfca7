/*
 * notify.c: see notify.h.  RELOADING=1 carries MONOTONIC_USEC, which newer
 * systemd (Type=notify-reload) requires and older systemd ignores.
 */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "log.h"
#include "notify.h"
#include "secd_build.h"

#if SECD_HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>

static void
notify_send(const char *state)
{
	int rc;

	if ((rc = sd_notify(0, state)) < 0)
		log_warnx("sd_notify: %s", state);
}
#else
static void
notify_send(const char *state)
{

	(void)state;
}
#endif

void
notify_ready(void)
{

	notify_send("READY=1");
}

void
notify_reloading(void)
{
	struct timespec ts;
	char buf[64];

	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(buf, sizeof(buf), "RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)ts.tv_sec * 1000000ull +
	    (unsigned long long)ts.tv_nsec / 1000);
	notify_send(buf);
}

void
notify_stopping(void)
{

	notify_send("STOPPING=1");
}

void
notify_status(const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int n;

	n = snprintf(buf, sizeof(buf), "STATUS=");
	va_start(ap, fmt);
	vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
	va_end(ap);
	notify_send(buf);
}
