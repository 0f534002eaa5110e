/* stats.h: order statistics and the Mann-Whitney U test used by compare. */
#ifndef RB_STATS_H
#define RB_STATS_H

#include <stddef.h>

/* Median, min, max of v[0..n) (n >= 1); v is sorted in place. */
double stats_median(double *v, size_t n);
double stats_min(const double *v, size_t n);
double stats_max(const double *v, size_t n);

/* One-sided p-value that b tends to be larger than a (Mann-Whitney U).
 * Exact distribution when there are no ties and n_a + n_b <= 40, else the
 * normal approximation with tie and continuity corrections. Returns 1 when
 * either sample is empty. */
double stats_mwu_p_greater(const double *a, size_t n_a, const double *b, size_t n_b);

#endif
