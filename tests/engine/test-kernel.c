/* test-kernel.c — the Alard–Lupton basis and the kernel solution object (dia-kernel.h).
 *
 * Checks the numbers of ALGORITHMS.md §1.2–1.5 and §5.3: basis count, sums and norms after
 * renormalisation, the σ list of the worked example, the deconvolution floor, Chebyshev terms,
 * evaluation, collapse and the sign of the kernel centroid.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "test-util.h"
#include "dia-kernel.h"
#include "dia-rng.h"

#include <math.h>
#include <string.h>

static void
test_basis_defaults (void)
{
  DiaBasisParams params;
  DiaBasisConfig config;
  g_autofree float *basis = NULL;
  int nb = 0, npix;

  dia_basis_params_init (&params);
  dia_basis_config_from_fwhm (&params, NAN, NAN, &config);
  g_assert_cmpint (config.mode, ==, DIA_BASIS_MODE_CONFIG);
  g_assert_cmpint (config.size, ==, 21);
  g_assert_cmpint (dia_basis_count (&config), ==, 27);
  basis = dia_basis_build (&config, &nb);
  g_assert_nonnull (basis);
  g_assert_cmpint (nb, ==, 27);
  npix = config.size * config.size;

  for (int n = 0; n < nb; n++)
    {
      double s = 0, s2 = 0;
      for (int p = 0; p < npix; p++)
        {
          s += basis[n * npix + p];
          s2 += (double) basis[n * npix + p] * basis[n * npix + p];
        }
      if (n == 0)
        g_assert_cmpfloat_with_epsilon (s, 1.0, 1e-6);
      else
        {
          g_assert_cmpfloat (fabs (s), <, 1e-6);
          g_assert_cmpfloat_with_epsilon (s2, 1.0, 1e-5);
        }
    }
  /* B_0 is the narrowest Gaussian: peak at the centre, symmetric. */
  {
    int h = config.size / 2;
    float c = basis[h * config.size + h];
    g_assert_cmpfloat_with_epsilon (c, 1.0 / (2 * G_PI * 0.49), 0.02);
    g_assert_cmpfloat_with_epsilon (basis[h * config.size + h + 1],
                                    basis[(h + 1) * config.size + h], 1e-7);
  }
  /* Basis 1 is G_0 · (u/h): odd in u, so its sum is zero without renormalisation and it is
   * antisymmetric about the centre column. */
  {
    int h = config.size / 2;
    const float *b1 = basis + npix;
    g_assert_cmpfloat_with_epsilon (b1[h * config.size + h + 2], -b1[h * config.size + h - 2],
                                    1e-7);
    g_assert_cmpfloat (b1[h * config.size + h + 1], >, 0);
  }
}

