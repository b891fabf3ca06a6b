/* dia-detect.c — thresholded detection of positive and negative sources on a difference image.
 *
 * Design.  The S/N image ν = (g ⋆ D) / sqrt(g² ⋆ V) is built with two separable passes (rows,
 * then columns), fused per chunk of rows through a ring of row-pass rows and parallel over
 * chunks with dia_parallel_for; the Gaussian is truncated at
 * 3.5 σ_s (width 2·int(7σ_s + 0.5)/2 + 1, as afw's detection task).  Unusable pixels (BAD,
 * NO_DATA, EDGE — where the matching kernel could not be applied —, non-finite values or
 * variance) and the outside of the image contribute zero to both numerator and denominator,
 * which keeps ν a unit-variance statistic everywhere (a truncated matched filter) instead of
 * masking another border of half the smoothing kernel.  Thresholding, footprints, peaks,
 * growth and merging are in dia-footprints.c.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "dia-detect.h"
#include "dia-detect-private.h"
#include "dia-error.h"
#include "dia-image.h"
#include "dia-monitor.h"
#include "dia-parallel.h"
#include "dia-psf.h"
#include "dia-stats.h"

#include <glib/gi18n-lib.h>
#include <math.h>
#include <string.h>

#define DETECT_EXCLUDE (DIA_MASK_BAD | DIA_MASK_NO_DATA | DIA_MASK_EDGE)

void
dia_detect_params_init (DiaDetectParams *params)
{
  params->threshold = 5.0;
  params->negative = TRUE;
  params->min_area = 1;
  params->grow_sigma = 2.4;
  params->merge = TRUE;
  params->rescale_noise = TRUE;
  params->smooth_sigma = 0.0;
  params->ap_radius = 12.0;
  params->dipole_min_snr = 5.0 * G_SQRT2;
  params->dipole_max_flux_ratio = 0.65;
  params->dipole_max_area = 1200;
}

void
dia_fakes_params_init (DiaFakesParams *params)
{
  params->n_fakes = 500;
  params->seed = 1;
  params->snr_min = 2.0;
  params->snr_max = 100.0;
  params->mag_min = 0.0;
  params->mag_max = 0.0;
  params->template_fraction = 0.0;
  params->allow_masked = FALSE;
  params->border = 20.0;
  params->match_radius = 2.0;
  params->add_noise = TRUE;
}

double
dia_psf_determinant_radius (const DiaPsf *psf, double x, double y)
{
  double ixx, iyy, ixy, det;
  dia_psf_moments (psf, x, y, &ixx, &iyy, &ixy);
  det = ixx * iyy - ixy * ixy;
  return det > 0 ? pow (det, 0.25) : NAN;
}

double
dia_detect_expected_peak_density (double nu, double sigma_s)
{
  double lambda2 = 1.0 / (2.0 * sigma_s * sigma_s);
  double rho = lambda2 * nu * exp (-0.5 * nu * nu) / pow (2.0 * G_PI, 1.5);
  double mean_area = 2.0 * G_PI / (nu * nu * lambda2);
  return rho * mean_area / (1.0 + mean_area);
}

double
dia_detect_filter_efficiency (const DiaPsf *psf, double x, double y, double sigma_s)
{
  int size = MAX (dia_psf_stamp_size (psf), 2 * (int) ceil (4 * sigma_s) + 1) | 1;
  int h = size / 2;
  g_autofree float *p = g_new (float, (size_t) size * size);
  double spg = 0, spp = 0, sgg = 0;

  dia_psf_render (psf, x, y, 0, 0, p, size);
  for (int v = -h; v <= h; v++)
    for (int u = -h; u <= h; u++)
      {
        double g = exp (-0.5 * (u * u + v * v) / (sigma_s * sigma_s));
        double pp = p[(v + h) * size + u + h];
        spg += pp * g;
        spp += pp * pp;
        sgg += g * g;
      }
  return spp > 0 && sgg > 0 ? spg / sqrt (spp * sgg) : NAN;
}

/* ---- smoothing ---------------------------------------------------------------------------- */

