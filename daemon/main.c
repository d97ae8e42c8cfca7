/*
 * main.c: secd's entry point.  Parses the command line, loads and checks
 * the configuration, then either reports on it (-t), runs an
 * administrative subcommand (account, ledger, audit), or serves: TLS
 * context, handler, listening sockets, worker threads, and on this thread
 * the signals that drive a graceful shutdown.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "account.h"
#include "audit.h"
#include "auditcmd.h"
#include "codec.h"
#include "conf.h"
#include "hhost.h"
#include "ledgercmd.h"
#include "log.h"
#include "metrics.h"
#include "notify.h"
#include "priv.h"
#include "reload.h"
#include "secd_build.h"
#include "server.h"
#include "tls.h"
#include "tlsconf.h"

#define MAIN_DEFAULT_CONF SECD_SYSCONFDIR "/secd.yaml"
#define MAIN_DRAIN_POLL_MS 50
#define MAIN_STATUS_MS 5000		/* STATUS= for systemd */

static void
main_usage(FILE *f)
{
	fprintf(f,
	    "usage: secd [-c FILE]          serve, in the foreground\n"
	    "       secd -t [-c FILE]       check the configuration and exit\n"
	    "       secd account COMMAND    manage ledger accounts "
	    "(secd account --help)\n"
	    "       secd ledger COMMAND     check or back up the ledger "
	    "(secd ledger --help)\n"
	    "       secd audit verify FILE...  check an audit log's hash "
	    "chain\n"
	    "       secd -h | --help\n"
	    "       secd -V | --version\n"
	    "\n"
	    "  -c, --config FILE  configuration file (default %s)\n"
	    "  -t, --test         check FILE, its certificates, keys and handler\n"
	    "                     module; print\n"
	    "                     'configuration ok' or every error; exit 0 or 1\n"
	    "\n"
	    "Signals: SIGTERM and SIGINT drain (stop accepting, answer what was\n"
	    "received, close within limits.shutdown_timeout).  See secd(8).\n",
	    MAIN_DEFAULT_CONF);
}

/* A configuration and TLS context replaced by a reload, not yet unused. */
struct main_retired {
	struct main_retired *next;
	uint64_t gen;			/* free once workers have seen it */
	struct conf *conf;		/* NULL: the startup one, kept */
	struct tls_ctx *tls;
};

/* What the signal callbacks need. */
struct main_ctx {
	struct server *srv;
	const struct conf *conf;	/* in force */
	const struct conf *first;	/* the startup one: the handler's */
	struct tls_ctx *tls;		/* in force; main's reference */
	struct main_retired *retired;
	uv_signal_t sigterm, sigint, sighup;
	uv_timer_t deadline, poll, status, sync;
	int draining;
	unsigned reloads, reloads_failed;
	struct metrics *metrics;	/* or NULL: metrics.listen unset */
};

static void
main_close_all(struct main_ctx *m)
{
	uv_close((uv_handle_t *)&m->sigterm, NULL);
	uv_close((uv_handle_t *)&m->sigint, NULL);
	uv_close((uv_handle_t *)&m->sighup, NULL);
	uv_close((uv_handle_t *)&m->deadline, NULL);
	uv_close((uv_handle_t *)&m->poll, NULL);
	uv_close((uv_handle_t *)&m->status, NULL);
	uv_close((uv_handle_t *)&m->sync, NULL);
	metrics_stop(m->metrics);
}

/* Free what every worker has stopped using (all of it when force). */
static void
main_free_retired(struct main_ctx *m, int force)
{
	struct main_retired **pp = &m->retired, *r;

	while ((r = *pp) != NULL) {
		if (!force && !server_synced(m->srv, r->gen)) {
			pp = &r->next;
			continue;
		}
		*pp = r->next;
		if (r->conf != NULL && r->conf != m->first)
			conf_free(r->conf);
		tls_ctx_free(r->tls);
		free(r);
	}
	if (m->retired == NULL)
		uv_timer_stop(&m->sync);
}

