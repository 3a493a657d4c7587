"""The app pages; `ui/app.py` lists them in its navigation."""
