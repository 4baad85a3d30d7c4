"""The pass: which sessions are due, build each through the stages, record every outcome.

:func:`nexuslims.builder.run.run_pass` reads as the list of stages;
:mod:`~nexuslims.builder.session` builds one session; the rest is the bookkeeping around
them: due sessions, attempts and history, the lease, interruption, the pass log, progress.
"""
