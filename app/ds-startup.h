/* ds-startup.h — what both executables do before anything else: locale and translations,
 * the CPU check of x86-64-v3 builds, engine initialisation.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Sets the locale and binds the translation domain (DIFFSCOPE_LOCALEDIR from the environment,
 * else the installed locale folder, else the build tree's po/ folder so an uninstalled build
 * is translated too), checks the CPU, initialises the engine.  On failure prints
 * "PROGRAM: message" on stderr and returns FALSE. */
gboolean ds_startup (const char *program);

G_END_DECLS
