/* test-fits.c — round trips through dia-fits.c on files the test writes itself.
 *
 * Each case writes a FITS file with cfitsio directly (so the reader is checked against the
 * library, not against our own writer), reads it with the engine and compares every pixel
 * with the values written: integer types and float32 exactly, float64 to float rounding,
 * compressed floats within the quantisation step.  The MEF case writes a DiaImage with the
 * engine writer and checks the full round trip (pixels, variance, mask bits by name, x0/y0,
 * WCS to 1e-9°, metadata).  The variance estimate is checked against the variance of the
 * noise the test injected.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "test-util.h"
#include "dia-error.h"
#include "dia-fits.h"
#include "dia-image.h"
#include "dia-rng.h"
#include "dia-wcs.h"

#include <fitsio.h>
#include <math.h>
#include <string.h>
#include <wcslib/wcs.h>

/* Creates path (overwriting) with one image HDU of the given BITPIX and writes values given
 * as datatype; the file stays open for extra keys when f_out is non-NULL. */
static void
write_simple (const char *path, int bitpix, int w, int h, int datatype, void *data,
              fitsfile **f_out)
{
  fitsfile *f = NULL;
  int status = 0;
  long naxes[2] = { w, h };
  g_autofree char *cpath = g_strconcat ("!", path, NULL);
  fits_create_file (&f, cpath, &status);
  fits_create_img (f, bitpix, 2, naxes, &status);
  if (data)
    fits_write_img (f, datatype, 1, (LONGLONG) w * h, data, &status);
  g_assert_cmpint (status, ==, 0);
  if (f_out)
    *f_out = f;
  else
    {
      fits_close_file (f, &status);
      g_assert_cmpint (status, ==, 0);
    }
}

static void
close_fits (fitsfile *f)
{
  int status = 0;
  fits_close_file (f, &status);
  g_assert_cmpint (status, ==, 0);
}

static DiaImage *
read_ok (const char *path)
{
  g_autoptr (GError) error = NULL;
  DiaImage *image = dia_fits_read_image (path, &error);
  g_assert_no_error (error);
  g_assert_nonnull (image);
  g_assert_true (image->frozen);
  return image;
}

static void
test_uint16 (TestDir *fx, gconstpointer data)
{
  g_autofree char *path = test_dir_path (fx, "u16.fits");
  g_autofree guint16 *v = g_new (guint16, 65536);
  g_autoptr (DiaImage) image = NULL;

  for (int i = 0; i < 65536; i++)
    v[i] = (guint16) i;
  write_simple (path, USHORT_IMG, 256, 256, TUSHORT, v, NULL);
  image = read_ok (path);
  g_assert_cmpint (image->width, ==, 256);
  g_assert_cmpint (image->height, ==, 256);
  for (int y = 0; y < 256; y++)
    for (int x = 0; x < 256; x++)
      g_assert_cmpfloat (image->pix[dia_image_index (image, x, y)], ==, (float) (y * 256 + x));
  g_assert_cmpint (image->meta.variance_origin, ==, DIA_VARIANCE_ESTIMATED);
  g_assert_cmpint (image->mask[0] & DIA_MASK_NO_DATA, ==, 0);
}

static void
test_int16_int32 (TestDir *fx, gconstpointer data)
{
  g_autofree char *p16 = test_dir_path (fx, "i16.fits"), *p32 = test_dir_path (fx, "i32.fits");
  g_autofree gint16 *v16 = g_new (gint16, 65536);
  g_autofree gint32 *v32 = g_new (gint32, 100 * 50);
  g_autoptr (DiaImage) a = NULL, b = NULL;

  for (int i = 0; i < 65536; i++)
    v16[i] = (gint16) (i - 32768);
  for (int i = 0; i < 5000; i++)
    v32[i] = (i - 2500) * 6701; /* ±1.68e7: exactly representable in float */
  write_simple (p16, SHORT_IMG, 256, 256, TSHORT, v16, NULL);
  write_simple (p32, LONG_IMG, 100, 50, TINT, v32, NULL);
  a = read_ok (p16);
  b = read_ok (p32);
  for (int i = 0; i < 65536; i++)
    g_assert_cmpfloat (a->pix[i], ==, (float) (i - 32768));
  g_assert_cmpint (b->width, ==, 100);
  g_assert_cmpint (b->height, ==, 50);
  for (int i = 0; i < 5000; i++)
    g_assert_cmpfloat (b->pix[i], ==, (float) v32[i]);
}

