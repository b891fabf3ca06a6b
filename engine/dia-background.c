/* dia-background.c — mesh background and sky noise of one image.
 *
 * Design.  The image is split into nx × ny nearly equal cells (the side is mesh_size, rounded
 * so that the cells tile the image exactly; the last cells are not left as thin slivers).  Each
 * cell's level is an afw-style MEANCLIP of its usable pixels: the first pass keeps pixels within
 * 3 × 0.7413 IQR of the median, later passes within 3 clipped σ of the clipped mean.  The cell
 * noise is the clipped stdev divided by the factor by which clipping at ±c σ shrinks the σ of a
 * Gaussian (solved for the final clip width; uncorrected it reads ~1.5 % low).  Cells with
 * fewer than a quarter of their pixels usable are "empty" and are filled
 * from the mean of their filled neighbours, ring by ring.  The level mesh is then median
 * filtered 3 × 3 (one bright galaxy or a bleed trail should not push a whole cell up) and
 * interpolated over the cell centres with GSL's bicubic interp2d (bilinear when an axis has
 * fewer than 4 cells); outside the outermost centres the value is held flat, since a spline
 * extrapolates wildly.
 *
 * Evaluation is read-only (GSL interp2d evaluation with NULL accelerators touches no state), so
 * a DiaBackground may be shared by any number of threads.  Rendering a rectangle does not call
 * the spline per pixel: within one patch between two cell centres and for a fixed row the
 * bicubic surface is a cubic polynomial in x, so each row samples the spline at four points per
 * patch, converts them to polynomial coefficients and fills the pixels with Horner's rule.
 * Rows are spread over threads with dia_parallel_for.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "dia-background.h"
#include "dia-error.h"
#include "dia-image.h"
#include "dia-monitor.h"
#include "dia-parallel.h"
#include "dia-stats.h"

#include <glib/gi18n-lib.h>
#include <gsl/gsl_spline2d.h>
#include <math.h>
#include <string.h>

struct _DiaBackground
{
  int width, height;            /* image size, px                                         */
  int nx, ny;                   /* mesh cells per axis                                   */
  double *xc, *yc;              /* cell centres, buffer px (nx, ny values)               */
  double *level;                /* filtered mesh, ny × nx, row-major                     */
  double *grid_x, *grid_y;      /* interpolation nodes (≥ 2 per axis; see bg_build_spline) */
  double *grid_z;               /* node values in GSL's layout                           */
  int gnx, gny;
  gsl_spline2d *spline;
  double median_level;
  double noise;
};

/* Fraction of a cell that must be usable for its statistics to count. */
#define BG_MIN_USABLE_FRACTION 0.25
#define BG_CLIP_SIGMA          3.0
#define BG_CLIP_ITER           5
#define BG_MAX_SAMPLES         2048

/* ------------------------------------------------------------------------------------------ */
/* Cell statistics                                                                             */

/* Variance of a unit Gaussian truncated to [-c, c]. */
static double
bg_truncated_variance (double c)
{
  double phi = exp (-0.5 * c * c) / sqrt (2.0 * G_PI);
  double mass = erf (c / G_SQRT2);
  if (mass <= 0.0)
    return 1.0;
  return MAX (1e-3, 1.0 - 2.0 * c * phi / mass);
}

/* MEANCLIP of v[0..n-1] (finite values, reordered in place).  *sigma is corrected for the
 * truncation of the final clip so that it estimates the σ of the untruncated distribution. */
