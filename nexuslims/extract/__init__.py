"""Extract stage: metadata, sidecars and previews of a session's files, wherever they are read.

:mod:`~nexuslims.extract.stage` is the stage's entry; :mod:`~nexuslims.extract.cache` skips
files unchanged since their sidecar; :mod:`~nexuslims.extract.executors` chooses where files
are read (this machine's :mod:`~nexuslims.extract.workers` or a Dask cluster, through
:mod:`~nexuslims.extract.remote`); :mod:`~nexuslims.extract.command` is ``nexuslims extract``.
The plug-in families it drives are :mod:`nexuslims.extractors` and :mod:`nexuslims.previews`.
"""