static void
test_float32_float64 (TestDir *fx, gconstpointer data)
{
  g_autofree char *p32 = test_dir_path (fx, "f32.fits"), *p64 = test_dir_path (fx, "f64.fits");
  const int w = 70, h = 40;
  g_autofree float *f = g_new (float, w * h);
  g_autofree double *d = g_new (double, w * h);
  g_autoptr (DiaImage) a = NULL, b = NULL;
  DiaRng rng;

  dia_rng_init (&rng, 7, 0);
  for (int i = 0; i < w * h; i++)
    {
      d[i] = 1e3 * dia_rng_gaussian (&rng) + 1e-7 * dia_rng_uniform (&rng);
      f[i] = (float) (d[i] * 1.37);
    }
  d[5] = 1e300; /* beyond float: must become NO_DATA, not an overflow error */
  write_simple (p32, FLOAT_IMG, w, h, TFLOAT, f, NULL);
  write_simple (p64, DOUBLE_IMG, w, h, TDOUBLE, d, NULL);
  a = read_ok (p32);
  b = read_ok (p64);
  for (int i = 0; i < w * h; i++)
    {
      g_assert_cmpfloat (a->pix[i], ==, f[i]);
      if (i != 5)
        g_assert_cmpfloat (b->pix[i], ==, (float) d[i]);
    }
  g_assert_cmpuint (b->mask[5] & DIA_MASK_NO_DATA, !=, 0);
  g_assert_cmpfloat (b->pix[5], ==, 0.0f);
}

static void
test_bscale (TestDir *fx, gconstpointer data)
{
  g_autofree char *path = test_dir_path (fx, "bscale.fits");
  gint16 raw[60];
  fitsfile *f = NULL;
  int status = 0;
  g_autoptr (DiaImage) image = NULL;

  for (int i = 0; i < 60; i++)
    raw[i] = (gint16) (i * 500 - 15000);
  write_simple (path, SHORT_IMG, 10, 6, TSHORT, NULL, &f);
  fits_write_key_dbl (f, "BSCALE", 0.25, -10, NULL, &status);
  fits_write_key_dbl (f, "BZERO", 100.0, -10, NULL, &status);
  /* Store the raw integers: physical = 0.25 raw + 100. */
  fits_set_bscale (f, 1.0, 0.0, &status);
  fits_write_img (f, TSHORT, 1, 60, raw, &status);
  g_assert_cmpint (status, ==, 0);
  close_fits (f);
  image = read_ok (path);
  for (int i = 0; i < 60; i++)
    g_assert_cmpfloat (image->pix[i], ==, 0.25f * raw[i] + 100.0f);
}

static void
test_compressed (TestDir *fx, gconstpointer data)
{
  g_autofree char *pint = test_dir_path (fx, "int.fits"), *pflt = test_dir_path (fx, "flt.fits");
  g_autofree char *cint = g_strconcat (pint, "[compress R 100,10]", NULL);
  g_autofree char *cflt = g_strconcat (pflt, "[compress R 100,10]", NULL);
  const int w = 300, h = 120;
  g_autofree gint32 *vi = g_new (gint32, w * h);
  g_autofree float *vf = g_new (float, w * h);
  g_autoptr (DiaImage) a = NULL, b = NULL;
  double max_err = 0, sum_sq = 0;
  DiaRng rng;

  dia_rng_init (&rng, 11, 0);
  for (int i = 0; i < w * h; i++)
    {
      vi[i] = (gint32) (1000 + 40 * dia_rng_gaussian (&rng)) - 500 * (i % 7);
      vf[i] = (float) (500.0 + 10.0 * dia_rng_gaussian (&rng));
    }
  write_simple (cint, LONG_IMG, w, h, TINT, vi, NULL);
  write_simple (cflt, FLOAT_IMG, w, h, TFLOAT, vf, NULL);
  a = read_ok (pint);
  b = read_ok (pflt);
  g_assert_cmpint (a->width, ==, w);
  g_assert_cmpint (b->height, ==, h);
  for (int i = 0; i < w * h; i++)
    {
      double e = fabs (b->pix[i] - vf[i]);
      g_assert_cmpfloat (a->pix[i], ==, (float) vi[i]);
      max_err = MAX (max_err, e);
      sum_sq += e * e;
    }
  /* cfitsio quantises floats in steps of (its per-tile noise estimate ≈ 10)/4 with dithering:
   * |error| <= step/2 ≈ 1.3, rms ≈ step/√12 ≈ 0.75. */
  g_assert_cmpfloat (max_err, <=, 1.6);
  g_assert_cmpfloat (sqrt (sum_sq / (w * h)), >, 0.5); /* it really was quantised */
  g_assert_cmpfloat (sqrt (sum_sq / (w * h)), <, 1.0);
}

