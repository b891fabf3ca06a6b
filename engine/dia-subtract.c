/* dia-subtract.c — the subtraction pipeline: plan (backgrounds, PSFs, stamps, kernel) and
 * execute (convolve and subtract a region), flavour-agnostic.
 *
 * Stage order in dia_subtract_plan(): validate → background (both images) → stars → PSF (both)
 * → flavour prepare (basis from the FWHMs, stamps, kernel fit) → kernel diagnostics.  Each stage
 * checks the monitor and appends its wall time to info.timings.  The inputs are only read.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "dia-subtract-private.h"
#include "dia-background.h"
#include "dia-convolve.h"
#include "dia-decorrelate.h"
#include "dia-error.h"
#include "dia-image.h"
#include "dia-monitor.h"
#include "dia-parallel.h"
#include "dia-params.h"
#include "dia-scale-variance.h"
#include "dia-stats.h"

#include <glib/gi18n-lib.h>
#include <math.h>
#include <string.h>

/* Result flag carried from execute to the flavour's apply (the flavour API stays small). */
typedef struct
{
  DiaSubtractResult pub;
  gboolean keep_matched;
} SubtractResultPrivate;

void
dia_subtract_timing_add (GArray *timings, const char *stage, double ms)
{
  DiaStageTiming t = { stage, ms };
  g_array_append_val (timings, t);
}

static double
subtract_ms_since (gint64 t0)
{
  return (g_get_monotonic_time () - t0) / 1000.0;
}

void
dia_subtract_request_init (DiaSubtractRequest *request)
{
  int n;
  const DiaParamInfo *table = dia_params_table (&n);

  memset (request, 0, sizeof *request);
  request->version = DIA_REQUEST_VERSION;
  dia_basis_params_init (&request->basis);
  dia_kernel_fit_params_init (&request->fit);
  dia_stamp_params_init (&request->stamps);
  dia_psf_params_init (&request->psf);
  /* The table's defaults win over the module defaults, so there is one source of truth. */
  for (int pass = 0; pass < 2; pass++)
    for (int i = 0; i < n; i++)
      {
        gboolean is_list = table[i].type == DIA_PARAM_DLIST || table[i].type == DIA_PARAM_ILIST;
        if ((pass == 0) == is_list)
          continue;
        if (!dia_params_set (request, table[i].key, table[i].default_value, NULL))
          g_error ("bad default for parameter %s", table[i].key);
      }
}

gboolean
dia_subtract_request_validate (const DiaSubtractRequest *request, GError **error)
{
  int n;
  const DiaParamInfo *table = dia_params_table (&n);
  DiaSubtractRequest copy = *request;

  for (int i = 0; i < n; i++)
    {
      g_autofree char *v = dia_params_dup_value (request, table[i].key);
      if (!dia_params_set (&copy, table[i].key, v, error))
        return FALSE;
    }
  if (request->basis.size_min > request->basis.size_max)
    {
      g_set_error (error, DIA_ERROR, DIA_ERROR_INVALID,
                   _("kernel.size_min (%d) is larger than kernel.size_max (%d)"),
                   request->basis.size_min, request->basis.size_max);
      return FALSE;
    }
  if (request->stamps.min_snr >= request->stamps.max_snr
      || request->psf.min_snr >= request->psf.max_snr)
    {
      g_set_error (error, DIA_ERROR, DIA_ERROR_INVALID,
                   _("The S/N window of stamps or PSF stars is empty (minimum ≥ maximum)"));
      return FALSE;
    }
  return TRUE;
}

DiaSubtractPlan *
dia_subtract_plan_ref (DiaSubtractPlan *plan)
{
  g_return_val_if_fail (plan != NULL, NULL);
  g_atomic_int_inc (&plan->ref_count);
  return plan;
}

void
dia_subtract_plan_unref (DiaSubtractPlan *plan)
{
  if (plan == NULL || !g_atomic_int_dec_and_test (&plan->ref_count))
    return;
  if (plan->flavor_data_free)
    plan->flavor_data_free (plan->flavor_data);
  dia_image_unref (plan->template_image);
  dia_image_unref (plan->science_image);
  if (plan->base == NULL)
    {
      dia_background_free (plan->bg_template);
      dia_background_free (plan->bg_science);
    }
  dia_subtract_plan_unref (plan->base);
  if (plan->stars_template)
    g_array_unref (plan->stars_template);
  if (plan->stars_science)
    g_array_unref (plan->stars_science);
  dia_psf_unref (plan->psf_template);
  dia_psf_unref (plan->psf_science);
  if (plan->stamps)
    g_array_unref (plan->stamps);
  dia_kernel_solution_unref (plan->kernel);
  if (plan->info.timings)
    g_array_unref (plan->info.timings);
  g_free (plan);
}

void
_dia_subtract_psf_axis_fwhm (const DiaPsf *psf, const DiaImage *image, double *fx, double *fy)
{
  double ixx, iyy, ixy;
  dia_psf_moments (psf, (image->width - 1) / 2.0, (image->height - 1) / 2.0, &ixx, &iyy, &ixy);
  *fx = 2.35482 * sqrt (MAX (ixx, 0.0));
  *fy = 2.35482 * sqrt (MAX (iyy, 0.0));
}

