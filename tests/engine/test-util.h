/* test-util.h — helpers shared by the engine tests.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "dia-types.h"
#include "dia-sim.h"

/* Path of a file under the shared real data folder (DIFFSCOPE_REAL_DATA); when the folder or
 * file is missing, the test is skipped (g_test_skip) and NULL is returned.  Caller frees. */
char *test_real_path (const char *relative);

/* Path under tests/data (DIFFSCOPE_TEST_DATA).  Caller frees. */
char *test_data_path (const char *relative);

/* A fresh temporary directory, removed with its files by test_tmpdir_remove. Caller frees. */
char *test_tmpdir_new (void);
void  test_tmpdir_remove (const char *dir);

/* Calls dia_engine_init and g_test_init. */
void test_init (int *argc, char ***argv);

/* Robust σ (1.4826 MAD) of (a - b) / sqrt(v) over pixels with none of `exclude` set and finite
 * values; used by the noise-vs-variance acceptance tests. */
double test_robust_sigma_normalised (const float *a, const float *b, const float *v,
                                     const DiaMask *mask, DiaMask exclude, gint64 n);

/* 1 where no simulated source lies within a flux-dependent radius (12, 25 or 60 px) of its
 * position in either image and at least `border` px from the edges; 0 elsewhere.  A
 * width × height map (g_free) of "empty sky" for noise statistics. */
guint8 *test_sim_sky_map (const DiaSimTruth *truth, int width, int height, int border);

/* A GTest fixture holding a fresh temporary directory, removed with its files afterwards. */
typedef struct
{
  char *dir;
} TestDir;

void  test_dir_setup (TestDir *fx, gconstpointer data);
void  test_dir_teardown (TestDir *fx, gconstpointer data);
char *test_dir_path (TestDir *fx, const char *name);   /* a path inside it; caller frees */

/* Adds a Moffat star of total flux f and the given FWHM and β at (xs, ys) to model[] (w × h),
 * integrating each pixel on a 5 × 5 grid within 3 FWHM of the centre and sampling pixel centres
 * out to 10 FWHM. */
void test_add_moffat (float *model, int w, int h, double xs, double ys, double f, double fwhm,
                      double beta);
