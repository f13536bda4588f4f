"""pacsflow's compiled storage SCP: the receiver service's fast engine.

``storescp.cc`` serves one association on a socket it is handed, with the
guarantees of the pynetdicom receiver (:mod:`pacsflow.net.receiver`);
:mod:`~pacsflow.net.compiled_receiver.build` compiles it on first use against
DCMTK's headers; :mod:`~pacsflow.net.compiled_receiver.spawner` runs it per
accepted connection inside each receiving process of
:mod:`pacsflow.net.receiver_service`.
"""
