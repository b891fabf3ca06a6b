/* test-overlays.c — detection and fake markers drawn where the catalogues say, the recall
 * plot and the kernel view, judged from screenshots.
 *
 * Each case runs `diffscope --screenshot=FILE.png --report=FILE.txt …` on the demo field.
 * The report (ds-window.c) gives the difference pane's geometry (window coordinates, zoom,
 * centre), the detection catalogue (position, kind, flagged) with the marker radius, and
 * after win.run-fakes every fake (position, found or lost, true S/N), the recovery summary
 * and the recall plot's rectangle with the x of its SNR½ line.  The test maps image
 * coordinates to screen pixels itself (y up) and checks:
 *   - around ≥ 90 % of the catalogued sources there are pixels of the marker colour of the
 *     source's kind (magenta positive, cyan negative, orange dipole) on the ring (circle, or
 *     square for flagged sources), and at random positions far from every source there are
 *     almost never any;
 *   - the kernel view (win.show-kernel-views) drew the basis of the plan (the demo's three
 *     Gaussians of degrees 4, 2, 2 give 27 images) and a finite kernel-sum range, and its
 *     first stamp (B_0, positive) shows the diverging map's red;
 *   - with fakes.n=200 (with 50 or 100 the engine's SNR½ fit does not converge on the
 *     demo), SNR½ lies between 4 and 9, the recall above S/N 10 is high, green
 *     rings surround ≥ 90 % of the found fakes and almost none of the lost ones away
 *     from found ones, and the recall plot
 *     has its dashed SNR½ line in the column the widget reports (and not beside it).
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
  double x, y;
  int kind;                     /* 0 positive, 1 negative, 2 dipole                          */
  gboolean flagged;
} Source;

typedef struct
{
  double x, y, snr;
  gboolean found;
} Fake;

typedef struct
{
  GuiView diff;                    /* difference pane                                            */
  GArray *sources;              /* Source                                                     */
  double det_radius;            /* detection marker radius, image px                          */
  GArray *fakes;                /* Fake                                                       */
  int n_fakes;
  double snr_half, snr_half_err, recall10, expected, fake_radius;
  GuiView recall;                  /* recall plot rectangle (w = 0 when not shown)               */
  double snr_half_x;            /* widget x of its SNR½ line                                  */
  GuiView kernel;                  /* kernel view rectangle (w = 0 when not shown)               */
  int n_basis;
  double sum_min, sum_max;
} Report;

static void
report_clear (Report *r)
{
  g_clear_pointer (&r->sources, g_array_unref);
  g_clear_pointer (&r->fakes, g_array_unref);
}

static void
report_parse (const char *text, Report *r)
{
  g_auto (GStrv) lines = NULL;

  memset (r, 0, sizeof *r);
  r->sources = g_array_new (FALSE, FALSE, sizeof (Source));
  r->fakes = g_array_new (FALSE, FALSE, sizeof (Fake));
  r->snr_half = NAN;
  lines = g_strsplit (text, "\n", -1);
  for (int i = 0; lines[i] != NULL; i++)
    {
      char name[32], kind[16], flag[16];
      GuiView v;
      Source s;
      Fake f;
      int id;

      if (sscanf (lines[i], "view %31s %lf %lf %lf %lf zoom %lf center %lf %lf", name, &v.x,
                  &v.y, &v.w, &v.h, &v.zoom, &v.cx, &v.cy) == 8)
        {
          if (g_str_equal (name, "difference"))
            r->diff = v;
        }
      else if (sscanf (lines[i], "source %d %lf %lf %15s %15s", &id, &s.x, &s.y, kind,
                       flag) == 5)
        {
          s.kind = g_str_equal (kind, "positive") ? 0 : g_str_equal (kind, "negative") ? 1 : 2;
          s.flagged = g_str_equal (flag, "flagged");
          g_array_append_val (r->sources, s);
        }
      else if (sscanf (lines[i], "detection-marker-radius %lf", &r->det_radius) == 1)
        ;
      else if (sscanf (lines[i], "fake %lf %lf %15s %lf", &f.x, &f.y, kind, &f.snr) == 4)
        {
          f.found = g_str_equal (kind, "found");
          g_array_append_val (r->fakes, f);
        }
      else if (sscanf (lines[i], "recovery n %d snr-half %lf err %lf recall-above-10 %lf "
                       "expected %lf marker-radius %lf", &r->n_fakes, &r->snr_half,
                       &r->snr_half_err, &r->recall10, &r->expected, &r->fake_radius) == 6)
        ;
      else if (sscanf (lines[i], "recall-plot %lf %lf %lf %lf snr-half-x %lf", &v.x, &v.y,
                       &v.w, &v.h, &r->snr_half_x) == 5)
        r->recall = v;
      else if (sscanf (lines[i], "kernel-view %lf %lf %lf %lf n-basis %d sum %lf %lf", &v.x,
                       &v.y, &v.w, &v.h, &r->n_basis, &r->sum_min, &r->sum_max) == 7)
        r->kernel = v;
    }
  g_assert_cmpfloat (r->diff.zoom, >, 0.0);
}

