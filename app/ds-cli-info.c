/* ds-cli-info.c — `diffscope-cli info FILE…`: describes FITS files.
 *
 * A thin shell around dia_fits_dup_info(): every HDU of the file, then the image Diffscope
 * would load from it (size, origin, WCS, mask planes with pixel counts, metadata, how the
 * variance was obtained, robust statistics).  Files are described in order; the first one
 * that cannot be read ends the command with one "diffscope-cli: …" line and status 1, so
 * scripts can rely on the exit status.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "ds-cli.h"
#include "dia-fits.h"

#include <glib/gi18n.h>
#include <stdio.h>

int
ds_cli_info (int argc, char **argv)
{
  g_autoptr (GOptionContext) context = NULL;
  int status = 0;

  context = g_option_context_new (_("FILE… — describe FITS files"));
  g_option_context_set_summary (context,
                                _("Lists every HDU of each FILE (type, EXTNAME, BITPIX, size, "
                                  "compression), then the image Diffscope loads from it: size "
                                  "and origin, WCS, mask planes, metadata, variance origin and "
                                  "robust statistics.\n\nFILE may use cfitsio's extended "
                                  "syntax, e.g. “image.fits[SCI]” or “image.fits[1]”."));
  if (!ds_cli_parse (context, &argc, &argv, &status))
    return status;
  if (argc < 2)
    {
      g_autofree char *help = g_option_context_get_help (context, TRUE, NULL);
      fprintf (stderr, "diffscope-cli: %s\n%s", _("info needs at least one FILE"), help);
      return 2;
    }
  for (int i = 1; i < argc; i++)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *text = dia_fits_dup_info (argv[i], &error);
      if (text == NULL)
        return ds_cli_fail (error);
      if (i > 1)
        fputc ('\n', stdout);
      fputs (text, stdout);
      fflush (stdout);
    }
  return 0;
}
