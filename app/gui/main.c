/* main.c — entry point of diffscope, the GTK application.
 *
 * Sets up the locale and gettext, checks the CPU on x86-64-v3 builds (a clear message instead
 * of SIGILL on older processors), initialises the engine and runs DsApplication.  Everything
 * else, including the command line (--screenshot, --window-size, TEMPLATE SCIENCE), is in
 * ui/ds-application.c.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "ds-application.h"
#include "dia-error.h"

#include <glib/gi18n.h>
#include <locale.h>
#include <stdio.h>

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (DsApplication) app = NULL;
  int status;

  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, DIFFSCOPE_LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

#ifdef DIFFSCOPE_X86_64_V3
  __builtin_cpu_init ();
  if (!__builtin_cpu_supports ("avx2") || !__builtin_cpu_supports ("fma"))
    {
      fprintf (stderr, _("diffscope: this build needs an x86-64-v3 processor (AVX2 and FMA); "
                         "rebuild without -Dx86_64_v3=true\n"));
      return 1;
    }
#endif
  if (!dia_engine_init (&error))
    {
      fprintf (stderr, "diffscope: %s\n", error->message);
      return 1;
    }

  g_set_application_name (_("Diffscope"));
  app = ds_application_new ();
  status = g_application_run (G_APPLICATION (app), argc, argv);
  if (status == 0)
    status = ds_application_get_exit_status (app);
  return status;
}
