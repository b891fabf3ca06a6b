/* dia-fft.h — FFTW plans and buffers.
 *
 * Plans are created only here, behind one mutex (the FFTW planner is not thread-safe), cached by
 * shape, and executed with the new-array functions (fftwf_execute_dft_r2c/c2r) from any thread.
 * Buffers come from fftwf_malloc.  Interactive paths use FFTW_ESTIMATE.  The cache belongs to a
 * DiaFftCache object; the engine creates one per pipeline (no globals).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "dia-types.h"
#include <fftw3.h>

G_BEGIN_DECLS

typedef struct _DiaFftCache DiaFftCache;

DiaFftCache *dia_fft_cache_new (void);
void         dia_fft_cache_free (DiaFftCache *cache);

/* Plans for a real nx × ny (ny rows) transform, out-of-place, for buffers aligned as
 * fftwf_malloc aligns them.  The plan stays owned by the cache. */
fftwf_plan dia_fft_plan_r2c (DiaFftCache *cache, int nx, int ny);
fftwf_plan dia_fft_plan_c2r (DiaFftCache *cache, int nx, int ny);

/* Smallest size ≥ n of the form 2^a 3^b 5^c 7^d. */
int dia_fft_good_size (int n);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DiaFftCache, dia_fft_cache_free)

G_END_DECLS
