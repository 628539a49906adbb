"""The Tour page through AppTest on the tiny preset: every step reached with Next, each with its title, a text whose
numbers come from the data, its figures and the link to its page; Back returns."""

from tests.app.apptest import charts, run_page

TITLES = [
    "A perturbation's effect",
    "How PDS reads a prediction",
    "DES and MAE",
    "Scaling up a prediction",
    "The DES ceiling",
    "What clipping hid",
    "Simple models, close to the top",
    "What VCC 2026 changes",
]


def test_next_walks_every_step_and_back_returns():
    at = run_page("tour.py")
    seen = []
    for i, title in enumerate(TITLES):
        assert not at.exception, at.exception
        assert not at.error
        if at.info:  # a step that cannot be shown on 12 perturbations says why, and stops there
            seen.append(("info", at.info[0].value))
        else:
            assert at.subheader[0].value == title
            assert "nan" not in at.markdown[0].value
            assert charts(at), f"step {i + 1} draws no figure"
            seen.append(("step", title))
        assert at.button(key="tour_next").disabled == (i == len(TITLES) - 1)
        if i < len(TITLES) - 1:
            at.button(key="tour_next").click().run()
    # every step but the last is shown on the tiny preset; the last one's VCC 2026 scores are undefined there
    assert [kind for kind, _ in seen[:-1]] == ["step"] * (len(TITLES) - 1)
    assert seen[-1] == ("step", TITLES[-1]) or "VCC 2026 score" in seen[-1][1]
    at.button(key="tour_back").click().run()
    assert at.subheader[0].value == TITLES[-2]