/* FWHM for a Gaussian stand-in PSF: the header's FWHM/SEEING when given, else the median
 * moment FWHM of the most compact quarter of the unsaturated, non-cosmic detections with S/N
 * above 20 (at least 5 of them).  NAN when neither exists. */
static double
subtract_fallback_fwhm (const DiaImage *image, const GArray *stars)
{
  g_autofree float *w = NULL;
  gint64 n = 0;
  const guint bad = DIA_STAR_SATURATED | DIA_STAR_MASKED | DIA_STAR_EDGE | DIA_STAR_COSMIC;

  if (isfinite (image->meta.psf_fwhm) && image->meta.psf_fwhm > 0.5)
    return image->meta.psf_fwhm;
  if (stars == NULL || stars->len == 0)
    return NAN;
  w = g_new (float, stars->len);
  for (guint i = 0; i < stars->len; i++)
    {
      const DiaStar *st = &g_array_index (stars, DiaStar, i);
      if ((st->flags & bad) || !(st->snr > 20) || !(st->ixx > 0) || !(st->iyy > 0))
        continue;
      w[n++] = (float) (2.35482 * sqrt (0.5 * (st->ixx + st->iyy)));
    }
  if (n < 5)
    return NAN;
  /* Median of the smallest quarter: compact sources are the stars. */
  return dia_stats_select (w, n, n / 8);
}

/* How many stars an image's list needs (dia_stars_find measures twice as many maxima, the
 * most significant).  The template's list only feeds its PSF; the science list feeds its PSF
 * and the kernel stamps, of which the fit keeps stamps.max_stamps, and a few times as many
 * candidates leave room for the rejections (saturated, crowded, masked, S/N window) and the
 * reserves that replace stamps the fit rejects.  On a 4096² simulated pair the caps leave
 * 2000 of ~8700 template and 4000 of ~7200 science maxima to measure. */
static int
subtract_star_cap (const DiaSubtractRequest *req, gboolean is_science)
{
  int cap = MAX (1000, 10 * req->psf.max_stars);
  if (is_science)
    cap = MAX (cap, 5 * req->stamps.max_stamps);
  return cap;
}

/* Measures background, stars and PSF of one image; `which` names it in messages.  Stage times
 * go to `timings` (not the plan's array) so that the two images can be measured on two threads
 * at once; the only plan fields written are the image's own psf_fallback_* flag. */
static gboolean
subtract_measure_image (DiaSubtractPlan *plan, DiaImage *image, gboolean is_science,
                        const char *which, GArray *timings,
                        DiaBackground **bg_out, GArray **stars_out, DiaPsf **psf_out,
                        DiaMonitor *monitor, GError **error)
{
  const DiaSubtractRequest *req = &plan->request;
  g_autoptr (GError) local = NULL;
  gint64 t0 = g_get_monotonic_time ();

  *bg_out = dia_background_estimate (image, req->bg_mesh, DIA_MASK_UNUSABLE, monitor, &local);
  if (*bg_out == NULL)
    goto fail;
  dia_subtract_timing_add (timings,
                           is_science ? "science background" : "template background",
                           subtract_ms_since (t0));
  t0 = g_get_monotonic_time ();
  /* The template's stars only feed its PSF, whose stars start at psf.min_snr; searching it
   * down to three quarters of that is enough to flag their crowded neighbours and costs far less than the
   * science image's deeper search (whose stars are also the kernel stamps). */
  *stars_out = dia_stars_find (image, *bg_out,
                               is_science ? req->star_threshold
                                          : MAX (req->star_threshold, 0.75 * req->psf.min_snr),
                               subtract_star_cap (req, is_science), monitor, &local);
  if (*stars_out == NULL)
    goto fail;
  dia_subtract_timing_add (timings, is_science ? "science stars" : "template stars",
                           subtract_ms_since (t0));
  t0 = g_get_monotonic_time ();
  *psf_out = dia_psf_estimate (image, *bg_out, *stars_out, &req->psf, monitor, &local);
  if (*psf_out == NULL && local->code == DIA_ERROR_NO_STARS)
    {
      /* Crowded or galaxy-dominated fields (a cluster core, a resampled JWST mosaic) may have
       * too few clean stars for a PSF model, yet the kernel fit only needs the two PSF widths
       * to size its basis.  Fall back to a Gaussian of the header FWHM, or of the width of the
       * most compact detected sources, and say so in the metadata. */
      double fwhm = subtract_fallback_fwhm (image, *stars_out);
      if (isfinite (fwhm))
        {
          g_clear_error (&local);
          *psf_out = dia_psf_new_gaussian (fwhm);
          if (is_science)
            plan->info.psf_fallback_science = TRUE;
          else
            plan->info.psf_fallback_template = TRUE;
        }
    }
  if (*psf_out == NULL)
    goto fail;
  dia_subtract_timing_add (timings, is_science ? "science psf" : "template psf",
                           subtract_ms_since (t0));
  return TRUE;

fail:
  if (local->code == DIA_ERROR_CANCELLED)
    g_propagate_error (error, g_steal_pointer (&local));
  else
    g_set_error (error, DIA_ERROR, local->code, _("%s image (%s): %s"), which,
                 image->source ? image->source : _("in memory"), local->message);
  return FALSE;
}

