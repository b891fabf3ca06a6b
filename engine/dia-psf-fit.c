/* dia-psf-fit.c — fitting one star with an elliptical Moffat (or Gaussian) profile integrated
 * over the pixels, for the PSF estimator (dia-psf.c; the model and its conventions are in that
 * file's comment).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "dia-image.h"
#include "dia-psf-private.h"

#include <gsl/gsl_multifit_nlinear.h>
#include <gsl/gsl_vector.h>
#include <gsl/gsl_matrix.h>
#include <math.h>
#include <string.h>

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


/* Gaussian-equivalent moments from the fitted Cholesky factor (see the file comment). */
static gboolean
fit_summarise (const gsl_vector *p, gboolean moffat, double beta_fixed, StarFit *out)
{
  double l11 = gsl_vector_get (p, 4), l21 = gsl_vector_get (p, 5), l22 = gsl_vector_get (p, 6);
  double winv[3] = { l11 * l11, l21 * l21 + l22 * l22, l11 * l21 }, s[3], scale, t;
  if (!_dia_psf_inverse (winv, s))
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
StarFit
_dia_psf_fit_star (const DiaImage *im, double bg_level, double xs, double ys, double fwhm_guess,
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
