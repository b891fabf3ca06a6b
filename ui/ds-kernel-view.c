/* ds-kernel-view.c — kernel diagnostics of a subtraction plan.
 *
 * What it shows, top to bottom:
 *   - the fit's numbers from the plan (dia-diagnostics.h): condition number of the spatial
 *     system, the basis σ list with degrees and kernel size, the PSF FWHMs and their ratio,
 *     stamps used and rejected;
 *   - the basis components (dia-kernel.h, §1.2–1.4 of ALGORITHMS.md) as a grid of stamps, one
 *     row group per Gaussian headed by its σ and degree, each stamp labelled with its index
 *     and polynomial term (x^i y^j in the basis order of dia_basis_build), on the diverging
 *     map with symmetric limits ±max|B_n| per stamp: B_0 is all red (unit sum), the others
 *     show their zero-sum structure;
 *   - the kernel sum Σ K(x, y) sampled on a DS_KERNEL_VIEW_GRID² grid across the image
 *     (dia_kernel_diagnostics_new), drawn in the image's aspect with y up like the panes, on
 *     the perceptual map with a colour bar and its minimum and maximum printed.  With this
 *     basis the sum is a_0 and spatially constant by construction; the map then shows one
 *     colour and says so, which is itself the check.
 *
 * Design: one cairo-drawn widget (as ds-histogram.c) with height-for-width geometry, so it
 * sits in a scrolled side pane.  The plan is only referenced by the setter; diagnostics and
 * stamp images are computed at the first draw, so the window may set the plan on every
 * result without cost while the view is hidden.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "ds-kernel-view.h"

#include "dia-diagnostics.h"
#include "dia-image.h"
#include "dia-render.h"

#include <glib/gi18n.h>
#include <math.h>
#include <pango/pangocairo.h>

#define PAD 6.0                     /* px, left/right padding                                 */
#define LINE 17.0                   /* px, one line of text                                   */
#define STAMP 40.0                  /* px, side of one basis stamp                            */
#define STAMP_GAP 4.0
#define STAMP_LABEL 13.0            /* px, the small label under a stamp                      */
#define MAP_MAX 160.0               /* px, longest side of the kernel-sum map                 */
#define BAR_W 12.0                  /* px, colour bar width                                   */
#define BAR_TEXT 70.0               /* px, room for the colour bar's labels                   */
#define N_INFO_LINES 5

struct _DsKernelView
{
  GtkWidget parent_instance;

  DiaSubtractPlan *plan;            /* ref, or NULL                                           */
  DiaKernelDiagnostics *diag;       /* computed lazily for plan                               */
  cairo_surface_t **stamps;         /* n_basis images on the diverging map, lazily            */
  int n_stamps;
  cairo_surface_t *sum_map;         /* DS_KERNEL_VIEW_GRID² on the perceptual map              */
  double sum_min, sum_max;
};

G_DEFINE_FINAL_TYPE (DsKernelView, ds_kernel_view, GTK_TYPE_WIDGET)

static void
kernel_view_clear_cache (DsKernelView *self)
{
  for (int i = 0; i < self->n_stamps; i++)
    cairo_surface_destroy (self->stamps[i]);
  g_clear_pointer (&self->stamps, g_free);
  self->n_stamps = 0;
  g_clear_pointer (&self->sum_map, cairo_surface_destroy);
  g_clear_pointer (&self->diag, dia_kernel_diagnostics_free);
  self->sum_min = self->sum_max = NAN;
}

void
ds_kernel_view_set_plan (DsKernelView *self, DiaSubtractPlan *plan)
{
  g_return_if_fail (DS_IS_KERNEL_VIEW (self));

  if (plan == self->plan)
    return;
  kernel_view_clear_cache (self);
  if (plan != NULL)
    dia_subtract_plan_ref (plan);
  g_clear_pointer (&self->plan, dia_subtract_plan_unref);
  self->plan = plan;
  gtk_widget_queue_resize (GTK_WIDGET (self));
}

int
ds_kernel_view_get_n_basis (DsKernelView *self)
{
  g_return_val_if_fail (DS_IS_KERNEL_VIEW (self), 0);
  return self->n_stamps;
}

void
ds_kernel_view_get_sum_range (DsKernelView *self, double *sum_min, double *sum_max)
{
  g_return_if_fail (DS_IS_KERNEL_VIEW (self));
  *sum_min = self->sum_min;
  *sum_max = self->sum_max;
}

/* Relative range of the kernel sum below which the map calls it constant. */
#define SUM_CONSTANT 1e-5

