/* ds-cli.h — subcommands of diffscope-cli and the helpers they share.
 *
 * Each subcommand lives in its own file app/ds-cli-<name>.c and has the signature
 * int ds_cli_<name> (int argc, char **argv), where argv[0] is the subcommand name.  It returns
 * the process exit status: 0 on success, 1 on a runtime error (after printing exactly one
 * "diffscope-cli: <message>" line on stderr via ds_cli_fail), 2 on a usage error.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

int ds_cli_info (int argc, char **argv);
int ds_cli_simulate (int argc, char **argv);
int ds_cli_subtract (int argc, char **argv);
int ds_cli_detect (int argc, char **argv);
int ds_cli_recovery (int argc, char **argv);
int ds_cli_bench (int argc, char **argv);
int ds_cli_labels (int argc, char **argv);

/* Prints "diffscope-cli: <error->message>" on stderr and returns 1.  Consumes nothing. */
int ds_cli_fail (const GError *error);

/* Prints "diffscope-cli: <formatted message>" and returns 1. */
int ds_cli_failf (const char *format, ...) G_GNUC_PRINTF (1, 2);

/* Parses argv with entries; on failure prints the usage error and returns FALSE. */
gboolean ds_cli_parse (GOptionContext *context, int *argc, char ***argv, int *status);

/* Progress printer for a DiaMonitor: "stage: 42%" lines on stderr unless quiet. */
void ds_cli_progress (const char *stage, double fraction, gpointer user_data);

/* Peak resident set size of this process in bytes (from /proc/self/status VmHWM). */
gint64 ds_cli_peak_rss (void);

G_END_DECLS