/* The template's measurement, run on a second thread by subtract_measure_pair(). */
typedef struct
{
  DiaSubtractPlan *plan;
  DiaImage *image;
  GArray *timings;
  DiaMonitor *monitor;
  GError *error;
  gboolean ok;
} SubtractMeasureJob;

static gpointer
subtract_measure_template_thread (gpointer data)
{
  SubtractMeasureJob *job = data;
  DiaSubtractPlan *plan = job->plan;

  job->ok = subtract_measure_image (plan, job->image, FALSE, _("Template"), job->timings,
                                    &plan->bg_template, &plan->stars_template,
                                    &plan->psf_template, job->monitor, &job->error);
  return NULL;
}

/* Measures both images.  With n_threads ≥ 2 the template is measured on its own thread while
 * the calling thread measures the science image: the stages are independent (each writes only
 * its own plan fields), and overlapping them hides their serial parts (peak finding, PSF star
 * selection, GSL fits) that a parallel loop inside one image cannot.  The stages' own parallel
 * loops still run inside each thread — that is two separate dia_parallel_for() calls, not a
 * nested one — so the cores stay busy when one image finishes first.  The results are identical
 * to the sequential order; stage times are then wall times under contention. */
static gboolean
subtract_measure_pair (DiaSubtractPlan *plan, DiaImage *tmpl, DiaImage *sci, DiaMonitor *monitor,
                       GError **error)
{
  g_autoptr (GArray) t_sci = g_array_new (FALSE, FALSE, sizeof (DiaStageTiming));
  g_autoptr (GArray) t_tmpl = g_array_new (FALSE, FALSE, sizeof (DiaStageTiming));
  int nt = plan->request.n_threads > 0 ? plan->request.n_threads : dia_parallel_default_threads ();
  SubtractMeasureJob job = { plan, tmpl, t_tmpl, monitor, NULL, TRUE };
  g_autoptr (GError) sci_error = NULL;
  GThread *thread = NULL;
  gboolean sci_ok;

  if (nt >= 2)
    thread = g_thread_try_new ("dia-measure", subtract_measure_template_thread, &job, NULL);
  sci_ok = subtract_measure_image (plan, sci, TRUE, _("Science"), t_sci, &plan->bg_science,
                                   &plan->stars_science, &plan->psf_science, monitor, &sci_error);
  if (thread != NULL)
    g_thread_join (thread);
  else if (sci_ok)
    {
      dia_monitor_stage (monitor, "measure", 0.5);
      subtract_measure_template_thread (&job);
    }
  else
    job.ok = FALSE;

  /* The science image's error first, as in the sequential order. */
  if (!sci_ok)
    {
      g_clear_error (&job.error);
      g_propagate_error (error, g_steal_pointer (&sci_error));
      return FALSE;
    }
  if (!job.ok)
    {
      g_propagate_error (error, job.error);
      return FALSE;
    }
  g_array_append_vals (plan->info.timings, t_sci->data, t_sci->len);
  g_array_append_vals (plan->info.timings, t_tmpl->data, t_tmpl->len);
  return TRUE;
}

DiaSubtractPlan *
dia_subtract_plan (DiaImage *tmpl, DiaImage *sci, const DiaSubtractRequest *request,
                   DiaMonitor *monitor, GError **error)
{
  return dia_subtract_plan_with_psfs (tmpl, sci, NULL, NULL, request, monitor, error);
}

DiaSubtractPlan *
dia_subtract_plan_with_psfs (DiaImage *tmpl, DiaImage *sci, DiaPsf *psf_template,
                             DiaPsf *psf_science, const DiaSubtractRequest *request,
                             DiaMonitor *monitor, GError **error)
{
  g_autoptr (DiaSubtractPlan) plan = NULL;
  double cx, cy;

  g_return_val_if_fail (tmpl != NULL && sci != NULL && request != NULL, NULL);
  if (!dia_subtract_request_validate (request, error))
    return NULL;
  if (tmpl->width != sci->width || tmpl->height != sci->height)
    {
      g_set_error (error, DIA_ERROR, DIA_ERROR_SIZE_MISMATCH,
                   _("The template is %d×%d pixels but the science image is %d×%d; both must "
                     "be on the same pixel grid (warp the template onto the science image "
                     "first)"),
                   tmpl->width, tmpl->height, sci->width, sci->height);
      return NULL;
    }

  plan = g_new0 (DiaSubtractPlan, 1);
  plan->ref_count = 1;
  plan->request = *request;
  plan->template_image = dia_image_ref (tmpl);
  plan->science_image = dia_image_ref (sci);
  plan->input_template = tmpl;
  plan->input_science = sci;
  plan->info.timings = g_array_new (FALSE, FALSE, sizeof (DiaStageTiming));
  plan->flavor = dia_flavor_get (request->flavor);
  plan->info.variance_scale_template = plan->info.variance_scale_science = 1.0;

  /* §4.3: each input's variance plane rescaled before anything reads it (the plan then holds
   * the rescaled copies). */
  if (request->scale_variance)
    {
      gint64 t0 = g_get_monotonic_time ();
      if (!dia_scale_variance_pair (&plan->template_image, &plan->science_image,
                                    &plan->info.variance_scale_template,
                                    &plan->info.variance_scale_science, monitor, error))
        return NULL;
      tmpl = plan->template_image;
      sci = plan->science_image;
      dia_subtract_timing_add (plan->info.timings, "scale variance", subtract_ms_since (t0));
    }

  dia_monitor_stage (monitor, "measure", 0.0);
  if (!subtract_measure_pair (plan, tmpl, sci, monitor, error))
    return NULL;
  dia_monitor_stage (monitor, "measure", 1.0);
  if (psf_template != NULL)
    {
      dia_psf_unref (plan->psf_template);
      plan->psf_template = dia_psf_ref (psf_template);
    }
  if (psf_science != NULL)
    {
      dia_psf_unref (plan->psf_science);
      plan->psf_science = dia_psf_ref (psf_science);
    }

  cx = (sci->width - 1) / 2.0;
  cy = (sci->height - 1) / 2.0;
  plan->info.fwhm_template = dia_psf_fwhm (plan->psf_template, cx, cy);
  plan->info.fwhm_science = dia_psf_fwhm (plan->psf_science, cx, cy);
  plan->info.sky_template = dia_background_median_level (plan->bg_template);
  plan->info.sky_science = dia_background_median_level (plan->bg_science);
  plan->info.noise_template = dia_background_noise (plan->bg_template);
  plan->info.noise_science = dia_background_noise (plan->bg_science);
  plan->info.n_stars_template = plan->stars_template->len;
  plan->info.n_stars_science = plan->stars_science->len;

  if (!plan->flavor->prepare (plan, monitor, error))
    return NULL;
  plan->info.flavor = plan->flavor;
  return g_steal_pointer (&plan);
}

