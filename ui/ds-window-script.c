/* ds-window-script.c — scripted runs of the inspector window.
 *
 * --set KEY=VALUE and --action NAME[::TARGET] steps run after the first full result; --report
 * writes a plain-text log of submissions, publications and, at screenshot time, the pane
 * geometry and overlay positions, for the GUI tests.
 *
 * Scripted screenshots (--screenshot): after the pair has been shown, the window polls until
 * every pane is mapped and sized, then draws itself through gtk_widget_paintable_new() into a
 * render node, renders that with the window's own GskRenderer and saves the PNG
 * (ds_window_save_screenshot, ds-window-session.c).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "ds-window-private.h"

#include "dia-params.h"

#include <glib/gi18n.h>
#include <math.h>
#include <string.h>

const char *
ds_window_script_get_screenshot_path (DsWindow *self)
{
  GtkApplication *app = gtk_window_get_application (GTK_WINDOW (self));

  return DS_IS_APPLICATION (app) ? ds_application_get_screenshot_path (DS_APPLICATION (app))
                                 : NULL;
}

void
ds_window_script_finish (DsWindow *self, int status)
{
  GtkApplication *app = gtk_window_get_application (GTK_WINDOW (self));

  if (DS_IS_APPLICATION (app))
    {
      ds_application_set_exit_status (DS_APPLICATION (app), status);
      g_application_quit (G_APPLICATION (app));
    }
}

/* What an image shown in a pane is, for the report: "template", "science", "difference",
 * "a", "score", "other" or "none". */
static const char *
window_image_role (DsWindow *self, const DiaImage *im)
{
  if (im == NULL)
    return "none";
  if (im == self->inputs[0])
    return "template";
  if (im == self->inputs[1])
    return "science";
  if (self->result != NULL && im == self->result->diff)
    return "difference";
  if (self->result != NULL && im == self->result->score)
    return "score";
  if (self->pinned != NULL && im == self->pinned->diff)
    return "a";
  return "other";
}

