/* test-mask-overlay.c — headless checks of the viewing arithmetic: ds-mask-overlay.c colour
 * blending, sampling and settings round trip, and DS9 contrast/bias in dia-render.c.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "ds-mask-overlay.h"

#include "dia-image.h"
#include "dia-render.h"

#include <math.h>
#include <string.h>

static void
test_defaults_and_blend (void)
{
  g_autoptr (DsMaskOverlay) ov = ds_mask_overlay_new ();
  g_autoptr (DiaImage) im = dia_image_new (4, 4, NULL);
  gboolean shown;
  guint32 rgb, c;
  double alpha;

  g_assert_cmphex (ds_mask_overlay_default_colour ("SAT"), ==, 0x00FF00);
  g_assert_cmphex (ds_mask_overlay_default_colour ("bad"), ==, 0xFF0000);
  g_assert_cmphex (ds_mask_overlay_default_colour ("EDGE"), ==, 0xFFFF00);
  g_assert_cmphex (ds_mask_overlay_default_colour ("NO_DATA"), ==, 0xFFA500);
  ds_mask_overlay_get_plane (ov, "SAT", &shown, &rgb, &alpha);
  g_assert_true (shown);
  g_assert_cmphex (rgb, ==, 0x00FF00);
  g_assert_cmpfloat (alpha, ==, 0.4);

  /* Grey 100 under SAT green at 0.4: R, B 100·0.6 = 60, G 100·0.6 + 255·0.4 = 162. */
  c = ds_mask_overlay_blend (ov, im->plane_names, DIA_MASK_SAT, 0xFF646464u);
  g_assert_cmphex (c, ==, 0xFF3CA23Cu);
  /* No bit set, or a bit of an unnamed plane: unchanged. */
  g_assert_cmphex (ds_mask_overlay_blend (ov, im->plane_names, 0, 0xFF646464u), ==,
                   0xFF646464u);
  g_assert_cmphex (ds_mask_overlay_blend (ov, im->plane_names, 1u << 30, 0xFF646464u), ==,
                   0xFF646464u);
  /* SAT then EDGE, in bit order: green first, then yellow at 0.4 over that. */
  c = ds_mask_overlay_blend (ov, im->plane_names, DIA_MASK_SAT | DIA_MASK_EDGE, 0xFF000000u);
  /* after SAT: (0, 102, 0); after EDGE: R 0·0.6 + 255·0.4 = 102, G 102·0.6 + 102 = 163.2. */
  g_assert_cmphex (c, ==, 0xFF66A300u);
  /* Hidden plane: no change; alpha 1 replaces. */
  ds_mask_overlay_set_plane (ov, "sat", FALSE, 0x00FF00, 0.4);
  g_assert_cmphex (ds_mask_overlay_blend (ov, im->plane_names, DIA_MASK_SAT, 0xFF646464u), ==,
                   0xFF646464u);
  ds_mask_overlay_set_plane (ov, "BAD", TRUE, 0x123456, 1.0);
  g_assert_cmphex (ds_mask_overlay_blend (ov, im->plane_names, DIA_MASK_BAD, 0xFF646464u), ==,
                   0xFF123456u);
}

static void
test_variant_round_trip (void)
{
  g_autoptr (DsMaskOverlay) a = ds_mask_overlay_new ();
  g_autoptr (DsMaskOverlay) b = ds_mask_overlay_new ();
  g_autoptr (GVariant) v = NULL;
  g_autoptr (GVariant) w = NULL;
  gboolean shown;
  guint32 rgb;
  double alpha;

  ds_mask_overlay_set_plane (a, "CR", FALSE, 0xABCDEF, 0.25);
  ds_mask_overlay_set_plane (a, "my_plane", TRUE, 0x010203, 2.0);   /* alpha clamps to 1 */
  v = g_variant_ref_sink (ds_mask_overlay_to_variant (a));
  g_assert_cmpstr (g_variant_get_type_string (v), ==, "a{s(bsd)}");
  ds_mask_overlay_load_variant (b, v);
  ds_mask_overlay_get_plane (b, "cr", &shown, &rgb, &alpha);
  g_assert_false (shown);
  g_assert_cmphex (rgb, ==, 0xABCDEF);
  g_assert_cmpfloat (alpha, ==, 0.25);
  ds_mask_overlay_get_plane (b, "MY_PLANE", &shown, &rgb, &alpha);
  g_assert_true (shown);
  g_assert_cmphex (rgb, ==, 0x010203);
  g_assert_cmpfloat (alpha, ==, 1.0);
  w = g_variant_ref_sink (ds_mask_overlay_to_variant (b));
  g_assert_true (g_variant_equal (v, w));
  /* A bad colour is ignored, not parsed as garbage. */
  {
    g_autoptr (GVariant) bad = g_variant_ref_sink (
      g_variant_new_parsed ("{'SAT': (true, 'green', 0.5)}"));

    ds_mask_overlay_load_variant (b, bad);
    ds_mask_overlay_get_plane (b, "SAT", NULL, &rgb, NULL);
    g_assert_cmphex (rgb, ==, 0x00FF00);
  }
}

