/* dia-fft.c — the engine's only FFTW planner calls, and a small per-pipeline plan cache.
 *
 * FFTW's planner keeps process-wide state (wisdom, the twiddle cache) and is not thread-safe;
 * executing an existing plan is.  So plans are made here and nowhere else, each cache keeps
 * the plans it made in a short list keyed by (nx, ny, direction), and callers run them from any
 * thread with the new-array functions fftwf_execute_dft_r2c / fftwf_execute_dft_c2r on buffers
 * from fftwf_malloc (whose alignment is the one the plans were made for).
 *
 * Locking: a cache has its own mutex for its list, but two caches (two pipelines, or a
 * pipeline and a UI preview) may plan at the same time, and FFTW's planner state is shared by
 * the whole process.  The planner lock therefore has to be process-wide as well: it is the one
 * static in this file, a deliberate exception to the no-file-scope-state rule (linking
 * libfftw3f_threads and calling fftwf_make_planner_thread_safe() would be the alternative).
 * Plans are destroyed under the same lock, because fftwf_destroy_plan touches the planner too.
 *
 * All plans use FFTW_ESTIMATE: planning takes about a millisecond and never measures, so it
 * is safe on the interactive path (PERFORMANCE.md §2.2: MEASURE plans take seconds at CCD size).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "dia-fft.h"

#include <limits.h>

/* Largest transform side we plan for: far beyond any tile size the engine uses (tiles are a
 * few hundred pixels), small enough that nx * ny * sizeof (fftwf_complex) cannot overflow. */
#define FFT_MAX_SIDE (1 << 15)

G_LOCK_DEFINE_STATIC (fft_planner);

typedef struct
{
  int nx, ny;
  gboolean inverse;
  fftwf_plan plan;
} FftPlanEntry;

struct _DiaFftCache
{
  GMutex lock;                  /* protects plans */
  GArray *plans;                /* FftPlanEntry */
};

/* Returns a new, empty cache.  Free with dia_fft_cache_free(); any thread. */
DiaFftCache *
dia_fft_cache_new (void)
{
  DiaFftCache *cache = g_new0 (DiaFftCache, 1);
  g_mutex_init (&cache->lock);
  cache->plans = g_array_new (FALSE, FALSE, sizeof (FftPlanEntry));
  return cache;
}

/* Destroys the cache and every plan it made.  No plan of this cache may be executing. */
void
dia_fft_cache_free (DiaFftCache *cache)
{
  if (cache == NULL)
    return;
  G_LOCK (fft_planner);
  for (guint i = 0; i < cache->plans->len; i++)
    fftwf_destroy_plan (g_array_index (cache->plans, FftPlanEntry, i).plan);
  G_UNLOCK (fft_planner);
  g_array_free (cache->plans, TRUE);
  g_mutex_clear (&cache->lock);
  g_free (cache);
}

/* Plans one out-of-place 2-D real transform on scratch buffers of the standard alignment.
 * Called with the planner lock held. */
static fftwf_plan
fft_make_plan (int nx, int ny, gboolean inverse)
{
  size_t n_real = (size_t) nx * (size_t) ny;
  size_t n_cplx = (size_t) ny * (size_t) (nx / 2 + 1);
  float *r = fftwf_malloc (n_real * sizeof (float));
  fftwf_complex *c = fftwf_malloc (n_cplx * sizeof (fftwf_complex));
  fftwf_plan plan = NULL;

  if (r != NULL && c != NULL)
    {
      /* FFTW takes the slowest-varying dimension first: ny rows of nx columns. */
      if (inverse)
        plan = fftwf_plan_dft_c2r_2d (ny, nx, c, r, FFTW_ESTIMATE | FFTW_DESTROY_INPUT);
      else
        plan = fftwf_plan_dft_r2c_2d (ny, nx, r, c, FFTW_ESTIMATE);
    }
  fftwf_free (r);
  fftwf_free (c);
  return plan;
}

static fftwf_plan
fft_cache_lookup (DiaFftCache *cache, int nx, int ny, gboolean inverse)
{
  fftwf_plan plan = NULL;

  g_return_val_if_fail (cache != NULL, NULL);
  if (nx <= 0 || ny <= 0 || nx > FFT_MAX_SIDE || ny > FFT_MAX_SIDE)
    return NULL;

  g_mutex_lock (&cache->lock);
  for (guint i = 0; i < cache->plans->len && plan == NULL; i++)
    {
      FftPlanEntry *e = &g_array_index (cache->plans, FftPlanEntry, i);
      if (e->nx == nx && e->ny == ny && e->inverse == inverse)
        plan = e->plan;
    }
  if (plan == NULL)
    {
      G_LOCK (fft_planner);
      plan = fft_make_plan (nx, ny, inverse);
      G_UNLOCK (fft_planner);
      if (plan != NULL)
        {
          FftPlanEntry e = { nx, ny, inverse, plan };
          g_array_append_val (cache->plans, e);
        }
    }
  g_mutex_unlock (&cache->lock);
  return plan;
}

/* Forward plan: nx × ny floats (ny rows) → ny × (nx/2 + 1) complex.  Any thread; the plan
 * stays owned by the cache and lives until dia_fft_cache_free().  NULL when the size is out
 * of range (sides 1 … 32768) or memory is short. */
fftwf_plan
dia_fft_plan_r2c (DiaFftCache *cache, int nx, int ny)
{
  return fft_cache_lookup (cache, nx, ny, FALSE);
}

/* Inverse plan, unnormalised (the result is nx·ny times the input's inverse DFT), which
 * destroys its complex input.  Ownership and threads as dia_fft_plan_r2c(). */
fftwf_plan
dia_fft_plan_c2r (DiaFftCache *cache, int nx, int ny)
{
  return fft_cache_lookup (cache, nx, ny, TRUE);
}

static gboolean
fft_is_7_smooth (int n)
{
  static const int primes[] = { 2, 3, 5, 7 };
  for (guint i = 0; i < G_N_ELEMENTS (primes); i++)
    while (n % primes[i] == 0)
      n /= primes[i];
  return n == 1;
}

/* Smallest 2^a 3^b 5^c 7^d ≥ n; 1 for n ≤ 1.  7-smooth numbers are dense enough (the gap
 * near 10^6 is a few hundred) that a linear scan is cheap; near INT_MAX, where no caller
 * can use the answer, n itself is returned rather than overflowing. */
int
dia_fft_good_size (int n)
{
  if (n <= 1)
    return 1;
  for (int m = n; m < INT_MAX; m++)
    if (fft_is_7_smooth (m))
      return m;
  return n;
}
