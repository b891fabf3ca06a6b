/* test-display.c — the inspector's viewing controls end to end (ds-display-controls.c).
 *
 * Each case runs `diffscope --screenshot=FILE.png --report=FILE.txt --action=…` on the demo
 * field and judges the PNG with the pane geometry of the report (as test-inspector.c):
 *   - per-pane stretch: asinh on the template pane changes the template pixels but leaves
 *     the science pane identical; with win.lock-stretch both change;
 *   - contrast/bias (win.contrast, what a right-drag sets): a lower bias brightens the
 *     template pane, a higher one darkens it, the science pane stays;
 *   - magnifier: the square reported at the pane corner shows uniform blocks of exactly
 *     zoom × zoom screen pixels (4 by default, 8 with magnifier-zoom::8); the same square
 *     without the magnifier does not;
 *   - mask overlay: pixels that change when the overlay is switched on are bright stars in
 *     the plain template (saturated stars) and turn SAT green, or magenta after
 *     mask-plane::SAT:on:#ff00ff:0.8;
 *   - lock-zoom without lock-pan: zoom stays equal across panes while a pan-to moves only
 *     one centre; lock-pan moves all centres (and the magnifier at ×8 there: 8-px blocks);
 *   - crosshair: with the crosshair lock the line appears at the same image x in every pane,
 *     without it only in the clicked one.
 *
 * Needs a display (xvfb-run -a); exits 77 without one.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "gui-test-util.h"

#include <glib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct
{
  GuiView views[3];                /* template, science, difference */
  GuiView magnifier;               /* w = 0 when not shown; zoom = its zoom                   */
  gboolean crosshair[3];
  double crosshair_x[3], crosshair_y[3];
} Report;

static void
report_parse (const char *text, Report *r)
{
  static const char *const names[] = { "template", "science", "difference" };
  g_auto (GStrv) lines = NULL;

  memset (r, 0, sizeof *r);
  lines = g_strsplit (text, "\n", -1);
  for (int i = 0; lines[i] != NULL; i++)
    {
      char name[32];
      GuiView v;
      double x, y;

      if (sscanf (lines[i], "view %31s %lf %lf %lf %lf zoom %lf center %lf %lf", name, &v.x,
                  &v.y, &v.w, &v.h, &v.zoom, &v.cx, &v.cy) == 8)
        {
          for (int k = 0; k < 3; k++)
            if (g_str_equal (name, names[k]))
              r->views[k] = v;
        }
      else if (sscanf (lines[i], "magnifier %lf %lf %lf %lf zoom %lf", &v.x, &v.y, &v.w, &v.h,
                       &v.zoom) == 5)
        r->magnifier = v;
      else if (sscanf (lines[i], "crosshair %31s %lf %lf", name, &x, &y) == 3)
        for (int k = 0; k < 3; k++)
          if (g_str_equal (name, names[k]))
            {
              r->crosshair[k] = TRUE;
              r->crosshair_x[k] = x;
              r->crosshair_y[k] = y;
            }
    }
  for (int k = 0; k < 3; k++)
    g_assert_cmpfloat (r->views[k].zoom, >, 0.0);
}

/* The screen rectangle of the image in a fitted view, 3 px inside; the top 170 px of the view
 * are left out so that a magnifier in the corner is never sampled. */
static void
view_image_rect (const GuiView *v, int *x0, int *y0, int *x1, int *y1)
{
  double ax, ay, bx, by;

  gui_view_to_screen (v, -0.5, 2 * v->cy + 0.5, &ax, &ay);
  gui_view_to_screen (v, 2 * v->cx + 0.5, -0.5, &bx, &by);
  *x0 = (int) ceil (ax) + 3;
  *y0 = MAX ((int) ceil (ay) + 3, (int) v->y + 170);
  *x1 = (int) floor (bx) - 3;
  *y1 = (int) floor (by) - 3;
}

