/* test-gui.c — end-to-end tests of the diffscope GTK application through scripted screenshots.
 *
 * Each test runs `diffscope --screenshot=FILE.png [TEMPLATE SCIENCE]` (the path of the built
 * executable comes from DIFFSCOPE_GUI) and judges the PNG by its pixels: the screenshot is not
 * blank; there are exactly three image panes (template, science, difference; the
 * difference pane is judged in test-inspector.c), i.e. three wide runs of columns whose
 * pixels vary
 * (noise), separated by columns of flat window background; and each pane shows stars, local
 * maxima close to white that stand far above the pane's median grey.  A missing or unreadable
 * input must end the program with status 1 and a message naming the file, not a crash.
 *
 * Needs a display: run under `xvfb-run -a`; without DISPLAY or WAYLAND_DISPLAY the program
 * exits 77 (skipped).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "gui-test-util.h"

#include <glib.h>
#include <glib/gstdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

typedef struct
{
  int x0, x1;                   /* columns [x0, x1) */
  int y0, y1;                   /* rows [y0, y1)    */
} Pane;

typedef struct
{
  int width, height;
  float *lum;                   /* luma 0..255, row-major */
} Shot;

static void
shot_clear (Shot *shot)
{
  g_clear_pointer (&shot->lum, g_free);
}

static void
load_shot (const char *path, Shot *shot)
{
  GuiShot rgb = { 0 };

  gui_shot_load (path, &rgb);
  shot->width = rgb.width;
  shot->height = rgb.height;
  shot->lum = g_new (float, (size_t) shot->width * shot->height);
  for (int y = 0; y < shot->height; y++)
    for (int x = 0; x < shot->width; x++)
      {
        const guint8 *p = gui_shot_at (&rgb, x, y);
        shot->lum[(size_t) y * shot->width + x] = 0.299f * p[0] + 0.587f * p[1] + 0.114f * p[2];
      }
  gui_shot_clear (&rgb);
}

static float
lum_at (const Shot *shot, int x, int y)
{
  return shot->lum[(size_t) y * shot->width + x];
}

/* Standard deviation of luma over a column (vertical == TRUE) or a row between a and b. */
static double
line_stdev (const Shot *shot, gboolean vertical, int index, int a, int b)
{
  double s = 0, ss = 0;
  int n = b - a;

  for (int i = a; i < b; i++)
    {
      double v = vertical ? lum_at (shot, index, i) : lum_at (shot, i, index);
      s += v;
      ss += v * v;
    }
  return n > 1 ? sqrt (MAX (0.0, ss / n - (s / n) * (s / n))) : 0.0;
}

/* Wide runs of "busy" columns (varying pixels) in the middle band of rows: the image panes.
 * Buttons and labels are short or narrow; the flat pane background and window frame are not
 * busy. */
static GArray *
find_panes (const Shot *shot)
{
  GArray *panes = g_array_new (FALSE, TRUE, sizeof (Pane));
  int band0 = shot->height * 3 / 10, band1 = shot->height * 7 / 10;
  int run_start = -1;

  for (int x = 0; x <= shot->width; x++)
    {
      gboolean busy = x < shot->width && line_stdev (shot, TRUE, x, band0, band1) > 2.0;

      if (busy && run_start < 0)
        run_start = x;
      else if (!busy && run_start >= 0)
        {
          if (x - run_start >= 100)
            {
              Pane pane = { run_start, x, 0, 0 };
              /* Rows: extend from the middle while rows across the run stay busy. */
              pane.y0 = pane.y1 = shot->height / 2;
              while (pane.y0 > 0 && line_stdev (shot, FALSE, pane.y0 - 1, run_start, x) > 2.0)
                pane.y0--;
              while (pane.y1 < shot->height
                     && line_stdev (shot, FALSE, pane.y1, run_start, x) > 2.0)
                pane.y1++;
              g_array_append_val (panes, pane);
            }
          run_start = -1;
        }
    }
  return panes;
}

static int
compare_float (const void *a, const void *b)
{
  float fa = *(const float *) a, fb = *(const float *) b;
  return (fa > fb) - (fa < fb);
}

/* Local maxima (strict over the 5 × 5 neighbourhood, ties broken left/up) at least
 * `contrast` grey levels above the pane median, whose 3 × 3 mean is also 0.8 × contrast above
 * it (zscale puts the noise extremes at white, but only single pixels). */