gboolean
_dia_subtract_fit_al (DiaSubtractPlan *plan, gboolean convolve_template, DiaMonitor *monitor,
                      GError **error)
{
  const DiaSubtractRequest *req = &plan->request;
  DiaImage *convolved = convolve_template ? plan->template_image : plan->science_image;
  DiaImage *reference = convolve_template ? plan->science_image : plan->template_image;
  double fwhm_c = convolve_template ? plan->info.fwhm_template : plan->info.fwhm_science;
  double fwhm_r = convolve_template ? plan->info.fwhm_science : plan->info.fwhm_template;
  DiaKernelFitParams fp = req->fit;
  DiaSubtractInfo *info = &plan->info;
  double cx = (convolved->width - 1) / 2.0, cy = (convolved->height - 1) / 2.0;
  gint64 t0 = g_get_monotonic_time ();

  plan->info.convolve_template = convolve_template;
  if (req->basis.scale_by_fwhm)
    dia_basis_config_from_fwhm (&req->basis, fwhm_c, fwhm_r, &info->basis);
  else
    dia_basis_config_from_fwhm (&req->basis, NAN, NAN, &info->basis);

  /* The fit costs time in proportion to the stamps it uses, and beyond a few hundred
   * well-spread stamps the spatial model gains nothing.  Grow the cells so that
   * n_cells × n_per_cell stays near max_stamps: the stamps stay spread over the field instead
   * of the brightest max_stamps crowding wherever the stars are. */
  if (plan->stamps == NULL)
  {
    DiaStampParams sp = req->stamps;
    double area = (double) convolved->width * convolved->height;
    int cell = (int) ceil (sqrt (area * sp.n_per_cell / MAX (sp.max_stamps, 1)));
    sp.cell_size = MAX (sp.cell_size, cell);
    info->cell_size_used = sp.cell_size;
    plan->stamps = dia_stamps_select (plan->science_image, plan->template_image,
                                      plan->stars_science, info->basis.size, &sp, error);
  }
  if (plan->stamps == NULL)
    return FALSE;
  dia_subtract_timing_add (info->timings, "stamps", subtract_ms_since (t0));
  if (!dia_monitor_check (monitor, error))
    return FALSE;

  t0 = g_get_monotonic_time ();
  fp.n_per_cell = req->stamps.n_per_cell;
  fp.n_threads = req->n_threads;
  dia_monitor_stage (monitor, "kernel fit", 0.0);
  /* A spatial field of n terms fitted through fewer than ~2n stamps extrapolates wildly (a
   * plane through 3 noisy stamp backgrounds tilts the whole difference), so start from orders
   * the available stamps can constrain. */
  {
    int n_avail = 0;
    for (guint i = 0; i < plan->stamps->len; i++)
      {
        DiaStampStatus st = g_array_index (plan->stamps, DiaStamp, i).status;
        n_avail += st == DIA_STAMP_GOOD || st == DIA_STAMP_RESERVE;
      }
    while (fp.bg_order > 0 && 2 * dia_kernel_n_terms (fp.bg_order) > n_avail)
      {
        fp.bg_order--;
        info->orders_reduced = TRUE;
      }
    while (fp.spatial_order > 0 && 2 * dia_kernel_n_terms (fp.spatial_order) > n_avail)
      {
        fp.spatial_order--;
        info->orders_reduced = TRUE;
      }
  }
  /* With few stamps (small images, sparse fields) the requested spatial orders may leave the
   * system under-constrained.  Rather than make users hand-tune, lower the orders step by step
   * (kernel first, then background) and say so in the metadata. */
  for (;;)
    {
      g_autoptr (GError) local = NULL;
      plan->kernel = dia_kernel_fit (convolved, reference, plan->stamps, &info->basis, &fp,
                                     monitor, &local);
      if (plan->kernel != NULL)
        break;
      if (local->code != DIA_ERROR_NO_STARS || (fp.spatial_order == 0 && fp.bg_order <= 0))
        {
          g_propagate_error (error, g_steal_pointer (&local));
          return FALSE;
        }
      if (fp.spatial_order > 0)
        fp.spatial_order--;
      else
        fp.bg_order--;
      info->orders_reduced = TRUE;
    }
  info->spatial_order_used = fp.spatial_order;
  info->bg_order_used = fp.bg_order;
  dia_monitor_stage (monitor, "kernel fit", 1.0);
  dia_subtract_timing_add (info->timings, "kernel fit", subtract_ms_since (t0));

  plan->k0 = dia_kernel_solution_sum (plan->kernel, cx, cy);
  info->kernel_sum_centre = plan->k0;
  info->kernel_sum_min = G_MAXDOUBLE;
  info->kernel_sum_max = -G_MAXDOUBLE;
  for (int j = 0; j < 9; j++)
    for (int i = 0; i < 9; i++)
      {
        double s = dia_kernel_solution_sum (plan->kernel, i * (convolved->width - 1) / 8.0,
                                            j * (convolved->height - 1) / 8.0);
        info->kernel_sum_min = MIN (info->kernel_sum_min, s);
        info->kernel_sum_max = MAX (info->kernel_sum_max, s);
      }
  dia_kernel_solution_centroid (plan->kernel, cx, cy, &info->kernel_dx_centre,
                                &info->kernel_dy_centre);
  info->condition_number = plan->kernel->condition_number;
  info->n_stamps_total = plan->stamps->len;
  info->n_stamps_used = 0;
  info->n_stamps_rejected = 0;
  for (guint i = 0; i < plan->stamps->len; i++)
    {
      const DiaStamp *s = &g_array_index (plan->stamps, DiaStamp, i);
      if (s->status == DIA_STAMP_GOOD)
        info->n_stamps_used++;
      else if (s->status != DIA_STAMP_RESERVE)
        info->n_stamps_rejected++;
    }
  if (!(plan->k0 > 0) || !isfinite (plan->k0))
    {
      g_set_error (error, DIA_ERROR, DIA_ERROR_SINGULAR,
                   _("The fitted kernel has a non-positive sum (%g) at the image centre; the "
                     "images may not overlap or may not be aligned"), plan->k0);
      return FALSE;
    }
  return TRUE;
}

