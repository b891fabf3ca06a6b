/* ds-subtract-job.c — the subtraction as a DsJobRunner job.
 *
 * Design.  The engine splits a subtraction into an expensive whole-frame plan (backgrounds,
 * PSFs, stamps, kernel fit) and a cheap execute over any rectangle whose output equals the
 * crop of the full-frame output (dia-subtract.h).  A rerun therefore:
 *   1. reuses the cached plan when ds_subtract_plan_matches() (stage hashes from
 *      dia_params_hash), otherwise derives a new one from it (dia_subtract_plan_derive:
 *      measurements shared, the kernel too when only APPLY-stage parameters changed),
 *      checking the job's monitor throughout;
 *   2. when the caller supplied the visible rectangle (plus a panning margin) and it is
 *      clearly smaller than the frame, executes it and publishes it as a preview;
 *   3. executes the full frame and publishes it (not final);
 *   4. detects and measures sources on it (dia_detect_and_measure, the request's DETECT-stage
 *      parameters) and publishes the catalogue as the final output.
 * When only DETECT-stage parameters changed (a threshold slider), the window submits a
 * detection-only input carrying its cached full-frame result and the catalogue detected on
 * it: steps 1–3 are skipped, and so is the smoothing when the catalogue's ν plane still
 * applies (dia_detect_and_measure_again): thresholding, footprints and measurement remain.
 * Every step is timed; with G_MESSAGES_DEBUG=diffscope (or all) the log shows, per rerun,
 * the milliseconds from the user's change to the start, the plan, the region and the full
 * frame, which is how the latency targets of the live rerun are measured.
 *
 * Threads: runs on the runner's worker; the inputs are frozen images and immutable plans, so
 * nothing here is shared mutably with the main thread.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "ds-subtract-job.h"

#include "dia-image.h"
#include "dia-params.h"


/* A region covering more than this fraction of the frame is not worth a separate preview. */
#define DS_REGION_MAX_FRACTION 0.6

DsSubtractInput *
ds_subtract_input_new (DiaImage *tmpl, DiaImage *sci, const DiaSubtractRequest *request,
                       DiaSubtractPlan *plan, const char *reason)
{
  DsSubtractInput *input = g_new0 (DsSubtractInput, 1);

  input->template_image = dia_image_ref (tmpl);
  input->science_image = dia_image_ref (sci);
  input->request = *request;
  input->plan = plan != NULL ? dia_subtract_plan_ref (plan) : NULL;
  input->reason = g_strdup (reason);
  return input;
}

DsSubtractInput *
ds_subtract_input_new_detect (DiaSubtractResult *cached, DiaCatalog *previous,
                              const DiaSubtractRequest *request, const char *reason)
{
  DsSubtractInput *input = ds_subtract_input_new (cached->plan->template_image,
                                                  cached->plan->science_image, request, NULL,
                                                  reason);

  input->cached = dia_subtract_result_ref (cached);
  input->previous = previous != NULL ? dia_catalog_ref (previous) : NULL;
  return input;
}

void
ds_subtract_input_free (DsSubtractInput *input)
{
  if (input == NULL)
    return;
  g_clear_pointer (&input->template_image, dia_image_unref);
  g_clear_pointer (&input->science_image, dia_image_unref);
  g_clear_pointer (&input->plan, dia_subtract_plan_unref);
  g_clear_pointer (&input->cached, dia_subtract_result_unref);
  g_clear_pointer (&input->previous, dia_catalog_unref);
  g_free (input->reason);
  g_free (input);
}

void
ds_subtract_output_free (DsSubtractOutput *output)
{
  if (output == NULL)
    return;
  g_clear_pointer (&output->result, dia_subtract_result_unref);
  g_clear_pointer (&output->catalog, dia_catalog_unref);
  g_clear_pointer (&output->preview, dia_image_unref);
  g_free (output);
}

gboolean
ds_subtract_plan_matches (const DiaSubtractPlan *plan, const DiaImage *tmpl,
                          const DiaImage *sci, const DiaSubtractRequest *request)
{
  return plan != NULL && plan->input_template == tmpl && plan->input_science == sci
         && dia_params_hash (&plan->request, DIA_STAGE_APPLY)
              == dia_params_hash (request, DIA_STAGE_APPLY);
}

