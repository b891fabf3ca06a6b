/* dia-stars.c — star finding: local maxima of the smoothed image, measured with adaptive
 * moments and aperture photometry, flagged and de-duplicated.
 *
 * Bands of rows are processed in parallel: pixel minus background (each row of
 * the background rendered as it is needed; unusable pixels set to sky), a separable Gaussian of
 * σ = 1 px, and local maxima whose smoothed value exceeds threshold × noise × √Σw² (the noise of
 * the smoothed image for white noise).  Each maximum is measured on the unsmoothed image, minus
 * the background at the maximum, with adaptive moments (an elliptical Gaussian weight iterated
 * until it matches the object, which gives a near-optimal centroid and the object's
 * Gaussian-equivalent covariance; the 200 most significant maxima first, so that the others
 * can start from the typical stellar size), then with an aperture of radius 2 × FWHM (FWHM
 * from the median moments of the bright stars) and a local background from the median of an
 * annulus.  Duplicates (two maxima whose centroids converge together) are merged, and the
 * flags of dia-psf.h are set.  The extended/cosmic tests compare the moment trace with the
 * median stellar trace, with an allowance for the noise of faint moments (≈ 2/SNR relative)
 * so that faint stars are not called galaxies.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "dia-psf.h"
#include "dia-background.h"
#include "dia-error.h"
#include "dia-image.h"
#include "dia-monitor.h"
#include "dia-parallel.h"
#include "dia-psf-private.h"
#include "dia-stats.h"

#include <float.h>
#include <glib/gi18n-lib.h>
#include <math.h>
#include <string.h>

#define FIND_RADIUS  3          /* smoothing kernel half-width (σ = 1 px)                  */
#define FIND_BAND    64         /* rows per parallel work item                             */
#define FIND_BG_STEP 8          /* rows between rendered background rows                   */

typedef struct
{
  int x, y;
  float nu;                     /* smoothed value / smoothed noise                         */
} FindPeak;

typedef struct
{
  const DiaImage *image;
  const DiaBackground *bg;
  float kernel[2 * FIND_RADIUS + 1];
  float threshold;              /* on the smoothed image                                   */
  float nu_scale;               /* 1 / smoothed noise                                      */
  int n_bands;
  GArray **band_peaks;          /* FindPeak per band                                        */
  float **work;                 /* per thread: smoothing rows (see find_band_body)        */
} FindJob;

#define FIND_SKIP (DIA_MASK_NO_DATA | DIA_MASK_BAD)

/* TRUE when the eight values v[0..7] are all ≤ t (written so that it vectorises). */
static inline gboolean
find_all_below (const float *v, float t)
{
  int above = 0;
  for (int i = 0; i < 8; i++)
    above |= v[i] > t;
  return above == 0;
}