/* The overlay samples the same image pixel as dia_render_region() for every output pixel:
 * render a ramp at a fractional zoom and offset, overlay a checkerboard SAT mask at alpha 1,
 * and check each output pixel is green exactly where its sampled image pixel is masked. */
static void
test_apply_is_pixel_exact (void)
{
  g_autoptr (DsMaskOverlay) ov = ds_mask_overlay_new ();
  g_autoptr (DiaImage) im = dia_image_new (23, 17, NULL);
  DiaRenderParams params;
  const int ow = 97, oh = 61;
  const double sx = -1.3, sy = 2.7, zoom = 3.7;
  g_autofree guint8 *buf = g_malloc ((size_t) ow * oh * 4);
  g_autofree guint8 *plain = g_malloc ((size_t) ow * oh * 4);
  int n_masked = 0;

  for (int y = 0; y < im->height; y++)
    for (int x = 0; x < im->width; x++)
      {
        size_t i = dia_image_index (im, x, y);

        im->pix[i] = (float) (x + 100 * y);
        im->mask[i] = ((x / 2 + y) % 3 == 0) ? DIA_MASK_SAT : 0;
      }
  dia_render_params_init (&params);
  params.limits = DIA_LIMITS_MANUAL;
  params.low = 0;
  params.high = 2000;
  dia_render_region (im->pix, im->mask, im->width, im->height, im->stride, &params, sx, sy,
                     zoom, plain, ow, oh, (size_t) ow * 4);
  memcpy (buf, plain, (size_t) ow * oh * 4);
  ds_mask_overlay_set_plane (ov, "SAT", TRUE, 0x00FF00, 1.0);
  ds_mask_overlay_apply (ov, im, sx, sy, zoom, buf, ow, oh, (size_t) ow * 4);
  for (int r = 0; r < oh; r++)
    for (int c = 0; c < ow; c++)
      {
        /* The documented sampling of dia_render_region(). */
        double xi = floor (sx + (c + 0.5) / zoom + 0.5);
        double yi = floor (sy + (oh - 1 - r + 0.5) / zoom + 0.5);
        gboolean inside = xi >= 0 && xi < im->width && yi >= 0 && yi < im->height;
        gboolean masked = inside && im->mask[dia_image_index (im, (int) xi, (int) yi)] != 0;
        const guint8 *p = buf + ((size_t) r * ow + c) * 4;
        const guint8 *q = plain + ((size_t) r * ow + c) * 4;

        if (masked)
          {
            g_assert_cmpuint (p[0], ==, 0);       /* B */
            g_assert_cmpuint (p[1], ==, 255);     /* G */
            g_assert_cmpuint (p[2], ==, 0);       /* R */
            n_masked++;
          }
        else
          g_assert_cmpint (memcmp (p, q, 4), ==, 0);
      }
  g_assert_cmpint (n_masked, >, ow * oh / 5);
}

/* DS9 contrast/bias after limits and stretch: t' = (t − bias)·contrast + ½, clamped. */
static void
test_contrast_bias_mapping (void)
{
  DiaRenderParams p;

  dia_render_params_init (&p);
  p.limits = DIA_LIMITS_MANUAL;
  p.low = 0;
  p.high = 100;
  g_assert_cmpfloat (fabs (dia_render_map_value (&p, 25.0) - 0.25), <, 1e-12);
  p.bias = 0.3;
  g_assert_cmpfloat (fabs (dia_render_map_value (&p, 25.0) - 0.45), <, 1e-12);
  p.contrast = 2.0;
  p.bias = 0.5;
  g_assert_cmpfloat (fabs (dia_render_map_value (&p, 60.0) - 0.7), <, 1e-12);
  g_assert_cmpfloat (dia_render_map_value (&p, 10.0), ==, 0.0);
  g_assert_cmpfloat (dia_render_map_value (&p, 90.0), ==, 1.0);
  /* After the stretch: sqrt(0.25) = 0.5, then (0.5 − 0.25)·2 + 0.5 = 1. */
  p.stretch = DIA_STRETCH_SQRT;
  p.bias = 0.25;
  g_assert_cmpfloat (fabs (dia_render_map_value (&p, 25.0) - 1.0), <, 1e-12);
  p.bias = 0.5;
  g_assert_cmpfloat (fabs (dia_render_map_value (&p, 25.0) - 0.5), <, 1e-12);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/mask-overlay/defaults-and-blend", test_defaults_and_blend);
  g_test_add_func ("/mask-overlay/variant-round-trip", test_variant_round_trip);
  g_test_add_func ("/mask-overlay/apply-is-pixel-exact", test_apply_is_pixel_exact);
  g_test_add_func ("/render/contrast-bias", test_contrast_bias_mapping);
  return g_test_run ();
}
