"""CDCS (real, on 127.0.0.1) and eLabFTW (the contract-checked fake) under each strategy.

One of the two fails on the first pass and recovers for the second. Whatever the
strategy, neither ever holds the session twice, and the session's status is what the
strategy says: ``all`` waits for both, ``first_success`` stops at the first that
takes the record (CDCS, of higher priority, when it is up), ``best_effort`` asks each
once and is content with one.
"""

from __future__ import annotations

import pytest

from nexuslims.model.session import Status
from tests.export.conftest import cdcs_env, elabftw_env, later
from tests.servers import free_port

pytestmark = [pytest.mark.integration, pytest.mark.corpus]

FILES = ["msa/example1.msa"]

# strategy, which fails -> (status after the failing pass, after the recovering pass,
#                           CDCS records, eLabFTW experiments in the end)
CASES = {
    ("all", "elabftw"): (Status.BUILT_NOT_EXPORTED, Status.COMPLETED, 1, 1),
    ("all", "cdcs"): (Status.BUILT_NOT_EXPORTED, Status.COMPLETED, 1, 1),
    ("first_success", "elabftw"): (Status.COMPLETED, Status.COMPLETED, 1, 0),
    ("first_success", "cdcs"): (Status.COMPLETED, Status.COMPLETED, 0, 1),
    ("best_effort", "elabftw"): (Status.COMPLETED, Status.COMPLETED, 1, 0),
    ("best_effort", "cdcs"): (Status.COMPLETED, Status.COMPLETED, 0, 1),
}


@pytest.mark.parametrize(("strategy", "failing"), list(CASES))
def test_each_strategy_with_one_destination_down(make_site, corpus, cdcs, elabftw,
                                                 strategy: str, failing: str) -> None:
    first_status, final_status, records, experiments = CASES[(strategy, failing)]
    cdcs_url = f"http://127.0.0.1:{free_port()}/" if failing == "cdcs" else cdcs.url
    site = make_site(NX_EXPORT_STRATEGY=strategy, **cdcs_env(cdcs_url), **elabftw_env(elabftw))
    if failing == "elabftw":
        elabftw.fail("GET", "/experiments", times=2)  # both tries of the first pass
    ident = site.add_corpus_session(corpus, FILES)
    [outcome] = site.run().outcomes
    assert outcome.status == first_status, outcome.message

    site.env["NX_CDCS_URL"] = cdcs.url  # CDCS is back (and eLabFTW's faults are spent)
    again = site.run(later())
    assert [o.status for o in again.exports] == \
        ([final_status] if first_status == Status.BUILT_NOT_EXPORTED else [])
    assert site.status(ident) == final_status
    assert len(cdcs.records(site.record(ident).stem)) == records
    mine = [e for e in elabftw.live()
            if e.metadata["extra_fields"]["Session id"]["value"] == ident]
    assert len(mine) == experiments
    done = {u.destination for u in site.uploads(ident) if u.success}
    assert done == {d for d, n in (("cdcs", records), ("elabftw", experiments)) if n}


def test_elabftw_failing_then_recovering_never_publishes_to_cdcs_twice(make_site, corpus,
                                                                       cdcs, elabftw) -> None:
    site = make_site(NX_ELN_EXPORT="true", **cdcs_env(cdcs.url), **elabftw_env(elabftw))
    ident = site.add_corpus_session(corpus, FILES)
    elabftw.fail("POST", r"/experiments/\d+/uploads", times=4)  # two passes' worth
    assert [o.status for o in site.run().outcomes] == [Status.BUILT_NOT_EXPORTED]
    assert [o.status for o in site.run(later()).exports] == [Status.BUILT_NOT_EXPORTED]
    assert [o.status for o in site.run(later(50)).exports] == [Status.COMPLETED]
    title = site.record(ident).stem
    [record] = cdcs.records(title)
    assert len(elabftw.live()) == 1
    experiment = elabftw.live()[0]
    # eLabFTW ran after CDCS took the record: the experiment links to it.
    cdcs_link = experiment.metadata["extra_fields"]["CDCS record"]["value"]
    assert cdcs_link == f"{cdcs.url}data?id={record['id']}"
    attempts = [u for u in site.uploads(ident) if u.destination == "cdcs"]
    assert [u.success for u in attempts] == [True]
