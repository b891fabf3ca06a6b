/* ds-kernel-view.h — kernel diagnostics of a subtraction plan: the basis components, the
 * kernel-sum map across the image, and the fit's condition number, σ list and PSF ratio.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gtk/gtk.h>

#include "dia-subtract.h"

G_BEGIN_DECLS

#define DS_KERNEL_VIEW_GRID 24      /* kernel-sum samples per image axis                      */

#define DS_TYPE_KERNEL_VIEW (ds_kernel_view_get_type ())
G_DECLARE_FINAL_TYPE (DsKernelView, ds_kernel_view, DS, KERNEL_VIEW, GtkWidget)

/* A new floating widget, empty until a plan is set.  Main thread. */
GtkWidget *ds_kernel_view_new (void);

/* Shows plan (a reference is taken; NULL clears).  Cheap: the diagnostics (kernel sums on a
 * DS_KERNEL_VIEW_GRID² grid) and the stamp images are computed at the first draw after the
 * change, so a hidden view costs nothing. */
void ds_kernel_view_set_plan (DsKernelView *self, DiaSubtractPlan *plan);

/* Number of basis images drawn (0 without a kernel), and the kernel-sum range of the map
 * (NAN when none); valid after the view has been drawn once with the current plan. */
int  ds_kernel_view_get_n_basis (DsKernelView *self);
void ds_kernel_view_get_sum_range (DsKernelView *self, double *sum_min, double *sum_max);

G_END_DECLS
