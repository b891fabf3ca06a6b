/* ds-cli-subtract.c — `diffscope-cli subtract`: PSF-matched subtraction of two FITS files.
 *
 * Every engine parameter can be set with --set KEY=VALUE (keys from engine/dia-params-table.h);
 * the common ones also have their own options.  Progress goes to stderr unless --quiet.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "ds-cli.h"
#include "dia-fits.h"
#include "dia-image.h"
#include "dia-measure.h"
#include "dia-monitor.h"
#include "dia-params.h"
#include "dia-psf.h"
#include "dia-subtract-io.h"

#include <glib/gi18n.h>
#include <stdio.h>
#include <string.h>

typedef struct
{
  char *template_path, *science_path, *output, *flavor, *sigmas, *degrees, *region;
  char *template_psf, *science_psf;
  int kernel_size, spatial_order, bg_order, threads;
  gboolean quiet, no_matched, decorrelate, no_decorrelate;
  gboolean detect;              /* --detect: also write PREFIX_sources.{fits,csv}      */
  char **sets;
} SubtractOptions;

static gboolean
subtract_apply_options (const SubtractOptions *o, DiaSubtractRequest *req, GError **error)
{
  char buf[32];
  if (o->flavor && !dia_params_set (req, "flavor", o->flavor, error))
    return FALSE;
  if (o->kernel_size > 0)
    {
      g_snprintf (buf, sizeof buf, "%d", o->kernel_size);
      if (!dia_params_set (req, "kernel.size", buf, error)
          || !dia_params_set (req, "kernel.fixed_size", "true", error))
        return FALSE;
    }
  if (o->sigmas)
    {
      if (!dia_params_set (req, "kernel.sigmas", o->sigmas, error)
          || !dia_params_set (req, "kernel.fixed_sigmas", "true", error))
        return FALSE;
    }
  if (o->degrees && !dia_params_set (req, "kernel.degrees", o->degrees, error))
    return FALSE;
  if (o->spatial_order >= 0)
    {
      g_snprintf (buf, sizeof buf, "%d", o->spatial_order);
      if (!dia_params_set (req, "fit.spatial_order", buf, error))
        return FALSE;
    }
  if (o->bg_order >= -1 && o->bg_order != G_MININT)
    {
      g_snprintf (buf, sizeof buf, "%d", o->bg_order);
      if (!dia_params_set (req, "fit.bg_order", buf, error))
        return FALSE;
    }
  if (o->decorrelate && !dia_params_set (req, "decorrelate", "true", error))
    return FALSE;
  if (o->no_decorrelate && !dia_params_set (req, "decorrelate", "false", error))
    return FALSE;
  if (o->threads > 0)
    {
      g_snprintf (buf, sizeof buf, "%d", o->threads);
      if (!dia_params_set (req, "threads", buf, error))
        return FALSE;
    }
  for (char **s = o->sets; s && *s; s++)
    {
      g_auto (GStrv) kv = g_strsplit (*s, "=", 2);
      if (g_strv_length (kv) != 2)
        {
          g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                       _("--set expects KEY=VALUE, got “%s”"), *s);
          return FALSE;
        }
      if (!dia_params_set (req, g_strstrip (kv[0]), kv[1], error))
        return FALSE;
    }
  return dia_subtract_request_validate (req, error);
}

/* Prepends "# template: …", "# science: …", "# difference: …" and "# config_hash: …" to the
 * catalogue CSV, so `diffscope --scan PREFIX_sources.csv` can open the candidates' stamps and
 * record which configuration produced them. */
