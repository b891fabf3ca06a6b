/* dia-detect-private.h — what dia-detect.c and dia-footprints.c share inside the engine.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "dia-detect.h"

G_BEGIN_DECLS

/* Fills cat (whose params, width and height are set) with the footprints, peaks and sources of
 * the S/N image nu (width × height, already rescaled), grown by grow_radius px. */
gboolean _dia_detect_build_footprints (DiaCatalog *cat, const float *nu, double grow_radius,
                                       int n_threads, DiaMonitor *monitor, GError **error);

G_END_DECLS
