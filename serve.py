"""Reach's server: ``streamlit run serve.py`` serves ``app.py`` with the upload gate in front.

The gate (``ui/upload_gate.py``) refuses file uploads from browser sessions that have not logged
in while a password is set. ``app.py`` refuses to serve beyond this machine without it.
"""

import streamlit as st
from starlette.middleware import Middleware

from ui.auth import password_configured
from ui.upload_gate import UploadGate

app = st.App("app.py", middleware=[Middleware(UploadGate, password_required=password_configured)])
