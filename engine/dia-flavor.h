/* dia-flavor.h — subtraction flavours as solvers in a table.
 *
 * Each flavour is one file engine/dia-flavor-<name>.c that exports a DiaFlavorClass and one line
 * in engine/dia-flavors.def.  The pipeline (dia-subtract.c) is flavour-agnostic: it measures
 * backgrounds and PSFs, then hands the plan to the flavour's `prepare` hook (which decides which
 * image is convolved and fits what it needs) and, for each region, to its `apply` hook.
 * Adding a flavour never touches another flavour's file.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "dia-types.h"

G_BEGIN_DECLS

typedef struct _DiaSubtractPlan DiaSubtractPlan;
typedef struct _DiaSubtractResult DiaSubtractResult;

typedef enum
{
#define DIA_FLAVOR(id, name, symbol) DIA_FLAVOR_##id,
#include "dia-flavors.def"
#undef DIA_FLAVOR
  DIA_N_FLAVORS
} DiaFlavorId;

typedef enum
{
  DIA_FLAVOR_CAP_KERNEL     = 1 << 0, /* fits an Alard–Lupton kernel                       */
  DIA_FLAVOR_CAP_SCORE      = 1 << 1, /* produces a score (matched-filter) image            */
  DIA_FLAVOR_CAP_DECORRELATE = 1 << 2, /* supports the decorrelation afterburner            */
  DIA_FLAVOR_CAP_DISPATCH   = 1 << 3, /* chooses another flavour at prepare time (auto)    */
} DiaFlavorCaps;

typedef struct
{
  DiaFlavorId id;
  const char *name;             /* command-line and session name: "template", "auto", …   */
  const char *label;            /* translatable, for the UI                               */
  const char *description;      /* translatable, one sentence                             */
  guint caps;                   /* DiaFlavorCaps                                          */
  /* Decides the roles and fits what the flavour needs; runs once per plan.  May replace
   * plan->flavor with the class it dispatches to (auto). */
  gboolean (*prepare) (DiaSubtractPlan *plan, DiaMonitor *monitor, GError **error);
  /* Computes the difference (and any score image) over region into result. */
  gboolean (*apply) (const DiaSubtractPlan *plan, const DiaRect *region,
                     DiaSubtractResult *result, DiaMonitor *monitor, GError **error);
  /* Input rectangle needed to compute `region` (kernel half-width, FFT padding). */
  DiaRect (*input_region) (const DiaSubtractPlan *plan, const DiaRect *region);
} DiaFlavorClass;

/* The registry, in .def order. */
const DiaFlavorClass *dia_flavor_get (DiaFlavorId id);
const DiaFlavorClass *dia_flavor_lookup (const char *name);   /* NULL if unknown */
int                   dia_flavor_count (void);

G_END_DECLS
