/* test-render.c — display mapping: automatic limits, stretches, colormaps, nearest resampling.
 *
 * The expected numbers are derived in the comments next to each assertion, from the definition
 * of the algorithm rather than from a run of the code.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "test-util.h"
#include "dia-render.h"
#include "dia-rng.h"

#include <math.h>
#include <string.h>

#define W 400
#define H 300

/* Gaussian noise N(mean, sigma²) into a W × H plane with row stride W + 7 (not compact, to
 * catch stride mistakes). */
static float *
make_noise (double mean, double sigma, guint64 seed, size_t *stride)
{
  DiaRng rng;
  float *p;

  *stride = W + 7;
  p = g_new0 (float, *stride * H);
  dia_rng_init (&rng, seed, 0);
  for (int y = 0; y < H; y++)
    for (int x = 0; x < W; x++)
      p[(size_t) y * *stride + x] = (float) (mean + sigma * dia_rng_gaussian (&rng));
  return p;
}

/* BGRA bytes of the output pixel at (c, r). */
static guint32
pixel_at (const guint8 *out, size_t out_stride, int c, int r)
{
  const guint8 *p = out + (size_t) r * out_stride + (size_t) c * 4;
  return (guint32) p[3] << 24 | (guint32) p[2] << 16 | (guint32) p[1] << 8 | p[0];
}

static void
test_zscale_noise (void)
{
  size_t stride;
  g_autofree float *p = make_noise (1000.0, 20.0, 42, &stride);
  DiaRenderParams params;

  dia_render_params_init (&params);
  g_assert_cmpint (params.limits, ==, DIA_LIMITS_ZSCALE);
  dia_render_compute_limits (p, NULL, 0, W, H, stride, &params);
  g_test_message ("zscale of N(1000, 20²): [%.2f, %.2f] = mean %+.2fσ / %+.2fσ",
                  params.low, params.high, (params.low - 1000) / 20, (params.high - 1000) / 20);
  /* Sorted Gaussian samples against rank follow σ Φ⁻¹(rank / n).  A line fitted to the central
   * (unrejected) part has a slope of about σ √(2π) / n per rank (Φ⁻¹' at the median), a bit
   * more with the 2.5σ clipping, so with contrast 0.25 zscale asks for median ± 0.5 × 4 ×
   * 2.5 σ ≈ ±5σ, which is wider than the extremes of the ~1000 samples (±3.2σ expected,
   * ±(2.6..3.9)σ with overwhelming probability).  The limits are therefore the sample range. */
  g_assert_cmpfloat (params.low, >, 1000.0 - 4.0 * 20.0);
  g_assert_cmpfloat (params.low, <, 1000.0 - 2.5 * 20.0);
  g_assert_cmpfloat (params.high, >, 1000.0 + 2.5 * 20.0);
  g_assert_cmpfloat (params.high, <, 1000.0 + 4.0 * 20.0);
  g_assert_cmpfloat (fabs (0.5 * (params.low + params.high) - 1000.0), <, 0.6 * 20.0);
}

static void
test_zscale_ignores_stars (void)
{
  size_t stride;
  g_autofree float *p = make_noise (500.0, 10.0, 7, &stride);
  DiaRenderParams params;
  DiaRng rng;
  int n_stars = 0;

  /* 3 % of the pixels become "stars" at 200σ above the sky. */
  dia_rng_init (&rng, 99, 1);
  for (int y = 0; y < H; y++)
    for (int x = 0; x < W; x++)
      if (dia_rng_uniform (&rng) < 0.03)
        {
          p[(size_t) y * stride + x] = 500.0f + 2000.0f;
          n_stars++;
        }
  g_assert_cmpint (n_stars, >, 1000);

  dia_render_params_init (&params);
  dia_render_compute_limits (p, NULL, 0, W, H, stride, &params);
  g_test_message ("zscale with 3%% stars: [%.2f, %.2f]", params.low, params.high);
  /* The star samples sit at the top ranks, far off the line, and are rejected; the high limit
   * is median + (n/2) × slope / contrast ≈ 500 + 5σ: bounded by ~8σ, far below the stars,
   * and above the noise extremes minus a margin. */
  g_assert_cmpfloat (params.high, <, 500.0 + 8.0 * 10.0);
  g_assert_cmpfloat (params.high, >, 500.0 + 2.5 * 10.0);
  g_assert_cmpfloat (params.low, <, 500.0 - 2.5 * 10.0);
  g_assert_cmpfloat (params.low, >, 500.0 - 6.0 * 10.0);

  /* minmax, by contrast, reaches the stars exactly. */
  params.limits = DIA_LIMITS_MINMAX;
  dia_render_compute_limits (p, NULL, 0, W, H, stride, &params);
  g_assert_cmpfloat (params.high, ==, 2500.0);
}

