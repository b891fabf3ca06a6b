/* ds-cli-bench.c — `diffscope-cli bench`: stage-by-stage timings, peak memory, thread scaling,
 * region reruns, and a side-by-side run of Debian's ficonv (fitsh) on the same pair.
 *
 * Each measured subtraction runs in a child process (`bench --run-one …`) so that its peak
 * resident set size (VmHWM) is the subtraction's own, not the simulator's.  Inputs are
 * simulated with the seeded simulator and written to a work folder first; file I/O is excluded
 * from the compute timings and included in the whole-command timings used for the ficonv
 * ratio.  Quality for both tools is the robust σ of D/√V with V the simulator's exact expected
 * difference variance, over pixels without any mask bit (saturated stars, bad column) and
 * away from the border.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "ds-cli.h"
#include "dia-error.h"
#include "dia-fits.h"
#include "dia-image.h"
#include "dia-json.h"
#include "dia-params.h"
#include "dia-sim.h"
#include "dia-stats.h"
#include "dia-subtract.h"

#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* Robust σ of D/√V over pixels with no mask bit in either image, 16 px from the border.  D may
 * have its own mask (NULL: use the truth-side mask only). */
static double
bench_sigma_ratio (const DiaImage *diff, const DiaImage *var, const DiaImage *mask_src)
{
  int w = diff->width, h = diff->height, b = 16;
  g_autofree float *r = g_new (float, (size_t) w * h);
  gint64 m = 0;
  DiaStats st;
  for (int y = b; y < h - b; y++)
    for (int x = b; x < w - b; x++)
      {
        size_t i = dia_image_index (diff, x, y), j = dia_image_index (var, x, y);
        size_t k = dia_image_index (mask_src, x, y);
        float v = var->pix[j];
        if (mask_src->mask[k] || diff->mask[i] || !(v > 0) || !isfinite (diff->pix[i]))
          continue;
        r[m++] = diff->pix[i] / sqrtf (v);
      }
  if (!dia_stats_compute (r, m, &st, NULL))
    return NAN;
  return st.robust_sigma;
}