static void
find_band_body (int first, int last, int thread_index, gpointer data)
{
  FindJob *job = data;
  const DiaImage *im = job->image;
  int w = im->width, h = im->height, R = FIND_RADIUS;
  float *hs = job->work[thread_index];
  float *vs = hs + (size_t) (FIND_BAND + 2 * R + 2) * w;
  float *row = vs + (size_t) (FIND_BAND + 2) * w;     /* w + 2R: one padded input row */
  float *bp = row + w + 2 * R;                          /* w: background of one row    */
  float *bg_rows[2] = { bp + w, bp + 2 * w };           /* rendered rows at y_lo, y_hi */
  int bg_y[2] = { -1, -1 };

  for (int b = first; b < last; b++)
    {
      int y0 = b * FIND_BAND, y1 = MIN (h, y0 + FIND_BAND);
      int hy0 = MAX (0, y0 - 1 - R), hy1 = MIN (h, y1 + 1 + R);  /* rows smoothed in x */
      int vy0 = MAX (0, y0 - 1), vy1 = MIN (h, y1 + 1);          /* rows smoothed in y */
      GArray *peaks = job->band_peaks[b];

      /* Horizontal pass on background-subtracted rows; unusable pixels count as sky. */
      for (int y = hy0; y < hy1; y++)
        {
          const float *p = im->pix + dia_image_index (im, 0, y);
          const DiaMask *mk = im->mask + dia_image_index (im, 0, y);
          float *out = hs + (size_t) (y - hy0) * w;
          /* The background rendered every FIND_BG_STEP rows and interpolated linearly in
           * between: over a few rows of a mesh of 128 px the interpolation error is ~10⁻³ of
           * the sky noise, and the spline rows were a third of this loop's cost.  One row at
           * a time keeps dia_background_render on its serial path (no nested loop). */
          {
            int lo = y / FIND_BG_STEP * FIND_BG_STEP, hi = MIN (lo + FIND_BG_STEP, h - 1);
            float t = hi > lo ? (float) (y - lo) / (hi - lo) : 0.0f;
            for (int k = 0; k < 2; k++)
              {
                int want = k == 0 ? lo : hi;
                if (bg_y[k] == want)
                  continue;
                if (k == 0 && bg_y[1] == want)
                  {
                    /* Moving down one step: the old high row becomes the low one. */
                    float *swap = bg_rows[0];
                    bg_rows[0] = bg_rows[1];
                    bg_rows[1] = swap;
                    bg_y[0] = want;
                    bg_y[1] = -1;
                    continue;
                  }
                DiaRect one_row = { 0, want, w, 1 };
                dia_background_render (job->bg, &one_row, bg_rows[k], w);
                bg_y[k] = want;
              }
            for (int x = 0; x < w; x++)
              bp[x] = bg_rows[0][x] + t * (bg_rows[1][x] - bg_rows[0][x]);
          }
          for (int i = 0; i < R; i++)
            row[i] = row[w + R + i] = 0.0f;
          /* Branch-free, so that it vectorises: non-finite values are told by their
           * exponent bits (a float comparison would keep GCC from if-converting, as it may
           * trap on NaN). */
          for (int x = 0; x < w; x++)
            {
              float pv = p[x], v = pv - bp[x];
              guint32 bits, vb;
              memcpy (&bits, &pv, sizeof bits);
              memcpy (&vb, &v, sizeof vb);
              vb &= 0u - (guint32) (((mk[x] & FIND_SKIP) == 0)
                                   & ((bits & 0x7f800000u) != 0x7f800000u));
              memcpy (row + x + R, &vb, sizeof vb);
            }
          /* Tap-outer loops: each inner loop is a plain saxpy that the compiler vectorises. */
          {
            float c = job->kernel[0];
            for (int x = 0; x < w; x++)
              out[x] = c * row[x];
          }
          for (int k = 1; k <= 2 * R; k++)
            {
              float c = job->kernel[k];
              const float *in = row + k;
              for (int x = 0; x < w; x++)
                out[x] += c * in[x];
            }
        }
      /* Vertical pass (rows outside the image count as sky). */
      for (int y = vy0; y < vy1; y++)
        {
          float *out = vs + (size_t) (y - vy0) * w;
          memset (out, 0, w * sizeof (float));
          for (int k = -R; k <= R; k++)
            {
              const float *in;
              float c = job->kernel[k + R];
              if (y + k < 0 || y + k >= h)
                continue;
              in = hs + (size_t) (y + k - hy0) * w;
              for (int x = 0; x < w; x++)
                out[x] += c * in[x];
            }
        }
      /* Local maxima: strict against neighbours earlier in raster order, non-strict against
       * later ones, so a flat-topped (saturated) peak yields one maximum, not a cluster. */
      for (int y = y0; y < y1; y++)
        {
          const float *sm = vs + (size_t) (y - vy0) * w;
          const float *up = y > 0 ? sm - w : NULL;
          const float *dn = y + 1 < h ? sm + w : NULL;
          const DiaMask *mk = im->mask + dia_image_index (im, 0, y);
          for (int x = 0; x < w; x++)
            {
              float v = sm[x];
              FindPeak pk;
              if (v <= job->threshold)
                {
                  /* Skip runs below the threshold eight at a time (most of every row). */
                  while (x + 8 < w && find_all_below (sm + x + 1, job->threshold))
                    x += 8;
                  continue;
                }
              if ((x > 0 && !(v > sm[x - 1])) || (x + 1 < w && !(v >= sm[x + 1])))
                continue;
              if (up && ((x > 0 && !(v > up[x - 1])) || !(v > up[x])
                         || (x + 1 < w && !(v > up[x + 1]))))
                continue;
              if (dn && ((x > 0 && !(v >= dn[x - 1])) || !(v >= dn[x])
                         || (x + 1 < w && !(v >= dn[x + 1]))))
                continue;
              if (mk[x] & FIND_SKIP)
                continue;
              pk.x = x;
              pk.y = y;
              pk.nu = v * job->nu_scale;
              g_array_append_val (peaks, pk);
            }
        }
    }
}

