/* dia-kernel.c — the Alard–Lupton basis and the spatially varying kernel solution object.
 *
 * The basis follows ALGORITHMS.md §1.2–1.4: a short list of Gaussians (σ list and kernel size
 * derived from the two PSF FWHMs, or taken from the configuration), each multiplied by every
 * monomial (u/h)^i (v/h)^j of total degree ≤ its degree, in the afw PolynomialFunction2 order
 * 1, x, y, x², xy, y², ….  Everything is computed in double and only the final, renormalised
 * images are stored as float: B_0 (the first Gaussian) has unit sum, every other image has
 * zero sum and unit L2 norm, so the kernel sum of any solution equals its first coefficient.
 *
 * The solution object is a plain reference-counted struct (the fields are public in
 * dia-kernel.h so the convolution code can read the basis and coefficients directly).  It is
 * immutable after construction, hence safe to share between threads; only the reference count
 * is touched atomically.  Spatial variation uses products of Chebyshev polynomials of the first
 * kind on the fit domain (§2.4); the first coefficient is spatially constant (§1.5).
 *
 * Copyright 2026 The Diffscope authors.  SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "dia-kernel.h"

#include <math.h>
#include <string.h>

/* Single-precision epsilon: below this a basis sum counts as zero (§1.4, odd terms). */
#define BASIS_SUM_EPSILON 1.19e-7

void
dia_basis_params_init (DiaBasisParams *params)
{
  g_return_if_fail (params != NULL);
  memset (params, 0, sizeof *params);
  params->n_gauss = 3;
  params->sigma[0] = 0.7;
  params->sigma[1] = 1.5;
  params->sigma[2] = 3.0;
  params->degree[0] = 4;
  params->degree[1] = 2;
  params->degree[2] = 2;
  params->beta = 2.0;
  params->min_sigma = 0.7;
  params->min_sigma_deconv = 0.4;
  params->scale_by_fwhm = TRUE;
  params->kernel_size = 21;
  params->fixed_size = FALSE;
  params->fixed_sigmas = FALSE;
  params->size_fwhm_scaling = 6.0;
  params->size_min = 21;
  params->size_max = 35;
}

static int
basis_make_odd (int n)
{
  return (n % 2 == 0) ? n + 1 : n;
}

/* §1.2 step 7: size from the largest σ, truncated, made odd, clamped.  The clamp bounds are
 * themselves made odd so the result always is. */
static int
basis_size_from_sigma (const DiaBasisParams *params, double sigma_last)
{
  double raw = params->size_fwhm_scaling * sigma_last;
  int lo = basis_make_odd (MAX (params->size_min, 1));
  int hi = basis_make_odd (MAX (params->size_max, lo));
  int n;

  if (!isfinite (raw) || raw > 10000.0)
    raw = hi;
  n = basis_make_odd ((int) MAX (raw, 1.0));
  return CLAMP (n, lo, hi);
}

/* Fills out from params in every mode.  fwhm_convolved is the FWHM of the image the kernel
 * is applied to, fwhm_reference that of the image it is matched to, both in px; NAN (or a
 * non-positive value) selects config mode.  Threads: pure function. */
void
dia_basis_config_from_fwhm (const DiaBasisParams *params, double fwhm_convolved,
                            double fwhm_reference, DiaBasisConfig *out)
{
  const double fwhm_to_sigma = 1.0 / (2.0 * sqrt (2.0 * log (2.0)));
  int n_gauss;
  double sigma_c, sigma_r, sigma_big, sigma_small, sigma_min, sigma_k;

  g_return_if_fail (params != NULL && out != NULL);

  memset (out, 0, sizeof *out);
  n_gauss = CLAMP (params->n_gauss, 1, DIA_KERNEL_MAX_GAUSS);
  out->n_gauss = n_gauss;
  for (int g = 0; g < n_gauss; g++)
    {
      out->sigma[g] = params->sigma[g] > 0 ? params->sigma[g] : 1.0;
      out->degree[g] = CLAMP (params->degree[g], 0, 10);
    }
  out->size = basis_make_odd (MAX (params->kernel_size, 3));
  out->mode = DIA_BASIS_MODE_CONFIG;

  if (!params->scale_by_fwhm || !isfinite (fwhm_convolved) || !isfinite (fwhm_reference)
      || fwhm_convolved <= 0 || fwhm_reference <= 0)
    return;

  sigma_c = fwhm_convolved * fwhm_to_sigma;
  sigma_r = fwhm_reference * fwhm_to_sigma;

  if (sigma_c != sigma_r && !params->fixed_sigmas)
    {
      if (sigma_r > sigma_c)
        {
          out->mode = DIA_BASIS_MODE_CONVOLUTION;
          sigma_big = sigma_r;
          sigma_small = sigma_c;
          sigma_min = params->min_sigma;
        }
      else
        {
          out->mode = DIA_BASIS_MODE_DECONVOLUTION;
          sigma_big = sigma_c;
          sigma_small = sigma_r;
          sigma_min = params->min_sigma_deconv;
        }
      sigma_k = sqrt (sigma_big * sigma_big - sigma_small * sigma_small);
      if (sigma_k < sigma_min)
        sigma_k = sigma_min;
      out->sigma[0] = n_gauss > 1 ? MAX (sigma_min, sigma_k / params->beta) : sigma_k;
      for (int g = 1; g < n_gauss; g++)
        out->sigma[g] = out->sigma[g - 1] * params->beta;
    }

  if (params->fixed_size && params->kernel_size > 0)
    out->size = basis_make_odd (params->kernel_size);
  else
    out->size = basis_size_from_sigma (params, out->sigma[n_gauss - 1]);
}

