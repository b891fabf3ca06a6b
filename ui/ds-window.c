/* ds-window.c — the inspector window: template | science | difference, live rerun.
 *
 * Design.  The window is a composite template (resources/ui/ds-window.ui): a header bar with
 * the open, lock, zoom and parameter controls and the primary menu; an error banner (a
 * GtkRevealer; the window never opens a modal for errors); the triptych, each pane a title,
 * a plane menu (image, variance, mask; score for flavours that make one) and a DsImageView;
 * the parameter panel (DsParamPanel, generated from the engine's table) in a side pane; and a
 * status bar with the pixel under the pointer, the progress of the running job and a summary
 * of the last result.  Panes live in arrays indexed by DsPaneId.
 *
 * Live rerun (ARCHITECTURE.md §2.7–2.8).  The window owns the request, the last result and a
 * DsJobRunner whose job is ds_subtract_job_run().  Every parameter change (panel, undo/redo,
 * win.set-param, session load) records the previous request on the undo stack and submits a
 * job with the cached plan and the difference pane's visible rectangle plus a 25 % margin;
 * the runner debounces (40 ms), cancels the running job and drops stale results.  A region
 * preview is drawn as a patch over the previous difference; the full frame replaces it.  An
 * engine error goes to the banner and the previous result stays on screen.  The time from the
 * change to the first paint showing the new pixels is logged with g_debug (see
 * ds-subtract-job.c for the per-stage lines).  The difference pane defaults to a symmetric
 * ±5σ diverging map so that positive and negative residuals read at a glance; the global
 * stretch and colormap choices apply to the template and science panes.
 *
 * A/B: win.pin-a keeps the current result; win.compare shows B (current), A, or A − B in the
 * difference pane.
 *
 * Every command is a GAction on the window (win.*), so menus, buttons, accelerators and tests
 * all go through the same entry points.  Loading goes through a DsPairLoader (a private
 * worker thread); the latest request wins (earlier ones are cancelled), and the panes keep
 * showing the previous pair until a new one has arrived, so a failed load loses nothing.
 *
 * Viewing controls (per-pane stretch, limits and colormap, the pan / zoom / crosshair /
 * stretch / colormap locks, right-drag contrast, magnifier, mask overlay) live in
 * DsDisplayControls (ds-display-controls.c); win.lock-views switches its pan and zoom locks
 * together.  The WCS of each image is copied once per pair into
 * the window (wcslib structures are not shareable and are mutated when used), and only used on
 *
 * This file keeps the window's state, construction, loading, the job-runner wiring and the
 * action table; the features live beside it on the same struct (ds-window-private.h):
 * ds-window-readout.c (status bar and per-pane pixel readouts), ds-window-overlays.c (stamps,
 * quiver), ds-window-catalog.c (detections and the catalogue table), ds-window-blink.c (blink
 * pair, hold-to-flip), ds-window-psf-panel.c (PSF & kernel panel), ds-window-diagnostics.c
 * (residual histogram, fakes, recall plot, kernel views), ds-window-header.c (FITS header
 * viewer), ds-window-session.c (sessions, export, screenshots) and ds-window-script.c
 * (--screenshot, --report, --set and --action).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "ds-window-private.h"

#include "dia-params.h"

#include <glib/gi18n.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>

G_DEFINE_FINAL_TYPE (DsWindow, ds_window, GTK_TYPE_APPLICATION_WINDOW)

/* Names used in GSettings and action targets, in enum order. */
static const char *const stretch_names[] = { "linear", "log", "sqrt", "asinh", "histeq" };

static const char *const colormap_names[] = { "gray", "gray-inverted", "viridis",
                                              "diverging" };

int
ds_window_name_index (const char *const *names, size_t n, const char *name)
{
  for (size_t i = 0; i < n; i++)
    if (g_strcmp0 (names[i], name) == 0)
      return (int) i;
  return -1;
}

const char *
ds_window_pane_name (DsPaneId id)
{
  switch (id)
    {
    case DS_PANE_TEMPLATE:
      return _("Template");
    case DS_PANE_SCIENCE:
      return _("Science");
    case DS_PANE_DIFFERENCE:
    default:
      return _("Difference");
    }
}

static void window_submit (DsWindow *self, const char *reason);

static GSettings *
window_settings (DsWindow *self)
{
  GtkApplication *app = gtk_window_get_application (GTK_WINDOW (self));

  return DS_IS_APPLICATION (app) ? ds_application_get_settings (DS_APPLICATION (app)) : NULL;
}

/* --- banner -------------------------------------------------------------------------------- */

void
ds_window_show_error (DsWindow *self, const char *message)
{
  g_return_if_fail (DS_IS_WINDOW (self));

  gtk_label_set_text (self->banner_label, message);
  gtk_revealer_set_reveal_child (self->banner_revealer, TRUE);
}

static void
on_banner_close_clicked (DsWindow *self)
{
  gtk_revealer_set_reveal_child (self->banner_revealer, FALSE);
}

/* --- loading ------------------------------------------------------------------------------- */

