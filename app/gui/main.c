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
#include "ds-startup.h"

#include <glib/gi18n.h>

int
main (int argc, char **argv)
{
  g_autoptr (DsApplication) app = NULL;
  int status;

  if (!ds_startup ("diffscope"))
    return 1;

  g_set_application_name (_("Diffscope"));
  app = ds_application_new ();
  status = g_application_run (G_APPLICATION (app), argc, argv);
  if (status == 0)
    status = ds_application_get_exit_status (app);
  return status;
}