static gboolean
kernel_view_sum_is_constant (DsKernelView *self)
{
  return isfinite (self->sum_min)
         && self->sum_max - self->sum_min <= SUM_CONSTANT * fabs (self->sum_min);
}

/* size × size floats rendered at 1:1 into a new image surface with params. */
static cairo_surface_t *
surface_from_floats (const float *data, int width, int height, const DiaRenderParams *params)
{
  cairo_surface_t *s = cairo_image_surface_create (CAIRO_FORMAT_RGB24, width, height);

  if (cairo_surface_status (s) != CAIRO_STATUS_SUCCESS)
    return s;
  cairo_surface_flush (s);
  /* dia_render writes B, G, R, A bytes, which is cairo's native 32-bit layout on the
   * little-endian machines GTK 4 runs on. */
  dia_render_region (data, NULL, width, height, width, params, -0.5, -0.5, 1.0,
                     cairo_image_surface_get_data (s), width, height,
                     cairo_image_surface_get_stride (s));
  cairo_surface_mark_dirty (s);
  return s;
}

/* Computes the diagnostics and images for the current plan (main thread, first draw). */
static void
kernel_view_ensure_cache (DsKernelView *self)
{
  const DiaKernelSolution *sol;
  int size, npix, n;
  g_autofree float *grid = NULL;
  DiaRenderParams params;

  if (self->plan == NULL || self->diag != NULL)
    return;
  self->diag = dia_kernel_diagnostics_new (self->plan, DS_KERNEL_VIEW_GRID);
  sol = self->plan->kernel;
  if (sol == NULL || sol->basis == NULL || sol->n_basis <= 0)
    return;
  size = sol->config.size;
  npix = size * size;
  self->stamps = g_new0 (cairo_surface_t *, sol->n_basis);
  self->n_stamps = sol->n_basis;
  for (int b = 0; b < sol->n_basis; b++)
    {
      const float *img = sol->basis + (gsize) b * npix;
      double peak = 0;

      for (int p = 0; p < npix; p++)
        if (isfinite (img[p]))
          peak = MAX (peak, fabs (img[p]));
      dia_render_params_init (&params);
      params.limits = DIA_LIMITS_MANUAL;
      params.low = -(peak > 0 ? peak : 1.0);
      params.high = peak > 0 ? peak : 1.0;
      params.colormap = DIA_COLORMAP_DIVERGING;
      self->stamps[b] = surface_from_floats (img, size, size, &params);
    }

  n = self->diag->n_grid;
  if (n <= 0 || self->diag->samples == NULL)
    return;
  grid = g_new (float, (gsize) n * n);
  self->sum_min = INFINITY;
  self->sum_max = -INFINITY;
  for (int i = 0; i < n * n; i++)
    {
      grid[i] = (float) self->diag->samples[i].sum;
      if (isfinite (self->diag->samples[i].sum))
        {
          self->sum_min = MIN (self->sum_min, self->diag->samples[i].sum);
          self->sum_max = MAX (self->sum_max, self->diag->samples[i].sum);
        }
    }
  if (!isfinite (self->sum_min))
    {
      self->sum_min = self->sum_max = NAN;
      return;
    }
  dia_render_params_init (&params);
  params.limits = DIA_LIMITS_MANUAL;
  params.low = self->sum_min;
  params.high = self->sum_max;
  /* Constant to float precision (the usual case, a_0 being spatially constant): the map
   * shows one colour, centred on the bar, rather than amplified rounding noise. */
  if (kernel_view_sum_is_constant (self))
    {
      double mean = 0.5 * (self->sum_min + self->sum_max);

      params.low = mean - SUM_CONSTANT * fabs (mean) - 1e-12;
      params.high = mean + SUM_CONSTANT * fabs (mean) + 1e-12;
    }
  params.colormap = DIA_COLORMAP_VIRIDIS_LIKE;
  /* Samples are row-major with y outer, y up: dia_render puts the last row on top. */
  self->sum_map = surface_from_floats (grid, n, n, &params);
}

/* Stamps per row and rows of Gaussian g's basis images at width. */
static int
stamps_per_row (double width)
{
  return MAX (1, (int) floor ((width - 2 * PAD + STAMP_GAP) / (STAMP + STAMP_GAP)));
}

static int
gauss_count (const DiaBasisConfig *c, int g)
{
  return (c->degree[g] + 1) * (c->degree[g] + 2) / 2;
}