gboolean
ds_subtract_detection_only (const DiaSubtractResult *cached, const DiaImage *tmpl,
                            const DiaImage *sci, const DiaSubtractRequest *request)
{
  return cached != NULL && cached->diff != NULL
         && cached->region.width == cached->plan->science_image->width
         && cached->region.height == cached->plan->science_image->height
         && ds_subtract_plan_matches (cached->plan, tmpl, sci, request);
}

static double
ms_since (gint64 t)
{
  return (g_get_monotonic_time () - t) / 1000.0;
}

static void
job_publish (DsJob *job, DiaSubtractResult *result, gboolean is_region, gboolean reused,
             double plan_ms, double execute_ms)
{
  DsSubtractOutput *out = g_new0 (DsSubtractOutput, 1);

  out->result = result;
  out->is_region = is_region;
  out->plan_reused = reused;
  out->plan_ms = plan_ms;
  out->execute_ms = execute_ms;
  out->submit_time = ds_job_get_submit_time (job);
  /* The full frame is followed by its catalogue, which is the final output. */
  ds_job_publish (job, out, (GDestroyNotify) ds_subtract_output_free, FALSE);
}

/* Publishes a catalogue output (catalog: a new reference, handed over). */
static void
job_publish_catalog (DsJob *job, DiaSubtractResult *result, DiaCatalog *catalog,
                     gboolean detection_only, gboolean provisional, double ms)
{
  DsSubtractOutput *out = g_new0 (DsSubtractOutput, 1);

  out->result = dia_subtract_result_ref (result);
  out->catalog = catalog;
  out->detection_only = detection_only;
  out->provisional = provisional;
  out->detect_ms = ms;
  out->submit_time = ds_job_get_submit_time (job);
  ds_job_publish (job, out, (GDestroyNotify) ds_subtract_output_free, !provisional);
}

/* Detects on result (borrowed) and publishes the catalogue as the final output.  On a
 * threshold change the detection reuses the previous catalogue's ν plane (milliseconds) and
 * is published at once, so the markers move in the next frame; the measurement (PSF fluxes,
 * dipole fits: tens of milliseconds) follows on a copy and replaces it. */
static gboolean
job_detect (DsJob *job, DsSubtractInput *in, DiaSubtractResult *result, gboolean detection_only,
            GError **error)
{
  DiaMonitor *monitor = ds_job_get_monitor (job);
  guint64 gen = ds_job_get_generation (job);
  gint64 t0 = ds_job_get_submit_time (job), t = g_get_monotonic_time ();
  const DiaPsf *psf = dia_subtract_result_get_diff_psf (result);
  const DiaCatalog *previous = detection_only ? in->previous : NULL;
  int nt = result->plan->request.n_threads;
  g_autoptr (DiaCatalog) detected = NULL;
  DiaCatalog *catalog;

  if (!dia_monitor_check (monitor, error))
    return FALSE;
  /* The catalogue keeps its ν plane, so the next threshold change skips the smoothing. */
  detected = dia_detect_again (previous, result->score ? result->score : result->diff, psf,
                               result->score != NULL, &in->request.detect, nt, monitor, error);
  if (detected == NULL)
    return FALSE;
  if (detection_only)
    {
      g_debug ("rerun %" G_GUINT64_FORMAT ": %u sources detected in %.1f ms (%.1f ms after the "
               "change)", gen, detected->sources->len, ms_since (t), ms_since (t0));
      job_publish_catalog (job, result, dia_catalog_ref (detected), TRUE, TRUE, ms_since (t));
    }
  /* Measured on a copy: the detected catalogue may already be on the main thread. */
  catalog = dia_catalog_dup (detected);
  if (!dia_measure_again (catalog, result->diff, psf, previous, nt, monitor, error))
    {
      dia_catalog_unref (catalog);
      return FALSE;
    }
  g_debug ("rerun %" G_GUINT64_FORMAT ": %u sources detected and measured in %.1f ms "
           "(%.1f ms after the change)%s", gen, catalog->sources->len, ms_since (t),
           ms_since (t0), detection_only ? ", detection only" : "");
  job_publish_catalog (job, result, catalog, detection_only, FALSE, ms_since (t));
  return TRUE;
}

