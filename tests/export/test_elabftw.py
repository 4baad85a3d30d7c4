"""The ``elabftw`` destination against a fake eLabFTW held to eLabFTW's API contract."""

from __future__ import annotations

import json

import pytest

from nexuslims.sessions import Status
from tests.export.conftest import elabftw_env

pytestmark = pytest.mark.corpus

FILES = ["digitalmicrograph/test_STEM_image.dm3", "tiff/FEI-Helios-Ebeam-8bits.tif",
         "msa/example1.msa"]


def test_smoke(make_site, corpus, elabftw) -> None:
    site = make_site(NX_ELN_EXPORT="true", **elabftw_env(elabftw))
    ident = site.add_corpus_session(corpus, FILES)
    [outcome] = site.run().outcomes
    print(outcome, elabftw.requests, elabftw.violations)
    assert outcome.status == Status.COMPLETED, outcome.message
