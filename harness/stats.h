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

/* A distribution-free interval for the median of v[0..n) (sorted in place),
 * from the sign test's binomial order statistics: *lo is the largest order
 * statistic v(k) with P(Bin(n, 1/2) <= k-1) <= alpha, a one-sided (1 - alpha)
 * lower bound; *hi the mirror v(n-k+1), so [lo, hi] covers >= 1 - 2 alpha.
 * Returns 0 and leaves lo/hi NAN when n is too small (n < 5 for alpha 0.05). */
int stats_median_interval(double *v, size_t n, double alpha, double *lo, double *hi);

#endif