/* Marker colours of ds-window.c on the white-centred diverging map, which never has a
 * strong red and blue with little green (magenta), nor strong green and blue with little
 * red (cyan), nor a saturated orange with almost no blue. */
static gboolean
is_colour (const guint8 *p, int kind)
{
  switch (kind)
    {
    case 0:                     /* magenta 0xff00ff */
      return p[0] > 150 && p[2] > 150 && p[1] < 110 && abs (p[0] - p[2]) < 70;
    case 1:                     /* cyan 0x00e5ff */
      return p[0] < 100 && p[1] > 150 && p[2] > 180;
    case 2:                     /* orange 0xff8c00 */
      return p[0] > 200 && p[1] > 90 && p[1] < 190 && p[2] < 60;
    case 3:                     /* fake found: green 0x00c040 */
    default:
      return p[1] > 110 && p[1] > p[0] + 60 && p[1] > p[2] + 40;
    }
}

/* Pixels of colour `kind` in the annulus around screen (sx, sy) between r_in and r_out. */
static int
annulus_count (const GuiShot *shot, double sx, double sy, double r_in, double r_out, int kind)
{
  int n = 0, R = (int) ceil (r_out) + 1;

  for (int dy = -R; dy <= R; dy++)
    for (int dx = -R; dx <= R; dx++)
      {
        int x = (int) floor (sx) + dx, y = (int) floor (sy) + dy;
        double d = hypot (x + 0.5 - sx, y + 0.5 - sy);

        if (d < r_in || d > r_out || x < 0 || y < 0 || x >= shot->width || y >= shot->height)
          continue;
        n += is_colour (gui_shot_at (shot, x, y), kind);
      }
  return n;
}

/* Screen annulus that holds a marker of image radius r: a circle at r·zoom (at least 3 px,
 * as ds-image-view draws it), a square from r·zoom to its corners at √2 r·zoom; ±2 px for the
 * line width and anti-aliasing. */
static void
marker_annulus (const GuiView *v, double r, gboolean square, double *r_in, double *r_out)
{
  double R = MAX (3.0, r * v->zoom);

  *r_in = MAX (0.0, R - 2.0);
  *r_out = (square ? G_SQRT2 * R : R) + 2.0;
}

static gboolean
inside_view (const GuiView *v, double sx, double sy, double margin)
{
  return sx > v->x + margin && sy > v->y + margin && sx < v->x + v->w - margin
         && sy < v->y + v->h - margin;
}

/* Runs diffscope; asserts exit status 0; fills shot and report. */
static void
run_case (const char *const *extra, GuiShot *shot, Report *report)
{
  g_autofree char *text = gui_run_case ("ds-overlays-XXXXXX", extra, shot);

  report_parse (text, report);
}

/* Fraction of sources (inside the pane) with ≥ 3 pixels of their kind's colour on their
 * marker ring, screen-shifted by (dx, dy). */
static double
detection_hit_fraction (const GuiShot *shot, const Report *r, double dx, double dy, int *n_out)
{
  int hits = 0, n = 0;

  for (guint i = 0; i < r->sources->len; i++)
    {
      const Source *s = &g_array_index (r->sources, Source, i);
      double sx, sy, r_in, r_out;

      gui_view_to_screen (&r->diff, s->x, s->y, &sx, &sy);
      if (!inside_view (&r->diff, sx, sy, 12))
        continue;
      marker_annulus (&r->diff, r->det_radius, s->flagged, &r_in, &r_out);
      n++;
      hits += annulus_count (shot, sx + dx, sy + dy, r_in, r_out, s->kind) >= 3;
    }
  *n_out = n;
  return n > 0 ? (double) hits / n : 0.0;
}

/* Random image positions at least `clear` screen px from every source and fake, inside the
 * pane; returns how many were tried and how many had ≥ 3 marker-coloured pixels (any kind)
 * on a detection-sized ring. */
