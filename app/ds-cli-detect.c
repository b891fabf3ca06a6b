/* ds-cli-detect.c — `diffscope-cli detect DIFF.fits -o PREFIX`: detection and measurement on an
 * existing difference image, writing PREFIX_sources.fits and PREFIX_sources.csv.
 *
 * The difference's PSF is needed for the matched filter and for PSF fluxes.  In order of
 * preference it comes from --psf-fwhm (a Gaussian), from the header keys our own subtract
 * writes (DIA_FWS when the template was convolved, DIA_FWT otherwise, per DIA_CONV), from a
 * FWHM the reader found in the header (SEEING/FWHM cards), and finally from the brightest
 * isolated positive sources of the difference itself (dia_psf_estimate, or their median
 * second-moment FWHM when fewer than three are usable).  The choice is printed.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "ds-cli.h"
#include "dia-background.h"
#include "dia-fits.h"
#include "dia-image.h"
#include "dia-measure.h"
#include "dia-monitor.h"
#include "dia-params.h"
#include "dia-psf.h"
#include "dia-stats.h"

#include <fitsio.h>
#include <glib/gi18n.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* Value text of header card `key` (80-char cards), or NULL.  Caller frees. */
static char *
detect_header_value (const DiaImage *im, const char *key)
{
  size_t kl = strlen (key);
  for (int i = 0; im->header && i < im->n_header_cards; i++)
    {
      const char *c = im->header + (size_t) i * 80;
      if (strncmp (c, key, kl) == 0 && (c[kl] == ' ' || c[kl] == '=') && c[8] == '=')
        {
          g_autofree char *v = g_strndup (c + 10, 70);
          char *slash = strchr (v, '/');
          if (slash && !strchr (v, '\''))
            *slash = '\0';
          g_strstrip (v);
          if (v[0] == '\'')
            {
              char *end = strchr (v + 1, '\'');
              if (end)
                *end = '\0';
              return g_strstrip (g_strdup (v + 1));
            }
          return g_strdup (v);
        }
    }
  return NULL;
}

/* Our subtract writes its DIA_* keys into the primary HDU; the image may come from an
 * extension, whose cards are the only ones the reader keeps.  Caller frees. */
static char *
detect_primary_value (const char *path, const char *key)
{
  fitsfile *f = NULL;
  int status = 0;
  char value[FLEN_VALUE] = "";
  char *out = NULL;
  g_autofree char *base = g_strdup (path);
  char *bracket = strchr (base, '[');
  if (bracket)
    *bracket = '\0';
  if (fits_open_file (&f, base, READONLY, &status) == 0)
    {
      if (fits_read_key (f, TSTRING, key, value, NULL, &status) == 0)
        out = g_strstrip (g_strdup (value));
      status = 0;
      fits_close_file (f, &status);
    }
  return out;
}

static double
detect_header_double (const DiaImage *im, const char *path, const char *key)
{
  g_autofree char *v = detect_header_value (im, key);
  if (v == NULL)
    v = detect_primary_value (path, key);
  char *end = NULL;
  double d;
  if (v == NULL)
    return NAN;
  d = g_ascii_strtod (v, &end);
  return end != v ? d : NAN;
}

/* The PSF of the difference and a sentence saying where it came from. */
static DiaPsf *
detect_find_psf (const DiaImage *diff, const char *path, double fwhm_option, char **how,
                 GError **error)
{
  g_autofree char *conv = detect_header_value (diff, "DIA_CONV");
  double fwhm;
  g_autoptr (DiaBackground) bg = NULL;
  g_autoptr (GArray) stars = NULL;
  GError *local = NULL;
  DiaPsf *psf;

  if (fwhm_option > 0)
    {
      *how = g_strdup_printf (_("Gaussian PSF, FWHM %.2f px (--psf-fwhm)"), fwhm_option);
      return dia_psf_new_gaussian (fwhm_option);
    }
  if (conv == NULL)
    conv = detect_primary_value (path, "DIA_CONV");
  fwhm = detect_header_double (diff, path,
                               conv && g_ascii_strcasecmp (conv, "Science") == 0 ? "DIA_FWT"
                                                                                 : "DIA_FWS");
  if (fwhm > 0 && fwhm < 100)
    {
      *how = g_strdup_printf (_("Gaussian PSF, FWHM %.2f px (header %s)"), fwhm,
                              conv && g_ascii_strcasecmp (conv, "Science") == 0 ? "DIA_FWT"
                                                                                 : "DIA_FWS");
      return dia_psf_new_gaussian (fwhm);
    }
  if (diff->meta.psf_fwhm > 0 && diff->meta.psf_fwhm < 100)
    {
      *how = g_strdup_printf (_("Gaussian PSF, FWHM %.2f px (image header)"),
                              diff->meta.psf_fwhm);
      return dia_psf_new_gaussian (diff->meta.psf_fwhm);
    }
  bg = dia_background_estimate (diff, 0, DIA_MASK_UNUSABLE, NULL, error);
  if (bg == NULL)
    return NULL;
  stars = dia_stars_find (diff, bg, 10.0, 200, NULL, error);
  if (stars == NULL)
    return NULL;
  psf = dia_psf_estimate (diff, bg, stars, NULL, NULL, &local);
  if (psf)
    {
      *how = g_strdup_printf (_("PSF measured on %d positive sources of the difference, FWHM "
                                "%.2f px"), dia_psf_n_stars (psf),
                              dia_psf_fwhm (psf, diff->width / 2.0, diff->height / 2.0));
      return psf;
    }
  g_clear_error (&local);
  {
    g_autoptr (GArray) f = g_array_new (FALSE, FALSE, sizeof (float));
    g_autofree float *scratch = NULL;
    for (guint i = 0; i < stars->len; i++)
      {
        const DiaStar *s = &g_array_index (stars, DiaStar, i);
        float w = (float) (2.35482 * sqrt (0.5 * (s->ixx + s->iyy)));
        if (!(s->flags & (DIA_STAR_SATURATED | DIA_STAR_MASKED | DIA_STAR_EDGE
                          | DIA_STAR_CROWDED | DIA_STAR_COSMIC))
            && isfinite (w) && w > 0.8)
          g_array_append_val (f, w);
      }
    if (f->len == 0)
      {
        g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                     _("%s: no PSF size in the header and no usable positive source to measure "
                       "one; give --psf-fwhm"), diff->source ? diff->source : "difference");
        return NULL;
      }
    scratch = g_new (float, f->len);
    fwhm = dia_stats_median ((float *) f->data, f->len, scratch);
    *how = g_strdup_printf (_("Gaussian PSF, FWHM %.2f px (median of %u sources of the "
                              "difference)"), fwhm, f->len);
    return dia_psf_new_gaussian (fwhm);
  }
}