static void
window_write_report (DsWindow *self)
{
  GtkApplication *app = gtk_window_get_application (GTK_WINDOW (self));
  const char *path = DS_IS_APPLICATION (app)
                       ? ds_application_get_report_path (DS_APPLICATION (app)) : NULL;
  static const char *const names[] = { "template", "science", "difference" };
  g_autoptr (GError) error = NULL;

  if (path == NULL || self->report == NULL)
    return;
  for (int i = 0; i < DS_N_PANES; i++)
    {
      graphene_rect_t b;
      double cx, cy;

      if (!gtk_widget_compute_bounds (GTK_WIDGET (self->views[i]), GTK_WIDGET (self), &b))
        continue;
      ds_image_view_get_center (self->views[i], &cx, &cy);
      ds_window_report (self, "view %s %.2f %.2f %.2f %.2f zoom %.6f center %.4f %.4f", names[i],
                     b.origin.x, b.origin.y, b.size.width, b.size.height,
                     ds_image_view_get_zoom (self->views[i]), cx, cy);
    }
  ds_display_controls_describe (self->display, self->report);
  if (gtk_widget_get_visible (self->psf_box))
    {
      GtkPicture *pictures[] = { self->psf_template_picture, self->psf_science_picture,
                                 self->psf_difference_picture, self->psf_kernel_picture };
      static const char *const psf_names[] = { "template", "science", "difference", "kernel" };

      for (size_t i = 0; i < G_N_ELEMENTS (pictures); i++)
        {
          graphene_rect_t b;

          if (gtk_widget_compute_bounds (GTK_WIDGET (pictures[i]), GTK_WIDGET (self), &b))
            ds_window_report (self, "psf-picture %s %.2f %.2f %.2f %.2f", psf_names[i],
                           b.origin.x, b.origin.y, b.size.width, b.size.height);
        }
    }
  if (gtk_widget_get_visible (GTK_WIDGET (self->histogram)))
    {
      graphene_rect_t b;

      if (gtk_widget_compute_bounds (GTK_WIDGET (self->histogram), GTK_WIDGET (self), &b))
        ds_window_report (self, "histogram %.2f %.2f %.2f %.2f sigma %.4f tail %.6g", b.origin.x,
                       b.origin.y, b.size.width, b.size.height,
                       ds_histogram_get_robust_sigma (self->histogram),
                       ds_histogram_get_tail_fraction (self->histogram));
    }
  if (self->result != NULL && self->result->plan->stamps != NULL)
    for (guint i = 0; i < self->result->plan->stamps->len; i++)
      {
        const DiaStamp *st = &g_array_index (self->result->plan->stamps, DiaStamp, i);

        if (st->status == DIA_STAMP_GOOD)
          ds_window_report (self, "stamp-used %.3f %.3f %.3f", st->x, st->y,
                         0.5 * self->result->plan->info.basis.size);
      }
  for (guint i = 0; self->catalog != NULL && i < self->catalog->sources->len; i++)
    {
      const DiaSource *src = &g_array_index (self->catalog->sources, DiaSource, i);

      ds_window_report (self, "source %d %.3f %.3f %s %s", src->id, src->x, src->y,
                     src->is_dipole ? "dipole" : src->is_negative ? "negative" : "positive",
                     ds_window_catalog_source_is_flagged (src) ? "flagged" : "clean");
    }
  if (self->catalog != NULL)
    ds_window_report (self, "detection-marker-radius %.3f",
                   isfinite (self->catalog->psf_fwhm) && self->catalog->psf_fwhm > 0
                     ? CLAMP (2.0 * self->catalog->psf_fwhm, 4.0, 30.0) : 6.0);
  ds_window_diagnostics_report (self);
  for (int i = 0; i < DS_N_PANES; i++)
    ds_window_report (self, "pane %s image %s title %s", names[i],
                   window_image_role (self, ds_image_view_get_image (self->views[i])),
                   gtk_label_get_text (self->titles[i]));
  if (self->header_view != NULL)
    ds_window_report (self, "header source %d cards %u matches %u",
                   (int) ds_header_view_get_source (self->header_view),
                   ds_header_view_get_n_cards (self->header_view),
                   ds_header_view_get_n_matches (self->header_view));
  if (!g_file_set_contents (path, self->report->str, -1, &error))
    g_printerr ("diffscope: %s\n", error->message);
}

static gboolean
on_screenshot_poll (gpointer user_data)
{
  DsWindow *self = user_data;
  const char *path = ds_window_script_get_screenshot_path (self);
  g_autoptr (GError) error = NULL;

  for (int i = 0; i < DS_N_PANES; i++)
    if (!gtk_widget_get_mapped (GTK_WIDGET (self->views[i]))
        || gtk_widget_get_width (GTK_WIDGET (self->views[i])) < 2)
      {
        self->screenshot_ready_polls = 0;
        return G_SOURCE_CONTINUE;
      }
  /* The subtraction (and any scripted change) must have settled too. */
  if (ds_job_runner_get_busy (self->runner) || !self->script_done
      || self->fakes_cancellable != NULL || self->exports_pending > 0)
    {
      self->screenshot_ready_polls = 0;
      return G_SOURCE_CONTINUE;
    }
  /* Mapped, sized and idle on two polls in a row: the layout has settled. */
  if (++self->screenshot_ready_polls < 2)
    return G_SOURCE_CONTINUE;

  self->screenshot_poll_id = 0;
  window_write_report (self);
  if (path != NULL && !ds_window_save_screenshot (self, path, &error))
    {
      g_printerr ("diffscope: %s\n", error->message);
      ds_window_script_finish (self, 1);
    }
  else
    ds_window_script_finish (self, 0);
  return G_SOURCE_REMOVE;
}