/* Child: load, plan, execute, ROI reruns; print "key value" lines on stdout. */
static int
bench_run_one (const char *tpath, const char *spath, const char *varpath, int threads, int roi)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (DiaImage) t = dia_fits_read_image (tpath, &error);
  g_autoptr (DiaImage) s = t ? dia_fits_read_image (spath, &error) : NULL;
  g_autoptr (DiaSubtractPlan) plan = NULL;
  g_autoptr (DiaSubtractResult) res = NULL;
  DiaSubtractRequest req;
  double best_roi = G_MAXDOUBLE;
  gint64 t0, rss;
  char buf[16];

  if (!s)
    return ds_cli_fail (error);
  dia_subtract_request_init (&req);
  g_snprintf (buf, sizeof buf, "%d", threads);
  if (threads > 0 && !dia_params_set (&req, "threads", buf, &error))
    return ds_cli_fail (error);
  t0 = g_get_monotonic_time ();
  plan = dia_subtract_plan (t, s, &req, NULL, &error);
  if (plan == NULL)
    return ds_cli_fail (error);
  printf ("plan_ms %.2f\n", (g_get_monotonic_time () - t0) / 1000.0);
  for (guint i = 0; i < plan->info.timings->len; i++)
    {
      const DiaStageTiming *st = &g_array_index (plan->info.timings, DiaStageTiming, i);
      printf ("stage %s %.2f\n", st->stage, st->ms);
    }
  t0 = g_get_monotonic_time ();
  res = dia_subtract_execute (plan, NULL, FALSE, NULL, &error);
  if (res == NULL)
    return ds_cli_fail (error);
  printf ("execute_ms %.2f\n", (g_get_monotonic_time () - t0) / 1000.0);
  for (guint i = 0; i < res->timings->len; i++)
    {
      const DiaStageTiming *st = &g_array_index (res->timings, DiaStageTiming, i);
      printf ("stage %s %.2f\n", st->stage, st->ms);
    }
  if (roi > 0 && roi <= s->width && roi <= s->height)
    {
      DiaRect r = { (s->width - roi) / 2, (s->height - roi) / 2, roi, roi };
      for (int k = 0; k < 5; k++)
        {
          g_autoptr (DiaSubtractResult) rr = NULL;
          t0 = g_get_monotonic_time ();
          rr = dia_subtract_execute (plan, &r, FALSE, NULL, &error);
          if (rr == NULL)
            return ds_cli_fail (error);
          best_roi = MIN (best_roi, (g_get_monotonic_time () - t0) / 1000.0);
        }
      printf ("roi_ms %.2f\n", best_roi);
    }
  rss = ds_cli_peak_rss ();
  printf ("peak_rss_bytes %" G_GINT64_FORMAT "\n", rss);
  printf ("kernel_sum %.6f\n", plan->info.kernel_sum_centre);
  printf ("stamps_used %d\n", plan->info.n_stamps_used);
  printf ("kernel_size %d\n", plan->info.basis.size);
  {
    /* The stamps our fit used, so ficonv can be given the same ones. */
    GString *st = g_string_new (NULL);
    for (guint i = 0; i < plan->stamps->len; i++)
      {
        const DiaStamp *sp = &g_array_index (plan->stamps, DiaStamp, i);
        if (sp->status == DIA_STAMP_GOOD)
          g_string_append_printf (st, "%s%.1f,%.1f,%d", st->len ? ":" : "", sp->x + 0.5,
                                  sp->y + 0.5, plan->info.basis.size);
      }
    printf ("stamps %s\n", st->str);
    g_string_free (st, TRUE);
  }
  printf ("sigmas %.4f,%.4f,%.4f\n", plan->info.basis.sigma[0], plan->info.basis.sigma[1],
          plan->info.basis.sigma[2]);
  if (varpath)
    {
      g_autoptr (DiaImage) v = dia_fits_read_image (varpath, &error);
      if (v == NULL)
        return ds_cli_fail (error);
      printf ("sigma_ratio %.4f\n", bench_sigma_ratio (res->diff, v, s));
    }
  return 0;
}

typedef struct
{
  GHashTable *values;           /* key → string                                 */
  GString *stages;              /* "stage ms" lines                              */
} ChildReport;

static gboolean
bench_spawn_env (char **argv, char **envp, ChildReport *rep, double *wall_ms, GError **error)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  int status = 0;
  gint64 t0 = g_get_monotonic_time ();
  if (!g_spawn_sync (NULL, argv, envp, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &err, &status,
                     error))
    return FALSE;
  if (wall_ms)
    *wall_ms = (g_get_monotonic_time () - t0) / 1000.0;
  if (!g_spawn_check_wait_status (status, NULL))
    {
      g_set_error (error, DIA_ERROR, DIA_ERROR_FAILED, _("%s failed: %s"), argv[0],
                   err && *err ? g_strstrip (err) : _("no message"));
      return FALSE;
    }
  if (rep)
    {
      g_auto (GStrv) lines = g_strsplit (out, "\n", -1);
      rep->values = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
      rep->stages = g_string_new (NULL);
      for (char **l = lines; *l; l++)
        {
          g_auto (GStrv) kv = g_strsplit (*l, " ", 2);
          if (g_strv_length (kv) < 2)
            continue;
          if (strcmp (kv[0], "stage") == 0)
            g_string_append_printf (rep->stages, "    %s ms\n", kv[1]);
          else
            g_hash_table_insert (rep->values, g_strdup (kv[0]), g_strdup (kv[1]));
        }
    }
  return TRUE;
}

static gboolean
bench_spawn (char **argv, ChildReport *rep, double *wall_ms, GError **error)
{
  return bench_spawn_env (argv, NULL, rep, wall_ms, error);
}

static double
rep_get (const ChildReport *r, const char *key)
{
  const char *v = g_hash_table_lookup (r->values, key);
  return v ? g_ascii_strtod (v, NULL) : NAN;
}