int
ds_cli_detect (int argc, char **argv)
{
  char *output = NULL;
  char **sets = NULL;
  double threshold = 5.0, fwhm = 0.0;
  int threads = 0;
  gboolean quiet = FALSE;
  GOptionEntry entries[] = {
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &output, N_("Output prefix"), "PREFIX" },
    { "threshold", 0, 0, G_OPTION_ARG_DOUBLE, &threshold, N_("Detection threshold, σ (5)"), "T" },
    { "psf-fwhm", 0, 0, G_OPTION_ARG_DOUBLE, &fwhm, N_("PSF FWHM of the difference, px"), "F" },
    { "threads", 'j', 0, G_OPTION_ARG_INT, &threads, N_("Threads (default: all cores)"), "N" },
    { "set", 0, 0, G_OPTION_ARG_STRING_ARRAY, &sets, N_("Set a detect.* parameter"), "KEY=VALUE" },
    { "quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, N_("No summary on stderr"), NULL },
    { NULL }
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new (_("DIFF.fits — detect and measure "
                                                           "sources on a difference image"));
  g_autoptr (GError) error = NULL;
  g_autoptr (DiaImage) diff = NULL;
  g_autoptr (DiaPsf) psf = NULL;
  g_autoptr (DiaCatalog) cat = NULL;
  g_autofree char *how = NULL;
  g_autofree char *csv = NULL;
  g_autofree char *fits = NULL;
  DiaSubtractRequest req;
  char buf[32];
  int status = 0;

  g_option_context_add_main_entries (ctx, entries, GETTEXT_PACKAGE);
  g_option_context_set_description (ctx, _("Writes PREFIX_sources.fits (binary table) and "
                                           "PREFIX_sources.csv; columns in docs/detection.md."));
  if (!ds_cli_parse (ctx, &argc, &argv, &status))
    goto out;
  if (argc != 2 || output == NULL)
    {
      fprintf (stderr, "diffscope-cli: %s\n", _("detect needs one DIFF.fits and -o PREFIX"));
      status = 2;
      goto out;
    }
  dia_subtract_request_init (&req);
  g_snprintf (buf, sizeof buf, "%g", threshold);
  if (!dia_params_set (&req, "detect.threshold", buf, &error))
    {
      status = ds_cli_fail (error);
      goto out;
    }
  for (char **s = sets; s && *s; s++)
    {
      g_auto (GStrv) kv = g_strsplit (*s, "=", 2);
      if (g_strv_length (kv) != 2 || !dia_params_set (&req, g_strstrip (kv[0]), kv[1], &error))
        {
          if (error == NULL)
            g_set_error (&error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                         _("--set expects KEY=VALUE, got “%s”"), *s);
          status = ds_cli_fail (error);
          goto out;
        }
    }
  diff = dia_fits_read_image (argv[1], &error);
  if (diff == NULL)
    {
      status = ds_cli_fail (error);
      goto out;
    }
  psf = detect_find_psf (diff, argv[1], fwhm, &how, &error);
  if (psf == NULL)
    {
      status = ds_cli_fail (error);
      goto out;
    }
  cat = dia_detect (diff, psf, &req.detect, threads, NULL, &error);
  if (cat == NULL || !dia_measure (cat, diff, psf, threads, NULL, &error))
    {
      status = ds_cli_fail (error);
      goto out;
    }
  csv = g_strconcat (output, "_sources.csv", NULL);
  fits = g_strconcat (output, "_sources.fits", NULL);
  if (!dia_catalog_write_csv (cat, csv, &error) || !dia_catalog_write_fits (cat, fits, &error))
    {
      status = ds_cli_fail (error);
      goto out;
    }
  if (!quiet)
    fprintf (stderr, _("%s\n%u sources (%d dipoles) at %.1f σ, smoothing σ %.2f px, noise "
                       "scale %.3f; detect %.0f ms, measure %.0f ms; wrote %s and %s\n"),
             how, cat->sources->len, cat->n_dipoles, cat->params.threshold, cat->smooth_sigma,
             cat->sn_scale, cat->detect_ms, cat->measure_ms, csv, fits);
out:
  g_free (output);
  g_strfreev (sets);
  return status;
}
