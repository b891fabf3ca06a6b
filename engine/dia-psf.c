/* dia-psf.c — analytic PSF fits with spatial variation, and pixel PSFs.
 *
 * Star finding is in dia-stars.c, adaptive moments in dia-moments.c, the one-star fit in
 * dia-psf-fit.c and stamp PSFs in dia-psf-pixels.c (shared declarations: dia-psf-private.h).
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
#include "dia-psf-private.h"
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

#define PSF_MAX_ORDER  4
#define PSF_BETA_STARS 40        /* brightest stars whose fits set β                      */


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

/* Unnormalised profile at squared "radius" q = dᵀ M⁻¹ d (Gaussian-equivalent units). */
static inline double
psf_profile (double q, double beta, double moffat_scale)
{
  if (isnan (beta))
    return exp (-0.5 * q);
  /* dᵀ S⁻¹ d = q (2^{1/β} − 1) / (2 ln 2), see the file comment. */
  return exp (-beta * log1p (q * moffat_scale));
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
void
_dia_psf_finish (DiaPsf *psf)
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
        amax = sqrt (_dia_psf_max_eigen (m));
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
        job->fits[i] = _dia_psf_fit_star (job->image, b, s->x, s->y, job->fwhm_guess, s->peak, TRUE,
                                 beta);
      if (!job->fits[i].ok)
        job->fits[i] = _dia_psf_fit_star (job->image, b, s->x, s->y, job->fwhm_guess, s->peak, FALSE,
                                 NAN);
    }
}

DiaPsf *
_dia_psf_new (PsfKind kind)
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
  qsort (sel, n_sel, sizeof (DiaStar), _dia_star_cmp_flux);
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
        if (_dia_psf_adaptive_moments (&plane, sel[i].x, sel[i].y, 1.5, 20.0, 3.0, 16.0, &xc, &yc, m)
            == AM_OK)
          tmp[k++] = FWHM_PER_SIGMA * sqrt (MAX (m[0] + m[1], 0.01) / 2.0);
      }
    fwhm_guess = k > 0 ? _dia_psf_median (tmp, k) : 3.0;
  }

  /* Two passes.  With β free, faint stars trade β against α and their FWHM scatters and
   * drifts with S/N (by 5 % on a Moffat ⋆ Gaussian PSF); so β is fitted on the brightest
   * stars only (pass 1), turned into a field, and held fixed at each star's position while
   * all stars are fitted for width and shape (pass 2). */
  fits = g_new0 (StarFit, MAX (n_sel, 1));
  if (n_sel >= 3)
    {
      int n1 = MIN (n_sel, PSF_BETA_STARS), k = 0, n_m = 0;
      g_autoptr (DiaPsf) beta_psf = _dia_psf_new (PSF_KIND_MOFFAT);
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
              beta_psf->c_beta[0] = _dia_psf_median (tmpb, m);
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

  psf = _dia_psf_new (moffat ? PSF_KIND_MOFFAT : PSF_KIND_GAUSSIAN);
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
      sig = 1.4826 * _dia_psf_median (tmp, m);
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
  _dia_psf_finish (psf);
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
  DiaPsf *psf = _dia_psf_new (PSF_KIND_GAUSSIAN);
  psf->order = 0;
  psf->n_terms = 1;
  psf->c_fwhm[0] = isfinite (fwhm) && fwhm > 0.3 ? fwhm : 0.3;
  _dia_psf_finish (psf);
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
      _dia_psf_shift (psf->stamp, psf->stamp_side, psf->stamp_side, psf->pix_off_x - dx,
                 psf->pix_off_y - dy, out, size, size,
                 sh - h, sh - h);
    }
  else
    {
      double m[3], minv[3], beta, scale, sigma_min, node[5], weight[5];
      int n_sub;
      psf_local (psf, x, y, m, &beta);
      if (!_dia_psf_inverse (m, minv))
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
