/* test-fits-bad.c — hostile and broken input to dia-fits.c.
 *
 * Every case must return NULL (or FALSE) with a DIA_ERROR of the stated code and a message
 * that names the file, never crash, abort or leak (the suite runs under ASan/LSan).  Broken
 * files are made here: truncated copies of a valid file, hand-written headers with absurd
 * sizes, text, empty files, cubes.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "test-util.h"
#include "dia-error.h"
#include "dia-fits.h"
#include "dia-image.h"

#include <fitsio.h>
#include <math.h>
#include <string.h>

/* Writes a file made of the given header cards (padded to a 2880-byte block, END added)
 * followed by n_data_bytes zero bytes. */
static void
write_raw (const char *path, const char *const *cards, gsize n_data_bytes)
{
  GString *s = g_string_new (NULL);
  gsize header_len;
  for (int k = 0; cards[k]; k++)
    g_string_append_printf (s, "%-80.80s", cards[k]);
  g_string_append_printf (s, "%-80s", "END");
  header_len = (s->len + 2879) / 2880 * 2880;
  while (s->len < header_len)
    g_string_append_c (s, ' ');
  for (gsize i = 0; i < n_data_bytes; i++)
    g_string_append_c (s, '\0');
  g_assert_true (g_file_set_contents (path, s->str, (gssize) s->len, NULL));
  g_string_free (s, TRUE);
}

static void
write_float_image (const char *path, int naxis, const long *naxes, float value_base)
{
  fitsfile *f = NULL;
  int status = 0;
  gint64 n = 1;
  g_autofree char *cpath = g_strconcat ("!", path, NULL);
  g_autofree float *v = NULL;
  for (int k = 0; k < naxis; k++)
    n *= naxes[k];
  v = g_new (float, n);
  for (gint64 i = 0; i < n; i++)
    v[i] = value_base + (float) i;
  fits_create_file (&f, cpath, &status);
  fits_create_img (f, FLOAT_IMG, naxis, (long *) naxes, &status);
  fits_write_img (f, TFLOAT, 1, n, v, &status);
  fits_close_file (f, &status);
  g_assert_cmpint (status, ==, 0);
}

/* Any of DIA_ERROR_FORMAT and DIA_ERROR_IO: cfitsio reports a file that ends inside its
 * header as a read error, one that ends inside its data as a format error. */
#define FORMAT_OR_IO (-1)

/* Reads path expecting failure with code; the message must name the file. */
static void
expect_failure (const char *path, int code, const char *fragment)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (DiaImage) image = dia_fits_read_image (path, &error);
  g_autofree char *info = NULL;
  g_assert_null (image);
  g_assert_nonnull (error);
  g_test_message ("%s", error->message);
  if (code == FORMAT_OR_IO)
    g_assert_true (g_error_matches (error, DIA_ERROR, DIA_ERROR_FORMAT)
                   || g_error_matches (error, DIA_ERROR, DIA_ERROR_IO));
  else
    g_assert_error (error, DIA_ERROR, code);
  g_assert_nonnull (strstr (error->message, path));
  if (fragment)
    g_assert_nonnull (strstr (error->message, fragment));
  g_clear_error (&error);
  info = dia_fits_dup_info (path, &error);
  g_assert_null (info);
  g_assert_nonnull (error);
}

static void
test_truncated (TestDir *fx, gconstpointer data)
{
  g_autofree char *good = test_dir_path (fx, "good.fits"), *bad = test_dir_path (fx, "trunc.fits");
  g_autofree char *head = test_dir_path (fx, "headonly.fits");
  long naxes[2] = { 100, 100 };
  g_autofree char *bytes = NULL;
  gsize len = 0;

  write_float_image (good, 2, naxes, 1.0f);
  g_assert_true (g_file_get_contents (good, &bytes, &len, NULL));
  g_assert_cmpuint (len, ==, 2880 + 40320);
  g_assert_true (g_file_set_contents (bad, bytes, 2880 + 1000, NULL));
  expect_failure (bad, DIA_ERROR_FORMAT, "truncated");
  /* Only the header block. */
  g_assert_true (g_file_set_contents (head, bytes, 2880, NULL));
  expect_failure (head, DIA_ERROR_FORMAT, NULL);
  /* Cut inside the header. */
  g_assert_true (g_file_set_contents (head, bytes, 500, NULL));
  expect_failure (head, FORMAT_OR_IO, NULL);
}

static void
test_empty_and_text (TestDir *fx, gconstpointer data)
{
  g_autofree char *empty = test_dir_path (fx, "empty.fits"), *text = test_dir_path (fx, "notes.fits");
  g_assert_true (g_file_set_contents (empty, "", 0, NULL));
  expect_failure (empty, DIA_ERROR_FORMAT, "empty");
  g_assert_true (g_file_set_contents (text, "These are my observing notes.\nNo FITS here.\n",
                                      -1, NULL));
  expect_failure (text, DIA_ERROR_FORMAT, NULL);
}

