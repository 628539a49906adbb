"""AppTest interactions with the Models page on the tiny preset."""

from tests.app.apptest import run_page


def test_models_page_ranks_the_oracle_first():
    at = run_page("models.py")
    assert not at.exception
    assert not at.error
    board = at.dataframe[0].value
    assert list(board.index) == ["mean_baseline", "ridge", "kernel_ridge", "scaled:kernel_ridge", "oracle_replicate"]
    pds = board["discrimination_score_l1"]
    assert pds["oracle_replicate"] == pds.max()
    at.multiselect(key="models_chosen").set_value(["control"]).run()
    assert list(at.dataframe[0].value.index) == ["control"]
