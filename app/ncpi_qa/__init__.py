"""ncpi-qa: offline, cited, abstaining question answering over the NCPI 2019 report."""

__version__ = "0.1.0"
