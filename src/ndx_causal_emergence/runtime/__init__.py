"""How a job uses the machine: threads, progress display and phase timings, time budget, fit cost.

These modules decide nothing about the result of an analysis; they bound and report its cost.
"""