static double
pane_mean_abs_diff (const GuiShot *a, const GuiShot *b, const GuiView *v)
{
  int x0, y0, x1, y1;
  double sum = 0;
  long n = 0;

  view_image_rect (v, &x0, &y0, &x1, &y1);
  for (int y = y0; y < y1; y++)
    for (int x = x0; x < x1; x++)
      {
        const guint8 *p = gui_shot_at (a, x, y), *q = gui_shot_at (b, x, y);

        for (int c = 0; c < 3; c++)
          sum += abs ((int) p[c] - (int) q[c]);
        n += 3;
      }
  return sum / MAX (n, 1);
}

static double
pane_mean_grey (const GuiShot *s, const GuiView *v)
{
  int x0, y0, x1, y1;
  double sum = 0;
  long n = 0;

  view_image_rect (v, &x0, &y0, &x1, &y1);
  for (int y = y0; y < y1; y++)
    for (int x = x0; x < x1; x++)
      {
        const guint8 *p = gui_shot_at (s, x, y);

        sum += (p[0] + p[1] + p[2]) / 3.0;
        n++;
      }
  return sum / MAX (n, 1);
}

/* Runs diffscope with extra arguments; asserts exit status 0; fills shot and report. */
static void
run_case (const char *const *extra, GuiShot *shot, Report *report)
{
  g_autofree char *text = gui_run_case ("ds-display-XXXXXX", extra, shot);

  report_parse (text, report);
}

/* The plain demo (no display action), shared by the cases. */
static GuiShot plain_shot;
static Report plain_report;

static void
ensure_plain (void)
{
  if (plain_shot.pixels == NULL)
    run_case (NULL, &plain_shot, &plain_report);
}

static void
test_stretch_per_pane (void)
{
  const char *const unlocked[] = { "--action=stretch-template::asinh", NULL };
  const char *const locked[] = { "--action=lock-stretch", "--action=stretch-template::asinh",
                                 NULL };
  GuiShot a, b;
  Report ra, rb;
  double dt, ds;

  ensure_plain ();
  run_case (unlocked, &a, &ra);
  dt = pane_mean_abs_diff (&plain_shot, &a, &ra.views[0]);
  ds = pane_mean_abs_diff (&plain_shot, &a, &ra.views[1]);
  g_test_message ("unlocked asinh: template changes by %.2f, science by %.2f", dt, ds);
  g_assert_cmpfloat (dt, >, 10.0);
  g_assert_cmpfloat (ds, <, 0.01);
  /* asinh lifts the faint end: the template gets brighter on average. */
  g_assert_cmpfloat (pane_mean_grey (&a, &ra.views[0]), >,
                     pane_mean_grey (&plain_shot, &ra.views[0]) + 10.0);

  run_case (locked, &b, &rb);
  dt = pane_mean_abs_diff (&plain_shot, &b, &rb.views[0]);
  ds = pane_mean_abs_diff (&plain_shot, &b, &rb.views[1]);
  g_test_message ("locked asinh: template changes by %.2f, science by %.2f", dt, ds);
  g_assert_cmpfloat (dt, >, 10.0);
  g_assert_cmpfloat (ds, >, 10.0);
  /* The locked copy makes the science pane look like the template's stretch: identical to
   * the unlocked template change in kind (brighter). */
  g_assert_cmpfloat (pane_mean_grey (&b, &rb.views[1]), >,
                     pane_mean_grey (&plain_shot, &rb.views[1]) + 10.0);
  gui_shot_clear (&a);
  gui_shot_clear (&b);
}

