/* dia-stats.h — robust statistics on float samples and image planes.
 *
 * All functions ignore non-finite samples.  "Robust sigma" is 1.4826 × MAD (median absolute
 * deviation), the Gaussian-consistent estimator used throughout the tests' acceptance criteria.
 * Clipped statistics follow afw's MEANCLIP: the first pass is centred on the median with half
 * width n_sigma × 0.7413 × IQR, later passes on the clipped mean with n_sigma × clipped stdev.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "dia-types.h"

G_BEGIN_DECLS

typedef struct
{
  gint64 n;                     /* finite samples used                    */
  double mean, stdev;           /* plain moments of the used samples      */
  double median;
  double robust_sigma;          /* 1.4826 × MAD                           */
  double min, max;
  double clipped_mean;          /* MEANCLIP, 3σ, 3 iterations              */
  double clipped_stdev;
} DiaStats;

/* Median of the finite values of data[0..n-1]; scratch must hold n floats (data is not
 * modified).  NAN when there are none. */
double dia_stats_median (const float *data, gint64 n, float *scratch);

/* k-th smallest of v[0..n-1] (reorders v in place). */
float dia_stats_select (float *v, gint64 n, gint64 k);

/* Fills *out from data; allocates its own scratch.  FALSE (with error) only on allocation
 * failure; n == 0 gives all-NAN statistics and TRUE. */
gboolean dia_stats_compute (const float *data, gint64 n, DiaStats *out, GError **error);

/* Clipped mean and stdev as described above. */
void dia_stats_clipped (const float *data, gint64 n, double n_sigma, int n_iter, double *mean,
                        double *stdev);

/* Statistics of an image plane (pixels, or variance when use_variance) over rect (NULL = the
 * whole image), skipping pixels whose mask has any bit of exclude.  At most max_samples
 * pixels are used, on a regular sub-grid (0 = all). */
gboolean dia_stats_image (const DiaImage *image, const DiaRect *rect, gboolean use_variance,
                          DiaMask exclude, gint64 max_samples, DiaStats *out, GError **error);

G_END_DECLS
