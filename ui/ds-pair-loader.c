/* ds-pair-loader.c — loads a template/science pair (or makes the demo field) off the main
 * thread.
 *
 * Design.  File reading and simulation take from a fraction of a second to several seconds,
 * so they never run on the main loop.  The loader owns a private GThreadPool with one
 * thread: a GTask is pushed to the pool, the worker runs the engine call and returns the
 * result through the task, which GIO delivers on the main context of the caller.  One thread
 * is enough (loads are rare and the engine parallelises inside), and it keeps loads in order.
 *
 * Cancellation: a GCancellable is bridged to a DiaMonitor, so closing the window stops a
 * running simulation at its next check; the task then returns G_IO_ERROR_CANCELLED.  The
 * engine's errors already name the file and suggest a fix; the loader adds which of the two
 * images failed.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "ds-pair-loader.h"

#include "dia-fits.h"
#include "dia-monitor.h"
#include "dia-sim.h"

#include <glib/gi18n.h>

struct _DsPairLoader
{
  GObject parent_instance;
  GThreadPool *pool;
};

G_DEFINE_FINAL_TYPE (DsPairLoader, ds_pair_loader, G_TYPE_OBJECT)

typedef struct
{
  char *template_path;          /* both NULL: the demo field */
  char *science_path;
} LoadRequest;

static void
load_request_free (LoadRequest *request)
{
  g_free (request->template_path);
  g_free (request->science_path);
  g_free (request);
}

void
ds_pair_free (DsPair *pair)
{
  if (pair == NULL)
    return;
  g_clear_pointer (&pair->template_image, dia_image_unref);
  g_clear_pointer (&pair->science_image, dia_image_unref);
  g_free (pair->description);
  g_free (pair);
}

static void
on_cancelled (GCancellable *cancellable, DiaMonitor *monitor)
{
  dia_monitor_cancel (monitor);
}

static DsPair *
load_demo (GCancellable *cancellable, GError **error)
{
  g_autoptr (DiaMonitor) monitor = dia_monitor_new ();
  g_autoptr (DsPair) pair = g_new0 (DsPair, 1);
  DiaSimParams params;
  gulong handler = 0;
  gboolean ok;

  if (cancellable != NULL)
    handler = g_cancellable_connect (cancellable, G_CALLBACK (on_cancelled),
                                     dia_monitor_ref (monitor),
                                     (GDestroyNotify) dia_monitor_unref);
  dia_sim_params_init (&params, DS_DEMO_SIZE, DS_DEMO_SIZE, DS_DEMO_SEED);
  ok = dia_sim_generate (&params, &pair->template_image, &pair->science_image, NULL, monitor,
                         error);
  if (cancellable != NULL)
    g_cancellable_disconnect (cancellable, handler);
  if (!ok)
    {
      g_prefix_error (error, _("Could not generate the demo field: "));
      return NULL;
    }
  pair->description = g_strdup_printf (_("Demo field (simulated, %d × %d, seed %d)"),
                                       DS_DEMO_SIZE, DS_DEMO_SIZE, DS_DEMO_SEED);
  return g_steal_pointer (&pair);
}

static DsPair *
load_files (const LoadRequest *request, GError **error)
{
  g_autoptr (DsPair) pair = g_new0 (DsPair, 1);
  g_autofree char *tname = g_path_get_basename (request->template_path);
  g_autofree char *sname = g_path_get_basename (request->science_path);

  pair->template_image = dia_fits_read_image (request->template_path, error);
  if (pair->template_image == NULL)
    {
      g_prefix_error (error, _("Could not open the template %s: "), tname);
      return NULL;
    }
  pair->science_image = dia_fits_read_image (request->science_path, error);
  if (pair->science_image == NULL)
    {
      g_prefix_error (error, _("Could not open the science image %s: "), sname);
      return NULL;
    }
  pair->description = g_strdup_printf ("%s — %s", tname, sname);
  return g_steal_pointer (&pair);
}

/* Worker thread: runs one task. */
static void
loader_thread (gpointer data, gpointer user_data)
{
  g_autoptr (GTask) task = data;
  const LoadRequest *request = g_task_get_task_data (task);
  GCancellable *cancellable = g_task_get_cancellable (task);
  GError *error = NULL;
  DsPair *pair;

  if (g_cancellable_set_error_if_cancelled (cancellable, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  if (request->template_path == NULL)
    pair = load_demo (cancellable, &error);
  else
    pair = load_files (request, &error);

  if (pair == NULL)
    {
      if (g_cancellable_is_cancelled (cancellable))
        {
          g_clear_error (&error);
          g_cancellable_set_error_if_cancelled (cancellable, &error);
        }
      g_task_return_error (task, error);
    }
  else
    g_task_return_pointer (task, pair, (GDestroyNotify) ds_pair_free);
}

static void
ds_pair_loader_finalize (GObject *object)
{
  DsPairLoader *self = DS_PAIR_LOADER (object);

  /* Queued tasks hold a reference on the loader, so the pool is idle by now. */
  g_thread_pool_free (self->pool, TRUE, TRUE);
  G_OBJECT_CLASS (ds_pair_loader_parent_class)->finalize (object);
}

static void
ds_pair_loader_class_init (DsPairLoaderClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = ds_pair_loader_finalize;
}

static void
ds_pair_loader_init (DsPairLoader *self)
{
  /* Non-exclusive pools with max 1 thread cannot fail to be created. */
  self->pool = g_thread_pool_new (loader_thread, NULL, 1, FALSE, NULL);
}

DsPairLoader *
ds_pair_loader_new (void)
{
  return g_object_new (DS_TYPE_PAIR_LOADER, NULL);
}

void
ds_pair_loader_load_async (DsPairLoader *self, const char *template_path,
                           const char *science_path, GCancellable *cancellable,
                           GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task;
  LoadRequest *request;

  g_return_if_fail (DS_IS_PAIR_LOADER (self));
  g_return_if_fail ((template_path == NULL) == (science_path == NULL));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, ds_pair_loader_load_async);
  request = g_new0 (LoadRequest, 1);
  request->template_path = g_strdup (template_path);
  request->science_path = g_strdup (science_path);
  g_task_set_task_data (task, request, (GDestroyNotify) load_request_free);
  /* The pool takes the task reference; the worker drops it after returning. */
  g_thread_pool_push (self->pool, task, NULL);
}

DsPair *
ds_pair_loader_load_finish (DsPairLoader *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}
