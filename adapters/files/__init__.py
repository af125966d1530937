"""File adapters: HDF5 arrays, netCDF histograms and catalog files."""