DiaRect
_dia_subtract_al_input_region (const DiaSubtractPlan *plan, const DiaRect *region)
{
  int h = (plan->kernel ? plan->kernel->config.size / 2 : 0) + dia_decorrelate_al_margin (plan);
  DiaRect grown = { region->x - h, region->y - h, region->width + 2 * h, region->height + 2 * h };
  DiaRect whole = { 0, 0, plan->science_image->width, plan->science_image->height };
  return dia_rect_intersect (&grown, &whole);
}

gboolean
_dia_subtract_result_keep_matched (const DiaSubtractResult *result)
{
  return ((const SubtractResultPrivate *) result)->keep_matched;
}

/* Maps every mask bit of `from` onto the plane dictionary of `to` by name (adding planes to
 * `to` as needed).  map[b] is the bit value in `to` for bit b of `from`. */
static gboolean
subtract_mask_map (DiaImage *to, const DiaImage *from, DiaMask map[DIA_MASK_MAX_PLANES])
{
  gboolean identity = TRUE;
  for (int b = 0; b < DIA_MASK_MAX_PLANES; b++)
    {
      map[b] = 0;
      if (from->plane_names[b] == NULL)
        continue;
      map[b] = dia_image_add_mask_plane (to, from->plane_names[b]);
      if (map[b] != (1u << b))
        identity = FALSE;
    }
  return identity;
}

static inline DiaMask
subtract_remap (DiaMask m, const DiaMask map[DIA_MASK_MAX_PLANES])
{
  DiaMask out = 0;
  while (m)
    {
      int b = g_bit_nth_lsf (m, -1);
      out |= map[b];
      m &= m - 1;
    }
  return out;
}

typedef struct
{
  DiaImage *diff;               /* region-sized output (may be the matched image itself)  */
  const DiaImage *matched;      /* region-sized K⋆(convolved), on the output flux scale   */
  const DiaImage *other;        /* the unconvolved input, full frame                      */
  DiaRect region;
  gboolean convolve_template;
  double other_scale;           /* 1 (template flavour) or 1/k0 (science flavour)         */
  const DiaKernelSolution *bg;  /* science flavour: background to remove from T, or NULL   */
  gboolean identity_map;
  DiaMask map[DIA_MASK_MAX_PLANES];
} SubtractCombine;

