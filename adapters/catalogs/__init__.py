"""Catalog readers: CSV, ECSV, FITS, VOTable and HDF5 target lists."""
