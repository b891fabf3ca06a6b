/* dia-params-table.h — the one table of subtraction parameters.
 *
 * (dia-params-table.h: an X-macro list, included by dia-params.c; no include guard.)
 * DIA_PARAM (key, TYPE, field, min, max, default, label, unit, STAGE)
 *   key     dotted name used on the command line (--set key=value), in session files and by
 *           the UI's parameter panel;
 *   TYPE    INT, DOUBLE, BOOL, FLAVOR, DLIST (doubles, length from basis.n_gauss),
 *           ILIST (ints, same length);
 *   field   member of DiaSubtractRequest;
 *   min/max inclusive range (for lists: of each element); default as a string;
 *   STAGE   the first pipeline stage a change invalidates (BACKGROUND < PSF < STAMPS <
 *           KERNEL < APPLY < NONE).  A threshold-only change therefore never refits a kernel.
 * Ranges are stated here and nowhere else (the UI builds its adjustments from this table).
 */
DIA_PARAM ("flavor", FLAVOR, flavor, 0, DIA_N_FLAVORS - 1, "template", N_("Flavour"), "", KERNEL)
DIA_PARAM ("kernel.n_gauss", INT, basis.n_gauss, 1, DIA_KERNEL_MAX_GAUSS, "3", N_("Gaussians in the basis"), "", KERNEL)
DIA_PARAM ("kernel.sigmas", DLIST, basis.sigma, 0.1, 20, "0.7,1.5,3.0", N_("Gaussian widths σ"), "px", KERNEL)
DIA_PARAM ("kernel.degrees", ILIST, basis.degree, 0, 8, "4,2,2", N_("Polynomial degrees"), "", KERNEL)
DIA_PARAM ("kernel.fixed_sigmas", BOOL, basis.fixed_sigmas, 0, 1, "false", N_("Use the σ list as given"), "", KERNEL)
DIA_PARAM ("kernel.beta", DOUBLE, basis.beta, 1.1, 5.0, "2.0", N_("Ratio between successive σ"), "", KERNEL)
DIA_PARAM ("kernel.min_sigma", DOUBLE, basis.min_sigma, 0.1, 5.0, "0.7", N_("Smallest σ (convolution)"), "px", KERNEL)
DIA_PARAM ("kernel.min_sigma_deconv", DOUBLE, basis.min_sigma_deconv, 0.1, 5.0, "0.4", N_("Smallest σ (deconvolution)"), "px", KERNEL)
DIA_PARAM ("kernel.scale_by_fwhm", BOOL, basis.scale_by_fwhm, 0, 1, "true", N_("Derive the basis from the PSF widths"), "", KERNEL)
DIA_PARAM ("kernel.size", INT, basis.kernel_size, 5, 71, "21", N_("Kernel size"), "px", STAMPS)
DIA_PARAM ("kernel.fixed_size", BOOL, basis.fixed_size, 0, 1, "false", N_("Use the kernel size as given"), "", STAMPS)
DIA_PARAM ("kernel.size_fwhm_scaling", DOUBLE, basis.size_fwhm_scaling, 2.0, 12.0, "6.0", N_("Kernel size per largest σ"), "", STAMPS)
DIA_PARAM ("kernel.size_min", INT, basis.size_min, 5, 71, "21", N_("Smallest automatic kernel size"), "px", STAMPS)
DIA_PARAM ("kernel.size_max", INT, basis.size_max, 5, 99, "35", N_("Largest automatic kernel size"), "px", STAMPS)
DIA_PARAM ("fit.spatial_order", INT, fit.spatial_order, 0, 4, "1", N_("Spatial order of the kernel"), "", KERNEL)
DIA_PARAM ("fit.bg_order", INT, fit.bg_order, -1, 4, "2", N_("Spatial order of the background (−1: none)"), "", KERNEL)
DIA_PARAM ("fit.max_iterations", INT, fit.max_iterations, 1, 10, "3", N_("Rejection iterations"), "", KERNEL)
DIA_PARAM ("fit.max_resid_mean", DOUBLE, fit.max_resid_mean, 0.01, 10.0, "0.25", N_("Largest stamp residual mean"), "σ", KERNEL)
DIA_PARAM ("fit.max_resid_rms", DOUBLE, fit.max_resid_rms, 0.5, 20.0, "1.5", N_("Largest stamp residual rms"), "σ", KERNEL)
DIA_PARAM ("fit.max_ksum_sigma", DOUBLE, fit.max_ksum_sigma, 1.0, 20.0, "3.0", N_("Kernel-sum clipping"), "σ", KERNEL)
DIA_PARAM ("fit.max_condition", DOUBLE, fit.max_condition, 1e3, 1e16, "1e10", N_("Largest condition number"), "", KERNEL)
DIA_PARAM ("stamps.n_per_cell", INT, stamps.n_per_cell, 1, 100, "5", N_("Stamps per cell"), "", STAMPS)
DIA_PARAM ("stamps.cell_size", INT, stamps.cell_size, 32, 2048, "128", N_("Cell size"), "px", STAMPS)
DIA_PARAM ("stamps.min_snr", DOUBLE, stamps.min_snr, 1.0, 1e4, "10", N_("Faintest stamp star"), "S/N", STAMPS)
DIA_PARAM ("stamps.max_snr", DOUBLE, stamps.max_snr, 10.0, 1e7, "500", N_("Brightest stamp star"), "S/N", STAMPS)
DIA_PARAM ("stamps.max_stamps", INT, stamps.max_stamps, 10, 100000, "400", N_("Most stamps"), "", STAMPS)
DIA_PARAM ("stamps.min_stamps", INT, stamps.min_stamps, 1, 1000, "3", N_("Fewest stamps"), "", STAMPS)
DIA_PARAM ("psf.min_snr", DOUBLE, psf.min_snr, 3.0, 1e5, "20", N_("Faintest PSF star"), "S/N", PSF)
DIA_PARAM ("psf.max_snr", DOUBLE, psf.max_snr, 10.0, 1e8, "2000", N_("Brightest PSF star"), "S/N", PSF)
DIA_PARAM ("psf.max_stars", INT, psf.max_stars, 3, 10000, "200", N_("Most PSF stars"), "", PSF)
DIA_PARAM ("psf.spatial_order", INT, psf.spatial_order, 0, 4, "2", N_("Spatial order of the PSF"), "", PSF)
DIA_PARAM ("background.mesh", INT, bg_mesh, 0, 4096, "0", N_("Background mesh (0: automatic)"), "px", BACKGROUND)
DIA_PARAM ("stars.threshold", DOUBLE, star_threshold, 3.0, 1000.0, "10", N_("Star detection threshold"), "σ", PSF)
DIA_PARAM ("subtract_background", BOOL, subtract_background, 0, 1, "true", N_("Subtract the fitted background"), "", APPLY)
DIA_PARAM ("decorrelate", BOOL, decorrelate, 0, 1, "false", N_("Decorrelate the difference"), "", APPLY)
DIA_PARAM ("scale_variance", BOOL, scale_variance, 0, 1, "false", N_("Rescale the input variance planes"), "", BACKGROUND)
DIA_PARAM ("zogy.astrometric_sigma", DOUBLE, zogy_astrometric_sigma, 0.0, 5.0, "0", N_("ZOGY astrometric noise σ"), "px", APPLY)
DIA_PARAM ("threads", INT, n_threads, 0, 256, "0", N_("Threads (0: all cores)"), "", NONE)
