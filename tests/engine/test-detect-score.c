/* test-detect-score.c — detection directly on a score image (preconvolution flavour).
 *
 * On a seeded simulated pair, the score image of the preconvolution flavour is a matched-filter
 * S/N map, so thresholding it at 5σ without further smoothing must find the transients whose
 * true S/N exceeds 10 within 2 px, and must not report them as negative.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "test-util.h"
#include "dia-detect.h"
#include "dia-image.h"
#include "dia-params.h"
#include "dia-sim.h"
#include "dia-subtract.h"

#include <math.h>

static void
test_score_detection (void)
{
  DiaSimParams sp;
  DiaSubtractRequest req;
  DiaDetectParams dp;
  g_autoptr (GError) error = NULL;
  g_autoptr (DiaImage) t = NULL;
  g_autoptr (DiaImage) s = NULL;
  g_autoptr (DiaSimTruth) truth = NULL;
  g_autoptr (DiaSubtractResult) r = NULL;
  g_autoptr (DiaCatalog) cat = NULL;
  int n_expected = 0, n_found = 0;

  dia_sim_params_init (&sp, 1024, 1024, 21);
  g_assert_true (dia_sim_generate (&sp, &t, &s, &truth, NULL, &error));
  dia_subtract_request_init (&req);
  g_assert_true (dia_params_set (&req, "flavor", "preconvolve", &error));
  r = dia_subtract_run (t, s, &req, FALSE, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (r->score);

  dia_detect_params_init (&dp);
  dp.threshold = 5.0;
  cat = dia_detect_score (r->score, r->plan->psf_science, &dp, 0, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (cat->on_score);
  g_test_message ("%u sources on the score image", cat->sources->len);

  for (guint i = 0; i < truth->sources->len; i++)
    {
      const DiaSimSource *src = &g_array_index (truth->sources, DiaSimSource, i);
      gboolean found = FALSE;
      if (src->kind != DIA_SIM_TRANSIENT || !(src->snr > 10) || src->x < 30 || src->y < 30
          || src->x > 994 || src->y > 994)
        continue;
      n_expected++;
      for (guint k = 0; k < cat->sources->len && !found; k++)
        {
          const DiaSource *d = &g_array_index (cat->sources, DiaSource, k);
          found = hypot (d->x - src->x, d->y - src->y) < 2.0 && !d->is_negative;
        }
      if (!found)
        g_test_message ("missed transient at %.1f, %.1f (S/N %.1f)", src->x, src->y, src->snr);
      n_found += found;
    }
  g_test_message ("found %d of %d transients with S/N > 10", n_found, n_expected);
  g_assert_cmpint (n_expected, >=, 8);
  /* At most one may be lost to a bright neighbour or a cosmic ray on top of it. */
  g_assert_cmpint (n_found, >=, n_expected - 1);
}

int
main (int argc, char **argv)
{
  test_init (&argc, &argv);
  g_test_add_func ("/detect/score", test_score_detection);
  return g_test_run ();
}
