/* dia-sim.h — seeded template/science pairs with known truth.
 *
 * The scene (stars faint to saturated with bleed trails and diffraction spikes, galaxies, a sky
 * gradient) is observed twice.  The template PSF P_T is a Moffat whose FWHM varies smoothly
 * across the field.  The matching kernel K(x, y) is known exactly: a unit-area Gaussian of
 * width sigma_k(x, y) (varying across the field), shifted by (shift_x, shift_y) and scaled by
 * flux_ratio; the science PSF is P_S = K ⊗ P_T in the "science broader" regime.  In the
 * "science sharper" regime the roles swap (P_T = K ⊗ P_S), which is the deconvolution case.
 * Transients, variable stars, a moving object, cosmic rays and a bad column are added to the
 * science image; Poisson + read noise is drawn for both images and the variance plane is the
 * exact expectation of that noise (from the noiseless model).  Output images are in electrons.
 *
 * Truth: every source with position, fluxes in both images and kind; the true kernel at the
 * image centre (and on a grid); the expected variance of the difference S − K⋆T.
 *
 * Convention: K applied as in dia-types.h (correlation): science(x) = Σ K(u) template(x+u).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "dia-types.h"

G_BEGIN_DECLS

typedef enum
{
  DIA_SIM_SCIENCE_BROADER,      /* template sharper: convolve the template (usual case) */
  DIA_SIM_SCIENCE_SHARPER,      /* science sharper: deconvolution regime               */
} DiaSimRegime;

typedef enum
{
  DIA_SIM_STAR,
  DIA_SIM_GALAXY,
  DIA_SIM_TRANSIENT,            /* only in the science image                           */
  DIA_SIM_VARIABLE,             /* star with different flux in the science image       */
  DIA_SIM_MOVING,               /* asteroid: at (x, y) in science, (x2, y2) in template */
  DIA_SIM_COSMIC_RAY,
  DIA_SIM_FAKE,                 /* injected later by dia-fakes                          */
} DiaSimKind;

typedef struct
{
  DiaSimKind kind;
  double x, y;                  /* science position, buffer px                          */
  double x2, y2;                /* template position (differs by the kernel shift, and  */
                                /* for MOVING by the motion)                            */
  double flux_template;         /* e- in the template (0 for transients)                */
  double flux_science;          /* e- in the science image                              */
  gboolean saturated;           /* its peak exceeds saturation in either image          */
  double snr;                   /* TRANSIENT: the PSF-weighted S/N its flux was set from   */
                                /* (against the local sky noise of S − K⋆T); else 0     */
} DiaSimSource;

typedef struct
{
  int width, height;
  guint64 seed;
  DiaSimRegime regime;
  double fwhm_sharp;            /* px, FWHM of the sharper image's PSF at the centre (3.0) */
  double fwhm_broad;            /* px, FWHM of the broader one at the centre (4.2)     */
  double fwhm_variation;        /* fractional change of FWHMs corner to centre (0.08)  */
  double moffat_beta;           /* 3.5                                                  */
  double shift_x, shift_y;      /* px, sub-pixel misregistration in K (0.23, −0.17)    */
  double flux_ratio;            /* kernel sum: science flux / template flux (1.0); in the */
                                /* SCIENCE_SHARPER regime the kernel (sum flux_ratio)  */
                                /* maps science to template, so it is template/science */
  double sky_template, sky_science;  /* e- per pixel (800, 1200)                       */
  double sky_gradient;          /* fractional change across the field (0.05)          */
  double gain;                  /* e-/ADU recorded in the header (1.6)                 */
  double read_noise;            /* e- (6)                                               */
  double saturation;            /* e- (60000)                                           */
  double template_depth;        /* template noise variance scale: 1 = same exposure,  */
                                /* 0.25 = 4× deeper coadd-like template (0.5)        */
  int n_stars;                  /* per megapixel (1200)                                 */
  int n_galaxies;               /* per megapixel (150)                                  */
  int n_transients;             /* total (20)                                           */
  int n_variables;              /* total (10)                                           */
  gboolean moving_object;       /* TRUE                                                 */
  int n_cosmic_rays;            /* per megapixel (30)                                   */
  gboolean bad_column;          /* TRUE                                                 */
  gboolean spikes;              /* diffraction spikes on saturated stars (TRUE)        */
  double transient_snr_min, transient_snr_max; /* 8 .. 100                          */
  int n_threads;                /* worker threads, 0 = dia_parallel_default_threads (0); */
                                /* the output does not depend on it                    */
} DiaSimParams;

void dia_sim_params_init (DiaSimParams *params, int width, int height, guint64 seed);

typedef struct _DiaSimTruth DiaSimTruth;

struct _DiaSimTruth
{
  DiaSimParams params;
  GArray *sources;              /* DiaSimSource                                         */
  int kernel_size;              /* odd                                                  */
  float *kernel_centre;         /* true K at the image centre, kernel_size²             */
  double kernel_sum;            /* = flux_ratio                                         */
  float *diff_variance;         /* expected var of S − K⋆T per pixel (width × height)   */
                                /* (of K⋆S − T in the SCIENCE_SHARPER regime)          */
  float *template_model;        /* noiseless template, e- (width × height)               */
  float *science_model;         /* noiseless science, e- (width × height)                */
  /* Sky planes sky(x, y) = c[0] + c[1] x + c[2] y (e-, buffer px) of each image, and the
   * expected difference of the skies alone (the differential background a fit should find):
   * S − K⋆T when the science is broader, K⋆S − T when it is sharper. */
  double sky_template_plane[3];
  double sky_science_plane[3];
  double diff_background[3];
  int bad_column;               /* x of the BAD column of the science image, −1 if none  */
};

/* Generates the pair.  *template_out and *science_out receive new references (unref them);
 * *truth, when asked for, is owned by the caller (dia_sim_truth_free).  Any thread; the work
 * runs on params->n_threads workers.  Pixel values are electrons.  Both images are frozen;
 * their variance planes hold the exact expected
 * noise variance; masks carry SAT (and NO_DATA-free frames), BAD on the bad column, CR only in
 * the truth (the mask does not reveal cosmic rays).  *truth may be NULL if not wanted.  Deterministic for a given params (including seed), whatever the thread count. */
gboolean dia_sim_generate (const DiaSimParams *params, DiaImage **template_out,
                           DiaImage **science_out, DiaSimTruth **truth, DiaMonitor *monitor,
                           GError **error);

/* The true kernel at (x, y) (buffer px) into out[kernel_size²], centre at (h, h), applied as a
 * correlation; sums to flux_ratio.  Any thread. */
void dia_sim_truth_kernel (const DiaSimTruth *truth, double x, double y, float *out);

/* The true unit-sum PSF of the science (science = TRUE) or template image for a point source of
 * the given flux (e-) at (x, y), drawn into out[size²] (size odd) with pixel (lround(x),
 * lround(y)) at the centre.  The flux matters because the simulator renders each source out to
 * the radius where it falls below 0.5 e-/px, exactly as here. */
void dia_sim_truth_psf (const DiaSimTruth *truth, gboolean science, double x, double y,
                        double flux, float *out, int size);

void dia_sim_truth_free (DiaSimTruth *truth);

/* Writes PREFIX_truth_sources.csv, PREFIX_truth_kernel.fits, PREFIX_truth_diffvar.fits and
 * PREFIX_truth.json (parameters, kernel sum, counts). */
gboolean dia_sim_truth_write (const DiaSimTruth *truth, const char *prefix, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DiaSimTruth, dia_sim_truth_free)

G_END_DECLS