static void
main_sync_cb(uv_timer_t *t)
{
	main_free_retired(t->data, 0);
}

/* STATUS= for systemctl status, every few seconds. */
static void
main_status_cb(uv_timer_t *t)
{
	struct main_ctx *m = t->data;

	notify_status("%zu connections open; %u reloads%s", server_connections(
	    m->srv), m->reloads, m->reloads_failed > 0 ? " (some refused)" :
	    "");
}

static enum log_level
main_log_level(const struct conf *conf)
{
	static const enum log_level levels[] = {
		[CONF_LOG_DEBUG] = LOG_L_DEBUG,
		[CONF_LOG_INFO] = LOG_L_INFO,
		[CONF_LOG_NOTICE] = LOG_L_NOTICE,
		[CONF_LOG_WARNING] = LOG_L_WARNING,
		[CONF_LOG_ERROR] = LOG_L_ERR,
	};

	return levels[conf->log.level];
}

/*
 * SIGHUP: read the configuration and its files again and put them in
 * force for new connections (reload.h says what a reload can change).
 * Anything wrong leaves the running configuration untouched, and says
 * precisely what (file:line:column, or the certificate's error).
 */
static void
main_reload(struct main_ctx *m)
{
	struct conf_diag diag;
	struct conf *next = NULL;
	struct tls_ctx *tls = NULL;
	struct main_retired *r = NULL;
	char err[1024], spki[TLS_SHA256_HEX_LEN], cert[TLS_SHA256_HEX_LEN];
	size_t i;

	notify_reloading();
	log_notice("SIGHUP: reloading %s", m->conf->name);
	conf_diag_init(&diag);
	if ((next = conf_load_file(m->conf->name, &diag)) == NULL ||
	    conf_check_files(next, &diag) != 0) {
		for (i = 0; i < conf_diag_count(&diag); i++)
			log_errx("reload: %s", conf_diag_get(&diag, i));
		goto fail;
	}
	reload_merge(m->conf, next);
	if (next->auth.methods != CONF_AUTH_PASSWORD &&
	    next->tls.client_auth == CONF_CLIENT_AUTH_NONE) {
		log_errx("reload: auth.methods needs client certificates, and "
		    "the new tls.client_auth is none");
		goto fail;
	}
	if ((tls = tlsconf_server_ctx(next, err, sizeof(err))) == NULL) {
		log_errx("reload: %s", err);
		goto fail;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		log_errx("reload: out of memory");
		goto fail;
	}
	r->conf = (struct conf *)(uintptr_t)m->conf;
	r->tls = m->tls;
	r->gen = server_reload(m->srv, next, tls);
	r->next = m->retired;
	m->retired = r;
	m->conf = next;
	m->tls = tls;
	log_init(main_log_level(next), next->log.format == CONF_LOG_JSON);
	m->reloads++;
	metrics_reload_done(1);
	conf_diag_clear(&diag);
	if (tls_fingerprint_file(next->tls.certificate, spki, cert, err,
	    sizeof(err)) != 0)
		snprintf(cert, sizeof(cert), "?");
	log_notice("reloaded %s: new connections use it (certificate sha256 "
	    "%s); established ones continue as they were", next->name, cert);
	uv_timer_start(&m->sync, main_sync_cb, MAIN_DRAIN_POLL_MS,
	    MAIN_DRAIN_POLL_MS);
	notify_ready();
	return;
fail:
	conf_diag_clear(&diag);
	tls_ctx_free(tls);
	conf_free(next);
	m->reloads_failed++;
	metrics_reload_done(0);
	log_errx("reload refused: the running configuration stays in force");
	notify_ready();
}

static void
main_poll_cb(uv_timer_t *t)
{
	struct main_ctx *m = t->data;

	/* Calls still at the handler are answered by its close(). */
	if (server_connections(m->srv) == 0) {
		log_notice("all connections closed");
		main_close_all(m);
	}
}