static void
rep_clear (ChildReport *r)
{
  if (r->values)
    g_hash_table_unref (r->values);
  if (r->stages)
    g_string_free (r->stages, TRUE);
  r->values = NULL;
  r->stages = NULL;
}

/* Runs fiign + ficonv on plain single-HDU copies of the pair.  Returns the wall time of the
 * whole ficonv command (ms) and the σ ratio of its difference against the truth variance. */
static gboolean
bench_ficonv (const char *dir, const DiaImage *t, const DiaImage *s, const DiaImage *var,
              const ChildReport *ours, double *wall_ms, double *sigma_ratio, GError **error)
{
  g_autofree char *tp = g_build_filename (dir, "ficonv_template.fits", NULL);
  g_autofree char *sp = g_build_filename (dir, "ficonv_science.fits", NULL);
  g_autofree char *spm = g_build_filename (dir, "ficonv_science_masked.fits", NULL);
  g_autofree char *tpm = g_build_filename (dir, "ficonv_template_masked.fits", NULL);
  g_autofree char *dp = g_build_filename (dir, "ficonv_diff.fits", NULL);
  g_autofree char *sat = g_strdup_printf ("%.1f", s->meta.saturation * 0.98);
  const char *sig = g_hash_table_lookup (ours->values, "sigmas");
  int half = (int) rep_get (ours, "kernel_size") / 2;
  g_autofree char *kern = NULL;
  g_autoptr (DiaImage) d = NULL;
  g_auto (GStrv) sv = g_strsplit (sig ? sig : "0.7,1.5,3.0", ",", 3);
  char *fiign_s[] = { "fiign", "-i", sp, "-s", sat, "-o", spm, NULL };
  char *fiign_t[] = { "fiign", "-i", tp, "-s", sat, "-o", tpm, NULL };
  const char *stamps = g_hash_table_lookup (ours->values, "stamps");
  char *ficonv[] = { "ficonv", "-r", tpm, "-i", spm, "-k", NULL, "-n", "3", "-s", "3",
                     "--output-subtracted", dp, NULL, NULL, NULL };

  if (!dia_fits_write_plane (tp, t->pix, t->width, t->height, t->stride, NULL, error)
      || !dia_fits_write_plane (sp, s->pix, s->width, s->height, s->stride, NULL, error))
    return FALSE;
  if (!bench_spawn (fiign_s, NULL, NULL, error) || !bench_spawn (fiign_t, NULL, NULL, error))
    return FALSE;
  /* The same basis our run chose: identity (flux) term, three Gaussians with degrees 4, 2, 2
   * varying to first order, and a second-order background. */
  kern = g_strdup_printf ("i/1;b/2;g=%d,%s,4/1;g=%d,%s,2/1;g=%d,%s,2/1", half, sv[0], half,
                          sv[1] ? sv[1] : "1.5", half, sv[1] && sv[2] ? sv[2] : "3.0");
  ficonv[6] = kern;
  /* ficonv fits every pixel unless given stamps; hand it the stamps our fit used (fitsh's
   * pixel centres sit at half-integers), which is both fairer and the way it is meant to be
   * run on large frames. */
  if (stamps && *stamps)
    {
      ficonv[13] = "--stamps";
      ficonv[14] = (char *) stamps;
    }
  if (!bench_spawn (ficonv, NULL, wall_ms, error))
    return FALSE;
  d = dia_fits_read_image (dp, error);
  if (d == NULL)
    return FALSE;
  *sigma_ratio = bench_sigma_ratio (d, var, s);
  return TRUE;
}

/* --flavors: every flavour × regime on one simulated pair per regime (with the default
 * transients, variables, moving object and cosmic rays).  Per run: robust σ of the S/N image
 * (score, or D/√V) over empty sky; 5σ detections (local extrema of the S/N image, unmasked,
 * 20 px from the border) that lie within 5 px of no changing source are false positives,
 * printed with the Gaussian white-noise expectation (2 Q(5) per usable pixel); recovery is the
 * fraction of transients with a detection within 3 px; time is plan + execute.  With
 * no_terms every flavour's astrometric and PSF-model variance terms are off (σa = ε = 0),
 * which shows what they buy.  "smooth" is the FWHM of the Gaussian a forced AL direction applied
 * to the sharper image (info.forced_preconvolve_fwhm). */