/* Map size in the image's aspect. */
static void
map_size (DsKernelView *self, double width, double *mw, double *mh)
{
  double w = self->plan->science_image->width, h = self->plan->science_image->height;
  double side = MIN (MAP_MAX, width - 2 * PAD - BAR_W - BAR_TEXT);

  side = MAX (side, 40.0);
  *mw = w >= h ? side : side * w / h;
  *mh = w >= h ? side * h / w : side;
}

/* Total height of the content at width. */
static double
content_height (DsKernelView *self, double width)
{
  const DiaKernelSolution *sol;
  double h = PAD + LINE;
  int per_row = stamps_per_row (width);
  double mw, mh;

  if (self->plan == NULL)
    return h + PAD;
  h += N_INFO_LINES * LINE;
  sol = self->plan->kernel;
  if (sol == NULL)
    return h + PAD;
  h += LINE + 4;                    /* "Basis components" */
  for (int g = 0; g < sol->config.n_gauss; g++)
    {
      int rows = (gauss_count (&sol->config, g) + per_row - 1) / per_row;

      h += LINE + rows * (STAMP + STAMP_LABEL + STAMP_GAP);
    }
  map_size (self, width, &mw, &mh);
  h += 4 + LINE + mh + 4 + LINE;
  return h + PAD;
}

static PangoLayout *
text_layout (GtkWidget *widget, const char *text, double scale)
{
  PangoLayout *layout = gtk_widget_create_pango_layout (widget, text);

  if (scale != 1.0)
    {
      const PangoFontDescription *base =
        pango_context_get_font_description (pango_layout_get_context (layout));
      PangoFontDescription *small = pango_font_description_copy (base);

      int size = (int) (pango_font_description_get_size (base) * scale);

      /* Keep the base font's unit: absolute (device) sizes stay absolute. */
      if (pango_font_description_get_size_is_absolute (base))
        pango_font_description_set_absolute_size (small, size);
      else
        pango_font_description_set_size (small, size);
      pango_layout_set_font_description (layout, small);
      pango_font_description_free (small);
    }
  return layout;
}

static void
draw_text (cairo_t *cr, GtkWidget *widget, const char *text, double x, double y, double xalign,
           double scale)
{
  g_autoptr (PangoLayout) layout = text_layout (widget, text, scale);
  int w, h;

  pango_layout_get_pixel_size (layout, &w, &h);
  cairo_move_to (cr, x - xalign * w, y);
  pango_cairo_show_layout (cr, layout);
}

/* "x²y" style name of the term x^i y^j (1 for i = j = 0). */
static char *
term_name (int i, int j)
{
  static const char *const sup[] = { "", "", "²", "³", "⁴", "⁵", "⁶", "⁷", "⁸", "⁹" };
  GString *s = g_string_new (NULL);

  if (i == 0 && j == 0)
    g_string_append (s, "1");
  if (i > 0)
    g_string_append_printf (s, "x%s", i < 10 ? sup[i] : "ⁿ");
  if (j > 0)
    g_string_append_printf (s, "y%s", j < 10 ? sup[j] : "ⁿ");
  return g_string_free (s, FALSE);
}

static void
draw_info (DsKernelView *self, cairo_t *cr, double y)
{
  GtkWidget *widget = GTK_WIDGET (self);
  const DiaSubtractInfo *info = &self->plan->info;
  g_autoptr (GString) sigmas = g_string_new (NULL);
  char *lines[N_INFO_LINES];

  for (int g = 0; g < info->basis.n_gauss; g++)
    g_string_append_printf (sigmas, "%s%.2f", g > 0 ? ", " : "", info->basis.sigma[g]);
  /* Translators: condition number of the kernel fit's normal equations */
  lines[0] = g_strdup_printf (_("Condition number %.3g"), info->condition_number);
  /* Translators: kernel stamps used and rejected by the fit */
  lines[1] = g_strdup_printf (_("Stamps %d used, %d rejected"), info->n_stamps_used,
                              info->n_stamps_rejected);
  /* Translators: widths of the basis Gaussians in pixels */
  lines[2] = g_strdup_printf (_("Basis σ %s px"), sigmas->str);
  /* Translators: kernel side in pixels */
  lines[3] = g_strdup_printf (_("Kernel %d × %d px"), info->basis.size, info->basis.size);
  /* Translators: ratio of the science to the template PSF FWHM, then the two FWHMs */
  lines[4] = g_strdup_printf (_("PSF FWHM ratio %.3f (%.2f / %.2f px)"),
                              info->fwhm_science / info->fwhm_template, info->fwhm_science,
                              info->fwhm_template);
  for (int i = 0; i < N_INFO_LINES; i++)
    {
      draw_text (cr, widget, lines[i], PAD, y + i * LINE, 0.0, 1.0);
      g_free (lines[i]);
    }
}

