/* test-background.c — the mesh background against skies whose truth is known.
 *
 * A small local generator draws a sky with a known linear gradient, Gaussian noise of known σ,
 * pixel-integrated Moffat stars and optional NO_DATA blocks.  The tests compare the estimated
 * surface with the true sky (in units of the sky σ), the noise with the true σ, rendering with
 * point evaluation, and check the failure paths (fully masked image) and tiny images.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "test-util.h"
#include "dia-background.h"
#include "dia-error.h"
#include "dia-image.h"
#include "dia-rng.h"

#include <math.h>
#include <string.h>

typedef struct
{
  int width, height;
  double sky0, gx, gy;          /* sky = sky0 + gx x + gy y                               */
  double sigma;                 /* noise σ of the sky, pix units                          */
  int n_stars;
  double fwhm, beta;
  double flux_min, flux_max;    /* log-uniform                                             */
  guint64 seed;
} SkyParams;

static double
true_sky (const SkyParams *p, double x, double y)
{
  return p->sky0 + p->gx * x + p->gy * y;
}

/* The image: sky + stars + Gaussian noise whose variance is σ² plus the star signal (gain 1);
 * var holds that expectation.  *stars_out (optional) receives the star model alone. */
static DiaImage *
make_sky (const SkyParams *p, float **stars_out)
{
  g_autoptr (GError) error = NULL;
  DiaImage *im = dia_image_new (p->width, p->height, &error);
  float *stars = g_new0 (float, (size_t) p->width * p->height);
  DiaRng rng;

  g_assert_no_error (error);
  dia_rng_init (&rng, p->seed, 0);
  for (int s = 0; s < p->n_stars; s++)
    {
      double x = dia_rng_uniform (&rng) * p->width, y = dia_rng_uniform (&rng) * p->height;
      double f = p->flux_min * pow (p->flux_max / p->flux_min, dia_rng_uniform (&rng));
      test_add_moffat (stars, p->width, p->height, x, y, f, p->fwhm, p->beta);
    }
  dia_rng_init (&rng, p->seed, 1);
  for (int y = 0; y < p->height; y++)
    for (int x = 0; x < p->width; x++)
      {
        size_t i = dia_image_index (im, x, y);
        double v = p->sigma * p->sigma + stars[(size_t) y * p->width + x];
        im->pix[i] = (float) (true_sky (p, x, y) + stars[(size_t) y * p->width + x]
                              + sqrt (v) * dia_rng_gaussian (&rng));
        im->var[i] = (float) v;
      }
  if (stars_out)
    *stars_out = stars;
  else
    g_free (stars);
  return im;
}

static void
sky_params_default (SkyParams *p)
{
  *p = (SkyParams){ 1024, 1024, 1000.0, 0.04, -0.03, 20.0, 300, 3.5, 3.5, 1e3, 1e5, 11 };
}

/* Max |bg − sky| / σ over pixels where the star model is below 0.5 σ (the "not in a star
 * core" region) and outside excluded rectangles, sampled every `step` pixels. */
static double
max_error_in_sigma (const DiaBackground *bg, const SkyParams *p, const float *stars,
                    const DiaRect *skip, int step)
{
  double worst = 0.0;
  for (int y = 0; y < p->height; y += step)
    for (int x = 0; x < p->width; x += step)
      {
        double e;
        if (stars && stars[(size_t) y * p->width + x] > 0.5 * p->sigma)
          continue;
        if (skip && x >= skip->x && x < skip->x + skip->width && y >= skip->y
            && y < skip->y + skip->height)
          continue;
        e = fabs (dia_background_eval (bg, x, y) - true_sky (p, x, y)) / p->sigma;
        worst = MAX (worst, e);
      }
  return worst;
}

