/*
 * bench_hist.c: the latency histogram of secctl bench.
 *
 * Values below BENCH_HIST_SUB have a bucket each; above, every power of two
 * is cut into BENCH_HIST_SUB equal buckets, so a bucket is never wider than
 * 1/16 of its lower bound.  A sample costs one clz and one increment, and
 * percentiles come from a walk over the buckets: no sample is kept.
 */
#include "bench.h"

static unsigned
bench_hist_bucket(uint64_t v)
{
	unsigned e;

	if (v < BENCH_HIST_SUB)
		return (unsigned)v;
	e = 63u - (unsigned)__builtin_clzll(v);	/* >= 4 */
	if (e > 47)
		return BENCH_HIST_BUCKETS - 1;
	return BENCH_HIST_SUB + (e - 4) * BENCH_HIST_SUB +
	    (unsigned)((v >> (e - 4)) & (BENCH_HIST_SUB - 1));
}

/* The smallest value in bucket i, and the bucket's width. */
static uint64_t
bench_hist_low(unsigned i, uint64_t *width)
{
	unsigned e, m;

	if (i < BENCH_HIST_SUB) {
		*width = 1;
		return i;
	}
	e = (i - BENCH_HIST_SUB) / BENCH_HIST_SUB + 4;
	m = (i - BENCH_HIST_SUB) % BENCH_HIST_SUB;
	*width = (uint64_t)1 << (e - 4);
	return (uint64_t)(BENCH_HIST_SUB + m) << (e - 4);
}

void
bench_hist_add(struct bench_hist *h, uint64_t ns)
{
	h->b[bench_hist_bucket(ns)]++;
	h->n++;
	if (ns > h->max)
		h->max = ns;
}

void
bench_hist_merge(struct bench_hist *into, const struct bench_hist *from)
{
	unsigned i;

	for (i = 0; i < BENCH_HIST_BUCKETS; i++)
		into->b[i] += from->b[i];
	into->n += from->n;
	if (from->max > into->max)
		into->max = from->max;
}

uint64_t
bench_hist_percentile(const struct bench_hist *h, double p)
{
	uint64_t want, seen = 0, low, width, v;
	unsigned i;

	if (h->n == 0)
		return 0;
	/* The sample of rank ceil(p% of n), counting from 1. */
	want = (uint64_t)(p / 100.0 * (double)h->n + 0.999999);
	if (want < 1)
		want = 1;
	if (want > h->n)
		want = h->n;
	for (i = 0; i < BENCH_HIST_BUCKETS; i++) {
		seen += h->b[i];
		if (seen >= want) {
			low = bench_hist_low(i, &width);
			v = low + width / 2;
			return v < h->max ? v : h->max;
		}
	}
	return h->max;
}