int
dia_basis_count (const DiaBasisConfig *config)
{
  int n = 0;
  g_return_val_if_fail (config != NULL, 0);
  for (int g = 0; g < config->n_gauss && g < DIA_KERNEL_MAX_GAUSS; g++)
    {
      int d = MAX (config->degree[g], 0);
      n += (d + 1) * (d + 2) / 2;
    }
  return n;
}

/* Returns n_basis × size² floats (g_free), or NULL when the configuration is unusable (size
 * not odd or not in [1, 255], no Gaussian, non-positive σ).  Threads: pure function. */
float *
dia_basis_build (const DiaBasisConfig *config, int *n_basis)
{
  int size, h, nb, npix, k = 0;
  double *work, *b0;
  float *out;

  g_return_val_if_fail (config != NULL && n_basis != NULL, NULL);
  *n_basis = 0;
  size = config->size;
  if (size < 1 || size > 255 || size % 2 == 0 || config->n_gauss < 1
      || config->n_gauss > DIA_KERNEL_MAX_GAUSS)
    return NULL;
  for (int g = 0; g < config->n_gauss; g++)
    if (!(config->sigma[g] > 0) || !isfinite (config->sigma[g]) || config->degree[g] < 0)
      return NULL;

  h = size / 2;
  npix = size * size;
  nb = dia_basis_count (config);
  work = g_try_new0 (double, (gsize) nb * npix);
  out = g_try_new (float, (gsize) nb * npix);
  if (work == NULL || out == NULL)
    {
      g_free (work);
      g_free (out);
      return NULL;
    }

  for (int g = 0; g < config->n_gauss; g++)
    {
      double sigma = config->sigma[g], norm = 0;
      double gauss[256];
      for (int t = -h; t <= h; t++)
        {
          gauss[t + h] = exp (-(double) t * t / (2.0 * sigma * sigma));
          norm += gauss[t + h];
        }
      norm = norm * norm;
      for (int deg = 0; deg <= config->degree[g]; deg++)
        for (int j = 0; j <= deg; j++)
          {
            int i = deg - j;            /* x power, descending: x^deg, x^(deg-1) y, …, y^deg */
            double *img = work + (gsize) k * npix;
            for (int v = -h; v <= h; v++)
              for (int u = -h; u <= h; u++)
                {
                  double px = h > 0 ? pow ((double) u / h, i) : (i == 0);
                  double py = h > 0 ? pow ((double) v / h, j) : (j == 0);
                  img[(v + h) * size + (u + h)] = gauss[u + h] * gauss[v + h] / norm * px * py;
                }
            k++;
          }
    }

  /* §1.4: B_0 keeps unit sum; the others lose B_0's flux (when they have any) and get unit
   * L2 norm. */
  b0 = work;
  for (int n = 1; n < nb; n++)
    {
      double *img = work + (gsize) n * npix, s = 0, s2 = 0;
      for (int p = 0; p < npix; p++)
        s += img[p];
      if (fabs (s) > BASIS_SUM_EPSILON)
        for (int p = 0; p < npix; p++)
          img[p] = img[p] / s - b0[p];
      for (int p = 0; p < npix; p++)
        s2 += img[p] * img[p];
      if (s2 > 0)
        {
          double inv = 1.0 / sqrt (s2);
          for (int p = 0; p < npix; p++)
            img[p] *= inv;
        }
    }
  for (gsize p = 0; p < (gsize) nb * npix; p++)
    out[p] = (float) work[p];
  g_free (work);
  *n_basis = nb;
  return out;
}

int
dia_kernel_n_terms (int order)
{
  if (order < 0)
    return 0;
  return (order + 1) * (order + 2) / 2;
}

