/* ds-recall-plot.c — recall of injected fakes against their S/N, with the fitted
 * completeness curve and SNR½.
 *
 * What it shows (ALGORITHMS.md §7): for each S/N bin of dia_fakes_run(), the fraction of fakes
 * found, as a point at the mean S/N of the bin's fakes with a horizontal bar spanning the
 * bin's occupied range and a vertical bar for the binomial uncertainty (the Wilson score
 * interval at 1σ, which stays inside [0, 1] and is not degenerate for 0 or n found, unlike
 * √(p(1−p)/n)); the maximum-likelihood completeness curve ε(s) = ε_max Φ((s − c)/w) fitted to
 * the individual outcomes; and SNR½, where the curve crosses one half, as a dashed vertical
 * line labelled with its value and error.  The S/N axis is logarithmic because the fakes are
 * drawn log-uniform in S/N.
 *
 * Design: like ds-histogram.c, the widget keeps a small copy of what it draws (never the
 * recovery) and draws with cairo through gtk_snapshot_append_cairo on its own light
 * background, so it reads the same in any theme.  The geometry is one function used by the
 * drawing and by ds_recall_plot_get_snr_half_x(), so tests can find the SNR½ line in a
 * screenshot.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "ds-recall-plot.h"
#include "ds-plot-axes.h"

#include <glib/gi18n.h>
#include <math.h>

#define MAX_BINS 16
#define MARGIN_LEFT 38.0            /* px, room for the recall ticks                          */
#define MARGIN_RIGHT 16.0            /* px, room for half of the last S/N tick label            */
#define MARGIN_TOP 24.0             /* px, room for the summary label                         */
#define MARGIN_BOTTOM 34.0          /* px, room for the S/N ticks and the axis title          */

typedef struct
{
  double lo, hi;                    /* S/N range of the bin's fakes (their min and max)       */
  double mean;                      /* geometric mean S/N of the bin's fakes                  */
  int n, n_found;
} PlotBin;

struct _DsRecallPlot
{
  GtkWidget parent_instance;

  gboolean have;                    /* a recovery has been set                                */
  PlotBin bins[MAX_BINS];
  int n_bins;
  int n_fakes, n_found;
  double snr_min, snr_max;          /* of the fakes (axis range before rounding)              */
  double erf_centre, erf_width, erf_max;
  double snr_half, snr_half_err;
  double expected_snr_half;
  double recall_above_10;
};

G_DEFINE_FINAL_TYPE (DsRecallPlot, ds_recall_plot, GTK_TYPE_WIDGET)

