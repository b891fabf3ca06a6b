/* test-inspector.c — the inspector window end to end: triptych, live rerun, overlays.
 *
 * Each case runs `diffscope --screenshot=FILE.png --report=FILE.txt [--set KEY=VALUE…]` on
 * the demo field.  The report (ds-window.c) lists the jobs submitted and published, the
 * geometry of each pane (window coordinates, zoom, centre) and the image positions of the
 * stamps used by the kernel fit.  The test maps image coordinates to screen pixels itself
 * (FITS convention: y up) and judges the PNG:
 *   - the difference pane of a good subtraction is centred on the diverging map's white
 *     (median colour close to white, red and blue balanced);
 *   - turning the background subtraction off through a parameter change shifts the
 *     difference to the positive (red) side, while the template pane is unchanged pixel for
 *     pixel;
 *   - the green stamp circles are drawn where the plan's stamps are: most rings of used
 *     stamps contain green pixels, and the same rings moved by a few dozen pixels do not;
 *   - a job cancelled by a newer change (two --set steps 30 ms apart) never publishes;
 *   - the PSF & kernel panel (--action=show-psf) shows peaked PSF stamps (bright centre, dark
 *     corners), a science PSF wider than the template's (FWHM 4.4 vs 3.0 px in the demo), the
 *     difference PSF equal to the science PSF for the convolve-template flavour, and a kernel
 *     whose centre is saturated red on white;
 *   - the residual histogram (--action=show-histogram) reports a robust σ of D/√V near 1 and
 *     draws blue bars shaped like the unit Gaussian: the bar at 0.1σ is many times taller
 *     than those at ±3.1σ and reaches most of the plot height.
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
  GArray *stamps;               /* double triples x, y, r */
  GArray *submitted;            /* guint64 */
  GArray *published_full;       /* guint64 */
  GArray *published_region;     /* guint64 */
  GArray *published_preview;    /* guint64: sampled previews of the zoomed-out frame */
  GuiView psf[4];                  /* PSF panel pictures: template, science, difference, kernel */
  GuiView hist;                    /* residual histogram widget (w = 0 when not shown)          */
  double hist_sigma, hist_tail; /* its robust σ and fraction beyond ±5σ                      */
} Report;

static void
report_clear (Report *r)
{
  g_clear_pointer (&r->stamps, g_array_unref);
  g_clear_pointer (&r->submitted, g_array_unref);
  g_clear_pointer (&r->published_full, g_array_unref);
  g_clear_pointer (&r->published_region, g_array_unref);
  g_clear_pointer (&r->published_preview, g_array_unref);
}

static void
report_parse (const char *text, Report *r)
{
  g_auto (GStrv) lines = NULL;

  memset (r, 0, sizeof *r);
  r->stamps = g_array_new (FALSE, FALSE, sizeof (double));
  r->submitted = g_array_new (FALSE, FALSE, sizeof (guint64));
  r->published_full = g_array_new (FALSE, FALSE, sizeof (guint64));
  r->published_region = g_array_new (FALSE, FALSE, sizeof (guint64));
  r->published_preview = g_array_new (FALSE, FALSE, sizeof (guint64));
  lines = g_strsplit (text, "\n", -1);
  for (int i = 0; lines[i] != NULL; i++)
    {
      char name[32];
      GuiView v;
      double s[3];
      guint64 g;
      char kind[16];

      if (sscanf (lines[i], "view %31s %lf %lf %lf %lf zoom %lf center %lf %lf", name, &v.x,
                  &v.y, &v.w, &v.h, &v.zoom, &v.cx, &v.cy) == 8)
        {
          int k = g_str_equal (name, "template") ? 0 : g_str_equal (name, "science") ? 1 : 2;
          r->views[k] = v;
        }
      else if (sscanf (lines[i], "stamp-used %lf %lf %lf", &s[0], &s[1], &s[2]) == 3)
        g_array_append_vals (r->stamps, s, 3);
      else if (sscanf (lines[i], "psf-picture %31s %lf %lf %lf %lf", name, &v.x, &v.y, &v.w,
                       &v.h) == 5)
        {
          static const char *const psf_names[] = { "template", "science", "difference",
                                                   "kernel" };

          for (int k = 0; k < 4; k++)
            if (g_str_equal (name, psf_names[k]))
              r->psf[k] = v;
        }
      else if (sscanf (lines[i], "histogram %lf %lf %lf %lf sigma %lf tail %lf", &v.x, &v.y,
                       &v.w, &v.h, &r->hist_sigma, &r->hist_tail) == 6)
        r->hist = v;
      else if (sscanf (lines[i], "submitted %" G_GUINT64_FORMAT, &g) == 1)
        g_array_append_val (r->submitted, g);
      else if (sscanf (lines[i], "published %" G_GUINT64_FORMAT " %15s", &g, kind) == 2)
        g_array_append_val (g_str_equal (kind, "full")      ? r->published_full
                            : g_str_equal (kind, "preview") ? r->published_preview
                                                            : r->published_region, g);
    }
  for (int k = 0; k < 3; k++)
    g_assert_cmpfloat (r->views[k].zoom, >, 0.0);
}