static void
test_sentinel_and_mask_never_stretch (void)
{
  size_t stride;
  g_autofree float *p = make_noise (0.0, 1.0, 3, &stride);
  g_autofree DiaMask *mask = g_new0 (DiaMask, stride * H);
  DiaRenderParams params;
  float true_min = INFINITY, true_max = -INFINITY;
  const DiaLimitsMode modes[] = { DIA_LIMITS_ZSCALE, DIA_LIMITS_MINMAX, DIA_LIMITS_PERCENTILE,
                                  DIA_LIMITS_SYMMETRIC_SIGMA };

  for (int y = 0; y < H; y++)
    for (int x = 0; x < W; x++)
      {
        size_t i = (size_t) y * stride + x;

        if ((x + 3 * y) % 17 == 0)
          p[i] = -3.4e38f;                 /* the ZTF-style sentinel, not masked */
        else if ((x + y) % 53 == 0)
          p[i] = (x % 2) ? NAN : INFINITY;
        else if ((2 * x + y) % 41 == 0)
          {
            p[i] = 1e6f;                   /* huge but masked BAD: excluded */
            mask[i] = DIA_MASK_BAD;
          }
        else
          {
            true_min = MIN (true_min, p[i]);
            true_max = MAX (true_max, p[i]);
          }
      }

  for (size_t m = 0; m < G_N_ELEMENTS (modes); m++)
    {
      dia_render_params_init (&params);
      params.limits = modes[m];
      dia_render_compute_limits (p, mask, DIA_MASK_BAD, W, H, stride, &params);
      g_test_message ("mode %d: [%g, %g]", (int) modes[m], params.low, params.high);
      /* Every automatic mode stays within the range of the valid N(0,1) pixels, except that
       * the symmetric mode may reach its ±5σ (about ±5.1 here); a sentinel or the masked 1e6
       * would push a limit to ~1e38 or 1e6. */
      g_assert_cmpfloat (params.low, >=, MIN (true_min, -5.5));
      g_assert_cmpfloat (params.high, <=, MAX (true_max, 5.5));
      g_assert_cmpfloat (params.high - params.low, >, 1.0);
    }
  /* minmax is exactly the valid range. */
  params.limits = DIA_LIMITS_MINMAX;
  dia_render_compute_limits (p, mask, DIA_MASK_BAD, W, H, stride, &params);
  g_assert_cmpfloat (params.low, ==, true_min);
  g_assert_cmpfloat (params.high, ==, true_max);
  /* symmetric: ±5 robust σ around 0 of N(0,1) = ±5 within the MAD's sampling error. */
  params.limits = DIA_LIMITS_SYMMETRIC_SIGMA;
  dia_render_compute_limits (p, mask, DIA_MASK_BAD, W, H, stride, &params);
  g_assert_cmpfloat (fabs (params.high - 5.0), <, 0.15);
  g_assert_cmpfloat (params.low, ==, -params.high);
  /* 0.5 / 99.5 percentiles of N(0,1): ∓2.5758. */
  params.limits = DIA_LIMITS_PERCENTILE;
  dia_render_compute_limits (p, mask, DIA_MASK_BAD, W, H, stride, &params);
  g_assert_cmpfloat (fabs (params.low + 2.5758), <, 0.12);
  g_assert_cmpfloat (fabs (params.high - 2.5758), <, 0.12);

  /* A plane of nothing but sentinels still yields a usable interval. */
  for (size_t i = 0; i < stride * H; i++)
    p[i] = -3.4e38f;
  dia_render_params_init (&params);
  dia_render_compute_limits (p, NULL, 0, W, H, stride, &params);
  g_assert_true (isfinite (params.low) && isfinite (params.high));
  g_assert_cmpfloat (params.high, >, params.low);
}

