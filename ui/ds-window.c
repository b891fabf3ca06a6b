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
 * Detections: every full-frame result is followed, in the same job, by its catalogue
 * (dia_detect_and_measure).  When only DETECT-stage parameters change (threshold, polarity,
 * growth…), the window submits a detection-only job on its cached result, so no plan, fit or
 * convolution runs (ds_subtract_detection_only).  The catalogue is drawn on the difference
 * (positive magenta circles, negative cyan circles, dipoles orange; flagged sources as
 * squares of the same colour) and listed in a GtkColumnView in the side pane; selecting a row
 * centres the difference on the source, clicking a marker selects its row.
 *
 * Overlays: the plan's stamps on the science and difference panes (used in green, reserve
 * in grey, rejected in red with the reason as tooltip) and the kernel-centroid quiver on the
 * difference (arrow scale from win.quiver-scale).  A/B: win.pin-a keeps the current result;
 * win.compare shows B (current), A, or A − B in the difference pane.
 *
 * Blink pair and hold-F flip (win.blink, win.blink-pair, win.blink-interval, win.flip), the
 * pixel readout under each pane title (ds-pixel-readout.h), the FITS header viewer
 * (win.show-header, ds-header-view.h) and Export All (win.export, win.export-all, on a worker
 * thread: ds-export.h) are described at their sections below.
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
 * the main thread for the status bar.
 *
 * PSF & kernel panel (win.show-psf, F11): for the image position under the pointer of any pane
 * (the image centre until the pointer has moved), the template, science and difference PSFs
 * (asinh, min–max) and the kernel (diverging, symmetric limits) of the last full result, each
 * rendered at 4× with nearest sampling into a GdkMemoryTexture.  Pointer motion only records
 * the position; a 50 ms timeout redraws, so fast motion costs at most 20 redraws a second, and
 * nothing is rendered while the panel is hidden.
 *
 * Residual histogram (win.show-histogram, F12): D/√V of the last full-frame difference over
 * pixels with no mask bit and finite positive variance (every k-th pixel, at most 500 000)
 * against the unit Gaussian, in a DsHistogram in the side pane; computed only while shown.
 *
 * Fakes and kernel views: win.run-fakes runs dia_fakes_run on the pair and request in a GTask
 * (ds-fakes-job.c; a new request or pair cancels the running one), draws found / lost fakes in
 * their own marker layer of the difference (win.show-fakes) and feeds the recall plot
 * (ds-recall-plot.c, win.show-recall); win.show-kernel-views shows the basis and kernel-sum
 * map of the last plan (ds-kernel-view.c).  All in the side pane.
 *
 * Scripted screenshots (--screenshot): after the pair has been shown, the window polls until
 * every pane is mapped and sized, then draws itself through gtk_widget_paintable_new() into a
 * render node, renders that with the window's own GskRenderer and saves the PNG.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "ds-window.h"
#include "ds-display-controls.h"
#include "ds-export.h"
#include "ds-fakes-job.h"
#include "ds-header-view.h"
#include "ds-histogram.h"
#include "ds-image-view.h"
#include "ds-job-runner.h"
#include "ds-kernel-view.h"
#include "ds-pair-loader.h"
#include "ds-param-panel.h"
#include "ds-pixel-readout.h"
#include "ds-recall-plot.h"
#include "ds-subtract-job.h"

#include "dia-params.h"
#include "dia-subtract-io.h"
#include "dia-wcs.h"

#include <glib/gi18n.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>

typedef enum
{
  DS_PANE_TEMPLATE,
  DS_PANE_SCIENCE,
  DS_PANE_DIFFERENCE,
  DS_N_PANES,
} DsPaneId;

struct _DsWindow
{
  GtkApplicationWindow parent_instance;

  /* template children */
  GtkWidget *spinner;
  GtkRevealer *banner_revealer;
  GtkLabel *banner_label;
  GtkWidget *panes_box;
  GtkLabel *template_title;
  GtkLabel *science_title;
  GtkLabel *difference_title;
  DsImageView *template_view;
  DsImageView *science_view;
  DsImageView *difference_view;
  GtkWidget *param_scroller;
  GtkWidget *side_box;
  GtkWidget *catalog_box;
  GtkLabel *catalog_label;
  GtkColumnView *catalog_view;
  GtkWidget *psf_box;
  GtkLabel *psf_position_label;
  GtkPicture *psf_template_picture, *psf_science_picture, *psf_difference_picture;
  GtkPicture *psf_kernel_picture;
  GtkLabel *psf_template_label, *psf_science_label, *psf_difference_label, *psf_kernel_label;
  GtkProgressBar *progress_bar;
  GtkLabel *pixel_label;
  GtkLabel *status_label;
  DsParamPanel *panel;

  DsImageView *views[DS_N_PANES];
  GtkLabel *titles[DS_N_PANES];
  struct wcsprm *wcs[DS_N_PANES];     /* private copies, main thread only; NULL if none     */
  DsImageView *active_view;           /* target of the zoom actions                          */
  DsDisplayControls *display;         /* per-pane display settings, locks, magnifier, masks */

  DsPairLoader *loader;
  GCancellable *cancellable;          /* of the current load                                 */
  char *pending_template;             /* Open Pair…: template chosen, science pending        */

  guint screenshot_poll_id;
  int screenshot_ready_polls;

  /* live rerun */
  DiaImage *inputs[2];                /* template, science (refs) of the loaded pair         */
  char *input_paths[2];               /* their files, NULL for the demo                      */
  DiaSubtractRequest request;         /* what the difference pane should show                */
  DsJobRunner *runner;
  DiaSubtractResult *result;          /* last full-frame result (B), or NULL                 */
  DiaSubtractResult *pinned;          /* A, or NULL                                         */
  DiaImage *a_minus_b;                /* cached A − B image, or NULL                         */
  GArray *undo, *redo;                /* DiaSubtractRequest                                  */
  char *diff_plane;                   /* "image", "variance", "mask" or "score"             */
  char *compare;                      /* "b", "a" or "a-minus-b"                             */
  double quiver_scale;                /* arrow length factor (1: longest = 40 % of a cell)  */
  guint blink_id;
  gboolean blink_phase;               /* TRUE: the blink pane shows the pair's second image  */
  char *blink_pair;                   /* win.blink-pair, lower case ("template:science")     */
  guint blink_interval_ms;
  gboolean flipped;                   /* win.flip: F held                                    */
  int blink_pane;                     /* pane showing a borrowed image, or -1                */
  GtkLabel *readouts[DS_N_PANES];     /* pixel readout under each pane title                 */
  DsHeaderView *header_view;          /* win.show-header, created on first use, or NULL      */
  int exports_pending;                /* exports running on worker threads                   */
  gint64 paint_change_time;           /* µs of the change whose pixels wait for a paint      */
  const char *paint_what;             /* "visible region", "full frame" or "detections"    */
  gulong after_paint_id;
  gboolean script_started, script_done; /* --set steps (screenshot scripts)                  */
  int script_step, action_step;
  guint script_id;
  GString *report;                    /* --report text, or NULL                              */
  DiaCatalog *catalog;                /* of self->result with the current detect params      */
  GtkStringList *catalog_rows;        /* one item per source: its index in catalog->sources  */
  guint catalog_idle_id;              /* fills catalog_rows after the markers are drawn      */
  GtkSingleSelection *catalog_selection;
  gboolean selecting_from_click;      /* a marker click selects: do not recentre the view    */
  gboolean psf_have_position;         /* psf_x/y set by the pointer (else: image centre)     */
  double psf_x, psf_y;                /* input-image position shown by the PSF panel         */
  guint psf_timeout_id;               /* pending throttled panel redraw                      */
  DsHistogram *histogram;             /* residual histogram in the side pane (child of it)   */
  GCancellable *fakes_cancellable;    /* of the running win.run-fakes task, or NULL          */
  DiaRecovery *recovery;              /* last fake-recovery result, or NULL                  */
  DsRecallPlot *recall_plot;          /* recall vs S/N (side pane, win.show-recall)          */
  DsKernelView *kernel_view;          /* basis and kernel-sum map (win.show-kernel-views)    */
  GtkWidget *kernel_scroller;         /* its scrolled window in the side pane                */
};

G_DEFINE_FINAL_TYPE (DsWindow, ds_window, GTK_TYPE_APPLICATION_WINDOW)

/* Names used in GSettings and action targets, in enum order. */
static const char *const stretch_names[] = { "linear", "log", "sqrt", "asinh", "histeq" };
static const char *const colormap_names[] = { "gray", "gray-inverted", "viridis",
                                              "diverging" };

static int
name_index (const char *const *names, size_t n, const char *name)
{
  for (size_t i = 0; i < n; i++)
    if (g_strcmp0 (names[i], name) == 0)
      return (int) i;
  return -1;
}

static const char *
pane_name (DsPaneId id)
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
static void window_report (DsWindow *self, const char *format, ...) G_GNUC_PRINTF (2, 3);
static void window_update_difference (DsWindow *self);
static void window_set_catalog (DsWindow *self, DiaCatalog *catalog);
static void window_update_side_box (DsWindow *self);
static gboolean source_is_flagged (const DiaSource *src);
static void window_update_psf_panel (DsWindow *self);
static void window_queue_psf_panel (DsWindow *self);
static void window_update_histogram (DsWindow *self);
static void window_report_diagnostics (DsWindow *self);
static void window_clear_fakes (DsWindow *self);

static GSettings *
window_settings (DsWindow *self)
{
  GtkApplication *app = gtk_window_get_application (GTK_WINDOW (self));

  return DS_IS_APPLICATION (app) ? ds_application_get_settings (DS_APPLICATION (app)) : NULL;
}

static const char *
window_screenshot_path (DsWindow *self)
{
  GtkApplication *app = gtk_window_get_application (GTK_WINDOW (self));

  return DS_IS_APPLICATION (app) ? ds_application_get_screenshot_path (DS_APPLICATION (app))
                                 : NULL;
}