/* Per-star measurement context shared by the measuring passes. */
typedef struct
{
  const DiaImage *image;
  const DiaBackground *bg;
  PsfPlane plane;               /* pix, mask; offset set per star to the local background  */
  const FindPeak *peaks;
  int n_peaks;
  DiaStar *stars;
  guint8 *am_status;
  double fwhm;                  /* aperture scale, set between the passes                 */
  double sigma0;                /* starting weight σ of the adaptive moments              */
  int first;                    /* index of the first peak of the current pass            */
  double saturation;
} MeasureJob;

static void
measure_moments_body (int first, int last, int thread_index, gpointer data)
{
  MeasureJob *job = data;
  for (int ii = first; ii < last; ii++)
    {
      int i = job->first + ii;
      const FindPeak *pk = &job->peaks[i];
      DiaStar *s = &job->stars[i];
      double m[3], xc, yc;
      PsfPlane plane = job->plane;
      AmStatus st;
      /* The background is smooth on the scale of a star: its value at the peak will do. */
      plane.offset = dia_background_eval (job->bg, pk->x, pk->y);
      st = _dia_psf_adaptive_moments (&plane, pk->x, pk->y, job->sigma0, 20.0, 3.0, 9.0, &xc, &yc, m);
      memset (s, 0, sizeof *s);
      s->x = st == AM_DRIFTED ? pk->x : xc;
      s->y = st == AM_DRIFTED ? pk->y : yc;
      s->ixx = m[0];
      s->iyy = m[1];
      s->ixy = m[2];
      s->snr = pk->nu;          /* provisional, replaced by the aperture S/N */
      job->am_status[i] = st;
    }
}

/* Aperture photometry, peak and the pixel-based flags. */
static void
measure_aperture_body (int first, int last, int thread_index, gpointer data)
{
  MeasureJob *job = data;
  const DiaImage *im = job->image;
  double r_ap = CLAMP (2.0 * job->fwhm, 2.5, 30.0);
  /* Annulus from 3 FWHM (of the moments, ~14 % above a Moffat's FWHM), ≥ 4 px wide: there a
   * β ≈ 3.5 star is down to 2·10⁻⁴ of its peak, so its own wing takes ~0.25 % of its flux
   * away; starting at r_ap + 2 px would be faster but takes ~0.6 %. */
  double r_in = MAX (r_ap + 2.0, 3.0 * job->fwhm), r_out = r_in + MAX (4.0, job->fwhm);
  int R = (int) ceil (r_out) + 1;
  float *ann = g_new (float, (2 * R + 1) * (2 * R + 1));
  DiaMask masked_bits = DIA_MASK_UNUSABLE & ~DIA_MASK_SAT;

  for (int i = first; i < last; i++)
    {
      DiaStar *s = &job->stars[i];
      int ix = (int) floor (s->x + 0.5), iy = (int) floor (s->y + 0.5), n_ann = 0;
      double sum = 0.0, var = 0.0, area = 0.0, var_ann = 0.0, local = 0.0, peak = -G_MAXDOUBLE;
      gboolean sat = FALSE, masked = FALSE;
      double b0 = dia_background_eval (job->bg, s->x, s->y);

      if (s->x < r_ap + 0.5 || s->y < r_ap + 0.5 || s->x > im->width - 1.5 - r_ap
          || s->y > im->height - 1.5 - r_ap)
        s->flags |= DIA_STAR_EDGE;
      for (int y = MAX (0, iy - R); y <= MIN (im->height - 1, iy + R); y++)
        {
          /* Only the columns inside r_out on this row. */
          double ddy = y - s->y, half2 = r_out * r_out - ddy * ddy;
          int hw = half2 > 0 ? (int) ceil (sqrt (half2)) : -1;
          for (int x = MAX (0, ix - hw); x <= MIN (im->width - 1, ix + hw); x++)
          {
            size_t k = dia_image_index (im, x, y);
            double dx = x - s->x, dy = y - s->y, r2 = dx * dx + dy * dy, frac;
            double v = im->pix[k] - b0;
            if (r2 >= r_in * r_in && r2 < r_out * r_out)
              {
                /* A checkerboard half of the annulus (hundreds of pixels) is plenty for a
                 * median and halves the selection cost. */
                if (((x + y) & 1) == 0 && (im->mask[k] & DIA_MASK_UNUSABLE) == 0
                    && isfinite (v))
                  {
                    ann[n_ann++] = (float) v;
                    var_ann += im->var[k];
                  }
                continue;
              }
            if (r2 > (r_ap + 0.75) * (r_ap + 0.75))
              continue;
            if (im->mask[k] & DIA_MASK_SAT
                || (isfinite (job->saturation) && im->pix[k] >= job->saturation))
              sat = TRUE;
            if (im->mask[k] & masked_bits)
              {
                masked = TRUE;
                continue;
              }
            if (!isfinite (v))
              continue;
            /* Fractional coverage of the aperture edge on a 4 × 4 sub-grid. */
            if (r2 < (r_ap - 0.75) * (r_ap - 0.75))
              frac = 1.0;
            else
              {
                int in = 0;
                for (int b = 0; b < 4; b++)
                  for (int a = 0; a < 4; a++)
                    {
                      double ux = dx + (a - 1.5) / 4.0, uy = dy + (b - 1.5) / 4.0;
                      in += ux * ux + uy * uy <= r_ap * r_ap;
                    }
                frac = in / 16.0;
              }
            sum += frac * v;
            area += frac;
            var += frac * frac * (isfinite (im->var[k]) && im->var[k] > 0 ? im->var[k] : 0.0);
            if (abs (x - ix) <= 1 && abs (y - iy) <= 1)
              peak = MAX (peak, v);
          }
        }
      if (n_ann >= 8)
        {
          float *tmp = ann;
          local = dia_stats_select (tmp, n_ann, n_ann / 2);
          /* Variance of a median ≈ (π/2) σ² / n. */
          var += area * area * (G_PI / 2.0) * (var_ann / n_ann) / n_ann;
        }
      s->flux = sum - local * area;
      s->r_aperture = r_ap;
      s->flux_err = sqrt (MAX (var, 0.0));
      s->snr = s->flux_err > 0 ? s->flux / s->flux_err : 0.0;
      s->peak = peak > -G_MAXDOUBLE ? peak - local : 0.0;
      if (sat)
        s->flags |= DIA_STAR_SATURATED;
      if (masked)
        s->flags |= DIA_STAR_MASKED;
    }
  g_free (ann);
}