static void
empty_positions (const GuiShot *shot, const Report *r, double clear, int *n_tried, int *n_hit)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (7);
  double W = 2 * r->diff.cx + 1, H = 2 * r->diff.cy + 1;

  *n_tried = *n_hit = 0;
  for (int attempt = 0; attempt < 20000 && *n_tried < 200; attempt++)
    {
      double ix = g_rand_double_range (rand, 0, W), iy = g_rand_double_range (rand, 0, H);
      double sx, sy, r_in, r_out;
      gboolean ok = TRUE;
      int n = 0;

      gui_view_to_screen (&r->diff, ix, iy, &sx, &sy);
      if (!inside_view (&r->diff, sx, sy, 12))
        continue;
      for (guint i = 0; ok && i < r->sources->len; i++)
        {
          const Source *s = &g_array_index (r->sources, Source, i);
          ok = hypot (s->x - ix, s->y - iy) * r->diff.zoom > clear;
        }
      for (guint i = 0; ok && i < r->fakes->len; i++)
        {
          const Fake *f = &g_array_index (r->fakes, Fake, i);
          ok = hypot (f->x - ix, f->y - iy) * r->diff.zoom > clear;
        }
      if (!ok)
        continue;
      marker_annulus (&r->diff, r->det_radius, TRUE, &r_in, &r_out);
      for (int kind = 0; kind < 4; kind++)
        n += annulus_count (shot, sx, sy, r_in, r_out, kind);
      (*n_tried)++;
      *n_hit += n >= 3;
    }
}

static void
test_detection_markers (void)
{
  const char *const args[] = { "--action=show-kernel-views", NULL };
  GuiShot shot = { 0 };
  Report r;
  double on, shifted, clear;
  int n, n_tried, n_hit;

  run_case (args, &shot, &r);
  g_assert_cmpfloat (r.det_radius, >, 0.0);
  on = detection_hit_fraction (&shot, &r, 0, 0, &n);
  g_test_message ("%u sources, %d in the pane, %.3f with their marker", r.sources->len, n, on);
  g_assert_cmpint (n, >=, 20);
  g_assert_cmpfloat (on, >=, 0.9);

  /* Far from any source (and fake) there are no marker pixels. */
  clear = 2 * (MAX (3.0, G_SQRT2 * r.det_radius * r.diff.zoom) + 2.0) + 6.0;
  empty_positions (&shot, &r, clear, &n_tried, &n_hit);
  g_test_message ("empty positions: %d tried, %d with marker pixels", n_tried, n_hit);
  g_assert_cmpint (n_tried, >=, 30);
  g_assert_cmpint (n_hit, <=, n_tried / 20);
  /* The same rings moved by a marker diameter and a half mostly miss. */
  shifted = detection_hit_fraction (&shot, &r, 0, 3.5 * MAX (3.0, r.det_radius * r.diff.zoom)
                                                   + 6, &n);
  g_test_message ("shifted rings with their marker colour: %.3f", shifted);
  g_assert_cmpfloat (shifted, <, 0.5);

  /* The kernel view: 27 basis images for the demo (degrees 4, 2, 2), a finite kernel sum
   * near the demo's photometric ratio, and B_0 (first stamp) drawn red on the diverging map. */
  g_assert_cmpfloat (r.kernel.w, >, 100);
  g_assert_cmpint (r.n_basis, ==, 27);
  g_assert_true (isfinite (r.sum_min) && isfinite (r.sum_max));
  g_assert_cmpfloat (r.sum_min, <=, r.sum_max);
  g_assert_cmpfloat (r.sum_min, >, 0.1);
  {
    int red = 0, blue = 0;

    /* The basis images on the diverging map: saturated red (B_0 and the positive lobes)
     * and saturated blue (the negative lobes of the higher terms). */
    for (int y = (int) r.kernel.y; y < (int) (r.kernel.y + r.kernel.h); y++)
      for (int x = (int) r.kernel.x; x < (int) (r.kernel.x + r.kernel.w); x++)
        {
          const guint8 *p = gui_shot_at (&shot, x, y);

          red += p[0] > 150 && p[1] < 80 && p[2] < 90;
          blue += p[2] > 140 && p[0] < 80 && p[1] < 100;
        }
    g_test_message ("kernel view: %d saturated red and %d blue pixels", red, blue);
    g_assert_cmpint (red, >=, 40);
    g_assert_cmpint (blue, >=, 40);
  }
  g_free (shot.pixels);
  report_clear (&r);
}