void
ds_recall_plot_set_recovery (DsRecallPlot *self, const DiaRecovery *recovery)
{
  g_return_if_fail (DS_IS_RECALL_PLOT (self));

  self->have = FALSE;
  self->n_bins = 0;
  self->n_fakes = self->n_found = 0;
  self->snr_min = INFINITY;
  self->snr_max = -INFINITY;
  if (recovery != NULL && recovery->bins != NULL && recovery->fakes != NULL)
    {
      double sum_log[MAX_BINS] = { 0 };

      self->have = TRUE;
      self->n_bins = MIN ((int) recovery->bins->len, MAX_BINS);
      for (int b = 0; b < self->n_bins; b++)
        self->bins[b] = (PlotBin) { INFINITY, -INFINITY, NAN, 0, 0 };
      /* Recount from the fakes (same bin edges) to get each bin's occupied range and mean. */
      for (guint i = 0; i < recovery->fakes->len; i++)
        {
          const DiaFake *f = &g_array_index (recovery->fakes, DiaFake, i);

          if (!(f->snr > 0) || !isfinite (f->snr))
            continue;
          self->n_fakes++;
          self->n_found += f->found != FALSE;
          self->snr_min = MIN (self->snr_min, f->snr);
          self->snr_max = MAX (self->snr_max, f->snr);
          for (int b = 0; b < self->n_bins; b++)
            {
              const DiaRecallBin *rb = &g_array_index (recovery->bins, DiaRecallBin, b);
              PlotBin *pb = &self->bins[b];

              if (f->snr >= rb->lo && f->snr < rb->hi)
                {
                  pb->n++;
                  pb->n_found += f->found != FALSE;
                  pb->lo = MIN (pb->lo, f->snr);
                  pb->hi = MAX (pb->hi, f->snr);
                  sum_log[b] += log (f->snr);
                }
            }
        }
      for (int b = 0; b < self->n_bins; b++)
        if (self->bins[b].n > 0)
          self->bins[b].mean = exp (sum_log[b] / self->bins[b].n);
      self->erf_centre = recovery->erf_centre;
      self->erf_width = recovery->erf_width;
      self->erf_max = recovery->erf_max;
      self->snr_half = recovery->snr_half;
      self->snr_half_err = recovery->snr_half_err;
      self->expected_snr_half = recovery->expected_snr_half;
      self->recall_above_10 = recovery->recall_above_10;
    }
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

/* The S/N axis: log10 from lo to hi (decades or 1-2-5 steps that contain the fakes). */
static void
axis_range (DsRecallPlot *self, double *lo, double *hi)
{
  double a = self->have && isfinite (self->snr_min) ? self->snr_min : 1.0;
  double b = self->have && isfinite (self->snr_max) ? self->snr_max : 100.0;
  static const double steps[] = { 1, 2, 5 };
  double la = floor (log10 (MAX (a, 1e-3))), lb = floor (log10 (MAX (b, 1e-3)));

  *lo = pow (10, la);
  for (int i = 2; i >= 0; i--)
    if (steps[i] * pow (10, la) <= a)
      {
        *lo = steps[i] * pow (10, la);
        break;
      }
  *hi = 10 * pow (10, lb);
  for (int i = 0; i < 3; i++)
    if (steps[i] * pow (10, lb) >= b)
      {
        *hi = steps[i] * pow (10, lb);
        break;
      }
  if (*hi <= *lo)
    *hi = *lo * 10;
}

typedef struct
{
  double x0, y0, pw, ph;            /* plot origin (bottom left) and size, px                 */
  double llo, lhi;                  /* log10 of the S/N range                                 */
} Geometry;

static gboolean
plot_geometry (DsRecallPlot *self, double width, double height, Geometry *g)
{
  double lo, hi;

  axis_range (self, &lo, &hi);
  g->pw = width - MARGIN_LEFT - MARGIN_RIGHT;
  g->ph = height - MARGIN_TOP - MARGIN_BOTTOM;
  g->x0 = MARGIN_LEFT;
  g->y0 = MARGIN_TOP + g->ph;
  g->llo = log10 (lo);
  g->lhi = log10 (hi);
  return g->pw >= 40 && g->ph >= 40;
}

static double
geo_x (const Geometry *g, double snr)
{
  return g->x0 + (log10 (snr) - g->llo) / (g->lhi - g->llo) * g->pw;
}

static double
geo_y (const Geometry *g, double recall)
{
  return g->y0 - recall * g->ph;
}

double
ds_recall_plot_get_snr_half_x (DsRecallPlot *self)
{
  Geometry g;

  g_return_val_if_fail (DS_IS_RECALL_PLOT (self), NAN);
  if (!self->have || !(self->snr_half > 0) || !isfinite (self->snr_half)
      || !plot_geometry (self, gtk_widget_get_width (GTK_WIDGET (self)),
                         gtk_widget_get_height (GTK_WIDGET (self)), &g))
    return NAN;
  if (log10 (self->snr_half) < g.llo || log10 (self->snr_half) > g.lhi)
    return NAN;
  return floor (geo_x (&g, self->snr_half)) + 0.5;
}

/* Wilson score interval at 1σ for k successes in n trials. */
static void
wilson (int k, int n, double *lo, double *hi)
{
  double p = (double) k / n, z2 = 1.0, d = 1 + z2 / n;
  double c = (p + z2 / (2.0 * n)) / d;
  double h = sqrt (p * (1 - p) / n + z2 / (4.0 * n * n)) / d;

  *lo = MAX (0.0, c - h);
  *hi = MIN (1.0, c + h);
}

/* Φ, the standard normal CDF. */
static double
normal_cdf (double x)
{
  return 0.5 * erfc (-x / G_SQRT2);
}

static void
ds_recall_plot_draw (DsRecallPlot *self, cairo_t *cr, double width, double height)
{
  GtkWidget *widget = GTK_WIDGET (self);
  g_autofree char *label = NULL;
  Geometry g;

  cairo_set_source_rgb (cr, 1, 1, 1);
  cairo_paint (cr);
  if (!plot_geometry (self, width, height, &g))
    return;

  /* Grid lines at recall 0.5 and 1, light, so the eye reads the crossing. */
  cairo_set_source_rgb (cr, 0.88, 0.88, 0.88);
  cairo_set_line_width (cr, 1.0);
  for (int t = 1; t <= 2; t++)
    {
      double y = floor (geo_y (&g, 0.5 * t)) + 0.5;

      cairo_move_to (cr, g.x0, y);
      cairo_line_to (cr, g.x0 + g.pw, y);
    }
  cairo_stroke (cr);

  /* Axes, recall ticks 0…1 every 0.25 (labelled every 0.5), S/N ticks at 1-2-5. */
  cairo_set_source_rgb (cr, 0.2, 0.2, 0.2);
  ds_plot_axes_draw_frame (cr, g.x0 + 0.5, MARGIN_TOP, g.y0 + 0.5, g.x0 + g.pw);
  for (int t = 0; t <= 4; t++)
    {
      double y = floor (geo_y (&g, 0.25 * t)) + 0.5;
      char text[8];

      g_snprintf (text, sizeof text, "%.1f", 0.25 * t);
      ds_plot_axes_draw_y_tick (cr, widget, g.x0, y, t % 2 == 0 ? text : NULL, g.x0 - 6);
    }
  for (int dec = (int) floor (g.llo) - 1; dec <= (int) ceil (g.lhi); dec++)
    for (int m = 1; m <= 5; m += (m == 1 ? 1 : 3))
      {
        double v = m * pow (10, dec), x;
        char text[16];

        if (log10 (v) < g.llo - 1e-9 || log10 (v) > g.lhi + 1e-9)
          continue;
        x = floor (geo_x (&g, v)) + 0.5;
        g_snprintf (text, sizeof text, "%g", v);
        ds_plot_axes_draw_x_tick (cr, widget, x, g.y0, text);
      }
  /* Translators: x axis of the recall plot: the fakes' true S/N on the difference */
  ds_plot_axes_draw_text (cr, widget, _("S/N of the fake"), g.x0 + 0.5 * g.pw, g.y0 + 17, 0.5);

  if (!self->have)
    {
      ds_plot_axes_draw_text (cr, widget, _("No fakes injected yet"), 4, 2, 0.0);
      return;
    }

  cairo_save (cr);
  cairo_rectangle (cr, g.x0, MARGIN_TOP - 4, g.pw, g.ph + 8);
  cairo_clip (cr);

  /* The fitted completeness curve. */
  if (isfinite (self->erf_centre) && self->erf_width > 0 && isfinite (self->erf_max))
    {
      cairo_set_source_rgb (cr, 0.85, 0.15, 0.1);
      cairo_set_line_width (cr, 1.5);
      for (int i = 0; i <= 200; i++)
        {
          double l = g.llo + i * (g.lhi - g.llo) / 200, s = pow (10, l);
          double e = self->erf_max * normal_cdf ((s - self->erf_centre) / self->erf_width);

          if (i == 0)
            cairo_move_to (cr, geo_x (&g, s), geo_y (&g, e));
          else
            cairo_line_to (cr, geo_x (&g, s), geo_y (&g, e));
        }
      cairo_stroke (cr);
    }

  /* SNR½: dashed vertical line. */
  if (self->snr_half > 0 && isfinite (self->snr_half))
    {
      double x = floor (geo_x (&g, self->snr_half)) + 0.5;
      const double dash[] = { 5.0, 3.0 };

      cairo_set_source_rgb (cr, 0.1, 0.55, 0.2);
      cairo_set_line_width (cr, 1.5);
      cairo_set_dash (cr, dash, 2, 0);
      cairo_move_to (cr, x, MARGIN_TOP);
      cairo_line_to (cr, x, g.y0);
      cairo_stroke (cr);
      cairo_set_dash (cr, NULL, 0, 0);
    }

  /* Binned recall with the bin's occupied range and the Wilson interval. */
  cairo_set_source_rgb (cr, 0.15, 0.3, 0.7);
  cairo_set_line_width (cr, 1.2);
  for (int b = 0; b < self->n_bins; b++)
    {
      const PlotBin *pb = &self->bins[b];
      double p, elo, ehi, x, y;

      if (pb->n == 0)
        continue;
      p = (double) pb->n_found / pb->n;
      wilson (pb->n_found, pb->n, &elo, &ehi);
      x = geo_x (&g, pb->mean);
      y = geo_y (&g, p);
      cairo_move_to (cr, geo_x (&g, pb->lo), y);
      cairo_line_to (cr, geo_x (&g, pb->hi), y);
      cairo_move_to (cr, x, geo_y (&g, elo));
      cairo_line_to (cr, x, geo_y (&g, ehi));
      cairo_stroke (cr);
      cairo_arc (cr, x, y, 3.0, 0, 2 * G_PI);
      cairo_fill (cr);
    }
  cairo_restore (cr);

  if (self->snr_half > 0 && isfinite (self->snr_half))
    {
      g_autofree char *text = NULL;
      double x = geo_x (&g, self->snr_half);

      if (isfinite (self->expected_snr_half))
        /* Translators: the S/N at which half of the fakes are found, with its error, and the
         * value expected from the detection threshold and filter */
        text = g_strdup_printf (_("SNR½ %.2f ± %.2f\nexpected %.2f"), self->snr_half,
                                self->snr_half_err, self->expected_snr_half);
      else
        /* Translators: the S/N at which half of the fakes are found, with its error */
        text = g_strdup_printf (_("SNR½ %.2f ± %.2f"), self->snr_half, self->snr_half_err);
      cairo_set_source_rgb (cr, 0.1, 0.45, 0.15);
      /* Right of the line unless that runs out of the plot. */
      ds_plot_axes_draw_text (cr, widget, text, x + (x < g.x0 + 0.55 * g.pw ? 4 : -4), geo_y (&g, 0.3),
                 x < g.x0 + 0.55 * g.pw ? 0.0 : 1.0);
    }

  else
    {
      cairo_set_source_rgb (cr, 0.6, 0.1, 0.1);
      /* Translators: the completeness fit failed, e.g. too few fakes near the threshold */
      ds_plot_axes_draw_text (cr, widget, _("SNR½: the fit did not converge\n(inject more fakes)"),
                 g.x0 + 0.5 * g.pw, geo_y (&g, 0.45), 0.5);
    }

  cairo_set_source_rgb (cr, 0.2, 0.2, 0.2);
  if (isfinite (self->recall_above_10))
    /* Translators: recall plot heading: fakes found of injected, recall above S/N 10 */
    label = g_strdup_printf (_("%d/%d fakes found, %.0f %% above S/N 10"),
                             self->n_found, self->n_fakes, 100.0 * self->recall_above_10);
  else
    label = g_strdup_printf (_("Recall: %d of %d fakes found"), self->n_found, self->n_fakes);
  ds_plot_axes_draw_text (cr, widget, label, 4, 2, 0.0);
}

static void
ds_recall_plot_snapshot (GtkWidget *widget, GtkSnapshot *snapshot)
{
  DsRecallPlot *self = DS_RECALL_PLOT (widget);
  int width, height;
  cairo_t *cr = ds_plot_axes_begin (widget, snapshot, &width, &height);

  if (cr == NULL)
    return;
  ds_recall_plot_draw (self, cr, width, height);
  cairo_destroy (cr);
}

static void
ds_recall_plot_measure (GtkWidget *widget, GtkOrientation orientation, int for_size,
                        int *minimum, int *natural, int *minimum_baseline,
                        int *natural_baseline)
{
  *minimum = orientation == GTK_ORIENTATION_HORIZONTAL ? 220 : 160;
  *natural = orientation == GTK_ORIENTATION_HORIZONTAL ? 300 : 220;
}

static void
ds_recall_plot_class_init (DsRecallPlotClass *klass)
{
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  widget_class->snapshot = ds_recall_plot_snapshot;
  widget_class->measure = ds_recall_plot_measure;
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_IMG);
}

static void
ds_recall_plot_init (DsRecallPlot *self)
{
  self->snr_half = self->snr_half_err = NAN;
  self->erf_centre = self->erf_width = self->erf_max = NAN;
  self->expected_snr_half = self->recall_above_10 = NAN;
  self->snr_min = INFINITY;
  self->snr_max = -INFINITY;
}

GtkWidget *
ds_recall_plot_new (void)
{
  return g_object_new (DS_TYPE_RECALL_PLOT, NULL);
}
