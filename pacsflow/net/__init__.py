"""The network wing, on pynetdicom: PACS nodes, associations, C-ECHO, C-FIND, C-MOVE, storage SCP.

Pure library code: no Prefect. Every association has ACSE, DIMSE and network
timeouts (a Prefect timeout cannot interrupt a thread blocked on a socket) and
is released or aborted however the work ends. Outcomes map to
:mod:`pacsflow.errors`: rejected or aborted associations and empty statuses
(timeouts) are retryable; Failure and Refused statuses are permanent.

Each transport (``c-move``, ``c-get``, ``dicomweb``) is one module of
:mod:`pacsflow.net.transports`, found through its registry
(:func:`~pacsflow.net.transports.registry.transport_for`); the modules here
are the protocol code they call.
"""

import logging

# pynetdicom logs every C-FIND/C-MOVE identifier at INFO, element by element:
# a query by PatientID, or a PACS's answers, would put patient identifiers in
# the logs. pacsflow keeps it at WARNING; set the "pynetdicom" logger's level
# after importing pacsflow.net to see its protocol traces when debugging.
logging.getLogger("pynetdicom").setLevel(logging.WARNING)
