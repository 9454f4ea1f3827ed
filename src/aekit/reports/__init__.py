"""Reports: the self-contained HTML report of a run, its figures and plots."""