static void
test_basis_sigmas (void)
{
  DiaBasisParams params;
  DiaBasisConfig config;

  dia_basis_params_init (&params);

  /* §1.2 worked example: science FWHM 4, template FWHM 3, template convolved. */
  dia_basis_config_from_fwhm (&params, 3.0, 4.0, &config);
  g_assert_cmpint (config.mode, ==, DIA_BASIS_MODE_CONVOLUTION);
  g_assert_cmpint (config.n_gauss, ==, 3);
  g_assert_cmpfloat_with_epsilon (config.sigma[0], 0.70, 0.005);
  g_assert_cmpfloat_with_epsilon (config.sigma[1], 1.40, 0.01);
  g_assert_cmpfloat_with_epsilon (config.sigma[2], 2.80, 0.02);
  g_assert_cmpint (config.size, ==, 21);
  g_assert_cmpint (config.degree[0], ==, 4);
  g_assert_cmpint (config.degree[2], ==, 2);

  /* Larger difference: σ_K = sqrt(σ_r² − σ_c²) = 3.0 → σ (1.5, 3, 6), size int(36) → 37 → 35. */
  {
    double s_c = 2.0, s_r = sqrt (4.0 + 9.0);
    double k = 2 * sqrt (2 * log (2));
    dia_basis_config_from_fwhm (&params, s_c * k, s_r * k, &config);
    g_assert_cmpfloat_with_epsilon (config.sigma[0], 1.5, 1e-9);
    g_assert_cmpfloat_with_epsilon (config.sigma[2], 6.0, 1e-9);
    g_assert_cmpint (config.size, ==, 35);
  }

  /* Equal FWHMs: configured σ list, but the size comes from 6 × 3.0 = 18 → 19 → 21. */
  dia_basis_config_from_fwhm (&params, 3.0, 3.0, &config);
  g_assert_cmpint (config.mode, ==, DIA_BASIS_MODE_CONFIG);
  g_assert_cmpfloat (config.sigma[1], ==, 1.5);
  g_assert_cmpint (config.size, ==, 21);

  /* Deconvolution: the convolved image is broader; floor is min_sigma_deconv = 0.4.  With
   * σ_c² − σ_r² tiny, σ_K clamps to 0.4 and σ_0 = max(0.4, 0.2) = 0.4. */
  dia_basis_config_from_fwhm (&params, 3.05, 3.0, &config);
  g_assert_cmpint (config.mode, ==, DIA_BASIS_MODE_DECONVOLUTION);
  g_assert_cmpfloat_with_epsilon (config.sigma[0], 0.4, 1e-12);
  g_assert_cmpfloat_with_epsilon (config.sigma[1], 0.8, 1e-12);
  g_assert_cmpfloat_with_epsilon (config.sigma[2], 1.6, 1e-12);
  /* The same pair in convolution mode uses the 0.7 floor. */
  dia_basis_config_from_fwhm (&params, 3.0, 3.05, &config);
  g_assert_cmpint (config.mode, ==, DIA_BASIS_MODE_CONVOLUTION);
  g_assert_cmpfloat_with_epsilon (config.sigma[0], 0.7, 1e-12);

  /* A forced size wins over the FWHM rule. */
  params.fixed_size = TRUE;
  params.kernel_size = 25;
  dia_basis_config_from_fwhm (&params, 3.0, 4.0, &config);
  g_assert_cmpint (config.size, ==, 25);
}

static void
test_chebyshev_terms (void)
{
  double domain[4] = { -0.5, 1023.5, -0.5, 511.5 };
  double f[10];

  /* Corner (x_min, y_max): x' = −1, y' = +1. T = 1, x, y, 2x²−1, xy, 2y²−1. */
  dia_kernel_spatial_terms (domain, 2, -0.5, 511.5, f);
  g_assert_cmpfloat_with_epsilon (f[0], 1.0, 1e-12);
  g_assert_cmpfloat_with_epsilon (f[1], -1.0, 1e-12);
  g_assert_cmpfloat_with_epsilon (f[2], 1.0, 1e-12);
  g_assert_cmpfloat_with_epsilon (f[3], 1.0, 1e-12);
  g_assert_cmpfloat_with_epsilon (f[4], -1.0, 1e-12);
  g_assert_cmpfloat_with_epsilon (f[5], 1.0, 1e-12);
  /* Centre: all odd terms 0, T2 = −1. */
  dia_kernel_spatial_terms (domain, 2, 511.5, 255.5, f);
  g_assert_cmpfloat_with_epsilon (f[1], 0.0, 1e-12);
  g_assert_cmpfloat_with_epsilon (f[3], -1.0, 1e-12);
  g_assert_cmpfloat_with_epsilon (f[5], -1.0, 1e-12);
  /* Order 3 at x' = 0.5, y' = −0.5: T3(0.5) = 4·0.125 − 1.5 = −1; order 1,x,y,x²,xy,y²,x³,… */
  dia_kernel_spatial_terms (domain, 3, 767.5, 127.5, f);
  g_assert_cmpfloat_with_epsilon (f[6], -1.0, 1e-12);          /* T3(x')           */
  g_assert_cmpfloat_with_epsilon (f[7], -0.5 * -0.5, 1e-12);   /* T2(x') T1(y')    */
  g_assert_cmpfloat_with_epsilon (f[9], 1.0, 1e-12);           /* T3(y') = −T3(0.5) */
  g_assert_cmpint (dia_kernel_n_terms (0), ==, 1);
  g_assert_cmpint (dia_kernel_n_terms (1), ==, 3);
  g_assert_cmpint (dia_kernel_n_terms (2), ==, 6);
}

