/* dia-psf.c — star finding, analytic PSF fits with spatial variation, and pixel PSFs.
 *
 * Star finding.  Bands of rows are processed in parallel: pixel minus background (each row of
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
 * PSF estimation.  Usable stars are fitted in a box of radius ~2 FWHM with an elliptical Moffat
 * A (1 + dᵀW d)^−β + B, W = L Lᵀ (Cholesky factor, so W stays positive definite), β = 1 + e^b,
 * with analytic derivatives and GSL's trust-region Levenberg–Marquardt.  The model is integrated
 * over each pixel with 2 × 2 (3 × 3 for narrow PSFs) Gauss–Legendre points, so the fitted
 * parameters describe the PSF before pixelisation, and dia_psf_render() integrates the same way;
 * fitting point samples instead would make a 3 px FWHM read 2.5 % wide.  β is fitted on the 40
 * brightest stars only and then held fixed (as a field) while every star is fitted: with β
 * free, faint stars trade β against α.  A star whose Moffat fit fails is refitted with an
 * elliptical Gaussian.  Each fit is summarised by (FWHM, e1, e2, β) of its Gaussian-equivalent
 * moments M (below); FWHM is 3σ-clipped around a polynomial surface,
 * and the four quantities become polynomials of order ≤ spatial_order in coordinates scaled to
 * [−1, 1] (the order is lowered until there are ≥ 3 stars per coefficient), weighted by S/N²
 * up to S/N 200 so that bright stars, not crowded faint ones, set the surface.
 *
 * Moments convention.  dia_psf_moments() returns the covariance M of the Gaussian whose
 * half-maximum ellipse is the model's: for a Gaussian M is its covariance; for a Moffat with
 * shape matrix S = W⁻¹, M = S (2^{1/β} − 1) / (2 ln 2), so that 2.35482 √M_xx is the Moffat's
 * exact FWHM along x (the analytic relation FWHM = 2α √(2^{1/β} − 1)), and dia_psf_fwhm() =
 * 2.35482 √((Mxx + Myy)/2).  A Moffat's true second moments are dominated by its wings (and
 * infinite for β ≤ 2), which is useless for choosing kernel widths.  For a pixel PSF M is the
 * adaptive-moment covariance of the stamp, which is the same quantity for a Gaussian core.
 *
 * Pixel PSFs (WebbPSF files and the like) are recentred on their adaptive centroid: cropped
 * around the pixel nearest to it to the smallest odd square holding 99.5 % of the flux (plus a
 * margin for shifts), normalised, and the sub-pixel remainder of the centroid is applied by the
 * Keys-cubic interpolation of dia_psf_render(), so the stamp is resampled only once.
 *
 * A DiaPsf is immutable after construction; every query is a pure function of it, so any thread
 * may call them concurrently.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "dia-psf.h"
#include "dia-background.h"
#include "dia-error.h"
#include "dia-image.h"
#include "dia-monitor.h"
#include "dia-parallel.h"
#include "dia-stats.h"

#include <float.h>
#include <glib/gi18n-lib.h>
#include <gsl/gsl_multifit.h>
#include <gsl/gsl_multifit_nlinear.h>
#include <gsl/gsl_vector.h>
#include <gsl/gsl_matrix.h>
#include <gsl/gsl_linalg.h>
#include <math.h>
#include <string.h>

#define FWHM_PER_SIGMA 2.3548200450309493
#define PSF_MAX_ORDER  4
#define PSF_MAX_TERMS  15        /* (4 + 1)(4 + 2) / 2 */
#define PSF_MAX_STAMP  255
#define PSF_BETA_STARS 40        /* brightest stars whose fits set β                      */

typedef enum
{
  PSF_KIND_GAUSSIAN,
  PSF_KIND_MOFFAT,
  PSF_KIND_PIXELS,
} PsfKind;

struct _DiaPsf
{
  gint ref_count;
  PsfKind kind;
  /* Analytic fields: value(x, y) = Σ c[k] u^i v^j, u, v ∈ [−1, 1] over the image. */
  int order, n_terms;
  double width, height;         /* image size the fields are scaled to (1 for constants)   */
  double c_fwhm[PSF_MAX_TERMS], c_e1[PSF_MAX_TERMS], c_e2[PSF_MAX_TERMS];
  double c_beta[PSF_MAX_TERMS];
  /* Pixel PSF: unit-sum stamp of odd side, centroid within ½ px of the central pixel. */
  float *stamp;
  int stamp_side;
  double pix_m[3];              /* adaptive moments of the stamp (xx, yy, xy)              */
  double pix_off_x, pix_off_y;  /* centroid − central pixel, |·| ≤ ½ px                    */
  int natural_size;             /* dia_psf_stamp_size()                                    */
  int n_stars;
  double fwhm_lo, fwhm_hi, beta_mid;
};

/* ------------------------------------------------------------------------------------------ */
/* Small helpers                                                                               */

static int
psf_n_terms (int order)
{
  return (order + 1) * (order + 2) / 2;
}

/* Monomials u^i v^j with i + j ≤ order, in the order 1, u, v, u², uv, v², … */
static void
psf_monomials (int order, double u, double v, double *t)
{
  int k = 0;
  for (int d = 0; d <= order; d++)
    for (int j = 0; j <= d; j++)
      {
        int i = d - j;
        double a = 1.0;
        for (int e = 0; e < i; e++)
          a *= u;
        for (int e = 0; e < j; e++)
          a *= v;
        t[k++] = a;
      }
}

static void
psf_scaled (const DiaPsf *psf, double x, double y, double *u, double *v)
{
  *u = psf->width > 1 ? CLAMP (2.0 * x / (psf->width - 1.0) - 1.0, -1.0, 1.0) : 0.0;
  *v = psf->height > 1 ? CLAMP (2.0 * y / (psf->height - 1.0) - 1.0, -1.0, 1.0) : 0.0;
}

static double
psf_poly (const DiaPsf *psf, const double *c, double u, double v)
{
  double t[PSF_MAX_TERMS], s = 0.0;
  psf_monomials (psf->order, u, v, t);
  for (int k = 0; k < psf->n_terms; k++)
    s += c[k] * t[k];
  return s;
}

/* Model quantities at (x, y): Gaussian-equivalent moments m[3] and β (NAN for a Gaussian). */
static void
psf_local (const DiaPsf *psf, double x, double y, double m[3], double *beta)
{
  double u, v, fwhm, e1, e2, e, t;

  if (psf->kind == PSF_KIND_PIXELS)
    {
      memcpy (m, psf->pix_m, sizeof psf->pix_m);
      *beta = NAN;
      return;
    }
  psf_scaled (psf, x, y, &u, &v);
  fwhm = MAX (0.3, psf_poly (psf, psf->c_fwhm, u, v));
  e1 = psf_poly (psf, psf->c_e1, u, v);
  e2 = psf_poly (psf, psf->c_e2, u, v);
  e = hypot (e1, e2);
  if (e > 0.9)
    {
      e1 *= 0.9 / e;
      e2 *= 0.9 / e;
    }
  t = 2.0 * (fwhm / FWHM_PER_SIGMA) * (fwhm / FWHM_PER_SIGMA);
  m[0] = 0.5 * t * (1.0 + e1);
  m[1] = 0.5 * t * (1.0 - e1);
  m[2] = 0.5 * t * e2;
  *beta = psf->kind == PSF_KIND_MOFFAT ? CLAMP (psf_poly (psf, psf->c_beta, u, v), 1.2, 50.0)
                                       : NAN;
}

/* Inverse of the symmetric 2 × 2 matrix (xx, yy, xy); FALSE when not positive definite. */
static gboolean
psf_inverse (const double m[3], double inv[3])
{
  double det = m[0] * m[1] - m[2] * m[2];
  if (!(det > 0.0) || !(m[0] > 0.0))
    return FALSE;
  inv[0] = m[1] / det;
  inv[1] = m[0] / det;
  inv[2] = -m[2] / det;
  return TRUE;
}