static void
window_show_pair (DsWindow *self, DsPair *pair)
{
  DiaImage *images[2] = { pair->template_image, pair->science_image };
  g_autofree char *title = NULL;
  GtkApplication *app = gtk_window_get_application (GTK_WINDOW (self));
  double zoom = DS_IS_APPLICATION (app)
                  ? ds_application_get_initial_zoom (DS_APPLICATION (app)) : 0.0;

  for (int i = 0; i < 2; i++)
    {
      g_autofree char *label = NULL;

      g_clear_pointer (&self->wcs[i], dia_wcs_free);
      self->wcs[i] = dia_wcs_copy (images[i]->wcs);
      if (images[i]->source != NULL)
        {
          g_autofree char *base = g_path_get_basename (images[i]->source);
          label = g_strdup_printf ("%s — %s", ds_window_pane_name (i), base);
        }
      gtk_label_set_text (self->titles[i], label != NULL ? label : ds_window_pane_name (i));
      ds_image_view_set_image (self->views[i], images[i]);
      g_clear_pointer (&self->inputs[i], dia_image_unref);
      self->inputs[i] = dia_image_ref (images[i]);
      g_free (self->input_paths[i]);
      self->input_paths[i] = g_strdup (images[i]->source);
    }
  /* A new pair: the old difference, plan and A mean nothing any more. */
  ds_job_runner_cancel (self->runner);
  g_clear_pointer (&self->result, dia_subtract_result_unref);
  g_clear_pointer (&self->pinned, dia_subtract_result_unref);
  g_clear_pointer (&self->catalog, dia_catalog_unref);
  g_clear_pointer (&self->a_minus_b, dia_image_unref);
  ds_window_diagnostics_clear_fakes (self);
  ds_kernel_view_set_plan (self->kernel_view, NULL);
  ds_image_view_set_image (self->views[DS_PANE_DIFFERENCE], NULL);
  for (int l = 0; l < DS_IMAGE_VIEW_N_LAYERS; l++)
    for (int i = 0; i < DS_N_PANES; i++)
      ds_image_view_set_markers (self->views[i], l, NULL);
  gtk_label_set_text (self->titles[DS_PANE_DIFFERENCE], ds_window_pane_name (DS_PANE_DIFFERENCE));

  for (int i = 0; i < DS_N_PANES; i++)
    ds_image_view_zoom_fit (self->views[i]);
  if (zoom > 0)
    for (int i = 0; i < DS_N_PANES; i++)
      ds_image_view_zoom_to (self->views[i], zoom);
  gtk_label_set_text (self->status_label, pair->description);
  title = g_strdup_printf (_("Diffscope — %s"), pair->description);
  gtk_window_set_title (GTK_WINDOW (self), title);
  if (images[0]->width != images[1]->width || images[0]->height != images[1]->height)
    {
      g_autofree char *msg =
        g_strdup_printf (_("The template (%d × %d) and the science image (%d × %d) are not on "
                           "the same pixel grid; resample one onto the other before "
                           "subtracting."), images[0]->width, images[0]->height,
                         images[1]->width, images[1]->height);
      ds_window_show_error (self, msg);
      return;
    }
  window_submit (self, NULL);
}