static void
test_stretches_monotonic (void)
{
  const DiaStretch stretches[] = { DIA_STRETCH_LINEAR, DIA_STRETCH_LOG, DIA_STRETCH_SQRT,
                                   DIA_STRETCH_ASINH, DIA_STRETCH_HISTEQ };
  /* Values at the middle of the range, from the definitions: t, log(1+1000t)/log(1001),
   * √t, asinh(10t)/asinh(10); histeq of N(0,1) between symmetric limits: CDF = 0.5. */
  const double at_half[] = { 0.5, log (501.0) / log (1001.0), sqrt (0.5),
                             asinh (5.0) / asinh (10.0), 0.5 };
  const double tol[] = { 1e-12, 1e-12, 1e-12, 1e-12, 0.02 };
  size_t stride;
  g_autofree float *p = make_noise (0.0, 1.0, 11, &stride);

  for (size_t s = 0; s < G_N_ELEMENTS (stretches); s++)
    {
      DiaRenderParams params;
      double prev = -1.0;

      dia_render_params_init (&params);
      params.limits = DIA_LIMITS_MANUAL;
      params.low = -3.0;
      params.high = 3.0;
      params.stretch = stretches[s];
      dia_render_compute_limits (p, NULL, 0, W, H, stride, &params);
      if (stretches[s] == DIA_STRETCH_HISTEQ)
        {
          dia_render_compute_histeq (p, NULL, 0, W, H, stride, &params);
          g_assert_true (params.histeq_ready);
        }
      g_assert_cmpfloat (dia_render_map_value (&params, -3.0), ==, 0.0);
      g_assert_cmpfloat (dia_render_map_value (&params, 3.0), ==, 1.0);
      g_assert_cmpfloat (dia_render_map_value (&params, -100.0), ==, 0.0);
      g_assert_cmpfloat (dia_render_map_value (&params, 100.0), ==, 1.0);
      g_assert_true (isnan (dia_render_map_value (&params, NAN)));
      g_assert_true (isnan (dia_render_map_value (&params, -3.4e38)));
      g_assert_cmpfloat (fabs (dia_render_map_value (&params, 0.0) - at_half[s]), <, tol[s]);
      for (int i = 0; i <= 1000; i++)
        {
          double v = -3.0 + 6.0 * i / 1000.0;
          double t = dia_render_map_value (&params, v);

          g_assert_cmpfloat (t, >=, 0.0);
          g_assert_cmpfloat (t, <=, 1.0);
          if (stretches[s] == DIA_STRETCH_HISTEQ)
            g_assert_cmpfloat (t, >=, prev);
          else if (i > 0)
            g_assert_cmpfloat (t, >, prev);     /* analytic stretches: strictly increasing */
          prev = t;
        }
    }
}

static void
test_contrast_bias (void)
{
  DiaRenderParams params;

  dia_render_params_init (&params);
  params.limits = DIA_LIMITS_MANUAL;
  params.low = 0.0;
  params.high = 1.0;
  /* Identity at contrast 1, bias 0.5. */
  g_assert_cmpfloat (fabs (dia_render_map_value (&params, 0.3) - 0.3), <, 1e-12);
  /* Contrast 2 about the middle: t' = 2 (t − 0.5) + 0.5. */
  params.contrast = 2.0;
  g_assert_cmpfloat (dia_render_map_value (&params, 0.25), ==, 0.0);
  g_assert_cmpfloat (fabs (dia_render_map_value (&params, 0.6) - 0.7), <, 1e-12);
  /* Bias 0.3, contrast 1 shifts the ramp: t' = t + 0.2. */
  params.contrast = 1.0;
  params.bias = 0.3;
  g_assert_cmpfloat (fabs (dia_render_map_value (&params, 0.1) - 0.3), <, 1e-12);
}

static void
test_colormaps (void)
{
  guint32 lo, hi;

  g_assert_cmphex (dia_render_colormap (DIA_COLORMAP_GRAY, 0.0), ==, 0xFF000000u);
  g_assert_cmphex (dia_render_colormap (DIA_COLORMAP_GRAY, 1.0), ==, 0xFFFFFFFFu);
  g_assert_cmphex (dia_render_colormap (DIA_COLORMAP_GRAY, 0.5), ==, 0xFF808080u);
  g_assert_cmphex (dia_render_colormap (DIA_COLORMAP_GRAY_INVERTED, 0.0), ==, 0xFFFFFFFFu);
  g_assert_cmphex (dia_render_colormap (DIA_COLORMAP_DIVERGING, 0.5), ==, 0xFFFFFFFFu);
  /* Diverging ends: blue dominant at 0, red dominant at 1. */
  lo = dia_render_colormap (DIA_COLORMAP_DIVERGING, 0.0);
  hi = dia_render_colormap (DIA_COLORMAP_DIVERGING, 1.0);
  g_assert_cmpuint (lo & 0xFF, >, (lo >> 16) & 0xFF);
  g_assert_cmpuint ((hi >> 16) & 0xFF, >, hi & 0xFF);

  /* The perceptual map's luma (Rec. 601 weights) rises monotonically. */
  {
    double prev = -1.0;

    for (int i = 0; i <= 100; i++)
      {
        guint32 c = dia_render_colormap (DIA_COLORMAP_VIRIDIS_LIKE, i / 100.0);
        double luma = 0.299 * ((c >> 16) & 0xFF) + 0.587 * ((c >> 8) & 0xFF) + 0.114 * (c & 0xFF);

        g_assert_cmpfloat (luma, >=, prev - 0.5);
        prev = luma;
      }
  }
}