static void
test_extension (TestDir *fx, gconstpointer data)
{
  g_autofree char *path = test_dir_path (fx, "ext.fits");
  g_autofree char *by_name = g_strconcat (path, "[SCI]", NULL);
  g_autofree char *by_index = g_strconcat (path, "[1]", NULL);
  g_autofree char *cpath = g_strconcat ("!", path, NULL);
  float vals[20 * 10], other[4] = { 1, 2, 3, 4 };
  long naxes[2] = { 20, 10 }, small[2] = { 2, 2 };
  fitsfile *f = NULL;
  int status = 0;
  const char *paths[3];

  for (int i = 0; i < 200; i++)
    vals[i] = (float) (i * 3 - 7);
  fits_create_file (&f, cpath, &status);
  fits_create_img (f, BYTE_IMG, 0, NULL, &status);
  fits_write_key_dbl (f, "GAIN", 3.5, -10, NULL, &status);
  fits_write_key_str (f, "DATE-OBS", "2015-12-27T06:26:24", NULL, &status);
  fits_write_key_dbl (f, "FLUXMAG0", 1e10, -10, NULL, &status);
  fits_write_key_str (f, "FILTER", "r", NULL, &status);
  fits_create_img (f, FLOAT_IMG, 2, naxes, &status);
  fits_write_key_str (f, "EXTNAME", "SCI", NULL, &status);
  fits_write_key_dbl (f, "SATURATE", 500.0, -10, NULL, &status);
  fits_write_img (f, TFLOAT, 1, 200, vals, &status);
  fits_create_img (f, FLOAT_IMG, 2, small, &status);
  fits_write_key_str (f, "EXTNAME", "OTHER", NULL, &status);
  fits_write_img (f, TFLOAT, 1, 4, other, &status);
  g_assert_cmpint (status, ==, 0);
  close_fits (f);

  paths[0] = by_name;
  paths[1] = by_index;
  paths[2] = path; /* primary empty: the first 2-D image HDU */
  for (int k = 0; k < 3; k++)
    {
      g_autoptr (DiaImage) image = read_ok (paths[k]);
      g_assert_cmpint (image->width, ==, 20);
      g_assert_cmpint (image->height, ==, 10);
      for (int i = 0; i < 200; i++)
        g_assert_cmpfloat (image->pix[i], ==, vals[i]);
      /* Metadata from the image HDU (SATURATE) and inherited from the primary. */
      g_assert_cmpfloat (image->meta.gain, ==, 3.5);
      g_assert_cmpfloat (image->meta.saturation, ==, 500.0);
      g_assert_cmpfloat_with_epsilon (image->meta.mjd, 57383.0 + (6 + 26 / 60.0 + 24 / 3600.0)
                                                                   / 24.0, 1e-8);
      g_assert_cmpfloat_with_epsilon (image->meta.zeropoint, 25.0, 1e-12);
      g_assert_cmpstr (image->meta.filter, ==, "r");
      /* Values >= SATURATE are flagged: 3i - 7 >= 500 from i = 169 on. */
      for (int i = 0; i < 200; i++)
        g_assert_cmpint (!!(image->mask[i] & DIA_MASK_SAT), ==, vals[i] >= 500.0f);
    }
  {
    g_autofree char *other_path = g_strconcat (path, "[OTHER]", NULL);
    g_autoptr (DiaImage) image = read_ok (other_path);
    g_assert_cmpint (image->width, ==, 2);
    g_assert_cmpfloat (image->pix[3], ==, 4.0f);
  }
}