static void
test_contrast_bias (void)
{
  /* The science pane gets a contrast too, then reset-contrast: it must look as before. */
  const char *const brighter[] = { "--action=contrast::template:1:0.3",
                                   "--action=contrast::science:2:0.7",
                                   "--action=reset-contrast::science", NULL };
  const char *const darker[] = { "--action=contrast::template:2:0.7", NULL };
  GuiShot a, b;
  Report ra, rb;
  double g0, ga, gb;

  ensure_plain ();
  run_case (brighter, &a, &ra);
  run_case (darker, &b, &rb);
  g0 = pane_mean_grey (&plain_shot, &plain_report.views[0]);
  ga = pane_mean_grey (&a, &ra.views[0]);
  gb = pane_mean_grey (&b, &rb.views[0]);
  g_test_message ("template mean grey: plain %.2f, bias 0.3 %.2f, contrast 2 bias 0.7 %.2f",
                  g0, ga, gb);
  /* (t − bias)·contrast + ½: bias 0.3 adds 0.2 (≈ 51 grey levels where not clipped). */
  g_assert_cmpfloat (ga, >, g0 + 25.0);
  g_assert_cmpfloat (gb, <, g0 - 25.0);
  g_assert_cmpfloat (pane_mean_abs_diff (&plain_shot, &a, &ra.views[1]), <, 0.01);
  g_assert_cmpfloat (pane_mean_abs_diff (&plain_shot, &b, &rb.views[1]), <, 0.01);
  gui_shot_clear (&a);
  gui_shot_clear (&b);
}

static int
cmp_int (gconstpointer a, gconstpointer b)
{
  return *(const int *) a - *(const int *) b;
}

/* The block structure of the magnifier square: the lengths of the runs of equal pixels along
 * its rows and columns (the partial runs at either end, the frame and the centre box left
 * out).  Blocks of zoom × zoom uniform pixels give runs of zoom.  The scripted screenshot
 * resamples the window very slightly (ds_window_save_screenshot draws the window's paintable
 * with a filter: block edges become one blended pixel, drifting by a pixel over a hundred),
 * so runs of zoom − 1 count too, and the blended pixels are runs of 1.  Returns the median
 * length of the runs longer than 1 (0 if none); *fraction gets the share of the pixels that
 * lie in runs of zoom − 1 to zoom + 1 (1 for crisp blocks, (zoom − 1)/zoom resampled). */
static int
magnifier_runs (const GuiShot *s, const GuiView *m, int zoom, double *fraction)
{
  int x0 = (int) lround (m->x), y0 = (int) lround (m->y), size = (int) lround (m->w);
  g_autoptr (GArray) runs = g_array_new (FALSE, FALSE, sizeof (int));
  long n_block = 0, n_total = 0;
  int median;

  for (int dir = 0; dir < 2; dir++)
    for (int b = 4; b < size - 4; b++)
      {
        int start = 4, first = TRUE;

        if (abs (b - size / 2) <= zoom + 2)
          continue;       /* the rows and columns through the centre box */
        for (int a = 5; a <= size - 4; a++)
          {
            const guint8 *p = dir == 0 ? gui_shot_at (s, x0 + a, y0 + b)
                                       : gui_shot_at (s, x0 + b, y0 + a);
            const guint8 *q = dir == 0 ? gui_shot_at (s, x0 + a - 1, y0 + b)
                                       : gui_shot_at (s, x0 + b, y0 + a - 1);

            if (a < size - 4 && memcmp (p, q, 3) == 0)
              continue;
            if (!first && a < size - 4)
              {
                int len = a - start;

                if (len > 1)
                  g_array_append_val (runs, len);
                n_total += len;
                n_block += (len >= zoom - 1 && len <= zoom + 1) ? len : 0;
              }
            first = FALSE;
            start = a;
          }
      }
  g_array_sort (runs, cmp_int);
  median = runs->len > 0 ? g_array_index (runs, int, runs->len / 2) : 0;
  *fraction = (double) n_block / MAX (n_total, 1);
  return median;
}