typedef struct
{
  const DiaImage *image;
  int w, h;
  int half;                     /* kernel half width                                  */
  const float *g, *g2;          /* 2·half + 1 taps                                    */
  float **ring;                 /* per thread: 2 × (2·half + 1) row-pass rows, 2 × (w + 2·half)
                                 * padded input rows and 2 × w column sums              */
  float *nu;                    /* S/N, w × h, compact                                */
  gboolean smooth;
  gint64 *n_usable;             /* per row                                            */
} SmoothJob;

static inline gboolean
pixel_usable (const DiaImage *im, size_t i)
{
  float p = im->pix[i], v = im->var[i];
  return !(im->mask[i] & DETECT_EXCLUDE) && isfinite (p) && isfinite (v) && v >= 0;
}

/* a += ga · x and b += gb · y over n floats.  The restrict qualifiers (the rows never alias)
 * let the compiler vectorise this, which is where detection spends its time. */
static inline void
row_axpy2 (float *restrict a, float *restrict b, const float *restrict x,
           const float *restrict y, float ga, float gb, int n)
{
  for (int i = 0; i < n; i++)
    {
      a[i] += ga * x[i];
      b[i] += gb * y[i];
    }
}

/* Weighted sums over taps, blocked so that DETECT_BLOCK outputs stay in vector registers
 * across all taps instead of being loaded and stored once per tap: a[x] = Σ_k ga[k] · rx[k][x]
 * (likewise b with gb, ry), k in increasing order from 0, as a sequence of row_axpy2 calls
 * starting from zero would compute it (same operations, same order, same floats). */
#define DETECT_BLOCK 16

static void
taps_sum2 (float *restrict a, float *restrict b, const float *const *rx, const float *const *ry,
           const float *ga, const float *gb, int n_taps, int n)
{
  int x0 = 0;
  for (; x0 + DETECT_BLOCK <= n; x0 += DETECT_BLOCK)
    {
      float sa[DETECT_BLOCK] = { 0 }, sb[DETECT_BLOCK] = { 0 };
      for (int k = 0; k < n_taps; k++)
        {
          const float *restrict px = rx[k] + x0, *restrict py = ry[k] + x0;
          float gak = ga[k], gbk = gb[k];
          for (int j = 0; j < DETECT_BLOCK; j++)
            {
              sa[j] += gak * px[j];
              sb[j] += gbk * py[j];
            }
        }
      memcpy (a + x0, sa, sizeof sa);
      memcpy (b + x0, sb, sizeof sb);
    }
  for (int x = x0; x < n; x++)
    {
      float sa = 0.0f, sb = 0.0f;
      for (int k = 0; k < n_taps; k++)
        {
          sa += ga[k] * rx[k][x];
          sb += gb[k] * ry[k][x];
        }
      a[x] = sa;
      b[x] = sb;
    }
}

/* Row pass of image row y into oi/ov (w floats each); pa/pv are scratch rows of w + 2·half
 * floats whose padding is zero.  Returns the number of usable pixels of the row. */
static gint64
smooth_row (const SmoothJob *job, int y, float *pa, float *pv, float *oi, float *ov)
{
  const DiaImage *im = job->image;
  int w = job->w, hw = job->half, n = 2 * hw + 1;
  gint64 nu = 0;

  for (int x = 0; x < w; x++)
    {
      size_t i = dia_image_index (im, x, y);
      gboolean ok = pixel_usable (im, i);
      pa[x + hw] = ok ? im->pix[i] : 0.0f;
      pv[x + hw] = ok ? im->var[i] : 0.0f;
      nu += ok;
    }
  {
    const float *rx[n], *ry[n];
    for (int k = 0; k < n; k++)
      {
        rx[k] = pa + k;
        ry[k] = pv + k;
      }
    taps_sum2 (oi, ov, rx, ry, job->g, job->g2, n, w);
  }
  return nu;
}

