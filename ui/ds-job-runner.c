/* ds-job-runner.c — debounced, cancellable, generation-checked background jobs.
 *
 * Design (ARCHITECTURE.md §2.7, "from slider to worker and back").  The runner turns a stream
 * of requests from the user interface (every step of a spin button, every pan) into as few
 * engine runs as possible while always converging on the newest request:
 *
 *   - one pending slot: submit() replaces whatever was waiting (newest wins);
 *   - a debounce timer (~40 ms) re-armed by every submit, so a burst starts one job;
 *   - the running job is cancelled the moment a newer request arrives, through its DiaMonitor,
 *     so the CPU is freed at the engine's next check;
 *   - generation numbers: every submit increments the runner's generation, every job carries
 *     the generation it was started for, and a message from the worker is delivered only if
 *     its job is still the newest and was not cancelled.  A cancelled job may well finish
 *     (the engine checks only between units of work); its output is then dropped, never shown.
 *
 * Threads.  The runner owns a private GThreadPool of one thread (not GTask's shared pool,
 * which is rate-limited and can starve when tasks wait on each other), so jobs run one at a
 * time in order.  The worker talks to the main side only through messages queued with
 * g_main_context_invoke_full() on the context captured at construction; every message holds a
 * reference to the job, and the finished message also the reference to the runner that the
 * worker took when the job was started, so the runner outlives its last job and is always
 * finalised on its own context.  Nothing here touches widgets, so the runner is tested
 * headless (tests/ui/test-job-runner.c) with a fake job function and a private GMainContext.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "ds-job-runner.h"

#include <gio/gio.h>

struct _DsJob
{
  gint ref_count;
  guint64 generation;
  gint64 submit_time;
  gpointer input;
  GDestroyNotify input_free;
  DiaMonitor *monitor;
  DsJobRunner *runner;          /* strong while the worker runs; passed to the done message */
};

struct _DsJobRunner
{
  GObject parent_instance;

  DsJobFunc func;
  gpointer user_data;
  guint debounce_ms;
  GMainContext *context;
  GThreadPool *pool;

  guint64 generation;           /* of the newest request                                   */
  DsJob *pending;               /* waiting for the debounce timer or the worker; owned     */
  DsJob *running;               /* owned reference; NULL when the worker is free           */
  GSource *debounce;            /* attached to context, or NULL                            */
  gboolean disposed;
};

G_DEFINE_FINAL_TYPE (DsJobRunner, ds_job_runner, G_TYPE_OBJECT)

enum
{
  PROP_0,
  PROP_BUSY,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

enum
{
  SIGNAL_PUBLISHED,
  SIGNAL_FAILED,
  SIGNAL_PROGRESS,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static DsJob *
job_ref (DsJob *job)
{
  g_atomic_int_inc (&job->ref_count);
  return job;
}

static void
job_unref (DsJob *job)
{
  if (job == NULL || !g_atomic_int_dec_and_test (&job->ref_count))
    return;
  if (job->input_free != NULL && job->input != NULL)
    job->input_free (job->input);
  dia_monitor_unref (job->monitor);
  g_free (job);
}

typedef enum
{
  MSG_PUBLISH,
  MSG_PROGRESS,
  MSG_DONE,
} MsgType;

typedef struct
{
  MsgType type;
  DsJob *job;                   /* ref */
  DsJobRunner *runner;          /* MSG_DONE: the worker's runner reference                  */
  gpointer output;
  GDestroyNotify output_free;
  gboolean final;
  const char *stage;
  double fraction;
  GError *error;
} Msg;

static void
msg_free (gpointer data)
{
  Msg *msg = data;

  if (msg->output_free != NULL && msg->output != NULL)
    msg->output_free (msg->output);
  g_clear_error (&msg->error);
  job_unref (msg->job);
  /* Last: may finalise the runner (on its own context, since messages run there). */
  if (msg->runner != NULL)
    g_object_unref (msg->runner);
  g_free (msg);
}

/* Whether what job says should still reach the user. */
static gboolean
runner_job_is_current (DsJobRunner *self, DsJob *job)
{
  return !self->disposed && job->generation == self->generation
         && !dia_monitor_is_cancelled (job->monitor);
}

static void runner_start_pending (DsJobRunner *self);

static gboolean
on_message (gpointer data)
{
  Msg *msg = data;
  DsJob *job = msg->job;
  DsJobRunner *self = job->runner;

  switch (msg->type)
    {
    case MSG_PUBLISH:
      if (runner_job_is_current (self, job))
        g_signal_emit (self, signals[SIGNAL_PUBLISHED], 0, job->generation, msg->output,
                       msg->final);
      break;
    case MSG_PROGRESS:
      if (runner_job_is_current (self, job))
        g_signal_emit (self, signals[SIGNAL_PROGRESS], 0, job->generation, msg->stage,
                       msg->fraction);
      break;
    case MSG_DONE:
      if (self->running == job)
        {
          self->running = NULL;
          job_unref (job);
        }
      if (msg->error != NULL && runner_job_is_current (self, job))
        g_signal_emit (self, signals[SIGNAL_FAILED], 0, job->generation, msg->error);
      if (!self->disposed && self->pending != NULL && self->debounce == NULL)
        runner_start_pending (self);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BUSY]);
      break;
    }
  return G_SOURCE_REMOVE;
}

