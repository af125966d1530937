"""Pixel downloads: target pixel files (MAST), TESS FFI cutouts (TESScut), ZTF image cutouts (IRSA).

Every client goes through :class:`~adapters.http.fetcher.HttpFetcher` (retries, rate and
concurrency limits, offline mode, atomic files) and stores its files in the raw-answer cache
(:class:`~adapters.http.cache.RawCache`, ``$VO_DATA/cache``) beside the survey's lightcurve files;
a stored file is never fetched again. Each returns :class:`~adapters.surveys.pixels.records.PixelFile`
records: the file's path plus survey, target, kind (``tpf``, ``tesscut``, ``ztf_cutout``),
season or ``obsjd``, and shape.

- :class:`~adapters.surveys.pixels.mast_pixels.KeplerTargetPixels`,
  :class:`~adapters.surveys.pixels.mast_pixels.K2TargetPixels`,
  :class:`~adapters.surveys.pixels.mast_pixels.TessTargetPixels`: ``download_pixels(source)``.
- :class:`~adapters.surveys.pixels.tesscut.TesscutClient`: ``sectors(source)``, ``download(source, sectors)``.
- :class:`~adapters.surveys.pixels.ztf_cutouts.ZtfCutoutClient`: ``exposures(source, near_mjd)``,
  ``download(source, near_mjd, exposures)``.
"""
