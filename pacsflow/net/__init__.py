"""DICOM networking on pynetdicom: PACS nodes, associations, C-ECHO (C-FIND, C-MOVE to come).

Pure library code: no Prefect. Every association has ACSE, DIMSE and network
timeouts (a Prefect timeout cannot interrupt a thread blocked on a socket) and
is released or aborted however the work ends. Outcomes map to
:mod:`pacsflow.errors`: rejected or aborted associations and empty statuses
(timeouts) are retryable; Failure and Refused statuses are permanent.
"""
