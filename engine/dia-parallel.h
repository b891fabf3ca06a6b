/* dia-parallel.h — the engine's cancellable parallel loop (no OpenMP, see ARCHITECTURE).
 *
 * dia_parallel_for() runs body(first, last, thread_index, data) over [0, n) split into chunks
 * of `grain` items, handed out dynamically to up to n_threads threads (the calling thread is
 * one of them).  Between chunks each thread checks the monitor; after a cancellation no new
 * chunk starts and the call returns FALSE with DIA_ERROR_CANCELLED.  The body must not call
 * dia_parallel_for() itself (no nesting).  thread_index is in [0, n_threads) and is stable for
 * one thread during the call, so bodies can index per-thread workspaces with it.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "dia-types.h"

G_BEGIN_DECLS

typedef void (*DiaParallelBody) (int first, int last, int thread_index, gpointer data);

/* Number of threads to use when a caller passes 0: the number of online processors. */
int dia_parallel_default_threads (void);

/* n_threads <= 0 means dia_parallel_default_threads(); grain <= 0 picks one. */
gboolean dia_parallel_for (int n, int grain, int n_threads, DiaParallelBody body, gpointer data,
                           DiaMonitor *monitor, GError **error);

G_END_DECLS