static int
count_stars (const Shot *shot, const Pane *pane, double contrast, double *median_out)
{
  int w = pane->x1 - pane->x0, h = pane->y1 - pane->y0;
  g_autofree float *v = g_new (float, (size_t) w * h);
  size_t n = 0;
  double median;
  int stars = 0;

  for (int y = pane->y0; y < pane->y1; y++)
    for (int x = pane->x0; x < pane->x1; x++)
      v[n++] = lum_at (shot, x, y);
  qsort (v, n, sizeof (float), compare_float);
  median = v[n / 2];
  *median_out = median;

  for (int y = pane->y0 + 2; y < pane->y1 - 2; y++)
    for (int x = pane->x0 + 2; x < pane->x1 - 2; x++)
      {
        float c = lum_at (shot, x, y);
        gboolean is_max = c >= median + contrast;

        for (int dy = -2; dy <= 2 && is_max; dy++)
          for (int dx = -2; dx <= 2 && is_max; dx++)
            {
              float o = lum_at (shot, x + dx, y + dy);

              if ((dy < 0 || (dy == 0 && dx < 0)) ? o >= c : o > c)
                is_max = FALSE;
            }
        /* A star is extended: a lone noise pixel that zscale clips to white is not. */
        if (is_max)
          {
            double block = 0;

            for (int dy = -1; dy <= 1; dy++)
              for (int dx = -1; dx <= 1; dx++)
                block += lum_at (shot, x + dx, y + dy);
            is_max = block / 9.0 >= median + 0.8 * contrast;
          }
        stars += is_max;
      }
  return stars;
}

/* The common assertions on a screenshot of a loaded pair. */
static void
check_two_panes_with_stars (const char *png, int min_stars)
{
  Shot shot = { 0 };
  g_autoptr (GArray) panes = NULL;
  double whole_sd;

  load_shot (png, &shot);
  g_test_message ("screenshot %d × %d", shot.width, shot.height);

  /* Not blank: the whole picture varies. */
  whole_sd = 0;
  for (int y = 0; y < shot.height; y += 7)
    whole_sd = MAX (whole_sd, line_stdev (&shot, FALSE, y, 0, shot.width));
  g_assert_cmpfloat (whole_sd, >, 10.0);

  panes = find_panes (&shot);
  g_assert_cmpuint (panes->len, ==, 3);
  /* Stars in the template and science panes; the difference should have (almost) none. */
  for (guint i = 0; i < 2; i++)
    {
      const Pane *p = &g_array_index (panes, Pane, i);
      double median;
      int stars;

      g_test_message ("pane %u: x %d..%d, y %d..%d", i, p->x0, p->x1, p->y0, p->y1);
      /* Panes side by side, each a good part of the window. */
      g_assert_cmpint (p->x1 - p->x0, >, shot.width / 4);
      g_assert_cmpint (p->y1 - p->y0, >, shot.height / 3);
      /* Stars: peaks at least 100 grey levels above a sky that zscale keeps well below
       * white. */
      stars = count_stars (&shot, p, 100.0, &median);
      g_test_message ("pane %u: median grey %.1f, %d stars", i, median, stars);
      g_assert_cmpfloat (median, >, 5.0);
      g_assert_cmpfloat (median, <, 160.0);
      g_assert_cmpint (stars, >=, min_stars);
    }
  /* Separated by window background, left pane first. */
  g_assert_cmpint (g_array_index (panes, Pane, 0).x1, <, g_array_index (panes, Pane, 1).x0);
  g_assert_cmpint (g_array_index (panes, Pane, 1).x1, <, g_array_index (panes, Pane, 2).x0);
  shot_clear (&shot);
}

static char *
temp_png (const char *name)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("diffscope-gui-XXXXXX", &error);

  g_assert_no_error (error);
  return g_build_filename (dir, name, NULL);
}

static void
remove_png (const char *png)
{
  g_autofree char *dir = g_path_get_dirname (png);

  g_unlink (png);
  g_rmdir (dir);
}

static void
test_demo_screenshot (void)
{
  g_autofree char *png = temp_png ("demo.png");
  g_autofree char *opt = g_strdup_printf ("--screenshot=%s", png);
  g_autofree char *err = NULL;
  const char *args[] = { opt, NULL };
  int status = gui_run_diffscope (args, G_SPAWN_DEFAULT, &err);

  g_assert_true (g_spawn_check_wait_status (status, NULL));
  g_assert_true (g_file_test (png, G_FILE_TEST_EXISTS));
  /* The demo field has ~1200 stars per megapixel; at the fit zoom well over 50 show. */
  check_two_panes_with_stars (png, 50);
  remove_png (png);
}

