/* ds-histogram.h — histogram of normalised residuals D/√V against the unit Gaussian.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define DS_HISTOGRAM_MIN (-6.0)     /* leftmost bin edge, units of σ                         */
#define DS_HISTOGRAM_MAX 6.0        /* rightmost bin edge, units of σ                        */
#define DS_HISTOGRAM_BIN 0.2        /* bin width, units of σ                                 */

#define DS_TYPE_HISTOGRAM (ds_histogram_get_type ())
G_DECLARE_FINAL_TYPE (DsHistogram, ds_histogram, DS, HISTOGRAM, GtkWidget)

/* A new floating widget, empty until values are set.  Main thread only, like all widgets. */
GtkWidget *ds_histogram_new (void);

/* Bins the n normalised residuals (D/√V, dimensionless; non-finite values are ignored) and
 * redraws.  values is read during the call only; NULL with n = 0 clears the histogram.
 * Values outside [DS_HISTOGRAM_MIN, DS_HISTOGRAM_MAX] count in the normalisation and the
 * statistics but fall in no bar. */
void ds_histogram_set_values (DsHistogram *self, const float *values, gsize n);

/* Robust σ of the last values (1.4826 × median absolute deviation); NAN when empty. */
double ds_histogram_get_robust_sigma (DsHistogram *self);
/* Fraction of the last finite values with |value| > 5; NAN when empty. */
double ds_histogram_get_tail_fraction (DsHistogram *self);

G_END_DECLS
