/*
 * check_metrics.c: daemon/metrics.c: the failure classes, the labelled
 * counters, the text exposition summed over workers, and the HTTP endpoint
 * on a loop of its own (a blocking client on another thread).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <check.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "conf.h"
#include "metrics.h"
#include "server.h"
#include "tls.h"

/* A server with two workers and no sockets: enough to render. */
static void
fake_server(struct server *srv)
{
	memset(srv, 0, sizeof(*srv));
	srv->nworkers = 2;
	srv->workers = calloc(2, sizeof(*srv->workers));
	ck_assert_ptr_nonnull(srv->workers);
}

static char *
render(struct server *srv)
{
	char *out, *z;
	size_t len;

	ck_assert_int_eq(metrics_render(srv, NULL, &out, &len), 0);
	ck_assert_uint_eq(strlen(out), len);
	ck_assert_ptr_nonnull(z = malloc(len + 1));
	memcpy(z, out, len);
	z[len] = '\0';
	free(out);
	return z;
}

START_TEST(test_metrics_classifies_handshake_failures)
{
	static const struct {
		const char *text;
		enum metrics_hsfail want;
	} cases[] = {
		{ "peer closed during handshake", METRICS_HSF_PEER_CLOSED },
		{ "no shared cipher", METRICS_HSF_NO_SHARED_CIPHER },
		{ "no shared key exchange group (client offers 0x0017)",
		    METRICS_HSF_NO_SHARED_GROUP },
		{ "no shared protocol version (or not TLS)",
		    METRICS_HSF_VERSION },
		{ "client did not send a certificate",
		    METRICS_HSF_CERTIFICATE },
		{ "peer sent alert bad_certificate (42) during handshake",
		    METRICS_HSF_CERTIFICATE },
		{ "peer sent alert unknown_ca (48)", METRICS_HSF_CERTIFICATE },
		{ "peer sent alert protocol_version (70)", METRICS_HSF_VERSION },
		{ "peer sent alert no_application_protocol (120)",
		    METRICS_HSF_ALPN },
		{ "peer sent alert decode_error (50)", METRICS_HSF_MALFORMED },
		{ "peer sent alert internal_error (80)", METRICS_HSF_OTHER },
		{ "alpn mismatch: peer does not speak secd/1",
		    METRICS_HSF_ALPN },
		{ "parse error on header (-306)", METRICS_HSF_MALFORMED },
		{ "out of memory", METRICS_HSF_OTHER },
		{ "", METRICS_HSF_OTHER },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ck_assert_msg(metrics_hsfail_class(cases[i].text) ==
		    cases[i].want, "%s", cases[i].text);
}
END_TEST

START_TEST(test_metrics_render_sums_workers_with_fixed_labels)
{
	struct server srv;
	struct tls_info ti;
	char *text;

	fake_server(&srv);
	atomic_store(&srv.workers[0].stats.accepted, 3);
	atomic_store(&srv.workers[1].stats.accepted, 4);
	atomic_store(&srv.workers[1].stats.refused_per_ip, 2);
	memset(&ti, 0, sizeof(ti));
	strcpy(ti.version, "TLSv1.3");
	strcpy(ti.suite, "TLS_AES_128_GCM_SHA256");
	strcpy(ti.group, "x25519");
	metrics_note_session(&srv.workers[0].stats.m, &ti);
	ti.resumed = 1;
	metrics_note_session(&srv.workers[1].stats.m, &ti);
	/* Values secd never chose still land in a fixed label: "other". */
	strcpy(ti.version, "SSLv3\"x");
	strcpy(ti.suite, "TLS_NULL_WITH_NULL_NULL");
	strcpy(ti.group, "ffdhe2048");
	ti.resumed = 0;
	metrics_note_session(&srv.workers[1].stats.m, &ti);
	metrics_note_request(&srv.workers[0].stats.m, MSG_OP_BALANCE,
	    MSG_ERR_NONE, 200000);		/* 0.2 ms */
	metrics_note_request(&srv.workers[1].stats.m, MSG_OP_BALANCE,
	    MSG_ERR_NONE, 3000000);		/* 3 ms */
	metrics_note_request(&srv.workers[1].stats.m, MSG_OP_EXT,
	    MSG_ERR_UNKNOWN_OP, 20000000000ULL);	/* 20 s: +Inf */
	metrics_note_request(&srv.workers[1].stats.m, MSG_OP_NONE,
	    MSG_ERR_COUNT, 1);		/* out of range: internal */
	metrics_reload_done(1);
	metrics_reload_done(0);
	metrics_reload_done(0);

	text = render(&srv);
	ck_assert_ptr_nonnull(strstr(text, "\nsecd_connections_accepted_total 7\n"));
	ck_assert_ptr_nonnull(strstr(text, "\nsecd_connections_refused_total"
	    "{reason=\"max_connections_per_ip\"} 2\n"));
	ck_assert_ptr_nonnull(strstr(text, "\nsecd_tls_sessions_total{version="
	    "\"TLSv1.3\",suite=\"TLS_AES_128_GCM_SHA256\",group=\"x25519\"} 2\n"));
	ck_assert_ptr_nonnull(strstr(text, "\nsecd_tls_sessions_total{version="
	    "\"other\",suite=\"other\",group=\"other\"} 1\n"));
	ck_assert_ptr_null(strstr(text, "SSLv3"));
	ck_assert_ptr_nonnull(strstr(text, "\nsecd_handshakes_resumed_total 1\n"));
	ck_assert_ptr_nonnull(strstr(text, "\nsecd_requests_total{op=\"balance\","
	    "code=\"ok\"} 2\n"));
	ck_assert_ptr_nonnull(strstr(text, "\nsecd_requests_total{op=\"other\","
	    "code=\"unknown_op\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(text, "\nsecd_requests_total{op=\"other\","
	    "code=\"internal\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(text, "\nsecd_request_duration_seconds_bucket"
	    "{le=\"0.0005\"} 2\n"));	/* 0.2 ms and the 1 ns one */
	ck_assert_ptr_nonnull(strstr(text, "\nsecd_request_duration_seconds_bucket"
	    "{le=\"0.005\"} 3\n"));
	ck_assert_ptr_nonnull(strstr(text, "\nsecd_request_duration_seconds_bucket"
	    "{le=\"10\"} 3\n"));
	ck_assert_ptr_nonnull(strstr(text, "\nsecd_request_duration_seconds_bucket"
	    "{le=\"+Inf\"} 4\n"));
	ck_assert_ptr_nonnull(strstr(text, "\nsecd_request_duration_seconds_sum "
	    "20.003200001\n"));
	ck_assert_ptr_nonnull(strstr(text, "\nsecd_request_duration_seconds_count"
	    " 4\n"));
	ck_assert_ptr_nonnull(strstr(text, "\nsecd_reloads_total{result=\"ok\"} "
	    "1\nsecd_reloads_total{result=\"failed\"} 2\n"));
	/* No built-in ledger given: no ledger metrics. */
	ck_assert_ptr_null(strstr(text, "secd_ledger_"));
	ck_assert_ptr_nonnull(strstr(text, "# TYPE secd_requests_total counter\n"));
	ck_assert(text[strlen(text) - 1] == '\n');
	free(text);
	free(srv.workers);
}
END_TEST

/* ---- the endpoint ---- */

struct client {
	uint16_t port;
	const char *request;
	size_t request_len;
	char answer[65536];
	size_t len;
	uv_async_t *done;
};

static void *
client_main(void *arg)
{
	struct client *cl = arg;
	struct sockaddr_in sin;
	ssize_t n;
	int fd;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(cl->port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0) {
		(void)!write(fd, cl->request, cl->request_len);
		while (cl->len < sizeof(cl->answer) - 1 && (n = read(fd,
		    cl->answer + cl->len, sizeof(cl->answer) - 1 - cl->len)) > 0)
			cl->len += (size_t)n;
	}
	cl->answer[cl->len] = '\0';
	if (fd >= 0)
		close(fd);
	uv_async_send(cl->done);
	return NULL;
}

static void
done_cb(uv_async_t *a)
{
	metrics_stop(a->data);
	uv_close((uv_handle_t *)a, NULL);
}

/* Serve one request on a loop of its own; the answer into cl. */
static void
serve_one(struct server *srv, struct client *cl)
{
	struct conf_addr a;
	struct sockaddr_in *sin = (struct sockaddr_in *)&a.sa;
	struct metrics *m;
	uv_loop_t loop;
	uv_async_t done;
	pthread_t t;
	socklen_t sl = sizeof(*sin);
	char err[256];
	int probe;

	/* A free port: bind 0, read it, let it go. */
	probe = socket(AF_INET, SOCK_STREAM, 0);
	memset(&a, 0, sizeof(a));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(probe, (struct sockaddr *)sin, sizeof(*sin)), 0);
	ck_assert_int_eq(getsockname(probe, (struct sockaddr *)sin, &sl), 0);
	close(probe);
	a.family = AF_INET;
	a.salen = sizeof(*sin);
	cl->port = ntohs(sin->sin_port);
	snprintf(a.text, sizeof(a.text), "127.0.0.1:%u", cl->port);

	ck_assert_int_eq(uv_loop_init(&loop), 0);
	m = metrics_open(&a, err, sizeof(err));
	ck_assert_msg(m != NULL, "%s", err);
	ck_assert_int_eq(metrics_start(m, &loop, srv, NULL), 0);
	ck_assert_int_eq(uv_async_init(&loop, &done, done_cb), 0);
	done.data = m;
	cl->done = &done;
	ck_assert_int_eq(pthread_create(&t, NULL, client_main, cl), 0);
	uv_run(&loop, UV_RUN_DEFAULT);
	pthread_join(t, NULL);
	metrics_free(m);
	ck_assert_int_eq(uv_loop_close(&loop), 0);
}

START_TEST(test_metrics_endpoint_answers_and_closes)
{
	static const struct {
		const char *req;
		const char *status;
	} cases[] = {
		{ "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 200 OK\r\n" },
		{ "GET /metrics?x=1 HTTP/1.0\n\n", "HTTP/1.1 200 OK\r\n" },
		{ "GET / HTTP/1.1\r\n\r\n", "HTTP/1.1 404 " },
		{ "DELETE /metrics HTTP/1.1\r\n\r\n", "HTTP/1.1 405 " },
		{ "GET /metrics HTTP/1.1 extra\r\n\r\n", "HTTP/1.1 400 " },
		{ "GET  /metrics HTTP/1.1\r\n\r\n", "HTTP/1.1 400 " },
		{ "GET /metrics HTTP/1.1\r\n: empty name\r\n\r\n", "HTTP/1.1 400 " },
		{ "GET /metrics HTTP/1.1\r\nA: b\001c\r\n\r\n", "HTTP/1.1 400 " },
		{ "\r\n\r\n", "HTTP/1.1 400 " },
	};
	struct server srv;
	struct client *cl;
	size_t i;

	fake_server(&srv);
	ck_assert_ptr_nonnull(cl = calloc(1, sizeof(*cl)));
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(cl, 0, sizeof(*cl));
		cl->request = cases[i].req;
		cl->request_len = strlen(cases[i].req);
		serve_one(&srv, cl);
		ck_assert_msg(strncmp(cl->answer, cases[i].status,
		    strlen(cases[i].status)) == 0, "%s -> %.60s", cases[i].req,
		    cl->answer);
		if (strstr(cases[i].status, "200") != NULL) {
			ck_assert_ptr_nonnull(strstr(cl->answer, "\r\nContent-Type: "
			    "text/plain; version=0.0.4; charset=utf-8\r\n"));
			ck_assert_ptr_nonnull(strstr(cl->answer,
			    "\nsecd_connections_accepted_total 0\n"));
		}
	}
	free(cl);
	free(srv.workers);
}
END_TEST