static DiaKernelSolution *
make_random_solution (DiaRng *rng, int spatial_order, int bg_order)
{
  DiaBasisParams params;
  DiaBasisConfig config;
  float *basis;
  double *coef;
  int nb, ns, nbg, nt;
  double domain[4] = { -0.5, 799.5, -0.5, 599.5 };

  dia_basis_params_init (&params);
  dia_basis_config_from_fwhm (&params, NAN, NAN, &config);
  basis = dia_basis_build (&config, &nb);
  ns = dia_kernel_n_terms (spatial_order);
  nbg = dia_kernel_n_terms (bg_order);
  nt = 1 + (nb - 1) * ns + nbg;
  coef = g_new (double, nt);
  coef[0] = 1.05;
  for (int i = 1; i < nt; i++)
    coef[i] = 0.1 * dia_rng_gaussian (rng);
  return dia_kernel_solution_new (&config, basis, nb, spatial_order, bg_order, coef, domain);
}

static void
test_solution_eval (void)
{
  DiaRng rng;
  g_autoptr (DiaKernelSolution) sol = NULL;
  g_autofree float *img = NULL;
  g_autofree float *coll = NULL;
  int npix, ns, nt;

  dia_rng_init (&rng, 42, 0);
  sol = make_random_solution (&rng, 2, 1);
  npix = sol->config.size * sol->config.size;
  ns = sol->n_spatial;
  g_assert_cmpint (ns, ==, 6);
  g_assert_cmpint (sol->n_bg, ==, 3);
  nt = 1 + (sol->n_basis - 1) * ns + sol->n_bg;
  img = g_new (float, npix);

  /* Kernel sum is a_0 everywhere (the other bases have zero sum). */
  g_assert_cmpfloat_with_epsilon (dia_kernel_solution_sum (sol, 10, 20), 1.05, 1e-5);
  g_assert_cmpfloat_with_epsilon (dia_kernel_solution_sum (sol, 790, 590), 1.05, 1e-5);

  /* Background: e_0 + e_1 x' + e_2 y' at the corner (x' = y' = 1). */
  {
    const double *e = sol->coef + nt - 3;
    g_assert_cmpfloat_with_epsilon (dia_kernel_solution_background (sol, 799.5, 599.5),
                                    e[0] + e[1] + e[2], 1e-12);
  }

  /* Collapse reproduces eval at random positions. */
  coll = dia_kernel_solution_collapse (sol);
  for (int trial = 0; trial < 20; trial++)
    {
      double x = dia_rng_uniform (&rng) * 800 - 0.5, y = dia_rng_uniform (&rng) * 600 - 0.5;
      double f[6], maxdiff = 0;
      dia_kernel_spatial_terms (sol->domain, sol->spatial_order, x, y, f);
      dia_kernel_solution_eval (sol, x, y, img);
      for (int p = 0; p < npix; p++)
        {
          double k = 0;
          for (int m = 0; m < ns; m++)
            k += f[m] * coll[m * npix + p];
          maxdiff = MAX (maxdiff, fabs (k - img[p]));
        }
      g_assert_cmpfloat (maxdiff, <, 1e-6);
    }

  /* A solution with only a_0 is a_0 · B_0 everywhere. */
  memset (sol->coef + 1, 0, sizeof (double) * (nt - 1));
  sol->coef[0] = 0.93;
  dia_kernel_solution_eval (sol, 123, 456, img);
  for (int p = 0; p < npix; p++)
    g_assert_cmpfloat_with_epsilon (img[p], 0.93 * sol->basis[p], 1e-7);
  g_assert_cmpfloat (dia_kernel_solution_background (sol, 1, 1), ==, 0.0);
}