static struct wcsprm *
make_tan_wcs (void)
{
  const char *lines[] = {
    "CTYPE1  = 'RA---TAN'", "CTYPE2  = 'DEC--TAN'", "CRPIX1  = 20.5", "CRPIX2  = 15.5",
    "CRVAL1  = 150.1234567", "CRVAL2  = 2.2345678", "CD1_1   = -5.5E-5", "CD1_2   = 1.0E-6",
    "CD2_1   = 1.2E-6", "CD2_2   = 5.5E-5",
  };
  char cards[G_N_ELEMENTS (lines) * 80 + 1];
  g_autoptr (GError) error = NULL;
  struct wcsprm *wcs;
  for (guint k = 0; k < G_N_ELEMENTS (lines); k++)
    {
      char card[81];
      g_snprintf (card, sizeof card, "%-80s", lines[k]);
      memcpy (cards + k * 80, card, 80);
    }
  cards[sizeof cards - 1] = '\0';
  wcs = dia_wcs_from_header (cards, G_N_ELEMENTS (lines), &error);
  g_assert_no_error (error);
  g_assert_nonnull (wcs);
  return wcs;
}

static void
test_mef_roundtrip (TestDir *fx, gconstpointer data)
{
  g_autofree char *path = test_dir_path (fx, "mef.fits");
  g_autoptr (GError) error = NULL;
  g_autoptr (DiaImage) src = dia_image_new (40, 30, &error);
  g_autoptr (DiaImage) back = NULL;
  g_autoptr (DiaHeaderCards) cards = dia_header_cards_new ();
  DiaMask extra, spike;
  DiaRng rng;
  fitsfile *f = NULL;
  int status = 0;
  char sval[FLEN_VALUE];
  double dval = 0;
  long lval = 0;

  g_assert_no_error (error);
  dia_rng_init (&rng, 3, 0);
  extra = dia_image_add_mask_plane (src, "MYPLANE");
  spike = dia_image_add_mask_plane (src, "SPIKE");
  g_assert_cmpuint (extra, !=, 0);
  for (int i = 0; i < 40 * 30; i++)
    {
      src->pix[i] = (float) (100 * dia_rng_gaussian (&rng));
      src->var[i] = (float) (50 + 10 * dia_rng_uniform (&rng));
      src->mask[i] = (i % 7 == 0 ? DIA_MASK_CR : 0) | (i % 11 == 0 ? extra : 0)
                     | (i % 13 == 0 ? spike : 0) | (i % 17 == 0 ? DIA_MASK_STREAK : 0);
    }
  src->mask[5] |= DIA_MASK_NO_DATA;
  src->pix[5] = 0.0f;
  src->var[5] = INFINITY;
  src->x0 = 17;
  src->y0 = -5;
  dia_image_take_wcs (src, make_tan_wcs ());
  src->meta.gain = 1.75;
  src->meta.read_noise = 4.5;
  src->meta.exptime = 30.0;
  src->meta.mjd = 59000.123456789012;
  src->meta.zeropoint = 27.123456789;
  src->meta.psf_fwhm = 3.3;
  src->meta.sky = 123.456;
  g_strlcpy (src->meta.filter, "HSC-I", sizeof src->meta.filter);
  g_strlcpy (src->meta.object, "field one", sizeof src->meta.object);
  g_strlcpy (src->meta.bunit, "adu", sizeof src->meta.bunit);
  src->meta.variance_origin = DIA_VARIANCE_SIMULATED;
  g_strlcpy (src->meta.variance_note,
             "simulated: test of a note longer than one card, which needs the CONTINUE "
             "convention to survive the trip through the header",
             sizeof src->meta.variance_note);
  dia_header_cards_add_string (cards, "SOFTWARE", "diffscope test", "who wrote this");
  dia_header_cards_add_double (cards, "KERNEL_SIGMA", 1.2345678901234567, NULL);
  dia_header_cards_add_int (cards, "nstamps", 1234567890123, NULL);
  dia_header_cards_add_bool (cards, "DECORR", TRUE, NULL);
  g_assert_true (dia_fits_write_image (path, src, cards, &error));
  g_assert_no_error (error);

  back = read_ok (path);
  g_assert_cmpint (back->width, ==, 40);
  g_assert_cmpint (back->height, ==, 30);
  g_assert_cmpint (back->x0, ==, 17);
  g_assert_cmpint (back->y0, ==, -5);
  for (int i = 0; i < 40 * 30; i++)
    {
      g_assert_cmpfloat (back->pix[i], ==, src->pix[i]);
      g_assert_cmpfloat (back->var[i], ==, src->var[i]);
    }
  g_assert_cmpuint (dia_image_mask_bit (back, "MYPLANE"), ==, extra);
  g_assert_cmpuint (dia_image_mask_bit (back, "SPIKE"), ==, spike);
  for (int i = 0; i < 40 * 30; i++)
    g_assert_cmpuint (back->mask[i], ==, src->mask[i]);
  /* WCS: pixel → sky agrees to 1e-9 degrees everywhere. */
  g_assert_nonnull (back->wcs);
  for (int y = 0; y < 30; y += 7)
    for (int x = 0; x < 40; x += 9)
      {
        double r0, d0, r1, d1;
        g_assert_true (dia_wcs_pix2sky (src->wcs, x, y, &r0, &d0));
        g_assert_true (dia_wcs_pix2sky (back->wcs, x, y, &r1, &d1));
        g_assert_cmpfloat (fabs (r0 - r1), <, 1e-9);
        g_assert_cmpfloat (fabs (d0 - d1), <, 1e-9);
      }
  g_assert_cmpfloat (back->meta.gain, ==, 1.75);
  g_assert_cmpfloat (back->meta.read_noise, ==, 4.5);
  g_assert_cmpfloat (back->meta.exptime, ==, 30.0);
  g_assert_cmpfloat (back->meta.mjd, ==, src->meta.mjd);
  g_assert_cmpfloat (back->meta.zeropoint, ==, src->meta.zeropoint);
  g_assert_cmpfloat (back->meta.psf_fwhm, ==, 3.3);
  g_assert_cmpfloat (back->meta.sky, ==, 123.456);
  g_assert_true (isnan (back->meta.saturation));
  g_assert_cmpstr (back->meta.filter, ==, "HSC-I");
  g_assert_cmpstr (back->meta.object, ==, "field one");
  g_assert_cmpstr (back->meta.bunit, ==, "adu");
  g_assert_cmpint (back->meta.variance_origin, ==, DIA_VARIANCE_SIMULATED);
  g_assert_cmpstr (back->meta.variance_note, ==, src->meta.variance_note);
  g_assert_cmpint (back->n_header_cards, >, 10);

  /* The layout other tools expect, checked with cfitsio itself. */
  fits_open_file (&f, path, READONLY, &status);
  fits_read_key (f, TSTRING, "SOFTWARE", sval, NULL, &status);
  g_assert_cmpstr (sval, ==, "diffscope test");
  fits_read_key (f, TDOUBLE, "KERNEL_SIGMA", &dval, NULL, &status);
  g_assert_cmpfloat (dval, ==, 1.2345678901234567);
  {
    LONGLONG ll = 0;
    fits_read_key (f, TLONGLONG, "nstamps", &ll, NULL, &status);
    g_assert_cmpint (ll, ==, 1234567890123);
  }
  fits_movnam_hdu (f, IMAGE_HDU, "MASK", 0, &status);
  fits_read_key (f, TLONG, "MP_MYPLANE", &lval, NULL, &status);
  g_assert_cmpint (lval, ==, __builtin_ctz (extra));
  fits_read_key (f, TLONG, "MP_DETECTED_NEGATIVE", &lval, NULL, &status);
  g_assert_cmpint (lval, ==, 6);
  fits_movnam_hdu (f, IMAGE_HDU, "IMAGE", 0, &status);
  fits_read_key (f, TLONG, "LTV1", &lval, NULL, &status);
  g_assert_cmpint (lval, ==, -17);
  fits_read_key (f, TLONG, "CRVAL2A", &lval, NULL, &status);
  g_assert_cmpint (lval, ==, -5);
  {
    float v = 0;
    LONGLONG first[2] = { 6, 1 };
    int anynul = 0;
    fits_read_pixll (f, TFLOAT, first, 1, NULL, &v, &anynul, &status);
    g_assert_true (isnan (v)); /* NO_DATA is NaN on disk */
  }
  g_assert_cmpint (status, ==, 0);
  close_fits (f);
}