/* out = si / √sv where sv > 0, else 0.  sv is never negative (a sum of g² · V with V ≥ 0), so
 * the square root cannot set errno; telling the compiler so lets it vectorise the loop (the
 * packed square root and division round exactly like the scalar ones). */
__attribute__ ((optimize ("no-math-errno"))) static void
smooth_ratio (float *restrict out, const float *restrict si, const float *restrict sv, int w)
{
  for (int x = 0; x < w; x++)
    out[x] = sv[x] > 0 ? si[x] / sqrtf (sv[x]) : 0.0f;
}

/* Both passes for output rows [first, last): row-pass rows live in a per-thread ring of
 * 2·half + 1 rows (row yy in slot yy mod (2·half + 1)), filled just ahead of the column pass,
 * so no full-frame intermediate planes are written and read back (at 4096² those were 128 MB
 * of page faults and memory traffic, more than the arithmetic).  Halo rows are recomputed by
 * the neighbouring chunk; the per-row arithmetic and the column summation order are those of
 * two separate passes, so ν is bit-identical to them and independent of the chunking and of
 * the number of threads. */
static void
smooth_band (int first, int last, int thread_index, gpointer data)
{
  SmoothJob *job = data;
  int w = job->w, hh = job->h, hw = job->half, n = 2 * hw + 1;
  float *ri = job->ring[thread_index], *rv = ri + (size_t) n * w;
  float *pa = rv + (size_t) n * w, *pv = pa + w + 2 * hw;
  float *si = pv + w + 2 * hw, *sv = si + w;
  int next = MAX (0, first - hw);

  memset (pa, 0, sizeof (float) * 2 * ((size_t) w + 2 * hw));
  for (int y = first; y < last; y++)
    {
      float *out = job->nu + (size_t) y * w;
      for (int need = MIN (hh - 1, y + hw); next <= need; next++)
        {
          size_t slot = (size_t) (next % n) * w;
          gint64 nu = smooth_row (job, next, pa, pv, ri + slot, rv + slot);
          if (next >= first && next < last)
            job->n_usable[next] = nu;
        }
      {
        int k0 = MAX (-hw, -y), k1 = MIN (hw, hh - 1 - y);
        const float *rx[n], *ry[n];
        for (int k = k0; k <= k1; k++)
          {
            size_t slot = (size_t) ((y + k) % n) * w;
            rx[k - k0] = ri + slot;
            ry[k - k0] = rv + slot;
          }
        taps_sum2 (si, sv, rx, ry, job->g + k0 + hw, job->g2 + k0 + hw, k1 - k0 + 1, w);
      }
      smooth_ratio (out, si, sv, w);
    }
}

static void
score_rows (int first, int last, int thread_index, gpointer data)
{
  SmoothJob *job = data;
  const DiaImage *im = job->image;
  (void) thread_index;
  for (int y = first; y < last; y++)
    {
      gint64 nu = 0;
      for (int x = 0; x < job->w; x++)
        {
          size_t i = dia_image_index (im, x, y);
          float v = im->var[i], p = im->pix[i], o = 0.0f;
          if (!(im->mask[i] & DETECT_EXCLUDE) && isfinite (p))
            {
              o = (isfinite (v) && v > 0) ? p / sqrtf (v) : p;
              nu++;
            }
          job->nu[(size_t) y * job->w + x] = o;
        }
      job->n_usable[y] = nu;
    }
}

