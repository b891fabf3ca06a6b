/* dia-flavor.c — the flavour registry generated from dia-flavors.def.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "dia-flavor.h"

#include <string.h>

#define DIA_FLAVOR(id, name, symbol) extern const DiaFlavorClass symbol;
#include "dia-flavors.def"
#undef DIA_FLAVOR

static const DiaFlavorClass *const flavor_registry[] = {
#define DIA_FLAVOR(id, name, symbol) &symbol,
#include "dia-flavors.def"
#undef DIA_FLAVOR
};

G_STATIC_ASSERT (G_N_ELEMENTS (flavor_registry) == DIA_N_FLAVORS);

const DiaFlavorClass *
dia_flavor_get (DiaFlavorId id)
{
  g_return_val_if_fail (id >= 0 && id < DIA_N_FLAVORS, NULL);
  return flavor_registry[id];
}

const DiaFlavorClass *
dia_flavor_lookup (const char *name)
{
  for (int i = 0; i < DIA_N_FLAVORS; i++)
    if (name && strcmp (flavor_registry[i]->name, name) == 0)
      return flavor_registry[i];
  return NULL;
}

int
dia_flavor_count (void)
{
  return DIA_N_FLAVORS;
}