/* Most significant first; ties in raster order, so the order never depends on the bands'
 * parallel schedule. */
static int
peak_cmp_nu (gconstpointer a, gconstpointer b)
{
  const FindPeak *p = a, *q = b;
  if (p->nu != q->nu)
    return (p->nu < q->nu) - (p->nu > q->nu);
  if (p->y != q->y)
    return (p->y > q->y) - (p->y < q->y);
  return (p->x > q->x) - (p->x < q->x);
}

/* The stellar locus among moment traces t[0..n−1] (reordered): stars share one size while
 * galaxies spread over larger ones, and in a cluster or deep field galaxies may outnumber the
 * stars, so the plain median is not the stellar size.  The locus is the smallest size whose
 * ±12 % neighbourhood in FWHM holds at least 30 % as many detections as the densest one, then
 * refined to the median of its neighbourhood.  Traces below 0.35 px² (FWHM < 1 px: hot pixels
 * that converged) are ignored.  NAN when n is 0. */
static double
psf_stellar_locus (double *t, int n)
{
  int best = 0, start = -1, lo = 0;
  double f_locus;
  g_autofree int *count = NULL;

  qsort (t, n, sizeof (double), _dia_psf_cmp_double);
  while (lo < n && t[lo] < 0.35)
    lo++;
  t += lo;
  n -= lo;
  if (n <= 0)
    return NAN;
  /* FWHM ∝ √trace: a ±12 % FWHM window is a ×(1.12²)² = 1.57 trace window from its start. */
  count = g_new (int, n);
  for (int i = 0, j = 0; i < n; i++)
    {
      j = MAX (j, i);
      while (j < n && t[j] <= t[i] * 1.57)
        j++;
      count[i] = j - i;
      best = MAX (best, count[i]);
    }
  for (int i = 0; i < n && start < 0; i++)
    if (count[i] >= MAX (3, (int) ceil (0.3 * best)))
      start = i;
  if (start < 0)
    start = 0;
  f_locus = sqrt (t[start] * 1.2533);              /* centre of the window, in √trace */
  for (int it = 0; it < 3; it++)
    {
      int a = 0, b;
      while (a < n && sqrt (t[a]) < f_locus / 1.12)
        a++;
      b = a;
      while (b < n && sqrt (t[b]) <= f_locus * 1.12)
        b++;
      if (b <= a)
        break;
      f_locus = sqrt (t[a + (b - a) / 2]);
    }
  return f_locus * f_locus;
}

