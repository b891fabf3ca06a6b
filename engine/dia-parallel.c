/* dia-parallel.c — a fork/join loop over index ranges on plain GThreads.
 *
 * Threads are created per call.  Creating two threads costs ~20 µs, far below the size of the
 * work units we hand out (tile rows, stamps, FFT tiles), and keeps the engine free of hidden
 * global pools.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "dia-parallel.h"
#include "dia-monitor.h"

typedef struct
{
  int n, grain;
  gint next;                    /* atomic: first index of the next chunk */
  DiaParallelBody body;
  gpointer data;
  DiaMonitor *monitor;
} ParallelJob;

typedef struct
{
  ParallelJob *job;
  int index;
} ParallelWorker;

int
dia_parallel_default_threads (void)
{
  const char *env = g_getenv ("DIFFSCOPE_THREADS");
  if (env && *env)
    {
      int n = atoi (env);
      if (n > 0)
        return MIN (n, 256);
    }
  return MAX (1, (int) g_get_num_processors ());
}

static gpointer
parallel_run_worker (gpointer user_data)
{
  ParallelWorker *w = user_data;
  ParallelJob *job = w->job;

  for (;;)
    {
      int first;
      if (dia_monitor_is_cancelled (job->monitor))
        break;
      first = g_atomic_int_add (&job->next, job->grain);
      if (first >= job->n)
        break;
      job->body (first, MIN (first + job->grain, job->n), w->index, job->data);
    }
  return NULL;
}

gboolean
dia_parallel_for (int n, int grain, int n_threads, DiaParallelBody body, gpointer data,
                  DiaMonitor *monitor, GError **error)
{
  ParallelJob job;
  ParallelWorker workers[256];
  GThread *threads[256];
  int nt, i;

  g_return_val_if_fail (body != NULL, FALSE);
  if (!dia_monitor_check (monitor, error))
    return FALSE;
  if (n <= 0)
    return TRUE;
  if (n_threads <= 0)
    n_threads = dia_parallel_default_threads ();
  n_threads = MIN (n_threads, 256);
  if (grain <= 0)
    grain = MAX (1, n / (n_threads * 8));
  nt = MIN (n_threads, (n + grain - 1) / grain);

  job.n = n;
  job.grain = grain;
  job.next = 0;
  job.body = body;
  job.data = data;
  job.monitor = monitor;

  for (i = 0; i < nt; i++)
    {
      workers[i].job = &job;
      workers[i].index = i;
    }
  for (i = 1; i < nt; i++)
    threads[i] = g_thread_new ("dia-worker", parallel_run_worker, &workers[i]);
  parallel_run_worker (&workers[0]);
  for (i = 1; i < nt; i++)
    g_thread_join (threads[i]);

  return dia_monitor_check (monitor, error);
}