/* Draws the basis grid from y; returns the y below it. */
static double
draw_basis (DsKernelView *self, cairo_t *cr, double width, double y)
{
  GtkWidget *widget = GTK_WIDGET (self);
  const DiaKernelSolution *sol = self->plan->kernel;
  int per_row = stamps_per_row (width), k = 0;

  cairo_set_source_rgb (cr, 0.1, 0.1, 0.1);
  /* Translators: heading of the basis stamp grid */
  draw_text (cr, widget, _("Basis components (each ±max|B|)"), PAD, y, 0.0, 1.0);
  y += LINE + 4;
  for (int g = 0; g < sol->config.n_gauss; g++)
    {
      g_autofree char *head = NULL;
      int count = gauss_count (&sol->config, g), c = 0;

      /* Translators: one Gaussian of the kernel basis: its width and polynomial degree */
      head = g_strdup_printf (_("σ = %.2f px, degree %d"), sol->config.sigma[g],
                              sol->config.degree[g]);
      cairo_set_source_rgb (cr, 0.25, 0.25, 0.25);
      draw_text (cr, widget, head, PAD, y, 0.0, 0.9);
      y += LINE;
      for (int deg = 0; deg <= sol->config.degree[g]; deg++)
        for (int j = 0; j <= deg; j++, k++, c++)
          {
            double x = PAD + (c % per_row) * (STAMP + STAMP_GAP);
            double sy = y + (c / per_row) * (STAMP + STAMP_LABEL + STAMP_GAP);
            g_autofree char *name = term_name (deg - j, j);
            char index[16];

            if (k < self->n_stamps && self->stamps[k] != NULL)
              {
                cairo_save (cr);
                cairo_rectangle (cr, x, sy, STAMP, STAMP);
                cairo_clip (cr);
                cairo_translate (cr, x, sy);
                cairo_scale (cr, STAMP / sol->config.size, STAMP / sol->config.size);
                cairo_set_source_surface (cr, self->stamps[k], 0, 0);
                cairo_pattern_set_filter (cairo_get_source (cr), CAIRO_FILTER_NEAREST);
                cairo_paint (cr);
                cairo_restore (cr);
              }
            cairo_set_source_rgb (cr, 0.6, 0.6, 0.6);
            cairo_set_line_width (cr, 1.0);
            cairo_rectangle (cr, x + 0.5, sy + 0.5, STAMP - 1, STAMP - 1);
            cairo_stroke (cr);
            /* The index in the stamp's corner (basis images are white there), the
             * polynomial term below. */
            g_snprintf (index, sizeof index, "%d", k);
            cairo_set_source_rgb (cr, 0.45, 0.45, 0.45);
            draw_text (cr, widget, index, x + 2, sy, 0.0, 0.7);
            cairo_set_source_rgb (cr, 0.15, 0.15, 0.15);
            draw_text (cr, widget, name, x + 0.5 * STAMP, sy + STAMP, 0.5, 0.75);
          }
      y += ((count + per_row - 1) / per_row) * (STAMP + STAMP_LABEL + STAMP_GAP);
    }
  return y;
}