static void
window_finish_script (DsWindow *self, int status)
{
  GtkApplication *app = gtk_window_get_application (GTK_WINDOW (self));

  if (DS_IS_APPLICATION (app))
    {
      ds_application_set_exit_status (DS_APPLICATION (app), status);
      g_application_quit (G_APPLICATION (app));
    }
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

/* --- status bar ---------------------------------------------------------------------------- */

static void
append_sexagesimal (GString *s, double value, gboolean hours)
{
  double v = hours ? value / 15.0 : fabs (value);
  int a, b;
  double c;

  if (hours)
    v = fmod (fmod (v, 24.0) + 24.0, 24.0);
  a = (int) floor (v);
  b = (int) floor ((v - a) * 60.0);
  c = ((v - a) * 60.0 - b) * 60.0;
  if (hours)
    g_string_append_printf (s, "%02d:%02d:%05.2f", a, b, c);
  else
    g_string_append_printf (s, "%c%02d:%02d:%04.1f", value < 0 ? '-' : '+', a, b, c);
}

/* The readout under each pane title for the same input-grid position (gx, gy) in every pane;
 * images other than the inputs (differences, score) may be a region of that grid. */
static void
window_update_readouts (DsWindow *self, double gx, double gy)
{
  for (int p = 0; p < DS_N_PANES; p++)
    {
      DiaImage *im = ds_image_view_get_image (self->views[p]);
      int ox = 0, oy = 0;
      g_autofree char *text = NULL;

      if (self->readouts[p] == NULL)
        continue;
      if (im != NULL && im != self->inputs[0] && im != self->inputs[1] && self->result != NULL)
        {
          ox = self->result->region.x;
          oy = self->result->region.y;
        }
      text = ds_pixel_readout_format (im, (int) floor (gx + 0.5) - ox,
                                      (int) floor (gy + 0.5) - oy);
      gtk_label_set_text (self->readouts[p], text);
    }
}

static void
on_pointer_moved (DsImageView *view, gboolean inside, double ix, double iy, DsWindow *self)
{
  DiaImage *im = ds_image_view_get_image (view);
  g_autoptr (GString) s = NULL;
  int pane = DS_PANE_TEMPLATE;
  int x, y;

  for (int i = 0; i < DS_N_PANES; i++)
    if (view == self->views[i])
      pane = i;

  if (inside)
    self->active_view = view;
  if (!inside || im == NULL)
    {
      gtk_label_set_text (self->pixel_label, "");
      return;
    }
  self->psf_have_position = TRUE;
  self->psf_x = ix;
  self->psf_y = iy;
  if (pane == DS_PANE_DIFFERENCE && self->result != NULL && im == self->result->diff)
    {
      /* The difference may be a cropped region of the inputs' grid. */
      self->psf_x += self->result->region.x;
      self->psf_y += self->result->region.y;
    }
  window_queue_psf_panel (self);
  window_update_readouts (self, self->psf_x, self->psf_y);
  x = (int) floor (ix + 0.5);
  y = (int) floor (iy + 0.5);
  s = g_string_new (pane_name (pane));
  /* Translators: pixel coordinates in the status bar */
  g_string_append_printf (s, _("   x %d  y %d"), x, y);
  if (x < 0 || y < 0 || x >= im->width || y >= im->height)
    {
      g_string_append (s, _("   (outside the image)"));
    }
  else
    {
      size_t i = dia_image_index (im, x, y);
      float v = im->pix[i], var = im->var != NULL ? im->var[i] : NAN;
      DiaMask m = im->mask != NULL ? im->mask[i] : 0;

      g_string_append_printf (s, _("   value %.6g"), v);
      g_string_append_printf (s, _("   variance %.6g"), var);
      if (var > 0 && isfinite (var))
        g_string_append_printf (s, _("   S/N %.1f"), v / sqrt (var));
      if (m != 0)
        {
          gboolean first = TRUE;

          g_string_append (s, _("   mask "));
          for (int b = 0; b < DIA_MASK_MAX_PLANES; b++)
            if ((m & (1u << b)) != 0)
              {
                g_string_append_printf (s, "%s%s", first ? "" : ",",
                                        im->plane_names[b] != NULL ? im->plane_names[b] : "?");
                first = FALSE;
              }
        }
    }
  if (pane != DS_PANE_DIFFERENCE && self->wcs[pane] != NULL)
    {
      double ra, dec;

      if (dia_wcs_pix2sky (self->wcs[pane], ix, iy, &ra, &dec))
        {
          g_string_append (s, _("   RA "));
          append_sexagesimal (s, ra, TRUE);
          g_string_append (s, _("  Dec "));
          append_sexagesimal (s, dec, FALSE);
        }
    }
  gtk_label_set_text (self->pixel_label, s->str);
}

/* --- loading ------------------------------------------------------------------------------- */

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
      window_report (self, "view %s %.2f %.2f %.2f %.2f zoom %.6f center %.4f %.4f", names[i],
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
            window_report (self, "psf-picture %s %.2f %.2f %.2f %.2f", psf_names[i],
                           b.origin.x, b.origin.y, b.size.width, b.size.height);
        }
    }
  if (gtk_widget_get_visible (GTK_WIDGET (self->histogram)))
    {
      graphene_rect_t b;

      if (gtk_widget_compute_bounds (GTK_WIDGET (self->histogram), GTK_WIDGET (self), &b))
        window_report (self, "histogram %.2f %.2f %.2f %.2f sigma %.4f tail %.6g", b.origin.x,
                       b.origin.y, b.size.width, b.size.height,
                       ds_histogram_get_robust_sigma (self->histogram),
                       ds_histogram_get_tail_fraction (self->histogram));
    }
  if (self->result != NULL && self->result->plan->stamps != NULL)
    for (guint i = 0; i < self->result->plan->stamps->len; i++)
      {
        const DiaStamp *st = &g_array_index (self->result->plan->stamps, DiaStamp, i);

        if (st->status == DIA_STAMP_GOOD)
          window_report (self, "stamp-used %.3f %.3f %.3f", st->x, st->y,
                         0.5 * self->result->plan->info.basis.size);
      }
  for (guint i = 0; self->catalog != NULL && i < self->catalog->sources->len; i++)
    {
      const DiaSource *src = &g_array_index (self->catalog->sources, DiaSource, i);

      window_report (self, "source %d %.3f %.3f %s %s", src->id, src->x, src->y,
                     src->is_dipole ? "dipole" : src->is_negative ? "negative" : "positive",
                     source_is_flagged (src) ? "flagged" : "clean");
    }
  if (self->catalog != NULL)
    window_report (self, "detection-marker-radius %.3f",
                   isfinite (self->catalog->psf_fwhm) && self->catalog->psf_fwhm > 0
                     ? CLAMP (2.0 * self->catalog->psf_fwhm, 4.0, 30.0) : 6.0);
  window_report_diagnostics (self);
  for (int i = 0; i < DS_N_PANES; i++)
    window_report (self, "pane %s image %s title %s", names[i],
                   window_image_role (self, ds_image_view_get_image (self->views[i])),
                   gtk_label_get_text (self->titles[i]));
  if (self->header_view != NULL)
    window_report (self, "header source %d cards %u matches %u",
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
  const char *path = window_screenshot_path (self);
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
      window_finish_script (self, 1);
    }
  else
    window_finish_script (self, 0);
  return G_SOURCE_REMOVE;
}

static void
window_start_screenshot_poll (DsWindow *self)
{
  if (window_screenshot_path (self) != NULL && self->screenshot_poll_id == 0)
    self->screenshot_poll_id = g_timeout_add (100, on_screenshot_poll, self);
}

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
          label = g_strdup_printf ("%s — %s", pane_name (i), base);
        }
      gtk_label_set_text (self->titles[i], label != NULL ? label : pane_name (i));
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
  window_clear_fakes (self);
  ds_kernel_view_set_plan (self->kernel_view, NULL);
  ds_image_view_set_image (self->views[DS_PANE_DIFFERENCE], NULL);
  for (int l = 0; l < DS_IMAGE_VIEW_N_LAYERS; l++)
    for (int i = 0; i < DS_N_PANES; i++)
      ds_image_view_set_markers (self->views[i], l, NULL);
  gtk_label_set_text (self->titles[DS_PANE_DIFFERENCE], pane_name (DS_PANE_DIFFERENCE));

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
      if (window_screenshot_path (self) != NULL)
        {
          g_printerr ("diffscope: %s\n", error->message);
          window_finish_script (self, 1);
          return;
        }
      ds_window_show_error (self, error->message);
      return;
    }
  window_show_pair (self, pair);
  window_start_screenshot_poll (self);
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

/* --- live rerun ---------------------------------------------------------------------------- */

/* Layers of the image views. */
enum
{
  LAYER_STAMPS,
  LAYER_QUIVER,
  LAYER_DETECTIONS,
  LAYER_FAKES,
};

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
      window_report (self, "submitted %" G_GUINT64_FORMAT " %s detection", gen,
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
      input->region = visible;
      input->has_region = TRUE;
    }
  gen = ds_job_runner_submit_with_delay (self->runner, input,
                                         (GDestroyNotify) ds_subtract_input_free, delay_ms);
  window_report (self, "submitted %" G_GUINT64_FORMAT " %s", gen,
                 reason != NULL ? reason : "inputs");
  gtk_spinner_start (GTK_SPINNER (self->spinner));
}

static void
window_submit (DsWindow *self, const char *reason)
{
  window_submit_with_delay (self, reason, 0);
}

