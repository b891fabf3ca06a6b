/* test-data-views.c — blink pair and flip, header viewer search, and Export All, end to end.
 *
 * Each case runs `diffscope --screenshot=FILE.png --report=FILE.txt --action …` on the demo
 * field and judges the report (ds-window.c: pane geometry, which image each pane shows, the
 * header viewer's card and match counts, the catalogue, the files exported) and the PNG:
 *   - export-all writes the difference, matched image, kernel, metadata and catalogue; they
 *     read back with the engine's FITS reader at the demo's size, the difference's primary
 *     header carries the provenance cards, and the CSV has one row per catalogue source the
 *     window lists;
 *   - a search in the header viewer (difference) narrows the list to exactly the cards of
 *     the exported difference header that contain the text;
 *   - flipping the pair science:difference shows the difference in the science pane: the
 *     report names it, and its pixels differ strongly from the plain science pane while the
 *     template pane stays the same;
 *   - blinking difference:template marks the difference pane's title and leaves the other
 *     panes alone;
 *   - an export to a missing folder fails with a report line (banner) instead of a crash.
 *
 * Needs a display (xvfb-run -a); exits 77 without one.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "gui-test-util.h"
#include "dia-fits.h"
#include "dia-image.h"

#include <glib.h>
#include <glib/gstdio.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct
{
  GuiView views[3];
  char *roles[3];               /* "template", "science", "difference", … per pane */
  char *titles[3];
  int header_source, header_cards, header_matches;   /* -1 when no viewer */
  int n_sources;
  char *exported;               /* "a, b, c" or NULL */
  char *export_failed;          /* message or NULL */
} Report;

static void
report_clear (Report *r)
{
  for (int k = 0; k < 3; k++)
    {
      g_free (r->roles[k]);
      g_free (r->titles[k]);
    }
  g_free (r->exported);
  g_free (r->export_failed);
}

static int
pane_index (const char *name)
{
  return g_str_equal (name, "template") ? 0 : g_str_equal (name, "science") ? 1 : 2;
}

static void
report_parse (const char *text, Report *r)
{
  g_auto (GStrv) lines = NULL;

  memset (r, 0, sizeof *r);
  r->header_source = r->header_cards = r->header_matches = -1;
  lines = g_strsplit (text, "\n", -1);
  for (int i = 0; lines[i] != NULL; i++)
    {
      char name[32], role[32];
      GuiView v;
      int n = 0;

      if (sscanf (lines[i], "view %31s %lf %lf %lf %lf zoom %lf center %lf %lf", name, &v.x,
                  &v.y, &v.w, &v.h, &v.zoom, &v.cx, &v.cy) == 8)
        r->views[pane_index (name)] = v;
      else if (sscanf (lines[i], "pane %31s image %31s title %n", name, role, &n) == 2 && n > 0)
        {
          int k = pane_index (name);

          g_free (r->roles[k]);
          g_free (r->titles[k]);
          r->roles[k] = g_strdup (role);
          r->titles[k] = g_strdup (lines[i] + n);
        }
      else if (sscanf (lines[i], "header source %d cards %d matches %d", &r->header_source,
                       &r->header_cards, &r->header_matches) == 3)
        ;
      else if (g_str_has_prefix (lines[i], "source "))
        r->n_sources++;
      else if (g_str_has_prefix (lines[i], "exported "))
        r->exported = g_strdup (lines[i] + strlen ("exported "));
      else if (g_str_has_prefix (lines[i], "export-failed "))
        r->export_failed = g_strdup (lines[i] + strlen ("export-failed "));
    }
  for (int k = 0; k < 3; k++)
    {
      g_assert_cmpfloat (r->views[k].zoom, >, 0.0);
      g_assert_nonnull (r->roles[k]);
    }
}

/* Screen pixel of image coordinate (ix, iy) in view v (FITS convention: y up). */
static const guint8 *
shot_at_image (const GuiShot *shot, const GuiView *v, double ix, double iy)
{
  double sx, sy;

  gui_view_to_screen (v, ix, iy, &sx, &sy);
  return gui_shot_at (shot, (int) floor (sx), (int) floor (sy));
}

/* Mean |RGB difference| of pane k between two shots, sampled at the same image positions
 * (each shot's own geometry, so a banner that moves the panes does not matter). */