static gboolean
subtract_annotate_csv (const char *csv, const SubtractOptions *o,
                       const DiaSubtractRequest *req, GError **error)
{
  g_autofree char *body = NULL;
  g_autofree char *tabs = NULL, *sabs = NULL, *dabs = NULL, *diff = NULL, *text = NULL;
  g_autofree char *matched = NULL, *mline = NULL;

  if (!g_file_get_contents (csv, &body, NULL, error))
    return FALSE;
  diff = g_strconcat (o->output, "_diff.fits", NULL);
  tabs = g_canonicalize_filename (o->template_path, NULL);
  sabs = g_canonicalize_filename (o->science_path, NULL);
  dabs = g_canonicalize_filename (diff, NULL);
  matched = g_strconcat (o->output, "_matched.fits", NULL);
  if (!o->no_matched && g_file_test (matched, G_FILE_TEST_EXISTS))
    {
      g_autofree char *mabs = g_canonicalize_filename (matched, NULL);
      mline = g_strdup_printf ("# matched: %s\n", mabs);
    }
  text = g_strdup_printf ("# template: %s\n# science: %s\n# difference: %s\n%s"
                          "# config_hash: %016" G_GINT64_MODIFIER "x\n%s",
                          tabs, sabs, dabs, mline ? mline : "",
                          dia_params_hash (req, DIA_STAGE_APPLY), body);
  return g_file_set_contents (csv, text, -1, error);
}

static gboolean
subtract_parse_region (const char *text, DiaRect *r, GError **error)
{
  if (sscanf (text, "%d,%d,%d,%d", &r->x, &r->y, &r->width, &r->height) != 4)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   _("--region expects X,Y,WIDTH,HEIGHT (0-based pixels), got “%s”"), text);
      return FALSE;
    }
  return TRUE;
}