static void
bg_clipped_stats (float *v, gint64 n, double *mean, double *sigma)
{
  double centre, half, q1, q3, s_clip = 0.0;
  gint64 k;

  *mean = *sigma = NAN;
  if (n < 3)
    return;
  /* The median first: it partitions v, so each quartile is a selection in one half. */
  centre = dia_stats_select (v, n, n / 2);
  q1 = dia_stats_select (v, n / 2, n / 4);
  q3 = dia_stats_select (v + n / 2 + 1, n - n / 2 - 1, (3 * n) / 4 - n / 2 - 1);
  half = BG_CLIP_SIGMA * 0.7413 * (q3 - q1);
  if (!(half > 0.0))
    {
      /* Constant cell (synthetic data, a flat-filled region): level known, noise zero. */
      *mean = centre;
      *sigma = 0.0;
      return;
    }
  for (int it = 0; it < BG_CLIP_ITER; it++)
    {
      double s = 0.0, s2 = 0.0, m, sd;
      k = 0;
      for (gint64 i = 0; i < n; i++)
        if (fabs (v[i] - centre) <= half)
          {
            double d = v[i] - centre;   /* centred sums keep float rounding out of σ */
            s += d;
            s2 += d * d;
            k++;
          }
      if (k < 3)
        break;
      m = s / k;
      sd = sqrt (MAX (0.0, (s2 - s * s / k) / (k - 1)));
      *mean = centre + m;
      s_clip = sd;
      /* Convergence: the kept set cannot change any more once centre and width settle. */
      if (fabs (m) < 1e-4 * sd && fabs (half - BG_CLIP_SIGMA * sd) < 1e-4 * sd)
        {
          centre = *mean;
          break;
        }
      centre = *mean;
      half = BG_CLIP_SIGMA * sd;
      if (!(half > 0.0))
        break;
    }
  if (!isfinite (*mean))
    {
      *mean = centre;
      *sigma = 0.0;
      return;
    }
  /* s_clip² = σ² g(half/σ) for a Gaussian truncated at ±half: solve for σ by fixed point
   * (g varies slowly near c = 3, a few steps converge). */
  {
    double sig = s_clip;
    for (int it = 0; it < 6 && sig > 0.0; it++)
      sig = s_clip / sqrt (bg_truncated_variance (half / sig));
    *sigma = sig;
  }
}

typedef struct
{
  const DiaImage *image;
  DiaMask exclude;
  int nx, ny;
  const int *xb, *yb;           /* cell boundaries, nx + 1 and ny + 1 values            */
  double *level, *sigma;        /* NAN for empty cells                                   */
  float **scratch;              /* one buffer per thread, max cell area                  */
  DiaMonitor *monitor;
} BgCellJob;

static void
bg_cell_body (int first, int last, int thread_index, gpointer data)
{
  BgCellJob *job = data;
  const DiaImage *im = job->image;
  float *buf = job->scratch[thread_index];

  for (int c = first; c < last; c++)
    {
      int cx = c % job->nx, cy = c / job->nx;
      int x0 = job->xb[cx], x1 = job->xb[cx + 1];
      int y0 = job->yb[cy], y1 = job->yb[cy + 1];
      gint64 n = 0, area = (gint64) (x1 - x0) * (y1 - y0);
      /* Cells above BG_MAX_SAMPLES pixels are read on a regular sub-grid: ~2000 samples pin
       * the level to 2.3 % of σ (1.6 % with 4096, at twice the cost), far below what the
       * 3 × 3 filter and interpolation resolve, and a 128-px cell (every third pixel of every
       * third row) then costs a ninth of a full read. */
      int step = area > BG_MAX_SAMPLES ? (int) ceil (sqrt ((double) area / BG_MAX_SAMPLES)) : 1;
      gint64 n_grid = (gint64) ((x1 - x0 + step - 1) / step) * ((y1 - y0 + step - 1) / step);

      for (int y = y0; y < y1; y += step)
        {
          const float *p = im->pix + dia_image_index (im, 0, y);
          const DiaMask *m = im->mask + dia_image_index (im, 0, y);
          for (int x = x0; x < x1; x += step)
            if ((m[x] & job->exclude) == 0 && isfinite (p[x]))
              buf[n++] = p[x];
        }
      if (n < 3 || n < BG_MIN_USABLE_FRACTION * n_grid)
        {
          job->level[c] = job->sigma[c] = NAN;
          continue;
        }
      bg_clipped_stats (buf, n, &job->level[c], &job->sigma[c]);
    }
  dia_monitor_stage (job->monitor, "background", (double) last / (job->nx * job->ny));
}