/* One cell's counts, summed over seeds by bench_flavors(). */
typedef struct
{
  int n_fp, n_found, n_transients, n_runs;
  double gauss, sigma_sum;
} FlavorCell;

static void
bench_flavors_one (const DiaImage *t, const DiaImage *s, const DiaSimTruth *truth,
                   const char *flavor, gboolean decorrelate, gboolean no_terms,
                   const char *regime, int threads, FlavorCell *cell)
{
  double sa;
  g_autoptr (GError) error = NULL;
  g_autoptr (DiaSubtractPlan) plan = NULL;
  g_autoptr (DiaSubtractResult) r = NULL;
  DiaSubtractRequest req;
  int w = s->width, h = s->height, b = 20, n_fp = 0, n_tr = 0, n_found = 0;
  g_autofree float *snr = g_new (float, (size_t) w * h);
  g_autofree guint8 *sky = g_malloc (w * h);
  g_autofree guint8 *change = g_malloc0 (w * h);
  g_autofree float *v = g_new (float, (size_t) w * h);
  gint64 m = 0, usable = 0, t0 = g_get_monotonic_time ();
  double ms;
  DiaStats st;
  const DiaImage *d;

  dia_subtract_request_init (&req);
  dia_params_set (&req, "flavor", flavor, NULL);
  req.decorrelate = decorrelate;
  req.n_threads = threads;
  if (no_terms)
    req.astrometric_sigma = req.zogy_astrometric_sigma = req.model_error = 0;
  sa = req.flavor == DIA_FLAVOR_ZOGY ? req.zogy_astrometric_sigma : req.astrometric_sigma;
  plan = dia_subtract_plan ((DiaImage *) t, (DiaImage *) s, &req, NULL, &error);
  if (plan)
    r = dia_subtract_execute (plan, NULL, FALSE, NULL, &error);
  ms = (g_get_monotonic_time () - t0) / 1000.0;
  if (r == NULL)
    {
      printf ("| %-11s | %-7s | %4.2f | %5.3f | failed: %s |\n", flavor, regime, sa,
              req.model_error, error->message);
      return;
    }
  d = r->score ? r->score : r->diff;
  memset (sky, 1, w * h);
  for (guint i = 0; i < truth->sources->len; i++)
    {
      const DiaSimSource *src = &g_array_index (truth->sources, DiaSimSource, i);
      double f = MAX (src->flux_science, src->flux_template);
      int rad = f > 1e6 ? 60 : f > 1e5 ? 25 : 12;
      gboolean changes = src->kind != DIA_SIM_STAR && src->kind != DIA_SIM_GALAXY;
      for (int k = 0; k < 2; k++)
        {
          int cx = (int) lround (k ? src->x2 : src->x), cy = (int) lround (k ? src->y2 : src->y);
          for (int y = MAX (0, cy - rad); y <= MIN (h - 1, cy + rad); y++)
            for (int x = MAX (0, cx - rad); x <= MIN (w - 1, cx + rad); x++)
              {
                sky[(size_t) y * w + x] = 0;
                if (changes && abs (x - cx) <= 5 && abs (y - cy) <= 5)
                  change[(size_t) y * w + x] = 1;
              }
        }
    }
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      {
        size_t i = dia_image_index (d, x, y), o = (size_t) y * w + x;
        float var = r->score ? 1.0f : d->var[i];
        snr[o] = (var > 0 && isfinite (var) && isfinite (d->pix[i])) ? d->pix[i] / sqrtf (var)
                                                                      : NAN;
        if (sky[o] && !d->mask[i] && isfinite (snr[o]) && x >= b && y >= b && x < w - b
            && y < h - b)
          v[m++] = snr[o];
      }
  dia_stats_compute (v, m, &st, NULL);
  for (int y = b; y < h - b; y++)
    for (int x = b; x < w - b; x++)
      {
        size_t o = (size_t) y * w + x;
        float z = snr[o];
        gboolean ext = TRUE;
        if (d->mask[dia_image_index (d, x, y)] & (DIA_MASK_UNUSABLE | DIA_MASK_CR))
          continue;
        usable++;
        if (!(fabsf (z) > 5.0f))
          continue;
        for (int dy = -1; dy <= 1 && ext; dy++)
          for (int dx = -1; dx <= 1 && ext; dx++)
            {
              float u = snr[o + (gint64) dy * w + dx];
              if ((dx || dy) && isfinite (u) && (z > 0 ? u > z : u < z))
                ext = FALSE;
            }
        if (ext && !change[o])
          n_fp++;
      }
  for (guint i = 0; i < truth->sources->len; i++)
    {
      const DiaSimSource *src = &g_array_index (truth->sources, DiaSimSource, i);
      int cx = (int) lround (src->x), cy = (int) lround (src->y);
      gboolean hit = FALSE;
      if (src->kind != DIA_SIM_TRANSIENT || cx < b || cy < b || cx >= w - b || cy >= h - b)
        continue;
      n_tr++;
      for (int y = cy - 3; y <= cy + 3; y++)
        for (int x = cx - 3; x <= cx + 3; x++)
          hit |= snr[(size_t) y * w + x] > 5.0f;
      n_found += hit;
    }
  printf ("| %-11s | %-7s | %4.2f | %5.3f | %6.3f | %5d | %6.2f | %2d/%-2d | %6.2f | %8.0f |\n",
          flavor, regime, sa, req.model_error, st.robust_sigma, n_fp,
          usable * erfc (5.0 / G_SQRT2), n_found, n_tr, r->plan->info.forced_preconvolve_fwhm, ms);
  fflush (stdout);
  cell->n_fp += n_fp;
  cell->n_found += n_found;
  cell->n_transients += n_tr;
  cell->gauss += usable * erfc (5.0 / G_SQRT2);
  cell->sigma_sum += st.robust_sigma;
  cell->n_runs++;
}

