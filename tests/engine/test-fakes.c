/* test-fakes.c — fake injection and recovery on a seeded simulated pair.
 *
 * Measured: SNR½ (the S/N at 50 % recall, from the maximum-likelihood error-function fit)
 * against its expectation ν_t · k / η, where ν_t = 5 is the threshold, k the measured noise
 * scale of the S/N image (correlated noise of the difference) and η = Σ P g / sqrt(Σ P² Σ g²)
 * the efficiency of the Gaussian smoothing filter g against the PSF P (dia-detect.h): a fake
 * of true S/N s has expected significance s η / k and Gaussian unit noise, so half of those
 * with s = ν_t k / η are found.  Also: recall of fakes with S/N > 10, PSF-flux bias < 1 % and
 * pull scatter for S/N > 20, centroid offsets, negative (template) fakes, and the fitter on
 * synthetic outcomes with a known curve.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "test-util.h"
#include "dia-fakes.h"
#include "dia-image.h"
#include "dia-params.h"
#include "dia-rng.h"
#include "dia-sim.h"

#include <gsl/gsl_cdf.h>
#include <math.h>

static DiaRecovery *
recovery_run (guint64 seed, const char *const *settings)
{
  DiaSimParams sp;
  DiaSubtractRequest req;
  g_autoptr (GError) error = NULL;
  g_autoptr (DiaImage) t = NULL;
  g_autoptr (DiaImage) s = NULL;
  DiaRecovery *rec;

  dia_sim_params_init (&sp, 1024, 1024, seed);
  sp.n_transients = 0;
  sp.n_variables = 0;
  sp.moving_object = FALSE;
  g_assert_true (dia_sim_generate (&sp, &t, &s, NULL, NULL, &error));
  dia_subtract_request_init (&req);
  for (int i = 0; settings && settings[i]; i += 2)
    g_assert_true (dia_params_set (&req, settings[i], settings[i + 1], NULL));
  rec = dia_fakes_run (t, s, &req, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (rec);
  return rec;
}

static void
print_bins (const DiaRecovery *rec)
{
  for (guint b = 0; b < rec->bins->len; b++)
    {
      const DiaRecallBin *bin = &g_array_index (rec->bins, DiaRecallBin, b);
      g_test_message ("  S/N [%g, %g): %d/%d found", bin->lo, bin->hi, bin->n_found, bin->n);
    }
}

static void
test_recovery (void)
{
  const char *sets[] = { "threads", "2", "fakes.n", "500", "fakes.seed", "5", NULL };
  g_autoptr (DiaRecovery) rec = recovery_run (21, sets);

  g_test_message ("SNR½ %.2f ± %.2f (expected %.2f: η %.4f, noise scale %.3f); erf centre %.2f "
                  "width %.2f max %.3f", rec->snr_half, rec->snr_half_err, rec->expected_snr_half,
                  rec->filter_efficiency, rec->sn_scale, rec->erf_centre, rec->erf_width,
                  rec->erf_max);
  g_test_message ("recall S/N > 10: %.3f; bias %+.3f %% scatter %.3f %% pull σ %.2f (n %d); "
                  "centroid (%+.3f, %+.3f) rms %.3f px; FP %.2f /Mpx; baseline %.2f /Mpx",
                  rec->recall_above_10, 100 * rec->flux_bias, 100 * rec->flux_scatter,
                  rec->flux_pull_sigma, rec->n_bright, rec->centroid_dx, rec->centroid_dy,
                  rec->centroid_rms, rec->fp_per_mpix, rec->baseline_per_mpix);
  print_bins (rec);
  g_assert_cmpuint (rec->fakes->len, ==, 500);
  g_assert_cmpfloat (fabs (rec->snr_half - rec->expected_snr_half), <, 0.3);
  g_assert_cmpfloat (rec->recall_above_10, >=, 0.97);
  g_assert_cmpint (rec->n_bright, >=, 100);
  g_assert_cmpfloat (fabs (rec->flux_bias), <, 0.01);
  g_assert_cmpfloat (rec->flux_pull_sigma, >, 0.8);
  g_assert_cmpfloat (rec->flux_pull_sigma, <, 1.4);
  g_assert_cmpfloat (fabs (rec->centroid_dx), <, 0.05);
  g_assert_cmpfloat (fabs (rec->centroid_dy), <, 0.05);
  g_assert_cmpfloat (rec->centroid_rms, <, 0.3);
  /* The fit's width is the noise of the significance in units of true S/N, k/η. */
  g_assert_cmpfloat (fabs (rec->erf_width - rec->sn_scale / rec->filter_efficiency), <, 0.5);
}

