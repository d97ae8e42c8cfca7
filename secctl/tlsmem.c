/*
 * tlsmem.c: secctl tls-memory, the memory wolfSSL itself holds for each
 * established, idle TLS 1.3 server session: the floor under secd's own
 * memory per session (DESIGN section 8).
 *
 * Everything happens in this process, with no socket: N server channels
 * complete a handshake each against a client channel that is freed at
 * once (after it has read the session ticket, as a real client would),
 * so what stays is N idle server sessions and nothing else.  The figure
 * is the growth of the heap in use (mallinfo2) and of the resident set
 * (VmRSS), divided by N, over and above a first batch that warms up
 * wolfSSL's caches and malloc's arenas.  Same certificate type, groups,
 * suites and tickets as secd's defaults.
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "certgen.h"
#include "secctl.h"
#include "tls.h"
#include "tlsmem.h"

#define TLSMEM_WARMUP 64
#define TLSMEM_MAX 100000

/* Resident set size in KiB, from /proc/self/status; 0 if unknown. */
static long
tlsmem_rss_kib(void)
{
	char line[256];
	long kib = 0;
	FILE *f;

	if ((f = fopen("/proc/self/status", "r")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

/* Move one side's output into the other's input.  0, or -1. */
static int
tlsmem_move(struct tls_chan *from, struct tls_chan *to)
{
	void *buf;
	size_t len;
	int rc;

	if (tls_chan_output_len(from) == 0)
		return 0;
	if (tls_chan_take_output(from, &buf, &len) != 0)
		return -1;
	rc = tls_chan_feed(to, buf, len);
	free(buf);
	return rc;
}

/*
 * One established server session: handshake against a throwaway client,
 * which also reads the server's greeting-sized write and its ticket.
 */
static struct tls_chan *
tlsmem_session(struct tls_ctx *sctx, struct tls_ctx *cctx)
{
	struct tls_chan *s, *c;
	char buf[256];
	int i, hs = TLS_WANT_READ, hc = TLS_WANT_READ;

	if ((s = tls_chan_new(sctx, NULL)) == NULL)
		return NULL;
	if ((c = tls_chan_new(cctx, "localhost")) == NULL) {
		tls_chan_free(s);
		return NULL;
	}
	for (i = 0; i < 16 && (hs != TLS_OK || hc != TLS_OK); i++) {
		if (hc != TLS_OK)
			hc = tls_chan_handshake(c);
		if (tlsmem_move(c, s) != 0)
			break;
		if (hs != TLS_OK)
			hs = tls_chan_handshake(s);
		if (tlsmem_move(s, c) != 0)
			break;
		if (hs == TLS_ERROR || hc == TLS_ERROR)
			break;
	}
	/* secd sends its greeting; the client reads it and the ticket. */
	if (hs == TLS_OK && hc == TLS_OK &&
	    tls_chan_write(s, "{\"type\":\"hello\"}\n", 17) == 0 &&
	    tlsmem_move(s, c) == 0) {
		while (tls_chan_read(c, buf, sizeof(buf)) > 0)
			;
		tls_chan_free(c);
		return s;
	}
	fprintf(stderr, "secctl tls-memory: handshake failed: %s / %s\n",
	    tls_chan_error(s) != NULL ? tls_chan_error(s) : "?",
	    tls_chan_error(c) != NULL ? tls_chan_error(c) : "?");
	tls_chan_free(c);
	tls_chan_free(s);
	return NULL;
}

int
tlsmem_main(const struct opts *o, int argc, char **argv)
{
	struct tls_server_config scfg;
	struct tls_client_config ccfg;
	struct tls_ctx *sctx = NULL, *cctx = NULL;
	struct tls_chan **chans = NULL;
	struct mallinfo2 m0, m1;
	char dir[] = "/tmp/secctl-tlsmem.XXXXXX", path[3][128], err[512];
	long n = 10000, i, made = 0, rss0, rss1;
	double heap;
	int rc = EX_LOCAL;

	if (argc > 2 || (argc == 2 && ((n = strtol(argv[1], NULL, 10)) < 100 ||
	    n > TLSMEM_MAX))) {
		fprintf(stderr, "usage: secctl tls-memory [N]   (N sessions, "
		    "100..%d, default 10000)\n", TLSMEM_MAX);
		return EX_USAGE;
	}
	if (mkdtemp(dir) == NULL || certgen_make_dev(dir, CERTGEN_ED25519, 0,
	    err, sizeof(err)) != 0) {
		fprintf(stderr, "secctl tls-memory: certificates: %s\n", err);
		goto out;
	}
	snprintf(path[0], sizeof(path[0]), "%s/server.pem", dir);
	snprintf(path[1], sizeof(path[1]), "%s/server.key", dir);
	snprintf(path[2], sizeof(path[2]), "%s/ca.pem", dir);
	memset(&scfg, 0, sizeof(scfg));
	scfg.cert_file = path[0];
	scfg.key_file = path[1];
	scfg.min_version = 13;
	scfg.tickets = 1;
	memset(&ccfg, 0, sizeof(ccfg));
	ccfg.ca_file = path[2];
	ccfg.min_version = 13;
	if ((sctx = tls_ctx_new_server(&scfg, err, sizeof(err))) == NULL ||
	    (cctx = tls_ctx_new_client(&ccfg, err, sizeof(err))) == NULL) {
		fprintf(stderr, "secctl tls-memory: %s\n", err);
		goto out;
	}
	if ((chans = calloc((size_t)(n + TLSMEM_WARMUP), sizeof(*chans))) ==
	    NULL)
		goto out;
	/* Warm up: caches, arenas, the context's first use. */
	for (i = 0; i < TLSMEM_WARMUP; i++)
		if ((chans[made++] = tlsmem_session(sctx, cctx)) == NULL)
			goto out;
	malloc_trim(0);
	m0 = mallinfo2();
	rss0 = tlsmem_rss_kib();
	for (i = 0; i < n; i++)
		if ((chans[made++] = tlsmem_session(sctx, cctx)) == NULL)
			goto out;
	m1 = mallinfo2();
	rss1 = tlsmem_rss_kib();
	/*
	 * Under AddressSanitizer malloc is not glibc's and mallinfo2 says
	 * nothing (0): report the heap as unknown then, and the resident
	 * set (which ASan's redzones inflate) alone.
	 */
	heap = m1.uordblks > m0.uordblks ?
	    (double)(m1.uordblks - m0.uordblks) / (double)n : -1;
	if (o->json) {
		printf("{\"sessions\":%ld,\"heap_bytes_per_session\":", n);
		if (heap >= 0)
			printf("%.0f", heap);
		else
			printf("null");
		printf(",\"rss_kib_per_session\":%.2f}\n",
		    (double)(rss1 - rss0) / (double)n);
	} else if (heap >= 0)
		printf("%ld idle TLS 1.3 server sessions (Ed25519, x25519, "
		    "tickets): heap %.1f KiB and resident %.1f KiB per "
		    "session\n", n, heap / 1024.0,
		    (double)(rss1 - rss0) / (double)n);
	else
		printf("%ld idle TLS 1.3 server sessions (Ed25519, x25519, "
		    "tickets): resident %.1f KiB per session (heap unknown: "
		    "not glibc's malloc)\n", n,
		    (double)(rss1 - rss0) / (double)n);
	rc = EX_OK;
out:
	for (i = 0; i < made; i++)
		tls_chan_free(chans[i]);
	free(chans);
	tls_ctx_free(sctx);
	tls_ctx_free(cctx);
	for (i = 0; i < 6 && dir[sizeof(dir) - 2] != 'X'; i++) {
		static const char *const files[] = { "ca.pem", "ca.key",
		    "server.pem", "server.key", "client.pem", "client.key" };

		snprintf(path[0], sizeof(path[0]), "%s/%s", dir, files[i]);
		unlink(path[0]);
	}
	rmdir(dir);
	return rc;
}
