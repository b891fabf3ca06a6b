/* dia-subtract-io.c — files and metadata of a subtraction (see dia-subtract-io.h).
 *
 * Header keys follow the short DIA_* names (8 characters, readable by every FITS tool); the
 * full parameter set goes in HIERARCH cards so that a difference file alone says how it was
 * made.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "dia-subtract-io.h"
#include "dia-error.h"
#include "dia-fits.h"
#include "dia-image.h"
#include "dia-diagnostics.h"
#include "dia-json.h"
#include "dia-params.h"

#include <glib/gi18n-lib.h>
#include <math.h>
#include <string.h>

static char *
io_dup_sigmas (const DiaBasisConfig *b)
{
  GString *s = g_string_new (NULL);
  for (int i = 0; i < b->n_gauss; i++)
    g_string_append_printf (s, "%s%.4f", i ? "," : "", b->sigma[i]);
  return g_string_free (s, FALSE);
}

static char *
io_dup_degrees (const DiaBasisConfig *b)
{
  GString *s = g_string_new (NULL);
  for (int i = 0; i < b->n_gauss; i++)
    g_string_append_printf (s, "%s%d", i ? "," : "", b->degree[i]);
  return g_string_free (s, FALSE);
}

static const char *
io_basis_mode (DiaBasisMode m)
{
  switch (m)
    {
    case DIA_BASIS_MODE_CONVOLUTION: return "convolution";
    case DIA_BASIS_MODE_DECONVOLUTION: return "deconvolution";
    default: return "config";
    }
}

DiaHeaderCards *
dia_subtract_dup_header_cards (const DiaSubtractResult *result, const char *template_path,
                               const char *science_path)
{
  const DiaSubtractPlan *plan = result->plan;
  const DiaSubtractInfo *info = &plan->info;
  DiaHeaderCards *c = dia_header_cards_new ();
  g_autofree char *sig = io_dup_sigmas (&info->basis);
  g_autofree char *deg = io_dup_degrees (&info->basis);
  int n;
  const DiaParamInfo *table = dia_params_table (&n);

  dia_header_cards_add_string (c, "ORIGIN", "Diffscope " DIFFSCOPE_VERSION, "software");
  if (template_path)
    dia_header_cards_add_string (c, "DIA_TMPL", template_path, "template input");
  if (science_path)
    dia_header_cards_add_string (c, "DIA_SCI", science_path, "science input");
  dia_header_cards_add_string (c, "DIA_FLAV", info->flavor ? info->flavor->name : "?",
                               "subtraction flavour");
  dia_header_cards_add_string (c, "DIA_CONV", info->convolve_template ? "Template" : "Science",
                               "image convolved with the kernel");
  dia_header_cards_add_string (c, "DIA_FSCL", "science",
                               "difference is on the science flux scale");
  if (info->forced_preconvolve_fwhm > 0)
    dia_header_cards_add_double (c, "DIA_PREF", info->forced_preconvolve_fwhm,
                                 "unconvolved image pre-smoothed (FWHM, px)");
  dia_header_cards_add_double (c, "DIA_KSUM", info->kernel_sum_centre, "kernel sum at centre");
  dia_header_cards_add_double (c, "DIA_KMIN", info->kernel_sum_min, "min kernel sum (9x9 grid)");
  dia_header_cards_add_double (c, "DIA_KMAX", info->kernel_sum_max, "max kernel sum (9x9 grid)");
  dia_header_cards_add_double (c, "DIA_KDX", info->kernel_dx_centre, "kernel centroid dx, px");
  dia_header_cards_add_double (c, "DIA_KDY", info->kernel_dy_centre, "kernel centroid dy, px");
  dia_header_cards_add_double (c, "DIA_COND", info->condition_number, "spatial condition number");
  dia_header_cards_add_int (c, "DIA_KSIZ", info->basis.size, "kernel size, px");
  dia_header_cards_add_string (c, "DIA_SIGS", sig, "basis Gaussian sigmas, px");
  dia_header_cards_add_string (c, "DIA_DEGS", deg, "basis polynomial degrees");
  dia_header_cards_add_string (c, "DIA_BMOD", io_basis_mode (info->basis.mode), "basis mode");
  dia_header_cards_add_double (c, "DIA_FWT", info->fwhm_template, "template PSF FWHM, px");
  dia_header_cards_add_double (c, "DIA_FWS", info->fwhm_science, "science PSF FWHM, px");
  dia_header_cards_add_double (c, "DIA_FWR", info->fwhm_science / info->fwhm_template,
                               "PSF FWHM ratio science/template");
  dia_header_cards_add_int (c, "DIA_SPOR", info->spatial_order_used, "kernel spatial order used");
  dia_header_cards_add_int (c, "DIA_BGOR", info->bg_order_used, "background order used");
  dia_header_cards_add_int (c, "DIA_NSTM", info->n_stamps_total, "kernel candidates");
  dia_header_cards_add_int (c, "DIA_NSTU", info->n_stamps_used, "stamps used");
  dia_header_cards_add_int (c, "DIA_NSTR", info->n_stamps_rejected, "stamps rejected");
  dia_header_cards_add_double (c, "DIA_SIGR", result->diff_sigma_ratio,
                               "robust sigma of D/sqrt(V)");
  dia_header_cards_add_double (c, "DIA_SIGF", result->diff_sigma_ratio_stars,
                               "same on stamp footprints");
  for (int i = 0; i < n; i++)
    {
      g_autofree char *v = dia_params_dup_value (&plan->request, table[i].key);
      g_autofree char *k = g_strdup_printf ("DIA P %s", table[i].key);
      if (table[i].stage != DIA_STAGE_NONE)
        dia_header_cards_add_string (c, k, v, NULL);
    }
  return c;
}

gboolean
dia_subtract_write_kernel (const DiaSubtractPlan *plan, const char *path, int n_grid,
                           GError **error)
{
  const DiaKernelSolution *sol = plan->kernel;
  int size, W, H, nrows, ncols;
  g_autofree float *mosaic = NULL;
  g_autofree float *coefs = NULL;
  g_autoptr (DiaHeaderCards) cards = dia_header_cards_new ();
  g_autoptr (DiaHeaderCards) ccards = dia_header_cards_new ();

  if (sol == NULL)
    {
      g_set_error (error, DIA_ERROR, DIA_ERROR_INVALID,
                   _("The %s flavour has no matching kernel to write"), plan->flavor->name);
      return FALSE;
    }
  size = sol->config.size;
  W = plan->science_image->width;
  H = plan->science_image->height;
  mosaic = g_new0 (float, (size_t) n_grid * size * n_grid * size);
  dia_header_cards_add_int (cards, "KGRIDN", n_grid, "kernels per axis in this mosaic");
  dia_header_cards_add_int (cards, "KSIZE", size, "kernel side, px");
  dia_header_cards_add_string (cards, "KCONV", "correlation",
                               "out(x,y) = sum K(u,v) in(x+u,y+v), centre at (h,h)");
  for (int j = 0; j < n_grid; j++)
    for (int i = 0; i < n_grid; i++)
      {
        double x = n_grid > 1 ? i * (W - 1.0) / (n_grid - 1) : (W - 1) / 2.0;
        double y = n_grid > 1 ? j * (H - 1.0) / (n_grid - 1) : (H - 1) / 2.0;
        g_autofree float *k = g_new (float, (size_t) size * size);
        dia_kernel_solution_eval (sol, x, y, k);
        for (int v = 0; v < size; v++)
          memcpy (mosaic + ((size_t) (j * size + v) * n_grid * size) + (size_t) i * size,
                  k + (size_t) v * size, sizeof (float) * size);
        if (j == 0)
          {
            g_autofree char *key = g_strdup_printf ("KGRIDX%d", i);
            dia_header_cards_add_double (cards, key, x, "x of mosaic column (0-based px)");
          }
        if (i == 0)
          {
            g_autofree char *key = g_strdup_printf ("KGRIDY%d", j);
            dia_header_cards_add_double (cards, key, y, "y of mosaic row (0-based px)");
          }
      }
  if (!dia_fits_write_plane (path, mosaic, n_grid * size, n_grid * size, (size_t) n_grid * size,
                             cards, error))
    return FALSE;
  if (!dia_fits_append_plane (path, "BASIS", sol->basis, size, size * sol->n_basis,
                              (size_t) size, NULL, error))
    return FALSE;
  nrows = sol->n_basis + (sol->n_bg > 0 ? 1 : 0);
  ncols = MAX (sol->n_spatial, sol->n_bg);
  coefs = g_new0 (float, (size_t) nrows * ncols);
  coefs[0] = (float) sol->coef[0];
  for (int b = 1; b < sol->n_basis; b++)
    for (int m = 0; m < sol->n_spatial; m++)
      coefs[(size_t) b * ncols + m] = (float) sol->coef[1 + (b - 1) * sol->n_spatial + m];
  for (int m = 0; m < sol->n_bg; m++)
    coefs[(size_t) sol->n_basis * ncols + m]
        = (float) sol->coef[1 + (sol->n_basis - 1) * sol->n_spatial + m];
  dia_header_cards_add_int (ccards, "NBASIS", sol->n_basis, "rows 0..NBASIS-1: basis coefs");
  dia_header_cards_add_int (ccards, "SPORDER", sol->spatial_order, "Chebyshev order of kernel");
  dia_header_cards_add_int (ccards, "BGORDER", sol->n_bg > 0 ? sol->bg_order : -1,
                            "Chebyshev order of background (last row)");
  dia_header_cards_add_double (ccards, "DOMXMIN", sol->domain[0], "Chebyshev domain");
  dia_header_cards_add_double (ccards, "DOMXMAX", sol->domain[1], NULL);
  dia_header_cards_add_double (ccards, "DOMYMIN", sol->domain[2], NULL);
  dia_header_cards_add_double (ccards, "DOMYMAX", sol->domain[3], NULL);
  return dia_fits_append_plane (path, "COEFFS", coefs, ncols, nrows, (size_t) ncols, ccards,
                                error);
}

static void
io_json_timings (DiaJson *j, const char *key, const GArray *t)
{
  dia_json_begin_object (j, key);
  for (guint i = 0; t && i < t->len; i++)
    {
      const DiaStageTiming *s = &g_array_index (t, DiaStageTiming, i);
      dia_json_double (j, s->stage, s->ms);
    }
  dia_json_end_object (j);
}

char *
dia_subtract_dup_meta_json (const DiaSubtractResult *result, const char *template_path,
                            const char *science_path)
{
  const DiaSubtractPlan *plan = result->plan;
  const DiaSubtractInfo *info = &plan->info;
  const DiaKernelSolution *sol = plan->kernel;
  g_autoptr (DiaJson) j = dia_json_new ();
  int n, counts[DIA_STAMP_REJECT_SINGULAR + 1] = { 0 };
  const DiaParamInfo *table = dia_params_table (&n);
  char *text;

  dia_json_begin_object (j, NULL);
  dia_json_string (j, "software", "Diffscope " DIFFSCOPE_VERSION);
  dia_json_string (j, "template", template_path);
  dia_json_string (j, "science", science_path);
  dia_json_string (j, "flavor", info->flavor ? info->flavor->name : NULL);
  dia_json_string (j, "requested_flavor", dia_flavor_get (plan->request.flavor)->name);
  dia_json_string (j, "convolved", info->convolve_template ? "template" : "science");
  dia_json_string (j, "flux_scale", "science");
  /* The requested direction would have deconvolved: the sharper image was smoothed first
   * (dia-flavor-al.c); 0 when not. */
  dia_json_double (j, "forced_preconvolve_fwhm", info->forced_preconvolve_fwhm);
  dia_json_begin_object (j, "region");
  dia_json_int (j, "x", result->region.x);
  dia_json_int (j, "y", result->region.y);
  dia_json_int (j, "width", result->region.width);
  dia_json_int (j, "height", result->region.height);
  dia_json_end_object (j);

  dia_json_begin_object (j, "psf");
  dia_json_double (j, "fwhm_template", info->fwhm_template);
  dia_json_double (j, "fwhm_science", info->fwhm_science);
  dia_json_double (j, "fwhm_ratio", info->fwhm_science / info->fwhm_template);
  if (plan->psf_template)
    {
      g_autofree char *d = dia_psf_dup_description (plan->psf_template);
      dia_json_string (j, "template_model", d);
    }
  if (plan->psf_science)
    {
      g_autofree char *d = dia_psf_dup_description (plan->psf_science);
      dia_json_string (j, "science_model", d);
    }
  dia_json_bool (j, "template_gaussian_fallback", info->psf_fallback_template);
  dia_json_bool (j, "science_gaussian_fallback", info->psf_fallback_science);
  dia_json_int (j, "stars_template", info->n_stars_template);
  dia_json_int (j, "stars_science", info->n_stars_science);
  dia_json_end_object (j);

  dia_json_begin_object (j, "background");
  dia_json_double (j, "sky_template", info->sky_template);
  dia_json_double (j, "sky_science", info->sky_science);
  dia_json_double (j, "noise_template", info->noise_template);
  dia_json_double (j, "noise_science", info->noise_science);
  dia_json_end_object (j);

  if (sol)
    {
      dia_json_begin_object (j, "basis");
      dia_json_string (j, "mode", io_basis_mode (info->basis.mode));
      dia_json_int (j, "size", info->basis.size);
      dia_json_int (j, "n_basis", sol->n_basis);
      dia_json_begin_array (j, "sigmas");
      for (int i = 0; i < info->basis.n_gauss; i++)
        dia_json_double (j, NULL, info->basis.sigma[i]);
      dia_json_end_array (j);
      dia_json_begin_array (j, "degrees");
      for (int i = 0; i < info->basis.n_gauss; i++)
        dia_json_int (j, NULL, info->basis.degree[i]);
      dia_json_end_array (j);
      dia_json_end_object (j);

      dia_json_begin_object (j, "kernel");
      dia_json_double (j, "sum_centre", info->kernel_sum_centre);
      dia_json_double (j, "sum_min", info->kernel_sum_min);
      dia_json_double (j, "sum_max", info->kernel_sum_max);
      dia_json_double (j, "centroid_dx_centre", info->kernel_dx_centre);
      dia_json_double (j, "centroid_dy_centre", info->kernel_dy_centre);
      dia_json_double (j, "condition_number", info->condition_number);
      dia_json_int (j, "spatial_order", sol->spatial_order);
      dia_json_bool (j, "orders_reduced", info->orders_reduced);
      dia_json_int (j, "background_order", sol->n_bg > 0 ? sol->bg_order : -1);
      dia_json_begin_array (j, "coefficients");
      for (int i = 0; i < 1 + (sol->n_basis - 1) * sol->n_spatial + sol->n_bg; i++)
        dia_json_double (j, NULL, sol->coef[i]);
      dia_json_end_array (j);
      dia_json_end_object (j);
    }

  dia_json_begin_object (j, "stamps");
  dia_json_int (j, "total", info->n_stamps_total);
  dia_json_int (j, "used", info->n_stamps_used);
  dia_json_int (j, "rejected", info->n_stamps_rejected);
  if (plan->stamps)
    {
      for (guint i = 0; i < plan->stamps->len; i++)
        {
          const DiaStamp *s = &g_array_index (plan->stamps, DiaStamp, i);
          if ((int) s->status <= DIA_STAMP_REJECT_SINGULAR)
            counts[s->status]++;
        }
      dia_json_begin_object (j, "by_status");
      for (int k = 0; k <= DIA_STAMP_REJECT_SINGULAR; k++)
        if (counts[k])
          dia_json_int (j, dia_stamp_status_to_key (k), counts[k]);
      dia_json_end_object (j);
      dia_json_begin_array (j, "list");
      for (guint i = 0; i < plan->stamps->len; i++)
        {
          const DiaStamp *s = &g_array_index (plan->stamps, DiaStamp, i);
          dia_json_begin_object (j, NULL);
          dia_json_double (j, "x", s->x);
          dia_json_double (j, "y", s->y);
          dia_json_string (j, "status", dia_stamp_status_to_key (s->status));
          dia_json_double (j, "snr", s->snr);
          dia_json_double (j, "kernel_sum", s->kernel_sum);
          dia_json_double (j, "resid_mean", s->resid_mean);
          dia_json_double (j, "resid_rms", s->resid_rms);
          dia_json_int (j, "iteration", s->iteration);
          dia_json_end_object (j);
        }
      dia_json_end_array (j);
    }
  dia_json_end_object (j);

  dia_diagnostics_append_plan_json (plan, j);

  dia_json_begin_object (j, "quality");
  dia_json_double (j, "sigma_ratio", result->diff_sigma_ratio);
  dia_json_double (j, "sigma_ratio_stamps", result->diff_sigma_ratio_stars);
  dia_json_end_object (j);

  dia_json_begin_object (j, "timings_ms");
  io_json_timings (j, "plan", info->timings);
  io_json_timings (j, "execute", result->timings);
  dia_json_end_object (j);

  dia_json_begin_object (j, "parameters");
  for (int i = 0; i < n; i++)
    {
      g_autofree char *v = dia_params_dup_value (&plan->request, table[i].key);
      dia_json_string (j, table[i].key, v);
    }
  dia_json_end_object (j);
  dia_json_end_object (j);
  text = g_strdup (dia_json_get_text (j));
  return text;
}