/* ------------------------------------------------------------------------------------------ */
/* Mesh post-processing                                                                        */

/* Fills NAN cells from the mean of their finite 8-neighbours, repeating until none is left.
 * Returns FALSE when no cell at all is finite. */
static gboolean
bg_fill_empty (double *v, int nx, int ny)
{
  int n = nx * ny, missing = 0;
  double *next;

  for (int i = 0; i < n; i++)
    missing += !isfinite (v[i]);
  if (missing == n)
    return FALSE;
  next = g_new (double, (gsize) MAX (n, 1));
  while (missing > 0)
    {
      memcpy (next, v, n * sizeof (double));
      for (int j = 0; j < ny; j++)
        for (int i = 0; i < nx; i++)
          {
            double s = 0.0;
            int k = 0;
            if (isfinite (v[j * nx + i]))
              continue;
            for (int dj = -1; dj <= 1; dj++)
              for (int di = -1; di <= 1; di++)
                {
                  int ii = i + di, jj = j + dj;
                  if (ii < 0 || jj < 0 || ii >= nx || jj >= ny || !isfinite (v[jj * nx + ii]))
                    continue;
                  s += v[jj * nx + ii];
                  k++;
                }
            if (k > 0)
              {
                next[j * nx + i] = s / k;
                missing--;
              }
          }
      memcpy (v, next, n * sizeof (double));
    }
  g_free (next);
  return TRUE;
}