static void
main_deadline_cb(uv_timer_t *t)
{
	struct main_ctx *m = t->data;

	log_warnx("shutdown_timeout reached with %zu connections open: "
	    "closing them", server_connections(m->srv));
	server_force(m->srv);
}

static void
main_signal_cb(uv_signal_t *s, int signum)
{
	struct main_ctx *m = s->data;

	if (signum == SIGHUP) {
		if (m->draining)
			log_notice("SIGHUP while shutting down: ignored");
		else
			main_reload(m);
		return;
	}
	if (m->draining) {
		log_notice("%s again: closing every connection now",
		    strsignal(signum));
		server_force(m->srv);
		return;
	}
	m->draining = 1;
	notify_stopping();
	log_notice("%s: draining %zu connections (shutdown_timeout %llums)",
	    strsignal(signum), server_connections(m->srv),
	    (unsigned long long)m->conf->shutdown_timeout_ms);
	server_drain(m->srv);
	uv_timer_start(&m->deadline, main_deadline_cb,
	    m->conf->shutdown_timeout_ms, 0);
	uv_timer_start(&m->poll, main_poll_cb, MAIN_DRAIN_POLL_MS,
	    MAIN_DRAIN_POLL_MS);
}

static int
main_serve(const struct conf *conf)
{
	struct server srv;
	struct hhost hh;
	struct tls_ctx *tls = NULL;
	struct audit *audit = NULL;
	struct main_ctx m;
	uv_loop_t *loop = uv_default_loop();
	char err[1024] = "";
	size_t i;
	int rc = 1;

	memset(&srv, 0, sizeof(srv));
	memset(&hh, 0, sizeof(hh));
	memset(&m, 0, sizeof(m));
	log_init(main_log_level(conf), conf->log.format == CONF_LOG_JSON);
	signal(SIGPIPE, SIG_IGN);

	/* Signals are caught from here on (a SIGHUP must not kill). */
	m.srv = &srv;
	m.conf = m.first = conf;
	uv_signal_init(loop, &m.sigterm);
	uv_signal_init(loop, &m.sigint);
	uv_signal_init(loop, &m.sighup);
	uv_timer_init(loop, &m.deadline);
	uv_timer_init(loop, &m.poll);
	uv_timer_init(loop, &m.status);
	uv_timer_init(loop, &m.sync);
	m.sigterm.data = m.sigint.data = m.sighup.data = &m;
	m.deadline.data = m.poll.data = m.status.data = m.sync.data = &m;

	if ((tls = tlsconf_server_ctx(conf, err, sizeof(err))) == NULL) {
		log_errx("%s", err);
		goto out;
	}
	m.tls = tls;
	/*
	 * As root, if started so: the key is read (above), the module
	 * loaded and the sockets bound.  Then the switch to the configured
	 * user, before the handler opens its files (the ledger's database
	 * belongs to that user) and before any thread starts.
	 */
	priv_raise_nofile((unsigned long)conf->limits.max_connections + 64);
	if (hhost_load(&hh, conf, err, sizeof(err)) != 0) {
		log_errx("%s", err);
		goto out;
	}
	if (server_open(&srv, conf, tls, &hh, err, sizeof(err)) != 0) {
		log_errx("%s", err);
		goto out;
	}
	if (conf->metrics.enabled && (m.metrics = metrics_open(
	    &conf->metrics.listen, err, sizeof(err))) == NULL) {
		log_errx("%s", err);
		goto out;
	}
	/* Opened as root too: the file may stay root's (chattr +a). */
	if (conf->audit.file != NULL &&
	    (audit = audit_open(conf->audit.file, err, sizeof(err))) == NULL) {
		log_errx("audit.file %s", err);
		goto out;
	}
	srv.audit = audit;
	if (priv_drop(conf->user, conf->group, err, sizeof(err)) != 0) {
		log_errx("%s", err);
		goto out;
	}
	if (hhost_open(&hh, conf, err, sizeof(err)) != 0) {
		log_errx("%s", err);
		goto out;
	}
	uv_signal_start(&m.sigterm, main_signal_cb, SIGTERM);
	uv_signal_start(&m.sigint, main_signal_cb, SIGINT);
	uv_signal_start(&m.sighup, main_signal_cb, SIGHUP);
	if (server_start(&srv) != 0 ||
	    metrics_start(m.metrics, loop, &srv, &hh) != 0)
		goto out;
	for (i = 0; i < conf->nlisten; i++)
		log_notice("secd %s listening on %s (%u workers, handler %s)",
		    SECD_VERSION, conf->listen[i].text, srv.nworkers,
		    hh.h->name);
	notify_ready();
	main_status_cb(&m.status);
	uv_timer_start(&m.status, main_status_cb, MAIN_STATUS_MS,
	    MAIN_STATUS_MS);
	uv_run(loop, UV_RUN_DEFAULT);
	rc = 0;
out:
	/* Order matters: the handler answers every call it holds, the
	   workers deliver those answers, then they stop. */
	hhost_close(&hh);
	server_stop(&srv);
	server_close(&srv);
	audit_close(audit);
	if (rc != 0) {
		/* Started failed: the handles never ran; close them. */
		main_close_all(&m);
		uv_run(loop, UV_RUN_DEFAULT);
	}
	/* Every worker has stopped: nothing uses what reloads retired. */
	main_free_retired(&m, 1);
	tls_ctx_free(m.tls);
	if (m.conf != m.first)
		conf_free((struct conf *)(uintptr_t)m.conf);
	metrics_free(m.metrics);
	if (uv_loop_close(loop) != 0)
		log_warnx("main loop still had handles at exit");
	if (rc == 0)
		log_notice("stopped");
	return rc;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "test", no_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	const char *path = MAIN_DEFAULT_CONF;
	struct conf_diag diag;
	struct conf *conf;
	struct tls_ctx *tls;
	struct hhost hh;
	char err[1024];
	int ch, test = 0, rc;

	/* Before any thread and any JSON value: freed jansson memory is
	   wiped from here on (parsed passwords). */
	codec_init();
	if (argc > 1 && strcmp(argv[1], "account") == 0)
		return account_main(argc - 1, argv + 1);
	if (argc > 1 && strcmp(argv[1], "ledger") == 0)
		return ledgercmd_main(argc - 1, argv + 1);
	if (argc > 1 && strcmp(argv[1], "audit") == 0)
		return auditcmd_main(argc - 1, argv + 1);

	while ((ch = getopt_long(argc, argv, "c:thV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 't':
			test = 1;
			break;
		case 'h':
			main_usage(stdout);
			return 0;
		case 'V':
			printf("secd %s\n", SECD_VERSION);
			return 0;
		default:
			main_usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "secd: unexpected argument '%s'\n", argv[optind]);
		main_usage(stderr);
		return 2;
	}

	conf_diag_init(&diag);
	if ((conf = conf_load_file(path, &diag)) == NULL ||
	    conf_check_files(conf, &diag) != 0) {
		conf_diag_print(&diag, stderr);
		conf_diag_clear(&diag);
		conf_free(conf);
		return 1;
	}
	conf_diag_clear(&diag);
	tls_global_init();
	if (test) {
		/* Load the certificate and key too (a pair that does not match
		   is a configuration error), and the handler module. */
		rc = 1;
		memset(&hh, 0, sizeof(hh));
		if ((tls = tlsconf_server_ctx(conf, err, sizeof(err))) == NULL ||
		    hhost_load(&hh, conf, err, sizeof(err)) != 0) {
			fprintf(stderr, "%s\n", err);
		} else {
			printf("configuration ok\n");
			rc = 0;
		}
		hhost_close(&hh);
		tls_ctx_free(tls);
	} else {
		rc = main_serve(conf);
	}
	conf_free(conf);
	tls_global_cleanup();
	return rc;
}
