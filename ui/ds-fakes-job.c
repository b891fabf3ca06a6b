/* ds-fakes-job.c — fake-source injection and recovery off the main thread.
 *
 * Design.  dia_fakes_run() subtracts the pair twice (baseline and with fakes) and detects
 * on both, so it takes seconds: it runs in a GTask on GIO's worker pool.  Cancellation is
 * bridged from the GCancellable to a DiaMonitor (g_cancellable_connect), which the engine
 * polls between chunks of work, so a cancelled run stops within one chunk and its thread is
 * released quickly; the task then returns G_IO_ERROR_CANCELLED (GTask's check-cancellable),
 * never a stale result.  The input images are frozen and shared by reference; the request is
 * a plain value copied into the task data, so nothing is shared mutably with the main
 * thread.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "ds-fakes-job.h"
#include "ds-image-view.h"

#include "dia-image.h"
#include "dia-monitor.h"

#include <glib/gi18n.h>

typedef struct
{
  DiaImage *template_image;     /* refs, frozen                                            */
  DiaImage *science_image;
  DiaSubtractRequest request;
} FakesInput;

static void
fakes_input_free (gpointer data)
{
  FakesInput *in = data;

  g_clear_pointer (&in->template_image, dia_image_unref);
  g_clear_pointer (&in->science_image, dia_image_unref);
  g_free (in);
}

static void
on_cancelled (GCancellable *cancellable, gpointer monitor)
{
  dia_monitor_cancel (monitor);
}

static void
fakes_thread (GTask *task, gpointer source_object, gpointer task_data,
              GCancellable *cancellable)
{
  FakesInput *in = task_data;
  g_autoptr (DiaMonitor) monitor = dia_monitor_new ();
  g_autoptr (GError) error = NULL;
  DiaRecovery *recovery;
  gulong handler = 0;

  if (cancellable != NULL)
    handler = g_cancellable_connect (cancellable, G_CALLBACK (on_cancelled),
                                     dia_monitor_ref (monitor),
                                     (GDestroyNotify) dia_monitor_unref);
  recovery = dia_fakes_run (in->template_image, in->science_image, &in->request, monitor,
                            &error);
  if (cancellable != NULL)
    g_cancellable_disconnect (cancellable, handler);
  if (recovery == NULL)
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_pointer (task, recovery, (GDestroyNotify) dia_recovery_free);
}

void
ds_fakes_job_run_async (GObject *source_object, DiaImage *tmpl, DiaImage *sci,
                        const DiaSubtractRequest *request, GCancellable *cancellable,
                        GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr (GTask) task = NULL;
  FakesInput *in;

  g_return_if_fail (tmpl != NULL && sci != NULL && request != NULL);
  in = g_new0 (FakesInput, 1);
  in->template_image = dia_image_ref (tmpl);
  in->science_image = dia_image_ref (sci);
  in->request = *request;
  task = g_task_new (source_object, cancellable, callback, user_data);
  g_task_set_source_tag (task, ds_fakes_job_run_async);
  g_task_set_name (task, "diffscope fakes");
  g_task_set_task_data (task, in, fakes_input_free);
  /* A cancelled task reports G_IO_ERROR_CANCELLED even if the engine had finished. */
  g_task_set_check_cancellable (task, TRUE);
  g_task_run_in_thread (task, fakes_thread);
}

DiaRecovery *
ds_fakes_job_run_finish (GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (G_IS_TASK (result), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == ds_fakes_job_run_async,
                        NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

GArray *
ds_fakes_markers_new (const DiaRecovery *recovery, double radius)
{
  GArray *markers = ds_marker_array_new ();

  for (guint i = 0; recovery != NULL && recovery->fakes != NULL && i < recovery->fakes->len;
       i++)
    {
      const DiaFake *f = &g_array_index (recovery->fakes, DiaFake, i);
      DsMarker m = { 0 };

      m.x = f->x;
      m.y = f->y;
      m.size = radius;
      if (f->found)
        {
          m.shape = DS_MARKER_CIRCLE;
          m.rgba = DS_FAKES_FOUND_RGBA;
          /* Translators: tooltip of a fake source that was detected: true S/N, injected flux,
           * measured PSF flux */
          m.tooltip = g_strdup_printf (_("Fake found: S/N %.1f, flux %.1f, measured %.1f ± %.1f"),
                                       f->snr, f->flux, f->psf_flux, f->psf_flux_err);
        }
      else
        {
          m.shape = DS_MARKER_CROSS;
          m.rgba = DS_FAKES_LOST_RGBA;
          /* Translators: tooltip of a fake source that was not detected: true S/N, flux */
          m.tooltip = g_strdup_printf (_("Fake lost: S/N %.1f, flux %.1f"), f->snr, f->flux);
        }
      g_array_append_val (markers, m);
    }
  return markers;
}