static int
bg_cmp_double (gconstpointer a, gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

static double
bg_median_of (double *v, int n)
{
  qsort (v, n, sizeof (double), bg_cmp_double);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* 3 × 3 median filter.  The mesh is first padded by one cell on each side with the linear
 * extrapolation 2 v[edge] − v[edge − 1], so that a plain gradient passes the filter unchanged
 * at the border too (clipping the window there would pull edge cells towards the interior by
 * half a cell of gradient). */
static void
bg_median_filter (double *v, int nx, int ny)
{
  int px = nx + 2, py = ny + 2;
  double *pad = g_new (double, (gsize) px * py);

  for (int j = 0; j < ny; j++)
    for (int i = 0; i < nx; i++)
      pad[(j + 1) * px + i + 1] = v[j * nx + i];
  for (int j = 1; j <= ny; j++)
    {
      pad[j * px] = nx > 1 ? 2.0 * pad[j * px + 1] - pad[j * px + 2] : pad[j * px + 1];
      pad[j * px + px - 1] = nx > 1 ? 2.0 * pad[j * px + px - 2] - pad[j * px + px - 3]
                                    : pad[j * px + px - 2];
    }
  for (int i = 0; i < px; i++)
    {
      pad[i] = ny > 1 ? 2.0 * pad[px + i] - pad[2 * px + i] : pad[px + i];
      pad[(py - 1) * px + i] = ny > 1 ? 2.0 * pad[(py - 2) * px + i] - pad[(py - 3) * px + i]
                                      : pad[(py - 2) * px + i];
    }
  for (int j = 0; j < ny; j++)
    for (int i = 0; i < nx; i++)
      {
        double w[9];
        int k = 0;
        for (int jj = j; jj <= j + 2; jj++)
          for (int ii = i; ii <= i + 2; ii++)
            w[k++] = pad[jj * px + ii];
        v[j * nx + i] = bg_median_of (w, k);
      }
  g_free (pad);
}

/* The spline needs ≥ 2 nodes per axis (≥ 4 for bicubic).  An axis with a single cell gets two
 * nodes with equal values at the image borders, which makes the surface constant along it. */
static gboolean
bg_build_spline (DiaBackground *bg, GError **error)
{
  const gsl_interp2d_type *type;
  int status;

  bg->gnx = MAX (bg->nx, 2);
  bg->gny = MAX (bg->ny, 2);
  bg->grid_x = g_new (double, bg->gnx);
  bg->grid_y = g_new (double, bg->gny);
  bg->grid_z = g_new (double, bg->gnx * bg->gny);
  if (bg->nx == 1)
    {
      bg->grid_x[0] = 0.0;
      bg->grid_x[1] = MAX (1.0, bg->width - 1.0);
    }
  else
    memcpy (bg->grid_x, bg->xc, bg->nx * sizeof (double));
  if (bg->ny == 1)
    {
      bg->grid_y[0] = 0.0;
      bg->grid_y[1] = MAX (1.0, bg->height - 1.0);
    }
  else
    memcpy (bg->grid_y, bg->yc, bg->ny * sizeof (double));

  type = (bg->gnx >= 4 && bg->gny >= 4) ? gsl_interp2d_bicubic : gsl_interp2d_bilinear;
  bg->spline = gsl_spline2d_alloc (type, bg->gnx, bg->gny);
  if (bg->spline == NULL)
    {
      g_set_error (error, DIA_ERROR, DIA_ERROR_NO_MEMORY,
                   _("Background: cannot allocate the interpolation mesh"));
      return FALSE;
    }
  for (int j = 0; j < bg->gny; j++)
    for (int i = 0; i < bg->gnx; i++)
      {
        int si = MIN (i, bg->nx - 1), sj = MIN (j, bg->ny - 1);
        gsl_spline2d_set (bg->spline, bg->grid_z, i, j, bg->level[sj * bg->nx + si]);
      }
  status = gsl_spline2d_init (bg->spline, bg->grid_x, bg->grid_y, bg->grid_z, bg->gnx, bg->gny);
  if (status != 0)
    return dia_set_error_from_gsl (error, status, _("background interpolation"));
  return TRUE;
}

/* ------------------------------------------------------------------------------------------ */
/* Public API                                                                                  */

void
dia_background_free (DiaBackground *bg)
{
  if (bg == NULL)
    return;
  if (bg->spline)
    gsl_spline2d_free (bg->spline);
  g_free (bg->xc);
  g_free (bg->yc);
  g_free (bg->level);
  g_free (bg->grid_x);
  g_free (bg->grid_y);
  g_free (bg->grid_z);
  g_free (bg);
}

/* Number of cells along an axis of length len for the requested cell side. */
static int
bg_cells_along (int len, int side)
{
  int n = (int) floor ((double) len / side + 0.5);
  return CLAMP (n, 1, len);
}

DiaBackground *
dia_background_estimate (const DiaImage *image, int mesh_size, DiaMask exclude,
                         DiaMonitor *monitor, GError **error)
{
  g_autoptr (DiaBackground) bg = NULL;
  g_autofree int *xb = NULL;
  g_autofree int *yb = NULL;
  g_autofree double *sigma = NULL;
  g_autofree double *tmp = NULL;
  BgCellJob job;
  int side, max_w = 0, max_h = 0, n_threads, n_cells, n_sig = 0;
  gboolean ok;
  const char *name;

  g_return_val_if_fail (image != NULL, NULL);
  name = image->source ? image->source : _("the image");
  if (image->width < 1 || image->height < 1)
    {
      g_set_error (error, DIA_ERROR, DIA_ERROR_INVALID,
                   _("Background of %s: the image is empty"), name);
      return NULL;
    }
  side = mesh_size;
  if (side <= 0)
    {
      /* 128 px, but at least 4 cells per axis on small images (and never below 8 px). */
      side = MIN (128, MIN (image->width, image->height) / 4);
      side = MAX (side, 8);
    }
  side = MAX (side, 4);   /* fewer than 16 pixels per cell cannot be clipped meaningfully */

  bg = g_new0 (DiaBackground, 1);
  bg->width = image->width;
  bg->height = image->height;
  bg->nx = bg_cells_along (image->width, side);
  bg->ny = bg_cells_along (image->height, side);
  n_cells = bg->nx * bg->ny;
  xb = g_new (int, bg->nx + 1);
  yb = g_new (int, bg->ny + 1);
  bg->xc = g_new (double, bg->nx);
  bg->yc = g_new (double, bg->ny);
  for (int i = 0; i <= bg->nx; i++)
    xb[i] = (int) ((gint64) i * image->width / bg->nx);
  for (int j = 0; j <= bg->ny; j++)
    yb[j] = (int) ((gint64) j * image->height / bg->ny);
  for (int i = 0; i < bg->nx; i++)
    {
      bg->xc[i] = 0.5 * (xb[i] + xb[i + 1] - 1);
      max_w = MAX (max_w, xb[i + 1] - xb[i]);
    }
  for (int j = 0; j < bg->ny; j++)
    {
      bg->yc[j] = 0.5 * (yb[j] + yb[j + 1] - 1);
      max_h = MAX (max_h, yb[j + 1] - yb[j]);
    }

  bg->level = g_new (double, (gsize) MAX (n_cells, 1));
  sigma = g_new (double, (gsize) MAX (n_cells, 1));
  n_threads = MIN (dia_parallel_default_threads (), n_cells);
  job = (BgCellJob){ image, exclude, bg->nx, bg->ny, xb, yb, bg->level, sigma, NULL, monitor };
  job.scratch = g_new0 (float *, n_threads);
  ok = TRUE;
  for (int t = 0; t < n_threads && ok; t++)
    {
      job.scratch[t] = g_try_new (float, (gsize) max_w * max_h);
      ok = job.scratch[t] != NULL;
    }
  if (!ok)
    g_set_error (error, DIA_ERROR, DIA_ERROR_NO_MEMORY,
                 _("Background of %s: not enough memory for mesh cells of %d × %d px"), name,
                 max_w, max_h);
  else
    {
      dia_monitor_stage (monitor, "background", 0.0);
      ok = dia_parallel_for (n_cells, 1, n_threads, bg_cell_body, &job, monitor, error);
    }
  for (int t = 0; t < n_threads; t++)
    g_free (job.scratch[t]);
  g_free (job.scratch);
  if (!ok)
    return NULL;

  /* Noise: median of the finite cell σ values (taken before filling, so empty cells do not
   * vote twice). */
  tmp = g_new (double, (gsize) MAX (n_cells, 1));
  for (int c = 0; c < n_cells; c++)
    if (isfinite (sigma[c]))
      tmp[n_sig++] = sigma[c];
  if (n_sig == 0 || !bg_fill_empty (bg->level, bg->nx, bg->ny))
    {
      g_set_error (error, DIA_ERROR, DIA_ERROR_FAILED,
                   _("Background of %s: no mesh cell has enough usable pixels (every cell is "
                     "at least %.0f %% masked); check the mask planes or the excluded bits"),
                   name, 100.0 * (1.0 - BG_MIN_USABLE_FRACTION));
      return NULL;
    }
  bg->noise = bg_median_of (tmp, n_sig);
  bg_median_filter (bg->level, bg->nx, bg->ny);
  memcpy (tmp, bg->level, n_cells * sizeof (double));
  bg->median_level = bg_median_of (tmp, n_cells);

  if (!bg_build_spline (bg, error))
    return NULL;
  dia_monitor_stage (monitor, "background", 1.0);
  return g_steal_pointer (&bg);
}

static inline double
bg_clamp_x (const DiaBackground *bg, double x)
{
  return CLAMP (x, bg->grid_x[0], bg->grid_x[bg->gnx - 1]);
}

static inline double
bg_clamp_y (const DiaBackground *bg, double y)
{
  return CLAMP (y, bg->grid_y[0], bg->grid_y[bg->gny - 1]);
}

double
dia_background_eval (const DiaBackground *bg, double x, double y)
{
  g_return_val_if_fail (bg != NULL, NAN);
  if (!isfinite (x) || !isfinite (y))
    return bg->median_level;
  return gsl_spline2d_eval (bg->spline, bg_clamp_x (bg, x), bg_clamp_y (bg, y), NULL, NULL);
}

typedef struct
{
  const DiaBackground *bg;
  DiaRect rect;
  float *out;
  size_t out_stride;
} BgRenderJob;

/* One row: flat before the first node, a cubic per patch (exact for the bicubic and bilinear
 * surfaces, see the file comment), flat after the last node. */
static void
bg_render_row (const DiaBackground *bg, int y, int x_first, int width, float *out)
{
  double yy = bg_clamp_y (bg, y);
  const double *gx = bg->grid_x;
  int gnx = bg->gnx, x_end = x_first + width;
  int x = x_first;
  double v_left = gsl_spline2d_eval (bg->spline, gx[0], yy, NULL, NULL);
  double v_right = gsl_spline2d_eval (bg->spline, gx[gnx - 1], yy, NULL, NULL);

  for (; x < x_end && x <= gx[0]; x++)
    out[x - x_first] = (float) v_left;
  for (int p = 0; p < gnx - 1 && x < x_end; p++)
    {
      double a = gx[p], h = gx[p + 1] - a;
      double f0, f1, f2, f3, c0, c1, c2, c3;
      if (x > gx[p + 1])
        continue;
      /* Samples at t = 0, 1/3, 2/3, 1 → cubic coefficients in t (Newton forward form). */
      f0 = gsl_spline2d_eval (bg->spline, a, yy, NULL, NULL);
      f1 = gsl_spline2d_eval (bg->spline, a + h / 3.0, yy, NULL, NULL);
      f2 = gsl_spline2d_eval (bg->spline, a + 2.0 * h / 3.0, yy, NULL, NULL);
      f3 = gsl_spline2d_eval (bg->spline, gx[p + 1], yy, NULL, NULL);
      c0 = f0;
      c1 = (-11.0 * f0 + 18.0 * f1 - 9.0 * f2 + 2.0 * f3) / 2.0;
      c2 = (18.0 * f0 - 45.0 * f1 + 36.0 * f2 - 9.0 * f3) / 2.0;
      c3 = (-9.0 * f0 + 27.0 * f1 - 27.0 * f2 + 9.0 * f3) / 2.0;
      {
        /* Pixels x ≤ gx[p + 1] of this patch; t advances by 1/h per pixel (no division in the
         * loop, so it vectorises). */
        int xe = MIN (x_end, (int) floor (gx[p + 1]) + 1);
        double inv_h = 1.0 / h, t0 = (x - a) * inv_h;
        float *o = out + (x - x_first);
        for (int i = 0; i < xe - x; i++)
          {
            double t = t0 + i * inv_h;
            o[i] = (float) (c0 + t * (c1 + t * (c2 + t * c3)));
          }
        x = MAX (x, xe);
      }
    }
  for (; x < x_end; x++)
    out[x - x_first] = (float) v_right;
}

static void
bg_render_body (int first, int last, int thread_index, gpointer data)
{
  BgRenderJob *job = data;
  for (int r = first; r < last; r++)
    bg_render_row (job->bg, job->rect.y + r, job->rect.x, job->rect.width,
                   job->out + (size_t) r * job->out_stride);
}

void
dia_background_render (const DiaBackground *bg, const DiaRect *rect, float *out,
                       size_t out_stride)
{
  BgRenderJob job;
  g_return_if_fail (bg != NULL && rect != NULL && out != NULL);
  if (dia_rect_is_empty (rect))
    return;
  job = (BgRenderJob){ bg, *rect, out, out_stride };
  /* Small rectangles (UI tiles, stamps) are not worth a thread, and staying serial for them
   * means callers that render tiles from their own dia_parallel_for bodies do not nest loops. */
  if ((gint64) rect->width * rect->height < (1 << 20))
    bg_render_body (0, rect->height, 0, &job);
  else
    dia_parallel_for (rect->height, 16, 0, bg_render_body, &job, NULL, NULL);
}

double
dia_background_median_level (const DiaBackground *bg)
{
  g_return_val_if_fail (bg != NULL, NAN);
  return bg->median_level;
}

double
dia_background_noise (const DiaBackground *bg)
{
  g_return_val_if_fail (bg != NULL, NAN);
  return bg->noise;
}
