/* test-pixel-readout.c — the per-pane pixel readout text, headless (no display, no GTK).
 *
 * Builds a small image with known value, variance and mask bits (core planes and an extra
 * named plane) and checks the exact strings: value and variance with 6 significant digits,
 * S/N = value/√variance with one decimal, mask planes by name in bit order, the dash for an
 * unusable variance, and the text outside the image.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "ds-pixel-readout.h"

#include <math.h>

static DiaImage *
make_image (void)
{
  g_autoptr (GError) error = NULL;
  DiaImage *im = dia_image_new (4, 3, &error);
  DiaMask streak;

  g_assert_no_error (error);
  im->pix[dia_image_index (im, 1, 2)] = 250.0f;
  im->var[dia_image_index (im, 1, 2)] = 100.0f;     /* S/N 25.0 */
  im->mask[dia_image_index (im, 1, 2)] = DIA_MASK_SAT | DIA_MASK_BAD;
  im->pix[dia_image_index (im, 3, 0)] = -12.5f;
  im->var[dia_image_index (im, 3, 0)] = 4.0f;       /* S/N -6.2 (−6.25 rounded half even) */
  streak = dia_image_add_mask_plane (im, "GHOST");
  im->mask[dia_image_index (im, 3, 0)] = streak | DIA_MASK_CR;
  im->pix[dia_image_index (im, 0, 0)] = 7.0f;
  im->var[dia_image_index (im, 0, 0)] = INFINITY;   /* NO_DATA-like: no S/N */
  im->mask[dia_image_index (im, 0, 0)] = (DiaMask) 1u << 30;   /* a bit without a name */
  dia_image_freeze (im);
  return im;
}

static void
test_format (void)
{
  g_autoptr (DiaImage) im = make_image ();
  g_autofree char *a = ds_pixel_readout_format (im, 1, 2);
  g_autofree char *b = ds_pixel_readout_format (im, 3, 0);
  g_autofree char *c = ds_pixel_readout_format (im, 0, 0);
  g_autofree char *d = ds_pixel_readout_format (im, 2, 1);
  g_autofree char *out1 = ds_pixel_readout_format (im, 4, 0);
  g_autofree char *out2 = ds_pixel_readout_format (im, 0, -1);
  g_autofree char *none = ds_pixel_readout_format (NULL, 0, 0);

  g_assert_cmpstr (a, ==, "value 250  var 100  S/N 25.0  mask BAD,SAT");
  g_assert_cmpstr (b, ==, "value -12.5  var 4  S/N -6.2  mask CR,GHOST");
  g_assert_cmpstr (c, ==, "value 7  var inf  S/N –  mask bit 30");
  /* A plain pixel: zero variance gives no S/N and no mask part. */
  g_assert_cmpstr (d, ==, "value 0  var 0  S/N –");
  g_assert_cmpstr (out1, ==, "outside the image");
  g_assert_cmpstr (out2, ==, "outside the image");
  g_assert_cmpstr (none, ==, "");
}

static void
test_mask_names (void)
{
  g_autoptr (DiaImage) im = make_image ();
  g_autofree char *empty = ds_pixel_readout_dup_mask_names (im, 0);
  g_autofree char *all = ds_pixel_readout_dup_mask_names (im, DIA_MASK_NO_DATA
                                                               | DIA_MASK_DETECTED
                                                               | DIA_MASK_EDGE);

  g_assert_cmpstr (empty, ==, "");
  g_assert_cmpstr (all, ==, "EDGE,DETECTED,NO_DATA");
}

/* A crop is a view with the parent's stride: the readout must index through the stride. */
static void
test_crop_uses_stride (void)
{
  g_autoptr (DiaImage) im = make_image ();
  g_autoptr (GError) error = NULL;
  DiaRect r = { 1, 1, 3, 2 };
  g_autoptr (DiaImage) crop = dia_image_crop (im, &r, &error);
  g_autofree char *a = NULL;

  g_assert_no_error (error);
  a = ds_pixel_readout_format (crop, 0, 1);
  g_assert_cmpstr (a, ==, "value 250  var 100  S/N 25.0  mask BAD,SAT");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/pixel-readout/format", test_format);
  g_test_add_func ("/pixel-readout/mask-names", test_mask_names);
  g_test_add_func ("/pixel-readout/crop-uses-stride", test_crop_uses_stride);
  return g_test_run ();
}