static void
on_pair_loaded (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (DsWindow) self = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (DsPair) pair = ds_pair_loader_load_finish (DS_PAIR_LOADER (source), result, &error);

  if (pair == NULL && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  gtk_spinner_stop (GTK_SPINNER (self->spinner));
  if (pair == NULL)
    {
      gtk_label_set_text (self->status_label, _("Loading failed"));
      if (ds_window_script_get_screenshot_path (self) != NULL)
        {
          g_printerr ("diffscope: %s\n", error->message);
          ds_window_script_finish (self, 1);
          return;
        }
      ds_window_show_error (self, error->message);
      return;
    }
  window_show_pair (self, pair);
  ds_window_script_start_screenshot_poll (self);
}

static void
window_start_load (DsWindow *self, const char *template_path, const char *science_path,
                   const char *what)
{
  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  self->cancellable = g_cancellable_new ();

  gtk_spinner_start (GTK_SPINNER (self->spinner));
  gtk_label_set_text (self->status_label, what);
  ds_pair_loader_load_async (self->loader, template_path, science_path, self->cancellable,
                             on_pair_loaded, g_object_ref (self));
}

void
ds_window_load_demo (DsWindow *self)
{
  g_return_if_fail (DS_IS_WINDOW (self));
  window_start_load (self, NULL, NULL, _("Generating the demo field…"));
}

void
ds_window_load_pair (DsWindow *self, const char *template_path, const char *science_path)
{
  g_autofree char *what = NULL;
  g_autofree char *tname = NULL, *sname = NULL;

  g_return_if_fail (DS_IS_WINDOW (self));
  g_return_if_fail (template_path != NULL && science_path != NULL);

  tname = g_path_get_basename (template_path);
  sname = g_path_get_basename (science_path);
  what = g_strdup_printf (_("Loading %s and %s…"), tname, sname);
  window_start_load (self, template_path, science_path, what);
}

/* delay_ms: the debounce of this change (40 ms for spin buttons and typing, 0 for discrete
 * changes). */
static void
window_submit_with_delay (DsWindow *self, const char *reason, guint delay_ms)
{
  DsSubtractInput *input;
  DiaRect visible;
  guint64 gen;

  if (self->inputs[0] == NULL || self->inputs[1] == NULL)
    return;
  /* Only detection parameters changed: detect again on the frame already computed. */
  if (ds_subtract_detection_only (self->result, self->inputs[0], self->inputs[1],
                                  &self->request))
    {
      /* The engine reuses the catalogue's ν plane only if it was detected on this result. */
      input = ds_subtract_input_new_detect (self->result, self->catalog, &self->request,
                                            reason);
      gen = ds_job_runner_submit_with_delay (self->runner, input,
                                             (GDestroyNotify) ds_subtract_input_free, delay_ms);
      ds_window_report (self, "submitted %" G_GUINT64_FORMAT " %s detection", gen,
                     reason != NULL ? reason : "inputs");
      gtk_spinner_start (GTK_SPINNER (self->spinner));
      return;
    }
  input = ds_subtract_input_new (self->inputs[0], self->inputs[1], &self->request,
                                 self->result != NULL ? self->result->plan : NULL, reason);
  /* Exactly the visible area of the difference first: no panning margin, because the full
   * frame follows at once and a margin would only delay the first paint. */
  if (self->result != NULL
      && ds_image_view_get_visible_rect (self->views[DS_PANE_DIFFERENCE], &visible))
    {
      double zoom = ds_image_view_get_zoom (self->views[DS_PANE_DIFFERENCE]);
      input->region = visible;
      input->has_region = TRUE;
      /* Zoomed out, the view shows one pixel in (1/zoom)²: a preview of those goes first. */
      input->preview_step = zoom > 0 && zoom <= 0.5 ? (int) floor (1.0 / zoom) : 1;
    }
  gen = ds_job_runner_submit_with_delay (self->runner, input,
                                         (GDestroyNotify) ds_subtract_input_free, delay_ms);
  ds_window_report (self, "submitted %" G_GUINT64_FORMAT " %s", gen,
                 reason != NULL ? reason : "inputs");
  gtk_spinner_start (GTK_SPINNER (self->spinner));
}

static void
window_submit (DsWindow *self, const char *reason)
{
  window_submit_with_delay (self, reason, 0);
}

/* A parameter change from any source: remember the old request for undo, rerun. */
void
ds_window_change_request (DsWindow *self, const DiaSubtractRequest *request, const char *reason,
                       gboolean record_undo, guint delay_ms)
{
  if (record_undo)
    {
      g_array_append_val (self->undo, self->request);
      g_array_set_size (self->redo, 0);
    }
  self->request = *request;
  ds_param_panel_set_request (self->panel, &self->request);
  window_submit_with_delay (self, reason, delay_ms);
}

static void
on_panel_changed (DsParamPanel *panel, const char *key, DsWindow *self)
{
  const DiaParamInfo *info = dia_params_lookup (key);
  /* Switches and the flavour drop-down change once per click: no burst to wait for.  Nor do
   * detection parameters: a detection-only rerun costs ~10 ms before its markers are shown,
   * and the newest request cancels a running one, so a burst never queues. */
  guint delay = info != NULL && (info->type == DIA_PARAM_BOOL || info->type == DIA_PARAM_FLAVOR
                                 || info->stage == DIA_STAGE_DETECT)
                  ? 0 : 40;

  ds_window_change_request (self, ds_param_panel_get_request (panel), key, TRUE, delay);
}

static void
on_after_paint (GdkFrameClock *clock, DsWindow *self)
{
  g_debug ("rerun: %s drawn %.1f ms after the change", self->paint_what,
           (g_get_monotonic_time () - self->paint_change_time) / 1000.0);
  g_clear_signal_handler (&self->after_paint_id, clock);
}

static void
window_log_next_paint (DsWindow *self, gint64 change_time, const char *what)
{
  GdkFrameClock *clock = gtk_widget_get_frame_clock (GTK_WIDGET (self));

  if (clock == NULL)
    return;
  if (self->after_paint_id != 0)
    g_clear_signal_handler (&self->after_paint_id, clock);
  self->paint_change_time = change_time;
  self->paint_what = what;
  self->after_paint_id = g_signal_connect (clock, "after-paint", G_CALLBACK (on_after_paint),
                                           self);
}

static void
window_update_summary (DsWindow *self)
{
  const DiaSubtractResult *r = self->result;
  const DiaSubtractInfo *info;
  g_autofree char *text = NULL;

  if (r == NULL)
    return;
  info = &r->plan->info;
  /* Translators: status bar summary of a subtraction */
  text = g_strdup_printf (_("%s · FWHM T %.2f / S %.2f px · kernel sum %.4f · stamps %d/%d · "
                            "cond %.2g · σ(D/√V) %.3f"),
                          info->flavor != NULL ? _(info->flavor->label) : "?",
                          info->fwhm_template, info->fwhm_science, info->kernel_sum_centre,
                          info->n_stamps_used, info->n_stamps_total, info->condition_number,
                          r->diff_sigma_ratio);
  gtk_label_set_text (self->status_label, text);
}

/* A − B on A's grid: NAN where either is not finite, mask OR-ed, variances added. */
static DiaImage *
window_dup_a_minus_b (DsWindow *self)
{
  DiaImage *a = self->pinned->diff, *b = self->result->diff;
  DiaImage *d;

  if (a->width != b->width || a->height != b->height)
    return NULL;
  d = dia_image_new_like (a, NULL);
  if (d == NULL)
    return NULL;
  for (int y = 0; y < a->height; y++)
    for (int x = 0; x < a->width; x++)
      {
        size_t i = dia_image_index (a, x, y), j = dia_image_index (b, x, y);

        d->pix[i] = a->pix[i] - b->pix[j];
        if (d->var != NULL && a->var != NULL && b->var != NULL)
          d->var[i] = a->var[i] + b->var[j];
        if (d->mask != NULL && a->mask != NULL && b->mask != NULL)
          d->mask[i] = a->mask[i] | b->mask[j];
      }
  dia_image_freeze (d);
  return d;
}

/* Puts what the difference pane should show (B, A, A − B; image or score) into the view. */
void
ds_window_update_difference (DsWindow *self)
{
  DsImageView *view = self->views[DS_PANE_DIFFERENCE];
  DiaSubtractResult *shown = self->result;
  DiaImage *image;
  const char *what = _("Difference");
  g_autofree char *title = NULL;

  if (g_strcmp0 (self->compare, "b") != 0 && self->pinned != NULL && self->result != NULL)
    {
      if (g_strcmp0 (self->compare, "a") == 0)
        {
          shown = self->pinned;
          what = _("Difference A (pinned)");
        }
      else
        {
          if (self->a_minus_b == NULL)
            self->a_minus_b = window_dup_a_minus_b (self);
          if (self->a_minus_b != NULL)
            {
              ds_image_view_set_image (view, self->a_minus_b);
              gtk_label_set_text (self->titles[DS_PANE_DIFFERENCE], _("Difference A − B"));
              return;
            }
        }
    }
  if (shown == NULL)
    return;
  image = shown->diff;
  if (g_strcmp0 (self->diff_plane, "score") == 0)
    {
      if (shown->score != NULL)
        {
          image = shown->score;
          what = _("Score");
        }
      else
        what = _("Difference (this flavour makes no score image)");
    }
  title = g_strdup_printf ("%s — %s", what,
                           shown->plan->info.flavor != NULL
                             ? _(shown->plan->info.flavor->label) : "");
  gtk_label_set_text (self->titles[DS_PANE_DIFFERENCE], title);
  ds_image_view_set_image (view, image);
}

/* --report: a plain-text log of submissions, publications and, at screenshot time, the
 * pane geometry and overlay positions, for the GUI tests. */
void
ds_window_report (DsWindow *self, const char *format, ...)
{
  va_list args;

  if (self->report == NULL)
    return;
  va_start (args, format);
  g_string_append_vprintf (self->report, format, args);
  va_end (args);
  g_string_append_c (self->report, '\n');
}

static void
on_job_published (DsJobRunner *runner, guint64 generation, gpointer output, gboolean final,
                  DsWindow *self)
{
  DsSubtractOutput *out = output;
  DiaSubtractResult *r = out->result;

  if (out->catalog != NULL)
    {
      ds_window_report (self, "published %" G_GUINT64_FORMAT " detection", generation);
      /* A detection-only job may finish after a newer full frame has been shown only if it
       * was not superseded, which the runner guarantees; still, never pair a catalogue with
       * a frame it was not detected on. */
      if (out->detection_only && out->result != self->result)
        return;
      if (out->provisional)
        {
          /* Detected, not yet measured: move the markers now, the measured catalogue
           * (fluxes, dipoles, flags, the table) follows. */
          ds_window_catalog_show_markers (self, out->catalog);
          g_debug ("rerun %" G_GUINT64_FORMAT ": %u detections (unmeasured) shown %.1f ms "
                   "after the change", generation, out->catalog->sources->len,
                   (g_get_monotonic_time () - out->submit_time) / 1000.0);
          window_log_next_paint (self, out->submit_time, "detections");
          return;
        }
      if (!out->detection_only)
        {
          g_clear_pointer (&self->result, dia_subtract_result_unref);
          self->result = dia_subtract_result_ref (r);
        }
      ds_window_catalog_set (self, out->catalog);
      g_debug ("rerun %" G_GUINT64_FORMAT ": catalogue (%u sources; detect %.1f ms, measure "
               "%.1f ms) shown %.1f ms after the change", generation,
               out->catalog->sources->len, out->catalog->detect_ms, out->catalog->measure_ms,
               (g_get_monotonic_time () - out->submit_time) / 1000.0);
      if (out->detection_only)
        window_log_next_paint (self, out->submit_time, "measured detections");
      return;
    }
  if (out->preview != NULL)
    {
      ds_window_report (self, "published %" G_GUINT64_FORMAT " preview", generation);
      g_debug ("rerun %" G_GUINT64_FORMAT ": preview published %.1f ms after the change",
               generation, (g_get_monotonic_time () - out->submit_time) / 1000.0);
      /* Only over the plain B difference, as for a visible region. */
      if (g_strcmp0 (self->compare, "b") == 0 && g_strcmp0 (self->diff_plane, "score") != 0
          && ds_image_view_get_image (self->views[DS_PANE_DIFFERENCE]) != NULL)
        {
          ds_image_view_set_patch_sampled (self->views[DS_PANE_DIFFERENCE], out->preview,
                                           out->preview_region.x, out->preview_region.y,
                                           out->preview_step);
          window_log_next_paint (self, out->submit_time, "preview");
        }
      return;
    }
  if (out->is_region)
    ds_window_report (self, "published %" G_GUINT64_FORMAT " region", generation);

  g_debug ("rerun %" G_GUINT64_FORMAT ": %s published %.1f ms after the change", generation,
           out->is_region ? "visible region" : "full frame",
           (g_get_monotonic_time () - out->submit_time) / 1000.0);
  if (out->is_region)
    {
      /* Only over the plain B difference; the other modes wait for the full frame. */
      if (g_strcmp0 (self->compare, "b") == 0 && g_strcmp0 (self->diff_plane, "score") != 0
          && ds_image_view_get_image (self->views[DS_PANE_DIFFERENCE]) != NULL)
        {
          ds_image_view_set_patch (self->views[DS_PANE_DIFFERENCE], r->diff, r->region.x,
                                   r->region.y);
          window_log_next_paint (self, out->submit_time, "visible region");
        }
      return;
    }
  g_clear_pointer (&self->result, dia_subtract_result_unref);
  self->result = dia_subtract_result_ref (r);
  g_clear_pointer (&self->a_minus_b, dia_image_unref);
  ds_window_update_difference (self);
  ds_window_overlays_update (self);
  window_update_summary (self);
  ds_window_psf_panel_update (self);
  ds_window_diagnostics_update_histogram (self);
  ds_kernel_view_set_plan (self->kernel_view, r->plan);
  if (self->paint_change_time != out->submit_time || self->after_paint_id == 0)
    window_log_next_paint (self, out->submit_time, "full frame");
  ds_window_report (self, "published %" G_GUINT64_FORMAT " full", generation);
  if (!self->script_started)
    {
      self->script_started = TRUE;
      ds_window_script_start (self);
    }
}

static void
on_job_failed (DsJobRunner *runner, guint64 generation, GError *error, DsWindow *self)
{
  /* The previous result stays on screen; the banner says what went wrong. */
  ds_window_show_error (self, error->message);
  ds_window_report (self, "failed %" G_GUINT64_FORMAT, generation);
  if (ds_window_script_get_screenshot_path (self) != NULL)
    g_printerr ("diffscope: %s\n", error->message);
  g_clear_handle_id (&self->script_id, g_source_remove);
  self->script_started = self->script_done = TRUE;
}

static void
on_job_progress (DsJobRunner *runner, guint64 generation, const char *stage, double fraction,
                 DsWindow *self)
{
  g_autofree char *text = g_strdup_printf ("%s %.0f %%", stage, 100.0 * fraction);

  gtk_progress_bar_set_fraction (self->progress_bar, CLAMP (fraction, 0.0, 1.0));
  gtk_progress_bar_set_text (self->progress_bar, text);
  gtk_progress_bar_set_show_text (self->progress_bar, TRUE);
}

static void
on_runner_busy (DsJobRunner *runner, GParamSpec *pspec, DsWindow *self)
{
  gboolean busy = ds_job_runner_get_busy (runner);

  gtk_widget_set_visible (GTK_WIDGET (self->progress_bar), busy);
  if (busy)
    gtk_spinner_start (GTK_SPINNER (self->spinner));
  else
    gtk_spinner_stop (GTK_SPINNER (self->spinner));
}

/* --- rerun actions ------------------------------------------------------------------------- */

static void
action_set_param (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  DsWindow *self = DS_WINDOW (widget);
  const char *text = g_variant_get_string (parameter, NULL);
  g_auto (GStrv) kv = g_strsplit (text, "=", 2);
  DiaSubtractRequest req = self->request;
  g_autoptr (GError) error = NULL;

  if (kv[0] == NULL || kv[1] == NULL)
    {
      ds_window_show_error (self, _("win.set-param wants “key=value”."));
      return;
    }
  if (!dia_params_set (&req, kv[0], kv[1], &error))
    {
      ds_window_show_error (self, error->message);
      return;
    }
  ds_window_change_request (self, &req, kv[0], TRUE, 0);
}

static void
action_undo_redo (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  DsWindow *self = DS_WINDOW (widget);
  gboolean undo = g_str_equal (action_name, "win.undo");
  GArray *from = undo ? self->undo : self->redo, *to = undo ? self->redo : self->undo;
  DiaSubtractRequest req;

  if (from->len == 0)
    return;
  req = g_array_index (from, DiaSubtractRequest, from->len - 1);
  g_array_set_size (from, from->len - 1);
  g_array_append_val (to, self->request);
  ds_window_change_request (self, &req, undo ? "undo" : "redo", FALSE, 0);
}

static void
action_pin_a (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  DsWindow *self = DS_WINDOW (widget);

  if (self->result == NULL)
    return;
  g_clear_pointer (&self->pinned, dia_subtract_result_unref);
  self->pinned = dia_subtract_result_ref (self->result);
  g_clear_pointer (&self->a_minus_b, dia_image_unref);
  gtk_label_set_text (self->status_label, _("Pinned the current result as A"));
}

static void
on_compare_changed (GSimpleAction *action, GVariant *state, gpointer user_data)
{
  DsWindow *self = user_data;
  const char *v = g_variant_get_string (state, NULL);

  if (!g_str_equal (v, "a") && !g_str_equal (v, "b") && !g_str_equal (v, "a-minus-b"))
    return;
  if (!g_str_equal (v, "b") && self->pinned == NULL)
    {
      ds_window_show_error (self, _("Pin a result as A first (Ctrl+P), then change the "
                                    "parameters to compare."));
      return;
    }
  g_simple_action_set_state (action, state);
  g_free (self->compare);
  self->compare = g_strdup (v);
  ds_window_update_difference (self);
}

static void
on_diff_plane_changed (GSimpleAction *action, GVariant *state, gpointer user_data)
{
  DsWindow *self = user_data;
  const char *v = g_variant_get_string (state, NULL);
  DsImageView *view = self->views[DS_PANE_DIFFERENCE];

  g_simple_action_set_state (action, state);
  g_free (self->diff_plane);
  self->diff_plane = g_strdup (v);
  ds_image_view_set_plane (view, g_str_equal (v, "variance") ? DS_PLANE_VARIANCE
                                 : g_str_equal (v, "mask") ? DS_PLANE_MASK : DS_PLANE_IMAGE);
  {
    /* The score is in σ already: ±5 on the diverging map; the variance is positive. */
    DiaRenderParams params = *ds_image_view_get_render_params (view);

    params.limits = g_str_equal (v, "variance") || g_str_equal (v, "mask")
                      ? DIA_LIMITS_ZSCALE : DIA_LIMITS_SYMMETRIC_SIGMA;
    params.colormap = params.limits == DIA_LIMITS_ZSCALE ? DIA_COLORMAP_GRAY
                                                         : DIA_COLORMAP_DIVERGING;
    ds_image_view_set_render_params (view, &params);
  }
  ds_window_update_difference (self);
}

static void
on_plane_changed (GSimpleAction *action, GVariant *state, gpointer user_data)
{
  DsWindow *self = user_data;
  const char *v = g_variant_get_string (state, NULL);
  DsPaneId pane = g_str_has_suffix (g_action_get_name (G_ACTION (action)), "science")
                    ? DS_PANE_SCIENCE : DS_PANE_TEMPLATE;

  if (!g_str_equal (v, "image") && !g_str_equal (v, "variance") && !g_str_equal (v, "mask"))
    return;
  g_simple_action_set_state (action, state);
  ds_image_view_set_plane (self->views[pane], g_str_equal (v, "variance") ? DS_PLANE_VARIANCE
                                              : g_str_equal (v, "mask") ? DS_PLANE_MASK
                                              : DS_PLANE_IMAGE);
}

static void
on_show_parameters_changed (GSimpleAction *action, GVariant *state, gpointer user_data)
{
  DsWindow *self = user_data;

  g_simple_action_set_state (action, state);
  gtk_widget_set_visible (self->param_scroller, g_variant_get_boolean (state));
  ds_window_update_side_box (self);
}

/* The side pane shows when any of its parts does. */
void
ds_window_update_side_box (DsWindow *self)
{
  GtkWidget *histogram = GTK_WIDGET (self->histogram);
  GtkWidget *recall = GTK_WIDGET (self->recall_plot);

  gtk_widget_set_visible (self->side_box, gtk_widget_get_visible (self->param_scroller)
                                            || gtk_widget_get_visible (self->catalog_box)
                                            || gtk_widget_get_visible (self->psf_box)
                                            || gtk_widget_get_visible (histogram)
                                            || gtk_widget_get_visible (recall)
                                            || gtk_widget_get_visible (self->kernel_scroller));
}

/* --- actions ------------------------------------------------------------------------------- */

static gboolean
window_locked (DsWindow *self)
{
  return ds_display_controls_get_zoom_locked (self->display);
}

static void
action_zoom (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  DsWindow *self = DS_WINDOW (widget);
  DsImageView *view = self->active_view;

  if (g_str_equal (action_name, "win.zoom-in"))
    ds_image_view_zoom_step (view, 1, -1, -1);
  else if (g_str_equal (action_name, "win.zoom-out"))
    ds_image_view_zoom_step (view, -1, -1, -1);
  else if (g_str_equal (action_name, "win.zoom-1"))
    ds_image_view_zoom_to (view, 1.0);
  else if (window_locked (self))
    for (int i = 0; i < DS_N_PANES; i++)
      ds_image_view_zoom_fit (self->views[i]);
  else
    ds_image_view_zoom_fit (view);
}

/* win.lock-views is the pan + zoom pair of the display controls' locks. */
static void
window_apply_lock (DsWindow *self, gboolean locked)
{
  ds_display_controls_set_pan_zoom_locked (self->display, locked);
}

static void
on_lock_changed (GSimpleAction *action, GVariant *state, gpointer user_data)
{
  DsWindow *self = user_data;
  GSettings *settings = window_settings (self);

  g_simple_action_set_state (action, state);
  window_apply_lock (self, g_variant_get_boolean (state));
  if (settings != NULL && ds_window_script_get_screenshot_path (self) == NULL)
    g_settings_set_boolean (settings, "lock-views", g_variant_get_boolean (state));
}

static void
window_apply_stretch (DsWindow *self, const char *name)
{
  int s = ds_window_name_index (stretch_names, G_N_ELEMENTS (stretch_names), name);

  if (s < 0)
    return;
  for (int i = 0; i < DS_PANE_DIFFERENCE; i++)
    ds_image_view_set_stretch (self->views[i], (DiaStretch) s);
}

static void
window_apply_colormap (DsWindow *self, const char *name)
{
  const DiaColormap maps[] = { DIA_COLORMAP_GRAY, DIA_COLORMAP_GRAY_INVERTED,
                               DIA_COLORMAP_VIRIDIS_LIKE, DIA_COLORMAP_DIVERGING };
  int c = ds_window_name_index (colormap_names, G_N_ELEMENTS (colormap_names), name);

  if (c < 0)
    return;
  for (int i = 0; i < DS_PANE_DIFFERENCE; i++)
    ds_image_view_set_colormap (self->views[i], maps[c]);
}

/* A stateful choice action (stretch, colormap): accept only known names, apply, and remember
 * the choice in settings_key (not during scripted screenshots). */
static void
window_choice_changed (DsWindow *self, GSimpleAction *action, GVariant *state,
                       const char *const *names, gsize n_names,
                       void (*apply) (DsWindow *self, const char *name), const char *settings_key)
{
  GSettings *settings = window_settings (self);
  const char *name = g_variant_get_string (state, NULL);

  if (ds_window_name_index (names, n_names, name) < 0)
    return;
  g_simple_action_set_state (action, state);
  apply (self, name);
  if (settings != NULL && ds_window_script_get_screenshot_path (self) == NULL)
    g_settings_set_string (settings, settings_key, name);
}

static void
on_stretch_changed (GSimpleAction *action, GVariant *state, gpointer user_data)
{
  window_choice_changed (user_data, action, state, stretch_names, G_N_ELEMENTS (stretch_names),
                         window_apply_stretch, "default-stretch");
}

static void
on_colormap_changed (GSimpleAction *action, GVariant *state, gpointer user_data)
{
  window_choice_changed (user_data, action, state, colormap_names,
                         G_N_ELEMENTS (colormap_names), window_apply_colormap, "colormap");
}

/* --- GObject ------------------------------------------------------------------------------- */

static gboolean
ds_window_close_request (GtkWindow *window)
{
  DsWindow *self = DS_WINDOW (window);
  GSettings *settings = window_settings (self);

  if (settings != NULL && ds_window_script_get_screenshot_path (self) == NULL)
    {
      int w = 0, h = 0;

      gtk_window_get_default_size (window, &w, &h);
      if (w > 0 && h > 0)
        {
          g_settings_set_int (settings, "window-width", w);
          g_settings_set_int (settings, "window-height", h);
        }
      g_settings_set_boolean (settings, "window-maximized", gtk_window_is_maximized (window));
    }
  return GTK_WINDOW_CLASS (ds_window_parent_class)->close_request (window);
}

static void
ds_window_dispose (GObject *object)
{
  DsWindow *self = DS_WINDOW (object);

  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  g_clear_handle_id (&self->screenshot_poll_id, g_source_remove);
  g_clear_handle_id (&self->blink_id, g_source_remove);
  /* The header viewer is a toplevel of its own, transient for this window. */
  if (self->header_view != NULL)
    gtk_window_destroy (GTK_WINDOW (g_steal_pointer (&self->header_view)));
  g_clear_handle_id (&self->psf_timeout_id, g_source_remove);
  g_clear_handle_id (&self->catalog_idle_id, g_source_remove);
  g_clear_handle_id (&self->script_id, g_source_remove);
  if (self->fakes_cancellable != NULL)
    g_cancellable_cancel (self->fakes_cancellable);
  g_clear_object (&self->fakes_cancellable);
  if (self->after_paint_id != 0)
    {
      GdkFrameClock *clock = gtk_widget_get_frame_clock (GTK_WIDGET (self));

      if (clock != NULL)
        g_clear_signal_handler (&self->after_paint_id, clock);
      self->after_paint_id = 0;
    }
  if (self->runner != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->runner, self);
      ds_job_runner_cancel (self->runner);
      g_clear_object (&self->runner);
    }
  g_clear_object (&self->display);
  if (self->catalog_selection != NULL)
    g_signal_handlers_disconnect_by_data (self->catalog_selection, self);
  g_clear_object (&self->catalog_selection);
  g_clear_object (&self->catalog_rows);
  gtk_widget_dispose_template (GTK_WIDGET (self), DS_TYPE_WINDOW);
  G_OBJECT_CLASS (ds_window_parent_class)->dispose (object);
}