static void
test_diverging_white_at_zero (void)
{
  float plane[3] = { -4.0f, 0.0f, 4.0f };
  guint8 out[3 * 4];
  DiaRenderParams params;

  dia_render_params_init (&params);
  params.limits = DIA_LIMITS_MANUAL;
  params.low = -4.0;
  params.high = 4.0;
  params.colormap = DIA_COLORMAP_DIVERGING;
  dia_render_region (plane, NULL, 3, 1, 3, &params, -0.5, -0.5, 1.0, out, 3, 1, sizeof out);
  g_assert_cmphex (pixel_at (out, sizeof out, 1, 0), ==, 0xFFFFFFFFu);
  g_assert_cmphex (pixel_at (out, sizeof out, 0, 0), ==,
                   dia_render_colormap (DIA_COLORMAP_DIVERGING, 0.0));
  g_assert_cmphex (pixel_at (out, sizeof out, 2, 0), ==,
                   dia_render_colormap (DIA_COLORMAP_DIVERGING, 1.0));

  /* The symmetric-σ mode on a difference-like N(0,1) plane centres the map on 0 exactly. */
  {
    size_t stride;
    g_autofree float *p = make_noise (0.0, 1.0, 5, &stride);
    float zero = 0.0f;
    guint8 px[4];

    params.limits = DIA_LIMITS_SYMMETRIC_SIGMA;
    dia_render_compute_limits (p, NULL, 0, W, H, stride, &params);
    dia_render_region (&zero, NULL, 1, 1, 1, &params, -0.5, -0.5, 1.0, px, 1, 1, 4);
    g_assert_cmphex (pixel_at (px, 4, 0, 0), ==, 0xFFFFFFFFu);
  }
}

static void
test_nearest_checkerboard (void)
{
  /* 2 × 2 checkerboard: (0,0) and (1,1) are 1, the others 0. */
  const float board[4] = { 1.0f, 0.0f, 0.0f, 1.0f };
  guint8 out[8 * 8 * 4];
  const size_t out_stride = 8 * 4;
  DiaRenderParams params;

  dia_render_params_init (&params);
  params.limits = DIA_LIMITS_MANUAL;
  params.low = 0.0;
  params.high = 1.0;
  dia_render_region (board, NULL, 2, 2, 2, &params, -0.5, -0.5, 4.0, out, 8, 8, out_stride);
  for (int r = 0; r < 8; r++)
    for (int c = 0; c < 8; c++)
      {
        /* Output row 7 is the bottom, i.e. image row 0 (y up). */
        int ix = c / 4, iy = (7 - r) / 4;
        guint32 expect = board[iy * 2 + ix] > 0.5f ? 0xFFFFFFFFu : 0xFF000000u;

        g_assert_cmphex (pixel_at (out, out_stride, c, r), ==, expect);
      }
}

