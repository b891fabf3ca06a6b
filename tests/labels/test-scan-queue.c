/* test-scan-queue.c — taxonomy parsing and the three kinds of scanning queue, headless.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "ds-scan-queue.h"
#include "ds-scan-taxonomy.h"
#include "test-util.h"

#include <math.h>
#include <string.h>

static void
test_taxonomy_default (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (DsScanTaxonomy) builtin = ds_scan_taxonomy_new_default ();
  g_autofree char *path = g_build_filename (g_getenv ("DIFFSCOPE_SOURCE_ROOT"), "data",
                                            "taxonomy-default.txt", NULL);
  g_autoptr (DsScanTaxonomy) file = ds_scan_taxonomy_new_from_file (path, &error);
  const char *keys = "123456789abcdefu";

  g_assert_no_error (error);
  g_assert_cmpuint (builtin->labels->len, ==, 16);
  g_assert_cmpuint (file->labels->len, ==, builtin->labels->len);
  for (guint i = 0; i < builtin->labels->len; i++)
    {
      DsScanLabel *a = builtin->labels->pdata[i], *b = file->labels->pdata[i];
      g_assert_cmpstr (a->label, ==, b->label);
      g_assert_cmpstr (a->group, ==, b->group);
      g_assert_cmpint (a->key, ==, b->key);
      g_assert_cmpint (a->key, ==, (gunichar) keys[i]);
    }
  g_assert_cmpstr (ds_scan_taxonomy_lookup_key (builtin, '1')->label, ==, "transient");
  g_assert_cmpstr (ds_scan_taxonomy_lookup_key (builtin, 'A')->label, ==, "cosmic ray");
  g_assert_cmpstr (ds_scan_taxonomy_lookup_key (builtin, 'u')->group, ==, "unsure");
  g_assert_null (ds_scan_taxonomy_lookup_key (builtin, 'n'));
}

static void
test_taxonomy_errors (void)
{
  g_autoptr (GError) error = NULL;
  DsScanTaxonomy *t;
  const char *bad[] = {
    "real | a\nreal | a\n",           /* duplicate label */
    "real | a | n\n",                 /* reserved key */
    "real | a | 1\nbogus | b | 1\n",  /* duplicate key */
    "real\n",                         /* no label */
    "# only comments\n",
    "real | a | xy\n",
  };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      t = ds_scan_taxonomy_new_from_text (bad[i], "t.txt", &error);
      g_assert_null (t);
      g_assert_nonnull (error);
      g_assert_nonnull (strstr (error->message, "t.txt"));
      g_clear_error (&error);
    }
  /* Explicit keys are kept and automatic keys skip them. */
  t = ds_scan_taxonomy_new_from_text ("g | a\ng | b | 1\ng | c\n", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (((DsScanLabel *) t->labels->pdata[0])->key, ==, '2');
  g_assert_cmpint (((DsScanLabel *) t->labels->pdata[1])->key, ==, '1');
  g_assert_cmpint (((DsScanLabel *) t->labels->pdata[2])->key, ==, '3');
  ds_scan_taxonomy_free (t);
}

static void
test_queue_cutouts (void)
{
  g_autofree char *folder = test_real_path ("B_alerts/ztf/cutouts");
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) q = NULL;
  DsScanCandidate *first;
  guint n_snr = 0;

  if (folder == NULL)
    return;
  q = ds_scan_queue_load (folder, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (q->len, ==, 38);
  for (guint i = 0; i < q->len; i++)
    {
      DsScanCandidate *c = q->pdata[i];
      g_assert_true (c->is_cutout);
      g_assert_true (g_file_test (c->science_path, G_FILE_TEST_IS_REGULAR));
      g_assert_true (g_file_test (c->template_path, G_FILE_TEST_IS_REGULAR));
      g_assert_true (g_file_test (c->difference_path, G_FILE_TEST_IS_REGULAR));
      if (i > 0)
        g_assert_cmpint (strcmp (((DsScanCandidate *) q->pdata[i - 1])->id, c->id), <, 0);
      n_snr += isfinite (c->snr);
    }
  /* Every alert is in alerts_index.csv: S/N = 1.0857 / sigmapsf. */
  g_assert_cmpuint (n_snr, ==, 38);
  first = q->pdata[0];
  g_assert_cmpstr (first->id, ==, "ztf_1105522281015015000");
  g_assert_cmpfloat_with_epsilon (first->snr, 1.0857 / 0.02813209407031536, 1e-6);
  g_assert_cmpfloat_with_epsilon (first->mag, 14.916227340698242, 1e-9);
  g_assert_nonnull (strstr (first->flags, "isdiffpos=t"));
  g_assert_nonnull (strstr (first->flags, "drb=1.000"));
}