static void
ds_window_finalize (GObject *object)
{
  DsWindow *self = DS_WINDOW (object);

  for (int i = 0; i < DS_N_PANES; i++)
    g_clear_pointer (&self->wcs[i], dia_wcs_free);
  g_clear_object (&self->loader);
  g_free (self->pending_template);
  for (int i = 0; i < 2; i++)
    {
      g_clear_pointer (&self->inputs[i], dia_image_unref);
      g_free (self->input_paths[i]);
    }
  g_clear_pointer (&self->result, dia_subtract_result_unref);
  g_clear_pointer (&self->pinned, dia_subtract_result_unref);
  g_clear_pointer (&self->a_minus_b, dia_image_unref);
  g_clear_pointer (&self->recovery, dia_recovery_free);
  g_clear_pointer (&self->undo, g_array_unref);
  g_clear_pointer (&self->redo, g_array_unref);
  g_free (self->diff_plane);
  g_free (self->blink_pair);
  g_free (self->compare);
  if (self->report != NULL)
    g_string_free (self->report, TRUE);
  G_OBJECT_CLASS (ds_window_parent_class)->finalize (object);
}

static void
ds_window_class_init (DsWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = ds_window_dispose;
  object_class->finalize = ds_window_finalize;
  GTK_WINDOW_CLASS (klass)->close_request = ds_window_close_request;

  g_type_ensure (DS_TYPE_IMAGE_VIEW);
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/diffscope/Diffscope/ui/ds-window.ui");
  gtk_widget_class_bind_template_child (widget_class, DsWindow, spinner);
  gtk_widget_class_bind_template_child (widget_class, DsWindow, banner_revealer);
  gtk_widget_class_bind_template_child (widget_class, DsWindow, banner_label);
  gtk_widget_class_bind_template_child (widget_class, DsWindow, panes_box);
  gtk_widget_class_bind_template_child (widget_class, DsWindow, template_title);
  gtk_widget_class_bind_template_child (widget_class, DsWindow, science_title);
  gtk_widget_class_bind_template_child (widget_class, DsWindow, difference_title);
  gtk_widget_class_bind_template_child (widget_class, DsWindow, template_view);
  gtk_widget_class_bind_template_child (widget_class, DsWindow, science_view);
  gtk_widget_class_bind_template_child (widget_class, DsWindow, difference_view);
  gtk_widget_class_bind_template_child (widget_class, DsWindow, param_scroller);
  gtk_widget_class_bind_template_child (widget_class, DsWindow, side_box);
  gtk_widget_class_bind_template_child (widget_class, DsWindow, catalog_box);
  gtk_widget_class_bind_template_child (widget_class, DsWindow, catalog_label);
  gtk_widget_class_bind_template_child (widget_class, DsWindow, catalog_view);
  gtk_widget_class_bind_template_child (widget_class, DsWindow, psf_box);
  gtk_widget_class_bind_template_child (widget_class, DsWindow, psf_position_label);
  gtk_widget_class_bind_template_child (widget_class, DsWindow, psf_template_picture);
  gtk_widget_class_bind_template_child (widget_class, DsWindow, psf_science_picture);
  gtk_widget_class_bind_template_child (widget_class, DsWindow, psf_difference_picture);
  gtk_widget_class_bind_template_child (widget_class, DsWindow, psf_kernel_picture);
  gtk_widget_class_bind_template_child (widget_class, DsWindow, psf_template_label);
  gtk_widget_class_bind_template_child (widget_class, DsWindow, psf_science_label);
  gtk_widget_class_bind_template_child (widget_class, DsWindow, psf_difference_label);
  gtk_widget_class_bind_template_child (widget_class, DsWindow, psf_kernel_label);
  gtk_widget_class_bind_template_child (widget_class, DsWindow, progress_bar);
  gtk_widget_class_bind_template_child (widget_class, DsWindow, pixel_label);
  gtk_widget_class_bind_template_child (widget_class, DsWindow, status_label);
  gtk_widget_class_bind_template_callback (widget_class, on_banner_close_clicked);

  gtk_widget_class_install_action (widget_class, "win.open-pair", NULL,
                                   ds_window_session_action_open_pair);
  gtk_widget_class_install_action (widget_class, "win.screenshot", NULL,
                                   ds_window_session_action_screenshot);
  gtk_widget_class_install_action (widget_class, "win.zoom-in", NULL, action_zoom);
  gtk_widget_class_install_action (widget_class, "win.zoom-out", NULL, action_zoom);
  gtk_widget_class_install_action (widget_class, "win.zoom-fit", NULL, action_zoom);
  gtk_widget_class_install_action (widget_class, "win.zoom-1", NULL, action_zoom);
  gtk_widget_class_install_action (widget_class, "win.set-param", "s", action_set_param);
  gtk_widget_class_install_action (widget_class, "win.undo", NULL, action_undo_redo);
  gtk_widget_class_install_action (widget_class, "win.redo", NULL, action_undo_redo);
  gtk_widget_class_install_action (widget_class, "win.pin-a", NULL, action_pin_a);
  gtk_widget_class_install_action (widget_class, "win.export", NULL,
                                   ds_window_session_action_export);
  gtk_widget_class_install_action (widget_class, "win.export-all", "s",
                                   ds_window_session_action_export_all);
  gtk_widget_class_install_action (widget_class, "win.show-header", NULL,
                                   ds_window_header_action_show);
  gtk_widget_class_install_action (widget_class, "win.header-search", "s",
                                   ds_window_header_action_search);
  gtk_widget_class_install_action (widget_class, "win.save-session", NULL,
                                   ds_window_session_action_session);
  gtk_widget_class_install_action (widget_class, "win.load-session", NULL,
                                   ds_window_session_action_session);
  gtk_widget_class_install_action (widget_class, "win.run-fakes", NULL,
                                   ds_window_diagnostics_action_run_fakes);
}