static void
runner_post (DsJobRunner *self, Msg *msg)
{
  g_main_context_invoke_full (self->context, G_PRIORITY_DEFAULT, on_message, msg, msg_free);
}

void
ds_job_publish (DsJob *job, gpointer output, GDestroyNotify output_free, gboolean final)
{
  Msg *msg;

  g_return_if_fail (job != NULL);
  msg = g_new0 (Msg, 1);
  msg->type = MSG_PUBLISH;
  msg->job = job_ref (job);
  msg->output = output;
  msg->output_free = output_free;
  msg->final = final;
  runner_post (job->runner, msg);
}

DiaMonitor *
ds_job_get_monitor (DsJob *job)
{
  g_return_val_if_fail (job != NULL, NULL);
  return job->monitor;
}

guint64
ds_job_get_generation (DsJob *job)
{
  g_return_val_if_fail (job != NULL, 0);
  return job->generation;
}

gint64
ds_job_get_submit_time (DsJob *job)
{
  g_return_val_if_fail (job != NULL, 0);
  return job->submit_time;
}

/* Engine threads: progress is forwarded as a message (the monitor rate-limits it). */
static void
on_job_progress (const char *stage, double fraction, gpointer user_data)
{
  DsJob *job = user_data;
  Msg *msg = g_new0 (Msg, 1);

  msg->type = MSG_PROGRESS;
  msg->job = job_ref (job);
  msg->stage = stage;
  msg->fraction = fraction;
  runner_post (job->runner, msg);
}

static void
worker_run (gpointer data, gpointer pool_data)
{
  DsJob *job = data;
  DsJobRunner *self = job->runner;
  g_autoptr (GError) error = NULL;
  Msg *msg;

  if (!dia_monitor_is_cancelled (job->monitor)
      && !self->func (job, job->input, self->user_data, &error) && error == NULL)
    g_set_error_literal (&error, G_IO_ERROR, G_IO_ERROR_FAILED, "job failed");
  msg = g_new0 (Msg, 1);
  msg->type = MSG_DONE;
  msg->job = job;               /* the pool's reference */
  msg->runner = self;           /* the reference taken in runner_start_pending */
  msg->error = g_steal_pointer (&error);
  runner_post (self, msg);
}

static void
runner_start_pending (DsJobRunner *self)
{
  DsJob *job = g_steal_pointer (&self->pending);

  if (job == NULL)
    return;
  g_object_ref (self);
  self->running = job_ref (job);
  g_thread_pool_push (self->pool, job, NULL);
}

static gboolean
on_debounce (gpointer user_data)
{
  DsJobRunner *self = user_data;

  g_clear_pointer (&self->debounce, g_source_unref);
  if (self->running == NULL)
    runner_start_pending (self);
  return G_SOURCE_REMOVE;
}

static void
runner_clear_debounce (DsJobRunner *self)
{
  if (self->debounce != NULL)
    {
      g_source_destroy (self->debounce);
      g_clear_pointer (&self->debounce, g_source_unref);
    }
}

guint64
ds_job_runner_submit (DsJobRunner *self, gpointer input, GDestroyNotify input_free)
{
  g_return_val_if_fail (DS_IS_JOB_RUNNER (self), 0);
  return ds_job_runner_submit_with_delay (self, input, input_free, self->debounce_ms);
}