/* D = S − matched (template) or D = matched − T/k0 (science), per row. */
static void
subtract_combine_rows (int first, int last, int thread_index, gpointer data)
{
  SubtractCombine *c = data;
  float s = (float) c->other_scale, s2 = (float) (c->other_scale * c->other_scale);
  for (int y = first; y < last; y++)
    {
      const float *mp = c->matched->pix + dia_image_index (c->matched, 0, y);
      const float *mv = c->matched->var + dia_image_index (c->matched, 0, y);
      const DiaMask *mm = c->matched->mask + dia_image_index (c->matched, 0, y);
      size_t oi = dia_image_index (c->other, c->region.x, c->region.y + y);
      const float *op = c->other->pix + oi, *ov = c->other->var + oi;
      const DiaMask *om = c->other->mask + oi;
      float *dp = c->diff->pix + dia_image_index (c->diff, 0, y);
      float *dv = c->diff->var + dia_image_index (c->diff, 0, y);
      DiaMask *dm = c->diff->mask + dia_image_index (c->diff, 0, y);
      for (int x = 0; x < c->region.width; x++)
        {
          DiaMask m = mm[x] | (c->identity_map ? om[x] : subtract_remap (om[x], c->map));
          float b = c->bg ? (float) dia_kernel_solution_background (c->bg, c->region.x + x,
                                                                    c->region.y + y)
                          : 0.0f;
          float d = c->convolve_template ? op[x] - mp[x] : mp[x] - s * (op[x] - b);
          float v = mv[x] + s2 * ov[x];
          if (m & DIA_MASK_NO_DATA)
            {
              d = 0.0f;
              v = INFINITY;
            }
          dp[x] = d;
          dv[x] = v;
          dm[x] = m;
        }
    }
}

/* With request.decorrelate the afterburner (dia-decorrelate.c) computes the raw difference on
 * a region grown by its filter's half-width and crops after filtering. */
gboolean
_dia_subtract_apply_al (const DiaSubtractPlan *plan, const DiaRect *region,
                        DiaSubtractResult *result, gboolean keep_matched, DiaMonitor *monitor,
                        GError **error)
{
  if (plan->request.decorrelate)
    return dia_decorrelate_apply_al (plan, region, result, keep_matched, monitor, error);
  return _dia_subtract_apply_al_raw (plan, region, result, keep_matched, monitor, error);
}

gboolean
_dia_subtract_apply_al_raw (const DiaSubtractPlan *plan, const DiaRect *region,
                            DiaSubtractResult *result, gboolean keep_matched,
                            DiaMonitor *monitor, GError **error)
{
  gboolean tflav = plan->info.convolve_template;
  const DiaImage *convolved = tflav ? plan->template_image : plan->science_image;
  const DiaImage *other = tflav ? plan->science_image : plan->template_image;
  DiaConvolveParams cp;
  g_autoptr (DiaImage) matched = NULL;
  g_autoptr (DiaImage) diff = NULL;
  SubtractCombine c;
  gint64 t0 = g_get_monotonic_time ();

  dia_convolve_params_init (&cp);
  cp.n_threads = plan->request.n_threads;
  /* Template flavour: the background is part of the model K⋆T + bg.  Science flavour: the
   * model is T ≈ K⋆S + bg in template units, so bg is removed from T before the division by
   * k0 (in the combine step), giving D = (K⋆S + bg − T)/k0 exactly. */
  cp.add_background = tflav && plan->request.subtract_background && plan->kernel->n_bg > 0;
  cp.scale = tflav ? 1.0 : 1.0 / plan->k0;
  dia_monitor_stage (monitor, "convolve", 0.0);
  matched = dia_convolve_image (convolved, plan->kernel, region, &cp, monitor, error);
  if (matched == NULL)
    return FALSE;
  dia_subtract_timing_add (result->timings, "convolve", subtract_ms_since (t0));

  t0 = g_get_monotonic_time ();
  if (keep_matched)
    {
      diff = dia_image_new_like (matched, error);
      if (diff == NULL)
        return FALSE;
    }
  else
    diff = dia_image_ref (matched);
  if (!tflav)
    {
      /* matched carries the science image's planes; the difference names its planes like the
       * science image too, but through the same dictionary as the template bits mapped below,
       * so remap matched onto the final dictionary by name. */
      char *saved[DIA_MASK_MAX_PLANES];
      DiaMask smap[DIA_MASK_MAX_PLANES];
      gboolean sid = TRUE;
      for (int b = 0; b < DIA_MASK_MAX_PLANES; b++)
        saved[b] = g_strdup (matched->plane_names[b]);
      dia_image_copy_plane_names (diff, plan->science_image);
      for (int b = 0; b < DIA_MASK_MAX_PLANES; b++)
        {
          smap[b] = saved[b] ? dia_image_add_mask_plane (diff, saved[b]) : 0;
          if (saved[b] && smap[b] != (1u << b))
            sid = FALSE;
          g_free (saved[b]);
        }
      if (!sid)
        for (int y = 0; y < matched->height; y++)
          for (int x = 0; x < matched->width; x++)
            {
              size_t i = dia_image_index (matched, x, y);
              matched->mask[i] = subtract_remap (matched->mask[i], smap);
            }
    }
  c.diff = diff;
  c.matched = matched;
  c.other = other;
  c.region = *region;
  c.convolve_template = tflav;
  c.other_scale = tflav ? 1.0 : 1.0 / plan->k0;
  c.bg = (!tflav && plan->request.subtract_background && plan->kernel->n_bg > 0) ? plan->kernel
                                                                                   : NULL;
  c.identity_map = subtract_mask_map (diff, other, c.map);
  if (matched != diff)
    dia_image_copy_plane_names (matched, diff);
  if (!dia_parallel_for (region->height, 16, plan->request.n_threads, subtract_combine_rows, &c,
                         monitor, error))
    return FALSE;
  dia_subtract_timing_add (result->timings, "difference", subtract_ms_since (t0));

  dia_image_set_source (diff, NULL);
  /* The difference has the PSF of the image that was not convolved. */
  diff->meta.psf_fwhm = tflav ? plan->info.fwhm_science : plan->info.fwhm_template;
  dia_image_freeze (diff);
  result->diff = g_steal_pointer (&diff);
  if (keep_matched)
    {
      dia_image_freeze (matched);
      result->matched = g_steal_pointer (&matched);
    }
  return TRUE;
}