static void
ds_window_init (DsWindow *self)
{
  const GActionEntry entries[] = {
    { "lock-views", NULL, NULL, "true", on_lock_changed, { 0 } },
    { "stretch", NULL, "s", "'linear'", on_stretch_changed, { 0 } },
    { "colormap", NULL, "s", "'gray'", on_colormap_changed, { 0 } },
    { "plane-template", NULL, "s", "'image'", on_plane_changed, { 0 } },
    { "plane-science", NULL, "s", "'image'", on_plane_changed, { 0 } },
    { "plane-difference", NULL, "s", "'image'", on_diff_plane_changed, { 0 } },
    { "compare", NULL, "s", "'b'", on_compare_changed, { 0 } },
    { "blink", NULL, NULL, "false", ds_window_blink_on_blink_changed, { 0 } },
    { "blink-pair", NULL, "s", "'template:science'", ds_window_blink_on_pair_changed, { 0 } },
    { "blink-interval", NULL, "s", "'0.6'", ds_window_blink_on_interval_changed, { 0 } },
    { "flip", NULL, NULL, "false", ds_window_blink_on_flip_changed, { 0 } },
    { "show-stamps", NULL, NULL, "true", ds_window_overlays_on_show_stamps_changed, { 0 } },
    { "show-parameters", NULL, NULL, "false", on_show_parameters_changed, { 0 } },
    { "show-quiver", NULL, NULL, "false", ds_window_overlays_on_show_quiver_changed, { 0 } },
    { "show-detections", NULL, NULL, "true", ds_window_catalog_on_show_detections_changed, { 0 } },
    { "show-catalog", NULL, NULL, "false", ds_window_catalog_on_show_catalog_changed, { 0 } },
    { "show-psf", NULL, NULL, "false", ds_window_psf_panel_on_show_changed, { 0 } },
    { "show-histogram", NULL, NULL, "false",
      ds_window_diagnostics_on_show_histogram_changed, { 0 } },
    { "quiver-scale", NULL, "d", "1.0", ds_window_overlays_on_quiver_scale_changed, { 0 } },
    { "show-fakes", NULL, NULL, "true", ds_window_diagnostics_on_show_fakes_changed, { 0 } },
    { "show-recall", NULL, NULL, "false", ds_window_diagnostics_on_show_recall_changed, { 0 } },
    { "show-kernel-views", NULL, NULL, "false",
      ds_window_diagnostics_on_show_kernel_views_changed, { 0 } },
  };
  DiaRenderParams diff_params;

  gtk_widget_init_template (GTK_WIDGET (self));
  self->views[DS_PANE_TEMPLATE] = self->template_view;
  self->views[DS_PANE_SCIENCE] = self->science_view;
  self->views[DS_PANE_DIFFERENCE] = self->difference_view;
  self->titles[DS_PANE_TEMPLATE] = self->template_title;
  self->titles[DS_PANE_SCIENCE] = self->science_title;
  self->titles[DS_PANE_DIFFERENCE] = self->difference_title;
  self->active_view = self->template_view;
  self->loader = ds_pair_loader_new ();

  for (int i = 0; i < DS_N_PANES; i++)
    g_signal_connect (self->views[i], "pointer-moved",
                      G_CALLBACK (ds_window_readout_on_pointer_moved), self);
  g_action_map_add_action_entries (G_ACTION_MAP (self), entries, G_N_ELEMENTS (entries), self);
  {
    GtkWidget *titles[DS_N_PANES];

    for (int i = 0; i < DS_N_PANES; i++)
      titles[i] = GTK_WIDGET (self->titles[i]);
    self->display = ds_display_controls_new (GTK_WIDGET (self), self->views, titles);
  }

  /* The difference: symmetric ±5σ on the diverging map, so the sign reads at a glance. */
  dia_render_params_init (&diff_params);
  diff_params.limits = DIA_LIMITS_SYMMETRIC_SIGMA;
  diff_params.sigma_k = 5.0;
  diff_params.colormap = DIA_COLORMAP_DIVERGING;
  ds_image_view_set_render_params (self->difference_view, &diff_params);

  dia_subtract_request_init (&self->request);
  self->undo = g_array_new (FALSE, FALSE, sizeof (DiaSubtractRequest));
  self->redo = g_array_new (FALSE, FALSE, sizeof (DiaSubtractRequest));
  self->diff_plane = g_strdup ("image");
  self->compare = g_strdup ("b");
  self->quiver_scale = 1.0;
  self->blink_pair = g_strdup ("template:science");
  self->blink_interval_ms = 600;
  self->blink_pane = -1;
  ds_window_readout_init (self);
  ds_window_blink_init (self);
  self->panel = DS_PARAM_PANEL (ds_param_panel_new ());
  ds_param_panel_set_request (self->panel, &self->request);
  gtk_scrolled_window_set_child (GTK_SCROLLED_WINDOW (self->param_scroller),
                                 GTK_WIDGET (self->panel));
  g_signal_connect (self->panel, "changed", G_CALLBACK (on_panel_changed), self);
  ds_window_catalog_init (self);
  ds_window_diagnostics_init (self);

  self->runner = ds_job_runner_new (ds_subtract_job_run, NULL, 40);
  g_signal_connect (self->runner, "published", G_CALLBACK (on_job_published), self);
  g_signal_connect (self->runner, "failed", G_CALLBACK (on_job_failed), self);
  g_signal_connect (self->runner, "progress", G_CALLBACK (on_job_progress), self);
  g_signal_connect (self->runner, "notify::busy", G_CALLBACK (on_runner_busy), self);
}