/* One pair per regime and seed; a single pair's 5σ count is Poisson with a mean near 4.6, so
 * the false-positive criterion (≤ 1.5 × the Gaussian expectation) is judged on the sums over
 * n_seeds seeds (summary table at the end). */
static int
bench_flavors (const char *sizes, int seed, int n_seeds, int threads)
{
  static const char *names[] = { "template", "science", "auto", "preconvolve", "zogy" };
  FlavorCell cells[2][2][G_N_ELEMENTS (names)] = { 0 };
  int w = 2048, h = 4096;
  if (sizes && sscanf (sizes, "%dx%d", &w, &h) != 2)
    return ds_cli_failf (_("bad size “%s” (expected WxH)"), sizes);
  n_seeds = MAX (n_seeds, 1);
  printf ("Diffscope %s flavour table: %d×%d simulated pairs, seeds %d–%d, %d thread(s)\n\n",
          DIFFSCOPE_VERSION, w, h, seed, seed + n_seeds - 1,
          threads > 0 ? threads : (int) g_get_num_processors ());
  printf ("| flavour     | regime  | σa   | ε     | σ(S/N) | FP 5σ | Gauss. | found | smooth | time, ms |\n");
  printf ("|-------------|---------|------|-------|--------|-------|--------|-------|--------|----------|\n");
  for (int q = 0; q < 2 * n_seeds; q++)
    {
      int k = q % 2, sd = seed + q / 2;
      g_autoptr (GError) error = NULL;
      g_autoptr (DiaImage) t = NULL;
      g_autoptr (DiaImage) s = NULL;
      g_autoptr (DiaSimTruth) truth = NULL;
      DiaSimParams sp;
      dia_sim_params_init (&sp, w, h, (guint64) sd);
      sp.regime = k ? DIA_SIM_SCIENCE_SHARPER : DIA_SIM_SCIENCE_BROADER;
      sp.n_threads = threads;
      if (!dia_sim_generate (&sp, &t, &s, &truth, NULL, &error))
        return ds_cli_fail (error);
      for (int off = 0; off < 2; off++)
        for (guint i = 0; i < G_N_ELEMENTS (names); i++)
          bench_flavors_one (t, s, truth, names[i], i < 3, off, k ? "sharper" : "broader",
                             threads, &cells[off][k][i]);
    }
  printf ("\nSums over %d seed(s) (FP / Gauss. ≤ 1.5 is the criterion):\n\n", n_seeds);
  printf ("| flavour     | regime  | terms | mean σ(S/N) | FP 5σ | Gauss. | ratio | found  |\n");
  printf ("|-------------|---------|-------|-------------|-------|--------|-------|--------|\n");
  for (int off = 0; off < 2; off++)
    for (int k = 0; k < 2; k++)
      for (guint i = 0; i < G_N_ELEMENTS (names); i++)
        {
          const FlavorCell *c = &cells[off][k][i];
          if (c->n_runs == 0)
            continue;
          printf ("| %-11s | %-7s | %-5s | %11.3f | %5d | %6.2f | %5.2f | %3d/%-3d|\n",
                  names[i], k ? "sharper" : "broader", off ? "off" : "on",
                  c->sigma_sum / c->n_runs, c->n_fp, c->gauss, c->n_fp / c->gauss,
                  c->n_found, c->n_transients);
        }
  printf ("\nσ(S/N): robust σ of D/√V (template, science, auto: decorrelated) or of the score "
          "in σ units, empty sky.\nσa, ε: the flavour's astrometric (px) and PSF-model (fraction) "
          "noise terms (the defaults, then 0).\nFP 5σ: 5σ extrema not within 5 px of a changing source; "
          "Gauss.: white-noise expectation.\nfound: transients with a > 5σ detection within "
          "3 px.  smooth: FWHM (px) of the Gaussian a forced\nconvolution direction applied to "
          "the sharper image (0: none).  time: plan + execute, no file I/O.\n");
  return 0;
}