/* A parameter change from any source: remember the old request for undo, rerun. */
static void
window_change_request (DsWindow *self, const DiaSubtractRequest *request, const char *reason,
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

  window_change_request (self, ds_param_panel_get_request (panel), key, TRUE, delay);
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

/* Stamps rejected by the fit (the interesting ones) stand out; stamps never considered
 * (edge, masked, saturated, S/N, crowded, extended) are drawn small and faint so that the
 * hundreds of them do not hide the sky. */
static gboolean
stamp_rejected_by_fit (DiaStampStatus status)
{
  return status == DIA_STAMP_REJECT_KERNEL_SUM || status == DIA_STAMP_REJECT_RESID_MEAN
         || status == DIA_STAMP_REJECT_RESID_RMS || status == DIA_STAMP_REJECT_SPATIAL
         || status == DIA_STAMP_REJECT_SINGULAR;
}

static void
window_update_overlays (DsWindow *self)
{
  DiaSubtractPlan *plan = self->result != NULL ? self->result->plan : NULL;
  g_autoptr (GArray) stamps = NULL;
  g_autoptr (GArray) quiver = NULL;
  GVariant *state = g_action_group_get_action_state (G_ACTION_GROUP (self), "show-stamps");
  gboolean show = state == NULL || g_variant_get_boolean (state);

  g_clear_pointer (&state, g_variant_unref);
  if (plan == NULL)
    return;
  stamps = ds_marker_array_new ();
  for (guint i = 0; plan->stamps != NULL && i < plan->stamps->len; i++)
    {
      const DiaStamp *st = &g_array_index (plan->stamps, DiaStamp, i);
      DsMarker m = { 0 };

      if (st->status == DIA_STAMP_RESERVE)
        continue;
      m.x = st->x;
      m.y = st->y;
      if (st->status == DIA_STAMP_GOOD)
        {
          m.size = 0.5 * plan->info.basis.size;
          m.shape = DS_MARKER_CIRCLE;
          m.rgba = 0x33dd55e6;
        }
      else if (stamp_rejected_by_fit (st->status))
        {
          m.size = 0.5 * plan->info.basis.size;
          m.shape = DS_MARKER_SQUARE;
          m.rgba = 0xff3030f0;
        }
      else
        {
          m.size = 0.0;
          m.shape = DS_MARKER_CROSS;
          m.rgba = 0xff903050;
        }
      m.tooltip = st->status == DIA_STAMP_GOOD
                    ? g_strdup_printf (_("Stamp used: S/N %.0f, kernel sum %.4f"), st->snr,
                                       st->kernel_sum)
                    : g_strdup_printf (_("Stamp not used: %s (S/N %.0f)"),
                                       _(dia_stamp_status_to_string (st->status)), st->snr);
      g_array_append_val (stamps, m);
    }
  if (plan->kernel != NULL)
    {
      const int n = 8;
      int w = plan->science_image->width, h = plan->science_image->height;

      double off[8][8][2], longest = 0.0, scale;

      /* Auto scale: the longest arrow spans 40 % of a grid cell, times the user's factor. */
      for (int j = 0; j < n; j++)
        for (int i = 0; i < n; i++)
          {
            dia_kernel_solution_centroid (plan->kernel, (i + 0.5) * w / n, (j + 0.5) * h / n,
                                          &off[j][i][0], &off[j][i][1]);
            longest = MAX (longest, hypot (off[j][i][0], off[j][i][1]));
          }
      scale = longest > 0 ? 0.4 * MIN (w, h) / n / longest * self->quiver_scale : 0.0;
      quiver = ds_marker_array_new ();
      for (int j = 0; j < n; j++)
        for (int i = 0; i < n; i++)
          {
            DsMarker m = { 0 };
            double dx = off[j][i][0], dy = off[j][i][1];

            m.x = (i + 0.5) * w / n;
            m.y = (j + 0.5) * h / n;
            m.dx = dx * scale;
            m.dy = dy * scale;
            m.shape = DS_MARKER_ARROW;
            m.rgba = 0xffd400ff;
            m.tooltip = g_strdup_printf (_("Kernel centroid offset (%.3f, %.3f) px, sum %.4f"),
                                         dx, dy,
                                         dia_kernel_solution_sum (plan->kernel, m.x, m.y));
            g_array_append_val (quiver, m);
          }
    }
  /* Stamps on the science image (where they were chosen); the difference keeps its
   * residuals visible and carries the quiver. */
  ds_image_view_set_markers (self->views[DS_PANE_SCIENCE], LAYER_STAMPS, stamps);
  ds_image_view_set_layer_visible (self->views[DS_PANE_SCIENCE], LAYER_STAMPS, show);
  ds_image_view_set_markers (self->views[DS_PANE_DIFFERENCE], LAYER_QUIVER, quiver);
  state = g_action_group_get_action_state (G_ACTION_GROUP (self), "show-quiver");
  ds_image_view_set_layer_visible (self->views[DS_PANE_DIFFERENCE], LAYER_QUIVER,
                                   state != NULL && g_variant_get_boolean (state));
  g_clear_pointer (&state, g_variant_unref);
}

/* --- detections ---------------------------------------------------------------------------- */

/* Flags that make a measurement doubtful; DIPOLE_ATTEMPTED and SHAPE_FAILED (moments of a
 * faint source) are informative only. */
static gboolean
source_is_flagged (const DiaSource *src)
{
  return (src->flags & ~(guint32) (DIA_SOURCE_DIPOLE_ATTEMPTED | DIA_SOURCE_SHAPE_FAILED)) != 0;
}

static void window_show_detection_markers (DsWindow *self, const DiaCatalog *catalog);

static void
window_update_detection_markers (DsWindow *self)
{
  window_show_detection_markers (self, self->catalog);
}

/* Markers of catalog (self->catalog, or a provisional, unmeasured one) on the difference. */
static void
window_show_detection_markers (DsWindow *self, const DiaCatalog *catalog)
{
  g_autoptr (GArray) markers = NULL;
  GVariant *state;
  double radius, fwhm;

  if (catalog == NULL)
    return;
  /* About two FWHM: the ring sits around the PSF core instead of on it.  An unmeasured
   * catalogue has no PSF width yet: the last measured one's keeps the rings steady. */
  fwhm = catalog->psf_fwhm;
  if (!isfinite (fwhm) && self->catalog != NULL)
    fwhm = self->catalog->psf_fwhm;
  radius = isfinite (fwhm) && fwhm > 0 ? CLAMP (2.0 * fwhm, 4.0, 30.0) : 6.0;
  markers = ds_marker_array_new ();
  for (guint i = 0; i < catalog->sources->len; i++)
    {
      const DiaSource *src = &g_array_index (catalog->sources, DiaSource, i);
      DsMarker m = { 0 };
      const char *kind;

      m.x = src->x;
      m.y = src->y;
      m.size = radius;
      m.shape = source_is_flagged (src) ? DS_MARKER_SQUARE : DS_MARKER_CIRCLE;
      if (src->is_dipole)
        {
          m.rgba = 0xff8c00ff;
          kind = _("dipole");
        }
      else if (src->is_negative)
        {
          m.rgba = 0x00e5ffff;
          kind = _("negative");
        }
      else
        {
          m.rgba = 0xff00ffff;
          kind = _("positive");
        }
      /* Translators: tooltip of a detection marker: id, kind, S/N, PSF flux, flags */
      m.tooltip = g_strdup_printf (_("Source %d (%s): S/N %.1f, PSF flux %.1f ± %.1f, "
                                     "flags 0x%x"), src->id, kind, src->snr, src->psf_flux,
                                   src->psf_flux_err, src->flags);
      g_array_append_val (markers, m);
    }
  ds_image_view_set_markers (self->views[DS_PANE_DIFFERENCE], LAYER_DETECTIONS, markers);
  state = g_action_group_get_action_state (G_ACTION_GROUP (self), "show-detections");
  ds_image_view_set_layer_visible (self->views[DS_PANE_DIFFERENCE], LAYER_DETECTIONS,
                                   state == NULL || g_variant_get_boolean (state));
  g_clear_pointer (&state, g_variant_unref);
}

/* Takes a new reference to catalog; refreshes the markers and the table. */
/* The catalogue table and its heading, from self->catalog (see window_set_catalog). */
static gboolean
on_catalog_idle (gpointer user_data)
{
  DsWindow *self = user_data;
  DiaCatalog *catalog = self->catalog;
  g_autofree char *title = NULL;
  guint n_old = g_list_model_get_n_items (G_LIST_MODEL (self->catalog_rows));
  g_autoptr (GPtrArray) rows = g_ptr_array_new_with_free_func (g_free);
  int n_pos = 0, n_neg = 0, n_dip = 0, n_flag = 0;

  self->catalog_idle_id = 0;
  if (catalog == NULL)
    return G_SOURCE_REMOVE;
  for (guint i = 0; i < catalog->sources->len; i++)
    {
      const DiaSource *src = &g_array_index (catalog->sources, DiaSource, i);

      g_ptr_array_add (rows, g_strdup_printf ("%u", i));
      n_dip += src->is_dipole;
      n_neg += !src->is_dipole && src->is_negative;
      n_pos += !src->is_dipole && !src->is_negative;
      n_flag += source_is_flagged (src);
    }
  g_ptr_array_add (rows, NULL);
  gtk_string_list_splice (self->catalog_rows, 0, n_old, (const char *const *) rows->pdata);
  /* Translators: heading of the catalogue table */
  title = g_strdup_printf (_("%u sources at %.1f σ: %d positive, %d negative, %d dipoles, "
                             "%d flagged"), catalog->sources->len, catalog->params.threshold,
                           n_pos, n_neg, n_dip, n_flag);
  gtk_label_set_text (self->catalog_label, title);
  return G_SOURCE_REMOVE;
}

static void
window_set_catalog (DsWindow *self, DiaCatalog *catalog)
{
  dia_catalog_ref (catalog);
  g_clear_pointer (&self->catalog, dia_catalog_unref);
  self->catalog = catalog;
  /* Markers first, the table at a lower priority than drawing: the overlays of a threshold
   * change reach the screen in the next frame, and rebinding the table's visible rows (tens
   * of milliseconds) happens after it. */
  window_update_detection_markers (self);
  if (self->catalog_idle_id == 0)
    self->catalog_idle_id = g_idle_add_full (GDK_PRIORITY_REDRAW + 10, on_catalog_idle, self,
                                             NULL);
}

/* The source of a catalogue row item (a GtkStringObject holding the source index). */
static const DiaSource *
window_row_source (DsWindow *self, GtkStringObject *item)
{
  guint64 i;

  /* Rows may still list the previous catalogue for a moment (window_set_catalog). */
  if (self->catalog == NULL || item == NULL || self->catalog->sources->len == 0
      || !g_ascii_string_to_unsigned (gtk_string_object_get_string (item), 10, 0,
                                      self->catalog->sources->len - 1, &i, NULL))
    return NULL;
  return &g_array_index (self->catalog->sources, DiaSource, i);
}

enum
{
  COLUMN_ID,
  COLUMN_X,
  COLUMN_Y,
  COLUMN_SNR,
  COLUMN_PSF_FLUX,
  COLUMN_FLAGS,
  N_COLUMNS,
};

static void
on_catalog_setup (GtkSignalListItemFactory *factory, GtkListItem *item, DsWindow *self)
{
  GtkWidget *label = gtk_label_new (NULL);

  gtk_label_set_xalign (GTK_LABEL (label), 1.0);
  gtk_widget_add_css_class (label, "numeric");
  gtk_list_item_set_child (item, label);
}

static void
on_catalog_bind (GtkSignalListItemFactory *factory, GtkListItem *item, DsWindow *self)
{
  int column = GPOINTER_TO_INT (g_object_get_data (G_OBJECT (factory), "ds-column"));
  const DiaSource *src = window_row_source (self, gtk_list_item_get_item (item));
  g_autofree char *text = NULL;

  if (src == NULL)
    text = g_strdup ("");
  else if (column == COLUMN_ID)
    text = g_strdup_printf ("%d", src->id);
  else if (column == COLUMN_X)
    text = g_strdup_printf ("%.1f", src->x);
  else if (column == COLUMN_Y)
    text = g_strdup_printf ("%.1f", src->y);
  else if (column == COLUMN_SNR)
    text = g_strdup_printf ("%.1f", src->snr);
  else if (column == COLUMN_PSF_FLUX)
    text = g_strdup_printf ("%.1f", src->psf_flux);
  else
    text = g_strdup_printf ("0x%x", src->flags);
  gtk_label_set_text (GTK_LABEL (gtk_list_item_get_child (item)), text);
}

/* Row → image: centre the difference (and, when locked, every pane) on the source. */
static void
on_catalog_selected (GtkSingleSelection *selection, GParamSpec *pspec, DsWindow *self)
{
  const DiaSource *src = window_row_source (self, gtk_single_selection_get_selected_item
                                                    (selection));

  if (src == NULL || self->selecting_from_click)
    return;
  ds_image_view_set_center (self->views[DS_PANE_DIFFERENCE], src->x, src->y);
}

/* Image → row: a primary click within a marker's radius (at least 6 screen px) selects the
 * nearest source. */
static void
on_difference_clicked (GtkGestureClick *gesture, int n_press, double wx, double wy,
                       DsWindow *self)
{
  DsImageView *view = self->views[DS_PANE_DIFFERENCE];
  double ix, iy, best = G_MAXDOUBLE, reach;
  guint best_i = GTK_INVALID_LIST_POSITION;

  if (self->catalog == NULL)
    return;
  ds_image_view_widget_to_image (view, wx, wy, &ix, &iy);
  reach = MAX (CLAMP (2.0 * self->catalog->psf_fwhm, 4.0, 30.0),
               6.0 / MAX (ds_image_view_get_zoom (view), 1e-6));
  for (guint i = 0; i < self->catalog->sources->len; i++)
    {
      const DiaSource *src = &g_array_index (self->catalog->sources, DiaSource, i);
      double d = hypot (src->x - ix, src->y - iy);

      if (d <= reach && d < best)
        {
          best = d;
          best_i = i;
        }
    }
  if (best_i == GTK_INVALID_LIST_POSITION)
    return;
  self->selecting_from_click = TRUE;
  gtk_single_selection_set_selected (self->catalog_selection, best_i);
  self->selecting_from_click = FALSE;
  window_report (self, "selected %d", g_array_index (self->catalog->sources, DiaSource,
                                                     best_i).id);
}

static void
window_init_catalog (DsWindow *self)
{
  static const char *const titles[N_COLUMNS] = {
    N_("Id"), N_("x"), N_("y"), N_("S/N"), N_("PSF flux"), N_("Flags"),
  };
  GtkGesture *click;

  self->catalog_rows = gtk_string_list_new (NULL);
  self->catalog_selection = gtk_single_selection_new (
      G_LIST_MODEL (g_object_ref (self->catalog_rows)));
  gtk_single_selection_set_autoselect (self->catalog_selection, FALSE);
  gtk_single_selection_set_can_unselect (self->catalog_selection, TRUE);
  gtk_column_view_set_model (self->catalog_view, GTK_SELECTION_MODEL (self->catalog_selection));
  for (int c = 0; c < N_COLUMNS; c++)
    {
      GtkListItemFactory *factory = gtk_signal_list_item_factory_new ();
      GtkColumnViewColumn *column;

      g_object_set_data (G_OBJECT (factory), "ds-column", GINT_TO_POINTER (c));
      g_signal_connect (factory, "setup", G_CALLBACK (on_catalog_setup), self);
      g_signal_connect (factory, "bind", G_CALLBACK (on_catalog_bind), self);
      column = gtk_column_view_column_new (_(titles[c]), factory);
      gtk_column_view_append_column (self->catalog_view, column);
      g_object_unref (column);
    }
  g_signal_connect (self->catalog_selection, "notify::selected",
                    G_CALLBACK (on_catalog_selected), self);
  click = gtk_gesture_click_new ();
  gtk_gesture_single_set_button (GTK_GESTURE_SINGLE (click), GDK_BUTTON_PRIMARY);
  g_signal_connect (click, "released", G_CALLBACK (on_difference_clicked), self);
  gtk_widget_add_controller (GTK_WIDGET (self->views[DS_PANE_DIFFERENCE]),
                             GTK_EVENT_CONTROLLER (click));
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
static void
window_update_difference (DsWindow *self)
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
      window_finish_script (self, 2);
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
      window_finish_script (self, 2);
      return G_SOURCE_REMOVE;
    }
  if (!dia_params_set (&req, g_strstrip (kv[0]), g_strstrip (kv[1]), &error))
    {
      g_printerr ("diffscope: %s\n", error->message);
      window_finish_script (self, 2);
      return G_SOURCE_REMOVE;
    }
  window_change_request (self, &req, step, TRUE, 0);
  self->script_id = g_timeout_add (30, on_script_step, self);
  return G_SOURCE_REMOVE;
}