static double
psf_max_eigen (const double m[3])
{
  double h = 0.5 * (m[0] + m[1]), d = 0.5 * (m[0] - m[1]);
  return h + sqrt (d * d + m[2] * m[2]);
}

/* Unnormalised profile at squared "radius" q = dᵀ M⁻¹ d (Gaussian-equivalent units). */
static inline double
psf_profile (double q, double beta, double moffat_scale)
{
  if (isnan (beta))
    return exp (-0.5 * q);
  /* dᵀ S⁻¹ d = q (2^{1/β} − 1) / (2 ln 2), see the file comment. */
  return exp (-beta * log1p (q * moffat_scale));
}

static int
psf_cmp_double (gconstpointer a, gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

static double
psf_median (double *v, int n)
{
  if (n <= 0)
    return NAN;
  qsort (v, n, sizeof (double), psf_cmp_double);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* ------------------------------------------------------------------------------------------ */
/* Adaptive moments                                                                            */

typedef struct
{
  const float *pix;
  double offset;                /* subtracted from every pixel (the local background)     */
  const DiaMask *mask;          /* or NULL                                                */
  DiaMask bad;                  /* pixels with these bits are skipped                     */
  size_t stride;
  int width, height;
} PsfPlane;

static inline double
plane_value (const PsfPlane *p, int x, int y)
{
  size_t i = (size_t) y * p->stride + x;
  return p->pix[i] - p->offset;
}

static inline gboolean
plane_usable (const PsfPlane *p, int x, int y)
{
  size_t i = (size_t) y * p->stride + x;
  return (p->mask == NULL || (p->mask[i] & p->bad) == 0) && isfinite (p->pix[i]);
}

typedef enum
{
  AM_OK,
  AM_COLLAPSED,                 /* the weight shrank below a pixel: sharper than any PSF */
  AM_DIVERGED,                  /* no positive flux, or grew beyond the window limit    */
  AM_DRIFTED,                   /* the centroid walked away (a wing bump of a neighbour) */
} AmStatus;

/* Iterates an elliptical Gaussian weight until it matches the object (Bernstein & Jarvis
 * 2002): with weight covariance W and weighted moments Q, a Gaussian object has covariance
 * (Q⁻¹ − W⁻¹)⁻¹ and sits at c + C Q⁻¹ δ, δ being the weighted centroid offset.  When the noise
 * makes Q⁻¹ − W⁻¹ indefinite the slower fixed point W ← 2Q is used.  m[] receives the object
 * covariance (= final W).  max_radius bounds the window (px); the weight is cut at
 * dᵀ W⁻¹ d = cut: 16 (4σ) where the moments are the product (pixel PSFs), 9 (3σ) for the
 * star finder, where they only set the aperture and the shape flags and speed matters (the
 * truncation shrinks the moments by ~2 %). */
static AmStatus
psf_adaptive_moments (const PsfPlane *p, double x_start, double y_start, double sigma0,
                      double max_radius, double max_drift, double cut, double *xc, double *yc,
                      double m[3])
{
  double w[3] = { sigma0 * sigma0, sigma0 * sigma0, 0.0 };
  double cx = x_start, cy = y_start;
  AmStatus status = AM_DIVERGED;

  for (int it = 0; it < 20; it++)
    {
      double winv[3], q[3], qinv[3], a[3], mn[3], step_x, step_y;
      double s0 = 0, sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
      int r, iy;
      if (!psf_inverse (w, winv))
        break;
      /* Visit only the ellipse dᵀ W⁻¹ d ≤ cut: its half-height is √(cut W_yy) and, on each
       * row, the x extent solves a quadratic. */
      r = (int) ceil (sqrt (cut * w[1]));
      r = CLAMP (r, 1, (int) max_radius);
      iy = (int) floor (cy + 0.5);
      for (int y = MAX (0, iy - r); y <= MIN (p->height - 1, iy + r); y++)
        {
          double dy = y - cy, bq = winv[2] * dy, disc, x_lo, x_hi;
          disc = bq * bq - winv[0] * (winv[1] * dy * dy - cut);
          if (disc <= 0.0)
            continue;
          disc = sqrt (disc);
          x_lo = cx + (-bq - disc) / winv[0];
          x_hi = cx + (-bq + disc) / winv[0];
          x_lo = MAX (x_lo, cx - max_radius);
          x_hi = MIN (x_hi, cx + max_radius);
          for (int x = MAX (0, (int) ceil (x_lo)); x <= MIN (p->width - 1, (int) floor (x_hi));
               x++)
            {
              double dx = x - cx, qq, wt, val;
              if (!plane_usable (p, x, y))
                continue;
              qq = winv[0] * dx * dx + 2.0 * winv[2] * dx * dy + winv[1] * dy * dy;
              wt = expf ((float) (-0.5 * qq));   /* float precision is ample for a weight */
              val = wt * plane_value (p, x, y);
              s0 += val;
              sx += val * dx;
              sy += val * dy;
              sxx += val * dx * dx;
              syy += val * dy * dy;
              sxy += val * dx * dy;
            }
        }
      if (!(s0 > 0.0))
        {
          /* A weight already far below a pixel that loses its flux sits on a single hot
           * pixel; anything else has no positive flux at all. */
          status = w[0] + w[1] < 0.5 ? AM_COLLAPSED : AM_DIVERGED;
          break;
        }
      sx /= s0;
      sy /= s0;
      q[0] = sxx / s0 - sx * sx;
      q[1] = syy / s0 - sy * sy;
      q[2] = sxy / s0 - sx * sy;
      if (psf_inverse (q, qinv))
        {
          a[0] = qinv[0] - winv[0];
          a[1] = qinv[1] - winv[1];
          a[2] = qinv[2] - winv[2];
        }
      if (psf_inverse (q, qinv) && psf_inverse (a, mn))
        {
          /* Newton-like step; C Q⁻¹ δ. */
          step_x = (mn[0] * qinv[0] + mn[2] * qinv[2]) * sx
                   + (mn[0] * qinv[2] + mn[2] * qinv[1]) * sy;
          step_y = (mn[2] * qinv[0] + mn[1] * qinv[2]) * sx
                   + (mn[2] * qinv[2] + mn[1] * qinv[1]) * sy;
        }
      else if (q[0] > 0 && q[1] > 0 && q[0] * q[1] > q[2] * q[2])
        {
          mn[0] = 2.0 * q[0];
          mn[1] = 2.0 * q[1];
          mn[2] = 2.0 * q[2];
          step_x = 2.0 * sx;
          step_y = 2.0 * sy;
        }
      else if (q[0] + q[1] < 0.25 * (w[0] + w[1]))
        {
          /* Q is noise-dominated and tiny against the weight: the object is far sharper than
           * the weight (a hot pixel or cosmic ray), so shrink towards it. */
          mn[0] = 0.25 * w[0];
          mn[1] = 0.25 * w[1];
          mn[2] = 0.25 * w[2];
          step_x = sx;
          step_y = sy;
        }
      else
        {
          status = w[0] + w[1] < 0.5 ? AM_COLLAPSED : AM_DIVERGED;
          break;
        }
      /* Damp: a single noisy pass may not change the size by more than ×4 or move > 1 px. */
      for (int k = 0; k < 2; k++)
        mn[k] = CLAMP (mn[k], 0.25 * w[k], 4.0 * w[k]);
      mn[2] = CLAMP (mn[2], -0.95 * sqrt (mn[0] * mn[1]), 0.95 * sqrt (mn[0] * mn[1]));
      step_x = CLAMP (step_x, -1.0, 1.0);
      step_y = CLAMP (step_y, -1.0, 1.0);
      cx += step_x;
      cy += step_y;
      if (hypot (cx - x_start, cy - y_start) > max_drift)
        {
          status = AM_DRIFTED;
          break;
        }
      if (mn[0] + mn[1] < 0.2)
        {
          status = AM_COLLAPSED;
          memcpy (w, mn, sizeof w);
          break;
        }
      if (sqrt (psf_max_eigen (mn)) * 4.0 > max_radius * 1.5)
        {
          status = AM_DIVERGED;
          memcpy (w, mn, sizeof w);
          break;
        }
      {
        double change = fabs (mn[0] - w[0]) + fabs (mn[1] - w[1]) + fabs (mn[2] - w[2]);
        memcpy (w, mn, sizeof w);
        if (fabs (step_x) < 1e-3 && fabs (step_y) < 1e-3 && change < 1e-3 * (w[0] + w[1]))
          {
            status = AM_OK;
            break;
          }
        /* Noise-limited objects wander at the 10⁻² level for ever: after a few passes that
         * is as good as it gets (the flags need the size to ~5 %). */
        if (it >= 4 && fabs (step_x) < 5e-3 && fabs (step_y) < 5e-3
            && change < 1e-2 * (w[0] + w[1]))
          {
            status = AM_OK;
            break;
          }
      }
      status = AM_OK;        /* ran out of passes without diverging: accept */
    }
  *xc = cx;
  *yc = cy;
  memcpy (m, w, sizeof w);
  return status;
}

/* ------------------------------------------------------------------------------------------ */
/* Star finding                                                                                */

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
      st = psf_adaptive_moments (&plane, pk->x, pk->y, job->sigma0, 20.0, 3.0, 9.0, &xc, &yc, m);
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

  qsort (t, n, sizeof (double), psf_cmp_double);
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

static int
star_cmp_flux (gconstpointer a, gconstpointer b)
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
  g_array_sort (result, star_cmp_flux);
  if (max_stars > 0 && (int) result->len > max_stars)
    g_array_set_size (result, max_stars);
  dia_monitor_stage (monitor, "stars", 1.0);
  return result;
}

/* ------------------------------------------------------------------------------------------ */
/* Single-star fits                                                                            */

typedef struct
{
  int n;                        /* pixels used                                            */
  double *dx, *dy;              /* pixel offsets from the box centre                       */
  double *val, *w;              /* data and 1/σ                                            */
  int n_sub;                    /* Gauss–Legendre points per axis (2 or 3)                */
  double sub[3], subw[3];
  gboolean moffat;
  double beta_fixed;            /* Moffat β held fixed, or NAN to fit it                 */
  /* The Jacobian computed alongside the last residuals (see fit_f). */
  gsl_matrix *cache_J;
  double cache_p[8];
  gboolean cache_valid;
} FitData;

/* Parameters: 0 A, 1 x0, 2 y0, 3 B, 4 l11, 5 l21, 6 l22, [7 b with β = 1 + e^b, unless β
 * is fixed]. */
static int
fit_eval (const gsl_vector *p, void *data, gsl_vector *f, gsl_matrix *J)
{
  FitData *fd = data;
  double A = gsl_vector_get (p, 0), x0 = gsl_vector_get (p, 1), y0 = gsl_vector_get (p, 2);
  double B = gsl_vector_get (p, 3), l11 = gsl_vector_get (p, 4), l21 = gsl_vector_get (p, 5);
  double l22 = gsl_vector_get (p, 6);
  gboolean free_beta = fd->moffat && isnan (fd->beta_fixed);
  double bb = free_beta ? CLAMP (gsl_vector_get (p, 7), -5.0, 5.0) : 0.0;
  double beta = free_beta ? 1.0 + exp (bb) : fd->beta_fixed;
  int np = free_beta ? 8 : 7;

  for (int i = 0; i < fd->n; i++)
    {
      double model = 0.0, d[8] = { 0 };
      for (int b = 0; b < fd->n_sub; b++)
        for (int a = 0; a < fd->n_sub; a++)
          {
            double wgt = fd->subw[a] * fd->subw[b];
            double ddx = fd->dx[i] + fd->sub[a] - x0, ddy = fd->dy[i] + fd->sub[b] - y0;
            double u = l11 * ddx + l21 * ddy, v = l22 * ddy, q = u * u + v * v, g, fq;
            if (fd->moffat)
              {
                double lq = log1p (q);
                g = exp (-beta * lq);
                fq = -A * beta * g / (1.0 + q);
                if (J && free_beta)
                  d[7] += wgt * (-A * g * lq * (beta - 1.0));
              }
            else
              {
                g = exp (-0.5 * q);
                fq = -0.5 * A * g;
              }
            model += wgt * g;
            if (J)
              {
                d[0] += wgt * g;
                d[1] += wgt * fq * (-2.0 * u * l11);
                d[2] += wgt * fq * (-2.0 * u * l21 - 2.0 * v * l22);
                d[4] += wgt * fq * 2.0 * u * ddx;
                d[5] += wgt * fq * 2.0 * u * ddy;
                d[6] += wgt * fq * 2.0 * v * ddy;
              }
          }
      if (f)
        gsl_vector_set (f, i, (A * model + B - fd->val[i]) * fd->w[i]);
      if (J)
        {
          d[3] = 1.0;
          for (int k = 0; k < np; k++)
            gsl_matrix_set (J, i, k, d[k] * fd->w[i]);
        }
    }
  return GSL_SUCCESS;
}

/* The trust-region driver asks for the Jacobian at every point whose residuals it accepted,
 * and residuals and derivatives share the costly log1p/exp per sub-pixel point; so the
 * residuals are always evaluated with the Jacobian, which fit_df then copies when the point
 * is the same. */
static int
fit_f (const gsl_vector *p, void *data, gsl_vector *f)
{
  FitData *fd = data;
  fd->cache_valid = FALSE;
  fit_eval (p, data, f, fd->cache_J);
  for (size_t k = 0; k < p->size; k++)
    fd->cache_p[k] = gsl_vector_get (p, k);
  fd->cache_valid = TRUE;
  return GSL_SUCCESS;
}

static int
fit_df (const gsl_vector *p, void *data, gsl_matrix *J)
{
  FitData *fd = data;
  gboolean same = fd->cache_valid;
  for (size_t k = 0; k < p->size && same; k++)
    same = gsl_vector_get (p, k) == fd->cache_p[k];
  if (same)
    return gsl_matrix_memcpy (J, fd->cache_J);
  return fit_eval (p, data, NULL, J);
}

typedef struct
{
  gboolean ok, moffat;
  double x, y;                  /* fitted centre, buffer px                               */
  double fwhm, e1, e2, beta;    /* of the Gaussian-equivalent moments                     */
  double flux;
} StarFit;

/* Gaussian-equivalent moments from the fitted Cholesky factor (see the file comment). */
static gboolean
fit_summarise (const gsl_vector *p, gboolean moffat, double beta_fixed, StarFit *out)
{
  double l11 = gsl_vector_get (p, 4), l21 = gsl_vector_get (p, 5), l22 = gsl_vector_get (p, 6);
  double winv[3] = { l11 * l11, l21 * l21 + l22 * l22, l11 * l21 }, s[3], scale, t;
  if (!psf_inverse (winv, s))
    return FALSE;
  if (moffat)
    {
      out->beta = isnan (beta_fixed) ? 1.0 + exp (CLAMP (gsl_vector_get (p, 7), -5.0, 5.0))
                                     : beta_fixed;
      scale = (pow (2.0, 1.0 / out->beta) - 1.0) / (2.0 * G_LN2);
    }
  else
    {
      out->beta = NAN;
      scale = 1.0;
    }
  for (int k = 0; k < 3; k++)
    s[k] *= scale;
  t = s[0] + s[1];
  out->fwhm = FWHM_PER_SIGMA * sqrt (t / 2.0);
  out->e1 = (s[0] - s[1]) / t;
  out->e2 = 2.0 * s[2] / t;
  return isfinite (out->fwhm);
}

/* Fits one star at (xs, ys) in a box of radius R of image − bg(xs, ys). */
static StarFit
fit_star (const DiaImage *im, double bg_level, double xs, double ys, double fwhm_guess,
          double peak, gboolean moffat, double beta_fixed)
{
  StarFit res = { 0 };
  /* ±2 FWHM (of the adaptive moments, ~14 % wider than a Moffat's FWHM).  Smaller boxes are
   * faster but let a PSF that is not quite a Moffat (a Moffat convolved with a Gaussian, as
   * in a PSF-matched image) trade β against α: at ±1.6 FWHM the half-maximum width of such a
   * profile read 6 % high, at ±2 FWHM 1 % low. */
  int R = (int) ceil (CLAMP (2.0 * fwhm_guess, 4.0, 20.0));
  int ix = (int) floor (xs + 0.5), iy = (int) floor (ys + 0.5);
  int np = moffat && isnan (beta_fixed) ? 8 : 7;
  int side = 2 * R + 1, n = 0, status, info;
  FitData fd = { 0 };
  double gl2 = 0.5 / sqrt (3.0), gl3 = 0.5 * sqrt (0.6);
  double beta0 = moffat && !isnan (beta_fixed) ? beta_fixed : 3.0, alpha0, init[8];
  gsl_multifit_nlinear_fdf fdf;
  gsl_multifit_nlinear_parameters prm = gsl_multifit_nlinear_default_parameters ();
  gsl_multifit_nlinear_workspace *ws;
  gsl_vector_view x0;

  fd.dx = g_new (double, side * side * 4);
  fd.dy = fd.dx + side * side;
  fd.val = fd.dy + side * side;
  fd.w = fd.val + side * side;
  for (int y = iy - R; y <= iy + R; y++)
    for (int x = ix - R; x <= ix + R; x++)
      {
        size_t k;
        if (x < 0 || y < 0 || x >= im->width || y >= im->height)
          continue;
        k = dia_image_index (im, x, y);
        if ((im->mask[k] & DIA_MASK_UNUSABLE) || !isfinite (im->pix[k])
            || !(im->var[k] > 0.0) || !isfinite (im->var[k]))
          continue;
        fd.dx[n] = x - ix;
        fd.dy[n] = y - iy;
        fd.val[n] = im->pix[k] - bg_level;
        fd.w[n] = 1.0 / sqrt (im->var[k]);
        n++;
      }
  fd.n = n;
  fd.moffat = moffat;
  fd.beta_fixed = moffat ? beta_fixed : NAN;
  if (fwhm_guess < 2.5)
    {
      fd.n_sub = 3;
      fd.sub[0] = -gl3, fd.sub[1] = 0.0, fd.sub[2] = gl3;
      fd.subw[0] = fd.subw[2] = 5.0 / 18.0, fd.subw[1] = 8.0 / 18.0;
    }
  else
    {
      fd.n_sub = 2;
      fd.sub[0] = -gl2, fd.sub[1] = gl2;
      fd.subw[0] = fd.subw[1] = 0.5;
    }
  if (n < 3 * np)
    {
      g_free (fd.dx);
      return res;
    }

  alpha0 = moffat ? fwhm_guess / (2.0 * sqrt (pow (2.0, 1.0 / beta0) - 1.0))
                  : fwhm_guess / FWHM_PER_SIGMA;
  init[0] = MAX (peak, 1e-30);
  init[1] = xs - ix;
  init[2] = ys - iy;
  init[3] = 0.0;
  init[4] = 1.0 / alpha0;
  init[5] = 0.0;
  init[6] = 1.0 / alpha0;
  init[7] = log (beta0 - 1.0);
  x0 = gsl_vector_view_array (init, np);

  fdf.f = fit_f;
  fdf.df = fit_df;
  fdf.fvv = NULL;
  fdf.n = n;
  fdf.p = np;
  fdf.params = &fd;
  prm.scale = gsl_multifit_nlinear_scale_more;
  /* Normal equations (7 or 8 parameters, hundreds of pixels): a Cholesky step costs a
   * fraction of the default QR of the whole Jacobian, and the trust region keeps the
   * damped system positive definite. */
  prm.solver = gsl_multifit_nlinear_solver_cholesky;
  ws = gsl_multifit_nlinear_alloc (gsl_multifit_nlinear_trust, &prm, n, np);
  fd.cache_J = gsl_matrix_alloc (n, np);
  if (ws == NULL || fd.cache_J == NULL)
    {
      if (ws)
        gsl_multifit_nlinear_free (ws);
      if (fd.cache_J)
        gsl_matrix_free (fd.cache_J);
      g_free (fd.dx);
      return res;
    }
  gsl_multifit_nlinear_init (&x0.vector, &fdf, ws);
  status = gsl_multifit_nlinear_driver (50, 1e-6, 1e-6, 1e-6, NULL, NULL, &info, ws);
  if (status == GSL_SUCCESS || status == GSL_EMAXITER)
    {
      const gsl_vector *p = ws->x;
      double A = gsl_vector_get (p, 0);
      res.x = ix + gsl_vector_get (p, 1);
      res.y = iy + gsl_vector_get (p, 2);
      res.moffat = moffat;
      res.ok = status == GSL_SUCCESS && A > 0.0 && fit_summarise (p, moffat, fd.beta_fixed, &res)
               && hypot (res.x - xs, res.y - ys) < 2.0
               && res.fwhm > 0.3 * fwhm_guess && res.fwhm < 3.0 * fwhm_guess
               && hypot (res.e1, res.e2) < 0.8
               && (!moffat || (res.beta > 1.15 && res.beta < 1.0 + exp (4.9)));
    }
  gsl_multifit_nlinear_free (ws);
  gsl_matrix_free (fd.cache_J);
  g_free (fd.dx);
  return res;
}

/* ------------------------------------------------------------------------------------------ */
/* Spatial fields                                                                              */

/* Weighted least squares (weights wt[i], NULL = 1) of values val[i] (i with use[i]) on the
 * monomials of `order`; coefficients into c[].  FALSE when the system is singular. */
static gboolean
psf_fit_field (const double *u, const double *v, const double *val, const double *wt,
               const gboolean *use, int n, int order, double *c)
{
  int nt = psf_n_terms (order), m = 0;
  gsl_matrix *X;
  gsl_vector *y, *cv, *wv;
  gsl_matrix *cov;
  gsl_multifit_linear_workspace *ws;
  double chisq;
  int status;

  for (int i = 0; i < n; i++)
    m += use[i];
  if (m < nt)
    return FALSE;
  X = gsl_matrix_alloc (m, nt);
  y = gsl_vector_alloc (m);
  cv = gsl_vector_alloc (nt);
  wv = gsl_vector_alloc (m);
  cov = gsl_matrix_alloc (nt, nt);
  ws = gsl_multifit_linear_alloc (m, nt);
  for (int i = 0, r = 0; i < n; i++)
    {
      double t[PSF_MAX_TERMS];
      if (!use[i])
        continue;
      psf_monomials (order, u[i], v[i], t);
      for (int k = 0; k < nt; k++)
        gsl_matrix_set (X, r, k, t[k]);
      gsl_vector_set (y, r, val[i]);
      gsl_vector_set (wv, r, wt ? wt[i] : 1.0);
      r++;
    }
  status = gsl_multifit_wlinear (X, wv, y, cv, cov, &chisq, ws);
  for (int k = 0; k < PSF_MAX_TERMS; k++)
    c[k] = k < nt ? gsl_vector_get (cv, k) : 0.0;
  gsl_multifit_linear_free (ws);
  gsl_matrix_free (cov);
  gsl_vector_free (cv);
  gsl_vector_free (wv);
  gsl_vector_free (y);
  gsl_matrix_free (X);
  return status == GSL_SUCCESS;
}

static double
psf_field_at (int order, const double *c, double u, double v)
{
  double t[PSF_MAX_TERMS], s = 0.0;
  psf_monomials (order, u, v, t);
  for (int k = 0; k < psf_n_terms (order); k++)
    s += c[k] * t[k];
  return s;
}

/* Natural size and the FWHM range over a 5 × 5 grid (analytic models). */
static void
psf_finish (DiaPsf *psf)
{
  int size = 5;
  psf->fwhm_lo = G_MAXDOUBLE;
  psf->fwhm_hi = 0.0;
  for (int j = 0; j < 5; j++)
    for (int i = 0; i < 5; i++)
      {
        double x = i * (psf->width - 1.0) / 4.0, y = j * (psf->height - 1.0) / 4.0;
        double m[3], beta, f = dia_psf_fwhm (psf, x, y), r, amax;
        psf->fwhm_lo = MIN (psf->fwhm_lo, f);
        psf->fwhm_hi = MAX (psf->fwhm_hi, f);
        if (psf->kind == PSF_KIND_PIXELS)
          continue;
        psf_local (psf, x, y, m, &beta);
        amax = sqrt (psf_max_eigen (m));
        if (isnan (beta))
          r = amax * sqrt (-2.0 * log (0.005));
        else
          {
            /* Moffat: enclosed fraction 1 − (1 + r²/α²)^(1−β) = 0.995, α along the major axis
             * (α² = σ_M² 2 ln 2 / (2^{1/β} − 1)). */
            double alpha = amax * sqrt (2.0 * G_LN2 / (pow (2.0, 1.0 / beta) - 1.0));
            r = alpha * sqrt (pow (0.005, 1.0 / (1.0 - beta)) - 1.0);
          }
        size = MAX (size, 2 * (int) ceil (MIN (r, 8.0 * f) + 1.0) + 1);
      }
  if (psf->kind != PSF_KIND_PIXELS)
    psf->natural_size = MIN (size, PSF_MAX_STAMP);
  {
    double u, v;
    psf_scaled (psf, psf->width / 2.0, psf->height / 2.0, &u, &v);
    psf->beta_mid = psf->kind == PSF_KIND_MOFFAT ? psf_poly (psf, psf->c_beta, u, v) : NAN;
  }
}

/* ------------------------------------------------------------------------------------------ */
/* PSF estimation                                                                              */

void
dia_psf_params_init (DiaPsfParams *params)
{
  params->min_snr = 20.0;
  params->max_snr = 2000.0;
  params->max_stars = 200;
  params->spatial_order = 2;
  params->stamp_size = 0;
}

typedef struct
{
  const DiaImage *image;
  const DiaBackground *bg;
  const DiaStar *stars;         /* the selected ones                                      */
  double fwhm_guess;
  gboolean moffat;              /* try a Moffat first (else a Gaussian only)             */
  const DiaPsf *beta_field;     /* when set, β is fixed to this model's β at each star   */
  StarFit *fits;
} FitJob;

static void
fit_body (int first, int last, int thread_index, gpointer data)
{
  FitJob *job = data;
  for (int i = first; i < last; i++)
    {
      const DiaStar *s = &job->stars[i];
      double b = dia_background_eval (job->bg, s->x, s->y);
      double beta = NAN;
      if (job->beta_field)
        {
          double m[3];
          psf_local (job->beta_field, s->x, s->y, m, &beta);
        }
      job->fits[i].ok = FALSE;
      if (job->moffat)
        job->fits[i] = fit_star (job->image, b, s->x, s->y, job->fwhm_guess, s->peak, TRUE,
                                 beta);
      if (!job->fits[i].ok)
        job->fits[i] = fit_star (job->image, b, s->x, s->y, job->fwhm_guess, s->peak, FALSE,
                                 NAN);
    }
}

static DiaPsf *
psf_new (PsfKind kind)
{
  DiaPsf *psf = g_new0 (DiaPsf, 1);
  psf->ref_count = 1;
  psf->kind = kind;
  psf->width = psf->height = 1.0;
  return psf;
}

DiaPsf *
dia_psf_estimate (const DiaImage *image, const DiaBackground *bg, const GArray *stars,
                  const DiaPsfParams *params, DiaMonitor *monitor, GError **error)
{
  g_autoptr (DiaBackground) own_bg = NULL;
  GArray *own_stars = NULL;
  DiaPsfParams prm;
  g_autofree DiaStar *sel = NULL;
  g_autofree StarFit *fits = NULL;
  g_autofree double *tmp = NULL;
  g_autofree double *u = NULL;
  g_autofree double *v = NULL;
  g_autofree double *val = NULL;
  g_autofree gboolean *use = NULL;
  g_autofree double *wsn = NULL;
  int n_all, n_sel = 0, n_moffat = 0, n_used = 0, order, n_fail = 0, beta_order = 0;
  double beta_coef[PSF_MAX_TERMS] = { 0 };
  int c_sat = 0, c_masked = 0, c_edge = 0, c_crowd = 0, c_ext = 0, c_cr = 0, c_snr = 0;
  double fwhm_guess;
  gboolean moffat;
  DiaPsf *psf;
  FitJob job;
  const char *name;

  g_return_val_if_fail (image != NULL, NULL);
  name = image->source ? image->source : _("the image");
  if (params)
    prm = *params;
  else
    dia_psf_params_init (&prm);
  if (prm.max_stars <= 0)
    prm.max_stars = 200;
  prm.spatial_order = CLAMP (prm.spatial_order, 0, PSF_MAX_ORDER);
  if (bg == NULL)
    {
      own_bg = dia_background_estimate (image, 0, DIA_MASK_UNUSABLE | DIA_MASK_DETECTED, monitor,
                                        error);
      if (own_bg == NULL)
        return NULL;
      bg = own_bg;
    }
  if (stars == NULL)
    {
      own_stars = dia_stars_find (image, bg, 10.0, 0, monitor, error);
      if (own_stars == NULL)
        return NULL;
      stars = own_stars;
    }
  dia_monitor_stage (monitor, "psf", 0.0);

  /* Selection: unflagged, S/N in range, brightest first (the array is sorted by flux, but
   * callers may pass their own order, so sort a copy). */
  n_all = stars->len;
  sel = g_new (DiaStar, MAX (n_all, 1));
  for (int i = 0; i < n_all; i++)
    {
      const DiaStar *s = &g_array_index (stars, DiaStar, i);
      /* Each rejected star is counted once, under its first reason in this order. */
      if (s->flags & DIA_STAR_SATURATED)
        c_sat++;
      else if (s->flags & DIA_STAR_MASKED)
        c_masked++;
      else if (s->flags & DIA_STAR_EDGE)
        c_edge++;
      else if (s->flags & DIA_STAR_CROWDED)
        c_crowd++;
      else if (s->flags & DIA_STAR_EXTENDED)
        c_ext++;
      else if (s->flags & DIA_STAR_COSMIC)
        c_cr++;
      if (s->flags)
        continue;
      if (!(s->snr >= prm.min_snr && s->snr <= prm.max_snr))
        {
          c_snr++;
          continue;
        }
      sel[n_sel++] = *s;
    }
  qsort (sel, n_sel, sizeof (DiaStar), star_cmp_flux);
  n_sel = MIN (n_sel, prm.max_stars);

  /* The fit box scales with this guess, and for a PSF that is not quite a Moffat the fitted
   * width depends on the box, so the guess is re-measured here with untruncated (4σ) adaptive
   * moments rather than taken from the caller's star list (whose moments may come from
   * elsewhere, or from the finder's faster 3σ window). */
  tmp = g_new (double, MAX (n_sel, 1));
  {
    int k = 0;
    for (int i = 0; i < n_sel; i++)
      {
        PsfPlane plane = { image->pix, dia_background_eval (bg, sel[i].x, sel[i].y),
                           image->mask, DIA_MASK_UNUSABLE, image->stride, image->width,
                           image->height };
        double m[3], xc, yc;
        if (psf_adaptive_moments (&plane, sel[i].x, sel[i].y, 1.5, 20.0, 3.0, 16.0, &xc, &yc, m)
            == AM_OK)
          tmp[k++] = FWHM_PER_SIGMA * sqrt (MAX (m[0] + m[1], 0.01) / 2.0);
      }
    fwhm_guess = k > 0 ? psf_median (tmp, k) : 3.0;
  }

  /* Two passes.  With β free, faint stars trade β against α and their FWHM scatters and
   * drifts with S/N (by 5 % on a Moffat ⋆ Gaussian PSF); so β is fitted on the brightest
   * stars only (pass 1), turned into a field, and held fixed at each star's position while
   * all stars are fitted for width and shape (pass 2). */
  fits = g_new0 (StarFit, MAX (n_sel, 1));
  if (n_sel >= 3)
    {
      int n1 = MIN (n_sel, PSF_BETA_STARS), k = 0, n_m = 0;
      g_autoptr (DiaPsf) beta_psf = psf_new (PSF_KIND_MOFFAT);
      g_autofree double *bu = g_new (double, n1);
      g_autofree double *bv = g_new (double, n1);
      g_autofree double *bval = g_new (double, n1);
      g_autofree gboolean *buse = g_new0 (gboolean, n1);
      job = (FitJob){ image, bg, sel, fwhm_guess, TRUE, NULL, fits };
      if (!dia_parallel_for (n1, 2, 0, fit_body, &job, monitor, error))
        {
          if (own_stars)
            g_array_free (own_stars, TRUE);
          return NULL;
        }
      for (int i = 0; i < n1; i++)
        {
          bu[i] = image->width > 1 ? CLAMP (2.0 * fits[i].x / (image->width - 1.0) - 1, -1, 1) : 0;
          bv[i] = image->height > 1 ? CLAMP (2.0 * fits[i].y / (image->height - 1.0) - 1, -1, 1)
                                    : 0;
          bval[i] = fits[i].beta;
          buse[i] = fits[i].ok && fits[i].moffat;
          n_m += buse[i];
          k += fits[i].ok;
        }
      job.moffat = n_m * 2 >= k && n_m >= 3;
      if (job.moffat)
        {
          int bo = CLAMP (prm.spatial_order, 0, PSF_MAX_ORDER);
          while (bo > 0 && n_m < 3 * psf_n_terms (bo))
            bo--;
          beta_psf->width = image->width;
          beta_psf->height = image->height;
          beta_psf->order = bo;
          beta_psf->n_terms = psf_n_terms (bo);
          beta_psf->c_fwhm[0] = fwhm_guess;
          if (!psf_fit_field (bu, bv, bval, NULL, buse, n1, bo, beta_psf->c_beta))
            {
              double *tmpb = g_new (double, n1);
              int m = 0;
              for (int i = 0; i < n1; i++)
                if (buse[i])
                  tmpb[m++] = bval[i];
              memset (beta_psf->c_beta, 0, sizeof beta_psf->c_beta);
              beta_psf->c_beta[0] = psf_median (tmpb, m);
              g_free (tmpb);
            }
          job.beta_field = beta_psf;
        }
      if (!dia_parallel_for (n_sel, 4, 0, fit_body, &job, monitor, error))
        {
          if (own_stars)
            g_array_free (own_stars, TRUE);
          return NULL;
        }
      if (job.moffat)
        memcpy (beta_coef, beta_psf->c_beta, sizeof beta_coef), beta_order = beta_psf->order;
    }
  dia_monitor_stage (monitor, "psf", 0.8);

  for (int i = 0; i < n_sel && n_sel >= 3; i++)
    {
      n_fail += !fits[i].ok;
      n_moffat += fits[i].ok && fits[i].moffat;
    }
  moffat = n_moffat * 2 >= (n_sel - n_fail);
  use = g_new0 (gboolean, MAX (n_sel, 1));
  /* Field weights ∝ S/N² (capped at S/N 200, beyond which the model, not the noise, limits a
   * star): the width of a faint star is both noisier and, in crowded fields, broadened by
   * undetected neighbours, so the bright stars should set the field. */
  wsn = g_new (double, MAX (n_sel, 1));
  for (int i = 0; i < n_sel; i++)
    wsn[i] = pow (CLAMP (sel[i].snr, 1.0, 200.0), 2.0);
  u = g_new (double, MAX (n_sel, 1));
  v = g_new (double, MAX (n_sel, 1));
  val = g_new (double, MAX (n_sel, 1));
  for (int i = 0; i < n_sel; i++)
    {
      use[i] = fits[i].ok && fits[i].moffat == moffat;
      u[i] = image->width > 1 ? CLAMP (2.0 * fits[i].x / (image->width - 1.0) - 1.0, -1, 1) : 0;
      v[i] = image->height > 1 ? CLAMP (2.0 * fits[i].y / (image->height - 1.0) - 1.0, -1, 1) : 0;
      n_used += use[i];
    }

  if (n_sel < 3)
    n_used = n_sel;     /* too few to try: report the candidates, not fit failures */
  if (n_used < 3 || n_sel < 3)
    {
      GString *why = g_string_new (NULL);
      const struct { int n; const char *what; } reasons[] = {
        { c_sat, N_("saturated") }, { c_crowd, N_("crowded") }, { c_masked, N_("masked") },
        { c_edge, N_("at the edge") }, { c_ext, N_("extended") }, { c_cr, N_("cosmic rays") },
        { c_snr, N_("S/N out of range") }, { n_fail, N_("fit failed") },
      };
      for (guint k = 0; k < G_N_ELEMENTS (reasons); k++)
        if (reasons[k].n > 0)
          g_string_append_printf (why, "%s%d %s", why->len ? ", " : "", reasons[k].n,
                                  _(reasons[k].what));
      g_set_error (error, DIA_ERROR, DIA_ERROR_NO_STARS,
                   _("PSF of %s: only %d usable stars (%d found%s%s%s); give --fwhm or use a "
                     "deeper image"),
                   name, n_used, n_all, why->len ? ": " : "", why->str, "");
      g_string_free (why, TRUE);
      if (own_stars)
        g_array_free (own_stars, TRUE);
      return NULL;
    }

  psf = psf_new (moffat ? PSF_KIND_MOFFAT : PSF_KIND_GAUSSIAN);
  psf->width = image->width;
  psf->height = image->height;
  order = prm.spatial_order;
  while (order > 0 && n_used < 3 * psf_n_terms (order))
    order--;
  psf->order = order;
  psf->n_terms = psf_n_terms (order);

  /* FWHM field with 3σ clipping of the residuals (robust σ from the MAD). */
  for (int i = 0; i < n_sel; i++)
    val[i] = fits[i].fwhm;
  for (int it = 0; it < 4; it++)
    {
      int m = 0, n_rej = 0;
      double sig;
      if (!psf_fit_field (u, v, val, wsn, use, n_sel, order, psf->c_fwhm))
        break;
      for (int i = 0; i < n_sel; i++)
        if (use[i])
          tmp[m++] = fabs (val[i] - psf_field_at (order, psf->c_fwhm, u[i], v[i]));
      sig = 1.4826 * psf_median (tmp, m);
      if (!(sig > 0.0))
        break;
      for (int i = 0; i < n_sel; i++)
        if (use[i] && fabs (val[i] - psf_field_at (order, psf->c_fwhm, u[i], v[i])) > 3.0 * sig
            && n_used - n_rej > 3 * psf->n_terms)
          {
            use[i] = FALSE;
            n_rej++;
          }
      n_used -= n_rej;
      if (n_rej == 0)
        break;
    }
  for (int i = 0; i < n_sel; i++)
    val[i] = fits[i].e1;
  psf_fit_field (u, v, val, wsn, use, n_sel, order, psf->c_e1);
  for (int i = 0; i < n_sel; i++)
    val[i] = fits[i].e2;
  psf_fit_field (u, v, val, wsn, use, n_sel, order, psf->c_e2);
  if (moffat)
    {
      /* β as fitted on the bright stars (pass 1), re-expressed at this model's order. */
      double t[PSF_MAX_TERMS];
      memset (psf->c_beta, 0, sizeof psf->c_beta);
      if (beta_order <= order)
        memcpy (psf->c_beta, beta_coef, sizeof (double) * psf_n_terms (beta_order));
      else
        {
          for (int i = 0; i < n_sel; i++)
            {
              psf_monomials (beta_order, u[i], v[i], t);
              val[i] = 0.0;
              for (int k2 = 0; k2 < psf_n_terms (beta_order); k2++)
                val[i] += beta_coef[k2] * t[k2];
            }
          psf_fit_field (u, v, val, wsn, use, n_sel, order, psf->c_beta);
        }
    }
  psf->n_stars = n_used;
  psf_finish (psf);
  if (own_stars)
    g_array_free (own_stars, TRUE);
  dia_monitor_stage (monitor, "psf", 1.0);
  return psf;
}

/* ------------------------------------------------------------------------------------------ */
/* Constructors and queries                                                                    */

DiaPsf *
dia_psf_new_gaussian (double fwhm)
{
  DiaPsf *psf = psf_new (PSF_KIND_GAUSSIAN);
  psf->order = 0;
  psf->n_terms = 1;
  psf->c_fwhm[0] = isfinite (fwhm) && fwhm > 0.3 ? fwhm : 0.3;
  psf_finish (psf);
  return psf;
}

/* Keys' cubic convolution kernel (a = −½).  It reproduces polynomials up to degree 2, so a
 * shifted stamp keeps its sum, its centroid moves by exactly the shift and its second moments
 * are unchanged (Lanczos kernels ring less but miss the centroid by ~0.02 px). */
static double
psf_keys (double x)
{
  x = fabs (x);
  if (x <= 1.0)
    return (1.5 * x - 2.5) * x * x + 1.0;
  if (x < 2.0)
    return ((-0.5 * x + 2.5) * x - 4.0) * x + 2.0;
  return 0.0;
}

/* out(i, j) = in(i + off_x + sx, j + off_y + sy) for i < ow, j < oh, with in of w × h (zero
 * outside).  Separable: columns of the needed rows first, then along each row. */
static void
psf_shift (const float *in, int w, int h, double sx, double sy, float *out, int ow, int oh,
           int off_x, int off_y)
{
  double kx[4], ky[4];
  int fx = (int) floor (sx), fy = (int) floor (sy);
  double rx = sx - fx, ry = sy - fy;
  float *tmp = g_new0 (float, (gsize) oh * w);

  /* Sample position n + r (n integer, 0 ≤ r < 1): f = Σ_k in[n + k − 1] K(k − 1 − r). */
  for (int k = 0; k < 4; k++)
    {
      kx[k] = psf_keys (k - 1 - rx);
      ky[k] = psf_keys (k - 1 - ry);
    }
  for (int j = 0; j < oh; j++)
    for (int x = 0; x < w; x++)
      {
        double s = 0.0;
        for (int k = 0; k < 4; k++)
          {
            int yy = j + off_y + fy + k - 1;
            if (yy >= 0 && yy < h)
              s += ky[k] * in[(size_t) yy * w + x];
          }
        tmp[(size_t) j * w + x] = (float) s;
      }
  for (int j = 0; j < oh; j++)
    for (int i = 0; i < ow; i++)
      {
        double s = 0.0;
        for (int k = 0; k < 4; k++)
          {
            int xx = i + off_x + fx + k - 1;
            if (xx >= 0 && xx < w)
              s += kx[k] * tmp[(size_t) j * w + xx];
          }
        out[(size_t) j * ow + i] = (float) s;
      }
  g_free (tmp);
}

DiaPsf *
dia_psf_new_from_pixels (const float *pixels, int width, int height, GError **error)
{
  g_autofree float *clean = NULL;
  g_autofree float *shifted = NULL;
  PsfPlane plane;
  double total = 0.0, cx, cy, m[3], enclosed = 0.0;
  int ncx, ncy, hmax, half, side;
  DiaPsf *psf;

  if (pixels == NULL || width < 3 || height < 3 || width > 4096 || height > 4096)
    {
      g_set_error (error, DIA_ERROR, DIA_ERROR_INVALID,
                   _("PSF image of %d × %d px: need between 3 × 3 and 4096 × 4096 pixels"),
                   width, height);
      return NULL;
    }
  clean = g_new (float, (gsize) width * height);
  for (gsize i = 0; i < (gsize) width * height; i++)
    {
      clean[i] = isfinite (pixels[i]) ? pixels[i] : 0.0f;
      total += clean[i];
    }
  if (!(total > 0.0))
    {
      g_set_error (error, DIA_ERROR, DIA_ERROR_FORMAT,
                   _("PSF image has no positive flux (sum %g); check that the file holds a PSF"),
                   total);
      return NULL;
    }
  /* Start the adaptive centroid at the brightest pixel. */
  {
    gsize best = 0;
    for (gsize i = 1; i < (gsize) width * height; i++)
      if (clean[i] > clean[best])
        best = i;
    plane = (PsfPlane){ clean, 0.0, NULL, 0, width, width, height };
    if (psf_adaptive_moments (&plane, best % width, best / width, 1.5, 60.0, 10.0, 16.0, &cx, &cy,
                              m)
        != AM_OK)
      {
        g_set_error (error, DIA_ERROR, DIA_ERROR_FORMAT,
                     _("PSF image: cannot find a compact core (the centroid or the size does "
                       "not converge); check that the file holds a PSF"));
        return NULL;
      }
  }
  /* Recentre: the new stamp has its centre pixel where the centroid lands. */
  ncx = (int) floor (cx + 0.5);
  ncy = (int) floor (cy + 0.5);
  hmax = MIN (MIN (ncx, width - 1 - ncx), MIN (ncy, height - 1 - ncy));
  hmax = MIN (hmax, (PSF_MAX_STAMP - 1) / 2);
  if (hmax < 1)
    {
      g_set_error (error, DIA_ERROR, DIA_ERROR_FORMAT,
                   _("PSF image: its centroid (%.1f, %.1f) lies on the border"), cx, cy);
      return NULL;
    }
  /* The sub-pixel part of the centroid is not resampled away here (every interpolation
   * blurs an undersampled PSF a little); it is kept as an offset and folded into the one
   * interpolation dia_psf_render() does anyway. */
  side = 2 * hmax + 1;
  shifted = g_new (float, (gsize) side * side);
  for (int y = 0; y < side; y++)
    memcpy (shifted + (gsize) y * side, clean + (gsize) (ncy - hmax + y) * width + ncx - hmax,
            side * sizeof (float));
  /* Smallest centred odd square holding 99.5 % of the recentred flux. */
  {
    double tot = 0.0;
    for (int i = 0; i < side * side; i++)
      tot += shifted[i];
    for (half = 1; half <= hmax; half++)
      {
        enclosed = 0.0;
        for (int y = hmax - half; y <= hmax + half; y++)
          for (int x = hmax - half; x <= hmax + half; x++)
            enclosed += shifted[y * side + x];
        if (enclosed >= 0.995 * tot)
          break;
      }
    half = MIN (half, hmax);
  }
  psf = psf_new (PSF_KIND_PIXELS);
  psf->pix_off_x = cx - ncx;
  psf->pix_off_y = cy - ncy;
  psf->natural_size = 2 * half + 1;
  /* The stored stamp keeps up to 4 px more on each side than the 99.5 % square, so that a
   * shifted rendering of the natural size does not lose the flux that moves in. */
  half = MIN (half + 4, hmax);
  psf->stamp_side = 2 * half + 1;
  psf->stamp = g_new (float, (gsize) psf->stamp_side * psf->stamp_side);
  enclosed = 0.0;
  for (int y = 0; y < psf->stamp_side; y++)
    for (int x = 0; x < psf->stamp_side; x++)
      enclosed += psf->stamp[y * psf->stamp_side + x]
        = shifted[(y + hmax - half) * side + x + hmax - half];
  for (int i = 0; i < psf->stamp_side * psf->stamp_side; i++)
    psf->stamp[i] = (float) (psf->stamp[i] / enclosed);
  plane = (PsfPlane){ psf->stamp, 0.0, NULL, 0, psf->stamp_side, psf->stamp_side,
                      psf->stamp_side };
  psf_adaptive_moments (&plane, half, half, 1.5, 60.0, 10.0, 16.0, &cx, &cy, psf->pix_m);
  psf_finish (psf);
  return psf;
}

DiaPsf *
dia_psf_ref (DiaPsf *psf)
{
  g_return_val_if_fail (psf != NULL, NULL);
  g_atomic_int_inc (&psf->ref_count);
  return psf;
}

void
dia_psf_unref (DiaPsf *psf)
{
  if (psf == NULL)
    return;
  if (g_atomic_int_dec_and_test (&psf->ref_count))
    {
      g_free (psf->stamp);
      g_free (psf);
    }
}

double
dia_psf_fwhm (const DiaPsf *psf, double x, double y)
{
  double m[3], beta;
  g_return_val_if_fail (psf != NULL, NAN);
  psf_local (psf, x, y, m, &beta);
  return FWHM_PER_SIGMA * sqrt (MAX (m[0] + m[1], 0.0) / 2.0);
}

void
dia_psf_moments (const DiaPsf *psf, double x, double y, double *ixx, double *iyy, double *ixy)
{
  double m[3], beta;
  g_return_if_fail (psf != NULL);
  psf_local (psf, x, y, m, &beta);
  if (ixx)
    *ixx = m[0];
  if (iyy)
    *iyy = m[1];
  if (ixy)
    *ixy = m[2];
}

/* Gauss–Legendre nodes and weights on [−½, ½] (weights sum to 1), n = 2 … 5. */
static void
gl_nodes (int n, double *x, double *w)
{
  static const double x2[] = { 0.5773502691896258 };
  static const double x3[] = { 0.0, 0.7745966692414834 };
  static const double w3[] = { 0.8888888888888888, 0.5555555555555556 };
  static const double x4[] = { 0.3399810435848563, 0.8611363115940526 };
  static const double w4[] = { 0.6521451548625461, 0.3478548451374538 };
  static const double x5[] = { 0.0, 0.5384693101056831, 0.9061798459386640 };
  static const double w5[] = { 0.5688888888888889, 0.4786286704993665, 0.2369268850561891 };
  switch (n)
    {
    case 2:
      x[0] = -0.5 * x2[0], x[1] = 0.5 * x2[0];
      w[0] = w[1] = 0.5;
      break;
    case 3:
      x[0] = -0.5 * x3[1], x[1] = 0.0, x[2] = 0.5 * x3[1];
      w[0] = w[2] = 0.5 * w3[1], w[1] = 0.5 * w3[0];
      break;
    case 4:
      x[0] = -0.5 * x4[1], x[1] = -0.5 * x4[0], x[2] = 0.5 * x4[0], x[3] = 0.5 * x4[1];
      w[0] = w[3] = 0.5 * w4[1], w[1] = w[2] = 0.5 * w4[0];
      break;
    default:
      x[0] = -0.5 * x5[2], x[1] = -0.5 * x5[1], x[2] = 0.0, x[3] = 0.5 * x5[1];
      x[4] = 0.5 * x5[2];
      w[0] = w[4] = 0.5 * w5[2], w[1] = w[3] = 0.5 * w5[1], w[2] = 0.5 * w5[0];
      break;
    }
}

void
dia_psf_render (const DiaPsf *psf, double x, double y, double dx, double dy, float *out,
                int size)
{
  int h = size / 2;
  double sum = 0.0;

  g_return_if_fail (psf != NULL && out != NULL && size > 0 && size % 2 == 1);
  if (!isfinite (dx))
    dx = 0.0;
  if (!isfinite (dy))
    dy = 0.0;
  if (psf->kind == PSF_KIND_PIXELS)
    {
      /* out(i, j) = stamp(i − dx + off, j − dy + off): shift the stamp by +d. */
      int sh = psf->stamp_side / 2;
      psf_shift (psf->stamp, psf->stamp_side, psf->stamp_side, psf->pix_off_x - dx,
                 psf->pix_off_y - dy, out, size, size,
                 sh - h, sh - h);
    }
  else
    {
      double m[3], minv[3], beta, scale, sigma_min, node[5], weight[5];
      int n_sub;
      psf_local (psf, x, y, m, &beta);
      if (!psf_inverse (m, minv))
        {
          memset (out, 0, (gsize) size * size * sizeof (float));
          out[h * size + h] = 1.0f;
          return;
        }
      /* q_S = dᵀ S⁻¹ d = dᵀ M⁻¹ d × (2^{1/β} − 1) / (2 ln 2). */
      scale = isnan (beta) ? 1.0 : (pow (2.0, 1.0 / beta) - 1.0) / (2.0 * G_LN2);
      /* Pixel integration by Gauss–Legendre quadrature on [−½, ½]²: unlike a midpoint grid it
       * reproduces the pixel's 1/12 px² variance exactly, so FWHM and NEA of the rendered
       * stamp are right for narrow PSFs too.  More points for narrower profiles. */
      sigma_min = sqrt (MAX (1e-6, 0.5 * (m[0] + m[1])
                                       - sqrt (0.25 * (m[0] - m[1]) * (m[0] - m[1])
                                               + m[2] * m[2])));
      n_sub = sigma_min >= 1.0 ? 3 : sigma_min >= 0.6 ? 4 : 5;
      gl_nodes (n_sub, node, weight);
      for (int j = 0; j < size; j++)
        for (int i = 0; i < size; i++)
          {
            double acc = 0.0;
            for (int b = 0; b < n_sub; b++)
              for (int a = 0; a < n_sub; a++)
                {
                  double ux = i - h - dx + node[a];
                  double uy = j - h - dy + node[b];
                  double q = minv[0] * ux * ux + 2.0 * minv[2] * ux * uy + minv[1] * uy * uy;
                  acc += weight[a] * weight[b] * psf_profile (q, beta, scale);
                }
            out[j * size + i] = (float) acc;
          }
    }
  for (int k = 0; k < size * size; k++)
    sum += out[k];
  if (sum > 0.0)
    for (int k = 0; k < size * size; k++)
      out[k] = (float) (out[k] / sum);
}

double
dia_psf_nea (const DiaPsf *psf, double x, double y)
{
  int size;
  float *buf;
  double s2 = 0.0;
  g_return_val_if_fail (psf != NULL, NAN);
  size = dia_psf_stamp_size (psf);
  buf = g_new (float, (gsize) size * size);
  dia_psf_render (psf, x, y, 0.0, 0.0, buf, size);
  for (int k = 0; k < size * size; k++)
    s2 += (double) buf[k] * buf[k];
  g_free (buf);
  return s2 > 0.0 ? 1.0 / s2 : NAN;
}

int
dia_psf_stamp_size (const DiaPsf *psf)
{
  g_return_val_if_fail (psf != NULL, 0);
  return psf->natural_size;
}

int
dia_psf_n_stars (const DiaPsf *psf)
{
  g_return_val_if_fail (psf != NULL, 0);
  return psf->n_stars;
}

char *
dia_psf_dup_description (const DiaPsf *psf)
{
  g_return_val_if_fail (psf != NULL, NULL);
  switch (psf->kind)
    {
    case PSF_KIND_PIXELS:
      return g_strdup_printf (_("pixel PSF %d × %d, FWHM %.2f px"), psf->stamp_side,
                              psf->stamp_side, psf->fwhm_lo);
    case PSF_KIND_MOFFAT:
      return g_strdup_printf (_("Moffat β=%.1f, FWHM %.2f–%.2f px, %d stars"), psf->beta_mid,
                              psf->fwhm_lo, psf->fwhm_hi, psf->n_stars);
    case PSF_KIND_GAUSSIAN:
    default:
      if (psf->n_stars == 0)
        return g_strdup_printf (_("Gaussian, FWHM %.2f px"), psf->fwhm_lo);
      return g_strdup_printf (_("Gaussian, FWHM %.2f–%.2f px, %d stars"), psf->fwhm_lo,
                              psf->fwhm_hi, psf->n_stars);
    }
}
