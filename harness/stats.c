/* stats.c: see stats.h. The exact U distribution is counted with the usual
 * recurrence f(u; m, n) = f(u - n; m - 1, n) + f(u; m, n - 1), tabulated in
 * one pass over (m, n) with u in 0 .. m*n. */
#include "stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

double stats_median(double *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double stats_min(const double *v, size_t n)
{
    double m = v[0];
    for (size_t i = 1; i < n; i++)
        m = v[i] < m ? v[i] : m;
    return m;
}

double stats_max(const double *v, size_t n)
{
    double m = v[0];
    for (size_t i = 1; i < n; i++)
        m = v[i] > m ? v[i] : m;
    return m;
}

/* P(U >= u) under H0 for sample sizes m, n, no ties: counts / C(m+n, m). */
static double exact_upper(size_t m, size_t n, size_t u)
{
    size_t umax = m * n;
    /* f[i][j][k]: flattened (m+1) x (n+1) x (umax+1) counts, as doubles. */
    size_t W = umax + 1;
    double *f = calloc((m + 1) * (n + 1) * W, sizeof *f);
    if (!f)
        return 1;
#define F(i, j, k) f[((i) * (n + 1) + (j)) * W + (k)]
    for (size_t i = 0; i <= m; i++)
        for (size_t j = 0; j <= n; j++) {
            if (i == 0 || j == 0) {
                F(i, j, 0) = 1;
                continue;
            }
            for (size_t k = 0; k <= i * j; k++)
                F(i, j, k) = (k >= j ? F(i - 1, j, k - j) : 0) + F(i, j - 1, k);
        }
    double total = 0, tail = 0;
    for (size_t k = 0; k <= umax; k++) {
        total += F(m, n, k);
        if (k >= u)
            tail += F(m, n, k);
    }
#undef F
    free(f);
    return tail / total;
}

double stats_mwu_p_greater(const double *a, size_t n_a, const double *b, size_t n_b)
{
    if (!n_a || !n_b)
        return 1;
    /* U_b: pairs where b beats a, ties count half. */
    double u = 0;
    int ties = 0;
    for (size_t i = 0; i < n_a; i++)
        for (size_t j = 0; j < n_b; j++) {
            if (b[j] > a[i])
                u += 1;
            else if (b[j] == a[i])
                u += 0.5, ties = 1;
        }
    if (!ties && n_a + n_b <= 40)
        return exact_upper(n_b, n_a, (size_t)u);
    /* Normal approximation with tie correction. */
    size_t N = n_a + n_b;
    double *all = malloc(N * sizeof *all);
    if (!all)
        return 1;
    memcpy(all, a, n_a * sizeof *a);
    memcpy(all + n_a, b, n_b * sizeof *b);
    qsort(all, N, sizeof *all, cmp_double);
    double tie_sum = 0;
    for (size_t i = 0; i < N;) {
        size_t j = i;
        while (j < N && all[j] == all[i])
            j++;
        double t = (double)(j - i);
        tie_sum += t * t * t - t;
        i = j;
    }
    free(all);
    double mean = (double)n_a * (double)n_b / 2;
    double var = (double)n_a * (double)n_b / 12 * ((double)(N + 1) - tie_sum / ((double)N * (double)(N - 1)));
    if (var <= 0)
        return 1;
    double z = (u - mean - 0.5) / sqrt(var);
    return 0.5 * erfc(z / sqrt(2));
}

int stats_median_interval(double *v, size_t n, double alpha, double *lo, double *hi)
{
    *lo = *hi = NAN;
    if (n == 0)
        return 0;
    qsort(v, n, sizeof *v, cmp_double);
    /* cdf = P(Bin(n, 1/2) <= j), built term by term */
    double term = pow(0.5, (double)n), cdf = 0;
    size_t k = 0;
    for (size_t j = 0; j < n; j++) {
        cdf += term;
        if (cdf > alpha)
            break;
        k = j + 1; /* P(Bin <= k - 1) <= alpha */
        term = term * (double)(n - j) / (double)(j + 1);
    }
    if (k == 0)
        return 0;
    *lo = v[k - 1];
    *hi = v[n - k];
    return 1;
}