static void
test_gradient_with_stars (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (DiaImage) im = NULL;
  g_autoptr (DiaBackground) bg = NULL;
  g_autofree float *stars = NULL;
  SkyParams p;
  double worst, noise;

  sky_params_default (&p);
  im = make_sky (&p, &stars);
  dia_image_freeze (im);
  bg = dia_background_estimate (im, 0, DIA_MASK_UNUSABLE, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (bg);

  worst = max_error_in_sigma (bg, &p, stars, NULL, 3);
  noise = dia_background_noise (bg);
  g_test_message ("gradient + %d stars: max |bg - sky| = %.3f sigma, noise %.3f (true %.3f), "
                  "median level %.2f", p.n_stars, worst, noise, p.sigma,
                  dia_background_median_level (bg));
  g_assert_cmpfloat (worst, <, 0.5);
  g_assert_cmpfloat (fabs (noise / p.sigma - 1.0), <, 0.03);
  /* The median level is the sky at the image centre for a linear gradient (± edge effects). */
  g_assert_cmpfloat (fabs (dia_background_median_level (bg) - true_sky (&p, 511.5, 511.5)),
                     <, 0.5 * p.sigma);
}

/* A NO_DATA block: its pixels are excluded, the empty cells are filled from neighbours, and
 * the rest of the surface is as good as without the block.  Values inside NO_DATA carry
 * garbage (10⁶) that must not leak into any cell. */
static void
test_masked_region (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (DiaImage) im = NULL;
  g_autoptr (DiaBackground) bg = NULL;
  g_autofree float *stars = NULL;
  DiaRect block = { 300, 400, 330, 300 };
  DiaRect skip = { 300 - 128, 400 - 128, 330 + 256, 300 + 256 };
  SkyParams p;
  double worst, inside;

  sky_params_default (&p);
  p.seed = 12;
  im = make_sky (&p, &stars);
  for (int y = block.y; y < block.y + block.height; y++)
    for (int x = block.x; x < block.x + block.width; x++)
      {
        im->pix[dia_image_index (im, x, y)] = 1e6f;
        im->mask[dia_image_index (im, x, y)] |= DIA_MASK_NO_DATA;
      }
  dia_image_freeze (im);
  bg = dia_background_estimate (im, 0, DIA_MASK_UNUSABLE, NULL, &error);
  g_assert_no_error (error);

  worst = max_error_in_sigma (bg, &p, stars, &skip, 3);
  inside = fabs (dia_background_eval (bg, 465, 550) - true_sky (&p, 465, 550)) / p.sigma;
  g_test_message ("NO_DATA block: max error outside %.3f sigma, at its centre %.3f sigma", worst,
                  inside);
  g_assert_cmpfloat (worst, <, 0.5);
  /* Filled from neighbours on a gradient of 0.05 px⁻¹: a couple of σ at most. */
  g_assert_cmpfloat (inside, <, 2.0);
  g_assert_cmpfloat (fabs (dia_background_noise (bg) / p.sigma - 1.0), <, 0.03);
}

/* Render (cubic per patch and row) must agree with point evaluation everywhere, including
 * the flat margins outside the cell centres, for bicubic and bilinear meshes. */
static void
check_render_matches_eval (int width, int height, int mesh)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (DiaImage) im = NULL;
  g_autoptr (DiaBackground) bg = NULL;
  g_autofree float *out = NULL;
  SkyParams p;
  DiaRect rect = { 3, 5, width - 7, height - 9 };
  size_t stride = (size_t) rect.width + 5;
  double worst = 0.0;

  sky_params_default (&p);
  p.width = width;
  p.height = height;
  p.n_stars = 0;
  p.gx = 0.3;                   /* strong and curved structure: the mesh is not flat */
  p.seed = 99;
  im = make_sky (&p, NULL);
  for (int y = 0; y < height; y++)
    for (int x = 0; x < width; x++)
      im->pix[dia_image_index (im, x, y)] += (float) (200.0 * sin (x / 70.0) * cos (y / 50.0));
  dia_image_freeze (im);
  bg = dia_background_estimate (im, mesh, 0, NULL, &error);
  g_assert_no_error (error);
  out = g_new (float, stride * rect.height);
  dia_background_render (bg, &rect, out, stride);
  for (int j = 0; j < rect.height; j++)
    for (int i = 0; i < rect.width; i++)
      {
        double e = dia_background_eval (bg, rect.x + i, rect.y + j);
        worst = MAX (worst, fabs (out[(size_t) j * stride + i] - e) / MAX (1.0, fabs (e)));
      }
  g_test_message ("%d x %d, mesh %d: max relative render/eval difference %.2e", width, height,
                  mesh, worst);
  g_assert_cmpfloat (worst, <, 1e-5);
}

static void
test_render_matches_eval (void)
{
  check_render_matches_eval (700, 530, 64);   /* bicubic, many patches            */
  check_render_matches_eval (300, 120, 64);   /* 5 × 2 cells: bilinear             */
  check_render_matches_eval (1200, 1100, 0);  /* default mesh, parallel render      */
}

/* Small images still get ≥ 4 × 4 cells (200 × 200 → 50 px mesh) and follow the gradient;
 * a 64 × 32 image (one of the LSST test files' size) works too. */