static void
test_magnifier (void)
{
  const char *const on[] = { "--action=magnifier", NULL };
  GuiShot a;
  Report ra;
  double fraction;
  int median;

  ensure_plain ();
  g_assert_cmpfloat (plain_report.magnifier.w, ==, 0.0);
  run_case (on, &a, &ra);
  g_assert_cmpfloat (ra.magnifier.w, ==, 160.0);
  g_assert_cmpfloat (ra.magnifier.h, ==, 160.0);
  g_assert_cmpfloat (ra.magnifier.zoom, ==, 4.0);
  /* In the template pane, top right. */
  g_assert_cmpfloat (ra.magnifier.x, >, ra.views[0].x + ra.views[0].w / 2);
  g_assert_cmpfloat (ra.magnifier.x + ra.magnifier.w, <=, ra.views[0].x + ra.views[0].w);
  median = magnifier_runs (&a, &ra.magnifier, 4, &fraction);
  g_test_message ("magnifier ×4: median run %d px, %.3f of pixels in runs of 3–5", median,
                  fraction);
  g_assert_cmpint (median, >=, 3);
  g_assert_cmpint (median, <=, 4);
  g_assert_cmpfloat (fraction, >, 0.65);
  /* The same square of the plain window has no 4-pixel blocks. */
  median = magnifier_runs (&plain_shot, &ra.magnifier, 4, &fraction);
  g_test_message ("no magnifier: median run %d px, %.3f of pixels in runs of 3–5", median,
                  fraction);
  g_assert_cmpfloat (fraction, <, 0.2);

  gui_shot_clear (&a);
}

/* Over the template pane: pixels that differ clearly from the plain shot (by ≥ 90 summed over
 * R, G, B: a colour at alpha 0.4 changes a pixel by at least 0.4 × 255; the edges that the
 * screenshot's resampling half-blends change less); how many, how many of them were bright
 * (≥ 200 grey) before, and how many are now dominated by colour channel c (0 R, 1 G, 2 B;
 * for magenta c = −1: R and B both above G). */
static void
overlay_pixels (const GuiShot *plain, const GuiShot *s, const GuiView *v, int c, int *n_changed,
                int *n_bright, int *n_colour)
{
  int x0, y0, x1, y1;

  *n_changed = *n_bright = *n_colour = 0;
  view_image_rect (v, &x0, &y0, &x1, &y1);
  for (int y = y0; y < y1; y++)
    for (int x = x0; x < x1; x++)
      {
        const guint8 *p = gui_shot_at (plain, x, y), *q = gui_shot_at (s, x, y);

        if (abs (p[0] - q[0]) + abs (p[1] - q[1]) + abs (p[2] - q[2]) < 90)
          continue;
        (*n_changed)++;
        *n_bright += (p[0] + p[1] + p[2]) / 3 >= 200;
        if (c >= 0)
          *n_colour += q[c] > q[(c + 1) % 3] + 40 && q[c] > q[(c + 2) % 3] + 40;
        else
          *n_colour += q[0] > q[1] + 40 && q[2] > q[1] + 40;
      }
}

static void
test_mask_overlay (void)
{
  const char *const on[] = { "--action=show-mask-overlay", NULL };
  const char *const magenta[] = { "--action=show-mask-overlay",
                                  "--action=mask-plane::SAT:on:#ff00ff:0.8", NULL };
  const char *const sat_off[] = { "--action=show-mask-overlay", "--action=mask-plane::SAT:off",
                                  NULL };
  GuiShot a, b, c;
  Report ra, rb, rc;
  int changed, bright, colour;

  ensure_plain ();
  run_case (on, &a, &ra);
  overlay_pixels (&plain_shot, &a, &ra.views[0], 1, &changed, &bright, &colour);
  g_test_message ("overlay on the template: %d px changed, %d were bright, %d are green",
                  changed, bright, colour);
  /* The demo's template has a few saturated stars: tens to thousands of screen pixels. */
  g_assert_cmpint (changed, >, 20);
  g_assert_cmpint (bright, >, changed * 8 / 10);
  g_assert_cmpint (colour, >, changed * 9 / 10);

  run_case (magenta, &b, &rb);
  overlay_pixels (&plain_shot, &b, &rb.views[0], -1, &changed, &bright, &colour);
  g_test_message ("SAT magenta at 0.8: %d px changed, %d bright before, %d magenta", changed,
                  bright, colour);
  g_assert_cmpint (changed, >, 20);
  g_assert_cmpint (colour, >, changed * 9 / 10);

  /* Without SAT nothing is left on the saturated stars of the template. */
  run_case (sat_off, &c, &rc);
  overlay_pixels (&plain_shot, &c, &rc.views[0], 1, &changed, &bright, &colour);
  g_test_message ("SAT off: %d px changed, %d green", changed, colour);
  g_assert_cmpint (colour, <, 5);
  gui_shot_clear (&a);
  gui_shot_clear (&b);
  gui_shot_clear (&c);
}

