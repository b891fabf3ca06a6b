/* test-convolve.c — properties of dia_convolve_plane / dia_convolve_image against naive
 * reference loops written here in double precision.
 *
 * Every engine result is checked against numbers that do not come from the engine: a naive
 * correlation loop (the dia-types.h definition, typed out), the per-pixel kernel from
 * dia_kernel_solution_eval, the per-cell Σ K² of the variance contract, and the empirical
 * variance of convolved white noise.  Both engines (direct and FFT tiles) are forced through
 * DiaConvolveParams.direct_max_size and compared.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "test-util.h"
#include "dia-convolve.h"
#include "dia-error.h"
#include "dia-image.h"
#include "dia-kernel.h"
#include "dia-monitor.h"
#include "dia-fft.h"

#include <math.h>
#include <string.h>

#define FORCE_DIRECT 1023
#define FORCE_FFT    1

/* ---------------------------------------------------------------------------------------- */
/* Helpers                                                                                    */

static double
gauss_rand (GRand *r)
{
  double u = g_rand_double_range (r, 1e-300, 1.0), v = g_rand_double (r);
  return sqrt (-2.0 * log (u)) * cos (2.0 * G_PI * v);
}

static float *
random_plane (int w, int h, guint32 seed, double offset, double sigma)
{
  g_autoptr (GRand) r = g_rand_new_with_seed (seed);
  float *p = g_new (float, (size_t) w * h);
  for (size_t i = 0; i < (size_t) w * h; i++)
    p[i] = (float) (offset + sigma * gauss_rand (r));
  return p;
}

static float *
random_kernel (int ks, guint32 seed)
{
  g_autoptr (GRand) r = g_rand_new_with_seed (seed);
  float *k = g_new (float, ks * ks);
  for (int i = 0; i < ks * ks; i++)
    k[i] = (float) g_rand_double_range (r, -0.2, 1.0) / (ks * ks);
  return k;
}

/* The definition: out(x, y) = Σ K(u, v) in(x + u, y + v), zero outside, in double. */
static double
naive_at (const float *in, int w, int h, const float *k, int ks, int x, int y)
{
  int hk = ks / 2;
  double s = 0;
  for (int v = -hk; v <= hk; v++)
    for (int u = -hk; u <= hk; u++)
      {
        int xx = x + u, yy = y + v;
        if (xx >= 0 && xx < w && yy >= 0 && yy < h)
          s += (double) k[(v + hk) * ks + (u + hk)] * in[(size_t) yy * w + xx];
      }
  return s;
}

static double
max_abs (const float *a, size_t n)
{
  double m = 0;
  for (size_t i = 0; i < n; i++)
    m = MAX (m, fabs (a[i]));
  return m;
}

/* An image of sky + noise + a few stars, with a Poisson-like variance plane. */
static DiaImage *
make_image (int w, int h, guint32 seed)
{
  g_autoptr (GRand) r = g_rand_new_with_seed (seed);
  DiaImage *im = dia_image_new (w, h, NULL);
  g_assert_nonnull (im);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      {
        size_t i = dia_image_index (im, x, y);
        im->pix[i] = (float) (100.0 + 10.0 * gauss_rand (r));
        im->var[i] = 100.0f;
      }
  for (int s = 0; s < 12; s++)
    {
      double cx = g_rand_double_range (r, 0, w), cy = g_rand_double_range (r, 0, h);
      double f = g_rand_double_range (r, 1e3, 1e5), sg = 1.8;
      for (int y = MAX (0, (int) cy - 12); y < MIN (h, (int) cy + 13); y++)
        for (int x = MAX (0, (int) cx - 12); x < MIN (w, (int) cx + 13); x++)
          {
            double d2 = (x - cx) * (x - cx) + (y - cy) * (y - cy);
            double v = f / (2 * G_PI * sg * sg) * exp (-0.5 * d2 / (sg * sg));
            size_t i = dia_image_index (im, x, y);
            im->pix[i] += (float) v;
            im->var[i] += (float) v;
          }
    }
  return im;
}

/* An Alard–Lupton solution with random (seeded) coefficients whose spatial terms are large
 * enough that the kernel visibly changes over the frame. */
static DiaKernelSolution *
make_solution (int ks, int spatial_order, int bg_order, int w, int h, guint32 seed)
{
  g_autoptr (GRand) r = g_rand_new_with_seed (seed);
  DiaBasisConfig cfg = { 0 };
  int nb, ns, nbg, ncoef;
  float *basis;
  double *coef;
  double domain[4] = { -0.5, w - 0.5, -0.5, h - 0.5 };

  cfg.n_gauss = 3;
  cfg.sigma[0] = 0.7;
  cfg.sigma[1] = 1.5;
  cfg.sigma[2] = MIN (3.0, ks / 6.0);
  cfg.degree[0] = 4;
  cfg.degree[1] = 2;
  cfg.degree[2] = 2;
  cfg.size = ks;
  cfg.mode = DIA_BASIS_MODE_CONFIG;
  basis = dia_basis_build (&cfg, &nb);
  g_assert_nonnull (basis);
  ns = dia_kernel_n_terms (spatial_order);
  nbg = dia_kernel_n_terms (bg_order);
  ncoef = 1 + (nb - 1) * ns + nbg;
  coef = g_new0 (double, ncoef);
  coef[0] = 1.0;
  for (int n = 1; n < nb; n++)
    for (int j = 0; j < ns; j++)
      coef[1 + (n - 1) * ns + j] = g_rand_double_range (r, -1, 1) * (j == 0 ? 0.08 : 0.04);
  for (int j = 0; j < nbg; j++)
    coef[1 + (nb - 1) * ns + j] = g_rand_double_range (r, -5, 5);
  return dia_kernel_solution_new (&cfg, basis, nb, spatial_order, bg_order, coef, domain);
}

