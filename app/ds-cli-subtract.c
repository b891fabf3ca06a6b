/* ds-cli-subtract.c — placeholder until the subcommand lands.  SPDX-License-Identifier: GPL-3.0-or-later */
#include "ds-cli.h"

int
ds_cli_subtract (int argc, char **argv)
{
  return ds_cli_failf ("the “subtract” command is not available in this build yet");
}
