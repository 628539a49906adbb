"""Scoring a prediction: the one metric loop, results tables, submissions, scores, the sides of a model and the
leaderboard."""