gboolean
ds_subtract_job_run (DsJob *job, gpointer data, gpointer user_data, GError **error)
{
  DsSubtractInput *in = data;
  DiaMonitor *monitor = ds_job_get_monitor (job);
  guint64 gen = ds_job_get_generation (job);
  gint64 t0 = ds_job_get_submit_time (job), t;
  g_autoptr (DiaSubtractPlan) plan = NULL;
  g_autoptr (DiaSubtractResult) full = NULL;
  DiaSubtractResult *result;
  gboolean reused;
  double plan_ms = 0.0, ms;
  double frame = (double) in->science_image->width * in->science_image->height;

  g_debug ("rerun %" G_GUINT64_FORMAT " (%s): started %.1f ms after the change", gen,
           in->reason != NULL ? in->reason : "inputs", ms_since (t0));
  if (in->cached != NULL)
    return job_detect (job, in, in->cached, TRUE, error);
  reused = ds_subtract_plan_matches (in->plan, in->template_image, in->science_image,
                                     &in->request);
  if (reused)
    plan = dia_subtract_plan_ref (in->plan);
  else
    {
      t = g_get_monotonic_time ();
      /* Reuses the previous plan's measurements (and its kernel when only APPLY-stage
       * parameters changed): a threshold or background switch then costs no refit. */
      plan = dia_subtract_plan_derive (in->plan, in->template_image, in->science_image,
                                       &in->request, monitor, error);
      if (plan == NULL)
        return FALSE;
      plan_ms = ms_since (t);
      for (guint i = 0; plan->info.timings != NULL && i < plan->info.timings->len; i++)
        {
          const DiaStageTiming *st = &g_array_index (plan->info.timings, DiaStageTiming, i);
          g_debug ("rerun %" G_GUINT64_FORMAT ":   plan stage %-20s %8.1f ms", gen, st->stage,
                   st->ms);
        }
    }
  g_debug ("rerun %" G_GUINT64_FORMAT ": plan %s %.1f ms (%.1f ms after the change)", gen,
           reused ? "reused" : "computed", plan_ms, ms_since (t0));

  if (in->has_region && !dia_rect_is_empty (&in->region) && in->preview_step >= 2
      && (double) in->region.width * in->region.height >= DS_REGION_MAX_FRACTION * frame)
    {
      /* Zoomed out over most of the frame: the exact visible region would be the whole frame,
       * so first the pixels the view samples (1 in step²), in a few milliseconds. */
      DiaImage *preview;
      if (!dia_monitor_check (monitor, error))
        return FALSE;
      t = g_get_monotonic_time ();
      preview = dia_subtract_preview (plan, &in->region, in->preview_step, monitor, error);
      if (preview == NULL && error != NULL && *error != NULL)
        return FALSE;
      if (preview != NULL)
        {
          DsSubtractOutput *out = g_new0 (DsSubtractOutput, 1);
          g_debug ("rerun %" G_GUINT64_FORMAT ": preview of %d×%d every %d px in %.1f ms (%.1f "
                   "ms after the change)", gen, in->region.width, in->region.height,
                   in->preview_step, ms_since (t), ms_since (t0));
          out->preview = preview;
          out->preview_region = in->region;
          out->preview_step = in->preview_step;
          out->is_region = TRUE;
          out->submit_time = t0;
          ds_job_publish (job, out, (GDestroyNotify) ds_subtract_output_free, FALSE);
        }
    }
  else if (in->has_region && !dia_rect_is_empty (&in->region)
      && (double) in->region.width * in->region.height < DS_REGION_MAX_FRACTION * frame)
    {
      if (!dia_monitor_check (monitor, error))
        return FALSE;
      t = g_get_monotonic_time ();
      result = dia_subtract_execute (plan, &in->region, FALSE, monitor, error);
      if (result == NULL)
        return FALSE;
      ms = ms_since (t);
      g_debug ("rerun %" G_GUINT64_FORMAT ": visible region %d×%d executed in %.1f ms "
               "(%.1f ms after the change)", gen, in->region.width, in->region.height, ms,
               ms_since (t0));
      job_publish (job, result, TRUE, reused, plan_ms, ms);
    }

  if (!dia_monitor_check (monitor, error))
    return FALSE;
  t = g_get_monotonic_time ();
  result = dia_subtract_execute (plan, NULL, FALSE, monitor, error);
  if (result == NULL)
    return FALSE;
  ms = ms_since (t);
  g_debug ("rerun %" G_GUINT64_FORMAT ": full frame executed in %.1f ms (%.1f ms after the "
           "change)", gen, ms, ms_since (t0));
  /* The published output owns result and may be freed on the main thread at any time after
   * publishing: keep a reference of our own for the detection. */
  full = dia_subtract_result_ref (result);
  job_publish (job, result, FALSE, reused, plan_ms, ms);
  return job_detect (job, in, full, FALSE, error);
}