static void
test_lock_zoom_not_pan (void)
{
  /* lock-views is on by default (pan + zoom): switch it off, then lock the zoom only. */
  const char *const zoom_only[] = { "--action=lock-views", "--action=lock-zoom",
                                    "--action=pan-to::template:300:700", "--action=zoom-in",
                                    "--action=zoom-in", NULL };
  /* (with the magnifier at ×8, checked here to save a run) */
  const char *const both[] = { "--action=lock-views", "--action=lock-zoom",
                               "--action=lock-pan", "--action=pan-to::template:300:700",
                               "--action=zoom-in", "--action=magnifier",
                               "--action=magnifier-zoom::8", NULL };
  GuiShot a, b;
  Report ra, rb;

  ensure_plain ();
  run_case (zoom_only, &a, &ra);
  g_test_message ("zoom only: zooms %.4f %.4f %.4f, template centre %.1f %.1f, science %.1f "
                  "%.1f", ra.views[0].zoom, ra.views[1].zoom, ra.views[2].zoom, ra.views[0].cx,
                  ra.views[0].cy, ra.views[1].cx, ra.views[1].cy);
  /* Two steps up the powers of two from a fit zoom below ½. */
  g_assert_cmpfloat (plain_report.views[0].zoom, <, 0.5);
  g_assert_cmpfloat (ra.views[0].zoom, ==, 1.0);
  g_assert_cmpfloat (ra.views[1].zoom, ==, ra.views[0].zoom);
  g_assert_cmpfloat (ra.views[2].zoom, ==, ra.views[0].zoom);
  g_assert_cmpfloat (fabs (ra.views[0].cx - 300.0), <, 1e-6);
  g_assert_cmpfloat (fabs (ra.views[0].cy - 700.0), <, 1e-6);
  g_assert_cmpfloat (fabs (ra.views[1].cx - 511.5), <, 1e-6);
  g_assert_cmpfloat (fabs (ra.views[1].cy - 511.5), <, 1e-6);

  run_case (both, &b, &rb);
  for (int k = 1; k < 3; k++)
    {
      g_assert_cmpfloat (rb.views[k].zoom, ==, rb.views[0].zoom);
      g_assert_cmpfloat (fabs (rb.views[k].cx - 300.0), <, 1e-6);
      g_assert_cmpfloat (fabs (rb.views[k].cy - 700.0), <, 1e-6);
    }
  /* Magnifier ×8 on a view at zoom ½: 8 screen pixels per image pixel. */
  {
    double fraction;
    int median;

    g_assert_cmpfloat (rb.views[0].zoom, ==, 0.5);
    g_assert_cmpfloat (rb.magnifier.zoom, ==, 8.0);
    median = magnifier_runs (&b, &rb.magnifier, 8, &fraction);
    g_test_message ("magnifier ×8: median run %d px, %.3f of pixels in runs of 7–9", median,
                    fraction);
    g_assert_cmpint (median, >=, 7);
    g_assert_cmpint (median, <=, 8);
    g_assert_cmpfloat (fraction, >, 0.75);
  }
  gui_shot_clear (&a);
  gui_shot_clear (&b);
}

