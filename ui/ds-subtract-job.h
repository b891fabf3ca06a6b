/* ds-subtract-job.h — the subtraction as a DsJobRunner job: plan (or reuse), visible region
 * first, full frame after.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "ds-job-runner.h"

#include "dia-measure.h"
#include "dia-subtract.h"

G_BEGIN_DECLS

/* What one rerun needs; owned by the runner once submitted (free with ds_subtract_input_free). */
typedef struct
{
  DiaImage *template_image;     /* refs, frozen                                            */
  DiaImage *science_image;
  DiaSubtractRequest request;
  DiaSubtractPlan *plan;        /* ref to the cached plan of the last result, or NULL       */
  gboolean has_region;          /* compute this rectangle first (the visible area + margin) */
  DiaRect region;
  int preview_step;             /* ≥ 2: the view samples one pixel in step² of region, so a  */
                                /* sampled preview (dia_subtract_preview) goes first         */
  char *reason;                 /* what changed, for the timing log (may be NULL)          */
  DiaSubtractResult *cached;    /* detection only: rerun detection on this full-frame       */
                                /* result with request.detect, no plan, no execute (ref)   */
  DiaCatalog *previous;         /* detection only: the catalogue last detected on cached,   */
                                /* whose ν plane a new threshold reuses (ref, or NULL)     */
} DsSubtractInput;

/* Takes new references to tmpl, sci and plan (plan may be NULL); request is copied. */
DsSubtractInput *ds_subtract_input_new (DiaImage *tmpl, DiaImage *sci,
                                        const DiaSubtractRequest *request,
                                        DiaSubtractPlan *plan, const char *reason);
/* A detection-only rerun (only DIA_STAGE_DETECT parameters changed): takes new references
 * to cached, a full-frame result, and previous, the catalogue detected on it (may be NULL);
 * request is copied and its detect fields are used. */
DsSubtractInput *ds_subtract_input_new_detect (DiaSubtractResult *cached,
                                               DiaCatalog *previous,
                                               const DiaSubtractRequest *request,
                                               const char *reason);
void             ds_subtract_input_free (DsSubtractInput *input);

/* What the job publishes: first (optionally) the region, then the full frame, then the
 * catalogue detected on it (catalog != NULL; result is then the frame it was detected on).
 * A detection-only job publishes the catalogue output alone, twice: first as detected
 * (provisional: positions and polarity, not measured), then measured. */
typedef struct
{
  DiaSubtractResult *result;    /* ref                                                    */
  gboolean is_region;           /* result->region is a part of the frame                  */
  gboolean plan_reused;         /* the cached plan was valid for the request               */
  double plan_ms;               /* planning time in this job (0 when reused)               */
  double execute_ms;            /* this execute call                                      */
  gint64 submit_time;           /* monotonic µs of the request, for latency logs          */
  DiaCatalog *catalog;          /* ref, or NULL for image outputs                          */
  DiaImage *preview;            /* a sampled preview of region (ref; result is NULL), or NULL */
  DiaRect preview_region;
  int preview_step;
  gboolean detection_only;      /* the job only reran detection on a cached result         */
  gboolean provisional;         /* catalog is detected but not measured yet                */
  double detect_ms;             /* detection + measurement time                            */
} DsSubtractOutput;

void ds_subtract_output_free (DsSubtractOutput *output);

/* Whether plan can serve request unchanged: same inputs and an equal parameter hash up to
 * the APPLY stage (the engine reads APPLY parameters from plan->request, so a changed APPLY
 * parameter still needs a new plan; only viewport changes and NONE-stage parameters reuse). */
gboolean ds_subtract_plan_matches (const DiaSubtractPlan *plan, const DiaImage *tmpl,
                                   const DiaImage *sci, const DiaSubtractRequest *request);

/* Whether only detection needs to run for request: cached is a full-frame result whose plan
 * matches (ds_subtract_plan_matches) the same inputs and request up to the APPLY stage. */
gboolean ds_subtract_detection_only (const DiaSubtractResult *cached, const DiaImage *tmpl,
                                     const DiaImage *sci, const DiaSubtractRequest *request);

/* The DsJobFunc (user_data unused).  Worker thread. */
gboolean ds_subtract_job_run (DsJob *job, gpointer input, gpointer user_data, GError **error);

G_END_DECLS