static void
test_window_size (void)
{
  g_autofree char *png = temp_png ("small.png");
  g_autofree char *opt = g_strdup_printf ("--screenshot=%s", png);
  g_autofree char *err = NULL;
  const char *args[] = { opt, "--window-size=900x600", NULL };
  int status = gui_run_diffscope (args, G_SPAWN_DEFAULT, &err);
  Shot shot = { 0 };

  g_assert_true (g_spawn_check_wait_status (status, NULL));
  load_shot (png, &shot);
  /* The PNG is the window; client-side decorations may take a few pixels. */
  g_assert_cmpint (abs (shot.width - 900), <=, 24);
  g_assert_cmpint (abs (shot.height - 600), <=, 24);
  shot_clear (&shot);
  check_two_panes_with_stars (png, 20);
  remove_png (png);

  /* A malformed size is a usage error (status 2), not a crash. */
  {
    const char *bad[] = { "--window-size=huge", NULL };
    g_autofree char *err2 = NULL;

    status = gui_run_diffscope (bad, G_SPAWN_DEFAULT, &err2);
    g_assert_true (WIFEXITED (status));
    g_assert_cmpint (WEXITSTATUS (status), ==, 2);
    g_assert_nonnull (strstr (err2, "--window-size"));
  }
}

static void
test_real_screenshot (void)
{
  const char *root = g_getenv ("DIFFSCOPE_REAL_DATA");
  g_autofree char *t = NULL, *s = NULL;
  g_autofree char *png = NULL, *opt = NULL, *err = NULL;
  int status;

  if (root == NULL)
    {
      g_test_skip ("DIFFSCOPE_REAL_DATA is not set");
      return;
    }
  t = g_build_filename (root, "A_pairs", "decam_sfft", "DEC-OBS18a.mini.fits", NULL);
  s = g_build_filename (root, "A_pairs", "decam_sfft", "DEC-OBS04c.mini.fits", NULL);
  if (!g_file_test (t, G_FILE_TEST_EXISTS) || !g_file_test (s, G_FILE_TEST_EXISTS))
    {
      g_test_skip ("the DECam pair is not in the real data folder");
      return;
    }
  png = temp_png ("decam.png");
  opt = g_strdup_printf ("--screenshot=%s", png);
  {
    const char *args[] = { opt, t, s, NULL };
    status = gui_run_diffscope (args, G_SPAWN_DEFAULT, &err);
  }
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  /* The mini cut-outs hold a handful of bright stars each. */
  check_two_panes_with_stars (png, 3);
  remove_png (png);
}

static void
test_unreadable_file (void)
{
  g_autofree char *png = temp_png ("never.png");
  g_autofree char *opt = g_strdup_printf ("--screenshot=%s", png);
  g_autofree char *dir = g_path_get_dirname (png);
  g_autofree char *missing = g_build_filename (dir, "no-such-template.fits", NULL);
  g_autofree char *garbage = g_build_filename (dir, "garbage.fits", NULL);
  g_autofree char *err = NULL;
  int status;

  /* A file that exists but is not FITS, and one that does not exist. */
  g_assert_true (g_file_set_contents (garbage, "SIMPLE  =  this is not a FITS header", -1,
                                      NULL));
  {
    const char *args[] = { opt, missing, garbage, NULL };
    status = gui_run_diffscope (args, G_SPAWN_DEFAULT, &err);
  }
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 1);
  g_assert_nonnull (strstr (err, "no-such-template.fits"));
  g_assert_false (g_file_test (png, G_FILE_TEST_EXISTS));

  g_clear_pointer (&err, g_free);
  {
    const char *args[] = { opt, garbage, garbage, NULL };
    status = gui_run_diffscope (args, G_SPAWN_DEFAULT, &err);
  }
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 1);
  g_assert_nonnull (strstr (err, "garbage.fits"));

  /* One file only: a usage message, status 1 in screenshot mode. */
  g_clear_pointer (&err, g_free);
  {
    const char *args[] = { opt, garbage, NULL };
    status = gui_run_diffscope (args, G_SPAWN_DEFAULT, &err);
  }
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 1);

  g_unlink (garbage);
  g_rmdir (dir);
}

int
main (int argc, char **argv)
{
  if (g_getenv ("DISPLAY") == NULL && g_getenv ("WAYLAND_DISPLAY") == NULL)
    {
      g_printerr ("no display (run under xvfb-run -a): skipping\n");
      return 77;
    }
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/gui/demo-screenshot", test_demo_screenshot);
  g_test_add_func ("/gui/window-size", test_window_size);
  g_test_add_func ("/gui/real-screenshot", test_real_screenshot);
  g_test_add_func ("/gui/unreadable-file", test_unreadable_file);
  return g_test_run ();
}
