/* dia-monitor.c — cancellation token and rate-limited progress.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "dia-monitor.h"
#include "dia-error.h"

#include <glib/gi18n-lib.h>

struct _DiaMonitor
{
  gint ref_count;
  gint cancelled;               /* atomic flag                                  */
  DiaProgressFunc func;
  gpointer user_data;
  GMutex lock;                  /* guards last_report_us                        */
  gint64 last_report_us;        /* monotonic time of the last delivered report  */
};

DiaMonitor *
dia_monitor_new (void)
{
  DiaMonitor *m = g_new0 (DiaMonitor, 1);
  m->ref_count = 1;
  g_mutex_init (&m->lock);
  return m;
}

DiaMonitor *
dia_monitor_ref (DiaMonitor *monitor)
{
  g_return_val_if_fail (monitor != NULL, NULL);
  g_atomic_int_inc (&monitor->ref_count);
  return monitor;
}

void
dia_monitor_unref (DiaMonitor *monitor)
{
  if (monitor == NULL)
    return;
  if (g_atomic_int_dec_and_test (&monitor->ref_count))
    {
      g_mutex_clear (&monitor->lock);
      g_free (monitor);
    }
}

void
dia_monitor_set_progress_func (DiaMonitor *monitor, DiaProgressFunc func, gpointer user_data)
{
  g_return_if_fail (monitor != NULL);
  monitor->func = func;
  monitor->user_data = user_data;
}

void
dia_monitor_cancel (DiaMonitor *monitor)
{
  if (monitor)
    g_atomic_int_set (&monitor->cancelled, 1);
}

gboolean
dia_monitor_is_cancelled (const DiaMonitor *monitor)
{
  return monitor != NULL && g_atomic_int_get (&((DiaMonitor *) monitor)->cancelled) != 0;
}

gboolean
dia_monitor_check (const DiaMonitor *monitor, GError **error)
{
  if (!dia_monitor_is_cancelled (monitor))
    return TRUE;
  g_set_error_literal (error, DIA_ERROR, DIA_ERROR_CANCELLED, _("Cancelled"));
  return FALSE;
}

void
dia_monitor_stage (DiaMonitor *monitor, const char *stage, double fraction)
{
  gint64 now;
  gboolean deliver;

  if (monitor == NULL || monitor->func == NULL)
    return;
  now = g_get_monotonic_time ();
  g_mutex_lock (&monitor->lock);
  deliver = fraction <= 0.0 || fraction >= 1.0 || now - monitor->last_report_us >= 100000;
  if (deliver)
    monitor->last_report_us = now;
  g_mutex_unlock (&monitor->lock);
  if (deliver)
    monitor->func (stage, CLAMP (fraction, 0.0, 1.0), monitor->user_data);
}