static void
draw_sum_map (DsKernelView *self, cairo_t *cr, double width, double y)
{
  GtkWidget *widget = GTK_WIDGET (self);
  double mw, mh, bx;
  g_autofree char *head = NULL;
  char text[32];
  gboolean constant;

  map_size (self, width, &mw, &mh);
  constant = kernel_view_sum_is_constant (self);
  cairo_set_source_rgb (cr, 0.1, 0.1, 0.1);
  /* Translators: heading of the kernel-sum map; the second form when it does not vary */
  draw_text (cr, widget, constant ? _("Kernel sum map (constant)") : _("Kernel sum map"), PAD,
             y, 0.0, 1.0);
  y += LINE;
  if (self->sum_map == NULL)
    return;
  cairo_save (cr);
  cairo_translate (cr, PAD, y);
  cairo_scale (cr, mw / self->diag->n_grid, mh / self->diag->n_grid);
  cairo_set_source_surface (cr, self->sum_map, 0, 0);
  cairo_pattern_set_filter (cairo_get_source (cr), CAIRO_FILTER_GOOD);
  cairo_pattern_set_extend (cairo_get_source (cr), CAIRO_EXTEND_PAD);
  cairo_rectangle (cr, 0, 0, self->diag->n_grid, self->diag->n_grid);
  cairo_fill (cr);
  cairo_restore (cr);

  /* Colour bar: minimum at the bottom, maximum at the top, labelled. */
  bx = PAD + mw + 8;
  for (int i = 0; i < (int) mh; i++)
    {
      guint32 c = dia_render_colormap (DIA_COLORMAP_VIRIDIS_LIKE, 1.0 - (i + 0.5) / mh);

      cairo_set_source_rgb (cr, ((c >> 16) & 0xff) / 255.0, ((c >> 8) & 0xff) / 255.0,
                            (c & 0xff) / 255.0);
      cairo_rectangle (cr, bx, y + i, BAR_W, 1);
      cairo_fill (cr);
    }
  cairo_set_source_rgb (cr, 0.2, 0.2, 0.2);
  g_snprintf (text, sizeof text, "%.5f", self->sum_max);
  draw_text (cr, widget, text, bx + BAR_W + 4, y - 2, 0.0, 0.85);
  g_snprintf (text, sizeof text, "%.5f", self->sum_min);
  draw_text (cr, widget, text, bx + BAR_W + 4, y + mh - 14, 0.0, 0.85);
  y += mh + 4;
  /* Translators: kernel sum statistics over the map */
  head = g_strdup_printf (_("min %.5f, max %.5f, mean %.5f"), self->sum_min, self->sum_max,
                          self->diag->sum_mean);
  draw_text (cr, widget, head, PAD, y, 0.0, 1.0);
}

static void
ds_kernel_view_snapshot (GtkWidget *widget, GtkSnapshot *snapshot)
{
  DsKernelView *self = DS_KERNEL_VIEW (widget);
  int width = gtk_widget_get_width (widget), height = gtk_widget_get_height (widget);
  double y = PAD;
  cairo_t *cr;

  if (width <= 0 || height <= 0)
    return;
  kernel_view_ensure_cache (self);
  cr = gtk_snapshot_append_cairo (snapshot, &GRAPHENE_RECT_INIT (0, 0, width, height));
  cairo_set_source_rgb (cr, 1, 1, 1);
  cairo_paint (cr);
  cairo_set_source_rgb (cr, 0.1, 0.1, 0.1);
  if (self->plan == NULL)
    draw_text (cr, widget, _("No subtraction yet"), PAD, y, 0.0, 1.0);
  else
    {
      /* Translators: heading of the kernel diagnostics panel */
      draw_text (cr, widget, _("Kernel diagnostics"), PAD, y, 0.0, 1.0);
      y += LINE;
      draw_info (self, cr, y);
      y += N_INFO_LINES * LINE;
      if (self->plan->kernel == NULL)
        draw_text (cr, widget, _("This flavour has no convolution kernel"), PAD, y, 0.0, 1.0);
      else
        {
          y = draw_basis (self, cr, width, y);
          draw_sum_map (self, cr, width, y + 4);
        }
    }
  cairo_destroy (cr);
}

static GtkSizeRequestMode
ds_kernel_view_get_request_mode (GtkWidget *widget)
{
  return GTK_SIZE_REQUEST_HEIGHT_FOR_WIDTH;
}

static void
ds_kernel_view_measure (GtkWidget *widget, GtkOrientation orientation, int for_size,
                        int *minimum, int *natural, int *minimum_baseline,
                        int *natural_baseline)
{
  DsKernelView *self = DS_KERNEL_VIEW (widget);

  if (orientation == GTK_ORIENTATION_HORIZONTAL)
    {
      *minimum = 260;
      *natural = 320;
    }
  else
    *minimum = *natural = (int) ceil (content_height (self, for_size > 0 ? for_size : 320));
}

static void
ds_kernel_view_dispose (GObject *object)
{
  DsKernelView *self = DS_KERNEL_VIEW (object);

  kernel_view_clear_cache (self);
  g_clear_pointer (&self->plan, dia_subtract_plan_unref);
  G_OBJECT_CLASS (ds_kernel_view_parent_class)->dispose (object);
}

static void
ds_kernel_view_class_init (DsKernelViewClass *klass)
{
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  G_OBJECT_CLASS (klass)->dispose = ds_kernel_view_dispose;
  widget_class->snapshot = ds_kernel_view_snapshot;
  widget_class->measure = ds_kernel_view_measure;
  widget_class->get_request_mode = ds_kernel_view_get_request_mode;
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_IMG);
}

static void
ds_kernel_view_init (DsKernelView *self)
{
  self->sum_min = self->sum_max = NAN;
}

GtkWidget *
ds_kernel_view_new (void)
{
  return g_object_new (DS_TYPE_KERNEL_VIEW, NULL);
}