/* A one-image "basis" holding a Gaussian centred at (+0.3, −0.2): the marginal centroid must
 * come back as (+0.3, −0.2) — the kernel's own offset, not the image shift it causes. */
static void
test_centroid (void)
{
  DiaBasisConfig config = { 0 };
  int size = 21, h = 10;
  float *img = g_new (float, size * size);
  double *coef = g_new (double, 1);
  double domain[4] = { -0.5, 99.5, -0.5, 99.5 };
  double dx, dy;
  g_autoptr (DiaKernelSolution) sol = NULL;

  config.n_gauss = 1;
  config.sigma[0] = 1.5;
  config.size = size;
  for (int v = -h; v <= h; v++)
    for (int u = -h; u <= h; u++)
      img[(v + h) * size + u + h] = 1.07 * exp (-((u - 0.3) * (u - 0.3) + (v + 0.2) * (v + 0.2))
                                                / (2 * 1.5 * 1.5)) / (2 * G_PI * 2.25);
  coef[0] = 1.0;
  sol = dia_kernel_solution_new (&config, img, 1, 0, -1, coef, domain);
  g_assert_cmpint (sol->n_bg, ==, 0);
  dia_kernel_solution_centroid (sol, 50, 50, &dx, &dy);
  g_assert_cmpfloat_with_epsilon (dx, 0.3, 0.01);
  g_assert_cmpfloat_with_epsilon (dy, -0.2, 0.01);
  g_assert_cmpfloat_with_epsilon (dia_kernel_solution_sum (sol, 0, 0), 1.07, 1e-3);

  /* A symmetric AL kernel has no offset. */
  {
    DiaRng rng;
    g_autoptr (DiaKernelSolution) al = NULL;
    int nt;
    dia_rng_init (&rng, 7, 0);
    al = make_random_solution (&rng, 1, -1);
    nt = 1 + (al->n_basis - 1) * al->n_spatial;
    memset (al->coef + 1, 0, sizeof (double) * (nt - 1));
    dia_kernel_solution_centroid (al, 300, 300, &dx, &dy);
    g_assert_cmpfloat (fabs (dx), <, 1e-5);
    g_assert_cmpfloat (fabs (dy), <, 1e-5);
    /* Adding the odd u-term (basis 1) moves the centroid towards +u. */
    al->coef[1] = 0.05;
    dia_kernel_solution_centroid (al, 300, 300, &dx, &dy);
    g_assert_cmpfloat (dx, >, 0.01);
    g_assert_cmpfloat (fabs (dy), <, 1e-5);
  }
}

static void
test_basis_invalid (void)
{
  DiaBasisConfig config = { 0 };
  int nb = -1;
  config.n_gauss = 1;
  config.sigma[0] = 1.0;
  config.size = 20;             /* even */
  g_assert_null (dia_basis_build (&config, &nb));
  g_assert_cmpint (nb, ==, 0);
  config.size = 21;
  config.sigma[0] = -1;
  g_assert_null (dia_basis_build (&config, &nb));
  config.sigma[0] = NAN;
  g_assert_null (dia_basis_build (&config, &nb));
}

int
main (int argc, char **argv)
{
  test_init (&argc, &argv);
  g_test_add_func ("/kernel/basis-defaults", test_basis_defaults);
  g_test_add_func ("/kernel/basis-sigmas", test_basis_sigmas);
  g_test_add_func ("/kernel/basis-invalid", test_basis_invalid);
  g_test_add_func ("/kernel/chebyshev", test_chebyshev_terms);
  g_test_add_func ("/kernel/solution-eval", test_solution_eval);
  g_test_add_func ("/kernel/centroid", test_centroid);
  return g_test_run ();
}
