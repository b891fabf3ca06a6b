/* test-job-runner.c — the live-rerun job runner without a display.
 *
 * The runner (ui/ds-job-runner.c) is driven with a fake job function on a private
 * GMainContext.  The fake doubles its integer input and publishes it; it can be held at a
 * gate (a mutex and condition) to keep a job "running" while the test submits newer requests
 * or cancels, and it deliberately IGNORES cancellation and publishes anyway, so the tests
 * check that the runner (not the job's good manners) keeps stale and cancelled output off the
 * screen.  Assertions are on exact counts and values: which inputs ran, what was delivered
 * with which generation, and that nothing else was.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "ds-job-runner.h"

#include "test-util.h"

#include <gio/gio.h>

typedef struct
{
  GMutex lock;
  GCond cond;
  gboolean gate_closed;         /* jobs with gated input wait while TRUE                   */
  int started;                  /* jobs that entered the function                          */
  int ran_values[64];           /* inputs in the order they ran                            */
  gboolean saw_cancel[64];      /* monitor cancelled when the job was about to publish     */
  /* main-context side */
  int n_published;
  int published_values[64];
  guint64 published_generations[64];
  int n_failed;
  char *failed_message;
  int n_progress;
} Fixture;

typedef struct
{
  int value;
  gboolean gated;
  gboolean fail;
} Input;

static Input *
input_new (int value, gboolean gated, gboolean fail)
{
  Input *in = g_new0 (Input, 1);

  in->value = value;
  in->gated = gated;
  in->fail = fail;
  return in;
}

static gboolean
fake_job (DsJob *job, gpointer input, gpointer user_data, GError **error)
{
  Fixture *f = user_data;
  Input *in = input;
  int slot;

  g_mutex_lock (&f->lock);
  slot = f->started++;
  g_assert_cmpint (slot, <, 64);
  f->ran_values[slot] = in->value;
  g_cond_broadcast (&f->cond);
  while (in->gated && f->gate_closed)
    g_cond_wait (&f->cond, &f->lock);
  f->saw_cancel[slot] = dia_monitor_is_cancelled (ds_job_get_monitor (job));
  g_mutex_unlock (&f->lock);

  dia_monitor_stage (ds_job_get_monitor (job), "fake", 1.0);
  if (in->fail)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "fake failure %d", in->value);
      return FALSE;
    }
  /* A preview, then the final output, like the region-then-full-frame subtraction. */
  ds_job_publish (job, GINT_TO_POINTER (-in->value), NULL, FALSE);
  ds_job_publish (job, GINT_TO_POINTER (2 * in->value), NULL, TRUE);
  return TRUE;
}

static void
on_published (DsJobRunner *runner, guint64 generation, gpointer output, gboolean final,
              Fixture *f)
{
  if (!final)
    {
      /* The preview of the same job always comes first and carries the same input. */
      g_assert_cmpint (GPOINTER_TO_INT (output), <, 0);
      return;
    }
  g_assert_cmpint (f->n_published, <, 64);
  f->published_values[f->n_published] = GPOINTER_TO_INT (output);
  f->published_generations[f->n_published] = generation;
  f->n_published++;
}

static void
on_failed (DsJobRunner *runner, guint64 generation, GError *error, Fixture *f)
{
  f->n_failed++;
  g_free (f->failed_message);
  f->failed_message = g_strdup (error->message);
}

static void
on_progress (DsJobRunner *runner, guint64 generation, const char *stage, double fraction,
             Fixture *f)
{
  g_assert_cmpstr (stage, ==, "fake");
  f->n_progress++;
}

static DsJobRunner *
fixture_runner (Fixture *f, guint debounce_ms)
{
  DsJobRunner *runner = ds_job_runner_new (fake_job, f, debounce_ms);

  g_signal_connect (runner, "published", G_CALLBACK (on_published), f);
  g_signal_connect (runner, "failed", G_CALLBACK (on_failed), f);
  g_signal_connect (runner, "progress", G_CALLBACK (on_progress), f);
  return runner;
}

static void
fixture_init (Fixture *f)
{
  memset (f, 0, sizeof *f);
  g_mutex_init (&f->lock);
  g_cond_init (&f->cond);
}

static void
fixture_clear (Fixture *f)
{
  g_mutex_clear (&f->lock);
  g_cond_clear (&f->cond);
  g_free (f->failed_message);
}

