/* ds-window-diagnostics.c — residual histogram, fakes, recall plot, kernel views.
 *
 *
 * Residual histogram (win.show-histogram, F12): D/√V of the last full-frame difference over
 * pixels with no mask bit and finite positive variance (every k-th pixel, at most 500 000)
 * against the unit Gaussian, in a DsHistogram in the side pane; computed only while shown.
 *
 * Fakes and kernel views: win.run-fakes runs dia_fakes_run on the pair and request in a GTask
 * (ds-fakes-job.c; a new request or pair cancels the running one), draws found / lost fakes in
 * their own marker layer of the difference (win.show-fakes) and feeds the recall plot
 * (ds-recall-plot.c, win.show-recall); win.show-kernel-views shows the basis and kernel-sum
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "ds-window-private.h"

#include <glib/gi18n.h>
#include <math.h>

#define HISTOGRAM_MAX_VALUES 500000

/* Feeds the histogram D/√V of the last full-frame difference; nothing while it is hidden. */
void
ds_window_diagnostics_update_histogram (DsWindow *self)
{
  const DiaImage *d = self->result != NULL ? self->result->diff : NULL;
  g_autofree float *values = NULL;
  gsize n_pix, step, n = 0;

  if (!gtk_widget_get_visible (GTK_WIDGET (self->histogram)))
    return;
  if (d == NULL || d->var == NULL || d->width <= 0 || d->height <= 0)
    {
      ds_histogram_set_values (self->histogram, NULL, 0);
      return;
    }
  n_pix = (gsize) d->width * (gsize) d->height;
  step = (n_pix + HISTOGRAM_MAX_VALUES - 1) / HISTOGRAM_MAX_VALUES;
  values = g_try_new (float, MIN (n_pix, HISTOGRAM_MAX_VALUES));
  if (values == NULL)
    return;
  for (gsize k = 0; k < n_pix && n < HISTOGRAM_MAX_VALUES; k += step)
    {
      size_t i = (k / d->width) * d->stride + k % d->width;
      float var = d->var[i];

      if ((d->mask == NULL || d->mask[i] == 0) && isfinite (var) && var > 0
          && isfinite (d->pix[i]))
        values[n++] = d->pix[i] / sqrtf (var);
    }
  ds_histogram_set_values (self->histogram, values, n);
}

void
ds_window_diagnostics_on_show_histogram_changed (GSimpleAction *action, GVariant *state,
                                                 gpointer user_data)
{
  DsWindow *self = user_data;

  g_simple_action_set_state (action, state);
  gtk_widget_set_visible (GTK_WIDGET (self->histogram), g_variant_get_boolean (state));
  ds_window_update_side_box (self);
  ds_window_diagnostics_update_histogram (self);
}

/* Fake rings are 1.5 × the detection rings (about two FWHM), so a found fake shows both. */
static double
window_fakes_radius (DsWindow *self)
{
  double fwhm = self->catalog != NULL ? self->catalog->psf_fwhm : NAN;

  return 1.5 * (isfinite (fwhm) && fwhm > 0 ? CLAMP (2.0 * fwhm, 4.0, 30.0) : 6.0);
}

static void
window_update_fakes_markers (DsWindow *self)
{
  g_autoptr (GArray) markers = NULL;
  GVariant *state = g_action_group_get_action_state (G_ACTION_GROUP (self), "show-fakes");

  if (self->recovery != NULL)
    markers = ds_fakes_markers_new (self->recovery, window_fakes_radius (self));
  ds_image_view_set_markers (self->views[DS_PANE_DIFFERENCE], DS_WINDOW_LAYER_FAKES, markers);
  ds_image_view_set_layer_visible (self->views[DS_PANE_DIFFERENCE], DS_WINDOW_LAYER_FAKES,
                                   state == NULL || g_variant_get_boolean (state));
  g_clear_pointer (&state, g_variant_unref);
}

/* Forgets the fakes (a new pair): cancels a running experiment and clears plot and markers. */
void
ds_window_diagnostics_clear_fakes (DsWindow *self)
{
  if (self->fakes_cancellable != NULL)
    g_cancellable_cancel (self->fakes_cancellable);
  g_clear_object (&self->fakes_cancellable);
  g_clear_pointer (&self->recovery, dia_recovery_free);
  ds_recall_plot_set_recovery (self->recall_plot, NULL);
  window_update_fakes_markers (self);
}