static double
pane_image_difference (const GuiShot *a, const Report *ra, const GuiShot *b, const Report *rb,
                       int k)
{
  double sum = 0;
  long n = 0;

  for (double iy = 40; iy < 2 * ra->views[k].cy - 40; iy += 7)
    for (double ix = 40; ix < 2 * ra->views[k].cx - 40; ix += 7)
      {
        const guint8 *p = shot_at_image (a, &ra->views[k], ix, iy);
        const guint8 *q = shot_at_image (b, &rb->views[k], ix, iy);

        for (int c = 0; c < 3; c++)
          sum += abs ((int) p[c] - (int) q[c]);
        n += 3;
      }
  return sum / MAX (n, 1);
}

/* Runs diffscope with the extra arguments; asserts exit status 0. */
static void
run_case (const char *const *extra, GuiShot *shot, Report *report)
{
  g_autofree char *text = gui_run_case ("ds-data-views-XXXXXX", extra, shot);

  report_parse (text, report);
}

/* The primary header's cards of a FITS file (80-character records up to END). */
static GPtrArray *
primary_header_cards (const char *path)
{
  g_autofree char *data = NULL;
  gsize len = 0;
  g_autoptr (GError) error = NULL;
  GPtrArray *cards = g_ptr_array_new_with_free_func (g_free);

  g_file_get_contents (path, &data, &len, &error);
  g_assert_no_error (error);
  for (gsize i = 0; i + 80 <= len; i += 80)
    {
      if (strncmp (data + i, "END     ", 8) == 0)
        return cards;
      g_ptr_array_add (cards, g_strndup (data + i, 80));
    }
  g_assert_not_reached ();
  return cards;
}

static int
count_cards_containing (GPtrArray *cards, const char *text)
{
  g_autofree char *needle = g_ascii_strdown (text, -1);
  int n = 0;

  for (guint i = 0; i < cards->len; i++)
    {
      g_autofree char *lower = g_ascii_strdown (g_ptr_array_index (cards, i), -1);
      n += strstr (lower, needle) != NULL;
    }
  return n;
}

static void
remove_tree (const char *dir)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;

  while (d != NULL && (name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);
      g_unlink (path);
    }
  g_rmdir (dir);
}

