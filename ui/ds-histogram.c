/* ds-histogram.c — histogram of normalised residuals D/√V against the unit Gaussian.
 *
 * A good subtraction leaves a difference whose pixels, divided by their predicted standard
 * deviation √V, follow N(0, 1).  This widget shows how far that holds: the density of the
 * values in 0.2σ bins over [−6, 6] as bars, the unit Gaussian on top as a curve, and a label
 * with the robust σ (1.4826 × MAD, which is 1 for a correct variance) and the fraction of
 * values beyond ±5σ (5.7 × 10⁻⁷ for a Gaussian; more means artefacts or real variables).
 *
 * Design: the widget keeps only the bin counts and two statistics, never the values, so the
 * caller may pass a temporary array.  The statistics sort a private copy twice (median,
 * then median absolute deviation), which for the ≤ 500 000 values the window passes costs
 * well under a tenth of a second on the main thread, once per full-frame result.  Drawing
 * is cairo through gtk_snapshot_append_cairo; the plot draws its own light background so
 * that it reads the same in any theme.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "ds-histogram.h"
#include "ds-plot-axes.h"

#include <glib/gi18n.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define N_BINS 60                   /* (MAX − MIN) / BIN                                      */
#define MARGIN_LEFT 34.0            /* px, room for the density ticks                         */
#define MARGIN_RIGHT 8.0
#define MARGIN_TOP 24.0             /* px, room for the statistics label                      */
#define MARGIN_BOTTOM 20.0          /* px, room for the σ ticks                               */

struct _DsHistogram
{
  GtkWidget parent_instance;

  guint64 counts[N_BINS];
  guint64 n_total;                  /* finite values, in or out of range                      */
  double robust_sigma;              /* NAN when empty                                         */
  double tail_fraction;             /* NAN when empty                                         */
};

G_DEFINE_FINAL_TYPE (DsHistogram, ds_histogram, GTK_TYPE_WIDGET)

static int
cmp_float (const void *a, const void *b)
{
  float x = *(const float *) a, y = *(const float *) b;

  return (x > y) - (x < y);
}

/* Median of a[0..n), n > 0, sorting a. */
static double
median_in_place (float *a, gsize n)
{
  qsort (a, n, sizeof *a, cmp_float);
  return n % 2 == 1 ? a[n / 2] : 0.5 * ((double) a[n / 2 - 1] + a[n / 2]);
}

