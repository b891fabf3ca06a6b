/* ds-cli-labels.c — placeholder until the subcommand lands.  SPDX-License-Identifier: GPL-3.0-or-later */
#include "ds-cli.h"

int
ds_cli_labels (int argc, char **argv)
{
  return ds_cli_failf ("the “labels” command is not available in this build yet");
}