gboolean
dia_subtract_write_products (const DiaSubtractResult *result, const char *prefix,
                             const char *template_path, const char *science_path,
                             GError **error)
{
  g_autoptr (DiaHeaderCards) cards = dia_subtract_dup_header_cards (result, template_path,
                                                                    science_path);
  g_autofree char *diff_path = g_strconcat (prefix, "_diff.fits", NULL);
  g_autofree char *matched_path = g_strconcat (prefix, "_matched.fits", NULL);
  g_autofree char *kernel_path = g_strconcat (prefix, "_kernel.fits", NULL);
  g_autofree char *meta_path = g_strconcat (prefix, "_meta.json", NULL);
  g_autofree char *json = NULL;
  g_autofree char *json_nl = NULL;

  if (!dia_fits_write_image (diff_path, result->diff, cards, error))
    return FALSE;
  if (result->matched && !dia_fits_write_image (matched_path, result->matched, cards, error))
    return FALSE;
  if (result->plan->kernel && !dia_subtract_write_kernel (result->plan, kernel_path, 5, error))
    return FALSE;
  json = dia_subtract_dup_meta_json (result, template_path, science_path);
  json_nl = g_strconcat (json, "\n", NULL);
  return g_file_set_contents (meta_path, json_nl, -1, error);
}
