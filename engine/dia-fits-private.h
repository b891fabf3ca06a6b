/* dia-fits-private.h — helpers shared by dia-fits.c (reading) and dia-fits-write.c only.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "dia-image.h"

G_BEGIN_DECLS

/* Sets *error from a cfitsio status with "PATH: WHAT" in front; returns FALSE. */
gboolean _dia_fits_fail (GError **error, int status, const char *path, const char *what);

/* The DS_VARORIGIN card value of a variance origin ("ESTIMATED", …). */
const char *_dia_fits_variance_origin_name (DiaVarianceOrigin origin);

G_END_DECLS