/* The screen column near image x = ix of view v with the most crosshair-green rows (below the
 * top 170 px of the pane): returns that count and its offset in *dx.  The offset is searched
 * in [−3, +9] px because the scripted screenshot does not map window coordinates 1:1: it
 * draws the window's paintable (1400 × 800 with the 5 px decoration margins) squeezed into
 * the 1390 × 790 window, i.e. png = (report + 5) × 0.993, +4 px on the left of the window
 * and +1 px in the middle. */
static int
crosshair_column_hits (const GuiShot *s, const GuiView *v, double ix, int *dx_out)
{
  double sx, sy;
  int best = 0, best_dx = 0;

  gui_view_to_screen (v, ix, v->cy, &sx, &sy);
  for (int dx = -3; dx <= 9; dx++)
    {
      int hits = 0;

      for (int y = (int) v->y + 170; y < (int) (v->y + v->h) - 3; y++)
        {
          const guint8 *p = gui_shot_at (s, (int) floor (sx) + dx, y);

          hits += p[1] > 110 && p[1] > p[0] + 50 && p[1] > p[2] + 50;
        }
      if (hits > best)
        best = hits, best_dx = dx;
    }
  if (dx_out != NULL)
    *dx_out = best_dx;
  return best;
}

static void
test_crosshair (void)
{
  const char *const locked[] = { "--action=crosshair-at::science:250:400", NULL };
  const char *const unlocked[] = { "--action=lock-crosshair",
                                   "--action=crosshair-at::science:250:400", NULL };
  GuiShot a, b;
  Report ra, rb;
  int dx[3];

  run_case (locked, &a, &ra);
  for (int k = 0; k < 3; k++)
    {
      int hits = crosshair_column_hits (&a, &ra.views[k], 250.0, &dx[k]);
      int rows = (int) ra.views[k].h - 173;

      g_test_message ("locked crosshair, pane %d: %d of %d rows green at offset %d", k, hits,
                      rows, dx[k]);
      g_assert_true (ra.crosshair[k]);
      g_assert_cmpfloat (ra.crosshair_x[k], ==, 250.0);
      g_assert_cmpfloat (ra.crosshair_y[k], ==, 400.0);
      g_assert_cmpint (hits, >, rows * 8 / 10);
      /* and not 40 image pixels to the side (where only the green stamp circles of the
       * science pane give a few dozen rows) */
      g_assert_cmpint (crosshair_column_hits (&a, &ra.views[k], 290.0, NULL), <, rows / 5);
    }
  run_case (unlocked, &b, &rb);
  g_assert_false (rb.crosshair[0]);
  g_assert_true (rb.crosshair[1]);
  g_assert_false (rb.crosshair[2]);
  g_assert_cmpint (crosshair_column_hits (&b, &rb.views[0], 250.0, NULL), <, 20);
  g_assert_cmpint (crosshair_column_hits (&b, &rb.views[2], 250.0, NULL), <, 20);
  g_assert_cmpint (crosshair_column_hits (&b, &rb.views[1], 250.0, NULL), >,
                   (int) (rb.views[1].h - 173) * 8 / 10);
  gui_shot_clear (&a);
  gui_shot_clear (&b);
}

int
main (int argc, char **argv)
{
  int status;

  g_test_init (&argc, &argv, NULL);
  if (g_getenv ("DISPLAY") == NULL && g_getenv ("WAYLAND_DISPLAY") == NULL)
    {
      g_printerr ("no display: skipping (run under xvfb-run -a)\n");
      return 77;
    }
  g_test_add_func ("/display/stretch-per-pane", test_stretch_per_pane);
  g_test_add_func ("/display/contrast-bias", test_contrast_bias);
  g_test_add_func ("/display/magnifier", test_magnifier);
  g_test_add_func ("/display/mask-overlay", test_mask_overlay);
  g_test_add_func ("/display/lock-zoom-not-pan", test_lock_zoom_not_pan);
  g_test_add_func ("/display/crosshair", test_crosshair);
  status = g_test_run ();
  gui_shot_clear (&plain_shot);
  return status;
}
