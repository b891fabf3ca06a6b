/* ds-cli-simulate.c — `diffscope-cli simulate`: writes a seeded template/science pair.
 *
 * A thin shell around dia_sim_generate(): the defaults of dia_sim_params_init() with the size,
 * seed and regime from the command line.  It writes PREFIX_template.fits and
 * PREFIX_science.fits (multi-extension IMAGE/MASK/VARIANCE, electrons) and, unless --no-truth,
 * the truth files of dia_sim_truth_write().  The simulator's parameters are also recorded as
 * SIM* header cards so a pair can be regenerated from its files alone.  Paths written are
 * listed on stdout, one per line, so scripts can pick them up.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "ds-cli.h"
#include "dia-fits.h"
#include "dia-image.h"
#include "dia-monitor.h"
#include "dia-sim.h"

#include <glib/gi18n.h>
#include <stdio.h>
#include <string.h>

static gboolean
cli_parse_size (const char *text, int *width, int *height)
{
  char *end = NULL;
  gint64 w, h;

  if (text == NULL)
    return FALSE;
  w = g_ascii_strtoll (text, &end, 10);
  if (end == text || (*end != 'x' && *end != 'X'))
    return FALSE;
  text = end + 1;
  h = g_ascii_strtoll (text, &end, 10);
  if (end == text || *end != '\0' || w <= 0 || h <= 0 || w > G_MAXINT || h > G_MAXINT)
    return FALSE;
  *width = (int) w;
  *height = (int) h;
  return TRUE;
}

static DiaHeaderCards *
cli_sim_cards (const DiaSimParams *p, gboolean is_template)
{
  DiaHeaderCards *cards = dia_header_cards_new ();
  dia_header_cards_add_string (cards, "ORIGIN", "diffscope-cli simulate", "written by");
  dia_header_cards_add_string (cards, "SIMROLE", is_template ? "template" : "science",
                               "which image of the simulated pair");
  dia_header_cards_add_int (cards, "SIMSEED", (gint64) p->seed, "simulator seed");
  dia_header_cards_add_string (cards, "SIMREGIM",
                               p->regime == DIA_SIM_SCIENCE_SHARPER ? "sharper" : "broader",
                               "science PSF relative to the template");
  dia_header_cards_add_double (cards, "SIMFWHMS", p->fwhm_sharp, "[px] sharper PSF FWHM");
  dia_header_cards_add_double (cards, "SIMFWHMB", p->fwhm_broad, "[px] broader PSF FWHM");
  dia_header_cards_add_double (cards, "SIMSHFTX", p->shift_x, "[px] kernel centroid x");
  dia_header_cards_add_double (cards, "SIMSHFTY", p->shift_y, "[px] kernel centroid y");
  dia_header_cards_add_double (cards, "SIMFLUXR", p->flux_ratio, "kernel sum");
  dia_header_cards_add_double (cards, "SIMDEPTH", p->template_depth,
                               "template variance scale");
  return cards;
}

int
ds_cli_simulate (int argc, char **argv)
{
  g_autoptr (GOptionContext) context = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (DiaImage) tmpl = NULL;
  g_autoptr (DiaImage) sci = NULL;
  g_autoptr (DiaSimTruth) truth = NULL;
  g_autoptr (DiaMonitor) monitor = NULL;
  g_autofree char *size = NULL, *regime = NULL, *prefix = NULL;
  g_autofree char *tpath = NULL, *spath = NULL;
  gint64 seed = 1;
  int threads = 0, width = 2048, height = 2048, status = 0;
  gboolean no_truth = FALSE, progress = FALSE;
  DiaSimParams params;
  GOptionEntry entries[] = {
    { "size", 0, 0, G_OPTION_ARG_STRING, &size,
      N_("Image size in pixels (default 2048x2048)"), N_("WxH") },
    { "seed", 0, 0, G_OPTION_ARG_INT64, &seed, N_("Random seed (default 1)"), N_("N") },
    { "regime", 0, 0, G_OPTION_ARG_STRING, &regime,
      N_("“broader”: the science PSF is the broader one (default); “sharper”: the template's "
         "is"), N_("broader|sharper") },
    { "no-truth", 0, 0, G_OPTION_ARG_NONE, &no_truth,
      N_("Do not write the truth files"), NULL },
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &prefix,
      N_("Prefix of the files written (required)"), N_("PREFIX") },
    { "threads", 0, 0, G_OPTION_ARG_INT, &threads,
      N_("Worker threads (default: all processors; the output does not depend on it)"),
      N_("N") },
    { "progress", 0, 0, G_OPTION_ARG_NONE, &progress, N_("Report progress on stderr"), NULL },
    { NULL }
  };

  context = g_option_context_new (_("— write a seeded template/science pair with its truth"));
  g_option_context_set_translation_domain (context, GETTEXT_PACKAGE);
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  g_option_context_set_summary (
    context,
    _("Writes PREFIX_template.fits and PREFIX_science.fits (IMAGE, MASK and VARIANCE "
      "extensions, in electrons): stars from the noise floor to beyond saturation with bleed "
      "trails and diffraction spikes, galaxies, a sky gradient, transients, variable stars, a "
      "moving object, cosmic rays and a bad column, seen through PSFs related by a known, "
      "spatially varying kernel.  Unless --no-truth, also PREFIX_truth_sources.csv, "
      "PREFIX_truth_kernel.fits, PREFIX_truth_diffvar.fits and PREFIX_truth.json."));
  if (!ds_cli_parse (context, &argc, &argv, &status))
    return status;
  if (argc > 1)
    {
      fprintf (stderr, "diffscope-cli: %s\n",
               _("simulate takes no positional arguments (did you mean -o PREFIX?)"));
      return 2;
    }
  if (prefix == NULL || *prefix == '\0')
    {
      fprintf (stderr, "diffscope-cli: %s\n", _("simulate needs an output prefix: -o PREFIX"));
      return 2;
    }
  if (size && !cli_parse_size (size, &width, &height))
    {
      fprintf (stderr, "diffscope-cli: %s\n",
               _("--size must look like 2048x2048 (width x height in pixels)"));
      return 2;
    }
  if (seed < 0)
    {
      fprintf (stderr, "diffscope-cli: %s\n", _("--seed must be zero or positive"));
      return 2;
    }
  dia_sim_params_init (&params, width, height, (guint64) seed);
  params.n_threads = MAX (threads, 0);
  if (regime)
    {
      if (g_ascii_strcasecmp (regime, "broader") == 0)
        params.regime = DIA_SIM_SCIENCE_BROADER;
      else if (g_ascii_strcasecmp (regime, "sharper") == 0)
        params.regime = DIA_SIM_SCIENCE_SHARPER;
      else
        {
          fprintf (stderr, "diffscope-cli: %s\n", _("--regime must be “broader” or “sharper”"));
          return 2;
        }
    }

  monitor = dia_monitor_new ();
  if (progress)
    dia_monitor_set_progress_func (monitor, ds_cli_progress, NULL);
  if (!dia_sim_generate (&params, &tmpl, &sci, no_truth ? NULL : &truth, monitor, &error))
    return ds_cli_fail (error);

  tpath = g_strconcat (prefix, "_template.fits", NULL);
  spath = g_strconcat (prefix, "_science.fits", NULL);
  {
    g_autoptr (DiaHeaderCards) tc = cli_sim_cards (&params, TRUE);
    g_autoptr (DiaHeaderCards) sc = cli_sim_cards (&params, FALSE);
    if (!dia_fits_write_image (tpath, tmpl, tc, &error)
        || !dia_fits_write_image (spath, sci, sc, &error))
      return ds_cli_fail (error);
  }
  printf ("%s\n%s\n", tpath, spath);
  if (truth)
    {
      if (!dia_sim_truth_write (truth, prefix, &error))
        return ds_cli_fail (error);
      printf ("%s_truth_sources.csv\n%s_truth_kernel.fits\n%s_truth_diffvar.fits\n"
              "%s_truth.json\n", prefix, prefix, prefix, prefix);
    }
  return 0;
}