int
ds_cli_bench (int argc, char **argv)
{
  g_autofree char *sizes = NULL;
  g_autofree char *workdir = NULL;
  g_autofree char *tpath = NULL, *spath = NULL, *vpath = NULL;
  gboolean run_one = FALSE, no_ficonv = FALSE, no_scaling = FALSE, keep = FALSE;
  gboolean flavors = FALSE;
  int threads = 0, seed = 1, roi = 1024, n_seeds = 3;
  GOptionEntry entries[] = {
    { "sizes", 0, 0, G_OPTION_ARG_STRING, &sizes, N_("Pair sizes (default 2048x4096,4096x4096)"), "WxH,…" },
    { "seed", 0, 0, G_OPTION_ARG_INT, &seed, N_("Simulator seed"), "N" },
    { "threads", 'j', 0, G_OPTION_ARG_INT, &threads, N_("Threads (default: all cores)"), "N" },
    { "roi", 0, 0, G_OPTION_ARG_INT, &roi, N_("Side of the region rerun, px (0: skip)"), "N" },
    { "no-ficonv", 0, 0, G_OPTION_ARG_NONE, &no_ficonv, N_("Do not run ficonv"), NULL },
    { "no-scaling", 0, 0, G_OPTION_ARG_NONE, &no_scaling, N_("Do not measure 1-thread time"), NULL },
    { "workdir", 0, 0, G_OPTION_ARG_FILENAME, &workdir, N_("Folder for the simulated pairs"), "DIR" },
    { "keep", 0, 0, G_OPTION_ARG_NONE, &keep, N_("Keep the work folder"), NULL },
    { "flavors", 0, 0, G_OPTION_ARG_NONE, &flavors, N_("Table of every flavour × regime (σ, false positives, recovery, time)"), NULL },
    { "n-seeds", 0, 0, G_OPTION_ARG_INT, &n_seeds, N_("With --flavors: seeds to sum the false positives over (default 3)"), "N" },
    { "run-one", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_NONE, &run_one, NULL, NULL },
    { "template", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_FILENAME, &tpath, NULL, NULL },
    { "science", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_FILENAME, &spath, NULL, NULL },
    { "truth-var", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_FILENAME, &vpath, NULL, NULL },
    { NULL }
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new (_("— time the engine"));
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) size_list = NULL;
  g_autofree char *self = NULL;
  int status = 0;
  gboolean made_dir = FALSE;

  g_option_context_add_main_entries (ctx, entries, GETTEXT_PACKAGE);
  if (!ds_cli_parse (ctx, &argc, &argv, &status))
    return status;
  if (flavors)
    return bench_flavors (sizes, seed, n_seeds, threads);
  if (run_one)
    {
      if (!tpath || !spath)
        return ds_cli_failf ("--run-one needs --template and --science");
      return bench_run_one (tpath, spath, vpath, threads, roi);
    }

  self = g_file_read_link ("/proc/self/exe", NULL);
  if (workdir == NULL)
    {
      workdir = g_dir_make_tmp ("diffscope-bench-XXXXXX", &error);
      if (workdir == NULL)
        return ds_cli_fail (error);
      made_dir = TRUE;
    }
  g_mkdir_with_parents (workdir, 0755);
  size_list = g_strsplit (sizes ? sizes : "2048x4096,4096x4096", ",", -1);
  printf ("Diffscope %s benchmark, %d thread(s) available, seed %d\n", DIFFSCOPE_VERSION,
          (int) g_get_num_processors (), seed);

  for (int k = 0; size_list[k]; k++)
    {
      int w = 0, h = 0;
      DiaSimParams sp;
      g_autoptr (DiaImage) t = NULL;
      g_autoptr (DiaImage) s = NULL;
      g_autoptr (DiaSimTruth) truth = NULL;
      g_autoptr (DiaImage) var = NULL;
      g_autofree char *tf = NULL, *sf = NULL, *vf = NULL, *pre = NULL, *thr = NULL, *roi_s = NULL;
      ChildReport rep = { 0 }, rep1 = { 0 };
      double sim_ms, cmd_ms = NAN;
      gint64 t0;

      if (sscanf (size_list[k], "%dx%d", &w, &h) != 2 || w < 64 || h < 64)
        {
          status = ds_cli_failf (_("bad size “%s” (expected WxH)"), size_list[k]);
          goto out;
        }
      dia_sim_params_init (&sp, w, h, (guint64) seed);
      t0 = g_get_monotonic_time ();
      if (!dia_sim_generate (&sp, &t, &s, &truth, NULL, &error))
        {
          status = ds_cli_fail (error);
          goto out;
        }
      sim_ms = (g_get_monotonic_time () - t0) / 1000.0;
      tf = g_strdup_printf ("%s/bench_%s_template.fits", workdir, size_list[k]);
      sf = g_strdup_printf ("%s/bench_%s_science.fits", workdir, size_list[k]);
      vf = g_strdup_printf ("%s/bench_%s_diffvar.fits", workdir, size_list[k]);
      pre = g_strdup_printf ("%s/bench_%s_ours", workdir, size_list[k]);
      if (!dia_fits_write_image (tf, t, NULL, &error) || !dia_fits_write_image (sf, s, NULL, &error)
          || !dia_fits_write_plane (vf, truth->diff_variance, w, h, (size_t) w, NULL, &error))
        {
          status = ds_cli_fail (error);
          goto out;
        }
      var = dia_fits_read_image (vf, &error);
      if (var == NULL)
        {
          status = ds_cli_fail (error);
          goto out;
        }
      printf ("\n== %s pair (simulated in %.0f ms) ==\n", size_list[k], sim_ms);
      thr = g_strdup_printf ("%d", threads);
      roi_s = g_strdup_printf ("%d", roi);
      {
        char *args[] = { self, "bench", "--run-one", "--template", tf, "--science", sf,
                         "--truth-var", vf, "--threads", thr, "--roi", roi_s, NULL };
        if (!bench_spawn (args, &rep, NULL, &error))
          {
            status = ds_cli_fail (error);
            goto out;
          }
      }
      printf ("  stages:\n%s", rep.stages->str);
      printf ("  fit (plan) %.1f ms + convolution/difference (execute) %.1f ms = %.1f ms "
              "compute, excluding file I/O\n",
              rep_get (&rep, "plan_ms"), rep_get (&rep, "execute_ms"),
              rep_get (&rep, "plan_ms") + rep_get (&rep, "execute_ms"));
      printf ("  region rerun %d×%d with the same kernel: %.1f ms\n", roi, roi,
              rep_get (&rep, "roi_ms"));
      printf ("  peak RSS %.0f MiB (load + subtract, in a child process)\n",
              rep_get (&rep, "peak_rss_bytes") / 1048576.0);
      printf ("  kernel sum %.5f (truth %.5f), %g stamps, quality σ(D/√V_true) %.4f\n",
              rep_get (&rep, "kernel_sum"), truth->kernel_sum, rep_get (&rep, "stamps_used"),
              rep_get (&rep, "sigma_ratio"));
      if (!no_scaling && k == 0 && g_get_num_processors () >= 2)
        {
          char *args1[] = { self, "bench", "--run-one", "--template", tf, "--science", sf,
                            "--threads", "1", "--roi", "0", NULL };
          /* DIFFSCOPE_THREADS caps every parallel loop of the engine, including the stages
           * that take no thread count of their own, so this is a true one-core run. */
          g_auto (GStrv) env1 = g_environ_setenv (g_get_environ (), "DIFFSCOPE_THREADS", "1",
                                                  TRUE);
          if (!bench_spawn_env (args1, env1, &rep1, NULL, &error))
            {
              status = ds_cli_fail (error);
              goto out;
            }
          printf ("  1 thread: %.1f ms compute; speed-up with all threads %.2f×\n",
                  rep_get (&rep1, "plan_ms") + rep_get (&rep1, "execute_ms"),
                  (rep_get (&rep1, "plan_ms") + rep_get (&rep1, "execute_ms"))
                      / (rep_get (&rep, "plan_ms") + rep_get (&rep, "execute_ms")));
        }
      if (!no_ficonv && k == 0)
        {
          char *cmd[] = { self, "subtract", "--template", tf, "--science", sf, "-o", pre,
                          "--quiet", "--no-matched", "--threads", thr, NULL };
          double fic_ms = NAN, fic_sigma = NAN;
          if (!bench_spawn (cmd, NULL, &cmd_ms, &error))
            {
              status = ds_cli_fail (error);
              goto out;
            }
          g_autofree char *fic_path = g_find_program_in_path ("ficonv");
          if (fic_path == NULL)
            printf ("  ficonv not found (apt-get install fitsh): comparison skipped\n");
          else if (!bench_ficonv (workdir, t, s, var, &rep, &fic_ms, &fic_sigma, &error))
            {
              printf ("  ficonv failed: %s\n", error->message);
              g_clear_error (&error);
            }
          else
            {
              printf ("  whole command incl. FITS I/O: diffscope-cli subtract %.0f ms, ficonv "
                      "%.0f ms → diffscope is %.1f× faster\n",
                      cmd_ms, fic_ms, fic_ms / cmd_ms);
              printf ("  quality σ(D/√V_true): diffscope %.4f, ficonv %.4f\n",
                      rep_get (&rep, "sigma_ratio"), fic_sigma);
            }
        }
      rep_clear (&rep);
      rep_clear (&rep1);
    }
out:
  if (made_dir && !keep)
    {
      GDir *d = g_dir_open (workdir, 0, NULL);
      const char *name;
      while (d && (name = g_dir_read_name (d)) != NULL)
        {
          g_autofree char *p = g_build_filename (workdir, name, NULL);
          g_remove (p);
        }
      if (d)
        g_dir_close (d);
      g_rmdir (workdir);
    }
  return status;
}