static void
test_orientation_and_identity (void)
{
  /* A 5 × 3 ramp with distinct values: value = x + 10 y. */
  float ramp[15];
  guint8 out[5 * 3 * 4];
  DiaRenderParams params;

  for (int y = 0; y < 3; y++)
    for (int x = 0; x < 5; x++)
      ramp[y * 5 + x] = (float) (x + 10 * y);
  dia_render_params_init (&params);
  params.limits = DIA_LIMITS_MINMAX;
  dia_render_compute_limits (ramp, NULL, 0, 5, 3, 5, &params);
  g_assert_cmpfloat (params.low, ==, 0.0);
  g_assert_cmpfloat (params.high, ==, 24.0);
  dia_render_region (ramp, NULL, 5, 3, 5, &params, -0.5, -0.5, 1.0, out, 5, 3, 5 * 4);
  for (int r = 0; r < 3; r++)
    for (int c = 0; c < 5; c++)
      {
        double t = dia_render_map_value (&params, ramp[(2 - r) * 5 + c]);
        guint32 g = (guint32) lround (255.0 * t);
        guint32 got = pixel_at (out, 5 * 4, c, r);

        /* Identity at zoom 1; the LUT quantisation moves a level by at most 1. */
        g_assert_cmpint (abs ((int) (got & 0xFF) - (int) g), <=, 1);
      }
  /* Top-left output pixel is image (0, 2) = 20; bottom-left is (0, 0) = black. */
  g_assert_cmphex (pixel_at (out, 5 * 4, 0, 2), ==, 0xFF000000u);
  g_assert_cmphex (pixel_at (out, 5 * 4, 4, 0), ==, 0xFFFFFFFFu);
  g_assert_cmpuint (pixel_at (out, 5 * 4, 0, 0) & 0xFF, ==, (guint32) lround (255.0 * 20 / 24));

  /* Panning by one pixel right shifts the content left by one output pixel. */
  {
    guint8 shifted[5 * 3 * 4];

    dia_render_region (ramp, NULL, 5, 3, 5, &params, 0.5, -0.5, 1.0, shifted, 5, 3, 5 * 4);
    for (int r = 0; r < 3; r++)
      for (int c = 0; c < 4; c++)
        g_assert_cmphex (pixel_at (shifted, 20, c, r), ==, pixel_at (out, 20, c + 1, r));
    g_assert_cmphex (pixel_at (shifted, 20, 4, 1), ==, params.nodata_bgra);
  }
}

static void
test_nodata_colour (void)
{
  float plane[6] = { 1.0f, NAN, 2.0f, -3.4e38f, INFINITY, 3.0f };
  DiaMask mask[6] = { 0, 0, DIA_MASK_NO_DATA, 0, 0, DIA_MASK_SAT };
  guint8 out[6 * 4];
  DiaRenderParams params;

  dia_render_params_init (&params);
  params.limits = DIA_LIMITS_MINMAX;
  dia_render_compute_limits (plane, mask, DIA_MASK_NO_DATA, 6, 1, 6, &params);
  /* Valid values are 1 and 3 (2 is NO_DATA, the rest non-finite or sentinel). */
  g_assert_cmpfloat (params.low, ==, 1.0);
  g_assert_cmpfloat (params.high, ==, 3.0);
  dia_render_region (plane, mask, 6, 1, 6, &params, -0.5, -0.5, 1.0, out, 6, 1, sizeof out);
  g_assert_cmphex (pixel_at (out, sizeof out, 0, 0), ==, 0xFF000000u);
  g_assert_cmphex (pixel_at (out, sizeof out, 5, 0), ==, 0xFFFFFFFFu);   /* SAT is shown */
  for (int c = 1; c <= 4; c++)
    g_assert_cmphex (pixel_at (out, sizeof out, c, 0), ==, 0xFF404040u);
  /* Byte order in memory is B, G, R, A. */
  params.nodata_bgra = 0xFF123456u;
  dia_render_region (plane, mask, 6, 1, 6, &params, -0.5, -0.5, 1.0, out, 6, 1, sizeof out);
  g_assert_cmpuint (out[4], ==, 0x56);
  g_assert_cmpuint (out[5], ==, 0x34);
  g_assert_cmpuint (out[6], ==, 0x12);
  g_assert_cmpuint (out[7], ==, 0xFF);
}

int
main (int argc, char **argv)
{
  test_init (&argc, &argv);
  g_test_add_func ("/render/zscale-noise", test_zscale_noise);
  g_test_add_func ("/render/zscale-ignores-stars", test_zscale_ignores_stars);
  g_test_add_func ("/render/sentinel-and-mask", test_sentinel_and_mask_never_stretch);
  g_test_add_func ("/render/stretches-monotonic", test_stretches_monotonic);
  g_test_add_func ("/render/contrast-bias", test_contrast_bias);
  g_test_add_func ("/render/colormaps", test_colormaps);
  g_test_add_func ("/render/diverging-white-at-zero", test_diverging_white_at_zero);
  g_test_add_func ("/render/nearest-checkerboard", test_nearest_checkerboard);
  g_test_add_func ("/render/orientation-identity", test_orientation_and_identity);
  g_test_add_func ("/render/nodata", test_nodata_colour);
  return g_test_run ();
}