static void
test_missing (TestDir *fx, gconstpointer data)
{
  g_autofree char *missing = test_dir_path (fx, "does-not-exist.fits");
  g_autofree char *ext = NULL;
  long naxes[2] = { 4, 4 };
  g_autofree char *good = test_dir_path (fx, "g.fits");
  expect_failure (missing, DIA_ERROR_IO, "no such file");
  /* An HDU that does not exist. */
  write_float_image (good, 2, naxes, 0.0f);
  ext = g_strconcat (good, "[NOPE]", NULL);
  expect_failure (ext, DIA_ERROR_FORMAT, NULL);
}

static void
test_cube (TestDir *fx, gconstpointer data)
{
  g_autofree char *cube = test_dir_path (fx, "cube.fits"), *flat = test_dir_path (fx, "flat.fits");
  g_autofree char *plane = NULL;
  long naxes3[3] = { 6, 5, 3 }, naxes1[3] = { 6, 5, 1 };
  g_autoptr (GError) error = NULL;

  write_float_image (cube, 3, naxes3, 0.0f);
  expect_failure (cube, DIA_ERROR_FORMAT, "3-D cube (NAXIS=3)");
  {
    g_autoptr (GError) e2 = NULL;
    g_autoptr (DiaImage) none = dia_fits_read_image (cube, &e2);
    g_autofree char *hint = g_strconcat (cube, "[0][*,*,1:1]", NULL);
    g_assert_nonnull (strstr (e2->message, hint));
  }
  /* The hint works: plane 2 of the cube holds values 30..59 (cfitsio 4.2 needs the 2:2 range
   * form; a bare index in a section is a URL parse error). */
  plane = g_strconcat (cube, "[0][*,*,2:2]", NULL);
  {
    g_autoptr (DiaImage) image = dia_fits_read_image (plane, &error);
    g_assert_no_error (error);
    g_assert_cmpint (image->width, ==, 6);
    g_assert_cmpint (image->height, ==, 5);
    g_assert_cmpfloat (image->pix[0], ==, 30.0f);
    g_assert_cmpfloat (image->pix[29], ==, 59.0f);
  }
  /* NAXIS=3 with NAXIS3=1 is a 2-D image. */
  write_float_image (flat, 3, naxes1, 10.0f);
  {
    g_autoptr (DiaImage) image = dia_fits_read_image (flat, &error);
    g_assert_no_error (error);
    g_assert_cmpint (image->width, ==, 6);
    g_assert_cmpfloat (image->pix[29], ==, 39.0f);
  }
}

static void
test_bad_sizes (TestDir *fx, gconstpointer data)
{
  g_autofree char *zero = test_dir_path (fx, "zero.fits"), *huge = test_dir_path (fx, "huge.fits");
  g_autofree char *big = test_dir_path (fx, "big.fits"), *neg = test_dir_path (fx, "neg.fits");
  g_autofree char *one = test_dir_path (fx, "oned.fits");
  const char *zero_cards[] = { "SIMPLE  =                    T", "BITPIX  =                  -32",
                               "NAXIS   =                    2", "NAXIS1  =                    0",
                               "NAXIS2  =                   10", NULL };
  const char *huge_cards[] = { "SIMPLE  =                    T", "BITPIX  =                  -32",
                               "NAXIS   =                    2",
                               "NAXIS1  =           1000000000",
                               "NAXIS2  =           1000000000", NULL };
  /* Within the per-side limit and the pixel cap, but the data are not in the file: must fail
   * on the probe read, not by allocating 10 GB. */
  const char *big_cards[] = { "SIMPLE  =                    T", "BITPIX  =                  -32",
                              "NAXIS   =                    2", "NAXIS1  =                30000",
                              "NAXIS2  =                30000", NULL };
  const char *neg_cards[] = { "SIMPLE  =                    T", "BITPIX  =                  -32",
                              "NAXIS   =                    2", "NAXIS1  =                  -50",
                              "NAXIS2  =                   10", NULL };
  const char *one_cards[] = { "SIMPLE  =                    T", "BITPIX  =                   16",
                              "NAXIS   =                    1", "NAXIS1  =                 1440",
                              NULL };

  write_raw (zero, zero_cards, 0);
  expect_failure (zero, DIA_ERROR_FORMAT, "NAXIS1=0");
  write_raw (huge, huge_cards, 2880);
  expect_failure (huge, DIA_ERROR_FORMAT, "1000000000");
  write_raw (big, big_cards, 2880);
  expect_failure (big, DIA_ERROR_FORMAT, NULL);
  write_raw (neg, neg_cards, 2880);
  expect_failure (neg, DIA_ERROR_FORMAT, NULL);
  write_raw (one, one_cards, 2880);
  expect_failure (one, DIA_ERROR_FORMAT, "NAXIS=1");
}