guint64
ds_job_runner_submit_with_delay (DsJobRunner *self, gpointer input, GDestroyNotify input_free,
                                 guint delay_ms)
{
  DsJob *job;

  g_return_val_if_fail (DS_IS_JOB_RUNNER (self), 0);

  job = g_new0 (DsJob, 1);
  job->ref_count = 1;
  job->generation = ++self->generation;
  job->submit_time = g_get_monotonic_time ();
  job->input = input;
  job->input_free = input_free;
  job->monitor = dia_monitor_new ();
  job->runner = self;
  dia_monitor_set_progress_func (job->monitor, on_job_progress, job);

  g_clear_pointer (&self->pending, job_unref);
  self->pending = job;
  if (self->running != NULL)
    dia_monitor_cancel (self->running->monitor);

  runner_clear_debounce (self);
  self->debounce = delay_ms > 0 ? g_timeout_source_new (delay_ms) : g_idle_source_new ();
  /* Default priority, above GTK's redraw (an idle at its default priority starves while a
   * spinner keeps the frame clock busy, e.g. with the GL renderer on llvmpipe). */
  g_source_set_priority (self->debounce, G_PRIORITY_DEFAULT);
  g_source_set_callback (self->debounce, on_debounce, self, NULL);
  g_source_attach (self->debounce, self->context);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BUSY]);
  return job->generation;
}

void
ds_job_runner_cancel (DsJobRunner *self)
{
  g_return_if_fail (DS_IS_JOB_RUNNER (self));

  self->generation++;
  runner_clear_debounce (self);
  g_clear_pointer (&self->pending, job_unref);
  if (self->running != NULL)
    dia_monitor_cancel (self->running->monitor);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BUSY]);
}

gboolean
ds_job_runner_get_busy (DsJobRunner *self)
{
  g_return_val_if_fail (DS_IS_JOB_RUNNER (self), FALSE);
  return self->pending != NULL || self->running != NULL;
}

guint64
ds_job_runner_get_generation (DsJobRunner *self)
{
  g_return_val_if_fail (DS_IS_JOB_RUNNER (self), 0);
  return self->generation;
}

static void
ds_job_runner_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  switch (prop_id)
    {
    case PROP_BUSY:
      g_value_set_boolean (value, ds_job_runner_get_busy (DS_JOB_RUNNER (object)));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ds_job_runner_dispose (GObject *object)
{
  DsJobRunner *self = DS_JOB_RUNNER (object);

  /* Return at once: the running job keeps its own references and its messages are dropped. */
  if (!self->disposed)
    {
      self->disposed = TRUE;
      runner_clear_debounce (self);
      g_clear_pointer (&self->pending, job_unref);
      if (self->running != NULL)
        dia_monitor_cancel (self->running->monitor);
    }
  G_OBJECT_CLASS (ds_job_runner_parent_class)->dispose (object);
}

static void
ds_job_runner_finalize (GObject *object)
{
  DsJobRunner *self = DS_JOB_RUNNER (object);

  /* No job holds the runner any more, so the worker is idle or returning from worker_run. */
  g_thread_pool_free (self->pool, TRUE, TRUE);
  g_clear_pointer (&self->running, job_unref);
  g_main_context_unref (self->context);
  G_OBJECT_CLASS (ds_job_runner_parent_class)->finalize (object);
}

static void
ds_job_runner_class_init (DsJobRunnerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->get_property = ds_job_runner_get_property;
  object_class->dispose = ds_job_runner_dispose;
  object_class->finalize = ds_job_runner_finalize;

  properties[PROP_BUSY] =
    g_param_spec_boolean ("busy", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  signals[SIGNAL_PUBLISHED] =
    g_signal_new ("published", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 3, G_TYPE_UINT64, G_TYPE_POINTER, G_TYPE_BOOLEAN);
  signals[SIGNAL_FAILED] =
    g_signal_new ("failed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 2, G_TYPE_UINT64, G_TYPE_ERROR);
  signals[SIGNAL_PROGRESS] =
    g_signal_new ("progress", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 3, G_TYPE_UINT64, G_TYPE_STRING, G_TYPE_DOUBLE);
}

static void
ds_job_runner_init (DsJobRunner *self)
{
}

DsJobRunner *
ds_job_runner_new (DsJobFunc func, gpointer user_data, guint debounce_ms)
{
  DsJobRunner *self;

  g_return_val_if_fail (func != NULL, NULL);

  self = g_object_new (DS_TYPE_JOB_RUNNER, NULL);
  self->func = func;
  self->user_data = user_data;
  self->debounce_ms = debounce_ms;
  self->context = g_main_context_ref_thread_default ();
  /* One exclusive thread; creating it cannot fail for an exclusive pool of size 1 except on
   * thread exhaustion, which GLib treats as fatal anyway. */
  self->pool = g_thread_pool_new (worker_run, self, 1, TRUE, NULL);
  return self;
}