/* Fraction of the fakes (found or lost) inside the pane with ≥ 3 green pixels on their ring. */
static double
fake_ring_fraction (const GuiShot *shot, const Report *r, gboolean found, int *n_out)
{
  int hits = 0, n = 0;

  for (guint i = 0; i < r->fakes->len; i++)
    {
      const Fake *f = &g_array_index (r->fakes, Fake, i);
      double sx, sy, r_in, r_out;

      gboolean isolated = TRUE;

      if (f->found != found)
        continue;
      gui_view_to_screen (&r->diff, f->x, f->y, &sx, &sy);
      if (!inside_view (&r->diff, sx, sy, 12))
        continue;
      marker_annulus (&r->diff, r->fake_radius, FALSE, &r_in, &r_out);
      /* A lost fake counts only when no found fake's ring can reach its own. */
      for (guint j = 0; !found && isolated && j < r->fakes->len; j++)
        {
          const Fake *g = &g_array_index (r->fakes, Fake, j);

          isolated = !g->found || hypot (g->x - f->x, g->y - f->y) * r->diff.zoom
                                    > 2 * r_out + 2;
        }
      if (!isolated)
        continue;
      n++;
      hits += annulus_count (shot, sx, sy, r_in, r_out, 3) >= 3;
    }
  *n_out = n;
  return n > 0 ? (double) hits / n : 0.0;
}

/* Rows of column x (window px) in rectangle v with the SNR½ line's green (26, 140, 51). */
static int
column_line_count (const GuiShot *shot, const GuiView *v, int x)
{
  int n = 0;

  for (int y = (int) v->y; y < (int) (v->y + v->h); y++)
    {
      const guint8 *p = gui_shot_at (shot, x, y);

      /* Green (the line is (26, 140, 51), lighter where it straddles two columns). */
      n += p[1] > 100 && p[1] > p[0] + 50 && p[1] > p[2] + 30;
    }
  return n;
}

static void
test_fakes (void)
{
  const char *const args[] = { "--set", "fakes.n=200", "--action=run-fakes", NULL };
  GuiShot shot = { 0 };
  Report r;
  double found_frac, lost_frac;
  int n_found, n_lost, line, beside, best;

  run_case (args, &shot, &r);
  g_test_message ("recovery: %d fakes, SNR½ %.2f ± %.2f (expected %.2f), recall above 10 "
                  "%.2f", r.n_fakes, r.snr_half, r.snr_half_err, r.expected, r.recall10);
  g_assert_cmpint (r.n_fakes, ==, 200);
  g_assert_cmpuint (r.fakes->len, ==, 200);
  g_assert_cmpfloat (r.snr_half, >, 4.0);
  g_assert_cmpfloat (r.snr_half, <, 9.0);
  g_assert_cmpfloat (r.recall10, >, 0.8);

  found_frac = fake_ring_fraction (&shot, &r, TRUE, &n_found);
  lost_frac = fake_ring_fraction (&shot, &r, FALSE, &n_lost);
  g_test_message ("green rings: %.2f of %d found fakes, %.2f of %d lost ones", found_frac,
                  n_found, lost_frac, n_lost);
  g_assert_cmpint (n_found, >=, 20);
  g_assert_cmpfloat (found_frac, >=, 0.9);
  g_assert_cmpint (n_lost, >=, 5);
  g_assert_cmpfloat (lost_frac, <=, 0.1);

  /* The recall plot was shown when the fakes arrived, with its dashed SNR½ line where the
   * widget says (a dashed line covers well over a third of the column) and not beside it. */
  g_assert_cmpfloat (r.recall.w, >, 100);
  g_assert_true (isfinite (r.snr_half_x));
  /* The widget's origin in the screenshot may be off by a few (fractional) pixels from the
   * reported bounds: take the best column within ±6 px, and compare with a column 30 px
   * away on the side opposite to the SNR½ label (which is drawn in a darker green). */
  line = 0;
  best = 0;
  for (int dx = -6; dx <= 6; dx++)
    {
      int x = (int) floor (r.recall.x + r.snr_half_x) + dx, n = column_line_count (&shot,
                                                                                 &r.recall, x);
      if (n > line)
        {
          line = n;
          best = x;
        }
    }
  beside = column_line_count (&shot, &r.recall,
                              best + (r.snr_half_x < 0.55 * r.recall.w ? -30 : 30));
  g_test_message ("SNR½ line: %d green rows in column %d (reported %.1f), %d 30 px away "
                  "(plot %.0f px high)", line, best, r.recall.x + r.snr_half_x, beside,
                  r.recall.h);
  g_assert_cmpint (line, >, (int) (0.3 * r.recall.h));
  g_assert_cmpint (beside, <, (int) (0.1 * r.recall.h));
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
  g_test_add_func ("/overlays/detection-markers", test_detection_markers);
  g_test_add_func ("/overlays/fakes", test_fakes);
  return g_test_run ();
}