/* Applies the remembered preferences; needs the application, so runs after construction. */
static void
window_apply_settings (DsWindow *self)
{
  GSettings *settings = window_settings (self);
  gboolean lock = TRUE;
  g_autofree char *stretch = NULL;
  g_autofree char *colormap = NULL;

  if (settings != NULL)
    {
      gtk_window_set_default_size (GTK_WINDOW (self),
                                   g_settings_get_int (settings, "window-width"),
                                   g_settings_get_int (settings, "window-height"));
      if (g_settings_get_boolean (settings, "window-maximized"))
        gtk_window_maximize (GTK_WINDOW (self));
      lock = g_settings_get_boolean (settings, "lock-views");
      ds_display_controls_set_settings (self->display, settings);
      stretch = g_settings_get_string (settings, "default-stretch");
      colormap = g_settings_get_string (settings, "colormap");
    }
  else
    gtk_window_set_default_size (GTK_WINDOW (self), 1400, 800);

  g_action_group_change_action_state (G_ACTION_GROUP (self), "lock-views",
                                      g_variant_new_boolean (lock));
  /* change_state with an unchanged value still runs the handler, which applies it. */
  g_action_group_change_action_state (G_ACTION_GROUP (self), "stretch",
                                      g_variant_new_string (stretch ? stretch : "linear"));
  g_action_group_change_action_state (G_ACTION_GROUP (self), "colormap",
                                      g_variant_new_string (colormap ? colormap : "gray"));
}

DsWindow *
ds_window_new (DsApplication *application)
{
  DsWindow *self = g_object_new (DS_TYPE_WINDOW, "application", application, NULL);
  const char *const psf_accels[] = { "F11", NULL };
  const char *const histogram_accels[] = { "F12", NULL };

  if (ds_application_get_report_path (application) != NULL)
    self->report = g_string_new (NULL);

  /* The panel's accelerator lives with the panel (the application's table predates it). */
  gtk_application_set_accels_for_action (GTK_APPLICATION (application), "win.show-psf",
                                         psf_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (application), "win.show-histogram",
                                         histogram_accels);
  window_apply_settings (self);
  return self;
}