int
_dia_star_cmp_flux (gconstpointer a, gconstpointer b)
{
  const DiaStar *s = a, *t = b;
  return (s->flux < t->flux) - (s->flux > t->flux);
}

/* Spatial hash of star indices in square cells of side `cell`, for neighbour queries. */
typedef struct
{
  int nx, ny;
  double cell;
  int *head, *next;
} StarGrid;

static void
star_grid_init (StarGrid *g, const DiaStar *stars, int n, const gboolean *alive, int width,
                int height, double cell)
{
  g->cell = MAX (cell, 1.0);
  g->nx = MAX (1, (int) ceil (width / g->cell));
  g->ny = MAX (1, (int) ceil (height / g->cell));
  g->head = g_new (int, (gsize) g->nx * g->ny);
  g->next = g_new (int, MAX (n, 1));
  for (int i = 0; i < g->nx * g->ny; i++)
    g->head[i] = -1;
  for (int i = 0; i < n; i++)
    {
      int cx, cy;
      if (alive && !alive[i])
        continue;
      cx = CLAMP ((int) (stars[i].x / g->cell), 0, g->nx - 1);
      cy = CLAMP ((int) (stars[i].y / g->cell), 0, g->ny - 1);
      g->next[i] = g->head[cy * g->nx + cx];
      g->head[cy * g->nx + cx] = i;
    }
}

static void
star_grid_clear (StarGrid *g)
{
  g_free (g->head);
  g_free (g->next);
}