/* --report: a plain-text log of submissions, publications and, at screenshot time, the
 * pane geometry and overlay positions, for the GUI tests. */
static void
window_report (DsWindow *self, const char *format, ...)
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
      window_report (self, "published %" G_GUINT64_FORMAT " detection", generation);
      /* A detection-only job may finish after a newer full frame has been shown only if it
       * was not superseded, which the runner guarantees; still, never pair a catalogue with
       * a frame it was not detected on. */
      if (out->detection_only && out->result != self->result)
        return;
      if (out->provisional)
        {
          /* Detected, not yet measured: move the markers now, the measured catalogue
           * (fluxes, dipoles, flags, the table) follows. */
          window_show_detection_markers (self, out->catalog);
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
      window_set_catalog (self, out->catalog);
      g_debug ("rerun %" G_GUINT64_FORMAT ": catalogue (%u sources; detect %.1f ms, measure "
               "%.1f ms) shown %.1f ms after the change", generation,
               out->catalog->sources->len, out->catalog->detect_ms, out->catalog->measure_ms,
               (g_get_monotonic_time () - out->submit_time) / 1000.0);
      if (out->detection_only)
        window_log_next_paint (self, out->submit_time, "measured detections");
      return;
    }
  if (out->is_region)
    window_report (self, "published %" G_GUINT64_FORMAT " region", generation);

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
  window_update_difference (self);
  window_update_overlays (self);
  window_update_summary (self);
  window_update_psf_panel (self);
  window_update_histogram (self);
  ds_kernel_view_set_plan (self->kernel_view, r->plan);
  if (self->paint_change_time != out->submit_time || self->after_paint_id == 0)
    window_log_next_paint (self, out->submit_time, "full frame");
  window_report (self, "published %" G_GUINT64_FORMAT " full", generation);
  if (!self->script_started)
    {
      self->script_started = TRUE;
      on_script_step (self);
    }
}

