/* test-subtract-real.c — subtraction of the real pairs in ../shared/data/real/A_pairs.
 *
 * Acceptance: robust σ of D/√V in source-free sky between 0.9 and 1.15 with default
 * parameters.  "Source-free" pixels: no mask bit, and no pixel within ±4 px brighter than
 * sky + 3σ in either input (sky and σ from the plan's background measurement).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "test-util.h"
#include "dia-error.h"
#include "dia-fits.h"
#include "dia-image.h"
#include "dia-stats.h"
#include "dia-params.h"
#include "dia-subtract.h"

#include <math.h>
#include <string.h>

static guint8 *
bright_map (const DiaImage *im, double sky, double sigma)
{
  int w = im->width, h = im->height, r = 4;
  guint8 *b = g_malloc0 ((size_t) w * h);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      if (im->pix[dia_image_index (im, x, y)] > sky + 3 * sigma)
        for (int v = MAX (0, y - r); v <= MIN (h - 1, y + r); v++)
          memset (b + (size_t) v * w + MAX (0, x - r), 1, MIN (w - 1, x + r) - MAX (0, x - r) + 1);
  return b;
}

static void
run_pair (const char *tpath_rel, const char *spath_rel, const char *label)
{
  g_autofree char *tp = test_real_path (tpath_rel);
  g_autofree char *sp = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (DiaImage) t = NULL;
  g_autoptr (DiaImage) s = NULL;
  g_autoptr (DiaSubtractResult) r = NULL;
  g_autofree guint8 *bt = NULL;
  g_autofree guint8 *bs = NULL;
  g_autofree float *v = NULL;
  const DiaSubtractInfo *info;
  DiaSubtractRequest req;
  DiaStats st;
  gint64 m = 0;

  if (tp == NULL)
    return;
  sp = test_real_path (spath_rel);
  if (sp == NULL)
    return;
  t = dia_fits_read_image (tp, &error);
  g_assert_no_error (error);
  s = dia_fits_read_image (sp, &error);
  g_assert_no_error (error);
  dia_subtract_request_init (&req);
  g_assert_true (dia_params_set (&req, "flavor", "auto", &error));
  r = dia_subtract_run (t, s, &req, FALSE, NULL, &error);
  g_assert_no_error (error);
  info = &r->plan->info;
  bt = bright_map (t, info->sky_template, info->noise_template);
  bs = bright_map (s, info->sky_science, info->noise_science);
  v = g_new (float, (size_t) s->width * s->height);
  for (int y = 10; y < s->height - 10; y++)
    for (int x = 10; x < s->width - 10; x++)
      {
        size_t i = dia_image_index (r->diff, x, y);
        size_t k = (size_t) y * s->width + x;
        if (!bt[k] && !bs[k] && !r->diff->mask[i] && r->diff->var[i] > 0
            && isfinite (r->diff->var[i]))
          v[m++] = r->diff->pix[i] / sqrtf (r->diff->var[i]);
      }
  g_assert_cmpint (m, >, 2000);
  g_assert_true (dia_stats_compute (v, m, &st, NULL));
  g_test_message ("%s: flavour %s, FWHM T %.2f S %.2f px, kernel sum %.4f, %d stamps used, "
                  "%d rejected, sky σ(D/√V) %.3f over %" G_GINT64_FORMAT " px, all-pixel %.3f, "
                  "stamps %.3f",
                  label, info->flavor->name, info->fwhm_template, info->fwhm_science,
                  info->kernel_sum_centre, info->n_stamps_used, info->n_stamps_rejected,
                  st.robust_sigma, m, r->diff_sigma_ratio, r->diff_sigma_ratio_stars);
  g_assert_cmpfloat (st.robust_sigma, >=, 0.9);
  g_assert_cmpfloat (st.robust_sigma, <=, 1.15);
}

static void
test_decam (void)
{
  run_pair ("A_pairs/decam_sfft/DEC-OBS18a.mini.fits", "A_pairs/decam_sfft/DEC-OBS04c.mini.fits",
            "DECam");
}

static void
test_jwst (void)
{
  run_pair ("A_pairs/jwst_abell2744_f200w/"
            "jw01324001001-01324-o001_t001_nircam_clear-f200w_i2d_stamp.fits",
            "A_pairs/jwst_abell2744_f200w/"
            "jw02561001002-02561-o001_t003_nircam_clear-f200w_i2d_stamp.fits",
            "JWST");
}

static void
test_toros (void)
{
  run_pair ("A_pairs/toros_eso085-030/aligned_eso085-030-004.fit",
            "A_pairs/toros_eso085-030/aligned_eso085-030-005.fit", "TOROS");
}

int
main (int argc, char **argv)
{
  test_init (&argc, &argv);
  g_test_add_func ("/subtract-real/decam", test_decam);
  g_test_add_func ("/subtract-real/jwst", test_jwst);
  g_test_add_func ("/subtract-real/toros", test_toros);
  return g_test_run ();
}
