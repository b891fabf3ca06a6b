/* dia-render.h — float planes to display pixels: limits, stretches, colormaps, resampling.
 *
 * Pure arithmetic, no GTK, so it is tested headless and runs on worker threads.  The UI wraps
 * the bytes into GdkMemoryTexture (GDK_MEMORY_B8G8R8A8_PREMULTIPLIED with alpha 255, i.e. the
 * byte order B, G, R, A).  Nearest-neighbour zoom is done here (GTK 4.8 smooths every scaled
 * texture): dia_render_region() samples source pixels for each output pixel, so zoomed-in
 * pixels are crisp squares.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "dia-types.h"

G_BEGIN_DECLS

typedef enum
{
  DIA_STRETCH_LINEAR,
  DIA_STRETCH_LOG,
  DIA_STRETCH_SQRT,
  DIA_STRETCH_ASINH,
  DIA_STRETCH_HISTEQ,
} DiaStretch;

typedef enum
{
  DIA_LIMITS_ZSCALE,
  DIA_LIMITS_MINMAX,
  DIA_LIMITS_PERCENTILE,        /* uses percentile_low/high                              */
  DIA_LIMITS_MANUAL,            /* uses low/high as given                                */
  DIA_LIMITS_SYMMETRIC_SIGMA,   /* ±k σ around 0 (robust σ; for differences)             */
} DiaLimitsMode;

typedef enum
{
  DIA_COLORMAP_GRAY,
  DIA_COLORMAP_GRAY_INVERTED,
  DIA_COLORMAP_VIRIDIS_LIKE,    /* perceptual, monotonic lightness (own coefficients)    */
  DIA_COLORMAP_DIVERGING,       /* blue – white – red, white at the midpoint             */
} DiaColormap;

#define DIA_RENDER_HISTEQ_BINS 256

typedef struct
{
  DiaLimitsMode limits;
  double low, high;             /* manual limits, or filled by dia_render_compute_limits  */
  double percentile_low;        /* 0.5                                                    */
  double percentile_high;       /* 99.5                                                   */
  double sigma_k;               /* 5 (for SYMMETRIC_SIGMA)                                */
  DiaStretch stretch;
  DiaColormap colormap;
  double contrast, bias;        /* DS9-style right-drag: contrast 1, bias 0.5 = identity  */
  guint32 nodata_bgra;          /* colour of NO_DATA / non-finite pixels (0xFF404040 = grey) */
  /* Added for DIA_STRETCH_HISTEQ: the cumulative distribution of the data between low and
   * high at DIA_RENDER_HISTEQ_BINS + 1 equally spaced levels, filled by
   * dia_render_compute_histeq().  Until histeq_ready is set, HISTEQ behaves as LINEAR.  A
   * fixed array (not a pointer) so that params stay a plain value that threads can copy. */
  gboolean histeq_ready;
  float histeq_cdf[DIA_RENDER_HISTEQ_BINS + 1];
} DiaRenderParams;


void dia_render_params_init (DiaRenderParams *params);

/* Fills params->low/high for the automatic modes from data (ignoring non-finite values and
 * pixels with any of exclude set; mask may be NULL).  ZSCALE follows IRAF's algorithm (sample
 * ≤ 1000 pixels on a grid, sort, fit a line with iterative rejection, contrast 0.25). */
void dia_render_compute_limits (const float *data, const DiaMask *mask, DiaMask exclude,
                                int width, int height, size_t stride, DiaRenderParams *params);

/* Fills params->histeq_cdf (and sets histeq_ready) from a sample of data between the current
 * params->low and params->high; call after dia_render_compute_limits().  Same sampling and
 * exclusion rules as dia_render_compute_limits(). */
void dia_render_compute_histeq (const float *data, const DiaMask *mask, DiaMask exclude,
                                int width, int height, size_t stride, DiaRenderParams *params);

/* Maps a value to [0,1] after limits, stretch, contrast/bias (NAN for non-finite input). */
double dia_render_map_value (const DiaRenderParams *params, double value);

/* Renders the source area starting at (src_x, src_y) in image pixels (doubles: sub-pixel pan)
 * [precisely: (src_x, src_y) is the image coordinate of the bottom-left CORNER of the output
 * and each output pixel samples the image at its own centre, so src = (−0.5, −0.5) with
 * zoom = out_width / width shows the whole image edge to edge, and integer zooms give
 * exact zoom × zoom blocks]
 * with `zoom` output pixels per image pixel into out (out_width × out_height BGRA bytes, row
 * stride out_stride bytes), nearest-neighbour sampling.  Output row 0 is the TOP of the
 * display: image y increases upwards (FITS/DS9 convention), so output row r shows image row
 * src_y + (out_height − 1 − r) / zoom.  Pixels outside the image or with NO_DATA (mask may be
 * NULL) or non-finite values get params->nodata_bgra. */
void dia_render_region (const float *data, const DiaMask *mask, int width, int height,
                        size_t stride, const DiaRenderParams *params, double src_x, double src_y,
                        double zoom, guint8 *out, int out_width, int out_height,
                        size_t out_stride);

/* The colour (BGRA) of t in [0,1] for a colormap. */
guint32 dia_render_colormap (DiaColormap colormap, double t);

G_END_DECLS
