/* ds-fakes-job.h — fake-source injection and recovery (dia_fakes_run) off the main thread,
 * and the overlay markers of its result.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "dia-fakes.h"

G_BEGIN_DECLS

/* Marker colours (0xRRGGBBAA) of the fakes layer, shared with the tests' pixel checks. */
#define DS_FAKES_FOUND_RGBA 0x00c040ffu   /* green circle: the fake was detected          */
#define DS_FAKES_LOST_RGBA  0xff2020ffu   /* red cross: the fake was not detected          */

/* Main thread.  Starts dia_fakes_run (tmpl, sci, request) on a GTask worker thread; takes
 * new references to tmpl and sci (frozen, same grid) and copies request.  Cancelling
 * cancellable stops the engine at its next check (dia_monitor_cancel) and makes the task
 * return G_IO_ERROR_CANCELLED.  callback runs on the caller's thread-default main context
 * with source_object as the GAsyncResult's source (a reference is held until then). */
void         ds_fakes_job_run_async (GObject *source_object, DiaImage *tmpl, DiaImage *sci,
                                     const DiaSubtractRequest *request,
                                     GCancellable *cancellable, GAsyncReadyCallback callback,
                                     gpointer user_data);
/* The recovery (free with dia_recovery_free), or NULL with error set (G_IO_ERROR_CANCELLED
 * when cancelled, else the engine's error). */
DiaRecovery *ds_fakes_job_run_finish (GAsyncResult *result, GError **error);

/* Overlay markers (ds_marker_array_new) for recovery: a green circle of radius `radius`
 * image px around each found fake, a red cross of the same half size on each lost one, with
 * a tooltip giving its true S/N and injected flux (and the measured flux when found). */
GArray *ds_fakes_markers_new (const DiaRecovery *recovery, double radius);

G_END_DECLS
