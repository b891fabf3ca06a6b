/* ds-job-runner.h — debounced, cancellable, generation-checked background jobs.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib-object.h>

#include "dia-monitor.h"

G_BEGIN_DECLS

/* The running job as the worker sees it (opaque; valid during the job function only). */
typedef struct _DsJob DsJob;

/* Runs on the runner's worker thread with the input given to ds_job_runner_submit() (transfer
 * none).  It may publish any number of outputs with ds_job_publish() (e.g. the visible region,
 * then the full frame) and should check ds_job_get_monitor() between steps.  Returns FALSE with
 * error set on failure; a cancelled job may return anything, nothing of it is delivered. */
typedef gboolean (*DsJobFunc) (DsJob *job, gpointer input, gpointer user_data, GError **error);

/* Worker thread.  Hands output (ownership passes to the runner, freed with output_free on the
 * main context) to the "published" signal, which is emitted only if this job is still the
 * newest request and was not cancelled when the message arrives on the main context. */
void        ds_job_publish (DsJob *job, gpointer output, GDestroyNotify output_free,
                            gboolean final);
/* Worker thread: the job's monitor (transfer none), cancelled when a newer request arrives. */
DiaMonitor *ds_job_get_monitor (DsJob *job);
guint64     ds_job_get_generation (DsJob *job);
/* Monotonic time (µs) at which the job's request was submitted, for latency logs. */
gint64      ds_job_get_submit_time (DsJob *job);

#define DS_TYPE_JOB_RUNNER (ds_job_runner_get_type ())
G_DECLARE_FINAL_TYPE (DsJobRunner, ds_job_runner, DS, JOB_RUNNER, GObject)

/* A runner with its own worker thread that runs func for each request that survives the
 * debounce.  Signals and callbacks are delivered on the thread-default main context of the
 * caller of this function (captured here).  debounce_ms = 0 starts jobs at the next main-loop
 * iteration. */
DsJobRunner *ds_job_runner_new (DsJobFunc func, gpointer user_data, guint debounce_ms);

/* Main context.  Replaces the pending request (its input is freed), cancels the running job
 * through its DiaMonitor, re-arms the debounce timer and returns the request's generation
 * number (strictly increasing from 1).  Takes ownership of input. */
guint64 ds_job_runner_submit (DsJobRunner *self, gpointer input, GDestroyNotify input_free);

/* As ds_job_runner_submit() with this request's own debounce (0: start at the next main-loop
 * iteration; for discrete changes such as a switch, where there is no burst to wait for). */
guint64 ds_job_runner_submit_with_delay (DsJobRunner *self, gpointer input,
                                         GDestroyNotify input_free, guint delay_ms);

/* Main context.  Cancels the running job and drops the pending one: nothing published after
 * this call is delivered.  Advances the generation. */
void ds_job_runner_cancel (DsJobRunner *self);

/* TRUE while a request is pending or a job is running (the "busy" property). */
gboolean ds_job_runner_get_busy (DsJobRunner *self);
/* Generation of the newest request (0 before the first). */
guint64  ds_job_runner_get_generation (DsJobRunner *self);

/* Signals (main context):
 *   "published" (guint64 generation, gpointer output, gboolean final): output is transfer
 *               none and valid during the emission; take your own reference.
 *   "failed"    (guint64 generation, GError *error): the newest job failed.
 *   "progress"  (guint64 generation, const char *stage, double fraction): newest job only. */

G_END_DECLS
