"""DICOMweb: QIDO-RS to find studies, series and instances; WADO-RS to retrieve them.

Over the standard library's ``http.client``: a WADO-RS response is streamed
part by part straight to files (nothing parses whole data sets), which
measured faster than DCMTK's C-MOVE; QIDO-RS answers are small JSON documents.
"""