static void
test_no_image (TestDir *fx, gconstpointer data)
{
  g_autofree char *path = test_dir_path (fx, "table.fits"), *cpath = NULL;
  char *ttype[] = { "FLUX" }, *tform[] = { "1E" };
  fitsfile *f = NULL;
  int status = 0;

  cpath = g_strconcat ("!", path, NULL);
  fits_create_file (&f, cpath, &status);
  fits_create_img (f, BYTE_IMG, 0, NULL, &status);
  fits_create_tbl (f, BINARY_TBL, 0, 1, ttype, tform, NULL, "CAT", &status);
  fits_close_file (f, &status);
  g_assert_cmpint (status, ==, 0);
  expect_failure (path, DIA_ERROR_FORMAT, "holds an image");
}

static void
test_size_mismatch (TestDir *fx, gconstpointer data)
{
  g_autofree char *img = test_dir_path (fx, "img.fits"), *var = test_dir_path (fx, "var.fits");
  g_autofree char *mask = test_dir_path (fx, "mask.fits"), *mef = test_dir_path (fx, "mef.fits");
  long a[2] = { 20, 10 }, b[2] = { 20, 11 };
  g_autoptr (GError) error = NULL;
  DiaImage *image;

  write_float_image (img, 2, a, 1.0f);
  write_float_image (var, 2, b, 1.0f);
  write_float_image (mask, 2, b, 0.0f);
  image = dia_fits_read_with_planes (img, var, FALSE, NULL, &error);
  g_assert_null (image);
  g_assert_error (error, DIA_ERROR, DIA_ERROR_SIZE_MISMATCH);
  g_assert_nonnull (strstr (error->message, var));
  g_assert_nonnull (strstr (error->message, "20×11"));
  g_clear_error (&error);
  image = dia_fits_read_with_planes (img, NULL, FALSE, mask, &error);
  g_assert_null (image);
  g_assert_error (error, DIA_ERROR, DIA_ERROR_SIZE_MISMATCH);
  g_clear_error (&error);
  /* Missing plane file. */
  image = dia_fits_read_with_planes (img, "/nonexistent/var.fits", FALSE, NULL, &error);
  g_assert_null (image);
  g_assert_error (error, DIA_ERROR, DIA_ERROR_IO);
  g_clear_error (&error);

  /* An LSST file whose VARIANCE HDU has another size. */
  {
    fitsfile *f = NULL;
    int status = 0;
    float v[20 * 11] = { 0 };
    g_autofree char *cpath = g_strconcat ("!", mef, NULL);
    fits_create_file (&f, cpath, &status);
    fits_create_img (f, BYTE_IMG, 0, NULL, &status);
    fits_create_img (f, FLOAT_IMG, 2, a, &status);
    fits_write_key_str (f, "EXTNAME", "IMAGE", NULL, &status);
    fits_write_img (f, TFLOAT, 1, 200, v, &status);
    fits_create_img (f, FLOAT_IMG, 2, b, &status);
    fits_write_key_str (f, "EXTNAME", "VARIANCE", NULL, &status);
    fits_write_img (f, TFLOAT, 1, 220, v, &status);
    fits_close_file (f, &status);
    g_assert_cmpint (status, ==, 0);
  }
  expect_failure (mef, DIA_ERROR_SIZE_MISMATCH, "VARIANCE");
}

static void
test_write_failures (TestDir *fx, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (DiaImage) image = dia_image_new (4, 4, &error);
  g_autofree char *path = g_build_filename (fx->dir, "no-such-dir", "out.fits", NULL);
  float plane[4] = { 1, 2, 3, 4 };

  g_assert_false (dia_fits_write_image (path, image, NULL, &error));
  g_assert_error (error, DIA_ERROR, DIA_ERROR_IO);
  g_assert_nonnull (strstr (error->message, path));
  g_clear_error (&error);
  g_assert_false (dia_fits_write_plane (path, plane, 2, 2, 2, NULL, &error));
  g_assert_error (error, DIA_ERROR, DIA_ERROR_IO);
  g_clear_error (&error);
  g_assert_false (dia_fits_write_plane (path, plane, 2, 2, 1, NULL, &error));
  g_assert_error (error, DIA_ERROR, DIA_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (dia_fits_append_plane (path, "X", plane, 2, 2, 2, NULL, &error));
  g_assert_nonnull (error);
}

int
main (int argc, char **argv)
{
  test_init (&argc, &argv);
#define ADD(name, fn) g_test_add ("/fits-bad/" name, TestDir, NULL, test_dir_setup, fn, \
                                  test_dir_teardown)
  ADD ("truncated", test_truncated);
  ADD ("empty-and-text", test_empty_and_text);
  ADD ("missing", test_missing);
  ADD ("cube", test_cube);
  ADD ("bad-sizes", test_bad_sizes);
  ADD ("no-image", test_no_image);
  ADD ("size-mismatch", test_size_mismatch);
  ADD ("write-failures", test_write_failures);
#undef ADD
  return g_test_run ();
}