static void
on_job_failed (DsJobRunner *runner, guint64 generation, GError *error, DsWindow *self)
{
  /* The previous result stays on screen; the banner says what went wrong. */
  ds_window_show_error (self, error->message);
  window_report (self, "failed %" G_GUINT64_FORMAT, generation);
  if (window_screenshot_path (self) != NULL)
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
  window_change_request (self, &req, kv[0], TRUE, 0);
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
  window_change_request (self, &req, undo ? "undo" : "redo", FALSE, 0);
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
  window_update_difference (self);
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
  window_update_difference (self);
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

/* --- blink pair and hold-to-flip ------------------------------------------------------------
 * win.blink-pair names two members "first:second" out of blink_members (any case); the first
 * member's pane (the difference pane for a and b) alternates between the two images every
 * blink_interval_ms while win.blink is on, and shows the other one while win.flip is on (the
 * F key held).  blink_pane is the pane showing a borrowed image (-1: none); it gets its own
 * image back when blinking and flipping stop or the pair changes. */

static const char *const blink_members[] = { "template", "science", "difference", "a", "b" };

static DiaImage *
window_blink_member_image (DsWindow *self, int member)
{
  if (member == 0 || member == 1)
    return self->inputs[member];
  if (member == 3)
    return self->pinned != NULL ? self->pinned->diff : NULL;
  return self->result != NULL ? self->result->diff : NULL;
}

static const char *
window_blink_member_label (int member)
{
  const char *labels[] = { _("Template"), _("Science"), _("Difference"),
                           _("Difference A (pinned)"), _("Difference B (current)") };

  return labels[CLAMP (member, 0, 4)];
}

/* Parses "first:second" into member indices; FALSE for anything else. */
static gboolean
blink_pair_parse (const char *pair, int *first, int *second)
{
  g_autofree char *lower = g_ascii_strdown (pair != NULL ? pair : "", -1);
  g_auto (GStrv) parts = g_strsplit (lower, ":", -1);

  if (g_strv_length (parts) != 2)
    return FALSE;
  *first = name_index (blink_members, G_N_ELEMENTS (blink_members), parts[0]);
  *second = name_index (blink_members, G_N_ELEMENTS (blink_members), parts[1]);
  return *first >= 0 && *second >= 0 && *first != *second;
}

/* The title a pane has when it shows its own image. */
static void
window_restore_pane (DsWindow *self, int pane)
{
  g_autofree char *label = NULL;

  if (pane == DS_PANE_DIFFERENCE)
    {
      window_update_difference (self);
      return;
    }
  if (pane < 0 || self->inputs[pane] == NULL)
    return;
  if (self->inputs[pane]->source != NULL)
    {
      g_autofree char *base = g_path_get_basename (self->inputs[pane]->source);
      label = g_strdup_printf ("%s — %s", pane_name (pane), base);
    }
  ds_image_view_set_image (self->views[pane], self->inputs[pane]);
  gtk_label_set_text (self->titles[pane], label != NULL ? label : pane_name (pane));
}

/* Puts into the pair's pane what blinking and flipping say it should show. */
static void
window_blink_show (DsWindow *self)
{
  int first, second, pane, shown;
  DiaImage *image;
  g_autofree char *title = NULL;

  if (!blink_pair_parse (self->blink_pair, &first, &second)
      || (self->blink_id == 0 && !self->flipped))
    {
      if (self->blink_pane >= 0)
        window_restore_pane (self, self->blink_pane);
      self->blink_pane = -1;
      return;
    }
  pane = MIN (first, DS_PANE_DIFFERENCE);
  if (self->blink_pane >= 0 && self->blink_pane != pane)
    window_restore_pane (self, self->blink_pane);
  shown = self->blink_phase != self->flipped ? second : first;
  image = window_blink_member_image (self, shown);
  if (image == NULL)
    return;
  self->blink_pane = pane;
  ds_image_view_set_image (self->views[pane], image);
  /* Translators: pane title while blinking or flipping: the image shown, then the pair */
  title = g_strdup_printf (self->blink_id != 0 ? _("%s (blinking %s ⇄ %s)")
                                               : _("%s (flipped, %s ⇄ %s)"),
                           window_blink_member_label (shown),
                           window_blink_member_label (first),
                           window_blink_member_label (second));
  gtk_label_set_text (self->titles[pane], title);
}

static gboolean
on_blink_tick (gpointer user_data)
{
  DsWindow *self = user_data;

  self->blink_phase = !self->blink_phase;
  window_blink_show (self);
  return G_SOURCE_CONTINUE;
}

static void
window_restart_blink (DsWindow *self, gboolean on)
{
  g_clear_handle_id (&self->blink_id, g_source_remove);
  self->blink_phase = FALSE;
  if (on)
    self->blink_id = g_timeout_add (self->blink_interval_ms, on_blink_tick, self);
  window_blink_show (self);
}

static void
on_blink_changed (GSimpleAction *action, GVariant *state, gpointer user_data)
{
  g_simple_action_set_state (action, state);
  window_restart_blink (user_data, g_variant_get_boolean (state));
}

static void
on_blink_pair_changed (GSimpleAction *action, GVariant *state, gpointer user_data)
{
  DsWindow *self = user_data;
  const char *pair = g_variant_get_string (state, NULL);
  int first, second;

  if (!blink_pair_parse (pair, &first, &second))
    {
      g_autofree char *msg = g_strdup_printf (_("Cannot blink “%s”: name two different panes, "
                                                "e.g. science:difference (template, science, "
                                                "difference, a, b)."), pair);
      ds_window_show_error (self, msg);
      return;
    }
  g_simple_action_set_state (action, state);
  if (self->blink_pane >= 0)
    window_restore_pane (self, self->blink_pane);
  self->blink_pane = -1;
  g_free (self->blink_pair);
  self->blink_pair = g_ascii_strdown (pair, -1);
  window_blink_show (self);
}

/* Seconds as a string ("0.6"), so that menus and --action can set it alike. */
static void
on_blink_interval_changed (GSimpleAction *action, GVariant *state, gpointer user_data)
{
  DsWindow *self = user_data;
  double s = g_ascii_strtod (g_variant_get_string (state, NULL), NULL);

  if (!(s >= 0.05 && s <= 10.0))
    return;
  g_simple_action_set_state (action, state);
  self->blink_interval_ms = (guint) lround (s * 1000.0);
  if (self->blink_id != 0)
    window_restart_blink (self, TRUE);
}

static void
on_flip_changed (GSimpleAction *action, GVariant *state, gpointer user_data)
{
  DsWindow *self = user_data;

  g_simple_action_set_state (action, state);
  self->flipped = g_variant_get_boolean (state);
  window_blink_show (self);
}

/* Hold F: flip to the other image of the blink pair while the key is down. */
static gboolean
on_key_pressed (GtkEventControllerKey *controller, guint keyval, guint keycode,
                GdkModifierType state, DsWindow *self)
{
  if ((keyval != GDK_KEY_f && keyval != GDK_KEY_F)
      || (state & (GDK_CONTROL_MASK | GDK_ALT_MASK | GDK_SUPER_MASK)) != 0)
    return FALSE;
  if (!self->flipped)
    g_action_group_change_action_state (G_ACTION_GROUP (self), "flip",
                                        g_variant_new_boolean (TRUE));
  return TRUE;
}

static void
on_key_released (GtkEventControllerKey *controller, guint keyval, guint keycode,
                 GdkModifierType state, DsWindow *self)
{
  if ((keyval == GDK_KEY_f || keyval == GDK_KEY_F) && self->flipped)
    g_action_group_change_action_state (G_ACTION_GROUP (self), "flip",
                                        g_variant_new_boolean (FALSE));
}

static void
on_show_stamps_changed (GSimpleAction *action, GVariant *state, gpointer user_data)
{
  DsWindow *self = user_data;

  g_simple_action_set_state (action, state);
  for (int p = 0; p < DS_N_PANES; p++)
    ds_image_view_set_layer_visible (self->views[p], LAYER_STAMPS,
                                     g_variant_get_boolean (state));
}

static void
on_show_quiver_changed (GSimpleAction *action, GVariant *state, gpointer user_data)
{
  DsWindow *self = user_data;

  g_simple_action_set_state (action, state);
  ds_image_view_set_layer_visible (self->views[DS_PANE_DIFFERENCE], LAYER_QUIVER,
                                   g_variant_get_boolean (state));
}

static void
on_show_parameters_changed (GSimpleAction *action, GVariant *state, gpointer user_data)
{
  DsWindow *self = user_data;

  g_simple_action_set_state (action, state);
  gtk_widget_set_visible (self->param_scroller, g_variant_get_boolean (state));
  window_update_side_box (self);
}

static void
on_show_detections_changed (GSimpleAction *action, GVariant *state, gpointer user_data)
{
  DsWindow *self = user_data;

  g_simple_action_set_state (action, state);
  ds_image_view_set_layer_visible (self->views[DS_PANE_DIFFERENCE], LAYER_DETECTIONS,
                                   g_variant_get_boolean (state));
}

/* The side pane shows when any of its parts does. */
static void
window_update_side_box (DsWindow *self)
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

static void
on_show_catalog_changed (GSimpleAction *action, GVariant *state, gpointer user_data)
{
  DsWindow *self = user_data;

  g_simple_action_set_state (action, state);
  gtk_widget_set_visible (self->catalog_box, g_variant_get_boolean (state));
  window_update_side_box (self);
}

/* --- PSF & kernel panel ------------------------------------------------------------------ */

#define PSF_STAMP_SIZE 25     /* PSF stamps, px                                                */
#define PSF_DISPLAY_ZOOM 4    /* output pixels per stamp pixel (nearest sampling)              */

/* Renders size × size floats at PSF_DISPLAY_ZOOM into a new texture shown by picture. */
static void
psf_picture_set_data (GtkPicture *picture, const float *data, int size,
                      const DiaRenderParams *params)
{
  int out_size = size * PSF_DISPLAY_ZOOM;
  size_t stride = (size_t) out_size * 4;
  guint8 *bytes = g_try_malloc ((size_t) out_size * stride);
  g_autoptr (GBytes) gbytes = NULL;
  g_autoptr (GdkTexture) texture = NULL;

  if (bytes == NULL)
    {
      gtk_picture_set_paintable (picture, NULL);
      return;
    }
  dia_render_region (data, NULL, size, size, size, params, -0.5, -0.5, PSF_DISPLAY_ZOOM, bytes,
                     out_size, out_size, stride);
  gbytes = g_bytes_new_take (bytes, (size_t) out_size * stride);
  texture = gdk_memory_texture_new (out_size, out_size, GDK_MEMORY_B8G8R8A8_PREMULTIPLIED,
                                    gbytes, stride);
  gtk_picture_set_paintable (picture, GDK_PAINTABLE (texture));
}

static void
psf_show (GtkPicture *picture, GtkLabel *label, const DiaPsf *psf, double x, double y)
{
  float stamp[PSF_STAMP_SIZE * PSF_STAMP_SIZE];
  DiaRenderParams params;
  g_autofree char *text = NULL;

  if (psf == NULL)
    {
      gtk_picture_set_paintable (picture, NULL);
      gtk_label_set_text (label, _("No PSF model"));
      return;
    }
  dia_psf_render (psf, x, y, 0.0, 0.0, stamp, PSF_STAMP_SIZE);
  dia_render_params_init (&params);
  params.limits = DIA_LIMITS_MINMAX;
  params.stretch = DIA_STRETCH_ASINH;
  params.colormap = DIA_COLORMAP_GRAY;
  dia_render_compute_limits (stamp, NULL, 0, PSF_STAMP_SIZE, PSF_STAMP_SIZE, PSF_STAMP_SIZE,
                             &params);
  psf_picture_set_data (picture, stamp, PSF_STAMP_SIZE, &params);
  /* Translators: PSF width and noise-equivalent radius in pixels */
  text = g_strdup_printf (_("FWHM %.2f px, NEA radius %.2f px"), dia_psf_fwhm (psf, x, y),
                          sqrt (dia_psf_nea (psf, x, y) / G_PI));
  gtk_label_set_text (label, text);
}

static void
psf_show_kernel (DsWindow *self, const DiaKernelSolution *kernel, double x, double y)
{
  int size = kernel != NULL ? kernel->config.size : 0;
  g_autofree float *k = NULL;
  g_autofree char *text = NULL;
  DiaRenderParams params;
  double peak = 0, dx = 0, dy = 0;

  if (size <= 0 || size > 1024
      || (k = g_try_new (float, (size_t) size * size)) == NULL)
    {
      gtk_picture_set_paintable (self->psf_kernel_picture, NULL);
      gtk_label_set_text (self->psf_kernel_label, _("This flavour has no convolution kernel"));
      return;
    }
  dia_kernel_solution_eval (kernel, x, y, k);
  for (int i = 0; i < size * size; i++)
    if (isfinite (k[i]))
      peak = MAX (peak, fabs (k[i]));
  /* Symmetric limits ±max|K|, so that zero is the diverging map's white. */
  dia_render_params_init (&params);
  params.limits = DIA_LIMITS_MANUAL;
  params.low = -(peak > 0 ? peak : 1.0);
  params.high = peak > 0 ? peak : 1.0;
  params.stretch = DIA_STRETCH_LINEAR;
  params.colormap = DIA_COLORMAP_DIVERGING;
  psf_picture_set_data (self->psf_kernel_picture, k, size, &params);
  dia_kernel_solution_centroid (kernel, x, y, &dx, &dy);
  /* Translators: kernel sum (flux scale) and centroid offset in pixels */
  text = g_strdup_printf (_("Sum %.4f\ncentroid offset (%+.3f, %+.3f) px"),
                          dia_kernel_solution_sum (kernel, x, y), dx, dy);
  gtk_label_set_text (self->psf_kernel_label, text);
}

/* Redraws the panel now (main thread), at the pointer position or the centre of the inputs. */
static void
window_update_psf_panel (DsWindow *self)
{
  const DiaSubtractPlan *plan = self->result != NULL ? self->result->plan : NULL;
  const DiaPsf *diff_psf = NULL;
  g_autofree char *where = NULL;
  double x, y;

  if (!gtk_widget_get_visible (self->psf_box))
    return;
  if (plan == NULL)
    {
      gtk_label_set_text (self->psf_position_label, _("No subtraction yet"));
      return;
    }
  if (self->psf_have_position)
    {
      x = self->psf_x;
      y = self->psf_y;
    }
  else
    {
      x = 0.5 * (plan->science_image->width - 1);
      y = 0.5 * (plan->science_image->height - 1);
    }
  /* Translators: image position the PSF panel describes */
  where = g_strdup_printf (_("At x %.1f  y %.1f"), x, y);
  gtk_label_set_text (self->psf_position_label, where);
  if (self->result->diff_psf != NULL)
    diff_psf = self->result->diff_psf;
  else
    diff_psf = plan->info.convolve_template ? plan->psf_science : plan->psf_template;
  psf_show (self->psf_template_picture, self->psf_template_label, plan->psf_template, x, y);
  psf_show (self->psf_science_picture, self->psf_science_label, plan->psf_science, x, y);
  psf_show (self->psf_difference_picture, self->psf_difference_label, diff_psf, x, y);
  psf_show_kernel (self, plan->kernel, x, y);
}

static gboolean
on_psf_timeout (gpointer user_data)
{
  DsWindow *self = user_data;

  self->psf_timeout_id = 0;
  window_update_psf_panel (self);
  return G_SOURCE_REMOVE;
}

/* Throttles pointer-driven redraws to one per 50 ms, and none while the panel is hidden. */
static void
window_queue_psf_panel (DsWindow *self)
{
  if (self->psf_timeout_id == 0 && gtk_widget_get_visible (self->psf_box))
    self->psf_timeout_id = g_timeout_add (50, on_psf_timeout, self);
}

static void
on_show_psf_changed (GSimpleAction *action, GVariant *state, gpointer user_data)
{
  DsWindow *self = user_data;

  g_simple_action_set_state (action, state);
  gtk_widget_set_visible (self->psf_box, g_variant_get_boolean (state));
  window_update_side_box (self);
  window_update_psf_panel (self);
}

#define HISTOGRAM_MAX_VALUES 500000

/* Feeds the histogram D/√V of the last full-frame difference; nothing while it is hidden. */
static void
window_update_histogram (DsWindow *self)
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

static void
on_show_histogram_changed (GSimpleAction *action, GVariant *state, gpointer user_data)
{
  DsWindow *self = user_data;

  g_simple_action_set_state (action, state);
  gtk_widget_set_visible (GTK_WIDGET (self->histogram), g_variant_get_boolean (state));
  window_update_side_box (self);
  window_update_histogram (self);
}

/* --- fakes, recall plot and kernel views ----------------------------------------------------- */

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
  ds_image_view_set_markers (self->views[DS_PANE_DIFFERENCE], LAYER_FAKES, markers);
  ds_image_view_set_layer_visible (self->views[DS_PANE_DIFFERENCE], LAYER_FAKES,
                                   state == NULL || g_variant_get_boolean (state));
  g_clear_pointer (&state, g_variant_unref);
}

