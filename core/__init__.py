"""Reach core: model code shared by the app and the command line."""
