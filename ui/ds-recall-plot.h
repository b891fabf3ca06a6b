/* ds-recall-plot.h — recall of injected fakes against their S/N, with the fitted
 * completeness curve and SNR½.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gtk/gtk.h>

#include "dia-fakes.h"

G_BEGIN_DECLS

#define DS_TYPE_RECALL_PLOT (ds_recall_plot_get_type ())
G_DECLARE_FINAL_TYPE (DsRecallPlot, ds_recall_plot, DS, RECALL_PLOT, GtkWidget)

/* A new floating widget, empty ("no fakes yet") until a recovery is set.  Main thread. */
GtkWidget *ds_recall_plot_new (void);

/* Copies what the plot needs from recovery (bins, per-bin mean S/N, the erf fit, SNR½) and
 * redraws; recovery is read during the call only.  NULL clears the plot. */
void ds_recall_plot_set_recovery (DsRecallPlot *self, const DiaRecovery *recovery);

/* Widget x (logical px) of the SNR½ marker line at the current size; NAN when there is no
 * fitted SNR½ or it lies outside the plotted range.  For tests and the --report. */
double ds_recall_plot_get_snr_half_x (DsRecallPlot *self);

G_END_DECLS
