/* test-fits-real.c — dia-fits.c on real third-party files (../shared/data/real).
 *
 * Every case skips when its file is absent.  The expected numbers are either facts documented
 * with the data (sizes, mask planes, xy0, NaN counts in alerts_index.csv) or values measured
 * once with this reader and cross-checked by hand (medians, robust σ); the tolerances are
 * tight enough that a wrong BZERO, a transposed read or a lost plane fails.  Where the file
 * carries a variance plane, its median is compared with the robust σ² of the sky: for these
 * background-dominated images the two agree within 15 %, which checks that VARIANCE was
 * read from the right HDU in the right units.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "test-util.h"
#include "dia-error.h"
#include "dia-fits.h"
#include "dia-image.h"
#include "dia-stats.h"
#include "dia-wcs.h"

#include <fitsio.h>
#include <math.h>
#include <string.h>
#include <wcslib/wcs.h>

static DiaImage *
load_real (const char *relative)
{
  g_autofree char *path = test_real_path (relative);
  g_autoptr (GError) error = NULL;
  DiaImage *image;
  if (path == NULL)
    return NULL;
  image = dia_fits_read_image (path, &error);
  g_assert_no_error (error);
  g_assert_nonnull (image);
  return image;
}

static void
image_stats (const DiaImage *image, gboolean var, DiaStats *st)
{
  g_autoptr (GError) error = NULL;
  g_assert_true (dia_stats_image (image, NULL, var, DIA_MASK_NO_DATA, 0, st, &error));
  g_assert_no_error (error);
  g_test_message ("%s: median %.6g robust σ %.6g min %.6g max %.6g", var ? "var" : "pix",
                  st->median, st->robust_sigma, st->min, st->max);
}

static gint64
count_mask (const DiaImage *image, DiaMask bits)
{
  gint64 n = 0;
  for (int y = 0; y < image->height; y++)
    for (int x = 0; x < image->width; x++)
      n += (image->mask[dia_image_index (image, x, y)] & bits) != 0;
  return n;
}

static int
count_planes (const DiaImage *image)
{
  int n = 0;
  for (int b = 0; b < DIA_MASK_MAX_PLANES; b++)
    n += image->plane_names[b] != NULL;
  return n;
}

/* Median variance against the robust σ² of the sky pixels (DETECTED and unusable excluded). */
static void
check_variance_matches_noise (const DiaImage *image, double tolerance)
{
  g_autoptr (GError) error = NULL;
  const DiaMask exclude = DIA_MASK_UNUSABLE | DIA_MASK_DETECTED | DIA_MASK_DETECTED_NEGATIVE
                          | DIA_MASK_CR | DIA_MASK_INTRP;
  DiaStats pix, var;
  g_assert_true (dia_stats_image (image, NULL, FALSE, exclude, 0, &pix, &error));
  g_assert_true (dia_stats_image (image, NULL, TRUE, exclude, 0, &var, &error));
  g_test_message ("sky: robust σ² %.6g, median variance %.6g, ratio %.4f",
                  pix.robust_sigma * pix.robust_sigma, var.median,
                  var.median / (pix.robust_sigma * pix.robust_sigma));
  g_assert_cmpfloat (fabs (var.median / (pix.robust_sigma * pix.robust_sigma) - 1.0), <,
                     tolerance);
}

/* Writes image with the engine writer, reads it back and requires identical planes, mask
 * bits by name, xy0 and a WCS (here TAN-SIP or TPV) that agrees to 1e-9° on a grid. */