static DiaCatalog *
catalog_new (const DiaImage *image, const DiaDetectParams *params)
{
  DiaCatalog *cat = g_new0 (DiaCatalog, 1);
  cat->ref_count = 1;
  cat->width = image->width;
  cat->height = image->height;
  cat->x0 = image->x0;
  cat->y0 = image->y0;
  cat->sources = g_array_new (FALSE, TRUE, sizeof (DiaSource));
  cat->spans = g_array_new (FALSE, FALSE, sizeof (DiaSpan));
  cat->peaks = g_array_new (FALSE, FALSE, sizeof (DiaPeak));
  cat->params = *params;
  cat->psf_fwhm = NAN;
  cat->sn_scale = 1.0;
  return cat;
}

DiaCatalog *
dia_catalog_dup (const DiaCatalog *catalog)
{
  DiaCatalog *copy = g_new (DiaCatalog, 1);

  *copy = *catalog;
  copy->ref_count = 1;
  copy->sources = g_array_copy (catalog->sources);
  copy->spans = g_array_copy (catalog->spans);
  copy->peaks = g_array_copy (catalog->peaks);
  copy->sn_plane = catalog->sn_plane ? g_bytes_ref (catalog->sn_plane) : NULL;
  copy->sn_image = catalog->sn_image ? dia_image_ref (catalog->sn_image) : NULL;
  return copy;
}

DiaCatalog *
dia_catalog_ref (DiaCatalog *catalog)
{
  g_atomic_int_inc (&catalog->ref_count);
  return catalog;
}

void
dia_catalog_unref (DiaCatalog *catalog)
{
  if (catalog == NULL || !g_atomic_int_dec_and_test (&catalog->ref_count))
    return;
  g_array_unref (catalog->sources);
  g_array_unref (catalog->spans);
  g_array_unref (catalog->peaks);
  g_clear_pointer (&catalog->sn_plane, g_bytes_unref);
  g_clear_pointer (&catalog->sn_image, dia_image_unref);
  g_free (catalog);
}

static void
detect_free_plane (gpointer nu)
{
  dia_aligned_free (nu);
}