static void
test_template_fakes (void)
{
  const char *sets[] = { "threads", "2", "fakes.n", "200", "fakes.seed", "6",
                         "fakes.template_fraction", "0.5", "fakes.snr_min", "10", NULL };
  g_autoptr (DiaRecovery) rec = recovery_run (22, sets);
  int n_t = 0, f_t = 0;
  for (guint i = 0; i < rec->fakes->len; i++)
    {
      const DiaFake *f = &g_array_index (rec->fakes, DiaFake, i);
      if (!f->in_template)
        continue;
      n_t++;
      f_t += f->found;
    }
  g_test_message ("template fakes (S/N ≥ 10): %d of %d found as negative sources; bias %+.3f %%",
                  f_t, n_t, 100 * rec->flux_bias);
  g_assert_cmpint (n_t, >=, 60);
  g_assert_cmpint (f_t, >=, (int) (0.95 * n_t));
  g_assert_cmpfloat (fabs (rec->flux_bias), <, 0.015);
}

static void
test_erf_fit (void)
{
  const int n = 3000;
  g_autofree double *s = g_new (double, n);
  g_autofree gboolean *k = g_new (gboolean, n);
  double c, w, e, sh, she;
  DiaRng rng;
  dia_rng_init (&rng, 99, 0);
  for (int i = 0; i < n; i++)
    {
      s[i] = 1.0 + 11.0 * dia_rng_uniform (&rng);
      k[i] = dia_rng_uniform (&rng) < 0.97 * gsl_cdf_ugaussian_P ((s[i] - 5.6) / 1.2);
    }
  g_assert_true (dia_recall_fit_erf (s, k, n, &c, &w, &e, &sh, &she));
  g_test_message ("fit: centre %.3f width %.3f max %.3f, S/N at half recall %.3f +- %.3f "
                  "(truth 5.6, 1.2, 0.97, %.3f)", c, w, e, sh, she,
                  5.6 + 1.2 * gsl_cdf_ugaussian_Pinv (0.5 / 0.97));
  g_assert_cmpfloat (fabs (c - 5.6), <, 4 * she + 0.05);
  g_assert_cmpfloat (fabs (w - 1.2), <, 0.2);
  g_assert_cmpfloat (fabs (e - 0.97), <, 0.02);
  g_assert_cmpfloat (she, <, 0.15);
}

/* Few fakes, every one above S/N 8 found (the window's quick runs): the likelihood prefers an
 * ever sharper transition and a plateau of exactly 1; the bounded fit must still converge,
 * with S/N½ where the sample puts it. */
static void
test_erf_fit_few (void)
{
  for (int n = 40; n <= 60; n += 10)
    {
      g_autofree double *s = g_new (double, n);
      g_autofree gboolean *k = g_new (gboolean, n);
      double c, w, e, sh, she;
      DiaRng rng;
      dia_rng_init (&rng, 7 + n, 0);
      for (int i = 0; i < n; i++)
        {
          /* Log-uniform in 2 … 100, as dia_fakes_draw() does. */
          s[i] = 2.0 * exp (log (50.0) * dia_rng_uniform (&rng));
          k[i] = s[i] > 8.0 || dia_rng_uniform (&rng) < gsl_cdf_ugaussian_P ((s[i] - 5.6) / 1.2);
        }
      g_assert_true (dia_recall_fit_erf (s, k, n, &c, &w, &e, &sh, &she));
      g_test_message ("%d fakes: S/N½ %.2f ± %.2f, width %.2f, plateau %.4f", n, sh, she, w, e);
      g_assert_cmpfloat (sh, >, 3.5);
      g_assert_cmpfloat (sh, <, 8.0);
      g_assert_cmpfloat (w, >=, 0.25);
      g_assert_cmpfloat (e, <=, 0.9995 + 1e-9);
    }
}

int
main (int argc, char **argv)
{
  test_init (&argc, &argv);
  g_test_add_func ("/fakes/erf-fit", test_erf_fit);
  g_test_add_func ("/fakes/erf-fit-few", test_erf_fit_few);
  g_test_add_func ("/fakes/recovery", test_recovery);
  g_test_add_func ("/fakes/template", test_template_fakes);
  return g_test_run ();
}