/* Forgets the fakes (a new pair): cancels a running experiment and clears plot and markers. */
static void
window_clear_fakes (DsWindow *self)
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
      window_report (self, "fakes failed");
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
  window_report (self, "fakes done");
  g_action_group_change_action_state (G_ACTION_GROUP (self), "show-recall",
                                      g_variant_new_boolean (TRUE));
}

/* win.run-fakes: dia_fakes_run on the current pair and request (fakes.* parameters) in a
 * worker thread; a second request cancels the first. */
static void
action_run_fakes (GtkWidget *widget, const char *action_name, GVariant *parameter)
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
  window_report (self, "fakes started %d", self->request.fakes.n_fakes);
}

static void
on_show_fakes_changed (GSimpleAction *action, GVariant *state, gpointer user_data)
{
  DsWindow *self = user_data;

  g_simple_action_set_state (action, state);
  ds_image_view_set_layer_visible (self->views[DS_PANE_DIFFERENCE], LAYER_FAKES,
                                   g_variant_get_boolean (state));
}

static void
on_show_recall_changed (GSimpleAction *action, GVariant *state, gpointer user_data)
{
  DsWindow *self = user_data;

  g_simple_action_set_state (action, state);
  gtk_widget_set_visible (GTK_WIDGET (self->recall_plot), g_variant_get_boolean (state));
  window_update_side_box (self);
}

static void
on_show_kernel_views_changed (GSimpleAction *action, GVariant *state, gpointer user_data)
{
  DsWindow *self = user_data;

  g_simple_action_set_state (action, state);
  gtk_widget_set_visible (self->kernel_scroller, g_variant_get_boolean (state));
  window_update_side_box (self);
}

/* --report lines of the fakes, the recall plot and the kernel view (GUI tests). */
static void
window_report_diagnostics (DsWindow *self)
{
  graphene_rect_t b;

  for (guint i = 0; self->recovery != NULL && i < self->recovery->fakes->len; i++)
    {
      const DiaFake *f = &g_array_index (self->recovery->fakes, DiaFake, i);

      window_report (self, "fake %.3f %.3f %s %.3f", f->x, f->y, f->found ? "found" : "lost",
                     f->snr);
    }
  if (self->recovery != NULL)
    window_report (self, "recovery n %u snr-half %.4f err %.4f recall-above-10 %.4f "
                   "expected %.4f marker-radius %.3f", self->recovery->fakes->len,
                   self->recovery->snr_half, self->recovery->snr_half_err,
                   self->recovery->recall_above_10, self->recovery->expected_snr_half,
                   window_fakes_radius (self));
  if (gtk_widget_get_visible (GTK_WIDGET (self->recall_plot))
      && gtk_widget_compute_bounds (GTK_WIDGET (self->recall_plot), GTK_WIDGET (self), &b))
    window_report (self, "recall-plot %.2f %.2f %.2f %.2f snr-half-x %.2f", b.origin.x,
                   b.origin.y, b.size.width, b.size.height,
                   ds_recall_plot_get_snr_half_x (self->recall_plot));
  if (gtk_widget_get_visible (self->kernel_scroller)
      && gtk_widget_compute_bounds (GTK_WIDGET (self->kernel_view), GTK_WIDGET (self), &b))
    {
      double lo, hi;

      ds_kernel_view_get_sum_range (self->kernel_view, &lo, &hi);
      window_report (self, "kernel-view %.2f %.2f %.2f %.2f n-basis %d sum %.6f %.6f",
                     b.origin.x, b.origin.y, b.size.width, b.size.height,
                     ds_kernel_view_get_n_basis (self->kernel_view), lo, hi);
    }
}

/* The recall plot and the kernel view in the side pane, hidden until asked for. */
static void
window_init_diagnostics (DsWindow *self)
{
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

static void
on_quiver_scale_changed (GSimpleAction *action, GVariant *state, gpointer user_data)
{
  DsWindow *self = user_data;
  double v = g_variant_get_double (state);

  if (!(v > 0 && v <= 100))
    return;
  g_simple_action_set_state (action, state);
  self->quiver_scale = v;
  window_update_overlays (self);
}

/* Export: every product of the current result (ds-export.h) on a worker thread; the
 * screenshot poll waits for running exports so that scripted tests can read the files. */
static void
on_export_done (GObject *source, GAsyncResult *res, gpointer user_data)
{
  g_autoptr (DsWindow) self = user_data;
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) written = ds_export_products_finish (res, &error);
  g_autofree char *list = NULL, *msg = NULL;

  self->exports_pending--;
  if (written == NULL)
    {
      window_report (self, "export-failed %s", error->message);
      ds_window_show_error (self, error->message);
      return;
    }
  list = g_strjoinv (", ", written);
  window_report (self, "exported %s", list);
  /* Translators: status bar after an export: the file names */
  msg = g_strdup_printf (_("Exported %s"), list);
  gtk_label_set_text (self->status_label, msg);
}

static void
window_export_to (DsWindow *self, const char *path)
{
  g_autofree char *prefix = g_strdup (path);

  if (self->result == NULL)
    {
      ds_window_show_error (self, _("There is no difference to export yet."));
      return;
    }
  if (g_str_has_suffix (prefix, ".fits"))
    prefix[strlen (prefix) - 5] = '\0';
  self->exports_pending++;
  ds_export_products_async (self->result, self->catalog, prefix, self->input_paths[0],
                            self->input_paths[1], NULL, on_export_done, g_object_ref (self));
}

/* win.export-all: the scriptable form, "--action export-all::/folder/prefix". */
static void
action_export_all (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  window_export_to (DS_WINDOW (widget), g_variant_get_string (parameter, NULL));
}