static void
test_queue_list_and_catalogue (void)
{
  g_autofree char *dir = test_tmpdir_new ();
  g_autofree char *list = g_build_filename (dir, "list.txt", NULL);
  g_autofree char *cat = g_build_filename (dir, "cat.csv", NULL);
  g_autofree char *bad = g_build_filename (dir, "bad.txt", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) q = NULL;
  DsScanCandidate *c;

  g_assert_true (g_file_set_contents (list,
                                      "# template science x y\n"
                                      "ref.fits  sci.fits 10 20.5   # first\n\n"
                                      "/abs/ref.fits\t/abs/sci.fits  100.25 7 /abs/diff.fits\n",
                                      -1, NULL));
  q = ds_scan_queue_load (list, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (q->len, ==, 2);
  c = q->pdata[0];
  g_assert_cmpstr (c->id, ==, "sci.fits:10.0:20.5");
  g_assert_true (g_str_has_prefix (c->template_path, dir));
  g_assert_null (c->difference_path);
  g_assert_cmpfloat (c->y, ==, 20.5);
  c = q->pdata[1];
  g_assert_cmpstr (c->difference_path, ==, "/abs/diff.fits");
  g_assert_cmpfloat (c->x, ==, 100.25);
  g_clear_pointer (&q, g_ptr_array_unref);

  g_assert_true (g_file_set_contents (cat,
                                      "# science: sci.fits\n# template: /t/ref.fits\n"
                                      "# difference: diff.fits\n# config_hash: abc123\n"
                                      "id,X,y,snr,flux,flags\n"
                                      "c1,5,6,7.5,1200,edge\n"
                                      ",50.5,60,,,\n", -1, NULL));
  q = ds_scan_queue_load (cat, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (q->len, ==, 2);
  c = q->pdata[0];
  g_assert_cmpstr (c->id, ==, "c1");
  g_assert_cmpstr (c->template_path, ==, "/t/ref.fits");
  g_assert_cmpstr (c->config_hash, ==, "abc123");
  g_assert_cmpfloat (c->snr, ==, 7.5);
  g_assert_cmpfloat (c->flux, ==, 1200);
  g_assert_cmpstr (c->flags, ==, "edge");
  c = q->pdata[1];
  g_assert_true (g_str_has_suffix (c->id, "sci.fits:50.5:60.0"));
  g_assert_true (isnan (c->snr));
  g_clear_pointer (&q, g_ptr_array_unref);

  /* Broken inputs: errors name file and line. */
  g_assert_true (g_file_set_contents (bad, "ref.fits sci.fits ten 20\n", -1, NULL));
  g_assert_null (ds_scan_queue_load (bad, &error));
  g_assert_nonnull (strstr (error->message, "line 1"));
  g_clear_error (&error);
  g_assert_true (g_file_set_contents (bad, "\x89PNG\r\n\x1a\n\0\0\0", 11, NULL));
  g_assert_null (ds_scan_queue_load (bad, &error));
  g_assert_nonnull (error);
  g_clear_error (&error);
  g_assert_null (ds_scan_queue_load (dir, &error));   /* a folder without cutouts */
  g_assert_nonnull (error);
  g_clear_error (&error);
  test_tmpdir_remove (dir);
}

int
main (int argc, char **argv)
{
  test_init (&argc, &argv);
  g_test_add_func ("/scan/taxonomy-default", test_taxonomy_default);
  g_test_add_func ("/scan/taxonomy-errors", test_taxonomy_errors);
  g_test_add_func ("/scan/queue-cutouts", test_queue_cutouts);
  g_test_add_func ("/scan/queue-list-catalogue", test_queue_list_and_catalogue);
  return g_test_run ();
}