GArray *
dia_stars_find (const DiaImage *image, const DiaBackground *bg, double threshold_sigma,
                int max_stars, DiaMonitor *monitor, GError **error)
{
  g_autoptr (DiaBackground) own_bg = NULL;
  g_autofree guint8 *am = NULL;
  g_autofree gboolean *alive = NULL;
  g_autofree double *traces = NULL;
  g_autofree double *nu = NULL;
  int n_first, n_meas;
  GArray *result;
  FindJob fj;
  MeasureJob mj;
  GArray *all_peaks;
  double noise, sk2 = 0.0, ksum = 0.0, t_med, fwhm;
  int n_threads, n, n_t = 0;
  gboolean ok = TRUE;

  g_return_val_if_fail (image != NULL, NULL);
  if (!(threshold_sigma > 0.0))
    threshold_sigma = 5.0;
  if (bg == NULL)
    {
      own_bg = dia_background_estimate (image, 0, DIA_MASK_UNUSABLE | DIA_MASK_DETECTED, monitor,
                                        error);
      if (own_bg == NULL)
        return NULL;
      bg = own_bg;
    }
  dia_monitor_stage (monitor, "stars", 0.0);
  noise = dia_background_noise (bg);
  if (!(noise > 0.0))
    /* Noiseless (synthetic) image: any positive signal is significant. */
    noise = 1e-6 * MAX (1.0, fabs (dia_background_median_level (bg)));

  /* Gaussian σ = 1 px; the noise of the smoothed image is noise × Σw² (2-D = (1-D)²). */
  for (int k = -FIND_RADIUS; k <= FIND_RADIUS; k++)
    ksum += fj.kernel[k + FIND_RADIUS] = (float) exp (-0.5 * k * k);
  for (int k = 0; k <= 2 * FIND_RADIUS; k++)
    {
      fj.kernel[k] /= (float) ksum;
      sk2 += (double) fj.kernel[k] * fj.kernel[k];
    }
  fj.image = image;
  fj.bg = bg;
  fj.threshold = (float) (threshold_sigma * noise * sk2);
  fj.nu_scale = (float) (1.0 / (noise * sk2));
  fj.n_bands = (image->height + FIND_BAND - 1) / FIND_BAND;
  fj.band_peaks = g_new (GArray *, fj.n_bands);
  for (int b = 0; b < fj.n_bands; b++)
    fj.band_peaks[b] = g_array_new (FALSE, FALSE, sizeof (FindPeak));
  n_threads = MAX (1, MIN (dia_parallel_default_threads (), fj.n_bands));
  fj.work = g_new0 (float *, n_threads);
  for (int t = 0; t < n_threads && ok; t++)
    {
      fj.work[t] = g_try_new (float, (gsize) (2 * FIND_BAND + 2 * FIND_RADIUS + 8)
                                     * image->width + 2 * FIND_RADIUS);
      ok = fj.work[t] != NULL;
    }
  if (!ok)
    g_set_error (error, DIA_ERROR, DIA_ERROR_NO_MEMORY,
                 _("Star finding: not enough memory for the smoothing buffers"));
  else
    ok = dia_parallel_for (fj.n_bands, 1, n_threads, find_band_body, &fj, monitor, error);
  for (int t = 0; t < n_threads; t++)
    g_free (fj.work[t]);
  g_free (fj.work);
  all_peaks = g_array_new (FALSE, FALSE, sizeof (FindPeak));
  for (int b = 0; b < fj.n_bands; b++)
    {
      g_array_append_vals (all_peaks, fj.band_peaks[b]->data, fj.band_peaks[b]->len);
      g_array_free (fj.band_peaks[b], TRUE);
    }
  g_free (fj.band_peaks);
  if (!ok)
    {
      g_array_free (all_peaks, TRUE);
      return NULL;
    }
  dia_monitor_stage (monitor, "stars", 0.3);

  n = all_peaks->len;
  /* Only the n_meas most significant maxima are measured: with a cap of max_stars, twice as
   * many by significance leave ample room for the flux order to differ (and for merged
   * duplicates).  The fainter maxima still count as neighbours in the crowding test, at their
   * peak pixel, so a star's flags do not depend on the cap. */
  g_array_sort (all_peaks, peak_cmp_nu);
  n_meas = max_stars > 0 ? (int) MIN ((gint64) n, 2 * (gint64) max_stars) : n;
  result = g_array_sized_new (FALSE, TRUE, sizeof (DiaStar), n);
  g_array_set_size (result, n);
  am = g_new0 (guint8, MAX (n, 1));
  mj = (MeasureJob){ image, bg,
                     { image->pix, 0.0, image->mask, DIA_MASK_NO_DATA | DIA_MASK_BAD,
                       image->stride, image->width, image->height },
                     (const FindPeak *) all_peaks->data, n, (DiaStar *) result->data, am,
                     NAN, 1.5, 0, image->meta.saturation };
  /* Moments in two passes: the 200 most significant maxima start from a 1.5 px weight and
   * fix the typical stellar size; every other maximum then starts from that size, which most
   * of them (stars) already match, so they converge in a few passes instead of a dozen. */
  n_first = MIN (n_meas, 200);
  ok = dia_parallel_for (n_first, 8, 0, measure_moments_body, &mj, monitor, error);
  if (ok && n_meas > n_first)
    {
      double t0;
      int k = 0;
      traces = g_new (double, MAX (n_first, 1));
      for (int j = 0; j < n_first; j++)
        if (am[j] == AM_OK)
          {
            const DiaStar *s = &g_array_index (result, DiaStar, j);
            traces[k++] = s->ixx + s->iyy;
          }
      t0 = psf_stellar_locus (traces, k);
      g_clear_pointer (&traces, g_free);
      if (isfinite (t0) && t0 > 0.2)
        mj.sigma0 = CLAMP (sqrt (t0 / 2.0), 0.5, 8.0);
      mj.first = n_first;
      ok = dia_parallel_for (n_meas - n_first, 32, 0, measure_moments_body, &mj, monitor,
                             error);
    }
  /* The unmeasured maxima: neighbours only, at their peak pixel. */
  for (int i = n_meas; i < n; i++)
    {
      DiaStar *s = &g_array_index (result, DiaStar, i);
      s->x = mj.peaks[i].x;
      s->y = mj.peaks[i].y;
    }
  if (!ok)
    {
      g_array_free (all_peaks, TRUE);
      g_array_free (result, TRUE);
      return NULL;
    }
  dia_monitor_stage (monitor, "stars", 0.6);

  /* Stellar size from the significant, converged, unsaturated detections. */
  traces = g_new (double, MAX (n, 1));
  for (int pass = 0; pass < 2 && n_t < 5; pass++)
    {
      n_t = 0;
      for (int i = 0; i < n_meas; i++)
        {
          const DiaStar *s = &g_array_index (result, DiaStar, i);
          const FindPeak *pk = &mj.peaks[i];
          gboolean sat = FALSE;
          if (am[i] != AM_OK || (pass == 0 && pk->nu < 30.0))
            continue;
          if (image->mask[dia_image_index (image, pk->x, pk->y)] & DIA_MASK_SAT
              || (isfinite (mj.saturation)
                  && image->pix[dia_image_index (image, pk->x, pk->y)] >= mj.saturation))
            sat = TRUE;
          if (!sat)
            traces[n_t++] = s->ixx + s->iyy;
        }
    }
  t_med = psf_stellar_locus (traces, n_t);
  fwhm = isfinite (t_med) ? FWHM_PER_SIGMA * sqrt (t_med / 2.0) : 3.0;
  mj.fwhm = CLAMP (fwhm, 1.0, 20.0);
  ok = dia_parallel_for (n_meas, 32, 0, measure_aperture_body, &mj, monitor, error);
  if (!ok)
    {
      g_array_free (all_peaks, TRUE);
      g_array_free (result, TRUE);
      return NULL;
    }
  dia_monitor_stage (monitor, "stars", 0.9);

  /* Shape flags, then duplicates and neighbours.  Brightness comparisons use the smoothed
   * peak significance ν rather than the aperture flux, because the aperture of a faint star
   * next to a bright one is dominated by the bright one's light.  A maximum whose centroid
   * walked off (it sits on a brighter neighbour's wing) stays in the list at its peak pixel,
   * flagged crowded, so that it still marks its neighbour as crowded. */
  alive = g_new (gboolean, MAX (n, 1));
  nu = g_new (double, MAX (n, 1));
  for (int i = 0; i < n; i++)
    {
      DiaStar *s = &g_array_index (result, DiaStar, i);
      double t = s->ixx + s->iyy, slack = 2.0 / MAX (s->snr, 1.0);
      nu[i] = mj.peaks[i].nu;
      alive[i] = i >= n_meas || s->flux > 0.0;
      if (i >= n_meas)
        continue;
      if (am[i] == AM_DRIFTED)
        s->flags |= DIA_STAR_CROWDED;
      else if (am[i] == AM_COLLAPSED || (isfinite (t_med) && am[i] == AM_OK
                                         && t < t_med * MAX (0.1, 0.35 - slack)))
        s->flags |= DIA_STAR_COSMIC;
      else if (am[i] == AM_DIVERGED
               || (isfinite (t_med) && t > t_med * (1.5 + 3.0 * slack)))
        s->flags |= DIA_STAR_EXTENDED;
    }
  g_array_free (all_peaks, TRUE);
  {
    StarGrid g;
    DiaStar *st = (DiaStar *) result->data;
    double merge = 0.5 * mj.fwhm, crowd = 3.0 * mj.fwhm;
    star_grid_init (&g, st, n, alive, image->width, image->height, crowd);
    for (int i = 0; i < n_meas; i++)
      {
        int cx, cy;
        if (!alive[i])
          continue;
        cx = CLAMP ((int) (st[i].x / g.cell), 0, g.nx - 1);
        cy = CLAMP ((int) (st[i].y / g.cell), 0, g.ny - 1);
        for (int jy = MAX (0, cy - 1); jy <= MIN (g.ny - 1, cy + 1); jy++)
          for (int jx = MAX (0, cx - 1); jx <= MIN (g.nx - 1, cx + 1); jx++)
            for (int j = g.head[jy * g.nx + jx]; j >= 0; j = g.next[j])
              {
                double d;
                if (j == i || !alive[j])
                  continue;
                d = hypot (st[i].x - st[j].x, st[i].y - st[j].y);
                if (d < merge && (nu[j] > nu[i] || (nu[j] == nu[i] && j < i)))
                  alive[i] = FALSE;
                else if (d < crowd && nu[j] > 0.1 * nu[i])
                  st[i].flags |= DIA_STAR_CROWDED;
              }
      }
    star_grid_clear (&g);
  }
  {
    int k = 0;
    for (int i = 0; i < n_meas; i++)
      if (alive[i])
        g_array_index (result, DiaStar, k++) = g_array_index (result, DiaStar, i);
    g_array_set_size (result, k);
  }
  g_array_sort (result, _dia_star_cmp_flux);
  if (max_stars > 0 && (int) result->len > max_stars)
    g_array_set_size (result, max_stars);
  dia_monitor_stage (monitor, "stars", 1.0);
  return result;
}