START_TEST(test_metrics_endpoint_bounds_the_request)
{
	struct server srv;
	struct client *cl;
	char *big;

	fake_server(&srv);
	ck_assert_ptr_nonnull(cl = calloc(1, sizeof(*cl)));
	ck_assert_ptr_nonnull(big = malloc(3 * METRICS_REQUEST_MAX));
	memcpy(big, "GET /metrics HTTP/1.1\r\nX: ", 26);
	memset(big + 26, 'a', 3 * METRICS_REQUEST_MAX - 26);
	cl->request = big;
	cl->request_len = 3 * METRICS_REQUEST_MAX;
	serve_one(&srv, cl);
	ck_assert_msg(strncmp(cl->answer, "HTTP/1.1 431 ", 13) == 0, "%.60s",
	    cl->answer);
	free(big);
	free(cl);
	free(srv.workers);
}
END_TEST

START_TEST(test_metrics_open_reports_an_address_it_cannot_bind)
{
	struct conf_addr a;
	struct sockaddr_in *sin = (struct sockaddr_in *)&a.sa;
	struct metrics *m, *m2;
	char err[256];

	memset(&a, 0, sizeof(a));
	a.family = AF_INET;
	a.salen = sizeof(*sin);
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin->sin_port = htons(0);
	snprintf(a.text, sizeof(a.text), "127.0.0.1:0");
	/* Port 0 binds; an address not on this host does not. */
	ck_assert_ptr_nonnull(m = metrics_open(&a, err, sizeof(err)));
	metrics_free(m);
	ck_assert_int_eq(inet_pton(AF_INET, "192.0.2.1", &sin->sin_addr), 1);
	snprintf(a.text, sizeof(a.text), "192.0.2.1:9443");
	m2 = metrics_open(&a, err, sizeof(err));
	ck_assert_ptr_null(m2);
	ck_assert_msg(strncmp(err, "metrics.listen 192.0.2.1:9443: ", 31) == 0,
	    "%s", err);
	metrics_stop(NULL);
	metrics_free(NULL);
}
END_TEST

Suite *metrics_suite(void);

Suite *
metrics_suite(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("metrics");

	tcase_add_test(tc, test_metrics_classifies_handshake_failures);
	tcase_add_test(tc, test_metrics_render_sums_workers_with_fixed_labels);
	tcase_add_test(tc, test_metrics_endpoint_answers_and_closes);
	tcase_add_test(tc, test_metrics_endpoint_bounds_the_request);
	tcase_add_test(tc, test_metrics_open_reports_an_address_it_cannot_bind);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(metrics_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