static void
test_small_images (void)
{
  g_autoptr (GError) error = NULL;
  SkyParams p;

  sky_params_default (&p);
  p.width = p.height = 200;
  p.n_stars = 10;
  p.gx = 0.2;
  p.gy = 0.1;
  {
    g_autoptr (DiaImage) im = make_sky (&p, NULL);
    g_autoptr (DiaBackground) bg = NULL;
    double worst;
    dia_image_freeze (im);
    bg = dia_background_estimate (im, 0, DIA_MASK_UNUSABLE, NULL, &error);
    g_assert_no_error (error);
    /* With 4 cells the flat margins (25 px at 0.22 px⁻¹ ≈ 0.3 σ) dominate; check the interior
     * tightly and the whole image loosely. */
    {
      DiaRect border_inner = { 25, 25, 150, 150 };
      double w_in = 0.0;
      for (int y = border_inner.y; y < border_inner.y + border_inner.height; y += 2)
        for (int x = border_inner.x; x < border_inner.x + border_inner.width; x += 2)
          w_in = MAX (w_in, fabs (dia_background_eval (bg, x, y) - true_sky (&p, x, y)));
      worst = max_error_in_sigma (bg, &p, NULL, NULL, 2);
      g_test_message ("200 x 200: max error interior %.3f sigma, whole %.3f sigma",
                      w_in / p.sigma, worst);
      g_assert_cmpfloat (w_in / p.sigma, <, 0.5);
      g_assert_cmpfloat (worst, <, 1.0);
    }
    g_assert_cmpfloat (fabs (dia_background_noise (bg) / p.sigma - 1.0), <, 0.06);
  }
  p.width = 64;
  p.height = 32;
  p.n_stars = 0;
  {
    g_autoptr (DiaImage) im = make_sky (&p, NULL);
    g_autoptr (DiaBackground) bg = NULL;
    dia_image_freeze (im);
    bg = dia_background_estimate (im, 0, DIA_MASK_UNUSABLE, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpfloat (fabs (dia_background_eval (bg, 32, 16) - true_sky (&p, 32, 16)), <,
                       p.sigma);
    g_assert_cmpfloat (fabs (dia_background_noise (bg) / p.sigma - 1.0), <, 0.25);
  }
}

/* Hostile inputs: all pixels masked → a clear error; a constant image → σ = 0, exact level;
 * a 1 × 1 image works. */
static void
test_degenerate (void)
{
  g_autoptr (GError) error = NULL;
  {
    g_autoptr (DiaImage) im = dia_image_new (100, 80, NULL);
    g_autoptr (DiaBackground) bg = NULL;
    for (int y = 0; y < 80; y++)
      for (int x = 0; x < 100; x++)
        im->mask[dia_image_index (im, x, y)] = DIA_MASK_NO_DATA;
    dia_image_set_source (im, "allmasked.fits");
    dia_image_freeze (im);
    bg = dia_background_estimate (im, 0, DIA_MASK_UNUSABLE, NULL, &error);
    g_assert_null (bg);
    g_assert_error (error, DIA_ERROR, DIA_ERROR_FAILED);
    g_assert_nonnull (strstr (error->message, "allmasked.fits"));
    g_clear_error (&error);
  }
  {
    g_autoptr (DiaImage) im = dia_image_new (90, 90, NULL);
    g_autoptr (DiaBackground) bg = NULL;
    for (int y = 0; y < 90; y++)
      for (int x = 0; x < 90; x++)
        im->pix[dia_image_index (im, x, y)] = 42.0f;
    dia_image_freeze (im);
    bg = dia_background_estimate (im, 0, 0, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpfloat (fabs (dia_background_eval (bg, 3.3, 77.1) - 42.0), <, 1e-9);
    g_assert_cmpfloat (dia_background_noise (bg), ==, 0.0);
  }
  {
    g_autoptr (DiaImage) im = dia_image_new (1, 1, NULL);
    g_autoptr (DiaBackground) bg = NULL;
    float out[9];
    DiaRect r = { 0, 0, 1, 1 };
    im->pix[0] = 5.0f;
    dia_image_freeze (im);
    bg = dia_background_estimate (im, 0, 0, NULL, &error);
    /* One pixel cannot be clipped: the honest answer is an error, not a made-up level. */
    if (bg != NULL)
      {
        dia_background_render (bg, &r, out, 1);
        g_assert_true (isfinite (out[0]));
      }
    else
      g_assert_error (error, DIA_ERROR, DIA_ERROR_FAILED);
  }
}

int
main (int argc, char **argv)
{
  test_init (&argc, &argv);
  g_test_add_func ("/background/gradient-with-stars", test_gradient_with_stars);
  g_test_add_func ("/background/masked-region", test_masked_region);
  g_test_add_func ("/background/render-matches-eval", test_render_matches_eval);
  g_test_add_func ("/background/small-images", test_small_images);
  g_test_add_func ("/background/degenerate", test_degenerate);
  return g_test_run ();
}