/* 1.4826 × MAD of the finite values of r[0..m−1] (r is overwritten, scratch holds m floats):
 * the same number as dia_stats_compute()'s robust_sigma, without the mean, extrema and the
 * three clipping iterations the quality stage does not report (they were most of its time on
 * region reruns). */
static double
subtract_robust_sigma (float *r, gint64 m, float *scratch)
{
  double med = dia_stats_median (r, m, scratch);
  if (!isfinite (med))
    return NAN;
  for (gint64 i = 0; i < m; i++)
    r[i] = fabsf (r[i] - (float) med);
  return 1.4826 * dia_stats_median (r, m, scratch);
}

/* Robust σ of D/√V over the region's usable pixels, and over the used stamps' cores. */
static void
subtract_measure_quality (const DiaSubtractPlan *plan, DiaSubtractResult *result)
{
  const DiaImage *d = result->diff;
  const DiaMask exclude = DIA_MASK_UNUSABLE | DIA_MASK_CR | DIA_MASK_SUSPECT | DIA_MASK_INTRP;
  gint64 n = (gint64) d->width * d->height, m = 0;
  /* A regular sub-grid of at most ~2^18 pixels: plenty for a robust σ, cheap on reruns. */
  int step = MAX (1, (int) ceil (sqrt ((double) n / 262144.0)));
  gint64 cap = n / (step * step) + d->width + d->height + 1;
  float *r = g_try_new (float, 2 * cap), *scratch = r + cap;
  double fwhm = MAX (plan->info.fwhm_science, plan->info.fwhm_template);
  int rad = (int) ceil (isfinite (fwhm) ? 1.5 * fwhm : 5.0);

  result->diff_sigma_ratio = result->diff_sigma_ratio_stars = NAN;
  if (r == NULL)
    return;
  for (int y = 0; y < d->height; y += step)
    for (int x = 0; x < d->width; x += step)
      {
        size_t i = dia_image_index (d, x, y);
        if ((d->mask[i] & exclude) == 0 && d->var[i] > 0 && isfinite (d->var[i]))
          r[m++] = d->pix[i] / sqrtf (d->var[i]);
      }
  if (m > 0)
    result->diff_sigma_ratio = subtract_robust_sigma (r, m, scratch);

  m = 0;
  if (plan->stamps)
    for (guint k = 0; k < plan->stamps->len; k++)
      {
        const DiaStamp *s = &g_array_index (plan->stamps, DiaStamp, k);
        int sx = (int) lround (s->x) - result->region.x, sy = (int) lround (s->y) - result->region.y;
        if (s->status != DIA_STAMP_GOOD)
          continue;
        for (int y = MAX (0, sy - rad); y <= MIN (d->height - 1, sy + rad); y++)
          for (int x = MAX (0, sx - rad); x <= MIN (d->width - 1, sx + rad); x++)
            {
              size_t i = dia_image_index (d, x, y);
              if ((x - sx) * (x - sx) + (y - sy) * (y - sy) > rad * rad)
                continue;
              if ((d->mask[i] & exclude) == 0 && d->var[i] > 0 && isfinite (d->var[i])
                  && m < n / (step * step))
                r[m++] = d->pix[i] / sqrtf (d->var[i]);
            }
      }
  if (m > 10)
    result->diff_sigma_ratio_stars = subtract_robust_sigma (r, m, scratch);
  g_free (r);
}

DiaSubtractResult *
dia_subtract_execute (DiaSubtractPlan *plan, const DiaRect *region, gboolean keep_matched,
                      DiaMonitor *monitor, GError **error)
{
  DiaRect whole = { 0, 0, plan->science_image->width, plan->science_image->height };
  SubtractResultPrivate *priv;
  DiaSubtractResult *result;
  gint64 t0;

  if (region == NULL)
    region = &whole;
  if (dia_rect_is_empty (region) || !dia_rect_contains (&whole, region))
    {
      g_set_error (error, DIA_ERROR, DIA_ERROR_INVALID,
                   _("Region %d,%d %d×%d lies outside the %d×%d image"), region->x, region->y,
                   region->width, region->height, whole.width, whole.height);
      return NULL;
    }
  priv = g_new0 (SubtractResultPrivate, 1);
  priv->keep_matched = keep_matched;
  result = &priv->pub;
  result->ref_count = 1;
  result->plan = dia_subtract_plan_ref (plan);
  result->region = *region;
  result->timings = g_array_new (FALSE, FALSE, sizeof (DiaStageTiming));
  if (!plan->flavor->apply (plan, region, result, monitor, error))
    {
      dia_subtract_result_unref (result);
      return NULL;
    }
  t0 = g_get_monotonic_time ();
  subtract_measure_quality (plan, result);
  dia_subtract_timing_add (result->timings, "quality", subtract_ms_since (t0));
  return result;
}