void
ds_window_script_start_screenshot_poll (DsWindow *self)
{
  if (ds_window_script_get_screenshot_path (self) != NULL && self->screenshot_poll_id == 0)
    self->screenshot_poll_id = g_timeout_add (100, on_screenshot_poll, self);
}

/* --action=NAME[::TARGET] steps, after the --set steps: each waits until the runner is idle,
 * then activates win.NAME, so "pin-a", "set-param::key=value", "compare::a-minus-b" can be
 * chained for screenshots of every state. */
static gboolean
on_action_step (gpointer user_data)
{
  DsWindow *self = user_data;
  GtkApplication *app = gtk_window_get_application (GTK_WINDOW (self));
  const char *const *actions = DS_IS_APPLICATION (app)
                                 ? ds_application_get_script_actions (DS_APPLICATION (app))
                                 : NULL;
  g_autofree char *name = NULL, *full = NULL;
  g_autoptr (GVariant) target = NULL;
  g_autoptr (GError) error = NULL;

  /* The next step waits until the last result is on screen (its table filled, its frame
   * drawn), as a user would: the timing log then measures each change on a settled window. */
  if (ds_job_runner_get_busy (self->runner) || self->catalog_idle_id != 0
      || self->after_paint_id != 0)
    return G_SOURCE_CONTINUE;
  if (actions == NULL || actions[self->action_step] == NULL)
    {
      self->script_id = 0;
      self->script_done = TRUE;
      return G_SOURCE_REMOVE;
    }
  if (strstr (actions[self->action_step], "::") != NULL)
    {
      g_auto (GStrv) parts = g_strsplit (actions[self->action_step], "::", 2);

      name = g_strdup (parts[0]);
      target = g_variant_ref_sink (g_variant_new_string (parts[1]));
    }
  else
    name = g_strdup (actions[self->action_step]);
  self->action_step++;
  full = g_strconcat ("win.", name, NULL);
  if (!gtk_widget_activate_action_variant (GTK_WIDGET (self), full, target))
    {
      g_printerr (_("diffscope: no action “%s” (or wrong target)\n"), full);
      self->script_id = 0;
      ds_window_script_finish (self, 2);
      return G_SOURCE_REMOVE;
    }
  return G_SOURCE_CONTINUE;
}

static void
window_run_actions (DsWindow *self)
{
  self->script_id = g_timeout_add (50, on_action_step, self);
}

/* Scripted changes (--set): one parameter change per option, 30 ms apart, so that a later
 * change arrives while the previous job runs and cancels it (the GUI tests check that the
 * cancelled job never publishes). */
static gboolean
on_script_step (gpointer user_data)
{
  DsWindow *self = user_data;
  GtkApplication *app = gtk_window_get_application (GTK_WINDOW (self));
  const char *const *sets = DS_IS_APPLICATION (app)
                              ? ds_application_get_script_sets (DS_APPLICATION (app)) : NULL;
  DiaSubtractRequest req = self->request;
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) kv = NULL;
  const char *step;

  self->script_id = 0;
  if (sets == NULL || sets[self->script_step] == NULL)
    {
      window_run_actions (self);
      return G_SOURCE_REMOVE;
    }
  step = sets[self->script_step++];
  kv = g_strsplit (step, "=", 2);
  if (kv[0] == NULL || kv[1] == NULL)
    {
      g_printerr (_("diffscope: --set wants KEY=VALUE (got “%s”)\n"), step);
      ds_window_script_finish (self, 2);
      return G_SOURCE_REMOVE;
    }
  if (!dia_params_set (&req, g_strstrip (kv[0]), g_strstrip (kv[1]), &error))
    {
      g_printerr ("diffscope: %s\n", error->message);
      ds_window_script_finish (self, 2);
      return G_SOURCE_REMOVE;
    }
  ds_window_change_request (self, &req, step, TRUE, 0);
  self->script_id = g_timeout_add (30, on_script_step, self);
  return G_SOURCE_REMOVE;
}

void
ds_window_script_start (DsWindow *self)
{
  on_script_step (self);
}