static void
roundtrip (const DiaImage *image)
{
  g_autofree char *dir = test_tmpdir_new ();
  g_autofree char *path = g_build_filename (dir, "roundtrip.fits", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (DiaImage) back = NULL;
  double worst = 0;

  g_assert_true (dia_fits_write_image (path, image, NULL, &error));
  g_assert_no_error (error);
  back = dia_fits_read_image (path, &error);
  g_assert_no_error (error);
  g_assert_cmpint (back->width, ==, image->width);
  g_assert_cmpint (back->height, ==, image->height);
  g_assert_cmpint (back->x0, ==, image->x0);
  g_assert_cmpint (back->y0, ==, image->y0);
  for (int b = 0; b < DIA_MASK_MAX_PLANES; b++)
    g_assert_cmpstr (back->plane_names[b], ==, image->plane_names[b]);
  for (int y = 0; y < image->height; y++)
    for (int x = 0; x < image->width; x++)
      {
        size_t i = dia_image_index (image, x, y), j = dia_image_index (back, x, y);
        g_assert_cmpfloat (back->pix[j], ==, image->pix[i]);
        g_assert_cmpfloat (back->var[j], ==, image->var[i]);
        g_assert_cmpuint (back->mask[j], ==, image->mask[i]);
      }
  g_assert_true ((back->wcs == NULL) == (image->wcs == NULL));
  for (int y = 0; image->wcs && y <= image->height; y += image->height / 4)
    for (int x = 0; x <= image->width; x += image->width / 4)
      {
        double r0, d0, r1, d1;
        g_assert_true (dia_wcs_pix2sky (image->wcs, x, y, &r0, &d0));
        g_assert_true (dia_wcs_pix2sky (back->wcs, x, y, &r1, &d1));
        worst = MAX (worst, MAX (fabs (r0 - r1), fabs (d0 - d1)));
      }
  g_assert_cmpfloat (worst, <, 1e-9);
  test_tmpdir_remove (dir);
}

static void
test_afw_hsc (void)
{
  g_autoptr (DiaImage) image = load_real ("C_lsst/afw_HSC-0908120-056-small.fits");
  DiaStats st;
  double ra, dec;
  if (image == NULL)
    return;
  g_assert_cmpint (image->width, ==, 200);
  g_assert_cmpint (image->height, ==, 200);
  g_assert_cmpint (image->x0, ==, 100);
  g_assert_cmpint (image->y0, ==, 100);
  /* 11 planes in the file: 9 core ones plus CROSSTALK and UNMASKEDNAN as extra planes. */
  g_assert_cmpuint (dia_image_mask_bit (image, "CROSSTALK"), >=, 1u << DIA_MASK_FIRST_EXTRA_BIT);
  g_assert_cmpuint (dia_image_mask_bit (image, "UNMASKEDNAN"), >=,
                    1u << DIA_MASK_FIRST_EXTRA_BIT);
  g_assert_cmpint (count_planes (image), ==, DIA_MASK_N_CORE + 2);
  /* The file has NO_DATA at bit 9 and CROSSTALK at bit 8: remapped by name. */
  g_assert_cmpint (count_mask (image, DIA_MASK_DETECTED), ==, 5390);
  g_assert_cmpint (count_mask (image, dia_image_mask_bit (image, "CROSSTALK")), ==, 14);
  g_assert_cmpint (count_mask (image, DIA_MASK_NO_DATA), ==, 0);
  g_assert_cmpint (count_mask (image, DIA_MASK_FAKE), ==, 0);
  g_assert_nonnull (image->wcs);
  g_assert_true (dia_wcs_pix2sky (image->wcs, 99.5, 99.5, &ra, &dec));
  g_assert_cmpfloat (fabs (ra - 151.4067), <, 0.001);
  g_assert_cmpfloat (fabs (dec - 1.6504), <, 0.001);
  g_assert_cmpfloat_with_epsilon (dia_wcs_pixel_scale (image->wcs, 100, 100), 0.166, 0.002);
  g_assert_cmpint (image->meta.variance_origin, ==, DIA_VARIANCE_FROM_FILE);
  image_stats (image, FALSE, &st);
  g_assert_cmpfloat_with_epsilon (st.median, 2.3951, 0.001);
  g_assert_cmpfloat_with_epsilon (st.robust_sigma, 23.450, 0.01);
  g_assert_cmpfloat_with_epsilon (st.max, 2255.54, 0.01);
  check_variance_matches_noise (image, 0.15);
  roundtrip (image);
}

static void
test_pipe_tasks (void)
{
  g_autoptr (DiaImage) image = load_real ("C_lsst/pipe_tasks_mini-r-3-113_0.fits.gz");
  DiaStats st;
  if (image == NULL)
    return;
  g_assert_cmpint (image->width, ==, 512);
  g_assert_cmpint (image->height, ==, 512);
  g_assert_cmpint (image->x0, ==, 231324);
  g_assert_cmpint (image->y0, ==, 0);
  g_assert_cmpint (count_planes (image), ==, DIA_MASK_N_CORE); /* 7 planes, all core */
  g_assert_cmpint (count_mask (image, DIA_MASK_INTRP), ==, 97172);
  g_assert_cmpint (count_mask (image, DIA_MASK_CR), ==, 30247);
  g_assert_cmpint (count_mask (image, DIA_MASK_DETECTED), ==, 12922);
  g_assert_nonnull (image->wcs);
  g_assert_nonnull (strstr (image->wcs->ctype[0], "CEA"));
  g_assert_cmpfloat_with_epsilon (image->meta.zeropoint, 27.0, 1e-6); /* FLUXMAG0 = 10^10.8 */
  g_assert_cmpstr (image->meta.filter, ==, "r");
  image_stats (image, FALSE, &st);
  g_assert_cmpfloat_with_epsilon (st.median, -0.02212, 0.0001);
  g_assert_cmpfloat_with_epsilon (st.robust_sigma, 0.22992, 0.0002);
  check_variance_matches_noise (image, 0.15);
  roundtrip (image); /* CEA WCS, x0 = 231324 */
}

static void
test_obs_base_calexp (void)
{
  g_autoptr (DiaImage) image = load_real ("C_lsst/obs_base_calexp_HSC.fits");
  DiaStats st;
  if (image == NULL)
    return;
  g_assert_cmpint (image->width, ==, 64);
  g_assert_cmpint (image->height, ==, 32);
  /* 15 planes (int32 MASK): 11 core + BRIGHT_OBJECT, CROSSTALK, NOT_DEBLENDED, UNMASKEDNAN,
   * VIGNETTED (afw's VIGNETTED sits at bit 9, which is FAKE here). */
  g_assert_cmpint (count_planes (image), ==, DIA_MASK_N_CORE + 5);
  g_assert_cmpuint (dia_image_mask_bit (image, "VIGNETTED"), !=, 0);
  g_assert_cmpuint (dia_image_mask_bit (image, "NOT_DEBLENDED"), !=, 0);
  g_assert_cmpuint (dia_image_mask_bit (image, "STREAK"), ==, DIA_MASK_STREAK);
  g_assert_cmpint (count_mask (image, DIA_MASK_BAD), ==, 576);
  g_assert_cmpint (count_mask (image, DIA_MASK_EDGE), ==, 783);
  g_assert_cmpfloat (image->meta.exptime, ==, 30.0);
  g_assert_cmpstr (image->meta.filter, ==, "HSC-I");
  g_assert_cmpstr (image->meta.object, ==, "STRIPE82L");
  g_assert_nonnull (image->wcs);
  image_stats (image, FALSE, &st);
  g_assert_cmpfloat_with_epsilon (st.median, -4.458, 0.001);
  g_assert_cmpfloat_with_epsilon (st.robust_sigma, 9.3906, 0.001);
}

static void
test_ip_diffim_pair (void)
{
  g_autoptr (DiaImage) sci = load_real ("C_lsst/ip_diffim_scienceMI.fits");
  g_autoptr (DiaImage) tmpl = load_real ("C_lsst/ip_diffim_templateMI.fits");
  DiaStats st;
  if (sci == NULL || tmpl == NULL)
    return;
  g_assert_cmpint (sci->width, ==, 193);
  g_assert_cmpint (sci->height, ==, 193);
  g_assert_cmpint (tmpl->width, ==, 193);
  g_assert_cmpint (tmpl->height, ==, 193);
  g_assert_null (sci->wcs);
  g_assert_cmpint (sci->meta.variance_origin, ==, DIA_VARIANCE_FROM_FILE);
  image_stats (sci, FALSE, &st);
  g_assert_cmpfloat (st.median, ==, 0.0);
  g_assert_cmpfloat_with_epsilon (st.robust_sigma, 10.378, 0.001);
  g_assert_cmpfloat (st.min, ==, -35.0);
  g_assert_cmpfloat (st.max, ==, 245.0);
  check_variance_matches_noise (sci, 0.15);
}

static void
test_decam (void)
{
  g_autoptr (DiaImage) image = load_real ("A_pairs/decam_sfft/DEC-OBS18a.mini.fits");
  DiaStats st;
  size_t imax = 0;
  if (image == NULL)
    return;
  g_assert_cmpint (image->width, ==, 256);
  g_assert_cmpint (image->height, ==, 256);
  g_assert_cmpint (image->meta.variance_origin, ==, DIA_VARIANCE_ESTIMATED);
  g_assert_cmpfloat_with_epsilon (image->meta.gain, 4.1505, 1e-9);
  g_assert_cmpfloat (image->meta.exptime, ==, 330.0);
  g_assert_cmpfloat_with_epsilon (image->meta.psf_fwhm, 3.85, 0.01);
  g_assert_nonnull (image->wcs);
  image_stats (image, FALSE, &st);
  g_assert_cmpfloat_with_epsilon (st.median, 0.8335, 0.001);
  g_assert_cmpfloat_with_epsilon (st.robust_sigma, 53.392, 0.01);
  /* Estimated variance: a sky σ² floor (the median block noise, within 10 % of the global
   * robust σ² on this clean field), plus (pix − sky)/GAIN on sources. */
  {
    float floor_var = G_MAXFLOAT;
    for (size_t i = 0; i < (size_t) 256 * 256; i++)
      {
        if (image->pix[i] > image->pix[imax])
          imax = i;
        floor_var = MIN (floor_var, image->var[i]);
      }
    g_test_message ("variance floor %.1f, global robust σ² %.1f", floor_var,
                    st.robust_sigma * st.robust_sigma);
    g_assert_cmpfloat (fabs (floor_var / (st.robust_sigma * st.robust_sigma) - 1.0), <, 0.10);
    g_assert_cmpfloat_with_epsilon (image->var[imax],
                                    floor_var + (image->pix[imax] - image->meta.sky) / 4.1505,
                                    0.5);
  }
  roundtrip (image); /* TPV WCS, estimated variance */
}

static void
test_jwst_nan (void)
{
  g_autoptr (DiaImage) image = load_real (
    "A_pairs/jwst_abell2744_f200w/"
    "jw01324001001-01324-o001_t001_nircam_clear-f200w_i2d_stamp.fits");
  if (image == NULL)
    return;
  g_assert_cmpint (image->width, ==, 900);
  g_assert_cmpint (image->height, ==, 900);
  g_assert_cmpint (count_mask (image, DIA_MASK_NO_DATA), ==, 5);
  g_assert_cmpstr (image->meta.bunit, ==, "MJy/sr");
  g_assert_cmpfloat_with_epsilon (image->meta.mjd, 59759.41, 0.01);
  g_assert_cmpfloat_with_epsilon (dia_wcs_pixel_scale (image->wcs, 450, 450), 0.0308, 0.0005);
  for (size_t i = 0; i < (size_t) 900 * 900; i++)
    if (image->mask[i] & DIA_MASK_NO_DATA)
      {
        g_assert_cmpfloat (image->pix[i], ==, 0.0f);
        g_assert_true (isinf (image->var[i]));
      }
    else
      g_assert_true (isfinite (image->pix[i]) && image->var[i] > 0 && isfinite (image->var[i]));
}

static void
test_toros_uint16 (void)
{
  g_autoptr (DiaImage) image = load_real ("A_pairs/toros_eso085-030/aligned_eso085-030-004.fit");
  DiaStats st;
  if (image == NULL)
    return;
  g_assert_cmpint (image->width, ==, 1024);
  g_assert_cmpint (image->height, ==, 682);
  g_assert_null (image->wcs);
  image_stats (image, FALSE, &st);
  /* uint16 through BZERO = 32768: a wrong offset would put the median near −24630. */
  g_assert_cmpfloat (st.median, ==, 8138.0);
  g_assert_cmpfloat_with_epsilon (st.robust_sigma, 88.956, 0.01);
  g_assert_cmpfloat (st.max, ==, 65535.0);
  g_assert_cmpfloat (st.min, ==, 1150.0);
  for (size_t i = 0; i < (size_t) 1024 * 682; i++)
    g_assert_cmpfloat (image->pix[i], ==, floorf (image->pix[i]));
}

/* Column index of name in the CSV header line, or -1. */
static int
csv_column (char **header, const char *name)
{
  for (int i = 0; header[i]; i++)
    if (strcmp (header[i], name) == 0)
      return i;
  return -1;
}

static void
test_ztf_sentinels (void)
{
  g_autofree char *index = test_real_path ("B_alerts/alerts_index.csv");
  g_autofree char *text = NULL;
  g_auto (GStrv) lines = NULL, header = NULL;
  int c_survey, c_candid, c_nan[3], c_sentinel, n_files = 0, n_with_sentinel = 0;
  const char *kinds[3] = { "sci", "ref", "diff" };
  const char *col_names[3] = { "nan_sci", "nan_ref", "nan_diff" };

  if (index == NULL)
    return;
  g_assert_true (g_file_get_contents (index, &text, NULL, NULL));
  lines = g_strsplit (text, "\n", -1);
  header = g_strsplit (g_strstrip (lines[0]), ",", -1);
  c_survey = csv_column (header, "survey");
  c_candid = csv_column (header, "candid");
  c_sentinel = csv_column (header, "fltmax_sentinel_ref");
  for (int k = 0; k < 3; k++)
    {
      c_nan[k] = csv_column (header, col_names[k]);
      g_assert_cmpint (c_nan[k], >=, 0);
    }
  g_assert_cmpint (c_candid, >=, 0);
  g_assert_cmpint (c_sentinel, >=, 0);
  for (int l = 1; lines[l]; l++)
    {
      g_auto (GStrv) row = g_strsplit (g_strstrip (lines[l]), ",", -1);
      if (g_strv_length (row) <= (guint) c_sentinel || strcmp (row[c_survey], "ztf") != 0)
        continue;
      for (int k = 0; k < 3; k++)
        {
          g_autofree char *rel = g_strdup_printf ("B_alerts/ztf/cutouts/ztf_%s_%s.fits",
                                                  row[c_candid], kinds[k]);
          g_autoptr (DiaImage) image = load_real (rel);
          gint64 expected = g_ascii_strtoll (row[c_nan[k]], NULL, 10);
          if (image == NULL)
            return;
          if (k == 1)
            expected += g_ascii_strtoll (row[c_sentinel], NULL, 10);
          if (k == 1 && g_ascii_strtoll (row[c_sentinel], NULL, 10) > 0)
            n_with_sentinel++;
          g_assert_cmpint (image->width, ==, 63);
          g_assert_cmpint (image->height, ==, 63);
          g_assert_cmpint (count_mask (image, DIA_MASK_NO_DATA), ==, expected);
          n_files++;
        }
    }
  g_assert_cmpint (n_files, ==, 3 * 38);
  g_assert_cmpint (n_with_sentinel, ==, 2);
}

static void
test_tess_fz (void)
{
  g_autofree char *path = test_real_path ("misc/tess_s0002_cam1ccd1_sfft_diff.fits.fz");
  g_autoptr (DiaImage) image = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree double *row = NULL;
  fitsfile *f = NULL;
  int status = 0, anynul = 0;
  double nan_value = NAN;
  gint64 n_nan = 0;
  DiaStats st;

  if (path == NULL)
    return;
  image = dia_fits_read_image (path, &error);
  g_assert_no_error (error);
  g_assert_cmpint (image->width, ==, 2048);
  g_assert_cmpint (image->height, ==, 2048);
  /* Cross-check the NO_DATA count against cfitsio's own null handling, row by row. */
  row = g_new (double, 2048);
  fits_open_file (&f, path, READONLY, &status);
  fits_movabs_hdu (f, 2, NULL, &status);
  for (int y = 0; y < 2048 && status == 0; y++)
    {
      LONGLONG first[2] = { 1, y + 1 };
      fits_read_pixll (f, TDOUBLE, first, 2048, &nan_value, row, &anynul, &status);
      for (int x = 0; x < 2048; x++)
        {
          n_nan += !isfinite (row[x]);
          if (isfinite (row[x]) && y % 61 == 0)
            g_assert_cmpfloat (image->pix[dia_image_index (image, x, y)], ==, (float) row[x]);
        }
    }
  fits_close_file (f, &status);
  g_assert_cmpint (status, ==, 0);
  g_assert_cmpint (n_nan, ==, 77930);
  g_assert_cmpint (count_mask (image, DIA_MASK_NO_DATA), ==, n_nan);
  g_assert_cmpfloat_with_epsilon (image->meta.gain, 5.225, 1e-9);
  image_stats (image, FALSE, &st);
  g_assert_cmpfloat_with_epsilon (st.robust_sigma, 0.4642, 0.001);
}

static void
test_iraf_ypix (void)
{
  g_autoptr (DiaImage) image = load_real ("misc/iraf_dev_ypix_m51_B.fits");
  g_autofree char *path = test_real_path ("misc/iraf_dev_ypix_m51_B.fits");
  double crpix[2], crval[2], ra, dec;
  fitsfile *f = NULL;
  int status = 0;
  DiaStats st;

  if (image == NULL)
    return;
  g_assert_cmpint (image->width, ==, 512);
  g_assert_cmpint (image->height, ==, 512);
  g_assert_nonnull (image->wcs);
  fits_open_file (&f, path, READONLY, &status);
  fits_read_key (f, TDOUBLE, "CRPIX1", &crpix[0], NULL, &status);
  fits_read_key (f, TDOUBLE, "CRPIX2", &crpix[1], NULL, &status);
  fits_read_key (f, TDOUBLE, "CRVAL1", &crval[0], NULL, &status);
  fits_read_key (f, TDOUBLE, "CRVAL2", &crval[1], NULL, &status);
  fits_close_file (f, &status);
  g_assert_cmpint (status, ==, 0);
  /* FITS pixel CRPIX is engine pixel CRPIX − 1: it must map to CRVAL exactly. */
  g_assert_true (dia_wcs_pix2sky (image->wcs, crpix[0] - 1, crpix[1] - 1, &ra, &dec));
  g_assert_cmpfloat (fabs (ra - crval[0]), <, 1e-9);
  g_assert_cmpfloat (fabs (dec - crval[1]), <, 1e-9);
  g_assert_true (dia_wcs_pix2sky (image->wcs, crpix[0], crpix[1] - 1, &ra, &dec));
  g_assert_cmpfloat (fabs (ra - crval[0]), >, 1e-5); /* one pixel away is elsewhere */
  image_stats (image, FALSE, &st);
  g_assert_cmpfloat (st.median, ==, 88.0);
  g_assert_cmpfloat (st.max, ==, 19936.0);
  g_assert_cmpfloat (st.min, ==, -1.0);
}

int
main (int argc, char **argv)
{
  test_init (&argc, &argv);
  g_test_add_func ("/fits-real/afw-hsc", test_afw_hsc);
  g_test_add_func ("/fits-real/pipe-tasks-gz", test_pipe_tasks);
  g_test_add_func ("/fits-real/obs-base-calexp", test_obs_base_calexp);
  g_test_add_func ("/fits-real/ip-diffim-pair", test_ip_diffim_pair);
  g_test_add_func ("/fits-real/decam-float64", test_decam);
  g_test_add_func ("/fits-real/jwst-nan", test_jwst_nan);
  g_test_add_func ("/fits-real/toros-uint16", test_toros_uint16);
  g_test_add_func ("/fits-real/ztf-sentinels", test_ztf_sentinels);
  g_test_add_func ("/fits-real/tess-fz", test_tess_fz);
  g_test_add_func ("/fits-real/iraf-ypix-wcs", test_iraf_ypix);
  return g_test_run ();
}