static void
on_export_response (GtkNativeDialog *dialog, int response, DsWindow *self)
{
  g_autoptr (GFile) file = NULL;
  g_autofree char *path = NULL;

  if (response == GTK_RESPONSE_ACCEPT)
    file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));
  if (file != NULL)
    path = g_file_get_path (file);
  gtk_native_dialog_destroy (dialog);
  g_object_unref (dialog);
  if (path != NULL)
    window_export_to (self, path);
}

static void
action_export (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  DsWindow *self = DS_WINDOW (widget);
  GtkFileChooserNative *dialog;

  if (self->result == NULL)
    {
      ds_window_show_error (self, _("There is no difference to export yet."));
      return;
    }
  dialog = gtk_file_chooser_native_new (_("Export Products — choose a prefix"),
                                        GTK_WINDOW (self), GTK_FILE_CHOOSER_ACTION_SAVE,
                                        _("_Export"), _("_Cancel"));
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (dialog), TRUE);
  gtk_file_chooser_set_current_name (GTK_FILE_CHOOSER (dialog), "diffscope");
  g_signal_connect (dialog, "response", G_CALLBACK (on_export_response), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (dialog));
}

/* --- header viewer ------------------------------------------------------------------------ */

/* Refreshes the three headers: the inputs' cards as read, and for the difference the cards
 * its exported file carries. */
static void
window_fill_header_view (DsWindow *self)
{
  const char *none = _("This image has no FITS header cards (it was not read from a FITS "
                       "file).");
  g_autofree char *diff_cards = NULL;
  g_autoptr (GError) error = NULL;
  int n_diff = 0;

  for (int i = 0; i < 2; i++)
    ds_header_view_set_cards (self->header_view, (DsHeaderSource) i,
                              self->inputs[i] != NULL ? self->inputs[i]->header : NULL,
                              self->inputs[i] != NULL ? self->inputs[i]->n_header_cards : 0,
                              none);
  if (self->result != NULL)
    diff_cards = ds_header_dup_difference_cards (self->result, self->input_paths[0],
                                                 self->input_paths[1], &n_diff, &error);
  ds_header_view_set_cards (self->header_view, DS_HEADER_DIFFERENCE, diff_cards, n_diff,
                            error != NULL ? error->message
                                          : _("There is no difference yet."));
}

/* win.show-header (Ctrl+I): the header of the pane under the pointer. */
static void
action_show_header (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  DsWindow *self = DS_WINDOW (widget);

  if (self->header_view == NULL)
    {
      self->header_view = DS_HEADER_VIEW (ds_header_view_new ());
      gtk_window_set_transient_for (GTK_WINDOW (self->header_view), GTK_WINDOW (self));
    }
  window_fill_header_view (self);
  for (int i = 0; i < DS_N_PANES; i++)
    if (self->active_view == self->views[i])
      ds_header_view_set_source (self->header_view, (DsHeaderSource) i);
  gtk_window_present (GTK_WINDOW (self->header_view));
}

/* win.header-search: opens the viewer on the difference's header ("pane:text" picks the
 * pane: template, science or difference) and searches; for scripts and tests. */
static void
action_header_search (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  DsWindow *self = DS_WINDOW (widget);
  const char *text = g_variant_get_string (parameter, NULL);
  const char *colon = strchr (text, ':');
  static const char *const names[] = { "template", "science", "difference" };
  DsPaneId pane = DS_PANE_DIFFERENCE;

  if (colon != NULL)
    {
      g_autofree char *name = g_strndup (text, colon - text);
      int named = name_index (names, G_N_ELEMENTS (names), name);

      if (named >= 0)
        {
          pane = named;
          text = colon + 1;
        }
    }
  action_show_header (widget, NULL, NULL);
  ds_header_view_set_source (self->header_view, (DsHeaderSource) pane);
  ds_header_view_set_search (self->header_view, text);
}

gboolean
ds_window_save_session (DsWindow *self, const char *path, GError **error)
{
  g_autoptr (GKeyFile) kf = g_key_file_new ();

  g_return_val_if_fail (DS_IS_WINDOW (self), FALSE);
  if (self->input_paths[0] != NULL && self->input_paths[1] != NULL)
    {
      g_key_file_set_string (kf, "inputs", "template", self->input_paths[0]);
      g_key_file_set_string (kf, "inputs", "science", self->input_paths[1]);
    }
  else
    g_key_file_set_boolean (kf, "inputs", "demo", TRUE);
  dia_params_save (&self->request, kf, "request");
  return g_key_file_save_to_file (kf, path, error);
}

gboolean
ds_window_load_session (DsWindow *self, const char *path, GError **error)
{
  g_autoptr (GKeyFile) kf = g_key_file_new ();
  g_autoptr (GError) local = NULL;
  DiaSubtractRequest req;
  g_autofree char *t = NULL, *s = NULL;

  g_return_val_if_fail (DS_IS_WINDOW (self), FALSE);
  if (!g_key_file_load_from_file (kf, path, G_KEY_FILE_NONE, &local))
    {
      g_set_error (error, local->domain, local->code,
                   _("Cannot read the session file %s: %s; choose a file saved by Diffscope"),
                   path, local->message);
      return FALSE;
    }
  dia_subtract_request_init (&req);
  if (!dia_params_load (&req, kf, "request", error))
    return FALSE;
  t = g_key_file_get_string (kf, "inputs", "template", NULL);
  s = g_key_file_get_string (kf, "inputs", "science", NULL);
  g_array_append_val (self->undo, self->request);
  self->request = req;
  ds_param_panel_set_request (self->panel, &self->request);
  if (t != NULL && s != NULL)
    ds_window_load_pair (self, t, s);
  else
    ds_window_load_demo (self);
  return TRUE;
}

static void
on_session_response (GtkNativeDialog *dialog, int response, DsWindow *self)
{
  gboolean save = GPOINTER_TO_INT (g_object_get_data (G_OBJECT (dialog), "ds-save"));
  g_autoptr (GFile) file = NULL;
  g_autofree char *path = NULL;
  g_autoptr (GError) error = NULL;

  if (response == GTK_RESPONSE_ACCEPT)
    file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));
  if (file != NULL)
    path = g_file_get_path (file);
  gtk_native_dialog_destroy (dialog);
  g_object_unref (dialog);
  if (path == NULL)
    return;
  if (!(save ? ds_window_save_session (self, path, &error)
             : ds_window_load_session (self, path, &error)))
    ds_window_show_error (self, error->message);
}

static void
action_session (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  DsWindow *self = DS_WINDOW (widget);
  gboolean save = g_str_equal (action_name, "win.save-session");
  GtkFileChooserNative *dialog;

  dialog = gtk_file_chooser_native_new (save ? _("Save Session") : _("Load Session"),
                                        GTK_WINDOW (self),
                                        save ? GTK_FILE_CHOOSER_ACTION_SAVE
                                             : GTK_FILE_CHOOSER_ACTION_OPEN,
                                        save ? _("_Save") : _("_Open"), _("_Cancel"));
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (dialog), TRUE);
  if (save)
    gtk_file_chooser_set_current_name (GTK_FILE_CHOOSER (dialog), "session.diffscope");
  g_object_set_data (G_OBJECT (dialog), "ds-save", GINT_TO_POINTER (save));
  g_signal_connect (dialog, "response", G_CALLBACK (on_session_response), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (dialog));
}

/* --- screenshot ---------------------------------------------------------------------------- */

gboolean
ds_window_save_screenshot (DsWindow *self, const char *path, GError **error)
{
  GtkWidget *widget = GTK_WIDGET (self);
  int width = gtk_widget_get_width (widget), height = gtk_widget_get_height (widget);
  g_autoptr (GdkPaintable) paintable = NULL;
  g_autoptr (GdkTexture) texture = NULL;
  GskRenderNode *node;
  GskRenderer *renderer;
  GtkSnapshot *snapshot;
  double sx = 0, sy = 0;

  g_return_val_if_fail (DS_IS_WINDOW (self), FALSE);
  g_return_val_if_fail (path != NULL, FALSE);

  renderer = gtk_native_get_renderer (GTK_NATIVE (self));
  if (renderer == NULL || width <= 0 || height <= 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_INITIALIZED,
                   _("Cannot take a screenshot before the window is shown"));
      return FALSE;
    }
  paintable = gtk_widget_paintable_new (widget);
  /* The paintable of a toplevel spans its surface, client-side decoration margins included
   * (1400×800 for a 1390×790 window): draw it at that size, unscaled, and keep the window's
   * own rectangle, which starts at the surface transform.  Snapshotting it into the window's
   * size instead would shrink every pixel by ~0.7 % and blur all edges. */
  gtk_native_get_surface_transform (GTK_NATIVE (self), &sx, &sy);
  snapshot = gtk_snapshot_new ();
  gdk_paintable_snapshot (paintable, snapshot,
                          MAX (gdk_paintable_get_intrinsic_width (paintable), width),
                          MAX (gdk_paintable_get_intrinsic_height (paintable), height));
  node = gtk_snapshot_free_to_node (snapshot);
  if (node == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   _("The window drew nothing to take a screenshot of"));
      return FALSE;
    }
  texture = gsk_renderer_render_texture (renderer, node,
                                         &GRAPHENE_RECT_INIT ((float) sx, (float) sy, width,
                                                              height));
  gsk_render_node_unref (node);
  if (texture == NULL || !gdk_texture_save_to_png (texture, path))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   _("Could not write the screenshot to %s; check that its folder exists and "
                     "is writable"), path);
      return FALSE;
    }
  return TRUE;
}

/* --- actions ------------------------------------------------------------------------------- */

static GtkFileFilter *
fits_filter_new (void)
{
  GtkFileFilter *filter = gtk_file_filter_new ();

  gtk_file_filter_set_name (filter, _("FITS images"));
  gtk_file_filter_add_mime_type (filter, "image/fits");
  gtk_file_filter_add_mime_type (filter, "application/fits");
  gtk_file_filter_add_suffix (filter, "fits");
  gtk_file_filter_add_suffix (filter, "fit");
  gtk_file_filter_add_suffix (filter, "fts");
  gtk_file_filter_add_suffix (filter, "fz");
  gtk_file_filter_add_suffix (filter, "gz");
  return filter;
}

static void window_choose_file (DsWindow *self, gboolean science);