/* previous: a catalogue whose kept ν plane may be reused (or NULL); keep: keep this one's. */
static DiaCatalog *
detect_common (const DiaImage *image, double sigma_s, gboolean smooth,
               const DiaDetectParams *params, const DiaCatalog *previous, gboolean keep,
               int n_threads, DiaMonitor *monitor, GError **error)
{
  int w = image->width, h = image->height;
  size_t n = (size_t) w * h;
  SmoothJob job = { 0 };
  g_autoptr (DiaCatalog) cat = NULL;
  g_autofree float *g = NULL;
  g_autofree float *g2 = NULL;
  g_autofree gint64 *n_usable = NULL;
  float *nu = NULL;
  gint64 t0 = g_get_monotonic_time ();
  gboolean ok;

  if (!(params->threshold > 0) || !(sigma_s > 0) || sigma_s > 100)
    {
      g_set_error (error, DIA_ERROR, DIA_ERROR_INVALID,
                   _("Detection: invalid threshold (%g σ) or smoothing width (%g px); give a "
                     "positive threshold and a PSF or a smoothing σ below 100 px"),
                   params->threshold, sigma_s);
      return NULL;
    }
  cat = catalog_new (image, params);
  cat->on_score = !smooth;
  cat->smooth_sigma = smooth ? sigma_s : 0.0;
  if (previous != NULL && previous->sn_plane != NULL && previous->sn_image == image
      && previous->on_score == !smooth && previous->smooth_sigma == cat->smooth_sigma
      && previous->params.rescale_noise == params->rescale_noise)
    {
      /* Same image, same ν: threshold and footprints only. */
      dia_monitor_stage (monitor, "detect", 0.0);
      cat->n_pixels = previous->n_pixels;
      cat->sn_scale = previous->sn_scale;
      cat->sn_offset = previous->sn_offset;
      if (!_dia_detect_build_footprints (cat, g_bytes_get_data (previous->sn_plane, NULL),
                             params->grow_sigma * sigma_s, n_threads, monitor, error))
        return NULL;
      cat->sn_plane = g_bytes_ref (previous->sn_plane);
      cat->sn_image = dia_image_ref ((DiaImage *) image);
      cat->detect_ms = (g_get_monotonic_time () - t0) / 1000.0;
      dia_monitor_stage (monitor, "detect", 1.0);
      return g_steal_pointer (&cat);
    }
  nu = dia_aligned_alloc0 (n * sizeof (float));
  n_usable = g_try_new0 (gint64, h);
  if (!nu || !n_usable)
    {
      dia_aligned_free (nu);
      g_set_error (error, DIA_ERROR, DIA_ERROR_NO_MEMORY,
                   _("Detection: not enough memory for the S/N image of %d×%d px"), w, h);
      return NULL;
    }
  job.image = image;
  job.w = w;
  job.h = h;
  job.nu = nu;
  job.n_usable = n_usable;
  dia_monitor_stage (monitor, "detect", 0.0);
  if (smooth)
    {
      int width = 2 * ((int) (7 * sigma_s + 0.5) / 2) + 1;
      double sum = 0;
      job.half = width / 2;
      g = g_new (float, width);
      g2 = g_new (float, width);
      for (int k = 0; k < width; k++)
        {
          double u = k - job.half;
          sum += exp (-0.5 * u * u / (sigma_s * sigma_s));
        }
      for (int k = 0; k < width; k++)
        {
          double u = k - job.half;
          g[k] = (float) (exp (-0.5 * u * u / (sigma_s * sigma_s)) / sum);
          g2[k] = g[k] * g[k];
        }
      job.g = g;
      job.g2 = g2;
      /* Chunks of at least 64 rows and 8 half-widths keep recomputed halo rows ≤ 25 %. */
      {
        int nt = MIN (n_threads > 0 ? n_threads : dia_parallel_default_threads (), 256);
        int grain = MAX (64, 8 * job.half);
        gsize ring_floats = (gsize) 2 * width * w + 2 * ((gsize) w + 2 * job.half) + 2 * (gsize) w;
        ok = TRUE;
        job.ring = g_new0 (float *, nt);
        for (int t = 0; t < nt && ok; t++)
          ok = (job.ring[t] = g_try_new (float, ring_floats)) != NULL;
        if (!ok)
          g_set_error (error, DIA_ERROR, DIA_ERROR_NO_MEMORY,
                       _("Detection: not enough memory to smooth a %d×%d px image"), w, h);
        else
          ok = dia_parallel_for (h, grain, nt, smooth_band, &job, monitor, error);
        for (int t = 0; t < nt; t++)
          g_free (job.ring[t]);
        g_free (job.ring);
      }
      if (!ok)
        {
          dia_aligned_free (nu);
          return NULL;
        }
    }
  else
    ok = dia_parallel_for (h, 16, n_threads, score_rows, &job, monitor, error);
  if (!ok)
    {
      dia_aligned_free (nu);
      return NULL;
    }
  for (int y = 0; y < h; y++)
    cat->n_pixels += n_usable[y];

  /* Noise rescaling: median and robust σ of ν on a regular sub-grid of at most ~2^20
   * samples; the median removes a residual constant background of the difference. */
  if (params->rescale_noise && n > 1000)
    {
      int step = MAX (1, (int) sqrt ((double) n / (1 << 20)));
      GArray *smp = g_array_new (FALSE, FALSE, sizeof (float));
      double median = NAN, robust_sigma = NAN;
      for (int y = 0; y < h; y += step)
        for (int x = 0; x < w; x += step)
          {
            size_t i = dia_image_index (image, x, y);
            if (pixel_usable (image, i) && nu[(size_t) y * w + x] != 0.0f)
              g_array_append_val (smp, nu[(size_t) y * w + x]);
          }
      /* Only the median and 1.4826 × MAD (the values dia_stats_compute() would report):
       * its mean, extrema and clipped moments cost more than the smoothing itself. */
      if (smp->len > 500)
        {
          float *v = (float *) smp->data, *scratch = g_try_new (float, smp->len);
          if (scratch != NULL)
            {
              median = dia_stats_median (v, smp->len, scratch);
              if (isfinite (median))
                {
                  for (guint i = 0; i < smp->len; i++)
                    v[i] = fabsf (v[i] - (float) median);
                  robust_sigma = 1.4826 * dia_stats_median (v, smp->len, scratch);
                }
              g_free (scratch);
            }
        }
      if (robust_sigma > 0.2 && robust_sigma < 20 && isfinite (median))
        {
          cat->sn_scale = robust_sigma;
          cat->sn_offset = median;
        }
      g_array_unref (smp);
      if (cat->sn_scale != 1.0 || cat->sn_offset != 0.0)
        {
          float inv = (float) (1.0 / cat->sn_scale), off = (float) cat->sn_offset;
          for (size_t i = 0; i < n; i++)
            nu[i] = (nu[i] - off) * inv;
        }
    }
  ok = _dia_detect_build_footprints (cat, nu, params->grow_sigma * sigma_s, n_threads, monitor, error);
  if (ok && keep)
    {
      cat->sn_plane = g_bytes_new_with_free_func (nu, n * sizeof (float), detect_free_plane, nu);
      cat->sn_image = dia_image_ref ((DiaImage *) image);
    }
  else
    dia_aligned_free (nu);
  if (!ok)
    return NULL;
  cat->detect_ms = (g_get_monotonic_time () - t0) / 1000.0;
  dia_monitor_stage (monitor, "detect", 1.0);
  return g_steal_pointer (&cat);
}