DiaSubtractResult *
dia_subtract_result_ref (DiaSubtractResult *result)
{
  g_return_val_if_fail (result != NULL, NULL);
  g_atomic_int_inc (&result->ref_count);
  return result;
}

void
dia_subtract_result_unref (DiaSubtractResult *result)
{
  if (result == NULL || !g_atomic_int_dec_and_test (&result->ref_count))
    return;
  dia_subtract_plan_unref (result->plan);
  dia_image_unref (result->diff);
  dia_image_unref (result->matched);
  dia_image_unref (result->score);
  dia_psf_unref (result->diff_psf);
  if (result->timings)
    g_array_unref (result->timings);
  g_free ((SubtractResultPrivate *) result);
}

/* A new plan that shares the measurement stages (variance scaling, backgrounds, stars, PSFs)
 * of base; the backgrounds are borrowed, so the new plan keeps base alive. */
static DiaSubtractPlan *
subtract_plan_share_measurement (DiaSubtractPlan *base, const DiaSubtractRequest *request)
{
  DiaSubtractPlan *plan = g_new0 (DiaSubtractPlan, 1);

  plan->ref_count = 1;
  plan->base = dia_subtract_plan_ref (base);
  plan->request = *request;
  plan->flavor = dia_flavor_get (request->flavor);
  plan->template_image = dia_image_ref (base->template_image);
  plan->science_image = dia_image_ref (base->science_image);
  plan->bg_template = base->bg_template;
  plan->bg_science = base->bg_science;
  plan->stars_template = g_array_ref (base->stars_template);
  plan->stars_science = g_array_ref (base->stars_science);
  plan->psf_template = dia_psf_ref (base->psf_template);
  plan->psf_science = dia_psf_ref (base->psf_science);
  plan->info = base->info;
  plan->info.flavor = NULL;
  plan->info.timings = g_array_new (FALSE, FALSE, sizeof (DiaStageTiming));
  plan->info.orders_reduced = FALSE;
  return plan;
}

DiaSubtractPlan *
dia_subtract_plan_derive (DiaSubtractPlan *base, DiaImage *tmpl, DiaImage *sci,
                          const DiaSubtractRequest *request, DiaMonitor *monitor,
                          GError **error)
{
  g_autoptr (DiaSubtractPlan) plan = NULL;
  gboolean same_inputs;

  if (!dia_subtract_request_validate (request, error))
    return NULL;
  same_inputs = base != NULL && base->input_template == tmpl && base->input_science == sci;
  if (!same_inputs
      || dia_params_hash (&base->request, DIA_STAGE_PSF) != dia_params_hash (request, DIA_STAGE_PSF))
    return dia_subtract_plan (tmpl, sci, request, monitor, error);

  /* Only APPLY-stage parameters changed: the fit is reusable as it is, unless the flavour keeps
   * private data we cannot share. */
  if (dia_params_hash (&base->request, DIA_STAGE_KERNEL) == dia_params_hash (request, DIA_STAGE_KERNEL)
      && base->flavor_data == NULL && base->kernel != NULL)
    {
      plan = subtract_plan_share_measurement (base, request);
      plan->flavor = base->flavor;
      plan->stamps = g_array_ref (base->stamps);
      plan->kernel = dia_kernel_solution_ref (base->kernel);
      plan->k0 = base->k0;
      plan->info = base->info;
      plan->info.timings = g_array_new (FALSE, FALSE, sizeof (DiaStageTiming));
      plan->input_template = tmpl;
      plan->input_science = sci;
      return g_steal_pointer (&plan);
    }

  /* Kernel or stamp parameters changed: keep the measurements, refit.  The stamp selection
   * is reused when its own parameters did not change (the fit resets the fit-time statuses of
   * a copy). */
  plan = subtract_plan_share_measurement (base, request);
  plan->input_template = tmpl;
  plan->input_science = sci;
  if (base->stamps != NULL && base->kernel != NULL
      && dia_params_hash (&base->request, DIA_STAGE_STAMPS) == dia_params_hash (request, DIA_STAGE_STAMPS)
      && base->request.flavor == request->flavor)
    plan->stamps = g_array_copy (base->stamps);
  if (!plan->flavor->prepare (plan, monitor, error))
    return NULL;
  plan->info.flavor = plan->flavor;
  return g_steal_pointer (&plan);
}

DiaSubtractResult *
dia_subtract_run (DiaImage *tmpl, DiaImage *sci, const DiaSubtractRequest *request,
                  gboolean keep_matched, DiaMonitor *monitor, GError **error)
{
  g_autoptr (DiaSubtractPlan) plan = dia_subtract_plan (tmpl, sci, request, monitor, error);
  if (plan == NULL)
    return NULL;
  return dia_subtract_execute (plan, NULL, keep_matched, monitor, error);
}
