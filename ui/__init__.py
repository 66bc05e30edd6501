"""Widgets shared by the lesson pages: safe text, the five-criteria checklist, response cards,
charts, the "which model is in use" badge, live-training panels and lesson sections.

Nothing here imports torch: models are opaque ``playground.LoadedModel`` handles.
"""