static void
test_export_and_header (void)
{
  g_autofree char *dir = g_dir_make_tmp ("ds-export-XXXXXX", NULL);
  g_autofree char *prefix = g_build_filename (dir, "out", NULL);
  g_autofree char *export_arg = g_strdup_printf ("--action=export-all::%s", prefix);
  const char *extra[] = { export_arg, "--action=header-search::difference:dia_k",
                          "--action=export-all::/nonexistent-folder/x", NULL };
  static const char *const suffixes[] = { "_diff.fits", "_matched.fits", "_kernel.fits",
                                          "_meta.json", "_sources.csv", "_sources.fits" };
  GuiShot shot = { 0 };
  Report r;
  g_autoptr (GError) error = NULL;
  g_autofree char *diff_path = g_strconcat (prefix, "_diff.fits", NULL);
  g_autofree char *matched_path = g_strconcat (prefix, "_matched.fits", NULL);
  g_autofree char *kernel_path = g_strconcat (prefix, "_kernel.fits", NULL);
  g_autofree char *csv_path = g_strconcat (prefix, "_sources.csv", NULL);
  g_autofree char *meta_path = g_strconcat (prefix, "_meta.json", NULL);
  g_autofree char *csv = NULL, *meta = NULL;
  g_auto (GStrv) lines = NULL;
  g_autoptr (DiaImage) diff = NULL;
  g_autoptr (DiaImage) matched = NULL;
  g_autoptr (DiaImage) kernel = NULL;
  g_autoptr (GPtrArray) cards = NULL;
  int rows = 0, width = 0;

  run_case (extra, &shot, &r);
  g_test_message ("exported: %s", r.exported);
  g_assert_nonnull (r.exported);
  /* The export to a missing folder failed into the banner; the app carried on. */
  g_test_message ("failed export: %s", r.export_failed);
  g_assert_nonnull (r.export_failed);
  g_assert_nonnull (strstr (r.export_failed, "nonexistent-folder"));
  for (size_t i = 0; i < G_N_ELEMENTS (suffixes); i++)
    {
      g_autofree char *path = g_strconcat (prefix, suffixes[i], NULL);
      g_autofree char *base = g_strconcat ("out", suffixes[i], NULL);

      g_assert_true (g_file_test (path, G_FILE_TEST_IS_REGULAR));
      g_assert_nonnull (strstr (r.exported, base));
    }

  /* The images read back at the demo's size (the fitted view's centre is (W − 1) / 2). */
  width = (int) lround (2 * r.views[0].cx + 1);
  diff = dia_fits_read_image (diff_path, &error);
  g_assert_no_error (error);
  g_assert_cmpint (diff->width, ==, width);
  g_assert_cmpint (diff->height, ==, (int) lround (2 * r.views[0].cy + 1));
  g_assert_nonnull (diff->var);
  matched = dia_fits_read_image (matched_path, &error);
  g_assert_no_error (error);
  g_assert_cmpint (matched->width, ==, width);
  kernel = dia_fits_read_image (kernel_path, &error);
  g_assert_no_error (error);
  g_assert_cmpint (kernel->width, ==, kernel->height);
  g_assert_cmpint (kernel->width % 5, ==, 0);            /* a 5 × 5 mosaic of kernels */
  cards = primary_header_cards (diff_path);
  g_assert_cmpint (count_cards_containing (cards, "DIA_FLAV"), ==, 1);
  g_file_get_contents (meta_path, &meta, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (strstr (meta, "\"flavor\""));

  /* One CSV row per source the window lists, after the comments and the column names. */
  g_file_get_contents (csv_path, &csv, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (csv, "# difference: "));
  lines = g_strsplit (csv, "\n", -1);
  for (int i = 0; lines[i] != NULL; i++)
    rows += lines[i][0] != '\0' && lines[i][0] != '#';
  rows -= 1;
  g_test_message ("catalogue: %d CSV rows, %d sources in the window", rows, r.n_sources);
  g_assert_cmpint (r.n_sources, >, 10);
  g_assert_cmpint (rows, ==, r.n_sources);

  /* The header viewer on the difference: "dia_k" keeps exactly the cards with that text. */
  g_test_message ("header: source %d, %d cards, %d match", r.header_source, r.header_cards,
                  r.header_matches);
  g_assert_cmpint (r.header_source, ==, 2);
  g_assert_cmpint (r.header_cards, >, 20);
  g_assert_cmpint (r.header_matches, ==, count_cards_containing (cards, "dia_k"));
  g_assert_cmpint (r.header_matches, >=, 5);
  g_assert_cmpint (r.header_matches, <, r.header_cards);

  g_free (shot.pixels);
  report_clear (&r);
  remove_tree (dir);
}

static void
test_flip_and_blink (void)
{
  const char *flip[] = { "--action=blink-pair::science:difference", "--action=flip", NULL };
  const char *blink[] = { "--action=blink-pair::Difference:Template",
                          "--action=blink-interval::1.2", "--action=blink", NULL };
  GuiShot a = { 0 }, b = { 0 };
  Report ra, rb;
  double science_change, template_change;

  run_case (flip, &a, &ra);
  run_case (blink, &b, &rb);

  /* Flip: the science pane shows the difference; its title says so. */
  g_assert_cmpstr (ra.roles[1], ==, "difference");
  g_assert_cmpstr (ra.roles[0], ==, "template");
  g_assert_nonnull (strstr (ra.titles[1], "flipped"));
  /* Blink (first phase or second): the difference pane blinks, the others keep theirs. */
  g_assert_cmpstr (rb.roles[1], ==, "science");
  g_assert_cmpstr (rb.roles[0], ==, "template");
  g_assert_true (g_str_equal (rb.roles[2], "difference") || g_str_equal (rb.roles[2], "template"));
  g_assert_nonnull (strstr (rb.titles[2], "blinking"));

  science_change = pane_image_difference (&a, &ra, &b, &rb, 1);
  template_change = pane_image_difference (&a, &ra, &b, &rb, 0);
  g_test_message ("pane change flip vs plain: science %.1f, template %.1f", science_change,
                  template_change);
  g_assert_cmpfloat (science_change, >, 5.0);
  g_assert_cmpfloat (template_change, <, 2.0);

  g_free (a.pixels);
  g_free (b.pixels);
  report_clear (&ra);
  report_clear (&rb);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  if (g_getenv ("DISPLAY") == NULL && g_getenv ("WAYLAND_DISPLAY") == NULL)
    {
      g_printerr ("no display; run under xvfb-run\n");
      return 77;
    }
  g_test_add_func ("/data-views/export-and-header", test_export_and_header);
  g_test_add_func ("/data-views/flip-and-blink", test_flip_and_blink);
  return g_test_run ();
}