static void
test_no_data_values (TestDir *fx, gconstpointer data)
{
  g_autofree char *path = test_dir_path (fx, "nodata.fits");
  float v[8 * 8];
  g_autoptr (DiaImage) image = NULL;
  int n_nodata = 0;

  for (int i = 0; i < 64; i++)
    v[i] = (float) (100 + i);
  v[3] = NAN;
  v[10] = INFINITY;
  v[20] = -INFINITY;
  v[30] = -3.4e38f;
  v[40] = -9.9e37f; /* above the sentinel threshold: a (strange) valid value */
  write_simple (path, FLOAT_IMG, 8, 8, TFLOAT, v, NULL);
  image = read_ok (path);
  for (int i = 0; i < 64; i++)
    {
      gboolean bad = i == 3 || i == 10 || i == 20 || i == 30;
      g_assert_cmpint (!!(image->mask[i] & DIA_MASK_NO_DATA), ==, bad);
      if (bad)
        {
          g_assert_cmpfloat (image->pix[i], ==, 0.0f);
          g_assert_true (isinf (image->var[i]) && image->var[i] > 0);
          n_nodata++;
        }
      else
        {
          g_assert_cmpfloat (image->pix[i], ==, v[i]);
          g_assert_true (isfinite (image->var[i]) && image->var[i] > 0);
        }
    }
  g_assert_cmpint (n_nodata, ==, 4);
}