/* σ_s of a difference (smooth) or score image detection; NAN with an error. */
static double
detect_sigma (const DiaImage *image, const DiaPsf *psf, gboolean score,
              const DiaDetectParams *params, GError **error)
{
  double sigma_s = params->smooth_sigma;
  if (score)
    {
      /* ν is already a matched-filter output; σ only sets the growth radius. */
      sigma_s = psf ? dia_psf_determinant_radius (psf, image->width / 2.0, image->height / 2.0)
                    : 1.5;
      return sigma_s > 0 ? sigma_s : 1.5;
    }
  if (!(sigma_s > 0))
    {
      if (psf == NULL)
        {
          g_set_error (error, DIA_ERROR, DIA_ERROR_INVALID,
                       _("Detection needs the difference image's PSF or a smoothing width; "
                         "give a PSF FWHM"));
          return NAN;
        }
      sigma_s = dia_psf_determinant_radius (psf, image->width / 2.0, image->height / 2.0);
    }
  return sigma_s;
}

DiaCatalog *
dia_detect (const DiaImage *image, const DiaPsf *psf, const DiaDetectParams *params,
            int n_threads, DiaMonitor *monitor, GError **error)
{
  double sigma_s = detect_sigma (image, psf, FALSE, params, error);
  if (isnan (sigma_s))
    return NULL;
  return detect_common (image, sigma_s, TRUE, params, NULL, FALSE, n_threads, monitor, error);
}

DiaCatalog *
dia_detect_score (const DiaImage *score, const DiaPsf *psf, const DiaDetectParams *params,
                  int n_threads, DiaMonitor *monitor, GError **error)
{
  double sigma = detect_sigma (score, psf, TRUE, params, error);
  return detect_common (score, sigma, FALSE, params, NULL, FALSE, n_threads, monitor, error);
}

DiaCatalog *
dia_detect_again (const DiaCatalog *previous, const DiaImage *image, const DiaPsf *psf,
                  gboolean score, const DiaDetectParams *params, int n_threads,
                  DiaMonitor *monitor, GError **error)
{
  double sigma_s = detect_sigma (image, psf, score, params, error);
  if (isnan (sigma_s))
    return NULL;
  return detect_common (image, sigma_s, !score, params, previous, TRUE, n_threads, monitor,
                        error);
}
