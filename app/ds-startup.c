/* ds-startup.c — see ds-startup.h.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "ds-startup.h"
#include "dia-error.h"

#include <glib/gi18n.h>
#include <locale.h>
#include <stdio.h>

static const char *
startup_locale_dir (void)
{
  const char *env = g_getenv ("DIFFSCOPE_LOCALEDIR");
  g_autofree char *installed = NULL;

  if (env != NULL && *env)
    return env;
  installed = g_build_filename (DIFFSCOPE_LOCALEDIR, "fr", "LC_MESSAGES",
                                GETTEXT_PACKAGE ".mo", NULL);
#ifdef DIFFSCOPE_BUILD_LOCALEDIR
  /* Not installed: the catalogues meson compiled into the build tree. */
  if (!g_file_test (installed, G_FILE_TEST_EXISTS)
      && g_file_test (DIFFSCOPE_BUILD_LOCALEDIR, G_FILE_TEST_IS_DIR))
    return DIFFSCOPE_BUILD_LOCALEDIR;
#endif
  return DIFFSCOPE_LOCALEDIR;
}

gboolean
ds_startup (const char *program)
{
  g_autoptr (GError) error = NULL;

  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, startup_locale_dir ());
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

#ifdef DIFFSCOPE_X86_64_V3
  __builtin_cpu_init ();
  if (!__builtin_cpu_supports ("avx2") || !__builtin_cpu_supports ("fma"))
    {
      fprintf (stderr, _("%s: this build needs an x86-64-v3 processor (AVX2 and FMA); "
                         "rebuild without -Dx86_64_v3=true\n"), program);
      return FALSE;
    }
#endif
  if (!dia_engine_init (&error))
    {
      fprintf (stderr, "%s: %s\n", program, error->message);
      return FALSE;
    }
  return TRUE;
}
