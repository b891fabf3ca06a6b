/* test-util.c — see test-util.h.  SPDX-License-Identifier: GPL-3.0-or-later */
#include "test-util.h"
#include "dia-error.h"
#include "dia-stats.h"

#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

char *
test_real_path (const char *relative)
{
  const char *root = g_getenv ("DIFFSCOPE_REAL_DATA");
  char *path;
  if (root == NULL)
    {
      g_test_skip ("DIFFSCOPE_REAL_DATA is not set");
      return NULL;
    }
  path = g_build_filename (root, relative, NULL);
  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    {
      g_autofree char *msg = g_strdup_printf ("real data file %s is missing", path);
      g_test_skip (msg);
      g_free (path);
      return NULL;
    }
  return path;
}

char *
test_data_path (const char *relative)
{
  const char *root = g_getenv ("DIFFSCOPE_TEST_DATA");
  return g_build_filename (root ? root : "tests/data", relative, NULL);
}

char *
test_tmpdir_new (void)
{
  g_autoptr (GError) error = NULL;
  char *dir = g_dir_make_tmp ("diffscope-test-XXXXXX", &error);
  g_assert_no_error (error);
  return dir;
}

void
test_tmpdir_remove (const char *dir)
{
  GDir *d = g_dir_open (dir, 0, NULL);
  const char *name;
  if (d == NULL)
    return;
  while ((name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *p = g_build_filename (dir, name, NULL);
      g_remove (p);
    }
  g_dir_close (d);
  g_rmdir (dir);
}

void
test_init (int *argc, char ***argv)
{
  g_autoptr (GError) error = NULL;
  g_test_init (argc, argv, NULL);
  g_assert_true (dia_engine_init (&error));
}

double
test_robust_sigma_normalised (const float *a, const float *b, const float *v,
                              const DiaMask *mask, DiaMask exclude, gint64 n)
{
  float *r = g_new (float, n);
  gint64 m = 0;
  DiaStats st;
  for (gint64 i = 0; i < n; i++)
    {
      if (mask && (mask[i] & exclude))
        continue;
      if (!isfinite (a[i]) || (b && !isfinite (b[i])) || !(v[i] > 0) || !isfinite (v[i]))
        continue;
      r[m++] = (float) ((a[i] - (b ? b[i] : 0.0f)) / sqrt (v[i]));
    }
  g_assert_true (dia_stats_compute (r, m, &st, NULL));
  g_free (r);
  return st.robust_sigma;
}

guint8 *
test_sim_sky_map (const DiaSimTruth *truth, int width, int height, int border)
{
  int w = width, h = height;
  guint8 *ok = g_malloc ((size_t) w * h);
  memset (ok, 1, (size_t) w * h);
  for (guint i = 0; i < truth->sources->len; i++)
    {
      const DiaSimSource *s = &g_array_index (truth->sources, DiaSimSource, i);
      double f = MAX (s->flux_science, s->flux_template);
      int rad = f > 1e6 ? 60 : f > 1e5 ? 25 : 12;
      for (int k = 0; k < 2; k++)
        {
          int cx = (int) lround (k ? s->x2 : s->x), cy = (int) lround (k ? s->y2 : s->y);
          for (int y = MAX (0, cy - rad); y <= MIN (h - 1, cy + rad); y++)
            for (int x = MAX (0, cx - rad); x <= MIN (w - 1, cx + rad); x++)
              ok[(size_t) y * w + x] = 0;
        }
    }
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      if (x < border || y < border || x >= w - border || y >= h - border)
        ok[(size_t) y * w + x] = 0;
  return ok;
}

void
test_dir_setup (TestDir *fx, gconstpointer data)
{
  fx->dir = test_tmpdir_new ();
}

void
test_dir_teardown (TestDir *fx, gconstpointer data)
{
  test_tmpdir_remove (fx->dir);
  g_free (fx->dir);
}

char *
test_dir_path (TestDir *fx, const char *name)
{
  return g_build_filename (fx->dir, name, NULL);
}

void
test_add_moffat (float *model, int w, int h, double xs, double ys, double f, double fwhm,
                 double beta)
{
  double alpha = fwhm / (2.0 * sqrt (pow (2.0, 1.0 / beta) - 1.0));
  double norm = f * (beta - 1.0) / (G_PI * alpha * alpha);
  int r = (int) ceil (10.0 * fwhm);
  for (int y = MAX (0, (int) ys - r); y <= MIN (h - 1, (int) ys + r); y++)
    for (int x = MAX (0, (int) xs - r); x <= MIN (w - 1, (int) xs + r); x++)
      {
        double dx = x - xs, dy = y - ys, v = 0.0;
        if (dx * dx + dy * dy < 9.0 * fwhm * fwhm)
          {
            for (int j = 0; j < 5; j++)
              for (int i = 0; i < 5; i++)
                {
                  double ux = dx + (i - 2) / 5.0, uy = dy + (j - 2) / 5.0;
                  v += pow (1.0 + (ux * ux + uy * uy) / (alpha * alpha), -beta);
                }
            v /= 25.0;
          }
        else
          v = pow (1.0 + (dx * dx + dy * dy) / (alpha * alpha), -beta);
        model[(size_t) y * w + x] += (float) (norm * v);
      }
}