static DiaImage *
convolve (const DiaImage *in, const DiaKernelSolution *sol, const DiaRect *rect, int direct_max,
          int n_threads)
{
  DiaConvolveParams p;
  g_autoptr (GError) error = NULL;
  DiaImage *out;
  dia_convolve_params_init (&p);
  p.direct_max_size = direct_max;
  p.n_threads = n_threads;
  out = dia_convolve_image (in, sol, rect, &p, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (out);
  return out;
}

/* ---------------------------------------------------------------------------------------- */
/* FFT sizes                                                                                  */

static gboolean
is_7_smooth (int n)
{
  int p[] = { 2, 3, 5, 7 };
  for (int i = 0; i < 4; i++)
    while (n % p[i] == 0)
      n /= p[i];
  return n == 1;
}

static void
test_good_size (void)
{
  g_assert_cmpint (dia_fft_good_size (0), ==, 1);
  g_assert_cmpint (dia_fft_good_size (1), ==, 1);
  g_assert_cmpint (dia_fft_good_size (11), ==, 12);
  g_assert_cmpint (dia_fft_good_size (13), ==, 14);
  g_assert_cmpint (dia_fft_good_size (17), ==, 18);
  g_assert_cmpint (dia_fft_good_size (541), ==, 560);
  g_assert_cmpint (dia_fft_good_size (1031), ==, 1050);
  for (int n = 1; n < 3000; n++)
    {
      int g = dia_fft_good_size (n);
      g_assert_cmpint (g, >=, n);
      g_assert_true (is_7_smooth (g));
      for (int m = n; m < g; m++)
        g_assert_false (is_7_smooth (m));
    }
}

static void
test_fft_cache (void)
{
  g_autoptr (DiaFftCache) cache = dia_fft_cache_new ();
  fftwf_plan a = dia_fft_plan_r2c (cache, 48, 30);
  fftwf_plan b = dia_fft_plan_c2r (cache, 48, 30);
  float *x = fftwf_malloc (sizeof (float) * 48 * 30), *y = fftwf_malloc (sizeof (float) * 48 * 30);
  fftwf_complex *c = fftwf_malloc (sizeof (fftwf_complex) * 30 * 25);

  g_assert_nonnull (a);
  g_assert_nonnull (b);
  g_assert_true (dia_fft_plan_r2c (cache, 48, 30) == a);   /* cached */
  g_assert_null (dia_fft_plan_r2c (cache, 0, 30));
  g_assert_null (dia_fft_plan_r2c (cache, 1 << 20, 4));
  for (int i = 0; i < 48 * 30; i++)
    x[i] = (float) sin (0.37 * i) + (i % 7);
  fftwf_execute_dft_r2c (a, x, c);
  /* Element 0 of the r2c output is the plain sum. */
  {
    double s = 0;
    for (int i = 0; i < 48 * 30; i++)
      s += x[i];
    g_assert_cmpfloat_with_epsilon (c[0][0], s, 1e-3 * fabs (s));
  }
  /* Round trip with the new-array interface; FFTW's inverse is unnormalised. */
  fftwf_execute_dft_c2r (b, c, y);
  for (int i = 0; i < 48 * 30; i++)
    g_assert_cmpfloat_with_epsilon (y[i] / (48.0 * 30.0), x[i], 2e-5);
  fftwf_free (x);
  fftwf_free (y);
  fftwf_free (c);
}

/* ---------------------------------------------------------------------------------------- */
/* dia_convolve_plane                                                                        */

/* Checks the plane engine (direct for small K, FFT tiles for large) against the naive loop
 * everywhere, borders included (zero padding). */
static void
check_plane_vs_naive (int w, int h, int ks, guint32 seed)
{
  g_autofree float *in = random_plane (w, h, seed, 50.0, 20.0);
  g_autofree float *k = random_kernel (ks, seed + 1);
  g_autofree float *out = g_new (float, (size_t) w * h);
  g_autoptr (GError) error = NULL;
  double scale = 0, worst = 0;

  g_assert_true (dia_convolve_plane (in, w, h, w, k, ks, out, w, 2, NULL, &error));
  g_assert_no_error (error);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      scale = MAX (scale, fabs (naive_at (in, w, h, k, ks, x, y)));
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      worst = MAX (worst, fabs (out[(size_t) y * w + x] - naive_at (in, w, h, k, ks, x, y)));
  g_test_message ("plane K=%d %dx%d: max |err| / max |out| = %.2e", ks, w, h, worst / scale);
  g_assert_cmpfloat (worst, <=, 1e-5 * scale);
}

static void
test_plane_naive (void)
{
  check_plane_vs_naive (97, 61, 7, 1);     /* direct */
  check_plane_vs_naive (130, 140, 21, 2);  /* FFT */
  check_plane_vs_naive (90, 75, 35, 3);    /* FFT, image barely larger than two kernels */
  check_plane_vs_naive (5, 9, 13, 4);      /* image smaller than the kernel */
}

static void
test_plane_delta (void)
{
  int sizes[] = { 7, 35 };
  int w = 83, h = 71;
  g_autofree float *in = random_plane (w, h, 11, 0.0, 100.0);
  g_autofree float *out = g_new (float, (size_t) w * h);

  for (int s = 0; s < 2; s++)
    {
      int ks = sizes[s];
      g_autofree float *k = g_new0 (float, ks * ks);
      k[(ks / 2) * ks + ks / 2] = 1.0f;
      g_assert_true (dia_convolve_plane (in, w, h, w, k, ks, out, w, 2, NULL, NULL));
      for (size_t i = 0; i < (size_t) w * h; i++)
        g_assert_cmpfloat (fabs (out[i] - in[i]), <=, 1e-5 * 400.0);
    }
}

/* A single 1 at (u, v) = (+2, −1): out(x, y) = in(x + 2, y − 1), i.e. content at (X, Y)
 * appears at (X − 2, Y + 1).  Checked for both engines. */
static void
test_plane_shift (void)
{
  int sizes[] = { 7, 21 };
  int w = 64, h = 48;
  g_autofree float *in = random_plane (w, h, 12, 0.0, 1.0);
  g_autofree float *out = g_new (float, (size_t) w * h);

  for (int s = 0; s < 2; s++)
    {
      int ks = sizes[s], hk = ks / 2;
      g_autofree float *k = g_new0 (float, ks * ks);
      k[(hk - 1) * ks + (hk + 2)] = 1.0f;
      g_assert_true (dia_convolve_plane (in, w, h, w, k, ks, out, w, 1, NULL, NULL));
      for (int y = 1; y < h; y++)
        for (int x = 0; x < w - 2; x++)
          g_assert_cmpfloat (fabs (out[y * w + x] - in[(y - 1) * w + x + 2]), <=, 2e-5);
      /* The edges of zero padding: nothing comes from beyond the right or top border. */
      for (int y = 0; y < h; y++)
        g_assert_cmpfloat (fabs (out[y * w + w - 1]), <=, 2e-5);
    }
}

static void
test_plane_linearity (void)
{
  int sizes[] = { 7, 21 };
  int w = 100, h = 90;
  g_autofree float *f = random_plane (w, h, 21, 10.0, 5.0);
  g_autofree float *g = random_plane (w, h, 22, -3.0, 8.0);
  g_autofree float *fg = g_new (float, (size_t) w * h);
  g_autofree float *of = g_new (float, (size_t) w * h);
  g_autofree float *og = g_new (float, (size_t) w * h);
  g_autofree float *ofg = g_new (float, (size_t) w * h);
  const double a = 2.5, b = -0.75;

  for (size_t i = 0; i < (size_t) w * h; i++)
    fg[i] = (float) (a * f[i] + b * g[i]);
  for (int s = 0; s < 2; s++)
    {
      int ks = sizes[s];
      g_autofree float *k = random_kernel (ks, 23 + s);
      double scale;
      g_assert_true (dia_convolve_plane (f, w, h, w, k, ks, of, w, 2, NULL, NULL));
      g_assert_true (dia_convolve_plane (g, w, h, w, k, ks, og, w, 2, NULL, NULL));
      g_assert_true (dia_convolve_plane (fg, w, h, w, k, ks, ofg, w, 2, NULL, NULL));
      scale = max_abs (ofg, (size_t) w * h);
      for (size_t i = 0; i < (size_t) w * h; i++)
        g_assert_cmpfloat (fabs (ofg[i] - (a * of[i] + b * og[i])), <=, 1e-5 * scale);
    }
}

/* Σ out = Σ K · Σ in for a compact source far from the edges. */
static void
test_plane_flux (void)
{
  int sizes[] = { 9, 27 };
  int w = 120, h = 110;
  g_autofree float *in = g_new0 (float, (size_t) w * h);
  g_autofree float *out = g_new (float, (size_t) w * h);
  double sin_ = 0;

  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      {
        double d2 = (x - 60.3) * (x - 60.3) + (y - 54.8) * (y - 54.8);
        in[y * w + x] = d2 < 100 ? (float) (1e4 * exp (-d2 / 8.0)) : 0.0f;
        sin_ += in[y * w + x];
      }
  for (int s = 0; s < 2; s++)
    {
      int ks = sizes[s];
      g_autofree float *k = random_kernel (ks, 31 + s);
      double sk = 0, sout = 0;
      for (int i = 0; i < ks * ks; i++)
        sk += k[i];
      g_assert_true (dia_convolve_plane (in, w, h, w, k, ks, out, w, 2, NULL, NULL));
      for (size_t i = 0; i < (size_t) w * h; i++)
        sout += out[i];
      g_test_message ("flux K=%d: Σout / (ΣK Σin) − 1 = %.2e", ks, sout / (sk * sin_) - 1);
      g_assert_cmpfloat (fabs (sout - sk * sin_), <=, 1e-5 * fabs (sk * sin_));
    }
}

/* A strongly asymmetric kernel: the result is the correlation, and clearly not the
 * convolution (the flipped kernel). */
static void
test_plane_asymmetric (void)
{
  int sizes[] = { 5, 25 };
  int w = 70, h = 66;
  g_autofree float *in = random_plane (w, h, 41, 0.0, 10.0);
  g_autofree float *out = g_new (float, (size_t) w * h);

  for (int s = 0; s < 2; s++)
    {
      int ks = sizes[s], hk = ks / 2;
      g_autofree float *k = g_new0 (float, ks * ks);
      g_autofree float *flip = g_new0 (float, ks * ks);
      double err_corr = 0, err_conv = 0, scale;
      for (int v = 0; v < ks; v++)
        for (int u = 0; u < ks; u++)
          k[v * ks + u] = (u > hk ? 1.0f : 0.1f) * (v < hk ? 2.0f : 0.3f) + 0.01f * u * v;
      for (int i = 0; i < ks * ks; i++)
        flip[i] = k[ks * ks - 1 - i];
      g_assert_true (dia_convolve_plane (in, w, h, w, k, ks, out, w, 2, NULL, NULL));
      scale = max_abs (out, (size_t) w * h);
      for (int y = hk; y < h - hk; y++)
        for (int x = hk; x < w - hk; x++)
          {
            double o = out[y * w + x];
            err_corr = MAX (err_corr, fabs (o - naive_at (in, w, h, k, ks, x, y)));
            err_conv = MAX (err_conv, fabs (o - naive_at (in, w, h, flip, ks, x, y)));
          }
      g_assert_cmpfloat (err_corr, <=, 1e-5 * scale);
      g_assert_cmpfloat (err_conv, >, 0.05 * scale);
    }
}

/* ---------------------------------------------------------------------------------------- */
/* dia_convolve_image                                                                         */

/* Interior pixels against K(x, y) from dia_kernel_solution_eval at every pixel. */
static void
check_spatial_vs_naive (int order, int bg_order, int ks, double scale_param)
{
  const int w = 256, h = 256;
  g_autoptr (DiaImage) in = make_image (w, h, 100 + order);
  g_autoptr (DiaKernelSolution) sol = make_solution (ks, order, bg_order, w, h, 200 + order);
  g_autofree double *ref = g_new0 (double, (size_t) w * h);
  g_autofree float *k = g_new (float, ks * ks);
  int hk = ks / 2;
  double refmax = 0;

  for (int y = hk; y < h - hk; y++)
    for (int x = hk; x < w - hk; x++)
      {
        double s;
        dia_kernel_solution_eval (sol, x, y, k);
        s = naive_at (in->pix, w, h, k, ks, x, y) * scale_param;
        if (bg_order >= 0)
          s += dia_kernel_solution_background (sol, x, y);
        ref[(size_t) y * w + x] = s;
        refmax = MAX (refmax, fabs (s));
      }
  /* The test is meaningless unless the kernel really varies (its sum a_0 does not). */
  {
    g_autofree float *k2 = g_new (float, ks * ks);
    double kmax = 0, dmax = 0;
    dia_kernel_solution_eval (sol, 0, 0, k);
    dia_kernel_solution_eval (sol, w - 1, h - 1, k2);
    for (int i = 0; i < ks * ks; i++)
      {
        kmax = MAX (kmax, fabs (k[i]));
        dmax = MAX (dmax, fabs (k[i] - k2[i]));
      }
    if (order > 0)
      g_assert_cmpfloat (dmax, >, 0.02 * kmax);
  }
  for (int engine = 0; engine < 2; engine++)
    {
      DiaConvolveParams p;
      g_autoptr (GError) error = NULL;
      g_autoptr (DiaImage) out = NULL;
      double worst = 0;
      dia_convolve_params_init (&p);
      p.direct_max_size = engine == 0 ? FORCE_DIRECT : FORCE_FFT;
      p.add_background = bg_order >= 0;
      p.scale = scale_param;
      out = dia_convolve_image (in, sol, NULL, &p, NULL, &error);
      g_assert_no_error (error);
      for (int y = hk; y < h - hk; y++)
        for (int x = hk; x < w - hk; x++)
          worst = MAX (worst, fabs (out->pix[dia_image_index (out, x, y)]
                                    - ref[(size_t) y * w + x]));
      g_test_message ("spatial order %d bg %d K=%d %s: max |err| / max |ref| = %.2e", order,
                      bg_order, ks, engine == 0 ? "direct" : "fft", worst / refmax);
      g_assert_cmpfloat (worst, <=, 1e-5 * refmax);
    }
}

static void
test_spatial_order1 (void)
{
  check_spatial_vs_naive (1, -1, 15, 1.0);
}

static void
test_spatial_order2 (void)
{
  check_spatial_vs_naive (2, -1, 21, 1.0);
}

static void
test_spatial_background_scale (void)
{
  check_spatial_vs_naive (1, 2, 11, 0.8);
}

/* Direct and FFT engines agree (image plane) for K = 7, 21, 35. */
static void
test_direct_vs_fft (void)
{
  int sizes[] = { 7, 21, 35 };
  g_autoptr (DiaImage) in = make_image (300, 220, 51);

  for (int s = 0; s < 3; s++)
    {
      g_autoptr (DiaKernelSolution) sol = make_solution (sizes[s], 1, -1, 300, 220, 52 + s);
      g_autoptr (DiaImage) a = convolve (in, sol, NULL, FORCE_DIRECT, 2);
      g_autoptr (DiaImage) b = convolve (in, sol, NULL, FORCE_FFT, 2);
      size_t n = (size_t) in->width * in->height;
      double scale = max_abs (a->pix, n), worst = 0;
      for (size_t i = 0; i < n; i++)
        worst = MAX (worst, fabs (a->pix[i] - b->pix[i]));
      g_test_message ("direct vs fft K=%d: %.2e", sizes[s], worst / scale);
      g_assert_cmpfloat (worst, <=, 1e-5 * scale);
      g_assert_cmpmem (a->mask, n * sizeof (DiaMask), b->mask, n * sizeof (DiaMask));
    }
}

/* White noise of variance v: the variance plane is v Σ K_c² with K_c at the cell centre,
 * and the empirical variance of the convolved noise matches it. */
static void
test_variance_white (void)
{
  const int w = 1024, h = 1024;
  const double v = 4.0, scale_param = 1.25;
  g_autoptr (DiaImage) in = dia_image_new (w, h, NULL);
  g_autoptr (DiaKernelSolution) sol = make_solution (19, 1, -1, w, h, 61);
  g_autoptr (GRand) r = g_rand_new_with_seed (62);
  g_autofree float *k = g_new (float, 19 * 19);
  int hk = 9;

  for (size_t i = 0; i < (size_t) w * h; i++)
    {
      in->pix[i] = (float) (sqrt (v) * gauss_rand (r));
      in->var[i] = (float) v;
    }
  for (int engine = 0; engine < 2; engine++)
    {
      DiaConvolveParams p;
      g_autoptr (DiaImage) out = NULL;
      double worst = 0, sum_ratio = 0;
      gint64 n = 0;
      dia_convolve_params_init (&p);
      p.direct_max_size = engine == 0 ? FORCE_DIRECT : FORCE_FFT;
      p.scale = scale_param;
      out = dia_convolve_image (in, sol, NULL, &p, NULL, NULL);
      g_assert_nonnull (out);
      /* Formula, cell by cell (sampled pixels of every cell). */
      for (int cy = 0; cy < h / 32; cy++)
        for (int cx = 0; cx < w / 32; cx++)
          {
            double s2 = 0, pred;
            dia_kernel_solution_eval (sol, cx * 32 + 15.5, cy * 32 + 15.5, k);
            for (int i = 0; i < 19 * 19; i++)
              s2 += (double) k[i] * k[i];
            pred = scale_param * scale_param * v * s2;
            for (int j = 0; j < 32; j += 7)
              for (int i = 0; i < 32; i += 5)
                {
                  int x = cx * 32 + i, y = cy * 32 + j;
                  if (x < hk || y < hk || x >= w - hk || y >= h - hk)
                    continue;
                  worst = MAX (worst, fabs (out->var[dia_image_index (out, x, y)] / pred - 1));
                }
          }
      g_test_message ("white noise %s: max |var / (v s² ΣK_c²) − 1| = %.2e",
                      engine == 0 ? "direct" : "fft", worst);
      g_assert_cmpfloat (worst, <, 1e-4);
      /* Statistics: mean of out² / var over the interior. */
      for (int y = hk; y < h - hk; y++)
        for (int x = hk; x < w - hk; x++)
          {
            size_t i = dia_image_index (out, x, y);
            sum_ratio += (double) out->pix[i] * out->pix[i] / out->var[i];
            n++;
          }
      g_test_message ("white noise %s: <out² / var> = %.4f", engine == 0 ? "direct" : "fft",
                      sum_ratio / n);
      g_assert_cmpfloat (fabs (sum_ratio / n - 1), <, 0.02);
    }
}

/* The FFT engine's exact per-cell variance against the direct engine's, whose squared kernels
 * are cropped to the rings holding all but 2·10⁻⁶ of Σ K_c² (conv_square_crop), on a star field
 * with a kernel whose width changes strongly: the worst pixel (next to a bright star, where the
 * dropped wings see its variance) bounds the crop's error. */
static void
test_variance_fft_accuracy (void)
{
  const int w = 700, h = 640, ks = 23, hk = 11;
  g_autoptr (DiaImage) in = make_image (w, h, 71);
  DiaBasisConfig cfg = { 0 };
  double domain[4] = { -0.5, w - 0.5, -0.5, h - 0.5 };
  float *basis = g_new0 (float, 2 * ks * ks);
  double *coef = g_new0 (double, 1 + 3);
  double s0 = 0, s1 = 0, worst = 0, sum2 = 0;
  gint64 n = 0;
  g_autoptr (DiaKernelSolution) sol = NULL;
  g_autoptr (DiaImage) a = NULL;
  g_autoptr (DiaImage) b = NULL;

  /* B_0 = unit-sum Gaussian σ 1.8; B_1 = unit-sum Gaussian σ 2.6 − B_0 (zero sum). */
  for (int v = 0; v < ks; v++)
    for (int u = 0; u < ks; u++)
      {
        double r2 = (u - hk) * (u - hk) + (v - hk) * (v - hk);
        basis[v * ks + u] = (float) exp (-0.5 * r2 / (1.8 * 1.8));
        basis[ks * ks + v * ks + u] = (float) exp (-0.5 * r2 / (2.6 * 2.6));
        s0 += basis[v * ks + u];
        s1 += basis[ks * ks + v * ks + u];
      }
  for (int i = 0; i < ks * ks; i++)
    {
      basis[i] /= s0;
      basis[ks * ks + i] = basis[ks * ks + i] / s1 - basis[i];
    }
  cfg.n_gauss = 1;
  cfg.sigma[0] = 1.8;
  cfg.size = ks;
  coef[0] = 1.0;
  coef[1] = 0.1;      /* a_1 = 0.1 + 0.6 x' + 0.3 y': from −0.8 to +1.0 over the frame */
  coef[2] = 0.6;
  coef[3] = 0.3;
  sol = dia_kernel_solution_new (&cfg, basis, 2, 1, -1, coef, domain);
  a = convolve (in, sol, NULL, FORCE_DIRECT, 2);
  b = convolve (in, sol, NULL, FORCE_FFT, 2);
  for (int y = hk; y < h - hk; y++)
    for (int x = hk; x < w - hk; x++)
      {
        size_t i = dia_image_index (a, x, y);
        double e = b->var[i] / a->var[i] - 1;
        worst = MAX (worst, fabs (e));
        sum2 += e * e;
        n++;
      }
  g_test_message ("fft variance vs exact per-cell: max rel %.2e, rms %.2e", worst,
                  sqrt (sum2 / n));
  g_assert_cmpfloat (worst, <, 1e-4);
}

/* Mask: OR dilation by exactly the half size, DETECTED undilated, EDGE border of width h
 * with input values copied. */
static void
test_mask_and_edges (void)
{
  const int w = 90, h = 80;
  int sizes[] = { 7, 23 };

  for (int s = 0; s < 2; s++)
    {
      int ks = sizes[s], hk = ks / 2;
      g_autoptr (DiaImage) in = make_image (w, h, 81);
      g_autoptr (DiaKernelSolution) sol = make_solution (ks, 1, -1, w, h, 82);
      g_autoptr (DiaImage) out = NULL;
      const int bx = 40, by = 37, dx = 55, dy = 50, ex = 2, ey = 40;

      in->mask[dia_image_index (in, bx, by)] = DIA_MASK_BAD;
      in->mask[dia_image_index (in, dx, dy)] = DIA_MASK_DETECTED | DIA_MASK_SAT;
      in->mask[dia_image_index (in, ex, ey)] = DIA_MASK_CR;
      in->mask[dia_image_index (in, 70, 20)] = 1u << 20;   /* an extra plane dilates too */
      out = convolve (in, sol, NULL, s == 0 ? FORCE_DIRECT : FORCE_FFT, 2);
      for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
          {
            size_t i = dia_image_index (out, x, y);
            DiaMask m = out->mask[i];
            gboolean edge = x < hk || y < hk || x >= w - hk || y >= h - hk;
            gboolean near_b = abs (x - bx) <= hk && abs (y - by) <= hk;
            gboolean near_d = abs (x - dx) <= hk && abs (y - dy) <= hk;
            gboolean near_e = abs (x - ex) <= hk && abs (y - ey) <= hk;
            gboolean near_x = abs (x - 70) <= hk && abs (y - 20) <= hk;
            g_assert_cmpint (!!(m & DIA_MASK_EDGE), ==, edge);
            if (edge)
              {
                /* Input copied, mask = input | EDGE. */
                g_assert_cmpfloat (out->pix[i], ==, in->pix[dia_image_index (in, x, y)]);
                g_assert_cmpfloat (out->var[i], ==, in->var[dia_image_index (in, x, y)]);
                g_assert_cmpuint (m, ==, in->mask[dia_image_index (in, x, y)] | DIA_MASK_EDGE);
                continue;
              }
            g_assert_cmpint (!!(m & DIA_MASK_BAD), ==, near_b);
            g_assert_cmpint (!!(m & DIA_MASK_SAT), ==, near_d);
            g_assert_cmpint (!!(m & DIA_MASK_CR), ==, near_e);
            g_assert_cmpint (!!(m & (1u << 20)), ==, near_x);
            g_assert_cmpint (!!(m & DIA_MASK_DETECTED), ==, x == dx && y == dy);
          }
    }
}

/* A region equals the crop of the full frame, bit for bit (same tile grid and cells). */
static void
test_roi (void)
{
  const int w = 613, h = 577;
  int sizes[] = { 9, 25 };
  DiaRect rects[] = {
    { 100, 120, 200, 150 }, { 0, 0, 64, 64 }, { w - 50, h - 40, 50, 40 }, { 0, 300, w, 7 },
    { 311, 0, 1, h }, { 250, 250, 1, 1 }, { 5, 3, 400, 380 },
  };
  g_autoptr (DiaImage) in = make_image (w, h, 91);

  for (int s = 0; s < 2; s++)
    {
      g_autoptr (DiaKernelSolution) sol = make_solution (sizes[s], 2, 1, w, h, 92);
      DiaConvolveParams p;
      g_autoptr (DiaImage) full = NULL;
      dia_convolve_params_init (&p);
      p.add_background = TRUE;
      p.scale = 1.1;
      p.direct_max_size = s == 0 ? FORCE_DIRECT : FORCE_FFT;
      full = dia_convolve_image (in, sol, NULL, &p, NULL, NULL);
      g_assert_nonnull (full);
      for (guint r = 0; r < G_N_ELEMENTS (rects); r++)
        {
          const DiaRect *rc = &rects[r];
          g_autoptr (DiaImage) roi = dia_convolve_image (in, sol, rc, &p, NULL, NULL);
          g_assert_nonnull (roi);
          g_assert_cmpint (roi->width, ==, rc->width);
          g_assert_cmpint (roi->height, ==, rc->height);
          g_assert_cmpint (roi->x0, ==, in->x0 + rc->x);
          g_assert_cmpint (roi->y0, ==, in->y0 + rc->y);
          for (int y = 0; y < rc->height; y++)
            {
              size_t fi = dia_image_index (full, rc->x, rc->y + y);
              size_t ri = dia_image_index (roi, 0, y);
              g_assert_cmpmem (roi->pix + ri, rc->width * sizeof (float), full->pix + fi,
                               rc->width * sizeof (float));
              g_assert_cmpmem (roi->var + ri, rc->width * sizeof (float), full->var + fi,
                               rc->width * sizeof (float));
              g_assert_cmpmem (roi->mask + ri, rc->width * sizeof (DiaMask), full->mask + fi,
                               rc->width * sizeof (DiaMask));
            }
        }
    }
}

/* The thread count does not change the result. */
static void
test_threads_identical (void)
{
  g_autoptr (DiaImage) in = make_image (400, 300, 95);
  g_autoptr (DiaKernelSolution) sol = make_solution (21, 1, -1, 400, 300, 96);
  g_autoptr (DiaImage) a = convolve (in, sol, NULL, FORCE_FFT, 1);
  g_autoptr (DiaImage) b = convolve (in, sol, NULL, FORCE_FFT, 3);
  size_t n = (size_t) 400 * 300;
  g_assert_cmpmem (a->pix, n * sizeof (float), b->pix, n * sizeof (float));
  g_assert_cmpmem (a->var, n * sizeof (float), b->var, n * sizeof (float));
}

static void
cancel_on_variance (const char *stage, double fraction, gpointer user_data)
{
  DiaMonitor *m = user_data;
  if (g_strcmp0 (stage, "convolve-variance") == 0)
    dia_monitor_cancel (m);
}

static void
test_cancel (void)
{
  g_autoptr (DiaImage) in = make_image (300, 300, 97);
  g_autoptr (DiaKernelSolution) sol = make_solution (21, 1, -1, 300, 300, 98);

  for (int engine = 0; engine < 2; engine++)
    {
      g_autoptr (DiaMonitor) m = dia_monitor_new ();
      g_autoptr (DiaMonitor) pre = dia_monitor_new ();
      g_autoptr (GError) error = NULL;
      g_autoptr (GError) error2 = NULL;
      DiaConvolveParams p;
      DiaImage *out;

      dia_convolve_params_init (&p);
      p.direct_max_size = engine == 0 ? FORCE_DIRECT : FORCE_FFT;
      /* Cancelled between the image and variance passes (mid-run). */
      dia_monitor_set_progress_func (m, cancel_on_variance, m);
      out = dia_convolve_image (in, sol, NULL, &p, m, &error);
      g_assert_null (out);
      g_assert_error (error, DIA_ERROR, DIA_ERROR_CANCELLED);
      /* Cancelled before the call. */
      dia_monitor_cancel (pre);
      out = dia_convolve_image (in, sol, NULL, &p, pre, &error2);
      g_assert_null (out);
      g_assert_error (error2, DIA_ERROR, DIA_ERROR_CANCELLED);
    }
}

static void
test_bad_input (void)
{
  g_autoptr (DiaImage) in = make_image (64, 64, 99);
  g_autoptr (DiaKernelSolution) sol = make_solution (11, 1, -1, 64, 64, 100);
  float plane[64 * 64] = { 0 }, out[64 * 64], k[4] = { 1, 1, 1, 1 };
  DiaRect outside = { 50, 50, 20, 20 }, empty = { 3, 3, 0, 5 };
  g_autoptr (GError) e1 = NULL;
  g_autoptr (GError) e2 = NULL;
  g_autoptr (GError) e3 = NULL;
  g_autoptr (GError) e4 = NULL;
  g_autoptr (GError) e5 = NULL;

  g_assert_null (dia_convolve_image (in, sol, &outside, NULL, NULL, &e1));
  g_assert_error (e1, DIA_ERROR, DIA_ERROR_INVALID);
  g_assert_null (dia_convolve_image (in, sol, &empty, NULL, NULL, &e2));
  g_assert_error (e2, DIA_ERROR, DIA_ERROR_INVALID);
  g_assert_false (dia_convolve_plane (plane, 64, 64, 64, k, 2, out, 64, 1, NULL, &e3));
  g_assert_error (e3, DIA_ERROR, DIA_ERROR_INVALID);
  g_assert_false (dia_convolve_plane (plane, 64, 64, 64, k, 1, plane + 10, 64, 1, NULL, &e4));
  g_assert_error (e4, DIA_ERROR, DIA_ERROR_INVALID);
  g_assert_false (dia_convolve_plane (plane, 64, 64, 32, k, 1, out, 64, 1, NULL, &e5));
  g_assert_error (e5, DIA_ERROR, DIA_ERROR_INVALID);

  /* A NaN pixel does not spread through an FFT tile: only its footprint is affected, and
   * the output stays finite. */
  in->pix[dia_image_index (in, 30, 30)] = NAN;
  in->var[dia_image_index (in, 30, 30)] = INFINITY;
  {
    g_autoptr (DiaImage) o = convolve (in, sol, NULL, FORCE_FFT, 2);
    for (size_t i = 0; i < (size_t) 64 * 64; i++)
      {
        g_assert_true (isfinite (o->pix[i]));
        g_assert_true (isfinite (o->var[i]) && o->var[i] >= 0);
      }
  }
}

/* A kernel larger than the image: every pixel is an edge pixel. */
static void
test_tiny_image (void)
{
  g_autoptr (DiaImage) in = make_image (12, 9, 101);
  g_autoptr (DiaKernelSolution) sol = make_solution (21, 1, -1, 12, 9, 102);
  g_autoptr (DiaImage) out = convolve (in, sol, NULL, 0, 1);
  for (int i = 0; i < 12 * 9; i++)
    {
      g_assert_cmpfloat (out->pix[i], ==, in->pix[i]);
      g_assert_true (out->mask[i] & DIA_MASK_EDGE);
    }
}

int
main (int argc, char **argv)
{
  test_init (&argc, &argv);
  g_test_add_func ("/convolve/fft/good-size", test_good_size);
  g_test_add_func ("/convolve/fft/cache", test_fft_cache);
  g_test_add_func ("/convolve/plane/naive", test_plane_naive);
  g_test_add_func ("/convolve/plane/delta", test_plane_delta);
  g_test_add_func ("/convolve/plane/shift", test_plane_shift);
  g_test_add_func ("/convolve/plane/linearity", test_plane_linearity);
  g_test_add_func ("/convolve/plane/flux", test_plane_flux);
  g_test_add_func ("/convolve/plane/asymmetric", test_plane_asymmetric);
  g_test_add_func ("/convolve/image/spatial-order1", test_spatial_order1);
  g_test_add_func ("/convolve/image/spatial-order2", test_spatial_order2);
  g_test_add_func ("/convolve/image/background-scale", test_spatial_background_scale);
  g_test_add_func ("/convolve/image/direct-vs-fft", test_direct_vs_fft);
  g_test_add_func ("/convolve/image/variance-white", test_variance_white);
  g_test_add_func ("/convolve/image/variance-fft-accuracy", test_variance_fft_accuracy);
  g_test_add_func ("/convolve/image/mask-edges", test_mask_and_edges);
  g_test_add_func ("/convolve/image/roi", test_roi);
  g_test_add_func ("/convolve/image/threads", test_threads_identical);
  g_test_add_func ("/convolve/image/cancel", test_cancel);
  g_test_add_func ("/convolve/image/bad-input", test_bad_input);
  g_test_add_func ("/convolve/image/tiny", test_tiny_image);
  return g_test_run ();
}
