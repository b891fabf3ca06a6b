/* dia-monitor.h — progress reporting and cancellation for long engine calls.
 *
 * A DiaMonitor is an opaque, thread-safe token.  The caller creates one, may install a
 * progress callback, and may cancel it from any thread.  Engine code calls dia_monitor_check()
 * between units of work (per tile row, per stamp, per iteration): it is one atomic load, and
 * when the monitor is cancelled it sets DIA_ERROR_CANCELLED and returns FALSE.  Every fallible
 * engine entry point accepts a NULL monitor.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "dia-types.h"

G_BEGIN_DECLS

/* Called with the stage name (static string) and a fraction in [0,1] of that stage.  Runs on
 * whichever engine thread reports; rate-limited to about 10 calls a second per monitor, except
 * that fraction 0 and 1 of each stage are always delivered. */
typedef void (*DiaProgressFunc) (const char *stage, double fraction, gpointer user_data);

DiaMonitor *dia_monitor_new (void);
DiaMonitor *dia_monitor_ref (DiaMonitor *monitor);
void        dia_monitor_unref (DiaMonitor *monitor);

/* Installs the progress callback; call before handing the monitor to the engine. */
void dia_monitor_set_progress_func (DiaMonitor *monitor, DiaProgressFunc func,
                                    gpointer user_data);

/* Any thread.  Idempotent. */
void     dia_monitor_cancel (DiaMonitor *monitor);
gboolean dia_monitor_is_cancelled (const DiaMonitor *monitor);

/* FALSE (with DIA_ERROR_CANCELLED) once cancelled.  NULL monitor: always TRUE. */
gboolean dia_monitor_check (const DiaMonitor *monitor, GError **error);

/* Reports progress of the named stage.  NULL monitor: no-op. */
void dia_monitor_stage (DiaMonitor *monitor, const char *stage, double fraction);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DiaMonitor, dia_monitor_unref)

G_END_DECLS