void
ds_histogram_set_values (DsHistogram *self, const float *values, gsize n)
{
  g_autofree float *copy = NULL;
  gsize n_finite = 0, n_tail = 0;

  g_return_if_fail (DS_IS_HISTOGRAM (self));
  g_return_if_fail (values != NULL || n == 0);

  memset (self->counts, 0, sizeof self->counts);
  self->n_total = 0;
  self->robust_sigma = NAN;
  self->tail_fraction = NAN;

  copy = n > 0 ? g_try_new (float, n) : NULL;
  for (gsize i = 0; i < n; i++)
    {
      float v = values[i];
      double b;

      if (!isfinite (v))
        continue;
      if (copy != NULL)
        copy[n_finite] = v;
      n_finite++;
      if (fabsf (v) > 5.0f)
        n_tail++;
      b = floor ((v - DS_HISTOGRAM_MIN) / DS_HISTOGRAM_BIN);
      if (b >= 0 && b < N_BINS)
        self->counts[(int) b]++;
    }
  self->n_total = n_finite;
  if (n_finite > 0)
    {
      self->tail_fraction = (double) n_tail / n_finite;
      /* Without memory for the copy only the robust σ is lost. */
      if (copy != NULL)
        {
          double med = median_in_place (copy, n_finite);

          for (gsize i = 0; i < n_finite; i++)
            copy[i] = fabsf (copy[i] - (float) med);
          self->robust_sigma = 1.4826 * median_in_place (copy, n_finite);
        }
    }
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

double
ds_histogram_get_robust_sigma (DsHistogram *self)
{
  g_return_val_if_fail (DS_IS_HISTOGRAM (self), NAN);
  return self->robust_sigma;
}

double
ds_histogram_get_tail_fraction (DsHistogram *self)
{
  g_return_val_if_fail (DS_IS_HISTOGRAM (self), NAN);
  return self->tail_fraction;
}

static void
ds_histogram_draw (DsHistogram *self, cairo_t *cr, double width, double height)
{
  GtkWidget *widget = GTK_WIDGET (self);
  double pw = width - MARGIN_LEFT - MARGIN_RIGHT, ph = height - MARGIN_TOP - MARGIN_BOTTOM;
  double x0 = MARGIN_LEFT, y0 = MARGIN_TOP + ph;   /* plot origin: value MIN, density 0 */
  double ymax = 1.0 / sqrt (2 * G_PI);
  g_autofree char *label = NULL;

  cairo_set_source_rgb (cr, 1, 1, 1);
  cairo_paint (cr);
  if (pw < 20 || ph < 20)
    return;

  for (int b = 0; b < N_BINS && self->n_total > 0; b++)
    ymax = MAX (ymax, self->counts[b] / (self->n_total * DS_HISTOGRAM_BIN));
  ymax *= 1.1;

#define SX(v) (x0 + ((v) - DS_HISTOGRAM_MIN) / (DS_HISTOGRAM_MAX - DS_HISTOGRAM_MIN) * pw)
#define SY(d) (y0 - (d) / ymax * ph)

  /* Bars: density = count / (N × bin width), so their area sums to the in-range fraction. */
  cairo_set_source_rgb (cr, 0.33, 0.53, 0.85);
  for (int b = 0; b < N_BINS && self->n_total > 0; b++)
    {
      double d = self->counts[b] / (self->n_total * DS_HISTOGRAM_BIN);
      double xa = SX (DS_HISTOGRAM_MIN + b * DS_HISTOGRAM_BIN);
      double xb = SX (DS_HISTOGRAM_MIN + (b + 1) * DS_HISTOGRAM_BIN);

      if (d > 0)
        cairo_rectangle (cr, xa, SY (d), MAX (xb - xa - 0.5, 0.5), y0 - SY (d));
    }
  cairo_fill (cr);

  /* The unit Gaussian the bars should follow. */
  cairo_set_source_rgb (cr, 0.85, 0.15, 0.1);
  cairo_set_line_width (cr, 1.5);
  for (int i = 0; i <= 240; i++)
    {
      double v = DS_HISTOGRAM_MIN + i * (DS_HISTOGRAM_MAX - DS_HISTOGRAM_MIN) / 240;
      double d = exp (-0.5 * v * v) / sqrt (2 * G_PI);

      if (i == 0)
        cairo_move_to (cr, SX (v), SY (d));
      else
        cairo_line_to (cr, SX (v), SY (d));
    }
  cairo_stroke (cr);

  /* Axes and ticks at −4…4 σ and every 0.1 in density. */
  cairo_set_source_rgb (cr, 0.2, 0.2, 0.2);
  cairo_set_line_width (cr, 1.0);
  ds_plot_axes_draw_frame (cr, x0, MARGIN_TOP, y0 + 0.5, x0 + pw);
  for (int t = -4; t <= 4; t++)
    {
      char text[8];
      double x = floor (SX (t)) + 0.5;

      g_snprintf (text, sizeof text, "%d", t);
      ds_plot_axes_draw_x_tick (cr, widget, x, y0, text);
    }
  for (int t = 1; t * 0.1 < ymax; t++)
    {
      char text[8];
      double y = floor (SY (t * 0.1)) + 0.5;

      g_snprintf (text, sizeof text, "%.1f", t * 0.1);
      ds_plot_axes_draw_y_tick (cr, widget, x0, y, t % 2 == 0 ? text : NULL, x0 - 5);
    }

  if (self->n_total == 0)
    label = g_strdup (_("No residuals yet"));
  else if (isnan (self->robust_sigma))
    label = g_strdup_printf (_("Beyond ±5σ %.1e"), self->tail_fraction);
  else
    /* TRANSLATORS: robust standard deviation of the normalised difference, and the fraction
     * of its pixels beyond five standard deviations */
    label = g_strdup_printf (_("Robust σ %.3f, beyond ±5σ %.1e"), self->robust_sigma,
                             self->tail_fraction);
  ds_plot_axes_draw_text (cr, widget, label, 4, 2, 0.0);
#undef SX
#undef SY
}

static void
ds_histogram_snapshot (GtkWidget *widget, GtkSnapshot *snapshot)
{
  DsHistogram *self = DS_HISTOGRAM (widget);
  int width, height;
  cairo_t *cr = ds_plot_axes_begin (widget, snapshot, &width, &height);

  if (cr == NULL)
    return;
  ds_histogram_draw (self, cr, width, height);
  cairo_destroy (cr);
}

static void
ds_histogram_measure (GtkWidget *widget, GtkOrientation orientation, int for_size,
                      int *minimum, int *natural, int *minimum_baseline,
                      int *natural_baseline)
{
  *minimum = orientation == GTK_ORIENTATION_HORIZONTAL ? 200 : 140;
  *natural = orientation == GTK_ORIENTATION_HORIZONTAL ? 300 : 200;
}

static void
ds_histogram_class_init (DsHistogramClass *klass)
{
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  widget_class->snapshot = ds_histogram_snapshot;
  widget_class->measure = ds_histogram_measure;
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_IMG);
}

static void
ds_histogram_init (DsHistogram *self)
{
  self->robust_sigma = NAN;
  self->tail_fraction = NAN;
}

GtkWidget *
ds_histogram_new (void)
{
  return g_object_new (DS_TYPE_HISTOGRAM, NULL);
}