/* T_j(x') T_k(y') products in the order 1, x, y, x², xy, y², … (total order ≤ order).  A
 * degenerate domain (zero width) maps everything to x' = 0.  Threads: pure function. */
void
dia_kernel_spatial_terms (const double domain[4], int order, double x, double y, double *f)
{
  double tx[32], ty[32], xs, ys, wx, wy;
  int k = 0;

  if (order < 0)
    return;
  order = MIN (order, 31);
  wx = domain[1] - domain[0];
  wy = domain[3] - domain[2];
  xs = wx != 0 ? 2.0 * (x - 0.5 * (domain[0] + domain[1])) / wx : 0.0;
  ys = wy != 0 ? 2.0 * (y - 0.5 * (domain[2] + domain[3])) / wy : 0.0;
  tx[0] = ty[0] = 1.0;
  if (order >= 1)
    {
      tx[1] = xs;
      ty[1] = ys;
    }
  for (int n = 2; n <= order; n++)
    {
      tx[n] = 2.0 * xs * tx[n - 1] - tx[n - 2];
      ty[n] = 2.0 * ys * ty[n - 1] - ty[n - 2];
    }
  for (int deg = 0; deg <= order; deg++)
    for (int j = 0; j <= deg; j++)
      f[k++] = tx[deg - j] * ty[j];
}

/* Takes ownership of basis (n_basis × size² floats, g_malloc'd) and coef (g_malloc'd, length
 * 1 + (n_basis − 1)·n_spatial + n_bg).  bg_order < 0 means no background term.  Returns a new
 * reference; NULL on invalid arguments (and then frees nothing — the caller keeps ownership). */
DiaKernelSolution *
dia_kernel_solution_new (const DiaBasisConfig *config, float *basis, int n_basis,
                         int spatial_order, int bg_order, double *coef, const double domain[4])
{
  DiaKernelSolution *sol;

  g_return_val_if_fail (config != NULL && basis != NULL && coef != NULL && domain != NULL,
                        NULL);
  g_return_val_if_fail (n_basis >= 1 && spatial_order >= 0 && spatial_order < 32, NULL);
  g_return_val_if_fail (bg_order < 32, NULL);

  sol = g_new0 (DiaKernelSolution, 1);
  sol->ref_count = 1;
  sol->config = *config;
  sol->n_basis = n_basis;
  sol->basis = basis;
  sol->spatial_order = spatial_order;
  sol->n_spatial = dia_kernel_n_terms (spatial_order);
  sol->bg_order = bg_order < 0 ? -1 : bg_order;
  sol->n_bg = dia_kernel_n_terms (bg_order);
  sol->coef = coef;
  memcpy (sol->domain, domain, sizeof sol->domain);
  sol->condition_number = NAN;
  sol->n_stamps_used = 0;
  return sol;
}

DiaKernelSolution *
dia_kernel_solution_ref (DiaKernelSolution *sol)
{
  g_return_val_if_fail (sol != NULL, NULL);
  g_atomic_int_inc (&sol->ref_count);
  return sol;
}

void
dia_kernel_solution_unref (DiaKernelSolution *sol)
{
  if (sol == NULL)
    return;
  if (g_atomic_int_dec_and_test (&sol->ref_count))
    {
      g_free (sol->basis);
      g_free (sol->coef);
      g_free (sol);
    }
}

/* Local coefficients a_n(x, y) of the basis at (x, y) into a[n_basis]. */
static void
kernel_local_coefficients (const DiaKernelSolution *sol, double x, double y, double *a)
{
  double f[528];
  int ns = sol->n_spatial;

  dia_kernel_spatial_terms (sol->domain, sol->spatial_order, x, y, f);
  a[0] = sol->coef[0];
  for (int n = 1; n < sol->n_basis; n++)
    {
      const double *c = sol->coef + 1 + (gsize) (n - 1) * ns;
      double s = 0;
      for (int j = 0; j < ns; j++)
        s += c[j] * f[j];
      a[n] = s;
    }
}

static void
kernel_eval_double (const DiaKernelSolution *sol, double x, double y, double *out)
{
  int npix = sol->config.size * sol->config.size;
  double *a = g_new (double, sol->n_basis);

  kernel_local_coefficients (sol, x, y, a);
  memset (out, 0, sizeof (double) * npix);
  for (int n = 0; n < sol->n_basis; n++)
    {
      const float *b = sol->basis + (gsize) n * npix;
      double an = a[n];
      if (an == 0)
        continue;
      for (int p = 0; p < npix; p++)
        out[p] += an * b[p];
    }
  g_free (a);
}

