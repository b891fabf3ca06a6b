/* ds-cli-common.c — error printing, option parsing and progress shared by the subcommands.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "ds-cli.h"

#include <glib/gi18n.h>
#include <stdio.h>
#include <string.h>

int
ds_cli_fail (const GError *error)
{
  fprintf (stderr, "diffscope-cli: %s\n", error ? error->message : _("unknown error"));
  return 1;
}

int
ds_cli_failf (const char *format, ...)
{
  va_list ap;
  g_autofree char *msg = NULL;
  va_start (ap, format);
  msg = g_strdup_vprintf (format, ap);
  va_end (ap);
  fprintf (stderr, "diffscope-cli: %s\n", msg);
  return 1;
}

gboolean
ds_cli_parse (GOptionContext *context, int *argc, char ***argv, int *status)
{
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (context, argc, argv, &error))
    {
      fprintf (stderr, "diffscope-cli: %s\n", error->message);
      *status = 2;
      return FALSE;
    }
  return TRUE;
}

void
ds_cli_progress (const char *stage, double fraction, gpointer user_data)
{
  fprintf (stderr, "%s: %3.0f%%\n", stage, 100.0 * fraction);
}

gint64
ds_cli_peak_rss (void)
{
  g_autofree char *text = NULL;
  const char *p;
  if (!g_file_get_contents ("/proc/self/status", &text, NULL, NULL))
    return -1;
  p = strstr (text, "VmHWM:");
  if (p == NULL)
    return -1;
  return g_ascii_strtoll (p + 6, NULL, 10) * 1024;
}