/* Iterates context until the runner is idle (with a generous safety limit). */
static void
run_until_idle (GMainContext *context, DsJobRunner *runner)
{
  gint64 end = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;

  while (ds_job_runner_get_busy (runner) && g_get_monotonic_time () < end)
    g_main_context_iteration (context, TRUE);
  g_assert_false (ds_job_runner_get_busy (runner));
  /* Deliver anything still queued (messages posted just before the done message). */
  while (g_main_context_iteration (context, FALSE))
    ;
}

/* Iterates context until the worker has entered n jobs. */
static void
run_until_started (GMainContext *context, Fixture *f, int n)
{
  gint64 end = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;

  for (;;)
    {
      int started;

      g_mutex_lock (&f->lock);
      started = f->started;
      g_mutex_unlock (&f->lock);
      if (started >= n || g_get_monotonic_time () > end)
        break;
      g_main_context_iteration (context, FALSE);
      g_usleep (1000);
    }
  g_assert_cmpint (f->started, >=, n);
}

static void
open_gate (Fixture *f)
{
  g_mutex_lock (&f->lock);
  f->gate_closed = FALSE;
  g_cond_broadcast (&f->cond);
  g_mutex_unlock (&f->lock);
}

/* A burst of requests within the debounce interval runs once, with the newest input. */
static void
test_coalescing (void)
{
  g_autoptr (GMainContext) context = g_main_context_new ();
  Fixture f;
  DsJobRunner *runner;
  guint64 last = 0;

  fixture_init (&f);
  g_main_context_push_thread_default (context);
  runner = fixture_runner (&f, 40);
  for (int i = 1; i <= 10; i++)
    last = ds_job_runner_submit (runner, input_new (i, FALSE, FALSE), g_free);
  g_assert_cmpuint (last, ==, 10);
  g_assert_true (ds_job_runner_get_busy (runner));
  run_until_idle (context, runner);

  g_assert_cmpint (f.started, ==, 1);
  g_assert_cmpint (f.ran_values[0], ==, 10);
  g_assert_cmpint (f.n_published, ==, 1);
  g_assert_cmpint (f.published_values[0], ==, 20);
  g_assert_cmpuint (f.published_generations[0], ==, 10);
  g_assert_cmpint (f.n_failed, ==, 0);
  g_assert_cmpint (f.n_progress, >=, 1);

  /* A later request runs again and is delivered with its own generation. */
  ds_job_runner_submit (runner, input_new (7, FALSE, FALSE), g_free);
  run_until_idle (context, runner);
  g_assert_cmpint (f.started, ==, 2);
  g_assert_cmpint (f.n_published, ==, 2);
  g_assert_cmpint (f.published_values[1], ==, 14);
  g_assert_cmpuint (f.published_generations[1], ==, 11);

  g_object_unref (runner);
  while (g_main_context_iteration (context, FALSE))
    ;
  g_main_context_pop_thread_default (context);
  fixture_clear (&f);
}

/* A job overtaken while running is cancelled, finishes anyway, and is never delivered; the
 * newer request then runs and is. */
static void
test_staleness (void)
{
  g_autoptr (GMainContext) context = g_main_context_new ();
  Fixture f;
  DsJobRunner *runner;

  fixture_init (&f);
  f.gate_closed = TRUE;
  g_main_context_push_thread_default (context);
  runner = fixture_runner (&f, 5);
  ds_job_runner_submit (runner, input_new (1, TRUE, FALSE), g_free);
  run_until_started (context, &f, 1);
  /* Job 1 is inside the function; two newer requests, of which only the last may run. */
  ds_job_runner_submit (runner, input_new (2, FALSE, FALSE), g_free);
  ds_job_runner_submit (runner, input_new (3, FALSE, FALSE), g_free);
  /* Let the debounce timer expire while job 1 still holds the worker. */
  for (int i = 0; i < 30; i++)
    {
      g_main_context_iteration (context, FALSE);
      g_usleep (1000);
    }
  g_assert_cmpint (f.started, ==, 1);
  open_gate (&f);
  run_until_idle (context, runner);

  g_assert_cmpint (f.started, ==, 2);
  g_assert_cmpint (f.ran_values[0], ==, 1);
  g_assert_cmpint (f.ran_values[1], ==, 3);
  g_assert_true (f.saw_cancel[0]);      /* the engine would have stopped at its next check */
  g_assert_false (f.saw_cancel[1]);
  g_assert_cmpint (f.n_published, ==, 1);
  g_assert_cmpint (f.published_values[0], ==, 6);
  g_assert_cmpuint (f.published_generations[0], ==, 3);

  g_object_unref (runner);
  while (g_main_context_iteration (context, FALSE))
    ;
  g_main_context_pop_thread_default (context);
  fixture_clear (&f);
}

