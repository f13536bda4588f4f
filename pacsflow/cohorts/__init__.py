"""Cohorts: lists of accession numbers, patients or studies that a research request names.

``cohort_file`` reads and checks the CSV file, ``bookkeeping`` records the
cohort and its items, ``find`` C-FINDs each item on one association, and
``status`` tells how far each item got. Items are referred to by row number
outside the database: their keys are patient data.
"""