int
ds_cli_subtract (int argc, char **argv)
{
  SubtractOptions o = { .kernel_size = 0, .spatial_order = -1, .bg_order = G_MININT };
  GOptionEntry entries[] = {
    { "template", 't', 0, G_OPTION_ARG_FILENAME, &o.template_path, N_("Template image"), "T.fits" },
    { "science", 's', 0, G_OPTION_ARG_FILENAME, &o.science_path, N_("Science image"), "S.fits" },
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &o.output, N_("Output prefix"), "PREFIX" },
    { "flavor", 'f', 0, G_OPTION_ARG_STRING, &o.flavor, N_("template, science, auto, preconvolve or zogy"), "NAME" },
    { "decorrelate", 0, 0, G_OPTION_ARG_NONE, &o.decorrelate, N_("Decorrelate the difference (template and science flavours)"), NULL },
    { "no-decorrelate", 0, 0, G_OPTION_ARG_NONE, &o.no_decorrelate, N_("Do not decorrelate the difference"), NULL },
    { "template-psf", 0, 0, G_OPTION_ARG_FILENAME, &o.template_psf, N_("Template PSF image instead of the estimated one"), "P.fits" },
    { "science-psf", 0, 0, G_OPTION_ARG_FILENAME, &o.science_psf, N_("Science PSF image instead of the estimated one"), "P.fits" },
    { "kernel-size", 0, 0, G_OPTION_ARG_INT, &o.kernel_size, N_("Kernel side (odd), px; default from the PSFs"), "N" },
    { "sigmas", 0, 0, G_OPTION_ARG_STRING, &o.sigmas, N_("Basis Gaussian widths, px; default from the PSFs"), "A,B,C" },
    { "degrees", 0, 0, G_OPTION_ARG_STRING, &o.degrees, N_("Polynomial degree per Gaussian"), "I,J,K" },
    { "spatial-order", 0, 0, G_OPTION_ARG_INT, &o.spatial_order, N_("Spatial order of the kernel"), "N" },
    { "bg-order", 0, 0, G_OPTION_ARG_INT, &o.bg_order, N_("Spatial order of the background (-1: none)"), "N" },
    { "threads", 'j', 0, G_OPTION_ARG_INT, &o.threads, N_("Threads (default: all cores)"), "N" },
    { "set", 0, 0, G_OPTION_ARG_STRING_ARRAY, &o.sets, N_("Set any engine parameter"), "KEY=VALUE" },
    { "region", 0, 0, G_OPTION_ARG_STRING, &o.region, N_("Only compute this rectangle (global kernel)"), "X,Y,W,H" },
    { "no-matched", 0, 0, G_OPTION_ARG_NONE, &o.no_matched, N_("Do not write PREFIX_matched.fits"), NULL },
    { "detect", 0, 0, G_OPTION_ARG_NONE, &o.detect, N_("Also detect and measure sources: PREFIX_sources.fits and .csv"), NULL },
    { "quiet", 'q', 0, G_OPTION_ARG_NONE, &o.quiet, N_("No progress on stderr"), NULL },
    { NULL }
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new (_("— PSF-matched image subtraction"));
  g_autoptr (GError) error = NULL;
  g_autoptr (DiaImage) tmpl = NULL;
  g_autoptr (DiaImage) sci = NULL;
  g_autoptr (DiaMonitor) monitor = dia_monitor_new ();
  g_autoptr (DiaSubtractPlan) plan = NULL;
  g_autoptr (DiaSubtractResult) result = NULL;
  DiaSubtractRequest req;
  DiaRect region;
  int status = 0;
  gint64 t0;

  g_option_context_add_main_entries (ctx, entries, GETTEXT_PACKAGE);
  g_option_context_set_description (ctx,
      _("Writes PREFIX_diff.fits (IMAGE/MASK/VARIANCE), PREFIX_matched.fits, PREFIX_kernel.fits "
        "and PREFIX_meta.json; score flavours (preconvolve, zogy) also PREFIX_score.fits (the "
        "score in units of its standard deviation).  Parameter keys for --set are listed by “diffscope-cli "
        "subtract --list-params”."));
  if (argc >= 2 && g_strcmp0 (argv[1], "--list-params") == 0)
    {
      int n;
      const DiaParamInfo *t = dia_params_table (&n);
      dia_subtract_request_init (&req);
      for (int i = 0; i < n; i++)
        {
          g_autofree char *v = dia_params_dup_value (&req, t[i].key);
          printf ("%-26s %-14s [%g, %g] %s%s%s\n", t[i].key, v, t[i].min, t[i].max,
                  _(t[i].label), *t[i].unit ? ", " : "", t[i].unit);
        }
      return 0;
    }
  if (!ds_cli_parse (ctx, &argc, &argv, &status))
    goto out;
  if (!o.template_path || !o.science_path || !o.output)
    {
      fprintf (stderr, "diffscope-cli: %s\n",
               _("subtract needs --template, --science and -o PREFIX"));
      status = 2;
      goto out;
    }
  dia_subtract_request_init (&req);
  if (!subtract_apply_options (&o, &req, &error))
    {
      status = ds_cli_fail (error);
      goto out;
    }
  if (!o.quiet)
    dia_monitor_set_progress_func (monitor, ds_cli_progress, NULL);

  t0 = g_get_monotonic_time ();
  tmpl = dia_fits_read_image (o.template_path, &error);
  if (tmpl)
    sci = dia_fits_read_image (o.science_path, &error);
  if (!tmpl || !sci)
    {
      status = ds_cli_fail (error);
      goto out;
    }
  if (!o.quiet)
    fprintf (stderr, _("read inputs: %.0f ms\n"), (g_get_monotonic_time () - t0) / 1000.0);

  {
    g_autoptr (DiaPsf) pt = NULL;
    g_autoptr (DiaPsf) ps = NULL;
    const char *paths[2] = { o.template_psf, o.science_psf };
    DiaPsf **psfs[2] = { &pt, &ps };
    for (int k = 0; k < 2; k++)
      if (paths[k] != NULL)
        {
          g_autoptr (DiaImage) img = dia_fits_read_image (paths[k], &error);
          if (img != NULL)
            {
              /* Rows may be padded (stride); the PSF constructor wants them packed. */
              g_autofree float *px = g_new (float, (size_t) img->width * img->height);
              for (int y = 0; y < img->height; y++)
                memcpy (px + (size_t) y * img->width, img->pix + dia_image_index (img, 0, y),
                        sizeof (float) * img->width);
              *psfs[k] = dia_psf_new_from_pixels (px, img->width, img->height, &error);
            }
          if (*psfs[k] == NULL)
            {
              status = ds_cli_fail (error);
              goto out;
            }
        }
    plan = dia_subtract_plan_with_psfs (tmpl, sci, pt, ps, &req, monitor, &error);
  }
  if (plan == NULL)
    {
      status = ds_cli_fail (error);
      goto out;
    }
  /* Printed even with --quiet: the difference does not have the resolution asked for. */
  if (plan->info.forced_preconvolve_fwhm > 0)
    fprintf (stderr, _("diffscope-cli: warning: the %s image is the sharper one, so matching "
                       "the other to it would deconvolve; it was smoothed first by a Gaussian of "
                       "FWHM %.2f px, and the difference is broader than either input (--flavor "
                       "auto avoids this)\n"),
             plan->info.convolve_template ? _("science") : _("template"),
             plan->info.forced_preconvolve_fwhm);
  if (o.region && !subtract_parse_region (o.region, &region, &error))
    {
      status = ds_cli_fail (error);
      goto out;
    }
  result = dia_subtract_execute (plan, o.region ? &region : NULL, !o.no_matched, monitor, &error);
  if (result == NULL)
    {
      status = ds_cli_fail (error);
      goto out;
    }
  t0 = g_get_monotonic_time ();
  if (!dia_subtract_write_products (result, o.output, o.template_path, o.science_path, &error))
    {
      status = ds_cli_fail (error);
      goto out;
    }
  if (o.detect)
    {
      /* Detection parameters come from --set detect.*=… (engine/dia-params-table.h). */
      g_autoptr (DiaCatalog) cat = dia_detect_and_measure (result, NULL, monitor, &error);
      g_autofree char *csv = g_strconcat (o.output, "_sources.csv", NULL);
      g_autofree char *fits = g_strconcat (o.output, "_sources.fits", NULL);
      if (cat == NULL || !dia_catalog_write_csv (cat, csv, &error)
          || !dia_catalog_write_fits (cat, fits, &error)
          || !subtract_annotate_csv (csv, &o, &req, &error))
        {
          status = ds_cli_fail (error);
          goto out;
        }
      if (!o.quiet)
        fprintf (stderr, _("%u sources (%d dipoles) at %.1f σ: detect %.0f ms, measure %.0f "
                           "ms\n"), cat->sources->len, cat->n_dipoles, cat->params.threshold,
                 cat->detect_ms, cat->measure_ms);
    }
  if (result->score != NULL)
    {
      g_autofree char *score_path = g_strconcat (o.output, "_score.fits", NULL);
      if (!dia_fits_write_image (score_path, result->score, NULL, &error))
        {
          status = ds_cli_fail (error);
          goto out;
        }
    }
  if (!o.quiet)
    {
      const DiaSubtractInfo *info = &plan->info;
      fprintf (stderr, _("wrote %s_*: %.0f ms\n"), o.output,
               (g_get_monotonic_time () - t0) / 1000.0);
      fprintf (stderr,
               _("flavour %s (convolved %s), FWHM template %.2f px, science %.2f px, kernel sum "
                 "%.5f [%.5f, %.5f], %d stamps used, %d rejected, condition %.3g, σ(D/√V) "
                 "%.3f sky, %.3f stamps\n"),
               info->flavor->name, info->convolve_template ? "template" : "science",
               info->fwhm_template, info->fwhm_science, info->kernel_sum_centre,
               info->kernel_sum_min, info->kernel_sum_max, info->n_stamps_used,
               info->n_stamps_rejected, info->condition_number, result->diff_sigma_ratio,
               result->diff_sigma_ratio_stars);
    }
out:
  g_free (o.template_path);
  g_free (o.science_path);
  g_free (o.output);
  g_free (o.flavor);
  g_free (o.sigmas);
  g_free (o.degrees);
  g_free (o.region);
  g_free (o.template_psf);
  g_free (o.science_psf);
  g_strfreev (o.sets);
  return status;
}