static void
on_open_response (GtkNativeDialog *dialog, int response, DsWindow *self)
{
  gboolean science = GPOINTER_TO_INT (g_object_get_data (G_OBJECT (dialog), "ds-science"));
  g_autoptr (GFile) file = NULL;
  g_autofree char *path = NULL;

  if (response == GTK_RESPONSE_ACCEPT)
    file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));
  if (file != NULL)
    path = g_file_get_path (file);
  gtk_native_dialog_destroy (dialog);
  g_object_unref (dialog);

  if (response == GTK_RESPONSE_ACCEPT && path == NULL)
    {
      ds_window_show_error (self, _("Only local files can be opened."));
      return;
    }
  if (path == NULL)
    {
      g_clear_pointer (&self->pending_template, g_free);
      return;
    }
  if (!science)
    {
      g_free (self->pending_template);
      self->pending_template = g_steal_pointer (&path);
      window_choose_file (self, TRUE);
      return;
    }
  ds_window_load_pair (self, self->pending_template, path);
  g_clear_pointer (&self->pending_template, g_free);
}

static void
window_choose_file (DsWindow *self, gboolean science)
{
  GtkFileChooserNative *dialog;
  GtkFileFilter *all;

  dialog = gtk_file_chooser_native_new (science ? _("Open the Science Image")
                                                : _("Open the Template Image"),
                                        GTK_WINDOW (self), GTK_FILE_CHOOSER_ACTION_OPEN,
                                        _("_Open"), _("_Cancel"));
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (dialog), TRUE);
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (dialog), fits_filter_new ());
  all = gtk_file_filter_new ();
  gtk_file_filter_set_name (all, _("All files"));
  gtk_file_filter_add_pattern (all, "*");
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (dialog), all);
  g_object_set_data (G_OBJECT (dialog), "ds-science", GINT_TO_POINTER (science));
  g_signal_connect (dialog, "response", G_CALLBACK (on_open_response), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (dialog));
}

static void
action_open_pair (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  window_choose_file (DS_WINDOW (widget), FALSE);
}

static void
on_screenshot_response (GtkNativeDialog *dialog, int response, DsWindow *self)
{
  g_autoptr (GFile) file = NULL;
  g_autofree char *path = NULL;
  g_autoptr (GError) error = NULL;

  if (response == GTK_RESPONSE_ACCEPT)
    file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));
  if (file != NULL)
    path = g_file_get_path (file);
  gtk_native_dialog_destroy (dialog);
  g_object_unref (dialog);
  if (path != NULL && !ds_window_save_screenshot (self, path, &error))
    ds_window_show_error (self, error->message);
}

static void
action_screenshot (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  DsWindow *self = DS_WINDOW (widget);
  GtkFileChooserNative *dialog;

  dialog = gtk_file_chooser_native_new (_("Save Screenshot"), GTK_WINDOW (self),
                                        GTK_FILE_CHOOSER_ACTION_SAVE, _("_Save"),
                                        _("_Cancel"));
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (dialog), TRUE);
  gtk_file_chooser_set_current_name (GTK_FILE_CHOOSER (dialog), "diffscope.png");
  g_signal_connect (dialog, "response", G_CALLBACK (on_screenshot_response), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (dialog));
}

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
  if (settings != NULL && window_screenshot_path (self) == NULL)
    g_settings_set_boolean (settings, "lock-views", g_variant_get_boolean (state));
}

static void
window_apply_stretch (DsWindow *self, const char *name)
{
  int s = name_index (stretch_names, G_N_ELEMENTS (stretch_names), name);

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
  int c = name_index (colormap_names, G_N_ELEMENTS (colormap_names), name);

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

  if (name_index (names, n_names, name) < 0)
    return;
  g_simple_action_set_state (action, state);
  apply (self, name);
  if (settings != NULL && window_screenshot_path (self) == NULL)
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

  if (settings != NULL && window_screenshot_path (self) == NULL)
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

  gtk_widget_class_install_action (widget_class, "win.open-pair", NULL, action_open_pair);
  gtk_widget_class_install_action (widget_class, "win.screenshot", NULL, action_screenshot);
  gtk_widget_class_install_action (widget_class, "win.zoom-in", NULL, action_zoom);
  gtk_widget_class_install_action (widget_class, "win.zoom-out", NULL, action_zoom);
  gtk_widget_class_install_action (widget_class, "win.zoom-fit", NULL, action_zoom);
  gtk_widget_class_install_action (widget_class, "win.zoom-1", NULL, action_zoom);
  gtk_widget_class_install_action (widget_class, "win.set-param", "s", action_set_param);
  gtk_widget_class_install_action (widget_class, "win.undo", NULL, action_undo_redo);
  gtk_widget_class_install_action (widget_class, "win.redo", NULL, action_undo_redo);
  gtk_widget_class_install_action (widget_class, "win.pin-a", NULL, action_pin_a);
  gtk_widget_class_install_action (widget_class, "win.export", NULL, action_export);
  gtk_widget_class_install_action (widget_class, "win.export-all", "s", action_export_all);
  gtk_widget_class_install_action (widget_class, "win.show-header", NULL, action_show_header);
  gtk_widget_class_install_action (widget_class, "win.header-search", "s",
                                   action_header_search);
  gtk_widget_class_install_action (widget_class, "win.save-session", NULL, action_session);
  gtk_widget_class_install_action (widget_class, "win.load-session", NULL, action_session);
  gtk_widget_class_install_action (widget_class, "win.run-fakes", NULL, action_run_fakes);
}

/* The per-pane pixel readouts (a line under each pane title, added beside the title's row
 * so the template stays untouched) and the F key for hold-to-flip. */
static void
window_init_data_views (DsWindow *self)
{
  GtkEventController *keys = gtk_event_controller_key_new ();

  for (int i = 0; i < DS_N_PANES; i++)
    {
      GtkWidget *row = gtk_widget_get_parent (GTK_WIDGET (self->titles[i]));
      GtkWidget *pane = row != NULL ? gtk_widget_get_parent (row) : NULL;
      GtkWidget *label;
      PangoAttrList *attrs;

      if (!GTK_IS_BOX (pane))
        continue;
      label = gtk_label_new (NULL);
      gtk_label_set_xalign (GTK_LABEL (label), 0.0);
      gtk_label_set_ellipsize (GTK_LABEL (label), PANGO_ELLIPSIZE_END);
      gtk_label_set_single_line_mode (GTK_LABEL (label), TRUE);
      gtk_widget_add_css_class (label, "ds-pixel-readout");
      gtk_widget_add_css_class (label, "caption");
      /* Light tabular digits on the panes' dark background (style.css .ds-panes). */
      attrs = pango_attr_list_new ();
      pango_attr_list_insert (attrs, pango_attr_foreground_new (0xd0d0, 0xd0d0, 0xd0d0));
      pango_attr_list_insert (attrs, pango_attr_font_features_new ("tnum"));
      gtk_label_set_attributes (GTK_LABEL (label), attrs);
      pango_attr_list_unref (attrs);
      gtk_widget_set_margin_start (label, 4);
      gtk_widget_set_tooltip_text (label, _("Value, variance, S/N and mask planes of the pixel "
                                            "under the pointer, at the same position in every "
                                            "pane"));
      gtk_box_insert_child_after (GTK_BOX (pane), label, row);
      self->readouts[i] = GTK_LABEL (label);
    }
  g_signal_connect (keys, "key-pressed", G_CALLBACK (on_key_pressed), self);
  g_signal_connect (keys, "key-released", G_CALLBACK (on_key_released), self);
  gtk_widget_add_controller (GTK_WIDGET (self), keys);
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
    { "blink", NULL, NULL, "false", on_blink_changed, { 0 } },
    { "blink-pair", NULL, "s", "'template:science'", on_blink_pair_changed, { 0 } },
    { "blink-interval", NULL, "s", "'0.6'", on_blink_interval_changed, { 0 } },
    { "flip", NULL, NULL, "false", on_flip_changed, { 0 } },
    { "show-stamps", NULL, NULL, "true", on_show_stamps_changed, { 0 } },
    { "show-parameters", NULL, NULL, "false", on_show_parameters_changed, { 0 } },
    { "show-quiver", NULL, NULL, "false", on_show_quiver_changed, { 0 } },
    { "show-detections", NULL, NULL, "true", on_show_detections_changed, { 0 } },
    { "show-catalog", NULL, NULL, "false", on_show_catalog_changed, { 0 } },
    { "show-psf", NULL, NULL, "false", on_show_psf_changed, { 0 } },
    { "show-histogram", NULL, NULL, "false", on_show_histogram_changed, { 0 } },
    { "quiver-scale", NULL, "d", "1.0", on_quiver_scale_changed, { 0 } },
    { "show-fakes", NULL, NULL, "true", on_show_fakes_changed, { 0 } },
    { "show-recall", NULL, NULL, "false", on_show_recall_changed, { 0 } },
    { "show-kernel-views", NULL, NULL, "false", on_show_kernel_views_changed, { 0 } },
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
    g_signal_connect (self->views[i], "pointer-moved", G_CALLBACK (on_pointer_moved), self);
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
  window_init_data_views (self);
  self->panel = DS_PARAM_PANEL (ds_param_panel_new ());
  ds_param_panel_set_request (self->panel, &self->request);
  gtk_scrolled_window_set_child (GTK_SCROLLED_WINDOW (self->param_scroller),
                                 GTK_WIDGET (self->panel));
  g_signal_connect (self->panel, "changed", G_CALLBACK (on_panel_changed), self);
  window_init_catalog (self);
  self->histogram = DS_HISTOGRAM (ds_histogram_new ());
  gtk_widget_set_visible (GTK_WIDGET (self->histogram), FALSE);
  gtk_widget_set_size_request (GTK_WIDGET (self->histogram), 300, 200);
  gtk_widget_set_margin_start (GTK_WIDGET (self->histogram), 6);
  gtk_widget_set_margin_end (GTK_WIDGET (self->histogram), 6);
  gtk_widget_set_margin_top (GTK_WIDGET (self->histogram), 4);
  gtk_box_append (GTK_BOX (self->side_box), GTK_WIDGET (self->histogram));
  window_init_diagnostics (self);

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