static gboolean
array_has (GArray *a, guint64 g)
{
  for (guint i = 0; i < a->len; i++)
    if (g_array_index (a, guint64, i) == g)
      return TRUE;
  return FALSE;
}

/* The screen rectangle covered by the image in a fitted view (W = 2 cx + 1). */
static void
view_image_rect (const GuiView *v, int *x0, int *y0, int *x1, int *y1)
{
  double ax, ay, bx, by;

  gui_view_to_screen (v, -0.5, 2 * v->cy + 0.5, &ax, &ay);
  gui_view_to_screen (v, 2 * v->cx + 0.5, -0.5, &bx, &by);
  /* Stay 3 px inside so that no pane border is sampled. */
  *x0 = (int) ceil (ax) + 3;
  *y0 = (int) ceil (ay) + 3;
  *x1 = (int) floor (bx) - 3;
  *y1 = (int) floor (by) - 3;
}

static int
cmp_int (gconstpointer a, gconstpointer b)
{
  return *(const int *) a - *(const int *) b;
}

/* Median R, G, B over the image area of view v, every 3rd pixel. */
static void
pane_median_rgb (const GuiShot *shot, const GuiView *v, double rgb[3])
{
  int x0, y0, x1, y1;
  GArray *ch[3];

  view_image_rect (v, &x0, &y0, &x1, &y1);
  g_assert_cmpint (x1 - x0, >, 50);
  g_assert_cmpint (y1 - y0, >, 50);
  for (int c = 0; c < 3; c++)
    ch[c] = g_array_new (FALSE, FALSE, sizeof (int));
  for (int y = y0; y < y1; y += 3)
    for (int x = x0; x < x1; x += 3)
      {
        const guint8 *p = gui_shot_at (shot, x, y);
        for (int c = 0; c < 3; c++)
          {
            int value = p[c];
            g_array_append_val (ch[c], value);
          }
      }
  for (int c = 0; c < 3; c++)
    {
      g_array_sort (ch[c], cmp_int);
      rgb[c] = g_array_index (ch[c], int, ch[c]->len / 2);
      g_array_unref (ch[c]);
    }
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

static gboolean
is_green (const guint8 *p)
{
  return p[1] > 140 && p[1] > p[0] + 50 && p[1] > p[2] + 40;
}

/* Fraction of stamps whose ring (radius from the report, at least 3 px), shifted by
 * (dx, dy) screen pixels, has green pixels at ≥ 4 of 16 angles (±1 px radially). */
static double
ring_hit_fraction (const GuiShot *shot, const Report *r, const GuiView *v, double dx, double dy)
{
  int hits = 0, n = (int) r->stamps->len / 3;

  for (int i = 0; i < n; i++)
    {
      const double *s = &g_array_index (r->stamps, double, 3 * i);
      double sx, sy, rad = MAX (3.0, s[2] * v->zoom);
      int green = 0;

      gui_view_to_screen (v, s[0], s[1], &sx, &sy);
      sx += dx;
      sy += dy;
      for (int a = 0; a < 16; a++)
        {
          double t = a * G_PI / 8;
          gboolean found = FALSE;

          for (int dr = -1; dr <= 1 && !found; dr++)
            found = is_green (gui_shot_at (shot, (int) floor (sx + (rad + dr) * cos (t)),
                                       (int) floor (sy + (rad + dr) * sin (t))));
          green += found;
        }
      hits += green >= 4;
    }
  return n > 0 ? (double) hits / n : 0.0;
}

/* Runs diffscope; asserts exit status 0; fills shot and report. */
static void
run_case (const char *const *extra, GuiShot *shot, Report *report)
{
  g_autofree char *text = gui_run_case ("ds-inspector-XXXXXX", extra, shot);

  report_parse (text, report);
}

static void
test_triptych_and_stamps (void)
{
  GuiShot shot = { 0 };
  Report r;
  double rgb[3], on, off;

  run_case (NULL, &shot, &r);
  /* One job for the inputs, published in full. */
  g_assert_cmpuint (r.submitted->len, ==, 1);
  g_assert_true (array_has (r.published_full, g_array_index (r.submitted, guint64, 0)));

  /* The difference is centred on zero: the diverging map's white, red and blue balanced. */
  pane_median_rgb (&shot, &r.views[2], rgb);
  g_test_message ("difference median RGB %.0f %.0f %.0f", rgb[0], rgb[1], rgb[2]);
  g_assert_cmpfloat (rgb[0], >, 200);
  g_assert_cmpfloat (rgb[1], >, 200);
  g_assert_cmpfloat (rgb[2], >, 200);
  g_assert_cmpfloat (fabs (rgb[0] - rgb[2]), <, 30);
  /* The template pane is grey: equal channels. */
  pane_median_rgb (&shot, &r.views[0], rgb);
  g_assert_cmpfloat (fabs (rgb[0] - rgb[2]), <, 3);

  /* Stamp circles where the plan says, not elsewhere. */
  g_assert_cmpuint (r.stamps->len / 3, >=, 20);
  on = ring_hit_fraction (&shot, &r, &r.views[1], 0, 0);
  off = ring_hit_fraction (&shot, &r, &r.views[1], 37, -23);
  g_test_message ("stamp rings with green: %.2f on, %.2f shifted", on, off);
  g_assert_cmpfloat (on, >, 0.8);
  g_assert_cmpfloat (off, <, 0.3);

  g_free (shot.pixels);
  report_clear (&r);
}

static void
test_parameter_change_reruns (void)
{
  const char *const change[] = { "--set", "subtract_background=false", NULL };
  GuiShot base = { 0 }, changed = { 0 };
  Report rb, rc;
  double rgb_base[3], rgb_changed[3];
  guint64 last;

  run_case (NULL, &base, &rb);
  run_case (change, &changed, &rc);

  /* The change was submitted after the first result and its job published. */
  g_assert_cmpuint (rc.submitted->len, ==, 2);
  last = g_array_index (rc.submitted, guint64, 1);
  g_assert_true (array_has (rc.published_full, last));
  /* The whole 1024² frame is visible at a zoom below ½: a sampled preview came first. */
  g_assert_true (array_has (rc.published_preview, last));

  pane_median_rgb (&base, &rb.views[2], rgb_base);
  pane_median_rgb (&changed, &rc.views[2], rgb_changed);
  g_test_message ("difference median RGB before %.0f %.0f %.0f, after %.0f %.0f %.0f",
                  rgb_base[0], rgb_base[1], rgb_base[2], rgb_changed[0], rgb_changed[1],
                  rgb_changed[2]);
  /* Without the differential background the sky residual is positive: red, not white. */
  g_assert_cmpfloat (rgb_changed[0] - rgb_changed[2], >, 80);
  g_assert_cmpfloat (pane_mean_abs_diff (&base, &changed, &rb.views[2]), >, 40);
  /* The inputs did not change. */
  g_assert_cmpfloat (pane_mean_abs_diff (&base, &changed, &rb.views[0]), <, 0.5);

  g_free (base.pixels);
  g_free (changed.pixels);
  report_clear (&rb);
  report_clear (&rc);
}

static void
test_cancelled_never_publishes (void)
{
  /* The first change needs a new kernel fit (hundreds of ms); the second arrives 30 ms
   * later and cancels it. */
  const char *const changes[] = { "--set", "kernel.beta=2.5", "--set", "kernel.beta=3.0",
                                  NULL };
  GuiShot shot = { 0 };
  Report r;
  guint64 first, second;

  run_case (changes, &shot, &r);
  g_assert_cmpuint (r.submitted->len, ==, 3);
  first = g_array_index (r.submitted, guint64, 1);
  second = g_array_index (r.submitted, guint64, 2);
  g_assert_cmpuint (second, >, first);
  g_assert_false (array_has (r.published_full, first));
  g_assert_false (array_has (r.published_region, first));
  g_assert_false (array_has (r.published_preview, first));
  g_assert_true (array_has (r.published_full, second));
  g_assert_cmpuint (g_array_index (r.published_full, guint64, r.published_full->len - 1), ==,
                    second);

  g_free (shot.pixels);
  report_clear (&r);
}

/* Mean of R, G, B over the (2 h + 1)² block centred on screen pixel (x, y). */
static double
block_mean (const GuiShot *shot, int x, int y, int h, int channel)
{
  double sum = 0;
  int n = 0;

  for (int j = -h; j <= h; j++)
    for (int i = -h; i <= h; i++)
      {
        sum += gui_shot_at (shot, x + i, y + j)[channel];
        n++;
      }
  return sum / n;
}

/* The reported picture bounds and the drawn stamp may differ by a few pixels (GtkFixed in
 * the side pane), so a PSF stamp is located as the bounding box of its black wings inside
 * the reported rectangle grown by 8 px; returns FALSE when nothing dark is there. */
static gboolean
picture_locate_dark (const GuiShot *shot, const GuiView *v, GuiView *found)
{
  int x0 = G_MAXINT, y0 = G_MAXINT, x1 = -1, y1 = -1;

  for (int y = (int) v->y - 8; y < (int) (v->y + v->h) + 8; y++)
    for (int x = (int) v->x - 8; x < (int) (v->x + v->w) + 8; x++)
      {
        const guint8 *p = gui_shot_at (shot, x, y);

        if (MAX (p[0], MAX (p[1], p[2])) < 20)
          {
            x0 = MIN (x0, x);
            y0 = MIN (y0, y);
            x1 = MAX (x1, x);
            y1 = MAX (y1, y);
          }
      }
  if (x1 < 0)
    return FALSE;
  *found = *v;
  found->x = x0;
  found->y = y0;
  found->w = x1 - x0 + 1;
  found->h = y1 - y0 + 1;
  return TRUE;
}

/* Mean grey level at the centre of picture v and the brightest of its four corners. */
static void
picture_centre_corner (const GuiShot *shot, const GuiView *v, double *centre, double *corner)
{
  int x0 = (int) ceil (v->x), y0 = (int) ceil (v->y);
  int x1 = (int) floor (v->x + v->w) - 1, y1 = (int) floor (v->y + v->h) - 1;
  int cx = (int) floor (v->x + 0.5 * v->w), cy = (int) floor (v->y + 0.5 * v->h);
  int corners[4][2] = { { x0 + 3, y0 + 3 }, { x1 - 3, y0 + 3 }, { x0 + 3, y1 - 3 },
                        { x1 - 3, y1 - 3 } };

  *centre = block_mean (shot, cx, cy, 1, 1);
  *corner = 0;
  for (int k = 0; k < 4; k++)
    *corner = MAX (*corner, block_mean (shot, corners[k][0], corners[k][1], 2, 1));
}

/* Screen pixels of picture v brighter than half scale (green channel). */
static int
picture_bright_count (const GuiShot *shot, const GuiView *v)
{
  int n = 0;

  for (int y = (int) ceil (v->y); y < (int) floor (v->y + v->h); y++)
    for (int x = (int) ceil (v->x); x < (int) floor (v->x + v->w); x++)
      if (gui_shot_at (shot, x, y)[1] > 128)
        n++;
  return n;
}

static void
test_psf_panel (void)
{
  const char *const show[] = { "--action=show-psf", NULL };
  static const char *const names[] = { "template", "science", "difference", "kernel" };
  GuiShot shot = { 0 };
  Report r;
  double centre, corner, diff_sum = 0;
  int bright_t, bright_s, n = 0;
  const GuiView *kv, *dv, *sv;

  run_case (show, &shot, &r);
  for (int k = 0; k < 4; k++)
    {
      g_test_message ("psf picture %s at %.0f, %.0f size %.0f × %.0f", names[k], r.psf[k].x,
                      r.psf[k].y, r.psf[k].w, r.psf[k].h);
      /* 25 × 25 stamps at 4× (the kernel at least that). */
      g_assert_cmpfloat (r.psf[k].w, >=, 100);
      g_assert_cmpfloat (r.psf[k].h, >=, 100);
      g_assert_cmpfloat (r.psf[k].x + r.psf[k].w, <=, shot.width);
      g_assert_cmpfloat (r.psf[k].y + r.psf[k].h, <=, shot.height);
    }
  /* Peaked PSFs: white centre, black wings (asinh between min and max). */
  for (int k = 0; k < 3; k++)
    {
      GuiView found;

      g_assert_true (picture_locate_dark (&shot, &r.psf[k], &found));
      g_test_message ("%s PSF drawn at %.0f, %.0f size %.0f × %.0f", names[k], found.x,
                      found.y, found.w, found.h);
      /* The black wings span (nearly) the whole 100 px stamp. */
      g_assert_cmpfloat (found.w, >=, 94);
      g_assert_cmpfloat (found.h, >=, 94);
      r.psf[k] = found;
      picture_centre_corner (&shot, &r.psf[k], &centre, &corner);
      g_test_message ("%s PSF: centre %.0f, brightest corner %.0f", names[k], centre, corner);
      g_assert_cmpfloat (centre, >, 200);
      g_assert_cmpfloat (corner, <, 40);
    }
  /* The science PSF is wider (FWHM ratio 1.47, area ratio ≈ 2.2 for Gaussian cores). */
  bright_t = picture_bright_count (&shot, &r.psf[0]);
  bright_s = picture_bright_count (&shot, &r.psf[1]);
  g_test_message ("bright pixels: template %d, science %d", bright_t, bright_s);
  g_assert_cmpint (bright_t, >, 16);
  g_assert_cmpfloat (bright_s, >, 1.4 * bright_t);
  /* Convolve-template: the difference has the science PSF, pixel for pixel. */
  sv = &r.psf[1];
  dv = &r.psf[2];
  for (int y = 0; y < (int) sv->h; y++)
    for (int x = 0; x < (int) sv->w; x++)
      {
        diff_sum += abs ((int) gui_shot_at (&shot, (int) sv->x + x, (int) sv->y + y)[1]
                         - (int) gui_shot_at (&shot, (int) dv->x + x, (int) dv->y + y)[1]);
        n++;
      }
  g_test_message ("difference vs science PSF picture: mean |Δ| %.2f", diff_sum / n);
  g_assert_cmpfloat (diff_sum / n, <, 1.0);
  /* Kernel: positive peak at the top of a symmetric diverging map (red), white around. */
  kv = &r.psf[3];
  {
    int cx = (int) floor (kv->x + 0.5 * kv->w), cy = (int) floor (kv->y + 0.5 * kv->h);
    int px = cx, py = cy, best = -1;
    double red, blue, edge;

    /* The reddest pixel (largest R − B) is the kernel's peak: near the picture centre. */
    for (int y = (int) kv->y - 8; y < (int) (kv->y + kv->h) + 8; y++)
      for (int x = (int) kv->x - 8; x < (int) (kv->x + kv->w) + 8; x++)
        {
          const guint8 *p = gui_shot_at (&shot, x, y);

          if ((int) p[0] - (int) p[2] > best)
            {
              best = (int) p[0] - (int) p[2];
              px = x;
              py = y;
            }
        }
    red = block_mean (&shot, px, py, 1, 0);
    blue = block_mean (&shot, px, py, 1, 2);
    edge = block_mean (&shot, cx - (int) (0.35 * kv->w), cy - (int) (0.35 * kv->h), 2, 1);
    g_test_message ("kernel peak at %+d, %+d from the centre: R %.0f B %.0f; corner G %.0f",
                    px - cx, py - cy, red, blue, edge);
    g_assert_cmpint (abs (px - cx), <=, 10);
    g_assert_cmpint (abs (py - cy), <=, 10);
    g_assert_cmpfloat (red - blue, >, 80);
    g_assert_cmpfloat (edge, >, 220);
  }

  g_free (shot.pixels);
  report_clear (&r);
}

/* The histogram's bar colour (0.33, 0.53, 0.85), away from white, black, red and grey. */
static gboolean
is_bar_blue (const guint8 *p)
{
  return p[2] > 170 && p[2] > p[0] + 80 && p[1] > 100 && p[1] < 170;
}

/* Bar pixels in the 3 px wide column of screen pixels around x, over the plot height. */
static int
column_bar_count (const GuiShot *shot, const GuiView *v, int x)
{
  int n = 0;

  for (int y = (int) ceil (v->y); y < (int) floor (v->y + v->h); y++)
    for (int dx = -1; dx <= 1; dx++)
      if (is_bar_blue (gui_shot_at (shot, x + dx, y)))
        n++;
  return n;
}

static void
test_histogram (void)
{
  const char *const show[] = { "--action=show-histogram", NULL };
  GuiShot shot = { 0 };
  Report r;
  const GuiView *h = &r.hist;
  int total = 0, centre, left, right, red = 0;
  double plot_x0, plot_w, plot_h;

  run_case (show, &shot, &r);
  g_test_message ("histogram at %.0f, %.0f size %.0f × %.0f; robust σ %.4f, tail %.3g", h->x,
                  h->y, h->w, h->h, r.hist_sigma, r.hist_tail);
  g_assert_cmpfloat (h->w, >=, 200);
  g_assert_cmpfloat (h->h, >=, 140);
  g_assert_cmpfloat (h->x + h->w, <=, shot.width);
  g_assert_cmpfloat (h->y + h->h, <=, shot.height);
  /* The demo's variance is the truth: D/√V of a good subtraction is close to N(0, 1). */
  g_assert_cmpfloat (r.hist_sigma, >, 0.8);
  g_assert_cmpfloat (r.hist_sigma, <, 1.25);
  g_assert_cmpfloat (r.hist_tail, <, 0.01);

  for (int y = (int) ceil (h->y); y < (int) floor (h->y + h->h); y++)
    for (int x = (int) ceil (h->x); x < (int) floor (h->x + h->w); x++)
      {
        const guint8 *p = gui_shot_at (&shot, x, y);

        total += is_bar_blue (p);
        red += p[0] > 180 && p[1] < 90 && p[2] < 90;
      }
  /* Plot geometry of ds-histogram.c: margins 34 left, 8 right, 24 top, 20 bottom. */
  plot_x0 = h->x + 34;
  plot_w = h->w - 42;
  plot_h = h->h - 44;
#define VALUE_X(v) ((int) floor (plot_x0 + ((v) + 6.0) / 12.0 * plot_w))
  centre = column_bar_count (&shot, h, VALUE_X (0.1)) / 3;
  left = column_bar_count (&shot, h, VALUE_X (-3.1)) / 3;
  right = column_bar_count (&shot, h, VALUE_X (3.1)) / 3;
#undef VALUE_X
  g_test_message ("bar pixels %d, red curve pixels %d; bar heights: 0.1σ %d px, −3.1σ %d px, "
                  "+3.1σ %d px of %.0f", total, red, centre, left, right, plot_h);
  g_assert_cmpint (total, >, 2000);
  g_assert_cmpint (red, >, 100);
  /* Gaussian: the top bar is ~ 1/1.1 of the plot; at 3.1σ the density is 0.8 % of it. */
  g_assert_cmpfloat (centre, >, 0.6 * plot_h);
  g_assert_cmpint (centre, >, 10 * MAX (left, 1));
  g_assert_cmpint (centre, >, 10 * MAX (right, 1));

  g_free (shot.pixels);
  report_clear (&r);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  if (g_getenv ("DISPLAY") == NULL && g_getenv ("WAYLAND_DISPLAY") == NULL)
    {
      g_printerr ("no display; run under xvfb-run -a\n");
      return 77;
    }
  g_test_add_func ("/inspector/triptych-and-stamps", test_triptych_and_stamps);
  g_test_add_func ("/inspector/parameter-change-reruns", test_parameter_change_reruns);
  g_test_add_func ("/inspector/cancelled-never-publishes", test_cancelled_never_publishes);
  g_test_add_func ("/inspector/psf-panel", test_psf_panel);
  g_test_add_func ("/inspector/residual-histogram", test_histogram);
  return g_test_run ();
}