static void
on_fakes_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  DsWindow *self = DS_WINDOW (source);
  g_autoptr (GError) error = NULL;
  g_autofree char *text = NULL;
  DiaRecovery *recovery = ds_fakes_job_run_finish (result, &error);

  /* Superseded by a newer request, a new pair or a closed window: nothing to show, and
   * self->fakes_cancellable (if any) belongs to the newer request. */
  if (recovery == NULL && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  g_clear_object (&self->fakes_cancellable);
  if (recovery == NULL)
    {
      ds_window_show_error (self, error->message);
      ds_window_report (self, "fakes failed");
      return;
    }
  g_clear_pointer (&self->recovery, dia_recovery_free);
  self->recovery = recovery;
  ds_recall_plot_set_recovery (self->recall_plot, recovery);
  window_update_fakes_markers (self);
  if (isfinite (recovery->snr_half))
    /* Translators: status bar after fake injection: SNR½ and recall above S/N 10 */
    text = g_strdup_printf (_("Fakes: SNR½ %.2f, recall above S/N 10 %.0f %%"),
                            recovery->snr_half, 100.0 * recovery->recall_above_10);
  else
    /* Translators: status bar after fake injection when SNR½ could not be fitted */
    text = g_strdup_printf (_("Fakes: SNR½ not fitted, recall above S/N 10 %.0f %%"),
                            100.0 * recovery->recall_above_10);
  gtk_label_set_text (self->status_label, text);
  ds_window_report (self, "fakes done");
  g_action_group_change_action_state (G_ACTION_GROUP (self), "show-recall",
                                      g_variant_new_boolean (TRUE));
}

/* win.run-fakes: dia_fakes_run on the current pair and request (fakes.* parameters) in a
 * worker thread; a second request cancels the first. */
void
ds_window_diagnostics_action_run_fakes (GtkWidget *widget, const char *action_name,
                                        GVariant *parameter)
{
  DsWindow *self = DS_WINDOW (widget);
  g_autofree char *text = NULL;

  if (self->inputs[0] == NULL || self->inputs[1] == NULL)
    {
      ds_window_show_error (self, _("Load a template and science pair before injecting "
                                    "fakes."));
      return;
    }
  if (self->fakes_cancellable != NULL)
    g_cancellable_cancel (self->fakes_cancellable);
  g_clear_object (&self->fakes_cancellable);
  self->fakes_cancellable = g_cancellable_new ();
  ds_fakes_job_run_async (G_OBJECT (self), self->inputs[0], self->inputs[1], &self->request,
                          self->fakes_cancellable, on_fakes_done, NULL);
  /* Translators: status bar while fakes are injected and the subtraction rerun */
  text = g_strdup_printf (_("Injecting %d fakes and rerunning the subtraction…"),
                          self->request.fakes.n_fakes);
  gtk_label_set_text (self->status_label, text);
  ds_window_report (self, "fakes started %d", self->request.fakes.n_fakes);
}

void
ds_window_diagnostics_on_show_fakes_changed (GSimpleAction *action, GVariant *state,
                                             gpointer user_data)
{
  DsWindow *self = user_data;

  g_simple_action_set_state (action, state);
  ds_image_view_set_layer_visible (self->views[DS_PANE_DIFFERENCE], DS_WINDOW_LAYER_FAKES,
                                   g_variant_get_boolean (state));
}

void
ds_window_diagnostics_on_show_recall_changed (GSimpleAction *action, GVariant *state,
                                              gpointer user_data)
{
  DsWindow *self = user_data;

  g_simple_action_set_state (action, state);
  gtk_widget_set_visible (GTK_WIDGET (self->recall_plot), g_variant_get_boolean (state));
  ds_window_update_side_box (self);
}

void
ds_window_diagnostics_on_show_kernel_views_changed (GSimpleAction *action, GVariant *state,
                                                    gpointer user_data)
{
  DsWindow *self = user_data;

  g_simple_action_set_state (action, state);
  gtk_widget_set_visible (self->kernel_scroller, g_variant_get_boolean (state));
  ds_window_update_side_box (self);
}