static void
test_separate_planes (TestDir *fx, gconstpointer data)
{
  g_autofree char *pimg = test_dir_path (fx, "img.fits"), *pvar = test_dir_path (fx, "var.fits");
  g_autofree char *psig = test_dir_path (fx, "sig.fits"), *pmask = test_dir_path (fx, "mask.fits");
  g_autofree char *pbare = test_dir_path (fx, "bare-mask.fits");
  const int w = 16, h = 12, n = 16 * 12;
  float img[16 * 12], var[16 * 12], sig[16 * 12];
  gint32 mask[16 * 12];
  fitsfile *f = NULL;
  int status = 0;
  g_autoptr (GError) error = NULL;

  for (int i = 0; i < n; i++)
    {
      img[i] = (float) (i % 50);
      var[i] = (float) (1 + i);
      sig[i] = 0.5f * (float) (i % 9);
      mask[i] = (i % 5 == 0 ? 1 << 3 : 0) | (i % 6 == 0 ? 1 << 12 : 0);
    }
  var[7] = -1.0f;  /* negative variance: NO_DATA */
  sig[8] = NAN;    /* NaN σ: NO_DATA */
  write_simple (pimg, FLOAT_IMG, w, h, TFLOAT, img, NULL);
  write_simple (pvar, FLOAT_IMG, w, h, TFLOAT, var, NULL);
  write_simple (psig, FLOAT_IMG, w, h, TFLOAT, sig, NULL);
  write_simple (pbare, LONG_IMG, w, h, TINT, mask, NULL);
  write_simple (pmask, LONG_IMG, w, h, TINT, mask, &f);
  fits_write_key_lng (f, "MP_CR", 3, NULL, &status);
  fits_write_key_lng (f, "HIERARCH MP_GHOST_HALO", 12, NULL, &status);
  g_assert_cmpint (status, ==, 0);
  close_fits (f);

  {
    g_autoptr (DiaImage) image = dia_fits_read_with_planes (pimg, pvar, FALSE, pmask, &error);
    DiaMask ghost;
    g_assert_no_error (error);
    ghost = dia_image_mask_bit (image, "GHOST_HALO");
    g_assert_cmpuint (ghost, !=, 0);
    g_assert_cmpint (image->meta.variance_origin, ==, DIA_VARIANCE_FROM_FILE);
    for (int i = 0; i < n; i++)
      {
        if (i == 7)
          {
            g_assert_cmpuint (image->mask[i] & DIA_MASK_NO_DATA, !=, 0);
            g_assert_cmpfloat (image->pix[i], ==, 0.0f);
            continue;
          }
        g_assert_cmpfloat (image->pix[i], ==, img[i]);
        g_assert_cmpfloat (image->var[i], ==, var[i]);
        g_assert_cmpint (!!(image->mask[i] & DIA_MASK_CR), ==, i % 5 == 0);
        g_assert_cmpint (!!(image->mask[i] & ghost), ==, i % 6 == 0);
        g_assert_cmpuint (image->mask[i] & DIA_MASK_NO_DATA, ==, 0);
      }
  }
  {
    g_autoptr (DiaImage) image = dia_fits_read_with_planes (pimg, psig, TRUE, pbare, &error);
    g_assert_no_error (error);
    g_assert_cmpint (image->meta.variance_origin, ==, DIA_VARIANCE_FROM_SIGMA_FILE);
    for (int i = 0; i < n; i++)
      {
        if (i == 8)
          {
            g_assert_cmpuint (image->mask[i] & DIA_MASK_NO_DATA, !=, 0);
            continue;
          }
        g_assert_cmpfloat (image->var[i], ==, sig[i] * sig[i]);
        /* A mask without MP_* names: any set bit is BAD. */
        g_assert_cmpint (!!(image->mask[i] & DIA_MASK_BAD), ==, mask[i] != 0);
      }
  }
  {
    g_autoptr (DiaImage) image = dia_fits_read_with_planes (pimg, NULL, FALSE, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpint (image->meta.variance_origin, ==, DIA_VARIANCE_ESTIMATED);
  }
}

/* Variance estimate on a Poisson-like image: sky 1000 ADU, gain 2 e-/ADU → sky variance 500,
 * and stars whose excess s adds s/2. */
static void
check_estimate (const char *path, gboolean with_gain)
{
  const int w = 200, h = 200;
  g_autofree float *v = g_new (float, w * h);
  g_autofree float *truth = g_new (float, w * h);
  g_autoptr (DiaImage) image = NULL;
  fitsfile *f = NULL;
  int status = 0;
  DiaRng rng;

  dia_rng_init (&rng, 21, 0);
  for (int i = 0; i < w * h; i++)
    {
      double mean = 1000.0, vv;
      if (i % 97 == 0)
        mean += 10000.0;
      vv = mean / 2.0;
      truth[i] = (float) vv;
      v[i] = (float) (mean + sqrt (vv) * dia_rng_gaussian (&rng));
    }
  write_simple (path, FLOAT_IMG, w, h, TFLOAT, v, &f);
  if (with_gain)
    fits_write_key_dbl (f, "GAIN", 2.0, -5, NULL, &status);
  g_assert_cmpint (status, ==, 0);
  close_fits (f);
  image = read_ok (path);
  g_assert_cmpint (image->meta.variance_origin, ==, DIA_VARIANCE_ESTIMATED);
  g_assert_cmpfloat_with_epsilon (image->meta.sky, 1000.0, 1.0);
  g_assert_nonnull (strstr (image->meta.variance_note, "estimated"));
  /* Sky pixels at or below the sky level carry exactly the sky variance, which must match
   * the injected 500 within 3 %; stars 5500 within 5 % (their excess includes noise). */
  {
    double star_err = 0, sky_var = NAN;
    int n_star = 0, n_low = 0;
    for (int i = 0; i < w * h; i++)
      if (i % 97 == 0)
        {
          star_err = MAX (star_err, fabs (image->var[i] / truth[i] - 1.0));
          n_star++;
        }
      else if (image->pix[i] <= image->meta.sky)
        {
          if (isnan (sky_var))
            sky_var = image->var[i];
          g_assert_cmpfloat (image->var[i], ==, sky_var);
          n_low++;
        }
    g_assert_cmpint (n_star, >, 400);
    g_assert_cmpint (n_low, >, 15000);
    g_assert_cmpfloat (fabs (sky_var / 500.0 - 1.0), <, 0.03);
    g_assert_cmpfloat (star_err, <, 0.05);
  }
}

static void
test_variance_estimate (TestDir *fx, gconstpointer data)
{
  g_autofree char *p1 = test_dir_path (fx, "gain.fits"), *p2 = test_dir_path (fx, "nogain.fits");
  check_estimate (p1, TRUE);
  check_estimate (p2, FALSE);
}

static void
test_planes_and_info (TestDir *fx, gconstpointer data)
{
  g_autofree char *path = test_dir_path (fx, "planes.fits"), *kpath = test_dir_path (fx, "k.fits");
  g_autofree char *ext = g_strconcat (path, "[KERNEL]", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (DiaHeaderCards) cards = dia_header_cards_new ();
  g_autofree char *info = NULL;
  float buf[10 * 7]; /* a 7×5 plane inside rows of stride 10 */

  for (int i = 0; i < 70; i++)
    buf[i] = (float) i;
  dia_header_cards_add_double (cards, "SIGMA", 2.5, "kernel width");
  g_assert_true (dia_fits_write_plane (kpath, buf, 7, 5, 10, cards, &error));
  g_assert_no_error (error);
  g_assert_true (dia_fits_append_plane (path, "TRUTH", buf, 10, 7, 10, NULL, &error));
  g_assert_true (dia_fits_append_plane (path, "KERNEL", buf, 7, 5, 10, cards, &error));
  g_assert_no_error (error);
  {
    g_autoptr (DiaImage) k = read_ok (kpath);
    g_autoptr (DiaImage) e = read_ok (ext);
    g_autoptr (DiaImage) t = read_ok (path);
    g_assert_cmpint (k->width, ==, 7);
    g_assert_cmpint (e->height, ==, 5);
    g_assert_cmpint (t->width, ==, 10);
    for (int y = 0; y < 5; y++)
      for (int x = 0; x < 7; x++)
        {
          g_assert_cmpfloat (k->pix[dia_image_index (k, x, y)], ==, buf[y * 10 + x]);
          g_assert_cmpfloat (e->pix[dia_image_index (e, x, y)], ==, buf[y * 10 + x]);
        }
    g_assert_cmpfloat (t->pix[69], ==, 69.0f);
  }
  info = dia_fits_dup_info (path, &error);
  g_assert_no_error (error);
  g_assert_nonnull (strstr (info, "EXTNAME=TRUTH"));
  g_assert_nonnull (strstr (info, "EXTNAME=KERNEL"));
  g_assert_nonnull (strstr (info, "10 × 7"));
  g_assert_nonnull (strstr (info, "median 34.5"));
  g_assert_nonnull (strstr (info, "max 69"));
}

int
main (int argc, char **argv)
{
  test_init (&argc, &argv);
#define ADD(name, fn) g_test_add ("/fits/" name, TestDir, NULL, test_dir_setup, fn, \
                                  test_dir_teardown)
  ADD ("uint16-bzero", test_uint16);
  ADD ("int16-int32", test_int16_int32);
  ADD ("float32-float64", test_float32_float64);
  ADD ("bscale", test_bscale);
  ADD ("tile-compressed", test_compressed);
  ADD ("named-extension", test_extension);
  ADD ("mef-roundtrip", test_mef_roundtrip);
  ADD ("no-data-values", test_no_data_values);
  ADD ("separate-planes", test_separate_planes);
  ADD ("variance-estimate", test_variance_estimate);
  ADD ("planes-and-info", test_planes_and_info);
#undef ADD
  return g_test_run ();
}
