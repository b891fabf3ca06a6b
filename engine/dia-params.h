/* dia-params.h — the parameter table (dia-params-table.h) and what is generated from it: defaults,
 * validation, parsing, printing, stage hashes and key-file I/O of DiaSubtractRequest.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "dia-subtract.h"

G_BEGIN_DECLS

typedef enum
{
  DIA_PARAM_INT,
  DIA_PARAM_DOUBLE,
  DIA_PARAM_BOOL,
  DIA_PARAM_FLAVOR,
  DIA_PARAM_DLIST,
  DIA_PARAM_ILIST,
} DiaParamType;

typedef enum
{
  DIA_STAGE_BACKGROUND,
  DIA_STAGE_PSF,
  DIA_STAGE_STAMPS,
  DIA_STAGE_KERNEL,
  DIA_STAGE_APPLY,
  DIA_STAGE_DETECT,             /* detection, measurement and fakes on D  */
  DIA_STAGE_NONE,               /* no effect on results (threads)          */
} DiaStage;

typedef struct
{
  const char *key;
  DiaParamType type;
  size_t offset;                /* into DiaSubtractRequest                  */
  double min, max;
  const char *default_value;
  const char *label;            /* untranslated; use g_dgettext/_() to show */
  const char *unit;
  DiaStage stage;
} DiaParamInfo;

/* The table, in .def order. */
const DiaParamInfo *dia_params_table (int *n_params);
const DiaParamInfo *dia_params_lookup (const char *key);

/* Sets one parameter from its text form; checks the range.  FALSE with DIA_ERROR_INVALID and a
 * message naming the key, the value and the range. */
gboolean dia_params_set (DiaSubtractRequest *request, const char *key, const char *value,
                         GError **error);

/* Text form of one parameter (caller frees), NULL for an unknown key. */
char *dia_params_dup_value (const DiaSubtractRequest *request, const char *key);

/* Hash of every parameter whose stage is ≤ stage: equal hashes mean the cached output of that
 * stage can be reused. */
guint64 dia_params_hash (const DiaSubtractRequest *request, DiaStage stage);

/* Writes every parameter into group of key_file; reads them back (missing keys keep their
 * current values; a version newer than ours is an error). */
void     dia_params_save (const DiaSubtractRequest *request, GKeyFile *key_file,
                          const char *group);
gboolean dia_params_load (DiaSubtractRequest *request, GKeyFile *key_file, const char *group,
                          GError **error);

G_END_DECLS