/* --report lines of the fakes, the recall plot and the kernel view (GUI tests). */
void
ds_window_diagnostics_report (DsWindow *self)
{
  graphene_rect_t b;

  for (guint i = 0; self->recovery != NULL && i < self->recovery->fakes->len; i++)
    {
      const DiaFake *f = &g_array_index (self->recovery->fakes, DiaFake, i);

      ds_window_report (self, "fake %.3f %.3f %s %.3f", f->x, f->y, f->found ? "found" : "lost",
                     f->snr);
    }
  if (self->recovery != NULL)
    ds_window_report (self, "recovery n %u snr-half %.4f err %.4f recall-above-10 %.4f "
                   "expected %.4f marker-radius %.3f", self->recovery->fakes->len,
                   self->recovery->snr_half, self->recovery->snr_half_err,
                   self->recovery->recall_above_10, self->recovery->expected_snr_half,
                   window_fakes_radius (self));
  if (gtk_widget_get_visible (GTK_WIDGET (self->recall_plot))
      && gtk_widget_compute_bounds (GTK_WIDGET (self->recall_plot), GTK_WIDGET (self), &b))
    ds_window_report (self, "recall-plot %.2f %.2f %.2f %.2f snr-half-x %.2f", b.origin.x,
                   b.origin.y, b.size.width, b.size.height,
                   ds_recall_plot_get_snr_half_x (self->recall_plot));
  if (gtk_widget_get_visible (self->kernel_scroller)
      && gtk_widget_compute_bounds (GTK_WIDGET (self->kernel_view), GTK_WIDGET (self), &b))
    {
      double lo, hi;

      ds_kernel_view_get_sum_range (self->kernel_view, &lo, &hi);
      ds_window_report (self, "kernel-view %.2f %.2f %.2f %.2f n-basis %d sum %.6f %.6f",
                     b.origin.x, b.origin.y, b.size.width, b.size.height,
                     ds_kernel_view_get_n_basis (self->kernel_view), lo, hi);
    }
}

/* The histogram, the recall plot and the kernel view in the side pane, hidden until asked
 * for. */
void
ds_window_diagnostics_init (DsWindow *self)
{
  self->histogram = DS_HISTOGRAM (ds_histogram_new ());
  gtk_widget_set_visible (GTK_WIDGET (self->histogram), FALSE);
  gtk_widget_set_size_request (GTK_WIDGET (self->histogram), 300, 200);
  gtk_widget_set_margin_start (GTK_WIDGET (self->histogram), 6);
  gtk_widget_set_margin_end (GTK_WIDGET (self->histogram), 6);
  gtk_widget_set_margin_top (GTK_WIDGET (self->histogram), 4);
  gtk_box_append (GTK_BOX (self->side_box), GTK_WIDGET (self->histogram));

  self->recall_plot = DS_RECALL_PLOT (ds_recall_plot_new ());
  gtk_widget_set_visible (GTK_WIDGET (self->recall_plot), FALSE);
  gtk_widget_set_size_request (GTK_WIDGET (self->recall_plot), 300, 220);
  gtk_widget_set_margin_start (GTK_WIDGET (self->recall_plot), 6);
  gtk_widget_set_margin_end (GTK_WIDGET (self->recall_plot), 6);
  gtk_widget_set_margin_top (GTK_WIDGET (self->recall_plot), 4);
  gtk_box_append (GTK_BOX (self->side_box), GTK_WIDGET (self->recall_plot));

  self->kernel_view = DS_KERNEL_VIEW (ds_kernel_view_new ());
  self->kernel_scroller = gtk_scrolled_window_new ();
  gtk_scrolled_window_set_policy (GTK_SCROLLED_WINDOW (self->kernel_scroller),
                                  GTK_POLICY_NEVER, GTK_POLICY_AUTOMATIC);
  gtk_scrolled_window_set_propagate_natural_height (GTK_SCROLLED_WINDOW (self->kernel_scroller),
                                                    TRUE);
  gtk_widget_set_vexpand (self->kernel_scroller, TRUE);
  gtk_widget_set_margin_start (self->kernel_scroller, 6);
  gtk_widget_set_margin_end (self->kernel_scroller, 6);
  gtk_widget_set_margin_top (self->kernel_scroller, 4);
  gtk_scrolled_window_set_child (GTK_SCROLLED_WINDOW (self->kernel_scroller),
                                 GTK_WIDGET (self->kernel_view));
  gtk_widget_set_visible (self->kernel_scroller, FALSE);
  gtk_box_append (GTK_BOX (self->side_box), self->kernel_scroller);
}
