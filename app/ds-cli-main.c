/* ds-cli-main.c — entry point of diffscope-cli: dispatches to one subcommand per file.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "ds-cli.h"
#include "ds-startup.h"

#include <glib/gi18n.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>

typedef struct
{
  const char *name;
  int (*run) (int argc, char **argv);
  const char *summary;
} CliCommand;

static const CliCommand cli_commands[] = {
  { "info", ds_cli_info, N_("Describe a FITS file: HDUs, sizes, mask planes, WCS, statistics") },
  { "simulate", ds_cli_simulate, N_("Write a seeded template/science pair with its truth") },
  { "subtract", ds_cli_subtract, N_("PSF-match and subtract a template from a science image") },
  { "bench", ds_cli_bench, N_("Time the engine stage by stage (and ficonv) on simulated pairs") },
  { "labels", ds_cli_labels, N_("Export, import and summarise a hand-classification store") },
  { "detect", ds_cli_detect, N_("Detect and measure sources on a difference image") },
  { "recovery", ds_cli_recovery, N_("Inject fakes, rerun, and measure recall and SNR½") },
};

static void
cli_print_help (FILE *out)
{
  fprintf (out, _("Usage: diffscope-cli COMMAND [OPTIONS…]\n\n"
                  "Difference image analysis without a display.\n\nCommands:\n"));
  for (size_t i = 0; i < G_N_ELEMENTS (cli_commands); i++)
    fprintf (out, "  %-10s %s\n", cli_commands[i].name, _(cli_commands[i].summary));
  fprintf (out, _("\nRun “diffscope-cli COMMAND --help” for the options of a command.\n"));
}

int
main (int argc, char **argv)
{
  if (!ds_startup ("diffscope-cli"))
    return 1;

  if (argc < 2 || strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0
      || strcmp (argv[1], "help") == 0)
    {
      cli_print_help (stdout);
      return argc < 2 ? 2 : 0;
    }
  if (strcmp (argv[1], "--version") == 0)
    {
      printf ("diffscope-cli %s\n", DIFFSCOPE_VERSION);
      return 0;
    }
  for (size_t i = 0; i < G_N_ELEMENTS (cli_commands); i++)
    if (strcmp (argv[1], cli_commands[i].name) == 0)
      return cli_commands[i].run (argc - 1, argv + 1);

  fprintf (stderr, _("diffscope-cli: unknown command “%s” (try --help)\n"), argv[1]);
  return 2;
}