/* out: size² floats owned by the caller.  Threads: any (the solution is immutable). */
void
dia_kernel_solution_eval (const DiaKernelSolution *sol, double x, double y, float *out)
{
  int npix;
  double *k;

  g_return_if_fail (sol != NULL && out != NULL);
  npix = sol->config.size * sol->config.size;
  k = g_new (double, npix);
  kernel_eval_double (sol, x, y, k);
  for (int p = 0; p < npix; p++)
    out[p] = (float) k[p];
  g_free (k);
}

/* Σ K at (x, y); equals coef[0] for a renormalised AL basis, but is summed explicitly so
 * that solutions built on other bases (tests, PCA) stay correct. */
double
dia_kernel_solution_sum (const DiaKernelSolution *sol, double x, double y)
{
  int npix;
  double *k, s = 0;

  g_return_val_if_fail (sol != NULL, NAN);
  npix = sol->config.size * sol->config.size;
  k = g_new (double, npix);
  kernel_eval_double (sol, x, y, k);
  for (int p = 0; p < npix; p++)
    s += k[p];
  g_free (k);
  return s;
}

/* Differential background at (x, y) in pix units of the reference image; 0 when not fitted. */
double
dia_kernel_solution_background (const DiaKernelSolution *sol, double x, double y)
{
  double f[528], s = 0;
  const double *e;

  g_return_val_if_fail (sol != NULL, NAN);
  if (sol->n_bg <= 0)
    return 0.0;
  dia_kernel_spatial_terms (sol->domain, sol->bg_order, x, y, f);
  e = sol->coef + 1 + (gsize) (sol->n_basis - 1) * sol->n_spatial;
  for (int j = 0; j < sol->n_bg; j++)
    s += e[j] * f[j];
  return s;
}

/* n_spatial images of size² floats (g_free); K_0 contains coef[0]·B_0.  Threads: any. */
float *
dia_kernel_solution_collapse (const DiaKernelSolution *sol)
{
  int npix, ns;
  double *acc;
  float *out;

  g_return_val_if_fail (sol != NULL, NULL);
  npix = sol->config.size * sol->config.size;
  ns = sol->n_spatial;
  acc = g_new0 (double, (gsize) ns * npix);
  for (int p = 0; p < npix; p++)
    acc[p] = sol->coef[0] * sol->basis[p];
  for (int n = 1; n < sol->n_basis; n++)
    {
      const float *b = sol->basis + (gsize) n * npix;
      const double *c = sol->coef + 1 + (gsize) (n - 1) * ns;
      for (int m = 0; m < ns; m++)
        {
          double *km = acc + (gsize) m * npix;
          if (c[m] == 0)
            continue;
          for (int p = 0; p < npix; p++)
            km[p] += c[m] * b[p];
        }
    }
  out = g_new (float, (gsize) ns * npix);
  for (gsize p = 0; p < (gsize) ns * npix; p++)
    out[p] = (float) acc[p];
  g_free (acc);
  return out;
}

/* §5.3: marginal centroid of the un-normalised kernel image at (x, y) minus the centre h, in
 * px (u along columns = dx, v along rows = dy).  Under the correlation convention a kernel
 * whose centroid is at +d moves image content by −d.  NAN when the kernel sums to zero. */
void
dia_kernel_solution_centroid (const DiaKernelSolution *sol, double x, double y, double *dx,
                              double *dy)
{
  int size, h;
  double *k, s = 0, su = 0, sv = 0;

  g_return_if_fail (sol != NULL && dx != NULL && dy != NULL);
  size = sol->config.size;
  h = size / 2;
  k = g_new (double, (gsize) size * size);
  kernel_eval_double (sol, x, y, k);
  for (int j = 0; j < size; j++)
    for (int i = 0; i < size; i++)
      {
        double v = k[j * size + i];
        s += v;
        su += v * i;
        sv += v * j;
      }
  g_free (k);
  if (s == 0 || !isfinite (s))
    {
      *dx = *dy = NAN;
      return;
    }
  *dx = su / s - h;
  *dy = sv / s - h;
}

int
dia_kernel_square_radius (const float *k2, int size)
{
  g_autofree double *ring = NULL;
  double total = 0.0, outside = 0.0;
  int h = size / 2, r = h;

  g_return_val_if_fail (k2 != NULL && size > 0, 0);
  ring = g_new0 (double, h + 1);
  for (int v = 0; v < size; v++)
    for (int u = 0; u < size; u++)
      ring[MAX (ABS (u - h), ABS (v - h))] += k2[v * size + u];
  for (int d = 0; d <= h; d++)
    total += ring[d];
  while (r > 0 && outside + ring[r] <= DIA_KERNEL_SQUARE_EPS * total)
    outside += ring[r--];
  return r;
}