/* A cancelled run never publishes, even though the fake job publishes after the cancel. */
static void
test_cancel_never_publishes (void)
{
  g_autoptr (GMainContext) context = g_main_context_new ();
  Fixture f;
  DsJobRunner *runner;

  fixture_init (&f);
  f.gate_closed = TRUE;
  g_main_context_push_thread_default (context);
  runner = fixture_runner (&f, 0);
  ds_job_runner_submit (runner, input_new (5, TRUE, FALSE), g_free);
  run_until_started (context, &f, 1);
  ds_job_runner_cancel (runner);
  open_gate (&f);
  run_until_idle (context, runner);

  g_assert_cmpint (f.started, ==, 1);
  g_assert_true (f.saw_cancel[0]);
  g_assert_cmpint (f.n_published, ==, 0);
  g_assert_cmpint (f.n_failed, ==, 0);

  /* A request that is cancelled before its debounce expires never runs at all. */
  ds_job_runner_submit (runner, input_new (6, FALSE, FALSE), g_free);
  ds_job_runner_cancel (runner);
  run_until_idle (context, runner);
  g_assert_cmpint (f.started, ==, 1);
  g_assert_cmpint (f.n_published, ==, 0);

  g_object_unref (runner);
  while (g_main_context_iteration (context, FALSE))
    ;
  g_main_context_pop_thread_default (context);
  fixture_clear (&f);
}

/* A failure of the newest job is reported once, with the job's own message. */
static void
test_failure (void)
{
  g_autoptr (GMainContext) context = g_main_context_new ();
  Fixture f;
  DsJobRunner *runner;

  fixture_init (&f);
  g_main_context_push_thread_default (context);
  runner = fixture_runner (&f, 0);
  ds_job_runner_submit (runner, input_new (4, FALSE, FALSE), g_free);
  run_until_idle (context, runner);
  ds_job_runner_submit (runner, input_new (9, FALSE, TRUE), g_free);
  run_until_idle (context, runner);

  g_assert_cmpint (f.n_published, ==, 1);
  g_assert_cmpint (f.published_values[0], ==, 8);
  g_assert_cmpint (f.n_failed, ==, 1);
  g_assert_cmpstr (f.failed_message, ==, "fake failure 9");

  g_object_unref (runner);
  while (g_main_context_iteration (context, FALSE))
    ;
  g_main_context_pop_thread_default (context);
  fixture_clear (&f);
}

/* Object data is released in finalize (weak references already fire at dispose). */
static void
on_finalized (gpointer data)
{
  *(gboolean *) data = TRUE;
}

/* Dropping the runner while a job runs returns at once; the runner lives until the worker is
 * done, is then finalised on its context, and the orphaned job's output is never delivered. */
static void
test_dispose_while_running (void)
{
  g_autoptr (GMainContext) context = g_main_context_new ();
  Fixture f;
  DsJobRunner *runner;
  gboolean finalized = FALSE;
  gint64 end;

  fixture_init (&f);
  f.gate_closed = TRUE;
  g_main_context_push_thread_default (context);
  runner = fixture_runner (&f, 0);
  g_object_set_data_full (G_OBJECT (runner), "ds-test-finalized", &finalized, on_finalized);
  ds_job_runner_submit (runner, input_new (8, TRUE, FALSE), g_free);
  run_until_started (context, &f, 1);
  g_object_run_dispose (G_OBJECT (runner));
  g_object_unref (runner);
  g_assert_false (finalized);
  open_gate (&f);
  end = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;
  while (!finalized && g_get_monotonic_time () < end)
    g_main_context_iteration (context, TRUE);
  g_assert_true (finalized);
  g_assert_true (f.saw_cancel[0]);
  g_assert_cmpint (f.n_published, ==, 0);
  while (g_main_context_iteration (context, FALSE))
    ;
  g_main_context_pop_thread_default (context);
  fixture_clear (&f);
}

int
main (int argc, char **argv)
{
  test_init (&argc, &argv);
  g_test_add_func ("/job-runner/coalescing", test_coalescing);
  g_test_add_func ("/job-runner/staleness", test_staleness);
  g_test_add_func ("/job-runner/cancel-never-publishes", test_cancel_never_publishes);
  g_test_add_func ("/job-runner/failure", test_failure);
  g_test_add_func ("/job-runner/dispose-while-running", test_dispose_while_running);
  return g_test_run ();
}
